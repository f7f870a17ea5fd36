/*
 * The simulator's checkers, run as each update is applied (that is, after every step):
 * agreement (one block per height across every process, ever), validity (a committed id was
 * proposed, and its certificate holds precommits from more than 2/3 distinct validators, each
 * signature checking), no honest double-sign (every message an honest validator ever signed,
 * across restarts), heights that only grow by one per process, evidence that names only
 * Byzantine validators with two real conflicting signatures, and liveness after healing.
 *
 * A checker only reads the world and records the first violation; it must never change what the
 * run does next, so that a run with and without a checker has the same trace.
 */
#include <stdio.h>
#include <string.h>

#include "sim_world.h"
#include "tb_assert.h"

static const char *sim_type_name(uint8_t kind, uint8_t vote_type)
{
    if (kind == SIM_MSG_PROPOSAL)
        return "proposal";
    return vote_type == CS_MSG_PREVOTE ? "prevote" : "precommit";
}

bool sim_proc_honest(const struct sim_world *w, const struct sim_proc *p)
{
    TB_ASSERT(p->index < w->n);
    return w->byz_of[p->index] == SIM_BYZ_NONE;
}

static void sim_id_short(const struct cs_block_id *id, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    /* Bytes 16.. are the MAC tag, the most distinctive part of an id. */
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[id->bytes[16 + i] >> 4];
        out[2 * i + 1] = hex[id->bytes[16 + i] & 15];
    }
    out[16] = 0;
}

/*
 * Locking (Algorithm 1, lines 22-33): a validator locked on v at round lr prevotes another value
 * v' at a later round r only for a proposal whose valid round vr has lr <= vr < r and a POL: more
 * than 2/3 of the validators signed prevotes for v' at (h, vr). The POL must exist among the
 * signatures anyone ever made, whatever this node has seen.
 */
static void sim_check_lock(struct sim_world *w, const struct sim_proc *p, const struct sim_msg *msg)
{
    const struct cs_persist *before = &p->before;
    if (msg->kind != SIM_MSG_VOTE || msg->vote_type != CS_MSG_PREVOTE || msg->is_nil)
        return;
    if (before->height != msg->height || before->locked_round == CS_ROUND_NONE)
        return;
    if (before->locked_round >= msg->round)
        return;
    if (memcmp(before->locked_value.bytes, msg->id.bytes, CS_BLOCK_ID_BYTES) == 0)
        return;
    TB_ASSERT(msg->round < CS_ROUND_MAX);
    for (uint32_t vr = before->locked_round; vr < msg->round; vr++) {
        if (sim_pol_set_count(&w->pols, msg->height, vr, msg->id.bytes) >= w->quorum)
            return;
    }
    char locked[17];
    char now[17];
    sim_id_short(&before->locked_value, locked);
    sim_id_short(&msg->id, now);
    sim_violation(w,
                  "lock: honest validator %u (proc %u) locked on %s at h=%llu r=%u prevoted %s "
                  "at r=%u with no POL for it in rounds %u..%u",
                  msg->from, p->id, locked, (unsigned long long)msg->height, before->locked_round,
                  now, msg->round, before->locked_round, msg->round - 1);
}

void sim_check_signed(struct sim_world *w, const struct sim_proc *p, const struct sim_msg *msg)
{
    TB_ASSERT(msg->from == p->index);
    TB_ASSERT(sim_msg_verify(w, msg));
    if (!sim_proc_honest(w, p))
        return;
    uint8_t type = msg->kind == SIM_MSG_PROPOSAL ? CS_MSG_PROPOSAL : msg->vote_type;
    const struct sim_sign_entry *previous = NULL;
    int rv = sim_sign_log_add(&w->signs, (uint16_t)msg->from, msg->height, msg->round, type,
                              msg->is_nil ? NULL : msg->id.bytes, &previous);
    if (rv < 0) {
        sim_violation(w, "harness: signature log: %s", tb_strerror(rv));
        return;
    }
    if (rv == 0) {
        sim_check_lock(w, p, msg);
        return;
    }
    TB_ASSERT(previous != NULL);
    char was[17] = "nil";
    char now[17] = "nil";
    if (!previous->is_nil)
        sim_id_short((const struct cs_block_id *)previous->value, was);
    if (!msg->is_nil)
        sim_id_short(&msg->id, now);
    sim_violation(w,
                  "double sign: honest validator %u (proc %u) signed %s h=%llu r=%u for %s "
                  "and again for %s",
                  msg->from, p->id, sim_type_name(msg->kind, msg->vote_type),
                  (unsigned long long)msg->height, msg->round, was, now);
}

/* Validity of a block and its certificate (the same check a block-sync receiver makes). */
static bool sim_check_certificate(struct sim_world *w, const struct sim_proc *p, uint64_t height,
                                  const struct sim_block *block)
{
    if (!sim_block_id_valid(w, height, &block->id)) {
        sim_violation(w, "validity: proc %u committed an id nobody proposed at height %llu", p->id,
                      (unsigned long long)height);
        return false;
    }
    bool seen[SIM_NODES_MAX] = {false};
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < block->signer_count; i++) {
        struct sim_msg vote;
        memset(&vote, 0, sizeof(vote));
        vote.kind = SIM_MSG_VOTE;
        vote.vote_type = CS_MSG_PRECOMMIT;
        vote.from = block->signer_index[i];
        vote.height = height;
        vote.round = block->round;
        vote.pol_round = CS_ROUND_NONE;
        vote.id = block->id;
        memcpy(vote.sig, block->sig[i], SIM_SIG_BYTES);
        if (vote.from >= w->n || !sim_msg_verify(w, &vote)) {
            sim_violation(w,
                          "validity: certificate of height %llu (proc %u) has a bad signature "
                          "for index %u",
                          (unsigned long long)height, p->id, vote.from);
            return false;
        }
        if (!seen[vote.from])
            distinct++;
        seen[vote.from] = true;
    }
    if (distinct < w->quorum) {
        sim_violation(w,
                      "validity: certificate of height %llu round %u (proc %u) has %u distinct "
                      "signers, quorum is %u of %u",
                      (unsigned long long)height, block->round, p->id, distinct, w->quorum, w->n);
        return false;
    }
    return true;
}

void sim_check_commit(struct sim_world *w, const struct sim_proc *p, uint64_t height,
                      const struct sim_block *block)
{
    TB_ASSERT(block->present);
    TB_ASSERT(height <= SIM_HEIGHTS_MAX);
    if (height != p->committed + 1) {
        sim_violation(w, "heights: proc %u committed height %llu after %llu", p->id,
                      (unsigned long long)height, (unsigned long long)p->committed);
        return;
    }
    if (!sim_check_certificate(w, p, height, block))
        return;
    sim_trace_u64(&w->trace, 0xc0ffee);
    sim_trace_u64(&w->trace, p->id);
    sim_trace_u64(&w->trace, height);
    sim_trace_bytes(&w->trace, block->id.bytes, sizeof(block->id.bytes));
    if (w->config->verbose)
        printf("  t=%llu proc %u commits h=%llu round %u signers %u\n",
               (unsigned long long)w->now_ms, p->id, (unsigned long long)height, block->round,
               block->signer_count);
    if (height > w->result->heights && sim_proc_honest(w, p))
        w->result->heights = height;
    /* Every process runs honest code, Byzantine ones included, and any two quorums share an
     * honest validator, so agreement must hold across all of them. */
    struct sim_decided *d = &w->decided[height];
    if (!d->set) {
        d->set = true;
        d->proc = p->id;
        d->id = block->id;
        return;
    }
    if (memcmp(d->id.bytes, block->id.bytes, CS_BLOCK_ID_BYTES) != 0) {
        char a[17];
        char b[17];
        sim_id_short(&d->id, a);
        sim_id_short(&block->id, b);
        sim_violation(w,
                      "agreement: height %llu committed as %s by proc %u and as %s by proc %u "
                      "(round %u)",
                      (unsigned long long)height, a, d->proc, b, p->id, block->round);
    }
}

static bool sim_evidence_side_valid(struct sim_world *w, const struct cs_evidence *e,
                                    const struct cs_evidence_msg *side)
{
    struct sim_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.kind = e->type == CS_MSG_PROPOSAL ? SIM_MSG_PROPOSAL : SIM_MSG_VOTE;
    msg.vote_type = (uint8_t)e->type;
    msg.is_nil = msg.kind == SIM_MSG_VOTE && side->is_nil ? 1 : 0;
    msg.from = e->from;
    msg.height = e->height;
    msg.round = e->round;
    msg.pol_round = msg.kind == SIM_MSG_PROPOSAL ? side->pol_round : CS_ROUND_NONE;
    if (!msg.is_nil)
        msg.id = side->block_id;
    if (side->sig.len != SIM_SIG_BYTES)
        return false;
    memcpy(msg.sig, side->sig.bytes, SIM_SIG_BYTES);
    return sim_msg_verify(w, &msg);
}

void sim_check_evidence(struct sim_world *w, const struct sim_proc *p,
                        const struct cs_evidence *evidence)
{
    TB_ASSERT(p->up);
    if (evidence->from >= w->n) {
        sim_violation(w, "evidence: proc %u accused index %u (n = %u)", p->id, evidence->from,
                      w->n);
        return;
    }
    bool a = sim_evidence_side_valid(w, evidence, &evidence->first);
    bool b = sim_evidence_side_valid(w, evidence, &evidence->second);
    if (!a || !b) {
        sim_violation(w,
                      "evidence: proc %u reported validator %u with a side that does not "
                      "verify (%d, %d)",
                      p->id, evidence->from, a, b);
        return;
    }
    if (w->byz_of[evidence->from] == SIM_BYZ_NONE)
        sim_violation(w,
                      "evidence: proc %u holds two signed conflicting %s of honest validator "
                      "%u at h=%llu r=%u",
                      p->id, evidence->type == CS_MSG_PROPOSAL ? "proposals" : "votes",
                      evidence->from, (unsigned long long)evidence->height, evidence->round);
}

void sim_check_liveness(struct sim_world *w)
{
    TB_ASSERT(w->healed);
    bool all = true;
    for (uint32_t i = 0; i < w->proc_count; i++) {
        const struct sim_proc *p = w->procs[i];
        if (sim_proc_honest(w, p) && p->committed < w->target)
            all = false;
    }
    if (all) {
        w->done = true;
        w->result->recover_ms = w->now_ms - w->heal_ms;
        return;
    }
    if (w->now_ms < w->deadline_ms)
        return;
    for (uint32_t i = 0; i < w->proc_count; i++) {
        const struct sim_proc *p = w->procs[i];
        if (sim_proc_honest(w, p) && p->committed < w->target) {
            sim_violation(w,
                          "liveness: %llu ms after healing proc %u has committed %llu of "
                          "%llu heights (core at h=%llu r=%u step %d)",
                          (unsigned long long)(w->now_ms - w->heal_ms), p->id,
                          (unsigned long long)p->committed, (unsigned long long)w->target,
                          (unsigned long long)p->core.state.height, p->core.state.round,
                          (int)p->core.state.step);
            return;
        }
    }
}
