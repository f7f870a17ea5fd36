/*
 * The simulator's driver: one per simulated process, around one real consensus core.
 *
 * It applies every update in the contracted order (persist, sign, send including to itself, arm
 * timers, need block, commit, evidence), "signs" with the process's own validator key only, keeps
 * a durable store (persist record and committed blocks) that survives crashes while everything
 * else is lost, holds messages of the next height, re-gossips when stuck and answers block sync.
 * Byzantine behaviour (equivocation, garbage) is added here, around honest cores.
 *
 * It must never apply an update out of order (except under the send-before-persist mutation,
 * which exists to prove that the checkers catch exactly that), never sign as another validator,
 * and never feed the core anything a real driver would not, except the deliberate garbage.
 */
#include <stdio.h>
#include <string.h>

#include "sim_world.h"
#include "tb_assert.h"

#define SIM_SLOW_HEIGHT_MS 2000u /* a height taking longer than this relays others' votes */
#define SIM_RELAY_FANOUT 2u      /* peers a slow process relays to per gossip tick */

static void sim_proc_apply(struct sim_world *w, struct sim_proc *p);
static void sim_proc_start_height(struct sim_world *w, struct sim_proc *p, uint64_t height);
static void sim_relay_keep(struct sim_proc *p, const struct sim_msg *msg);

/* ---- block ids and signatures ---- */

void sim_block_id_make(const struct sim_world *w, uint64_t height, uint32_t round, uint32_t proc,
                       uint8_t salt, struct cs_block_id *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 8; i++)
        out->bytes[i] = (uint8_t)(height >> (8 * i));
    for (int i = 0; i < 4; i++)
        out->bytes[8 + i] = (uint8_t)(round >> (8 * i));
    out->bytes[12] = (uint8_t)proc;
    out->bytes[13] = salt;
    /* The tag makes ids unforgeable by garbage processes, so "was it proposed" is a MAC check. */
    sim_mac(w->block_key, out->bytes, 16, &out->bytes[16]);
    TB_ASSERT(sim_block_id_valid(w, height, out));
}

bool sim_block_id_valid(const struct sim_world *w, uint64_t height, const struct cs_block_id *id)
{
    uint8_t tag[SIM_SIG_BYTES];
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)id->bytes[i] << (8 * i);
    if (h != height)
        return false;
    sim_mac(w->block_key, id->bytes, 16, tag);
    return memcmp(tag, &id->bytes[16], SIM_SIG_BYTES) == 0;
}

static size_t sim_msg_pack(const struct sim_msg *msg, uint8_t *buf)
{
    size_t len = 0;
    buf[len++] = msg->kind;
    buf[len++] = msg->kind == SIM_MSG_VOTE ? msg->vote_type : 0;
    buf[len++] = msg->is_nil;
    uint64_t words[4] = {msg->from, msg->height, msg->round, msg->pol_round};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 8; i++)
            buf[len++] = (uint8_t)(words[k] >> (8 * i));
    }
    if (!msg->is_nil) {
        memcpy(&buf[len], msg->id.bytes, CS_BLOCK_ID_BYTES);
        len += CS_BLOCK_ID_BYTES;
    }
    return len;
}

void sim_msg_sign(struct sim_world *w, struct sim_msg *msg)
{
    uint8_t buf[128];
    TB_ASSERT(msg->from < w->n);
    size_t len = sim_msg_pack(msg, buf);
    TB_ASSERT(len <= sizeof(buf));
    sim_mac(w->keys[msg->from], buf, len, msg->sig);
    /* Every POL that could exist is one someone signed: the lock checker looks here. */
    if (msg->kind == SIM_MSG_VOTE && msg->vote_type == CS_MSG_PREVOTE && !msg->is_nil &&
        sim_pol_set_add(&w->pols, msg->height, msg->round, msg->id.bytes, msg->from) != TB_OK)
        sim_violation(w, "harness: prevote set: out of memory");
}

bool sim_msg_verify(const struct sim_world *w, const struct sim_msg *msg)
{
    uint8_t buf[128];
    uint8_t sig[SIM_SIG_BYTES];
    if (msg->from >= w->n)
        return false;
    size_t len = sim_msg_pack(msg, buf);
    sim_mac(w->keys[msg->from], buf, len, sig);
    return memcmp(sig, msg->sig, SIM_SIG_BYTES) == 0;
}

/* ---- stepping ---- */

static uint64_t sim_proc_clock(const struct sim_world *w, const struct sim_proc *p)
{
    int64_t rate = 100 + p->skew_pct;
    TB_ASSERT(rate > 0);
    return p->clock_offset_ms + w->now_ms * (uint64_t)rate / 100;
}

/* Debug output for --trace-proc: the event in, the core's state and the update out. */
static void sim_trace_step(const struct sim_world *w, const struct sim_proc *p,
                           const struct cs_event *ev, int rv)
{
    const struct cs_persist *s = &p->core.state;
    const struct cs_update *up = &p->update;
    printf("  t=%llu p%u ev %d", (unsigned long long)w->now_ms, p->id, (int)ev->type);
    if (ev->type == CS_EVENT_VOTE)
        printf(" vote t%d h%llu r%u from %u %s", (int)ev->vote.type,
               (unsigned long long)ev->vote.height, ev->vote.round, ev->vote.from,
               ev->vote.is_nil ? "nil" : "val");
    else if (ev->type == CS_EVENT_PROPOSAL)
        printf(" proposal h%llu r%u pol %d from %u valid %d",
               (unsigned long long)ev->proposal.height, ev->proposal.round,
               (int)ev->proposal.pol_round, ev->proposal.from, ev->proposal.valid);
    else if (ev->type == CS_EVENT_TIMEOUT)
        printf(" timeout h%llu r%u step %d", (unsigned long long)ev->timeout.height,
               ev->timeout.round, (int)ev->timeout.step);
    printf(" -> rv %d state h%llu r%u s%d lock %d | flags %x out %u timers %u\n", rv,
           (unsigned long long)s->height, s->round, (int)s->step, (int)s->locked_round, up->flags,
           up->out_count, up->timer_count);
}

/* Steps the core; tolerate: the event may be malformed on purpose (garbage). */
static int sim_proc_step(struct sim_world *w, struct sim_proc *p, struct cs_event *ev,
                         bool tolerate)
{
    TB_ASSERT(p->up);
    ev->now_ms = sim_proc_clock(w, p);
    p->before = p->core.state;
    int rv = cs_step(&p->core, ev, &p->update);
    if ((int)p->id == w->config->trace_proc)
        sim_trace_step(w, p, ev, rv);
    if (rv != TB_OK) {
        if (!tolerate)
            sim_violation(w, "proc %u: cs_step rejected well-formed event type %d: %s (%s)", p->id,
                          (int)ev->type, tb_strerror(rv), p->core.errmsg);
        return rv;
    }
    sim_proc_apply(w, p);
    return TB_OK;
}

static void sim_msg_from_out(const struct sim_proc *p, const struct cs_msg *out,
                             struct sim_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->kind = out->type == CS_MSG_PROPOSAL ? SIM_MSG_PROPOSAL : SIM_MSG_VOTE;
    msg->vote_type = (uint8_t)out->type;
    msg->is_nil = msg->kind == SIM_MSG_VOTE && out->is_nil ? 1 : 0;
    msg->from = p->index;
    msg->src = p->id;
    msg->height = out->height;
    msg->round = out->round;
    msg->pol_round = msg->kind == SIM_MSG_PROPOSAL ? out->pol_round : CS_ROUND_NONE;
    if (!msg->is_nil)
        msg->id = out->block_id;
}

/* An equivocator's second face: the same (h, r, type) with another value, also signed. */
static void sim_msg_equivocate(struct sim_world *w, const struct sim_proc *p, struct sim_msg *msg)
{
    if (msg->kind == SIM_MSG_PROPOSAL) {
        sim_block_id_make(w, msg->height, msg->round, p->id, 1, &msg->id);
        msg->pol_round = CS_ROUND_NONE;
    } else if (msg->is_nil || sim_rand(w, 2) == 0) {
        msg->is_nil = 0;
        sim_block_id_make(w, msg->height, msg->round, p->id, (uint8_t)(1 + sim_rand(w, 2)),
                          &msg->id);
    } else {
        msg->is_nil = 1;
        memset(&msg->id, 0, sizeof(msg->id));
    }
    sim_msg_sign(w, msg);
}

static void sim_proc_broadcast(struct sim_world *w, struct sim_proc *p, const struct sim_msg *msg)
{
    struct sim_ev self = {.kind = SIM_EV_DELIVER, .proc = p->id, .time_ms = w->now_ms};
    self.msg = *msg;
    /* The core counts its own messages only when they come back: deliver locally, reliably. */
    sim_push(w, &self);
    for (uint32_t q = 0; q < w->proc_count; q++) {
        if (q == p->id)
            continue;
        struct sim_msg copy = *msg;
        if (p->byz == SIM_BYZ_EQUIV && sim_rand(w, 2) == 0)
            sim_msg_equivocate(w, p, &copy);
        sim_net_send(w, p->id, q, &copy);
    }
}

static void sim_proc_persist(struct sim_world *w, struct sim_proc *p, const struct cs_persist *rec)
{
    if (w->config->mutation == SIM_MUT_SEND_BEFORE_PERSIST) {
        /* The seeded driver bug: the record becomes durable only a few ms later. */
        p->pending = *rec;
        p->has_pending = true;
        struct sim_ev flush = {.kind = SIM_EV_FLUSH, .proc = p->id};
        flush.incarnation = p->incarnation;
        flush.time_ms = w->now_ms + 2 + sim_rand(w, 5);
        sim_push(w, &flush);
        return;
    }
    p->persist = *rec;
    p->has_persist = true;
    /* Paired check: what is durable is what the core holds right now. */
    TB_ASSERT(p->persist.height == p->core.state.height);
    TB_ASSERT(p->persist.round == p->core.state.round);
}

static bool sim_msg_is_pol(const struct sim_msg *m)
{
    return m->kind == SIM_MSG_VOTE && m->vote_type == CS_MSG_PREVOTE && !m->is_nil;
}

/* Drops the oldest entry of a full list, sparing non-nil prevotes (possible POLs) if it can. */
static void sim_msgs_evict(struct sim_msg *list, uint32_t *count, uint32_t max)
{
    TB_ASSERT(*count == max);
    uint32_t victim = 0;
    for (uint32_t i = 0; i < max; i++) {
        if (!sim_msg_is_pol(&list[i])) {
            victim = i;
            break;
        }
    }
    memmove(&list[victim], &list[victim + 1], (max - victim - 1) * sizeof(list[0]));
    (*count)--;
}

/* Keeps what this process signed at this height for re-gossip. */
static void sim_outbox_add(struct sim_proc *p, const struct sim_msg *msg)
{
    TB_ASSERT(p->outbox_count <= SIM_OUTBOX_MAX);
    if (p->outbox_count == SIM_OUTBOX_MAX)
        sim_msgs_evict(p->outbox, &p->outbox_count, SIM_OUTBOX_MAX);
    p->outbox[p->outbox_count++] = *msg;
    TB_ASSERT(p->outbox_count <= SIM_OUTBOX_MAX);
}

static void sim_proc_send(struct sim_world *w, struct sim_proc *p, const struct cs_update *up)
{
    TB_ASSERT(up->out_count <= CS_OUT_MAX);
    for (uint32_t i = 0; i < up->out_count; i++) {
        struct sim_msg msg;
        sim_msg_from_out(p, &up->out[i], &msg);
        TB_ASSERT(msg.height == p->height);
        sim_msg_sign(w, &msg);
        sim_check_signed(w, p, &msg);
        sim_outbox_add(p, &msg);
        p->progress++;
        sim_proc_broadcast(w, p, &msg);
    }
    if (up->out_count > 0 && !w->healed && w->mix.crash_sign_pct > 0 &&
        sim_rand(w, 100) < w->mix.crash_sign_pct) {
        /* Crash right after signing: before the mutation's delayed flush can land. */
        struct sim_ev crash = {.kind = SIM_EV_CRASH, .proc = p->id, .time_ms = w->now_ms + 1};
        crash.incarnation = p->incarnation;
        sim_push(w, &crash);
    }
}

static void sim_proc_timers(struct sim_world *w, struct sim_proc *p, const struct cs_update *up)
{
    TB_ASSERT(up->timer_count <= CS_TIMERS_MAX);
    for (uint32_t i = 0; i < up->timer_count; i++) {
        const struct cs_timer *t = &up->timers[i];
        TB_ASSERT(t->duration_ms <= 2 * (uint64_t)CS_TIMEOUT_MS_MAX);
        /* Skew changes when this node's timers fire, nothing else. */
        uint64_t delay = t->duration_ms * (uint64_t)(100 + p->skew_pct) / 100;
        struct sim_ev ev = {.kind = SIM_EV_TIMER, .proc = p->id, .time_ms = w->now_ms + delay};
        ev.incarnation = p->incarnation;
        ev.timer.height = t->height;
        ev.timer.round = t->round;
        ev.timer.step = t->step;
        sim_push(w, &ev);
    }
}

static void sim_proc_commit(struct sim_world *w, struct sim_proc *p, const struct cs_commit *c)
{
    struct sim_block block;
    memset(&block, 0, sizeof(block));
    block.present = true;
    block.round = c->round;
    block.id = c->block_id;
    if (c->signer_count > SIM_NODES_MAX) {
        sim_violation(w, "proc %u: commit of height %llu has %u signers (n = %u)", p->id,
                      (unsigned long long)c->height, c->signer_count, w->n);
        return;
    }
    block.signer_count = c->signer_count;
    for (uint32_t i = 0; i < c->signer_count; i++) {
        block.signer_index[i] = c->signers[i].index;
        if (c->signers[i].sig.len == SIM_SIG_BYTES)
            memcpy(block.sig[i], c->signers[i].sig.bytes, SIM_SIG_BYTES);
    }
    if (c->height != p->height)
        sim_violation(w, "proc %u: core committed height %llu while running %llu", p->id,
                      (unsigned long long)c->height, (unsigned long long)p->height);
    sim_check_commit(w, p, c->height, &block);
    if (w->result->violation)
        return;
    p->blocks[c->height] = block;
    p->committed = c->height;
    p->progress++;
    if (sim_proc_honest(w, p)) {
        w->result->decisions++;
        w->result->rounds_sum += (uint64_t)c->round + 1;
    }
}

/* Applies p->update in the contracted order; may recurse once through the next START_HEIGHT. */
static void sim_proc_apply(struct sim_world *w, struct sim_proc *p)
{
    const struct cs_update *up = &p->update;
    bool persist_first = w->config->mutation != SIM_MUT_SEND_BEFORE_PERSIST;
    if ((up->flags & CS_UP_PERSIST) && persist_first)
        sim_proc_persist(w, p, &up->persist);
    if (up->flags & CS_UP_SEND)
        sim_proc_send(w, p, up);
    if ((up->flags & CS_UP_PERSIST) && !persist_first)
        sim_proc_persist(w, p, &up->persist);
    if (up->flags & CS_UP_TIMER)
        sim_proc_timers(w, p, up);
    if (up->flags & CS_UP_NEED_BLOCK) {
        struct sim_ev ev = {.kind = SIM_EV_BLOCK_READY, .proc = p->id, .time_ms = w->now_ms + 1};
        ev.incarnation = p->incarnation;
        ev.block = up->need_block;
        sim_push(w, &ev);
    }
    bool committed = false;
    if (up->flags & CS_UP_COMMIT) {
        sim_proc_commit(w, p, &up->commit);
        committed = !w->result->violation;
    }
    if (up->flags & CS_UP_EVIDENCE) {
        w->result->evidence++;
        sim_check_evidence(w, p, &up->evidence);
    }
    /* Last: starting the next height overwrites p->update. */
    if (committed)
        sim_proc_start_height(w, p, p->committed + 1);
}

static void sim_msg_to_event(const struct sim_world *w, const struct sim_msg *msg,
                             struct cs_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (msg->kind == SIM_MSG_PROPOSAL) {
        ev->type = CS_EVENT_PROPOSAL;
        ev->proposal.height = msg->height;
        ev->proposal.round = msg->round;
        ev->proposal.pol_round = msg->pol_round;
        ev->proposal.block_id = msg->id;
        ev->proposal.valid = sim_block_id_valid(w, msg->height, &msg->id);
        ev->proposal.from = msg->from;
        ev->proposal.sig.len = SIM_SIG_BYTES;
        memcpy(ev->proposal.sig.bytes, msg->sig, SIM_SIG_BYTES);
        return;
    }
    TB_ASSERT(msg->kind == SIM_MSG_VOTE);
    ev->type = CS_EVENT_VOTE;
    ev->vote.type = (enum cs_msg_type)msg->vote_type;
    ev->vote.height = msg->height;
    ev->vote.round = msg->round;
    ev->vote.is_nil = msg->is_nil != 0;
    ev->vote.block_id = msg->id;
    ev->vote.from = msg->from;
    ev->vote.sig.len = SIM_SIG_BYTES;
    memcpy(ev->vote.sig.bytes, msg->sig, SIM_SIG_BYTES);
}

static void sim_proc_start_height(struct sim_world *w, struct sim_proc *p, uint64_t height)
{
    TB_ASSERT(p->core.state.height < height);
    TB_ASSERT(height == p->committed + 1);
    if (height > SIM_HEIGHTS_MAX - 1) {
        sim_violation(w, "harness: height limit %u reached", SIM_HEIGHTS_MAX);
        return;
    }
    struct cs_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_START_HEIGHT;
    ev.start_height.height = height;
    ev.start_height.validators.count = w->n;
    ev.start_height.validators.self_index = p->index;
    p->height = height;
    p->outbox_count = 0;
    p->relay_count = 0;
    p->height_start_ms = w->now_ms;
    p->progress++;
    struct sim_msg held[SIM_HELD_MAX];
    uint32_t held_count = p->held_count;
    memcpy(held, p->held, held_count * sizeof(held[0]));
    p->held_count = 0;
    if (sim_proc_step(w, p, &ev, false) != TB_OK)
        return;
    for (uint32_t i = 0; i < held_count && !w->result->violation; i++) {
        if (held[i].height != p->height || !p->up)
            continue;
        /* Held messages are relayed like any other (FOUND.md item 4): a POL vote that
         * arrived early must still reach the nodes that need it. */
        sim_relay_keep(p, &held[i]);
        sim_msg_to_event(w, &held[i], &ev);
        (void)sim_proc_step(w, p, &ev, held[i].garbage != 0);
    }
}

int sim_proc_setup(struct sim_world *w, struct sim_proc *p)
{
    TB_ASSERT(p->blocks != NULL);
    TB_ASSERT(p->index < w->n);
    int rv = cs_core_init(&p->core, &w->options);
    if (rv != TB_OK)
        return rv;
    p->up = true;
    sim_proc_start_height(w, p, 1);
    return TB_OK;
}

/* ---- messages in ---- */

static void sim_proc_on_status(struct sim_world *w, struct sim_proc *p, const struct sim_msg *msg)
{
    if (msg->height == 0 || msg->height > p->committed)
        return;
    struct sim_msg reply;
    memset(&reply, 0, sizeof(reply));
    reply.kind = SIM_MSG_SYNC;
    reply.src = p->id;
    reply.height = msg->height;
    sim_net_send(w, p->id, msg->src, &reply);
}

/* Block sync: the block comes out of the peer's durable store, which never changes once written,
 * so reading it at delivery time is the same as copying it at send time. */
static void sim_proc_on_sync(struct sim_world *w, struct sim_proc *p, const struct sim_msg *msg)
{
    TB_ASSERT(msg->src < w->proc_count);
    if (msg->height != p->committed + 1)
        return;
    const struct sim_block *block = &w->procs[msg->src]->blocks[msg->height];
    TB_ASSERT(block->present);
    sim_check_commit(w, p, msg->height, block);
    if (w->result->violation)
        return;
    p->blocks[msg->height] = *block;
    p->committed = msg->height;
    p->progress++;
    sim_proc_start_height(w, p, p->committed + 1);
    /* Ask the same peer for the next one straight away. */
    struct sim_msg status;
    memset(&status, 0, sizeof(status));
    status.kind = SIM_MSG_STATUS;
    status.src = p->id;
    status.height = p->height;
    sim_net_send(w, p->id, msg->src, &status);
}

/*
 * Keeps a received vote of this height for relaying. A vote must reach every node even when its
 * signer crashed and lost its copy (Tendermint relays votes too); a POL must reach nodes that
 * lag many rounds behind the lock.
 */
static void sim_relay_keep(struct sim_proc *p, const struct sim_msg *msg)
{
    if (msg->kind != SIM_MSG_VOTE || msg->height != p->height || msg->from == p->index)
        return;
    uint32_t faces = 0;
    for (uint32_t i = 0; i < p->relay_count; i++) {
        const struct sim_msg *r = &p->relay[i];
        if (r->from != msg->from || r->round != msg->round || r->vote_type != msg->vote_type)
            continue;
        if (r->is_nil == msg->is_nil && memcmp(r->id.bytes, msg->id.bytes, CS_BLOCK_ID_BYTES) == 0)
            return; /* already kept */
        faces++;
    }
    /* Two faces per (signer, round, type), as the core counts: an equivocator's vote that is part
     * of a POL must reach the nodes that saw its other face first. */
    if (faces >= 2)
        return;
    if (p->relay_count == SIM_RELAY_MAX)
        sim_msgs_evict(p->relay, &p->relay_count, SIM_RELAY_MAX);
    p->relay[p->relay_count++] = *msg;
    TB_ASSERT(p->relay_count <= SIM_RELAY_MAX);
}

static void sim_proc_on_consensus(struct sim_world *w, struct sim_proc *p,
                                  const struct sim_msg *msg)
{
    struct cs_event ev;
    if (msg->raw) {
        /* A message a buggy driver let through: an unknown index the core must refuse. */
        struct sim_msg m = *msg;
        m.height = p->height;
        sim_msg_to_event(w, &m, &ev);
        int rv = sim_proc_step(w, p, &ev, true);
        if (rv == TB_OK && m.from >= w->n)
            sim_violation(w, "proc %u: core accepted a message from index %u (n = %u)", p->id,
                          m.from, w->n);
        return;
    }
    if (!sim_msg_verify(w, msg))
        return; /* forged or unknown signer: a real driver drops it before the core */
    if (msg->height > p->height) {
        if (msg->height == p->height + 1 && p->held_count < SIM_HELD_MAX)
            p->held[p->held_count++] = *msg;
        return;
    }
    sim_relay_keep(p, msg);
    sim_msg_to_event(w, msg, &ev);
    (void)sim_proc_step(w, p, &ev, msg->garbage != 0);
}

static void sim_proc_deliver(struct sim_world *w, struct sim_proc *p, const struct sim_msg *msg)
{
    switch (msg->kind) {
    case SIM_MSG_STATUS:
        sim_proc_on_status(w, p, msg);
        break;
    case SIM_MSG_SYNC:
        sim_proc_on_sync(w, p, msg);
        break;
    case SIM_MSG_PROPOSAL:
    case SIM_MSG_VOTE:
        sim_proc_on_consensus(w, p, msg);
        break;
    default:
        TB_UNREACHABLE();
    }
}

/* ---- crash and restart ---- */

void sim_proc_crash(struct sim_world *w, struct sim_proc *p)
{
    TB_ASSERT(p->up);
    p->up = false;
    p->incarnation++;
    cs_core_release(&p->core);
    /* Everything but the persist record and the block store is gone. */
    p->has_pending = false;
    p->height = 0;
    p->outbox_count = 0;
    p->held_count = 0;
    p->progress++;
    TB_ASSERT(p->committed <= SIM_HEIGHTS_MAX);
    (void)w;
}

/*
 * After a restore, sends again what the record says this node signed last at this height (the
 * same values, so never a double sign): its WAL in a real node. Without it a vote that others
 * lost with the crash is gone for good, and the cluster can wait forever for it.
 */
static void sim_proc_resend_signed(struct sim_world *w, struct sim_proc *p)
{
    p->before.height = 0; /* old signatures again: not new prevotes for the lock checker */
    for (uint32_t type = 0; type < CS_MSG_TYPES; type++) {
        const struct cs_signed *last = &p->persist.last_signed[type];
        if (!last->present || last->height != p->height)
            continue;
        struct cs_msg out;
        memset(&out, 0, sizeof(out));
        out.type = (enum cs_msg_type)type;
        out.height = last->height;
        out.round = last->round;
        out.pol_round = type == CS_MSG_PROPOSAL ? last->pol_round : CS_ROUND_NONE;
        out.is_nil = last->is_nil;
        out.block_id = last->block_id;
        struct sim_msg msg;
        sim_msg_from_out(p, &out, &msg);
        sim_msg_sign(w, &msg);
        sim_check_signed(w, p, &msg);
        sim_outbox_add(p, &msg);
        sim_proc_broadcast(w, p, &msg);
    }
}

void sim_proc_restart(struct sim_world *w, struct sim_proc *p)
{
    TB_ASSERT(!p->up);
    int rv = cs_core_init(&p->core, &w->options);
    if (rv != TB_OK) {
        sim_violation(w, "harness: cs_core_init: %s", tb_strerror(rv));
        return;
    }
    p->up = true;
    p->height = 0;
    if (p->has_persist && p->persist.height > p->committed) {
        TB_ASSERT(p->persist.height == p->committed + 1);
        /* The lock checker has no "before" for a restore: the record is the before. */
        p->before = p->persist;
        rv = cs_core_restore(&p->core, &p->persist, &p->update);
        if (rv != TB_OK) {
            sim_violation(w, "proc %u: cs_core_restore refused its own record: %s (%s)", p->id,
                          tb_strerror(rv), p->core.errmsg);
            return;
        }
        const struct cs_persist *now = &p->core.state;
        if (now->height != p->persist.height || now->locked_round != p->persist.locked_round ||
            memcmp(&now->locked_value, &p->persist.locked_value, sizeof(now->locked_value)) != 0)
            sim_violation(w,
                          "proc %u: cs_core_restore did not restore height %llu and lock "
                          "round %u (got h=%llu lock round %u)",
                          p->id, (unsigned long long)p->persist.height, p->persist.locked_round,
                          (unsigned long long)now->height, now->locked_round);
        p->height = p->persist.height;
        sim_proc_apply(w, p);
        if (p->up && p->height == p->persist.height)
            sim_proc_resend_signed(w, p);
        return;
    }
    /* Nothing durable beyond the block store: resume at the next height. */
    sim_proc_start_height(w, p, p->committed + 1);
}

/* ---- stuck? re-gossip; garbage ---- */

/*
 * Gossip, the driver's stand-in for Tendermint's "eventually every message arrives": every tick it
 * re-sends its non-nil prevotes of this height (a proposal with a valid round needs them as its
 * POL, line 28), and when it made no progress since the last tick also everything else it signed
 * at this height and a STATUS that lets a peer ahead of it answer with block sync.
 */
static void sim_proc_gossip(struct sim_world *w, struct sim_proc *p)
{
    bool stuck = p->progress == p->progress_seen;
    bool slow = w->now_ms - p->height_start_ms > SIM_SLOW_HEIGHT_MS;
    p->progress_seen = p->progress;
    struct sim_msg status;
    memset(&status, 0, sizeof(status));
    status.kind = SIM_MSG_STATUS;
    status.src = p->id;
    status.height = p->height;
    for (uint32_t q = 0; q < w->proc_count; q++) {
        if (q == p->id)
            continue;
        for (uint32_t i = 0; i < p->outbox_count; i++) {
            const struct sim_msg *m = &p->outbox[i];
            if (m->height == p->height && (stuck || sim_msg_is_pol(m)))
                sim_net_send(w, p->id, q, m);
        }
        if (stuck)
            sim_net_send(w, p->id, q, &status);
    }
    /* Relaying is gossip proper: a few random peers per tick, so that its cost stays linear. */
    for (uint32_t k = 0; slow && k < SIM_RELAY_FANOUT; k++) {
        uint32_t q = (uint32_t)sim_rand(w, w->proc_count);
        for (uint32_t i = 0; q != p->id && i < p->relay_count; i++) {
            const struct sim_msg *m = &p->relay[i];
            if (m->round + 1 >= p->core.state.round || sim_msg_is_pol(m))
                sim_net_send(w, p->id, q, m);
        }
    }
}

static uint32_t sim_garbage_round(struct sim_world *w, uint32_t round)
{
    switch (sim_rand(w, 6)) {
    case 0:
        return round;
    case 1:
        return round + 1 + (uint32_t)sim_rand(w, 3);
    case 2:
        return CS_ROUND_MAX - 1;
    case 3:
        return CS_ROUND_MAX + (uint32_t)sim_rand(w, 1000);
    case 4:
        return UINT32_MAX;
    default:
        return (uint32_t)sim_rand(w, UINT32_MAX);
    }
}

static void sim_proc_garbage(struct sim_world *w, struct sim_proc *p)
{
    struct sim_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.kind = sim_rand(w, 2) == 0 ? SIM_MSG_PROPOSAL : SIM_MSG_VOTE;
    msg.vote_type = (uint8_t)(sim_rand(w, 2) == 0 ? CS_MSG_PREVOTE : CS_MSG_PRECOMMIT);
    msg.garbage = 1;
    msg.src = p->id;
    msg.from = p->index;
    uint64_t heights[4] = {p->height, p->height + 1, p->height - 1, sim_rand(w, UINT64_MAX)};
    msg.height = heights[sim_rand(w, 4)];
    msg.round = sim_garbage_round(w, p->core.state.round);
    msg.pol_round = sim_rand(w, 3) == 0 ? CS_ROUND_NONE : sim_garbage_round(w, msg.round);
    msg.is_nil = msg.kind == SIM_MSG_VOTE && sim_rand(w, 3) == 0 ? 1 : 0;
    if (sim_rand(w, 2) == 0)
        sim_block_id_make(w, p->height, msg.round, p->id, 7, &msg.id);
    else
        t_rng_bytes(&w->rng, msg.id.bytes, sizeof(msg.id.bytes));
    if (msg.is_nil)
        memset(&msg.id, 0, sizeof(msg.id));
    if (msg.kind == SIM_MSG_VOTE)
        msg.pol_round = CS_ROUND_NONE;
    uint64_t how = sim_rand(w, 10);
    if (how < 7) {
        sim_msg_sign(w, &msg); /* its own index: the only one it can sign as */
    } else if (how < 9) {
        msg.from = (uint32_t)sim_rand(w, w->n); /* a forgery: the driver must drop it */
        t_rng_bytes(&w->rng, msg.sig, sizeof(msg.sig));
    } else {
        msg.raw = 1;
        msg.from = w->n + (uint32_t)sim_rand(w, 1000);
    }
    uint32_t q = (uint32_t)sim_rand(w, w->proc_count);
    if (q != p->id)
        sim_net_send(w, p->id, q, &msg);
}

void sim_proc_on_event(struct sim_world *w, struct sim_proc *p, const struct sim_ev *ev)
{
    bool current = p->up && ev->incarnation == p->incarnation;
    struct cs_event cev;
    memset(&cev, 0, sizeof(cev));
    switch (ev->kind) {
    case SIM_EV_DELIVER:
        if (p->up)
            sim_proc_deliver(w, p, &ev->msg);
        break;
    case SIM_EV_TIMER:
        if (!current)
            break;
        cev.type = CS_EVENT_TIMEOUT;
        cev.timeout = ev->timer;
        (void)sim_proc_step(w, p, &cev, false);
        break;
    case SIM_EV_BLOCK_READY:
        if (!current)
            break;
        cev.type = CS_EVENT_BLOCK_READY;
        cev.block_ready.height = ev->block.height;
        cev.block_ready.round = ev->block.round;
        /* Deterministic per (height, round, process): two rounds propose two values. */
        sim_block_id_make(w, ev->block.height, ev->block.round, p->id, 0,
                          &cev.block_ready.block_id);
        (void)sim_proc_step(w, p, &cev, false);
        break;
    case SIM_EV_FLUSH:
        if (current && p->has_pending) {
            p->persist = p->pending;
            p->has_persist = true;
            p->has_pending = false;
        }
        break;
    case SIM_EV_GOSSIP:
        if (p->up)
            sim_proc_gossip(w, p);
        break;
    case SIM_EV_GARBAGE:
        if (p->up)
            sim_proc_garbage(w, p);
        break;
    default:
        TB_UNREACHABLE();
    }
}
