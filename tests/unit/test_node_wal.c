/*
 * node/driver.c's WAL record and double-sign guard. The record codec round-trips and refuses
 * malformed records; node_wal_may_sign is checked on a table; then a consensus core is driven
 * with seeded random events, crashed and restored from its last durable record many times,
 * the way the driver does it: every message it emits must be allowed by the record that was
 * durable before it (the guard the driver asserts), and no (height, round, type) is ever
 * signed with two different values across restarts. Finally a core restored from an OLDER
 * copy of the WAL refuses to sign at or below that copy's last-signed messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node_int.h"
#include "t_util.h"

#define N 4u

static struct cs_persist sample_record(struct t_rng *rng)
{
    struct cs_persist p;
    memset(&p, 0, sizeof(p));
    p.height = t_rng_next(rng);
    p.round = (uint32_t)t_rng_next(rng);
    p.step = (enum cs_step)t_rng_below(rng, 5);
    p.validators.count = (uint32_t)t_rng_next(rng);
    p.validators.self_index = (uint32_t)t_rng_next(rng);
    p.locked_round = (uint32_t)t_rng_next(rng);
    t_rng_bytes(rng, p.locked_value.bytes, CS_BLOCK_ID_BYTES);
    p.valid_round = CS_ROUND_NONE;
    t_rng_bytes(rng, p.valid_value.bytes, CS_BLOCK_ID_BYTES);
    for (unsigned t = 0; t < CS_MSG_TYPES; t++) {
        p.last_signed[t].present = t_rng_below(rng, 2) == 1;
        p.last_signed[t].is_nil = t_rng_below(rng, 2) == 1;
        p.last_signed[t].height = t_rng_next(rng);
        p.last_signed[t].round = (uint32_t)t_rng_next(rng);
        p.last_signed[t].pol_round = CS_ROUND_NONE;
        t_rng_bytes(rng, p.last_signed[t].block_id.bytes, CS_BLOCK_ID_BYTES);
    }
    return p;
}

static void record_round_trip_and_refusals(void **state)
{
    (void)state;
    struct t_rng rng;
    struct tb_buf buf;
    tb_buf_init(&buf, NODE_WAL_BYTES);
    t_rng_seed(&rng, 11);
    for (int i = 0; i < 200; i++) {
        struct cs_persist p = sample_record(&rng), q;
        assert_int_equal(node_wal_encode(&p, &buf), TB_OK);
        assert_int_equal(node_wal_decode(buf.data, buf.len, &q), TB_OK);
        assert_memory_equal(&p, &q, sizeof(p));
    }
    struct cs_persist p = sample_record(&rng), q;
    assert_int_equal(node_wal_encode(&p, &buf), TB_OK);
    uint8_t bad[NODE_WAL_BYTES];
    size_t len = buf.len;
    assert_int_equal(node_wal_decode(buf.data, len - 1, &q), TB_EMALFORMED);
    memcpy(bad, buf.data, len);
    bad[0] ^= 1; /* magic */
    assert_int_equal(node_wal_decode(bad, len, &q), TB_EMALFORMED);
    memcpy(bad, buf.data, len);
    bad[24] = 5; /* step 5 */
    assert_int_equal(node_wal_decode(bad, len, &q), TB_EMALFORMED);
    memcpy(bad, buf.data, len);
    bad[16 + 4] = 1; /* round above 32 bits */
    assert_int_equal(node_wal_decode(bad, len, &q), TB_EMALFORMED);
    memcpy(bad, buf.data, len);
    bad[64 + 2 * CS_BLOCK_ID_BYTES] = 2; /* present = 2 */
    assert_int_equal(node_wal_decode(bad, len, &q), TB_EMALFORMED);
    tb_buf_release(&buf);
}

static void guard_table(void **state)
{
    (void)state;
    struct cs_persist d;
    memset(&d, 0, sizeof(d));
    struct cs_msg m = {.type = CS_MSG_PREVOTE, .height = 5, .round = 2};
    assert_true(node_wal_may_sign(&d, &m)); /* nothing signed yet */
    d.last_signed[CS_MSG_PREVOTE] =
        (struct cs_signed){.present = true, .height = 5, .round = 2, .pol_round = CS_ROUND_NONE};
    memset(d.last_signed[CS_MSG_PREVOTE].block_id.bytes, 7, CS_BLOCK_ID_BYTES);
    memset(m.block_id.bytes, 7, CS_BLOCK_ID_BYTES);
    assert_true(node_wal_may_sign(&d, &m)); /* the identical message again */
    m.block_id.bytes[0] = 8;
    assert_false(node_wal_may_sign(&d, &m)); /* another value, same (h, r, type) */
    m.is_nil = true;
    assert_false(node_wal_may_sign(&d, &m)); /* nil instead of a block */
    m.is_nil = false;
    m.round = 1;
    assert_false(node_wal_may_sign(&d, &m)); /* below */
    m.round = 3;
    assert_true(node_wal_may_sign(&d, &m));
    m.height = 4;
    m.round = 9;
    assert_false(node_wal_may_sign(&d, &m)); /* a lower height, any round */
    m.height = 6;
    m.round = 0;
    assert_true(node_wal_may_sign(&d, &m));
    m.type = CS_MSG_PRECOMMIT;
    m.height = 1;
    assert_true(node_wal_may_sign(&d, &m)); /* types are guarded separately */
    d.last_signed[CS_MSG_PROPOSAL] =
        (struct cs_signed){.present = true, .height = 5, .round = 2, .pol_round = 1};
    struct cs_msg p = {.type = CS_MSG_PROPOSAL, .height = 5, .round = 2, .pol_round = 1};
    assert_true(node_wal_may_sign(&d, &p));
    p.pol_round = CS_ROUND_NONE;
    assert_false(node_wal_may_sign(&d, &p)); /* another POL round is another proposal */
}

/* ---- a core driven like the driver drives it ---- */

struct signed_entry
{
    uint64_t height;
    uint32_t round;
    enum cs_msg_type type;
    bool is_nil;
    struct cs_block_id id;
};

struct world
{
    struct cs_core core;
    struct cs_options opt;
    struct cs_update up;
    struct cs_persist durable;
    bool has_durable;
    struct signed_entry signed_log[4096];
    size_t signed_count;
    uint64_t restores, emitted;
};

static void log_signed(struct world *w, const struct cs_msg *m)
{
    for (size_t i = 0; i < w->signed_count; i++) {
        const struct signed_entry *e = &w->signed_log[i];
        if (e->height != m->height || e->round != m->round || e->type != m->type)
            continue;
        bool nil = m->type != CS_MSG_PROPOSAL && m->is_nil;
        assert_int_equal(e->is_nil, nil);
        if (!nil)
            assert_memory_equal(e->id.bytes, m->block_id.bytes, CS_BLOCK_ID_BYTES);
        return;
    }
    assert_true(w->signed_count < 4096);
    w->signed_log[w->signed_count++] =
        (struct signed_entry){.height = m->height,
                              .round = m->round,
                              .type = m->type,
                              .is_nil = m->type != CS_MSG_PROPOSAL && m->is_nil,
                              .id = m->block_id};
}

/* Applies persist then the guard check for each message, as driver_persist does. */
static void apply(struct world *w)
{
    const struct cs_update *u = &w->up;
    if (u->out_count > 0)
        assert_true(u->flags & CS_UP_PERSIST);
    for (uint32_t i = 0; i < u->out_count; i++) {
        if (w->has_durable)
            assert_true(node_wal_may_sign(&w->durable, &u->out[i]));
        log_signed(w, &u->out[i]);
        w->emitted++;
    }
    if (u->flags & CS_UP_PERSIST) {
        struct tb_buf buf;
        tb_buf_init(&buf, NODE_WAL_BYTES);
        assert_int_equal(node_wal_encode(&u->persist, &buf), TB_OK);
        assert_int_equal(node_wal_decode(buf.data, buf.len, &w->durable), TB_OK);
        w->has_durable = true;
        tb_buf_release(&buf);
    }
}

static void deliver_own(struct world *w, uint32_t depth);

static void restart(struct world *w)
{
    cs_core_release(&w->core);
    assert_int_equal(cs_core_init(&w->core, &w->opt), TB_OK);
    if (!w->has_durable)
        return;
    assert_int_equal(cs_core_restore(&w->core, &w->durable, &w->up), TB_OK);
    apply(w);
    deliver_own(w, 0);
    w->restores++;
}

static void block_id(uint64_t h, unsigned v, struct cs_block_id *id)
{
    memset(id, 0, sizeof(*id));
    id->bytes[0] = (uint8_t)h;
    id->bytes[1] = (uint8_t)(v + 1);
}

static void random_event(struct world *w, struct t_rng *rng, struct cs_event *ev)
{
    const struct cs_persist *s = &w->core.state;
    uint64_t h = s->height;
    uint32_t r = s->round + (uint32_t)t_rng_below(rng, 2);
    memset(ev, 0, sizeof(*ev));
    uint64_t k = t_rng_below(rng, 10);
    if (s->step == CS_STEP_COMMIT || s->height == 0) {
        ev->type = CS_EVENT_START_HEIGHT;
        ev->start_height.height = h + 1;
        ev->start_height.validators = (struct cs_validator_set){.count = N, .self_index = 0};
    } else if (k < 2) {
        ev->type = CS_EVENT_TIMEOUT;
        ev->timeout = (struct cs_timeout){
            .height = h, .round = s->round, .step = (enum cs_step)(1 + t_rng_below(rng, 3))};
    } else if (k < 4) {
        ev->type = CS_EVENT_PROPOSAL;
        uint32_t from = cs_proposer(h, r, N);
        ev->proposal = (struct cs_proposal){.height = h,
                                            .round = r,
                                            .pol_round = CS_ROUND_NONE,
                                            .valid = true,
                                            .from = from,
                                            .sig = {.len = 1}};
        block_id(h, (unsigned)t_rng_below(rng, 2), &ev->proposal.block_id);
        if (from == 0) { /* our own proposal only comes back through BLOCK_READY */
            ev->type = CS_EVENT_BLOCK_READY;
            ev->block_ready = (struct cs_block_ready){.height = h, .round = s->round};
            block_id(h, 0, &ev->block_ready.block_id);
        }
    } else {
        ev->type = CS_EVENT_VOTE;
        ev->vote = (struct cs_vote){.type = (enum cs_msg_type)(1 + t_rng_below(rng, 2)),
                                    .height = h,
                                    .round = r,
                                    .is_nil = t_rng_below(rng, 4) == 0,
                                    .from = 1 + (uint32_t)t_rng_below(rng, N - 1),
                                    .sig = {.len = 1}};
        block_id(h, (unsigned)t_rng_below(rng, 2), &ev->vote.block_id);
    }
}

/* Own messages come back to the core, as the driver delivers them. */
static void deliver_own(struct world *w, uint32_t depth)
{
    struct cs_msg out[CS_OUT_MAX];
    uint32_t count = w->up.out_count;
    memcpy(out, w->up.out, sizeof(out));
    for (uint32_t i = 0; i < count && depth < 8; i++) {
        struct cs_event ev;
        memset(&ev, 0, sizeof(ev));
        if (out[i].type == CS_MSG_PROPOSAL) {
            ev.type = CS_EVENT_PROPOSAL;
            ev.proposal = (struct cs_proposal){.height = out[i].height,
                                               .round = out[i].round,
                                               .pol_round = out[i].pol_round,
                                               .block_id = out[i].block_id,
                                               .valid = true,
                                               .from = 0,
                                               .sig = {.len = 1}};
        } else {
            ev.type = CS_EVENT_VOTE;
            ev.vote = (struct cs_vote){.type = out[i].type,
                                       .height = out[i].height,
                                       .round = out[i].round,
                                       .is_nil = out[i].is_nil,
                                       .block_id = out[i].block_id,
                                       .from = 0,
                                       .sig = {.len = 1}};
        }
        if (cs_step(&w->core, &ev, &w->up) == TB_OK) {
            apply(w);
            deliver_own(w, depth + 1);
        }
    }
}

static void restarts_never_double_sign(void **state)
{
    (void)state;
    static struct world w;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct t_rng rng;
        memset(&w, 0, sizeof(w));
        w.opt = (struct cs_options){.validators_max = N,
                                    .timeout_propose_ms = 100,
                                    .timeout_prevote_ms = 100,
                                    .timeout_precommit_ms = 100,
                                    .timeout_delta_ms = 10};
        assert_int_equal(cs_core_init(&w.core, &w.opt), TB_OK);
        t_rng_seed(&rng, seed);
        for (int step = 0; step < 3000; step++) {
            if (t_rng_below(&rng, 25) == 0) {
                restart(&w);
                continue;
            }
            struct cs_event ev;
            random_event(&w, &rng, &ev);
            if (cs_step(&w.core, &ev, &w.up) != TB_OK)
                continue;
            apply(&w);
            deliver_own(&w, 0);
        }
        assert_true(w.restores > 50);
        assert_true(w.emitted > 100);
        cs_core_release(&w.core);
    }
}

static void older_copy_refuses_at_or_below(void **state)
{
    (void)state;
    static struct world w;
    memset(&w, 0, sizeof(w));
    w.opt = (struct cs_options){.validators_max = N,
                                .timeout_propose_ms = 100,
                                .timeout_prevote_ms = 100,
                                .timeout_precommit_ms = 100};
    assert_int_equal(cs_core_init(&w.core, &w.opt), TB_OK);
    struct cs_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_START_HEIGHT;
    ev.start_height = (struct cs_start_height){.height = 1, .validators = {N, 0}};
    assert_int_equal(cs_step(&w.core, &ev, &w.up), TB_OK);
    apply(&w);
    /* Round 0 (proposer 1): a valid proposal for A, we prevote A. */
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_PROPOSAL;
    ev.proposal = (struct cs_proposal){.height = 1,
                                       .round = 0,
                                       .pol_round = CS_ROUND_NONE,
                                       .valid = true,
                                       .from = 1,
                                       .sig = {.len = 1}};
    block_id(1, 0, &ev.proposal.block_id);
    assert_int_equal(cs_step(&w.core, &ev, &w.up), TB_OK);
    apply(&w);
    assert_int_equal(w.up.out_count, 1);
    assert_int_equal(w.up.out[0].type, CS_MSG_PREVOTE);
    struct cs_persist copy = w.durable; /* the "backup": prevote (1, 0, A) signed */
    assert_true(copy.last_signed[CS_MSG_PREVOTE].present);

    /* Restored from that copy, the core is given what would make it prevote nil in round 0
     * (the propose timeout) and a conflicting proposal: it signs nothing in round 0 that
     * differs, and the guard agrees with it. */
    cs_core_release(&w.core);
    assert_int_equal(cs_core_init(&w.core, &w.opt), TB_OK);
    assert_int_equal(cs_core_restore(&w.core, &copy, &w.up), TB_OK);
    w.durable = copy;
    apply(&w);
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_TIMEOUT;
    ev.timeout = (struct cs_timeout){.height = 1, .round = 0, .step = CS_STEP_PROPOSE};
    assert_int_equal(cs_step(&w.core, &ev, &w.up), TB_OK);
    for (uint32_t i = 0; i < w.up.out_count; i++)
        assert_true(node_wal_may_sign(&copy, &w.up.out[i]));
    apply(&w);
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_PROPOSAL;
    ev.proposal = (struct cs_proposal){.height = 1,
                                       .round = 0,
                                       .pol_round = CS_ROUND_NONE,
                                       .valid = true,
                                       .from = 1,
                                       .sig = {.len = 2}};
    block_id(1, 1, &ev.proposal.block_id);
    assert_int_equal(cs_step(&w.core, &ev, &w.up), TB_OK);
    for (uint32_t i = 0; i < w.up.out_count; i++) {
        assert_true(node_wal_may_sign(&copy, &w.up.out[i]));
        assert_false(w.up.out[i].type == CS_MSG_PREVOTE && w.up.out[i].round == 0);
    }
    /* And the guard itself refuses a prevote nil or B at (1, 0) after that copy. */
    struct cs_msg nil0 = {.type = CS_MSG_PREVOTE, .height = 1, .round = 0, .is_nil = true};
    assert_false(node_wal_may_sign(&copy, &nil0));
    cs_core_release(&w.core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_round_trip_and_refusals),
        cmocka_unit_test(guard_table),
        cmocka_unit_test(restarts_never_double_sign),
        cmocka_unit_test(older_copy_refuses_at_or_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
