/*
 * consensus/: table-driven event sequences for every upon-rule of Algorithm 1 on n = 4,
 * restart from persisted state, bad input, mutations, and a small randomised network of
 * four cores checked for agreement (a property test against the paper's safety claim).
 *
 * Each table row is one event and the update it must produce, rendered as text:
 *   P<r>:<v>[/<pol>]  proposal      V<r>:<v>  prevote      C<r>:<v>  precommit
 *   need<r>           need a block  tP<r> tV<r> tC<r>      timers (propose/prevote/precommit)
 *   D<r>:<v>#<k>      decision with k signers              E:<P|V|C><from>  evidence
 * Values are letters (a block id of 32 equal bytes) or "nil". Height is 1 unless a row
 * says otherwise; proposer(1, r) = (1 + r) mod 4, so r0 -> 1, r1 -> 2, r2 -> 3, r3 -> 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "consensus.h"
#include "t_util.h"
#include "tb_alloc.h"

#define N 4u
#define NOPOL CS_ROUND_NONE
#define NIL 0

enum t_kind {
    T_END = 0,
    T_START,
    T_PROPOSAL,
    T_PREVOTE,
    T_PRECOMMIT,
    T_TIMEOUT,
    T_READY,
    T_STATE, /* no event: compare the rendered round state */
};

struct t_row
{
    enum t_kind kind;
    uint32_t round;  /* START: unused */
    uint32_t from;   /* START: self index; TIMEOUT: the step */
    char value;      /* block letter, or NIL */
    uint32_t pol;    /* proposals */
    int invalid;     /* proposals: the driver says !valid(v) */
    uint64_t height; /* 0 means 1 */
    int rc;
    const char *expect;
};

#define START(self, exp)                                   \
    {                                                      \
        T_START, 0, (self), NIL, NOPOL, 0, 0, TB_OK, (exp) \
    }
#define START_H(h, self, exp)                                \
    {                                                        \
        T_START, 0, (self), NIL, NOPOL, 0, (h), TB_OK, (exp) \
    }
#define PROP(r, from, v, pol, exp)                              \
    {                                                           \
        T_PROPOSAL, (r), (from), (v), (pol), 0, 0, TB_OK, (exp) \
    }
#define PROP_BAD(r, from, v, exp)                               \
    {                                                           \
        T_PROPOSAL, (r), (from), (v), NOPOL, 1, 0, TB_OK, (exp) \
    }
#define PV(r, from, v, exp)                                    \
    {                                                          \
        T_PREVOTE, (r), (from), (v), NOPOL, 0, 0, TB_OK, (exp) \
    }
#define PC(r, from, v, exp)                                      \
    {                                                            \
        T_PRECOMMIT, (r), (from), (v), NOPOL, 0, 0, TB_OK, (exp) \
    }
#define TO(r, step, exp)                                       \
    {                                                          \
        T_TIMEOUT, (r), (step), NIL, NOPOL, 0, 0, TB_OK, (exp) \
    }
#define READY(r, v, exp)                                \
    {                                                   \
        T_READY, (r), 0, (v), NOPOL, 0, 0, TB_OK, (exp) \
    }
#define STATE(exp)                                    \
    {                                                 \
        T_STATE, 0, 0, NIL, NOPOL, 0, 0, TB_OK, (exp) \
    }
#define END                                        \
    {                                              \
        T_END, 0, 0, NIL, NOPOL, 0, 0, TB_OK, NULL \
    }

static const struct cs_options t_options = {
    .validators_max = 8,
    .timeout_propose_ms = 1000,
    .timeout_prevote_ms = 500,
    .timeout_precommit_ms = 400,
    .timeout_delta_ms = 100,
    .mutations = 0,
};

/* n for START rows: N unless a test of a larger set says otherwise (and restores it). */
static uint32_t t_count = N;

static struct cs_block_id t_id(char v)
{
    struct cs_block_id id;
    memset(id.bytes, v, sizeof(id.bytes));
    return id;
}

static struct cs_sig t_sig(uint32_t from, uint32_t round, int type)
{
    struct cs_sig sig;
    memset(&sig, 0, sizeof(sig));
    sig.len = 8;
    sig.bytes[0] = (uint8_t)from;
    sig.bytes[1] = (uint8_t)round;
    sig.bytes[2] = (uint8_t)type;
    return sig;
}

static const char *t_val(bool is_nil, const struct cs_block_id *id, char *buf)
{
    if (is_nil)
        return "nil";
    buf[0] = (char)id->bytes[0];
    buf[1] = '\0';
    return buf;
}

static void t_append(char *out, size_t size, const char *fmt, ...) TB_PRINTF(3, 4);

static void t_append(char *out, size_t size, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    if (len != 0 && len + 1 < size) {
        out[len++] = ' ';
        out[len] = '\0';
    }
    va_start(ap, fmt);
    vsnprintf(out + len, size - len, fmt, ap);
    va_end(ap);
}

static void t_render(const struct cs_update *u, char *out, size_t size)
{
    static const char steps[] = {'?', 'P', 'V', 'C', '?'};
    static const char types[] = {'P', 'V', 'C'};
    char v[2];
    out[0] = '\0';
    for (uint32_t i = 0; i < u->out_count; i++) {
        const struct cs_msg *m = &u->out[i];
        if (m->type == CS_MSG_PROPOSAL && m->pol_round != CS_ROUND_NONE)
            t_append(out, size, "P%u:%s/%u", m->round, t_val(false, &m->block_id, v), m->pol_round);
        else
            t_append(out, size, "%c%u:%s", types[m->type], m->round,
                     t_val(m->is_nil, &m->block_id, v));
    }
    if (u->flags & CS_UP_NEED_BLOCK)
        t_append(out, size, "need%u", u->need_block.round);
    for (uint32_t i = 0; i < u->timer_count; i++)
        t_append(out, size, "t%c%u", steps[u->timers[i].step], u->timers[i].round);
    if (u->flags & CS_UP_COMMIT)
        t_append(out, size, "D%u:%s#%u", u->commit.round, t_val(false, &u->commit.block_id, v),
                 u->commit.signer_count);
    if (u->flags & CS_UP_EVIDENCE)
        t_append(out, size, "E:%c%u", types[u->evidence.type], u->evidence.from);
}

static void t_render_state(const struct cs_core *core, char *out, size_t size)
{
    static const char *steps[] = {"none", "propose", "prevote", "precommit", "commit"};
    const struct cs_persist *s = &core->state;
    char lock[16] = "-", valid[16] = "-";
    if (s->locked_round != CS_ROUND_NONE)
        snprintf(lock, sizeof(lock), "%c%u", s->locked_value.bytes[0], s->locked_round);
    if (s->valid_round != CS_ROUND_NONE)
        snprintf(valid, sizeof(valid), "%c%u", s->valid_value.bytes[0], s->valid_round);
    snprintf(out, size, "h%llu r%u %s L:%s VV:%s", (unsigned long long)s->height, s->round,
             steps[s->step], lock, valid);
}

static struct cs_event t_event(const struct t_row *row)
{
    struct cs_event ev;
    uint64_t h = row->height != 0 ? row->height : 1;
    memset(&ev, 0, sizeof(ev));
    ev.now_ms = 0;
    switch (row->kind) {
    case T_START:
        ev.type = CS_EVENT_START_HEIGHT;
        ev.start_height.height = h;
        ev.start_height.validators.count = t_count;
        ev.start_height.validators.self_index = row->from;
        break;
    case T_PROPOSAL:
        ev.type = CS_EVENT_PROPOSAL;
        ev.proposal = (struct cs_proposal){h,
                                           row->round,
                                           row->pol,
                                           t_id(row->value),
                                           !row->invalid,
                                           row->from,
                                           t_sig(row->from, row->round, 0)};
        break;
    case T_PREVOTE:
    case T_PRECOMMIT:
        ev.type = CS_EVENT_VOTE;
        ev.vote.type = row->kind == T_PREVOTE ? CS_MSG_PREVOTE : CS_MSG_PRECOMMIT;
        ev.vote.height = h;
        ev.vote.round = row->round;
        ev.vote.is_nil = row->value == NIL;
        ev.vote.block_id = t_id(row->value);
        ev.vote.from = row->from;
        ev.vote.sig = t_sig(row->from, row->round, (int)ev.vote.type);
        break;
    case T_TIMEOUT:
        ev.type = CS_EVENT_TIMEOUT;
        ev.timeout = (struct cs_timeout){h, row->round, (enum cs_step)row->from};
        break;
    case T_READY:
        ev.type = CS_EVENT_BLOCK_READY;
        ev.block_ready = (struct cs_block_ready){h, row->round, t_id(row->value)};
        break;
    default:
        fail();
    }
    return ev;
}

/* Runs rows on core; the last update stays in *u for the caller to inspect. */
static void t_run(struct cs_core *core, const struct t_row *rows, struct cs_update *u)
{
    char got[512];
    for (uint32_t i = 0; rows[i].kind != T_END; i++) {
        if (rows[i].kind == T_STATE) {
            t_render_state(core, got, sizeof(got));
        } else {
            struct cs_event ev = t_event(&rows[i]);
            int rc = cs_step(core, &ev, u);
            if (rc != rows[i].rc)
                print_error("row %u: rc %d (%s), want %d\n", i, rc, core->errmsg, rows[i].rc);
            assert_int_equal(rc, rows[i].rc);
            t_render(u, got, sizeof(got));
        }
        if (strcmp(got, rows[i].expect) != 0)
            print_error("row %u: got \"%s\", want \"%s\"\n", i, got, rows[i].expect);
        assert_string_equal(got, rows[i].expect);
    }
}

static void t_run_table(const struct t_row *rows, uint32_t mutations)
{
    struct cs_core core;
    struct cs_update u;
    struct cs_options o = t_options;
    o.mutations = mutations;
    assert_int_equal(cs_core_init(&core, &o), TB_OK);
    t_run(&core, rows, &u);
    cs_core_release(&core);
}

/* ----------------------------------------------------------- thresholds */

static void thresholds_match_naive(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= CS_VALIDATORS_MAX; n++) {
        uint32_t q = 1, k = 1;
        while (!(3 * q > 2 * n))
            q++;
        while (!(3 * k > n))
            k++;
        assert_int_equal(cs_quorum(n), q);
        assert_int_equal(cs_skip_threshold(n), k);
        for (uint64_t h = 0; h < 10; h++) {
            for (uint32_t r = 0; r < 10; r++)
                assert_int_equal(cs_proposer(h, r, n), (h + r) % n);
        }
    }
    assert_int_equal(cs_quorum(4), 3);
    assert_int_equal(cs_quorum(7), 5);
    assert_int_equal(cs_skip_threshold(4), 2);
    /* (h + r) mod n must not wrap at 2^64. */
    assert_int_equal(cs_proposer(UINT64_MAX, 1, 7), ((UINT64_MAX % 7) + 1) % 7);
}

static void timeouts_grow_per_round(void **state)
{
    (void)state;
    for (uint32_t r = 0; r < 50; r++) {
        assert_int_equal(cs_timeout_ms(&t_options, r, CS_STEP_PROPOSE), 1000 + 100 * r);
        assert_int_equal(cs_timeout_ms(&t_options, r, CS_STEP_PREVOTE), 500 + 100 * r);
        assert_int_equal(cs_timeout_ms(&t_options, r, CS_STEP_PRECOMMIT), 400 + 100 * r);
    }
    /* Through the core: each round's propose timer is longer than the last. */
    struct cs_core core;
    struct cs_update u;
    const struct t_row start[] = {START(0, "tP0"), END};
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    t_run(&core, start, &u);
    uint64_t last = u.timers[0].duration_ms;
    assert_int_equal(last, 1000);
    for (uint32_t r = 0; r < 6; r++) {
        struct cs_event ev = {.type = CS_EVENT_TIMEOUT, .timeout = {1, r, CS_STEP_PRECOMMIT}};
        assert_int_equal(cs_step(&core, &ev, &u), TB_OK);
        assert_int_equal(u.timer_count, 1);
        assert_int_equal(u.timers[0].round, r + 1);
        assert_int_equal(u.timers[0].duration_ms, last + 100);
        last = u.timers[0].duration_ms;
    }
    cs_core_release(&core);
}

/* ----------------------------------------------------------- the rules */

/* Lines 22, 36, 49: a non-proposer follows a good proposal to a round-0 commit. */
static void happy_path_commits_in_round_0(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        STATE("h1 r0 propose L:- VV:-"),
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 0, 'A', ""),
        PV(0, 1, 'A', ""),
        PV(0, 3, 'A', "C0:A"),
        STATE("h1 r0 precommit L:A0 VV:A0"),
        PC(0, 0, 'A', ""),
        PC(0, 3, 'A', ""),
        PC(0, 1, 'A', "D0:A#3"),
        STATE("h1 r0 commit L:A0 VV:A0"),
        PC(0, 2, 'A', ""), /* late: the decision is made */
        START_H(2, 0, "tP0"),
        STATE("h2 r0 propose L:- VV:-"),
        END,
    };
    t_run_table(rows, 0);
}

/* Lines 11-19: the proposer asks for a block, proposes it once, then votes on it. */
static void proposer_proposes_ready_block(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(1, "need0 tP0"),
        READY(1, 'X', ""), /* wrong round: stale */
        READY(0, 'A', "P0:A"),
        READY(0, 'B', ""), /* never a second proposal in one round */
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 1, 'A', ""),
        PV(0, 2, 'A', ""),
        PV(0, 3, 'A', "C0:A"),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        PC(0, 0, 'A', "D0:A#3"),
        END,
    };
    t_run_table(rows, 0);
}

/* Lines 57, 34, 44, 47, 65: no proposal -> nil votes -> next round. */
static void proposer_timeout_prevotes_nil(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        TO(0, CS_STEP_PREVOTE, ""), /* not in the prevote step: stale */
        TO(0, CS_STEP_PROPOSE, "V0:nil"),
        TO(0, CS_STEP_PROPOSE, ""), /* only once */
        PV(0, 0, NIL, ""),
        PV(0, 1, NIL, ""),
        PV(0, 2, 'A', "tV0"),    /* line 34: 2f+1 prevotes of any kind */
        PV(0, 3, NIL, "C0:nil"), /* line 44: 2f+1 prevote nil */
        PC(0, 0, NIL, ""),
        PC(0, 1, NIL, ""),
        PC(0, 3, 'A', "tC0"),            /* line 47 */
        TO(0, CS_STEP_PRECOMMIT, "tP1"), /* line 65 */
        STATE("h1 r1 propose L:- VV:-"),
        END,
    };
    t_run_table(rows, 0);
}

/* A proposal first judged invalid (block time ahead) decides once re-delivered valid. */
static void proposal_revalidated_decides(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        PROP_BAD(0, 1, 'A', "V0:nil"),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        PC(0, 3, 'A', "tC0"),    /* 2f+1 precommits, but A is not valid here */
        PROP_BAD(0, 1, 'A', ""), /* still invalid: nothing */
        PROP(0, 1, 'A', NOPOL, "D0:A#3"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 61: timeoutPrevote precommits nil; an invalid proposal gets a nil prevote. */
static void prevote_timeout_precommits_nil(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        PROP_BAD(0, 1, 'A', "V0:nil"),
        PV(0, 1, 'A', ""),
        PV(0, 2, 'A', ""),
        PV(0, 3, 'B', "tV0"),
        TO(0, CS_STEP_PREVOTE, "C0:nil"),
        TO(0, CS_STEP_PREVOTE, ""),
        /* 2f+1 precommits for an invalid block never decide it */
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        PC(0, 3, 'A', "tC0"),
        STATE("h1 r0 precommit L:- VV:-"),
        END,
    };
    t_run_table(rows, 0);
}

/* Lock on A in round 0; in round 1 a proposal for B without a POL gets nil. */
#define LOCK_ON_A_IN_ROUND_0                                                               \
    START(0, "tP0"), PROP(0, 1, 'A', NOPOL, "V0:A"), PV(0, 1, 'A', ""), PV(0, 2, 'A', ""), \
        PV(0, 3, 'A', "C0:A"), PC(0, 0, 'A', ""), PC(0, 1, NIL, ""), PC(0, 2, NIL, "tC0"), \
        TO(0, CS_STEP_PRECOMMIT, "tP1"), STATE("h1 r1 propose L:A0 VV:A0")

static void lock_refuses_other_value(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        LOCK_ON_A_IN_ROUND_0,
        PROP(1, 2, 'B', NOPOL, "V1:nil"),
        STATE("h1 r1 prevote L:A0 VV:A0"),
        END,
    };
    t_run_table(rows, 0);
}

static void lock_accepts_locked_value(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        LOCK_ON_A_IN_ROUND_0,
        PROP(1, 2, 'A', NOPOL, "V1:A"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 28: a proposal with valid round 1 backed by 2f+1 prevotes unlocks A for B. */
static void proposal_with_valid_round_relocks(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        LOCK_ON_A_IN_ROUND_0,
        TO(1, CS_STEP_PROPOSE, "V1:nil"), /* round 1's proposal is lost */
        PV(1, 0, NIL, ""),
        PV(1, 1, 'B', ""),
        PV(1, 2, 'B', "tV1"),
        PV(1, 3, 'B', ""), /* 2f+1 for B (1, 2, 3), but without the proposal: no lock */
        TO(1, CS_STEP_PREVOTE, "C1:nil"),
        PC(1, 0, NIL, ""),
        PC(1, 1, NIL, ""),
        PC(1, 2, NIL, "tC1"),
        TO(1, CS_STEP_PRECOMMIT, "tP2"),
        STATE("h1 r2 propose L:A0 VV:A0"),
        PROP(2, 3, 'B', 1, "V2:B"), /* lockedRound 0 <= vr 1 */
        PV(2, 1, 'B', ""),
        PV(2, 2, 'B', ""),
        PV(2, 3, 'B', "C2:B"),
        STATE("h1 r2 precommit L:B2 VV:B2"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 28 needs a real POL: a claimed valid round without 2f+1 prevotes does nothing. */
static void proposal_with_unbacked_valid_round_waits(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        LOCK_ON_A_IN_ROUND_0,
        TO(1, CS_STEP_PROPOSE, "V1:nil"),
        PV(1, 0, NIL, ""),
        PV(1, 1, 'B', ""),
        PV(1, 2, NIL, "tV1"),
        TO(1, CS_STEP_PREVOTE, "C1:nil"),
        PC(1, 0, NIL, ""),
        PC(1, 1, NIL, ""),
        PC(1, 2, NIL, "tC1"),
        TO(1, CS_STEP_PRECOMMIT, "tP2"),
        PROP(2, 3, 'B', 1, ""),     /* only 1 prevote for B in round 1 */
        PROP(2, 3, 'B', 0, "E:P3"), /* a different POL is a second, conflicting proposal */
        TO(2, CS_STEP_PROPOSE, "V2:nil"),
        STATE("h1 r2 prevote L:A0 VV:A0"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 36 in the precommit step updates validValue without locking (lines 42-43). */
static void late_prevote_quorum_updates_valid_value(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        TO(0, CS_STEP_PROPOSE, "V0:nil"),
        PV(0, 0, NIL, ""),
        PV(0, 1, 'A', ""),
        PV(0, 2, 'A', "tV0"),
        TO(0, CS_STEP_PREVOTE, "C0:nil"),
        PROP(0, 1, 'A', NOPOL, ""),
        PV(0, 3, 'A', ""),
        STATE("h1 r0 precommit L:- VV:A0"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 55: f+1 messages of a higher round skip ahead; f of them do not. */
static void round_skip_on_f_plus_1(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        PV(5, 1, NIL, ""),
        PV(5, 1, NIL, ""), /* one sender twice is still one */
        STATE("h1 r0 propose L:- VV:-"),
        PC(5, 2, 'A', "tP5"),
        STATE("h1 r5 propose L:- VV:-"),
        /* beyond the vote window: not stored, but the sender's round still counts */
        PV(1000000, 1, NIL, ""),
        PV(1000000, 3, NIL, "tP1000000"),
        STATE("h1 r1000000 propose L:- VV:-"),
        END,
    };
    t_run_table(rows, 0);
}

/* Line 49 in a later round: round 0's precommits and a late proposal still decide. */
static void late_proposal_decides_earlier_round(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        TO(0, CS_STEP_PROPOSE, "V0:nil"),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        PC(0, 3, 'A', "tC0"),
        TO(0, CS_STEP_PRECOMMIT, "tP1"),
        STATE("h1 r1 propose L:- VV:-"),
        PROP(0, 2, 'A', NOPOL, ""), /* not round 0's proposer: ignored */
        PROP(0, 1, 'A', NOPOL, "D0:A#3"),
        STATE("h1 r1 commit L:- VV:-"),
        END,
    };
    t_run_table(rows, 0);
}

/* An observer (not a validator) follows and decides without ever signing. */
static void observer_decides_without_signing(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(CS_INDEX_NONE, "tP0"), PROP(0, 1, 'A', NOPOL, ""), PV(0, 0, 'A', ""),
        PV(0, 1, 'A', ""),           PV(0, 2, 'A', ""),          PC(0, 0, 'A', ""),
        PC(0, 1, 'A', ""),           PC(0, 2, 'A', "D0:A#3"),    END,
    };
    t_run_table(rows, 0);
}

/* -------------------------------------------------------- equivocation */

/*
 * An equivocator is reported once and counts at most once per value and once in
 * "any" (the paper counts every signed message per value); a third value without
 * support does not displace the second one.
 */
static void equivocation_gives_evidence_once_and_counts_once(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row rows[] = {
        START(0, "tP0"),
        TO(0, CS_STEP_PROPOSE, "V0:nil"),
        PV(0, 3, NIL, ""),
        PV(0, 1, 'A', ""),
        PV(0, 1, NIL, "E:V1"), /* any: 2 senders (3, 1), not 3 */
        END,
    };
    const struct t_row more[] = {
        PV(0, 1, 'B', ""), /* a third value: counted as equivocation, no new evidence */
        PV(0, 1, 'A', ""), /* the first vote again: a duplicate */
        STATE("h1 r0 prevote L:- VV:-"),
        PV(0, 2, NIL, "C0:nil tV0"), /* nil: 3, 1 (its second vote) and 2 */
        END,
    };
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    t_run(&core, rows, &u);
    assert_int_equal(u.evidence.type, CS_MSG_PREVOTE);
    assert_int_equal(u.evidence.height, 1);
    assert_int_equal(u.evidence.round, 0);
    assert_int_equal(u.evidence.from, 1);
    assert_false(u.evidence.first.is_nil);
    assert_int_equal(u.evidence.first.block_id.bytes[0], 'A');
    assert_true(u.evidence.second.is_nil);
    assert_int_equal(u.evidence.first.sig.len, 8);
    assert_int_equal(u.evidence.first.sig.bytes[0], 1);
    t_run(&core, more, &u);
    assert_int_equal(core.stats.equivocations, 2);
    assert_int_equal(core.stats.duplicates, 1);
    cs_core_release(&core);
}

/*
 * Liveness with an equivocator (tongban-sim seed 4, mix equivocate): validator 3 sent
 * us nil but A to validator 1, which locked A. When its A prevote reaches us (relayed),
 * it completes the POL of round 0 and a proposal citing it gets our prevote.
 */
static void equivocator_vote_completes_pol(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 3, NIL, ""),
        PV(0, 1, 'A', ""),
        PV(0, 0, 'A', "tV0"),
        TO(0, CS_STEP_PREVOTE, "C0:nil"),
        PC(0, 0, NIL, ""),
        PC(0, 3, NIL, ""),
        PC(0, 1, 'A', "tC0"),
        TO(0, CS_STEP_PRECOMMIT, "tP1"),
        PROP(1, 2, 'A', 0, ""), /* cites round 0: only 2 prevotes for A so far */
        PV(0, 3, 'A', "V1:A E:V3"),
        END,
    };
    t_run_table(rows, 0);
}

/*
 * FOUND.md item 3 (tongban-sim seed 1010762, n = 7): two equivocators, and one of them
 * shows four faces for round 0 (B, nil, C, A). Honest 1, 2, 3 and the A faces of 5 and 6
 * are a POL for A, but we kept 5's first faces, and its A face came before A mattered
 * (no proposal for it yet) and before anyone else voted A. When round 1's proposal cites
 * round 0 for A, the A face (re-gossiped) displaces a face nobody needs, completes the
 * POL and the round commits. Before the fix 5 kept B and nil forever (nil had as much
 * support as A), the POL stayed at 4 of 5, and no prevote came.
 */
static void equivocator_faces_cannot_hide_pol(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        START(0, "tP0"),
        TO(0, CS_STEP_PROPOSE, "V0:nil"),
        PV(0, 0, NIL, ""),
        PV(0, 4, NIL, ""),
        PV(0, 6, NIL, ""),
        PV(0, 5, 'B', ""),
        PV(0, 5, NIL, "E:V5"),
        PV(0, 5, 'C', ""), /* a third face: kept, as faces are free */
        PV(0, 5, 'A', ""), /* a fourth, worth nothing yet: dropped */
        PV(0, 1, 'A', "tV0"),
        PV(0, 2, 'A', ""),
        PV(0, 3, 'A', ""),
        PV(0, 6, 'A', "E:V6"),
        TO(0, CS_STEP_PREVOTE, "C0:nil"),
        PC(0, 0, NIL, ""),
        PC(0, 4, NIL, ""),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        PC(0, 3, 'A', "tC0"),
        TO(0, CS_STEP_PRECOMMIT, "tP1"),
        PROP(1, 2, 'A', 0, ""), /* cites round 0: 4 prevotes for A there, not 5 */
        STATE("h1 r1 propose L:- VV:-"),
        PV(0, 5, 'A', "V1:A"), /* A matters now: it displaces B and completes the POL */
        PV(1, 0, 'A', ""),
        PV(1, 1, 'A', ""),
        PV(1, 2, 'A', ""),
        PV(1, 3, 'A', ""),
        PV(1, 4, 'A', "C1:A"),
        STATE("h1 r1 precommit L:A1 VV:A1"),
        PC(1, 0, 'A', ""),
        PC(1, 1, 'A', ""),
        PC(1, 2, 'A', ""),
        PC(1, 3, 'A', ""),
        PC(1, 4, 'A', "D1:A#5"),
        END,
    };
    t_count = 7; /* t_count_reset() restores it even when a row fails */
    t_run_table(rows, 0);
}

static int t_count_reset(void **state)
{
    (void)state;
    t_count = N;
    return 0;
}

/*
 * Bounded faces never cost a value that matters: an equivocator that signs a dozen
 * values after its vote for the proposal still counts for the proposal (once), and in
 * "any" once. Evidence comes once; B fills the last free face (so B again is a
 * duplicate), and every later value, worth nothing, is dropped each time it comes.
 */
static void junk_faces_never_displace_the_proposal(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row head[] = {
        START(0, "tP0"),
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 3, 'A', ""),
        PV(0, 3, NIL, "E:V3"),
        END,
    };
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    t_run(&core, head, &u);
    for (char v = 'B'; v < 'B' + 12; v++) {
        const struct t_row junk[] = {PV(0, 3, v, ""), PV(0, 3, v, ""), END};
        t_run(&core, junk, &u);
    }
    assert_int_equal(core.stats.equivocations, 1 + 1 + 2 * 11);
    assert_int_equal(core.stats.duplicates, 1);
    const struct t_row tail[] = {
        PV(0, 0, 'A', ""),
        PV(0, 3, 'A', ""), /* still a duplicate: its A face was never displaced */
        PV(0, 1, 'A', "C0:A"),
        STATE("h1 r0 precommit L:A0 VV:A0"),
        END,
    };
    t_run(&core, tail, &u);
    assert_int_equal(core.stats.duplicates, 2);
    cs_core_release(&core);
}

/* Runs one row and returns its rc; the rendered output is ignored. */
static int t_exec(struct cs_core *core, const struct t_row *row, struct cs_update *u)
{
    struct cs_event ev = t_event(row);
    return cs_step(core, &ev, u);
}

/*
 * A POL far older than the kept past rounds still works: the round a proposal cites is
 * pinned, so its (re-gossiped) prevotes are stored again and line 28 fires.
 */
static void old_pol_round_is_pinned(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const uint32_t last = 3 * CS_ROUND_SLOTS + 1; /* round 0 evicted; not our turn */
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    const struct t_row start = START(0, "");
    assert_int_equal(t_exec(&core, &start, &u), TB_OK);
    for (uint32_t v = 1; v < N; v++) {
        const struct t_row pv = PV(0, v, 'B', "");
        assert_int_equal(t_exec(&core, &pv, &u), TB_OK);
    }
    for (uint32_t r = 0; r < last; r++) {
        const struct t_row rows[] = {
            PV(r, 1, NIL, ""), /* claims a slot for every round */
            TO(r, CS_STEP_PROPOSE, ""),
            TO(r, CS_STEP_PREVOTE, ""),
            TO(r, CS_STEP_PRECOMMIT, ""),
        };
        for (uint32_t i = 0; i < 4; i++)
            assert_int_equal(t_exec(&core, &rows[i], &u), TB_OK);
    }
    assert_int_equal(core.state.round, last);
    uint32_t proposer = cs_proposer(1, last, N);
    assert_int_not_equal(proposer, 0);
    const struct t_row rows[] = {
        {T_PROPOSAL, last, proposer, 'B', 0, 0, 0, TB_OK, ""},
        PV(0, 1, 'B', ""), /* round 0 was evicted: its prevotes come again */
        PV(0, 2, 'B', ""),
        END,
    };
    t_run(&core, rows, &u);
    const struct t_row pol = PV(0, 3, 'B', "");
    assert_int_equal(t_exec(&core, &pol, &u), TB_OK);
    char got[128];
    t_render(&u, got, sizeof(got));
    char want[32];
    snprintf(want, sizeof(want), "V%u:B", last);
    assert_string_equal(got, want);
    cs_core_release(&core);
}

/* The certificate carries each signer's own signature, sorted, only for the value. */
static void certificate_lists_distinct_signers(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row rows[] = {
        START(0, "tP0"),         PROP(0, 1, 'A', NOPOL, "V0:A"),
        PC(0, 3, 'A', ""),       PC(0, 0, NIL, ""),
        PC(0, 3, 'B', "E:C3"),   PC(0, 2, 'A', "tC0"),
        PC(0, 1, 'A', "D0:A#3"), END,
    };
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    t_run(&core, rows, &u);
    assert_int_equal(u.commit.height, 1);
    assert_int_equal(u.commit.signers[0].index, 1);
    assert_int_equal(u.commit.signers[1].index, 2);
    assert_int_equal(u.commit.signers[2].index, 3);
    for (uint32_t i = 0; i < 3; i++) {
        struct cs_sig want = t_sig(u.commit.signers[i].index, 0, CS_MSG_PRECOMMIT);
        assert_memory_equal(&u.commit.signers[i].sig, &want, sizeof(want));
    }
    cs_core_release(&core);
}

/* ------------------------------------------------------------ bad input */

static void bad_input_is_refused_or_counted(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    struct cs_event ev;
    const struct t_row rows[] = {
        PV(0, 1, 'A', ""), /* before any height: counted as wrong height */
        START(0, "tP0"),
        {T_PREVOTE, 0, N, 'A', NOPOL, 0, 0, TB_EINVAL, ""},            /* unknown index */
        {T_PREVOTE, 0, 77, 'A', NOPOL, 0, 0, TB_EINVAL, ""},           /* unknown index */
        {T_PREVOTE, CS_ROUND_MAX, 1, 'A', NOPOL, 0, 0, TB_EINVAL, ""}, /* absurd round */
        {T_PRECOMMIT, UINT32_MAX, 1, 'A', NOPOL, 0, 0, TB_EINVAL, ""},
        {T_PREVOTE, 0, 1, 'A', NOPOL, 0, 2, TB_OK, ""},  /* future height: dropped */
        {T_PROPOSAL, 3, 0, 'A', 3, 0, 0, TB_EINVAL, ""}, /* pol_round not below round */
        {T_TIMEOUT, 0, 9, NIL, NOPOL, 0, 0, TB_EINVAL, ""},
        {T_START, 0, 0, NIL, NOPOL, 0, 1, TB_EINVAL, ""}, /* the same height again */
        PV(CS_ROUND_MAX - 1, 1, NIL, ""), /* one absurd sender: stored nowhere, no skip */
        PV(9, 1, NIL, ""),                /* just beyond the window [0, 8] */
        PROP(0, 3, 'A', NOPOL, ""),       /* not the proposer */
        STATE("h1 r0 propose L:- VV:-"),
        END,
    };
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    t_run(&core, rows, &u);
    assert_int_equal(core.stats.malformed, 7);
    assert_int_equal(core.stats.wrong_height, 2);
    assert_int_equal(core.stats.outside_window, 2);
    assert_int_equal(core.stats.not_proposer, 1);

    memset(&ev, 0, sizeof(ev));
    ev.type = (enum cs_event_type)99;
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    assert_int_equal(u.flags, 0);
    ev.type = CS_EVENT_VOTE;
    ev.vote = (struct cs_vote){.type = CS_MSG_PROPOSAL, .height = 1, .from = 1};
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    ev.vote.type = CS_MSG_PREVOTE;
    ev.vote.sig.len = CS_SIG_BYTES_MAX + 1;
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    ev.vote.sig.len = CS_SIG_BYTES_MAX;
    assert_int_equal(cs_step(&core, &ev, &u), TB_OK);
    ev.type = CS_EVENT_START_HEIGHT;
    ev.start_height = (struct cs_start_height){5, {0, 0}};
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    ev.start_height = (struct cs_start_height){5, {t_options.validators_max + 1, 0}};
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    ev.start_height = (struct cs_start_height){5, {4, 4}};
    assert_int_equal(cs_step(&core, &ev, &u), TB_EINVAL);
    assert_int_equal(core.state.height, 1);
    cs_core_release(&core);
}

static void options_are_checked(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_options o = t_options;
    o.validators_max = 0;
    assert_int_equal(cs_core_init(&core, &o), TB_EINVAL);
    o.validators_max = CS_VALIDATORS_MAX + 1;
    assert_int_equal(cs_core_init(&core, &o), TB_EINVAL);
    o = t_options;
    o.timeout_delta_ms = CS_TIMEOUT_MS_MAX + 1;
    assert_int_equal(cs_core_init(&core, &o), TB_EINVAL);
    o = t_options;
    o.mutations = 1u << 7;
    assert_int_equal(cs_core_init(&core, &o), TB_EINVAL);
    tb_alloc_fault_set(0, 1);
    assert_int_equal(cs_core_init(&core, &t_options), TB_ENOMEM);
    tb_alloc_fault_set(1, 1);
    assert_int_equal(cs_core_init(&core, &t_options), TB_ENOMEM);
    tb_alloc_fault_reset();
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    cs_core_release(&core);
    cs_core_release(&core); /* twice is harmless */
}

/* -------------------------------------------------------------- restart */

/* Runs rows on a fresh core and returns the last persist record written. */
static struct cs_persist t_persisted_after(const struct t_row *rows)
{
    struct cs_core core;
    struct cs_update u;
    struct cs_persist last;
    memset(&last, 0, sizeof(last));
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    for (uint32_t i = 0; rows[i].kind != T_END; i++) {
        struct cs_event ev = t_event(&rows[i]);
        assert_int_equal(cs_step(&core, &ev, &u), rows[i].rc);
        if (u.flags & CS_UP_PERSIST)
            last = u.persist;
    }
    struct cs_persist now;
    cs_core_state(&core, &now);
    assert_memory_equal(&now.last_signed, &last.last_signed, sizeof(now.last_signed));
    cs_core_release(&core);
    return last;
}

static void t_restore(struct cs_core *core, const struct cs_persist *p, const char *expect)
{
    struct cs_update u;
    char got[256];
    assert_int_equal(cs_core_init(core, &t_options), TB_OK);
    assert_int_equal(cs_core_restore(core, p, &u), TB_OK);
    t_render(&u, got, sizeof(got));
    assert_string_equal(got, expect);
}

static void restart_never_signs_differently(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row before[] = {START(0, ""), PROP(0, 1, 'A', NOPOL, ""), END};
    struct cs_persist p = t_persisted_after(before);
    assert_int_equal(p.step, CS_STEP_PREVOTE);
    assert_true(p.last_signed[CS_MSG_PREVOTE].present);

    t_restore(&core, &p, "tV0");
    const struct t_row after[] = {
        PROP(0, 1, 'B', NOPOL, ""), /* a different proposal cannot draw a second prevote */
        TO(0, CS_STEP_PROPOSE, ""),
        PV(0, 1, 'B', ""),
        PV(0, 2, 'B', ""),
        PV(0, 3, NIL, ""),
        TO(0, CS_STEP_PREVOTE, "C0:nil"),
        END,
    };
    t_run(&core, after, &u);
    assert_int_equal(core.state.last_signed[CS_MSG_PREVOTE].block_id.bytes[0], 'A');
    cs_core_release(&core);
}

static void restart_keeps_lock(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row before[] = {LOCK_ON_A_IN_ROUND_0, END};
    /* STATE rows are not events: drop them from the replay. */
    struct t_row events[16];
    uint32_t n = 0;
    for (uint32_t i = 0; before[i].kind != T_END; i++) {
        if (before[i].kind != T_STATE)
            events[n++] = before[i];
    }
    events[n] = (struct t_row)END;
    struct cs_persist p = t_persisted_after(events);
    assert_int_equal(p.locked_round, 0);
    assert_int_equal(p.round, 1);

    t_restore(&core, &p, "tP1");
    const struct t_row after[] = {
        PROP(1, 2, 'B', NOPOL, "V1:nil"),
        STATE("h1 r1 prevote L:A0 VV:A0"),
        END,
    };
    t_run(&core, after, &u);
    cs_core_release(&core);
}

static void restart_resumes_proposer(void **state)
{
    (void)state;
    struct cs_core core;
    /* The proposer crashed before its block was ready: it asks again. */
    const struct t_row asked[] = {START(1, ""), END};
    struct cs_persist p = t_persisted_after(asked);
    t_restore(&core, &p, "need0 tP0");
    cs_core_release(&core);
    /* It had proposed: it never proposes again in that round. */
    const struct t_row proposed[] = {START(1, ""), READY(0, 'A', ""), END};
    p = t_persisted_after(proposed);
    t_restore(&core, &p, "tP0");
    struct cs_update u;
    const struct t_row after[] = {READY(0, 'B', ""), END};
    t_run(&core, after, &u);
    cs_core_release(&core);
    /* With a valid value, the proposer of a later round re-proposes it with its POL. */
    p.round = 3; /* proposer(1, 3) = 0 */
    p.validators.self_index = 0;
    p.locked_round = 1;
    p.valid_round = 2;
    p.locked_value = t_id('A');
    p.valid_value = t_id('C');
    t_restore(&core, &p, "P3:C/2 tP3");
    cs_core_release(&core);
}

static void restore_rejects_inconsistent_records(void **state)
{
    (void)state;
    struct cs_core core;
    struct cs_update u;
    const struct t_row before[] = {START(0, ""), PROP(0, 1, 'A', NOPOL, ""), END};
    const struct cs_persist good = t_persisted_after(before);
    struct cs_persist bad[8];
    uint32_t n = 0;
    bad[n] = good, bad[n++].step = CS_STEP_PROPOSE; /* signed a prevote yet still proposing */
    bad[n] = good, bad[n++].locked_round = 1;       /* locked above the round */
    bad[n] = good, bad[n].locked_round = 0, bad[n++].valid_round = CS_ROUND_NONE;
    bad[n] = good, bad[n++].validators.count = 0;
    bad[n] = good, bad[n++].validators.self_index = 4;
    bad[n] = good, bad[n++].last_signed[CS_MSG_PREVOTE].round = 1; /* signed ahead */
    bad[n] = good, bad[n++].round = CS_ROUND_MAX;
    bad[n] = good, bad[n++].step = (enum cs_step)9;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
        assert_int_equal(cs_core_restore(&core, &bad[i], &u), TB_EINVAL);
        cs_core_release(&core);
    }
    assert_int_equal(cs_core_init(&core, &t_options), TB_OK);
    assert_int_equal(cs_core_restore(&core, &good, &u), TB_OK);
    assert_int_equal(cs_core_restore(&core, &good, &u), TB_ESTATE);
    cs_core_release(&core);
}

/* ------------------------------------------------------------ mutations */

/* 2 prevotes lock and 2 precommits commit under QUORUM_2F; never without it. */
static void mutation_quorum_2f_commits_with_2_of_4(void **state)
{
    (void)state;
    const struct t_row mutated[] = {
        START(0, "tP0"),
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 1, 'A', ""),
        PV(0, 2, 'A', "C0:A"),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', "D0:A#2"),
        END,
    };
    const struct t_row honest[] = {
        START(0, "tP0"),
        PROP(0, 1, 'A', NOPOL, "V0:A"),
        PV(0, 1, 'A', ""),
        PV(0, 2, 'A', ""),
        PC(0, 1, 'A', ""),
        PC(0, 2, 'A', ""),
        STATE("h1 r0 prevote L:- VV:-"),
        END,
    };
    t_run_table(mutated, CS_MUTATION_QUORUM_2F);
    t_run_table(honest, 0);
}

static void mutation_ignore_lock_prevotes_other_value(void **state)
{
    (void)state;
    const struct t_row rows[] = {
        LOCK_ON_A_IN_ROUND_0,
        PROP(1, 2, 'B', NOPOL, "V1:B"),
        END,
    };
    t_run_table(rows, CS_MUTATION_IGNORE_LOCK);
}

/* ------------------------------------------- a small randomised network */

#define NET_QUEUE_MAX 4096u
#define NET_TIMERS_MAX 64u
#define NET_HEIGHTS 5u
#define NET_SEEDS 100u

struct net_msg
{
    uint32_t to;
    struct cs_event ev;
};

struct net_timer
{
    uint64_t at_ms;
    struct cs_timeout timeout;
};

struct net_node
{
    struct cs_core core;
    struct net_timer timers[NET_TIMERS_MAX];
    uint32_t timer_count;
    struct cs_block_id decided[NET_HEIGHTS + 2];
    uint32_t signers[NET_HEIGHTS + 2];
    uint32_t decided_round[NET_HEIGHTS + 2];
};

struct net
{
    struct net_node nodes[N];
    struct net_msg queue[NET_QUEUE_MAX];
    uint32_t queue_len;
    uint64_t now_ms;
    struct t_rng rng;
};

static void net_send(struct net *net, uint32_t to, const struct cs_event *ev)
{
    assert_true(net->queue_len < NET_QUEUE_MAX);
    net->queue[net->queue_len].to = to;
    net->queue[net->queue_len].ev = *ev;
    net->queue_len++;
}

static void net_step(struct net *net, uint32_t id, const struct cs_event *ev);

static void net_apply(struct net *net, uint32_t id, const struct cs_update *u)
{
    struct net_node *node = &net->nodes[id];
    for (uint32_t i = 0; i < u->out_count; i++) {
        const struct cs_msg *m = &u->out[i];
        struct cs_event ev = {.now_ms = net->now_ms};
        if (m->type == CS_MSG_PROPOSAL) {
            ev.type = CS_EVENT_PROPOSAL;
            ev.proposal = (struct cs_proposal){
                m->height, m->round, m->pol_round, m->block_id, true, id, t_sig(id, m->round, 0)};
        } else {
            ev.type = CS_EVENT_VOTE;
            ev.vote = (struct cs_vote){m->type,
                                       m->height,
                                       m->round,
                                       m->is_nil,
                                       m->block_id,
                                       id,
                                       t_sig(id, m->round, (int)m->type)};
        }
        for (uint32_t to = 0; to < N; to++)
            net_send(net, to, &ev);
    }
    for (uint32_t i = 0; i < u->timer_count && node->timer_count < NET_TIMERS_MAX; i++) {
        node->timers[node->timer_count].at_ms = net->now_ms + u->timers[i].duration_ms;
        node->timers[node->timer_count].timeout =
            (struct cs_timeout){u->timers[i].height, u->timers[i].round, u->timers[i].step};
        node->timer_count++;
    }
    uint64_t next_height = 0;
    struct cs_event ready = {.type = CS_EVENT_BLOCK_READY};
    if (u->flags & CS_UP_NEED_BLOCK) {
        /* A distinct block per (height, round, proposer): disagreement would show. */
        ready.block_ready.height = u->need_block.height;
        ready.block_ready.round = u->need_block.round;
        memset(ready.block_ready.block_id.bytes, 0, CS_BLOCK_ID_BYTES);
        ready.block_ready.block_id.bytes[0] = (uint8_t)u->need_block.height;
        ready.block_ready.block_id.bytes[1] = (uint8_t)u->need_block.round;
        ready.block_ready.block_id.bytes[2] = (uint8_t)id;
    }
    if (u->flags & CS_UP_COMMIT) {
        uint64_t h = u->commit.height;
        assert_true(h <= NET_HEIGHTS);
        assert_true(u->commit.signer_count >= cs_quorum(N));
        node->decided[h] = u->commit.block_id;
        node->signers[h] = u->commit.signer_count;
        node->decided_round[h] = u->commit.round;
        if (h < NET_HEIGHTS)
            next_height = h + 1;
    }
    /* u is borrowed: everything needed is copied above before stepping again. */
    if (ready.block_ready.height != 0)
        net_step(net, id, &ready);
    if (next_height != 0) {
        struct cs_event start = {.type = CS_EVENT_START_HEIGHT};
        start.start_height = (struct cs_start_height){next_height, {N, id}};
        net_step(net, id, &start);
    }
}

static void net_step(struct net *net, uint32_t id, const struct cs_event *ev)
{
    struct cs_update u;
    assert_int_equal(cs_step(&net->nodes[id].core, ev, &u), TB_OK);
    net_apply(net, id, &u);
}

/* Fires the earliest timer of any node; returns false when none is left. */
static bool net_fire_timer(struct net *net)
{
    uint32_t best_node = N, best = 0;
    for (uint32_t id = 0; id < N; id++) {
        struct net_node *node = &net->nodes[id];
        for (uint32_t i = 0; i < node->timer_count; i++) {
            if (best_node == N ||
                node->timers[i].at_ms < net->nodes[best_node].timers[best].at_ms) {
                best_node = id;
                best = i;
            }
        }
    }
    if (best_node == N)
        return false;
    struct net_node *node = &net->nodes[best_node];
    struct cs_event ev = {.type = CS_EVENT_TIMEOUT, .timeout = node->timers[best].timeout};
    if (node->timers[best].at_ms > net->now_ms)
        net->now_ms = node->timers[best].at_ms;
    node->timers[best] = node->timers[--node->timer_count];
    ev.now_ms = net->now_ms;
    net_step(net, best_node, &ev);
    return true;
}

static uint64_t t_event_height(const struct cs_event *ev)
{
    return ev->type == CS_EVENT_PROPOSAL ? ev->proposal.height : ev->vote.height;
}

/* Random order, duplicates, and now and then a timer firing before the queue drains. */
static void net_run(struct net *net, uint64_t seed)
{
    memset(net, 0, sizeof(*net));
    t_rng_seed(&net->rng, seed);
    for (uint32_t id = 0; id < N; id++) {
        assert_int_equal(cs_core_init(&net->nodes[id].core, &t_options), TB_OK);
        struct cs_event start = {.type = CS_EVENT_START_HEIGHT};
        start.start_height = (struct cs_start_height){1, {N, id}};
        net_step(net, id, &start);
    }
    for (uint32_t steps = 0; steps < 200000; steps++) {
        bool done = true;
        for (uint32_t id = 0; id < N; id++)
            done = done && net->nodes[id].core.state.height == NET_HEIGHTS &&
                   net->nodes[id].core.state.step == CS_STEP_COMMIT;
        if (done)
            break;
        bool fire = net->queue_len == 0 || t_rng_below(&net->rng, 100) < 15;
        if (fire && net_fire_timer(net))
            continue;
        if (net->queue_len == 0)
            break;
        uint32_t i = (uint32_t)t_rng_below(&net->rng, net->queue_len);
        struct net_msg msg = net->queue[i];
        uint64_t h = net->nodes[msg.to].core.state.height;
        if (t_event_height(&msg.ev) > h)
            continue; /* held in the queue until that node starts the height */
        net->queue[i] = net->queue[--net->queue_len];
        if (t_rng_below(&net->rng, 100) < 5 && net->queue_len + 1 < NET_QUEUE_MAX)
            net_send(net, msg.to, &msg.ev); /* duplicate */
        net_step(net, msg.to, &msg.ev);
    }
}

static void network_of_4_agrees_and_progresses(void **state)
{
    (void)state;
    static struct net net; /* large: keep it off the stack */
    uint32_t later_rounds = 0;
    for (uint64_t seed = 1; seed <= NET_SEEDS; seed++) {
        net_run(&net, seed);
        for (uint64_t h = 1; h <= NET_HEIGHTS; h++) {
            for (uint32_t id = 0; id < N; id++) {
                later_rounds += net.nodes[id].decided_round[h] > 0;
                if (net.nodes[id].signers[h] == 0)
                    print_error("seed %llu: node %u did not decide height %llu\n",
                                (unsigned long long)seed, id, (unsigned long long)h);
                assert_true(net.nodes[id].signers[h] >= cs_quorum(N));
                assert_memory_equal(&net.nodes[id].decided[h], &net.nodes[0].decided[h],
                                    sizeof(struct cs_block_id));
            }
        }
        for (uint32_t id = 0; id < N; id++)
            cs_core_release(&net.nodes[id].core);
    }
    /* The random timers must have pushed some heights past round 0, or this tests little. */
    print_message("decisions in a round above 0: %u of %u\n", later_rounds,
                  NET_SEEDS * NET_HEIGHTS * N);
    assert_true(later_rounds > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thresholds_match_naive),
        cmocka_unit_test(timeouts_grow_per_round),
        cmocka_unit_test(happy_path_commits_in_round_0),
        cmocka_unit_test(proposer_proposes_ready_block),
        cmocka_unit_test(proposer_timeout_prevotes_nil),
        cmocka_unit_test(prevote_timeout_precommits_nil),
        cmocka_unit_test(proposal_revalidated_decides),
        cmocka_unit_test(lock_refuses_other_value),
        cmocka_unit_test(lock_accepts_locked_value),
        cmocka_unit_test(proposal_with_valid_round_relocks),
        cmocka_unit_test(proposal_with_unbacked_valid_round_waits),
        cmocka_unit_test(late_prevote_quorum_updates_valid_value),
        cmocka_unit_test(round_skip_on_f_plus_1),
        cmocka_unit_test(late_proposal_decides_earlier_round),
        cmocka_unit_test(observer_decides_without_signing),
        cmocka_unit_test(equivocation_gives_evidence_once_and_counts_once),
        cmocka_unit_test(equivocator_vote_completes_pol),
        cmocka_unit_test_teardown(equivocator_faces_cannot_hide_pol, t_count_reset),
        cmocka_unit_test(junk_faces_never_displace_the_proposal),
        cmocka_unit_test(old_pol_round_is_pinned),
        cmocka_unit_test(certificate_lists_distinct_signers),
        cmocka_unit_test(bad_input_is_refused_or_counted),
        cmocka_unit_test(options_are_checked),
        cmocka_unit_test(restart_never_signs_differently),
        cmocka_unit_test(restart_keeps_lock),
        cmocka_unit_test(restart_resumes_proposer),
        cmocka_unit_test(restore_rejects_inconsistent_records),
        cmocka_unit_test(mutation_quorum_2f_commits_with_2_of_4),
        cmocka_unit_test(mutation_ignore_lock_prevotes_other_value),
        cmocka_unit_test(network_of_4_agrees_and_progresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
