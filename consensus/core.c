/*
 * The Tendermint core: Algorithm 1 of "The latest gossip on BFT consensus" (Buchman,
 * Kwon, Milosevic 2018) as a pure state machine. One function per upon-rule, named
 * after it, with the paper's line numbers in its comment.
 *
 * This file must never do I/O, read a clock, draw random numbers or allocate (all
 * memory comes from cs_core_init). Bad input is counted or returns TB_EINVAL; asserts
 * guard only the core's own invariants.
 *
 * Deviations from the paper, all harmless to safety:
 * - the proposer also arms timeoutPropose, so a block that never gets ready cannot
 *   stall it in the propose step;
 * - after a decision the core waits in CS_STEP_COMMIT for the driver's START_HEIGHT
 *   (which carries the next validator set) instead of starting height h+1 itself;
 * - line 55 uses the highest round seen per sender: StartRound(R) with R the (f+1)-th
 *   largest, so skipping works even to rounds beyond the kept vote window;
 * - as in the paper an equivocator counts for each value it signed, but the store keeps
 *   at most CS_FACES_KEPT (three) votes per (sender, round, type), preferring values a
 *   rule can use (vote_set.c says which); proposals: the first and one conflicting one.
 */
#include <string.h>

#include "cs_internal.h"
#include "tb_alloc.h"
#include "tb_assert.h"

/* Rules fire at most a handful of times per step (each sets a guard or moves on). */
#define CS_RULE_PASSES_MAX 32u

_Static_assert(CS_TIMEOUT_MS_MAX <= UINT64_MAX / 2u / CS_ROUND_MAX, "timeouts cannot overflow");
_Static_assert(CS_VALIDATORS_MAX <= UINT32_MAX / 3u, "quorum math cannot overflow");

/* ---------------------------------------------------------------- helpers */

uint32_t cs_quorum(uint32_t n)
{
    TB_ASSERT(n >= 1u);
    TB_ASSERT(n <= CS_VALIDATORS_MAX);
    uint32_t q = 2u * n / 3u + 1u;
    TB_ASSERT(3u * q > 2u * n);
    TB_ASSERT(3u * (q - 1u) <= 2u * n);
    return q;
}

uint32_t cs_skip_threshold(uint32_t n)
{
    TB_ASSERT(n >= 1u);
    TB_ASSERT(n <= CS_VALIDATORS_MAX);
    uint32_t k = n / 3u + 1u;
    TB_ASSERT(3u * k > n);
    TB_ASSERT(3u * (k - 1u) <= n);
    return k;
}

uint32_t cs_proposer(uint64_t height, uint32_t round, uint32_t n)
{
    TB_ASSERT(n >= 1u);
    /* (h + r) mod n without overflow: reduce each term first. */
    uint64_t p = (height % n + (uint64_t)round % n) % n;
    TB_ASSERT(p < n);
    return (uint32_t)p;
}

uint64_t cs_timeout_ms(const struct cs_options *options, uint32_t round, enum cs_step step)
{
    uint64_t base = 0;
    TB_ASSERT(round < CS_ROUND_MAX);
    TB_ASSERT(options->timeout_delta_ms <= CS_TIMEOUT_MS_MAX);
    switch (step) {
    case CS_STEP_PROPOSE:
        base = options->timeout_propose_ms;
        break;
    case CS_STEP_PREVOTE:
        base = options->timeout_prevote_ms;
        break;
    case CS_STEP_PRECOMMIT:
        base = options->timeout_precommit_ms;
        break;
    default:
        TB_UNREACHABLE();
    }
    TB_ASSERT(base <= CS_TIMEOUT_MS_MAX);
    return base + (uint64_t)round * options->timeout_delta_ms;
}

static bool cs_is_validator(const struct cs_core *core)
{
    return core->state.validators.self_index != CS_INDEX_NONE;
}

static bool cs_signed_equal(const struct cs_signed *a, const struct cs_signed *b)
{
    if (a->present != b->present)
        return false;
    if (!a->present)
        return true;
    return a->is_nil == b->is_nil && a->height == b->height && a->round == b->round &&
           a->pol_round == b->pol_round && cs_block_id_equal(&a->block_id, &b->block_id);
}

/* Field by field: padding bytes must not make two equal states differ. */
static bool cs_persist_equal(const struct cs_persist *a, const struct cs_persist *b)
{
    if (a->height != b->height || a->round != b->round || a->step != b->step)
        return false;
    if (a->validators.count != b->validators.count ||
        a->validators.self_index != b->validators.self_index)
        return false;
    if (a->locked_round != b->locked_round || a->valid_round != b->valid_round)
        return false;
    if (!cs_block_id_equal(&a->locked_value, &b->locked_value) ||
        !cs_block_id_equal(&a->valid_value, &b->valid_value))
        return false;
    for (uint32_t t = 0; t < CS_MSG_TYPES; t++) {
        if (!cs_signed_equal(&a->last_signed[t], &b->last_signed[t]))
            return false;
    }
    return true;
}

/* (h1, r1) < (h2, r2) lexicographically. */
static bool cs_hr_before(uint64_t h1, uint32_t r1, uint64_t h2, uint32_t r2)
{
    return h1 < h2 || (h1 == h2 && r1 < r2);
}

/* The invariants of the round state; checked after every step and restore. */
static void cs_check_invariants(const struct cs_core *core)
{
    const struct cs_persist *s = &core->state;
    if (s->height == 0) {
        TB_ASSERT(s->step == CS_STEP_NONE);
        return;
    }
    TB_ASSERT(s->step >= CS_STEP_PROPOSE && s->step <= CS_STEP_COMMIT);
    TB_ASSERT(s->round < CS_ROUND_MAX);
    TB_ASSERT(s->validators.count >= 1u);
    TB_ASSERT(s->validators.count <= core->options.validators_max);
    if (s->locked_round != CS_ROUND_NONE) {
        TB_ASSERT(s->locked_round <= s->round);
        TB_ASSERT(s->valid_round != CS_ROUND_NONE);
        TB_ASSERT(s->valid_round >= s->locked_round);
    }
    if (s->valid_round != CS_ROUND_NONE)
        TB_ASSERT(s->valid_round <= s->round);
    for (uint32_t t = 0; t < CS_MSG_TYPES; t++) {
        const struct cs_signed *last = &s->last_signed[t];
        if (last->present)
            TB_ASSERT(!cs_hr_before(s->height, s->round, last->height, last->round));
    }
}

/* --------------------------------------------------------------- outputs */

static void cs_schedule(struct cs_core *core, enum cs_step step)
{
    struct cs_update *u = core->update;
    TB_ASSERT(u != NULL);
    TB_ASSERT(u->timer_count < CS_TIMERS_MAX);
    struct cs_timer *timer = &u->timers[u->timer_count++];
    timer->height = core->state.height;
    timer->round = core->state.round;
    timer->step = step;
    timer->duration_ms = cs_timeout_ms(&core->options, core->state.round, step);
    u->flags |= CS_UP_TIMER;
}

/*
 * Emits a message of the current (height, round) through the double-sign guard:
 * never for an (h, r) before the last one signed of that type (a restored core may
 * be asked to), and never twice for the same (h, r, type). Returns whether it emitted.
 */
static bool cs_emit(struct cs_core *core, enum cs_msg_type type, bool is_nil,
                    const struct cs_block_id *id, uint32_t pol_round)
{
    struct cs_persist *s = &core->state;
    struct cs_signed *last = &s->last_signed[type];
    struct cs_update *u = core->update;
    TB_ASSERT(u != NULL);
    TB_ASSERT(s->step != CS_STEP_COMMIT);
    if (!cs_is_validator(core))
        return false;
    if (last->present && cs_hr_before(s->height, s->round, last->height, last->round)) {
        core->stats.refused_signs++;
        return false;
    }
    if (last->present && last->height == s->height && last->round == s->round) {
        /* The rules emit each type once per round: a second one must be the same. */
        TB_ASSERT(last->is_nil == is_nil);
        TB_ASSERT(is_nil || cs_block_id_equal(&last->block_id, id));
        core->stats.refused_signs++;
        return false;
    }
    memset(last, 0, sizeof(*last));
    last->present = true;
    last->is_nil = is_nil;
    last->height = s->height;
    last->round = s->round;
    last->pol_round = pol_round;
    if (!is_nil)
        last->block_id = *id;
    TB_ASSERT(u->out_count < CS_OUT_MAX);
    struct cs_msg *msg = &u->out[u->out_count++];
    msg->type = type;
    msg->height = s->height;
    msg->round = s->round;
    msg->pol_round = pol_round;
    msg->is_nil = is_nil;
    if (!is_nil)
        msg->block_id = *id;
    u->flags |= CS_UP_SEND;
    return true;
}

static void cs_prevote(struct cs_core *core, bool is_nil, const struct cs_block_id *id)
{
    TB_ASSERT(core->state.step == CS_STEP_PROPOSE);
    (void)cs_emit(core, CS_MSG_PREVOTE, is_nil, id, CS_ROUND_NONE);
    core->state.step = CS_STEP_PREVOTE;
}

static void cs_precommit(struct cs_core *core, bool is_nil, const struct cs_block_id *id)
{
    TB_ASSERT(core->state.step == CS_STEP_PREVOTE);
    (void)cs_emit(core, CS_MSG_PRECOMMIT, is_nil, id, CS_ROUND_NONE);
    core->state.step = CS_STEP_PRECOMMIT;
}

/* ------------------------------------------------------------ the rules */

/*
 * Lines 11-21, StartRound(round): enter round in the propose step; the proposer
 * proposes validValue if it has one (with validRound as POL) or asks the driver for a
 * new block (getValue()). Everyone arms timeoutPropose (see the file comment).
 */
static void cs_on_start_round(struct cs_core *core, uint32_t round)
{
    struct cs_persist *s = &core->state;
    TB_ASSERT(s->height >= 1u);
    TB_ASSERT(round < CS_ROUND_MAX);
    TB_ASSERT(round > s->round || (round == 0u && s->round == 0u));
    s->round = round;
    s->step = CS_STEP_PROPOSE;
    core->prevote_timer_armed = false;
    core->prevote_quorum_done = false;
    core->precommit_timer_armed = false;
    if (cs_is_validator(core) &&
        cs_proposer(s->height, round, s->validators.count) == s->validators.self_index) {
        if (s->valid_round != CS_ROUND_NONE) {
            (void)cs_emit(core, CS_MSG_PROPOSAL, false, &s->valid_value, s->valid_round);
        } else {
            core->update->need_block.height = s->height;
            core->update->need_block.round = round;
            core->update->flags |= CS_UP_NEED_BLOCK;
        }
    }
    cs_schedule(core, CS_STEP_PROPOSE);
}

/*
 * The i-th proposal kept for the current round (the first one received, then one
 * conflicting one from an equivocating proposer), or NULL.
 */
static const struct cs_proposal_entry *cs_current_proposal(struct cs_core *core, uint32_t i)
{
    TB_ASSERT(i < CS_PROPOSALS_KEPT);
    struct cs_round_slot *slot = cs_slot_find(core, core->state.round);
    if (slot == NULL || !slot->proposals[i].present)
        return NULL;
    TB_ASSERT(slot->round == core->state.round);
    return &slot->proposals[i];
}

/* lockedRound = -1 or lockedValue = v (line 23), or the IGNORE_LOCK mutation. */
static bool cs_lock_allows(const struct cs_core *core, const struct cs_block_id *id)
{
    const struct cs_persist *s = &core->state;
    return s->locked_round == CS_ROUND_NONE || cs_block_id_equal(&s->locked_value, id) ||
           (core->options.mutations & CS_MUTATION_IGNORE_LOCK) != 0u;
}

/*
 * Lines 22-27: upon PROPOSAL(h, round, v, -1) from proposer(h, round) while
 * step = propose: prevote id(v) if valid(v) and (lockedRound = -1 or lockedValue = v),
 * else prevote nil.
 */
static bool cs_on_proposal_in_propose(struct cs_core *core)
{
    struct cs_persist *s = &core->state;
    if (s->step != CS_STEP_PROPOSE)
        return false;
    for (uint32_t i = 0; i < CS_PROPOSALS_KEPT; i++) {
        const struct cs_proposal_entry *p = cs_current_proposal(core, i);
        if (p == NULL || p->pol_round != CS_ROUND_NONE)
            continue;
        bool vote = p->valid && cs_lock_allows(core, &p->block_id);
        cs_prevote(core, !vote, &p->block_id);
        TB_ASSERT(s->step == CS_STEP_PREVOTE);
        return true;
    }
    return false;
}

/*
 * Lines 28-33: upon PROPOSAL(h, round, v, vr) from proposer(h, round) AND 2f+1
 * PREVOTE(h, vr, id(v)) while step = propose and 0 <= vr < round: prevote id(v) if
 * valid(v) and (lockedRound <= vr or lockedValue = v), else prevote nil.
 */
static bool cs_on_proposal_with_valid_round(struct cs_core *core)
{
    struct cs_persist *s = &core->state;
    if (s->step != CS_STEP_PROPOSE)
        return false;
    for (uint32_t i = 0; i < CS_PROPOSALS_KEPT; i++) {
        const struct cs_proposal_entry *p = cs_current_proposal(core, i);
        if (p == NULL || p->pol_round == CS_ROUND_NONE || p->pol_round >= s->round)
            continue;
        struct cs_round_slot *pol = cs_slot_find(core, p->pol_round);
        if (pol == NULL || cs_vote_set_count(core, pol, CS_MSG_PREVOTE, CS_COUNT_VALUE,
                                             &p->block_id) < core->quorum)
            continue;
        bool lock_ok = cs_lock_allows(core, &p->block_id) || s->locked_round <= p->pol_round;
        bool vote = p->valid && lock_ok;
        cs_prevote(core, !vote, &p->block_id);
        TB_ASSERT(s->step == CS_STEP_PREVOTE);
        return true;
    }
    return false;
}

/*
 * Lines 34-35: upon 2f+1 PREVOTE(h, round, *) while step = prevote for the first
 * time: schedule OnTimeoutPrevote(h, round).
 */
static bool cs_on_prevote_any(struct cs_core *core)
{
    if (core->state.step != CS_STEP_PREVOTE || core->prevote_timer_armed)
        return false;
    struct cs_round_slot *slot = cs_slot_find(core, core->state.round);
    if (slot == NULL ||
        cs_vote_set_count(core, slot, CS_MSG_PREVOTE, CS_COUNT_ANY, NULL) < core->quorum)
        return false;
    core->prevote_timer_armed = true;
    cs_schedule(core, CS_STEP_PREVOTE);
    TB_ASSERT(core->update->timer_count >= 1u);
    return true;
}

/*
 * Lines 36-43: upon PROPOSAL(h, round, v, *) from proposer(h, round) AND 2f+1
 * PREVOTE(h, round, id(v)) while valid(v) and step >= prevote for the first time:
 * in the prevote step lock v and precommit id(v); in any case validValue = v,
 * validRound = round.
 */
static bool cs_on_prevote_quorum(struct cs_core *core)
{
    struct cs_persist *s = &core->state;
    if (core->prevote_quorum_done)
        return false;
    if (s->step != CS_STEP_PREVOTE && s->step != CS_STEP_PRECOMMIT)
        return false;
    for (uint32_t i = 0; i < CS_PROPOSALS_KEPT; i++) {
        const struct cs_proposal_entry *p = cs_current_proposal(core, i);
        if (p == NULL || !p->valid)
            continue;
        struct cs_round_slot *slot = cs_slot_find(core, s->round);
        TB_ASSERT(slot != NULL);
        if (cs_vote_set_count(core, slot, CS_MSG_PREVOTE, CS_COUNT_VALUE, &p->block_id) <
            core->quorum)
            continue;
        core->prevote_quorum_done = true;
        if (s->step == CS_STEP_PREVOTE) {
            s->locked_value = p->block_id;
            s->locked_round = s->round;
            cs_precommit(core, false, &p->block_id);
        }
        s->valid_value = p->block_id;
        s->valid_round = s->round;
        TB_ASSERT(s->step == CS_STEP_PRECOMMIT);
        return true;
    }
    return false;
}

/*
 * Lines 44-46: upon 2f+1 PREVOTE(h, round, nil) while step = prevote: precommit nil.
 */
static bool cs_on_prevote_nil(struct cs_core *core)
{
    if (core->state.step != CS_STEP_PREVOTE)
        return false;
    struct cs_round_slot *slot = cs_slot_find(core, core->state.round);
    if (slot == NULL ||
        cs_vote_set_count(core, slot, CS_MSG_PREVOTE, CS_COUNT_NIL, NULL) < core->quorum)
        return false;
    cs_precommit(core, true, NULL);
    TB_ASSERT(core->state.step == CS_STEP_PRECOMMIT);
    return true;
}

/*
 * Lines 47-48: upon 2f+1 PRECOMMIT(h, round, *) for the first time: schedule
 * OnTimeoutPrecommit(h, round).
 */
static bool cs_on_precommit_any(struct cs_core *core)
{
    if (core->precommit_timer_armed)
        return false;
    struct cs_round_slot *slot = cs_slot_find(core, core->state.round);
    if (slot == NULL ||
        cs_vote_set_count(core, slot, CS_MSG_PRECOMMIT, CS_COUNT_ANY, NULL) < core->quorum)
        return false;
    core->precommit_timer_armed = true;
    cs_schedule(core, CS_STEP_PRECOMMIT);
    TB_ASSERT(core->state.step != CS_STEP_COMMIT);
    return true;
}

/* Emits the decision of a proposal of slot with its certificate (the end of line 49). */
static void cs_decide(struct cs_core *core, const struct cs_round_slot *slot,
                      const struct cs_proposal_entry *proposal)
{
    struct cs_update *u = core->update;
    const struct cs_block_id *id = &proposal->block_id;
    memset(&u->commit, 0, sizeof(u->commit));
    u->commit.height = core->state.height;
    u->commit.round = slot->round;
    u->commit.block_id = *id;
    uint32_t signers = cs_vote_set_certificate(core, slot, id, &u->commit);
    /* A certificate has more than 2/3 distinct signers, sorted, all for this id. */
    TB_ASSERT(signers >= core->quorum);
    if ((core->options.mutations & CS_MUTATION_QUORUM_2F) == 0u)
        TB_ASSERT(3u * signers > 2u * core->state.validators.count);
    for (uint32_t i = 1; i < signers; i++)
        TB_ASSERT(u->commit.signers[i - 1].index < u->commit.signers[i].index);
    u->flags |= CS_UP_COMMIT;
    core->state.step = CS_STEP_COMMIT;
    core->stats.decisions++;
}

/*
 * Lines 49-54: upon PROPOSAL(h, r, v, *) from proposer(h, r) AND 2f+1
 * PRECOMMIT(h, r, id(v)) while decision[h] = nil: if valid(v), decide v. Any kept
 * round r, not only the current one (a late proposal still decides).
 */
static bool cs_on_decide(struct cs_core *core)
{
    TB_ASSERT(core->state.step != CS_STEP_COMMIT);
    TB_ASSERT(core->state.step != CS_STEP_NONE);
    for (uint32_t i = 0; i < CS_ROUND_SLOTS; i++) {
        struct cs_round_slot *slot = &core->slots[i];
        if (slot->round == CS_ROUND_NONE)
            continue;
        for (uint32_t p = 0; p < CS_PROPOSALS_KEPT; p++) {
            const struct cs_proposal_entry *proposal = &slot->proposals[p];
            if (!proposal->present || !proposal->valid)
                continue;
            if (cs_vote_set_count(core, slot, CS_MSG_PRECOMMIT, CS_COUNT_VALUE,
                                  &proposal->block_id) < core->quorum)
                continue;
            cs_decide(core, slot, proposal);
            return true;
        }
    }
    return false;
}

/*
 * Lines 55-56: upon f+1 messages of height h with round > round: StartRound(round).
 * Uses the highest round seen per sender: R is the (f+1)-th largest, so at least one
 * honest validator has reached R (only f can lie about their round).
 */
static bool cs_on_round_skip(struct cs_core *core)
{
    uint32_t n = core->state.validators.count;
    uint32_t higher[CS_VALIDATORS_MAX];
    uint32_t count = 0;
    TB_ASSERT(n <= CS_VALIDATORS_MAX);
    for (uint32_t i = 0; i < n; i++) {
        if (core->sender_seen[i] && core->sender_round[i] > core->state.round)
            higher[count++] = core->sender_round[i];
    }
    if (count < core->skip)
        return false;
    /* The skip-th largest: a partial selection sort, n <= 64. */
    for (uint32_t k = 0; k < core->skip; k++) {
        for (uint32_t j = k + 1; j < count; j++) {
            if (higher[j] > higher[k]) {
                uint32_t tmp = higher[k];
                higher[k] = higher[j];
                higher[j] = tmp;
            }
        }
    }
    uint32_t target = higher[core->skip - 1u];
    TB_ASSERT(target > core->state.round);
    TB_ASSERT(target < CS_ROUND_MAX);
    cs_on_start_round(core, target);
    return true;
}

/* Runs the upon-rules until none fires (each fires once per round or moves on). */
static void cs_rules_run(struct cs_core *core)
{
    for (uint32_t pass = 0; pass < CS_RULE_PASSES_MAX; pass++) {
        if (core->state.step == CS_STEP_COMMIT || core->state.step == CS_STEP_NONE)
            return;
        bool fired = cs_on_decide(core) || cs_on_round_skip(core) ||
                     cs_on_proposal_in_propose(core) || cs_on_proposal_with_valid_round(core) ||
                     cs_on_prevote_quorum(core) || cs_on_prevote_any(core) ||
                     cs_on_prevote_nil(core) || cs_on_precommit_any(core);
        if (!fired)
            return;
    }
    TB_UNREACHABLE();
}

/* Lines 57-60: OnTimeoutPropose(h, round) while step = propose: prevote nil. */
static void cs_on_timeout_propose(struct cs_core *core)
{
    TB_ASSERT(core->state.step == CS_STEP_PROPOSE);
    cs_prevote(core, true, NULL);
    TB_ASSERT(core->state.step == CS_STEP_PREVOTE);
}

/* Lines 61-64: OnTimeoutPrevote(h, round) while step = prevote: precommit nil. */
static void cs_on_timeout_prevote(struct cs_core *core)
{
    TB_ASSERT(core->state.step == CS_STEP_PREVOTE);
    cs_precommit(core, true, NULL);
    TB_ASSERT(core->state.step == CS_STEP_PRECOMMIT);
}

/* Lines 65-67: OnTimeoutPrecommit(h, round): StartRound(round + 1). */
static void cs_on_timeout_precommit(struct cs_core *core)
{
    TB_ASSERT(core->state.step != CS_STEP_COMMIT);
    TB_ASSERT(core->state.round + 1u < CS_ROUND_MAX);
    cs_on_start_round(core, core->state.round + 1u);
}

/* ----------------------------------------------------------------- events */

static int cs_malformed(struct cs_core *core, const char *what, uint32_t value)
{
    core->stats.malformed++;
    return tb_fail(core->errmsg, TB_EINVAL, "consensus: %s (%u)", what, (unsigned)value);
}

/* START_HEIGHT: a fresh round state for height h, then StartRound(0) (line 10). */
static int cs_event_start_height(struct cs_core *core, const struct cs_start_height *ev)
{
    struct cs_persist *s = &core->state;
    uint32_t n = ev->validators.count;
    if (ev->height == 0u || ev->height <= s->height)
        return cs_malformed(core, "start height not above the current height",
                            (uint32_t)(ev->height & UINT32_MAX));
    if (n == 0u || n > core->options.validators_max)
        return cs_malformed(core, "validator count out of range", n);
    if (ev->validators.self_index != CS_INDEX_NONE && ev->validators.self_index >= n)
        return cs_malformed(core, "self index outside the validator set",
                            ev->validators.self_index);
    s->height = ev->height;
    s->validators = ev->validators;
    s->round = 0;
    s->locked_round = CS_ROUND_NONE;
    s->valid_round = CS_ROUND_NONE;
    memset(&s->locked_value, 0, sizeof(s->locked_value));
    memset(&s->valid_value, 0, sizeof(s->valid_value));
    core->quorum = cs_quorum(n);
    if ((core->options.mutations & CS_MUTATION_QUORUM_2F) != 0u && core->quorum > 1u)
        core->quorum--;
    core->skip = cs_skip_threshold(n);
    memset(core->sender_round, 0, sizeof(core->sender_round));
    memset(core->sender_seen, 0, sizeof(core->sender_seen));
    cs_slots_reset(core);
    cs_on_start_round(core, 0);
    TB_ASSERT(s->step == CS_STEP_PROPOSE);
    TB_ASSERT(s->round == 0u);
    return TB_OK;
}

/*
 * Checks what every message shares and whether it is for this height now. Returns
 * TB_EINVAL for malformed input, TB_OK with *use false for input to ignore (counted).
 */
static int cs_message_admit(struct cs_core *core, uint64_t height, uint32_t round, uint32_t from,
                            const struct cs_sig *sig, bool *use)
{
    const struct cs_persist *s = &core->state;
    *use = false;
    if (round >= CS_ROUND_MAX)
        return cs_malformed(core, "round out of range", round);
    if (sig->len > CS_SIG_BYTES_MAX)
        return cs_malformed(core, "signature too long", sig->len);
    if (s->height == 0u || height != s->height) {
        core->stats.wrong_height++;
        return TB_OK;
    }
    if (from >= s->validators.count)
        return cs_malformed(core, "sender is not a validator of this height", from);
    if (s->step == CS_STEP_COMMIT) {
        core->stats.late++;
        return TB_OK;
    }
    *use = true;
    return TB_OK;
}

/* Remembers the highest round each sender has shown (line 55 reads it). */
static void cs_sender_saw(struct cs_core *core, uint32_t from, uint32_t round)
{
    TB_ASSERT(from < core->state.validators.count);
    TB_ASSERT(round < CS_ROUND_MAX);
    if (!core->sender_seen[from] || round > core->sender_round[from])
        core->sender_round[from] = round;
    core->sender_seen[from] = true;
}

static void cs_count_add(struct cs_core *core, enum cs_add_result result)
{
    if (result == CS_ADD_DUPLICATE) {
        core->stats.duplicates++;
    } else if (result == CS_ADD_EQUIVOCATION) {
        core->stats.equivocations++;
        core->update->flags |= CS_UP_EVIDENCE;
    } else if (result == CS_ADD_EQUIVOCATION_AGAIN) {
        core->stats.equivocations++;
    }
}

static int cs_event_proposal(struct cs_core *core, const struct cs_proposal *ev)
{
    bool use = false;
    int rc = cs_message_admit(core, ev->height, ev->round, ev->from, &ev->sig, &use);
    if (rc != TB_OK || !use)
        return rc;
    if (ev->pol_round != CS_ROUND_NONE && ev->pol_round >= ev->round)
        return cs_malformed(core, "proposal valid round not below its round", ev->pol_round);
    if (ev->from != cs_proposer(ev->height, ev->round, core->state.validators.count)) {
        core->stats.not_proposer++;
        return TB_OK;
    }
    cs_sender_saw(core, ev->from, ev->round);
    struct cs_round_slot *slot = cs_slot_claim(core, ev->round);
    if (slot == NULL) {
        core->stats.outside_window++;
    } else {
        cs_count_add(core, cs_proposal_set(core, slot, ev, &core->update->evidence));
    }
    cs_rules_run(core);
    return TB_OK;
}

static int cs_event_vote(struct cs_core *core, const struct cs_vote *ev)
{
    bool use = false;
    if (ev->type != CS_MSG_PREVOTE && ev->type != CS_MSG_PRECOMMIT)
        return cs_malformed(core, "vote type", (uint32_t)ev->type);
    int rc = cs_message_admit(core, ev->height, ev->round, ev->from, &ev->sig, &use);
    if (rc != TB_OK || !use)
        return rc;
    cs_sender_saw(core, ev->from, ev->round);
    struct cs_round_slot *slot = cs_slot_claim(core, ev->round);
    if (slot == NULL) {
        core->stats.outside_window++;
    } else {
        cs_count_add(core, cs_vote_set_add(core, slot, ev, &core->update->evidence));
    }
    cs_rules_run(core);
    return TB_OK;
}

static int cs_event_timeout(struct cs_core *core, const struct cs_timeout *ev)
{
    struct cs_persist *s = &core->state;
    if (ev->step != CS_STEP_PROPOSE && ev->step != CS_STEP_PREVOTE && ev->step != CS_STEP_PRECOMMIT)
        return cs_malformed(core, "timeout step", (uint32_t)ev->step);
    bool current = s->height != 0u && ev->height == s->height && ev->round == s->round &&
                   s->step != CS_STEP_COMMIT;
    if (current && ev->step == CS_STEP_PROPOSE && s->step == CS_STEP_PROPOSE) {
        cs_on_timeout_propose(core);
    } else if (current && ev->step == CS_STEP_PREVOTE && s->step == CS_STEP_PREVOTE) {
        cs_on_timeout_prevote(core);
    } else if (current && ev->step == CS_STEP_PRECOMMIT && s->round + 1u < CS_ROUND_MAX) {
        cs_on_timeout_precommit(core);
    } else {
        core->stats.stale_timeouts++;
        return TB_OK;
    }
    cs_rules_run(core);
    return TB_OK;
}

/* BLOCK_READY: the getValue() answer; proposes it if still wanted (line 18-19). */
static int cs_event_block_ready(struct cs_core *core, const struct cs_block_ready *ev)
{
    struct cs_persist *s = &core->state;
    const struct cs_signed *last = &s->last_signed[CS_MSG_PROPOSAL];
    bool wanted =
        s->height != 0u && ev->height == s->height && ev->round == s->round &&
        s->step == CS_STEP_PROPOSE && cs_is_validator(core) &&
        cs_proposer(s->height, s->round, s->validators.count) == s->validators.self_index &&
        s->valid_round == CS_ROUND_NONE;
    if (wanted && last->present && !cs_hr_before(last->height, last->round, s->height, s->round))
        wanted = false; /* already proposed in this round */
    if (!wanted) {
        core->stats.stale_timeouts++;
        return TB_OK;
    }
    bool emitted = cs_emit(core, CS_MSG_PROPOSAL, false, &ev->block_id, CS_ROUND_NONE);
    TB_ASSERT(emitted);
    TB_ASSERT(s->step == CS_STEP_PROPOSE);
    return TB_OK;
}

/* ------------------------------------------------------------------- API */

static int cs_options_check(struct cs_core *core, const struct cs_options *o)
{
    uint32_t known =
        CS_MUTATION_QUORUM_2F | CS_MUTATION_IGNORE_LOCK | CS_MUTATION_SEND_BEFORE_PERSIST;
    if (o->validators_max == 0u || o->validators_max > CS_VALIDATORS_MAX)
        return tb_fail(core->errmsg, TB_EINVAL, "consensus: validators_max %u not in 1..%u",
                       (unsigned)o->validators_max, (unsigned)CS_VALIDATORS_MAX);
    if (o->timeout_propose_ms > CS_TIMEOUT_MS_MAX || o->timeout_prevote_ms > CS_TIMEOUT_MS_MAX ||
        o->timeout_precommit_ms > CS_TIMEOUT_MS_MAX || o->timeout_delta_ms > CS_TIMEOUT_MS_MAX)
        return tb_fail(core->errmsg, TB_EINVAL, "consensus: a timeout is above %u ms",
                       (unsigned)CS_TIMEOUT_MS_MAX);
    if ((o->mutations & ~known) != 0u)
        return tb_fail(core->errmsg, TB_EINVAL, "consensus: unknown mutation bits 0x%x",
                       (unsigned)(o->mutations & ~known));
    return TB_OK;
}

int cs_core_init(struct cs_core *core, const struct cs_options *options)
{
    TB_ASSERT(core != NULL);
    TB_ASSERT(options != NULL);
    memset(core, 0, sizeof(*core));
    int rc = cs_options_check(core, options);
    if (rc != TB_OK)
        return rc;
    core->options = *options;
    core->state.step = CS_STEP_NONE;
    core->state.round = 0;
    core->state.locked_round = CS_ROUND_NONE;
    core->state.valid_round = CS_ROUND_NONE;
    for (uint32_t t = 0; t < CS_MSG_TYPES; t++)
        core->state.last_signed[t].pol_round = CS_ROUND_NONE;
    rc = cs_slots_alloc(core);
    if (rc != TB_OK)
        return tb_fail(core->errmsg, rc, "consensus: cannot allocate vote sets");
    cs_check_invariants(core);
    return TB_OK;
}

void cs_core_release(struct cs_core *core)
{
    TB_ASSERT(core != NULL);
    cs_slots_free(core);
    TB_ASSERT(core->slots == NULL);
}

void cs_core_state(const struct cs_core *core, struct cs_persist *out)
{
    TB_ASSERT(core != NULL);
    TB_ASSERT(out != NULL);
    *out = core->state;
}

static int cs_step_dispatch(struct cs_core *core, const struct cs_event *event)
{
    switch (event->type) {
    case CS_EVENT_START_HEIGHT:
        return cs_event_start_height(core, &event->start_height);
    case CS_EVENT_PROPOSAL:
        return cs_event_proposal(core, &event->proposal);
    case CS_EVENT_VOTE:
        return cs_event_vote(core, &event->vote);
    case CS_EVENT_TIMEOUT:
        return cs_event_timeout(core, &event->timeout);
    case CS_EVENT_BLOCK_READY:
        return cs_event_block_ready(core, &event->block_ready);
    default:
        return cs_malformed(core, "event type", (uint32_t)event->type);
    }
}

/* Sets CS_UP_PERSIST when the persistable state changed, and checks the update. */
static void cs_update_finish(struct cs_core *core, const struct cs_persist *before)
{
    struct cs_update *u = core->update;
    if (!cs_persist_equal(before, &core->state)) {
        u->flags |= CS_UP_PERSIST;
        u->persist = core->state;
    }
    /* Whatever is signed is in the persist record of the same update. */
    if ((u->flags & CS_UP_SEND) != 0u)
        TB_ASSERT((u->flags & CS_UP_PERSIST) != 0u);
    TB_ASSERT(u->out_count <= CS_OUT_MAX);
    TB_ASSERT(u->timer_count <= CS_TIMERS_MAX);
}

int cs_step(struct cs_core *core, const struct cs_event *event, struct cs_update *update)
{
    TB_ASSERT(core != NULL && core->slots != NULL);
    TB_ASSERT(event != NULL && update != NULL);
    TB_ASSERT(core->update == NULL);
    memset(update, 0, sizeof(*update));
    struct cs_persist before = core->state;
    core->update = update;
    core->stats.events++;
    int rc = cs_step_dispatch(core, event);
    if (rc == TB_OK)
        cs_update_finish(core, &before);
    else
        TB_ASSERT(update->flags == 0u); /* input is checked before any state changes */
    core->update = NULL;
    cs_check_invariants(core);
    return rc;
}

/* --------------------------------------------------------------- restore */

/* Checks a persisted record read back from disk: every invariant, as an error. */
static int cs_persist_check(struct cs_core *core, const struct cs_persist *p)
{
    if (p->step < CS_STEP_PROPOSE || p->step > CS_STEP_COMMIT || p->round >= CS_ROUND_MAX)
        return cs_malformed(core, "persisted step or round", (uint32_t)p->step);
    if (p->validators.count == 0u || p->validators.count > core->options.validators_max)
        return cs_malformed(core, "persisted validator count", p->validators.count);
    if (p->validators.self_index != CS_INDEX_NONE &&
        p->validators.self_index >= p->validators.count)
        return cs_malformed(core, "persisted self index", p->validators.self_index);
    if (p->valid_round != CS_ROUND_NONE && p->valid_round > p->round)
        return cs_malformed(core, "persisted valid round above round", p->valid_round);
    if (p->locked_round != CS_ROUND_NONE &&
        (p->locked_round > p->round || p->valid_round == CS_ROUND_NONE ||
         p->valid_round < p->locked_round))
        return cs_malformed(core, "persisted locked round inconsistent", p->locked_round);
    /* A vote signed in the current round means the step has moved past it. */
    static const enum cs_step step_after[CS_MSG_TYPES] = {CS_STEP_PROPOSE, CS_STEP_PREVOTE,
                                                          CS_STEP_PRECOMMIT};
    for (uint32_t t = 0; t < CS_MSG_TYPES; t++) {
        const struct cs_signed *last = &p->last_signed[t];
        if (!last->present)
            continue;
        if (last->round >= CS_ROUND_MAX ||
            cs_hr_before(p->height, p->round, last->height, last->round))
            return cs_malformed(core, "persisted last signed after the round state", t);
        if (last->height == p->height && last->round == p->round && p->step < step_after[t])
            return cs_malformed(core, "persisted last signed beyond the step", t);
        if (t == CS_MSG_PROPOSAL && last->is_nil)
            return cs_malformed(core, "persisted nil proposal", t);
    }
    return TB_OK;
}

/* What a restored core must do to resume its round: timers, or its proposal. */
static void cs_restore_resume(struct cs_core *core)
{
    struct cs_persist *s = &core->state;
    const struct cs_signed *last = &s->last_signed[CS_MSG_PROPOSAL];
    TB_ASSERT(s->height >= 1u);
    TB_ASSERT(core->update != NULL);
    if (s->step == CS_STEP_PROPOSE) {
        bool proposer =
            cs_is_validator(core) &&
            cs_proposer(s->height, s->round, s->validators.count) == s->validators.self_index;
        bool proposed = last->present && last->height == s->height && last->round == s->round;
        if (proposer && !proposed && s->valid_round != CS_ROUND_NONE) {
            (void)cs_emit(core, CS_MSG_PROPOSAL, false, &s->valid_value, s->valid_round);
        } else if (proposer && !proposed) {
            core->update->need_block.height = s->height;
            core->update->need_block.round = s->round;
            core->update->flags |= CS_UP_NEED_BLOCK;
        }
        cs_schedule(core, CS_STEP_PROPOSE);
    } else if (s->step == CS_STEP_PREVOTE) {
        /* Early is safe: timeoutPrevote only precommits nil if still in this step. */
        core->prevote_timer_armed = true;
        cs_schedule(core, CS_STEP_PREVOTE);
    } else if (s->step == CS_STEP_PRECOMMIT) {
        core->prevote_timer_armed = true;
        core->precommit_timer_armed = true;
        cs_schedule(core, CS_STEP_PRECOMMIT);
    }
}

int cs_core_restore(struct cs_core *core, const struct cs_persist *persisted,
                    struct cs_update *update)
{
    TB_ASSERT(core != NULL && core->slots != NULL);
    TB_ASSERT(persisted != NULL && update != NULL);
    memset(update, 0, sizeof(*update));
    if (core->stats.events != 0u || core->state.height != 0u)
        return tb_fail(core->errmsg, TB_ESTATE, "consensus: restore on a core already in use");
    if (persisted->height == 0u)
        return TB_OK; /* nothing was ever started: stay fresh */
    int rc = cs_persist_check(core, persisted);
    if (rc != TB_OK)
        return rc;
    struct cs_persist before = *persisted;
    core->state = *persisted;
    core->quorum = cs_quorum(persisted->validators.count);
    if ((core->options.mutations & CS_MUTATION_QUORUM_2F) != 0u && core->quorum > 1u)
        core->quorum--;
    core->skip = cs_skip_threshold(persisted->validators.count);
    cs_slots_reset(core);
    core->update = update;
    core->stats.events++;
    cs_restore_resume(core);
    cs_update_finish(core, &before);
    core->update = NULL;
    cs_check_invariants(core);
    return TB_OK;
}
