/*
 * libFuzzer target: bytes become an event script for four consensus cores (n = 4, f = 1).
 *
 * The script delivers, drops and duplicates honest messages, fires timers, crashes and
 * restarts cores from their last persisted record, and injects forged and raw garbage
 * events. Forged messages only ever carry validator 3's index (or an index outside the
 * set): a signature check would stop anyone from speaking for 0, 1 or 2. The oracles
 * are the core's own asserts plus two checks here: validators 0..2 never decide
 * different blocks at one height, and never sign two different values for one
 * (height, round, type), across restarts. This file must never let garbage claim an
 * honest index, which would make both oracles meaningless.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus.h"

#define FZ_N 4u
#define FZ_BYZ 3u /* the index the fuzzer may sign as */
#define FZ_QUEUE_MAX 256u
#define FZ_TIMERS_MAX 16u
#define FZ_HEIGHTS_MAX 32u
#define FZ_SIGNED_MAX 512u
#define FZ_OPS_MAX 4096u
/*
 * Build with -DFZ_MUTATIONS=1 (quorum-2f) or 2 (ignore-lock) to check that the oracles
 * catch a seeded bug: the fuzzer must then find an agreement violation.
 */
#ifndef FZ_MUTATIONS
#define FZ_MUTATIONS 0u
#endif

struct fz_signed
{
    uint64_t height;
    uint32_t round;
    enum cs_msg_type type;
    struct cs_msg msg;
};

struct fz_node
{
    struct cs_core core;
    struct cs_persist persisted; /* the last record the driver made durable */
    struct cs_timer timers[FZ_TIMERS_MAX];
    uint32_t timer_count;
    struct fz_signed signed_log[FZ_SIGNED_MAX];
    uint32_t signed_count;
};

struct fz_queued
{
    uint32_t to;
    struct cs_event ev;
};

struct fz_world
{
    struct fz_node nodes[FZ_N];
    struct fz_queued queue[FZ_QUEUE_MAX];
    uint32_t queue_len;
    bool decided[FZ_HEIGHTS_MAX + 1];
    struct cs_block_id decision[FZ_HEIGHTS_MAX + 1];
    const uint8_t *data;
    size_t size;
    size_t pos;
    uint64_t now_ms;
};

static const struct cs_options fz_options = {
    .validators_max = FZ_N,
    .timeout_propose_ms = 30,
    .timeout_prevote_ms = 20,
    .timeout_precommit_ms = 20,
    .timeout_delta_ms = 5,
    .mutations = FZ_MUTATIONS,
};

static uint8_t fz_byte(struct fz_world *w)
{
    return w->pos < w->size ? w->data[w->pos++] : 0u;
}

static uint32_t fz_u32(struct fz_world *w)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | fz_byte(w);
    return v;
}

static void fz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cs_step: %s\n", what);
        abort();
    }
}

static void fz_enqueue(struct fz_world *w, uint32_t to, const struct cs_event *ev)
{
    if (w->queue_len == FZ_QUEUE_MAX)
        return; /* a full network loses messages */
    w->queue[w->queue_len].to = to;
    w->queue[w->queue_len].ev = *ev;
    w->queue_len++;
}

/* Oracle: an honest validator never signs two values for one (height, round, type). */
static void fz_record_signed(struct fz_node *node, const struct cs_msg *msg)
{
    for (uint32_t i = 0; i < node->signed_count; i++) {
        const struct fz_signed *s = &node->signed_log[i];
        if (s->height != msg->height || s->round != msg->round || s->type != msg->type)
            continue;
        fz_check(s->msg.is_nil == msg->is_nil, "double sign: nil and a value");
        fz_check(
            msg->is_nil || memcmp(&s->msg.block_id, &msg->block_id, sizeof(msg->block_id)) == 0,
            "double sign: two values");
        fz_check(s->msg.pol_round == msg->pol_round, "double sign: two valid rounds");
        return;
    }
    if (node->signed_count < FZ_SIGNED_MAX) {
        struct fz_signed *s = &node->signed_log[node->signed_count++];
        s->height = msg->height;
        s->round = msg->round;
        s->type = msg->type;
        s->msg = *msg;
    }
}

static struct cs_event fz_signed_event(uint32_t from, const struct cs_msg *m)
{
    struct cs_event ev;
    memset(&ev, 0, sizeof(ev));
    if (m->type == CS_MSG_PROPOSAL) {
        ev.type = CS_EVENT_PROPOSAL;
        ev.proposal.height = m->height;
        ev.proposal.round = m->round;
        ev.proposal.pol_round = m->pol_round;
        ev.proposal.block_id = m->block_id;
        ev.proposal.valid = true;
        ev.proposal.from = from;
        ev.proposal.sig.len = 4;
        ev.proposal.sig.bytes[0] = (uint8_t)from;
    } else {
        ev.type = CS_EVENT_VOTE;
        ev.vote.type = m->type;
        ev.vote.height = m->height;
        ev.vote.round = m->round;
        ev.vote.is_nil = m->is_nil;
        ev.vote.block_id = m->block_id;
        ev.vote.from = from;
        ev.vote.sig.len = 4;
        ev.vote.sig.bytes[0] = (uint8_t)from;
    }
    return ev;
}

static void fz_step(struct fz_world *w, uint32_t id, const struct cs_event *ev, int depth);

/* The honest driver: persist, then sign and send (to itself too), timers, block, commit. */
static void fz_apply(struct fz_world *w, uint32_t id, const struct cs_update *u, int depth)
{
    struct fz_node *node = &w->nodes[id];
    if (u->flags & CS_UP_SEND)
        fz_check((u->flags & CS_UP_PERSIST) != 0, "send without persist");
    if (u->flags & CS_UP_PERSIST)
        node->persisted = u->persist;
    for (uint32_t i = 0; i < u->out_count; i++) {
        if (id != FZ_BYZ)
            fz_record_signed(node, &u->out[i]);
        struct cs_event ev = fz_signed_event(id, &u->out[i]);
        for (uint32_t to = 0; to < FZ_N; to++)
            fz_enqueue(w, to, &ev);
    }
    for (uint32_t i = 0; i < u->timer_count; i++) {
        if (node->timer_count == FZ_TIMERS_MAX) {
            memmove(&node->timers[0], &node->timers[1],
                    sizeof(node->timers[0]) * (FZ_TIMERS_MAX - 1));
            node->timer_count--;
        }
        node->timers[node->timer_count++] = u->timers[i];
    }
    struct cs_event ready = {.type = CS_EVENT_BLOCK_READY, .now_ms = w->now_ms};
    struct cs_event start = {.type = CS_EVENT_START_HEIGHT, .now_ms = w->now_ms};
    if (u->flags & CS_UP_NEED_BLOCK) {
        ready.block_ready.height = u->need_block.height;
        ready.block_ready.round = u->need_block.round;
        ready.block_ready.block_id.bytes[0] = (uint8_t)u->need_block.height;
        ready.block_ready.block_id.bytes[1] = (uint8_t)u->need_block.round;
        ready.block_ready.block_id.bytes[2] = (uint8_t)id;
    }
    if (u->flags & CS_UP_COMMIT) {
        uint64_t h = u->commit.height;
        fz_check(u->commit.signer_count >= cs_quorum(FZ_N), "certificate below quorum");
        if (id != FZ_BYZ && h <= FZ_HEIGHTS_MAX) {
            if (w->decided[h])
                fz_check(
                    memcmp(&w->decision[h], &u->commit.block_id, sizeof(struct cs_block_id)) == 0,
                    "agreement: two blocks decided at one height");
            w->decided[h] = true;
            w->decision[h] = u->commit.block_id;
        }
        if (h < FZ_HEIGHTS_MAX) {
            start.start_height.height = h + 1;
            start.start_height.validators.count = FZ_N;
            start.start_height.validators.self_index = id;
        }
    }
    /* u is borrowed until the next step: everything used below was copied above. */
    if (ready.block_ready.height != 0)
        fz_step(w, id, &ready, depth + 1);
    if (start.start_height.height != 0)
        fz_step(w, id, &start, depth + 1);
}

static void fz_step(struct fz_world *w, uint32_t id, const struct cs_event *ev, int depth)
{
    struct cs_update u;
    fz_check(depth < 8, "driver recursion");
    int rc = cs_step(&w->nodes[id].core, ev, &u);
    if (rc != TB_OK) {
        fz_check(rc == TB_EINVAL, "unexpected error code");
        fz_check(u.flags == 0, "an error with effects");
        return;
    }
    fz_apply(w, id, &u, depth);
}

static void fz_start(struct fz_world *w, uint32_t id)
{
    struct cs_event ev = {.type = CS_EVENT_START_HEIGHT, .now_ms = w->now_ms};
    ev.start_height.height = 1;
    ev.start_height.validators.count = FZ_N;
    ev.start_height.validators.self_index = id;
    fz_step(w, id, &ev, 0);
}

/* Crash: everything not persisted is gone; rebuild from the last durable record. */
static void fz_restart(struct fz_world *w, uint32_t id)
{
    struct fz_node *node = &w->nodes[id];
    struct cs_update u;
    cs_core_release(&node->core);
    fz_check(cs_core_init(&node->core, &fz_options) == TB_OK, "init");
    node->timer_count = 0;
    fz_check(cs_core_restore(&node->core, &node->persisted, &u) == TB_OK, "restore");
    if (node->persisted.height == 0) {
        fz_start(w, id);
        return;
    }
    fz_apply(w, id, &u, 0);
}

static void fz_fire_timer(struct fz_world *w, uint32_t id)
{
    struct fz_node *node = &w->nodes[id];
    if (node->timer_count == 0)
        return;
    uint32_t i = fz_byte(w) % node->timer_count;
    struct cs_event ev = {.type = CS_EVENT_TIMEOUT};
    ev.timeout.height = node->timers[i].height;
    ev.timeout.round = node->timers[i].round;
    ev.timeout.step = node->timers[i].step;
    w->now_ms += node->timers[i].duration_ms;
    ev.now_ms = w->now_ms;
    node->timers[i] = node->timers[--node->timer_count];
    fz_step(w, id, &ev, 0);
}

static uint32_t fz_round(struct fz_world *w, uint32_t current)
{
    switch (fz_byte(w) % 6) {
    case 0:
        return current;
    case 1:
        return current + 1;
    case 2:
        return current > 0 ? current - 1 : 0;
    case 3:
        return fz_byte(w) % 16;
    case 4:
        return CS_ROUND_MAX - 1 - fz_byte(w);
    default:
        return fz_u32(w);
    }
}

/* A forged, well-typed message signed as validator 3 (or an unknown index). */
static void fz_forge(struct fz_world *w, uint32_t to, bool proposal)
{
    const struct cs_persist *s = &w->nodes[to].core.state;
    struct cs_msg m;
    memset(&m, 0, sizeof(m));
    uint8_t shape = fz_byte(w);
    m.type = proposal ? CS_MSG_PROPOSAL : (shape & 1) ? CS_MSG_PRECOMMIT : CS_MSG_PREVOTE;
    m.height = s->height + (shape >> 6) - 1u; /* h-1 .. h+2 */
    m.round = fz_round(w, s->round);
    m.is_nil = !proposal && (shape & 2) != 0;
    m.pol_round = (shape & 4) ? CS_ROUND_NONE : fz_round(w, s->round);
    m.block_id.bytes[0] = fz_byte(w) % 4; /* few values: conflicts are likely */
    struct cs_event ev = fz_signed_event((shape & 8) ? FZ_BYZ : FZ_N + (shape & 3), &m);
    if (proposal)
        ev.proposal.valid = (shape & 16) != 0;
    uint8_t sig_len = fz_byte(w) % (CS_SIG_BYTES_MAX + 8);
    if (proposal)
        ev.proposal.sig.len = sig_len;
    else
        ev.vote.sig.len = sig_len;
    ev.now_ms = w->now_ms;
    fz_step(w, to, &ev, 0);
}

/* Raw bytes as an event; honest indexes and driver-only events are taken out. */
static void fz_raw(struct fz_world *w, uint32_t to)
{
    struct cs_event ev;
    uint8_t *p = (uint8_t *)&ev;
    for (size_t i = 0; i < sizeof(ev); i++)
        p[i] = fz_byte(w);
    ev.type = (enum cs_event_type)(fz_byte(w) % 7);
    if (ev.type == CS_EVENT_START_HEIGHT && to != FZ_BYZ)
        ev.type = CS_EVENT_TIMEOUT;
    /* bool fields must hold 0 or 1; a proposal or vote can only claim index 3 or more. */
    if (ev.type == CS_EVENT_PROPOSAL) {
        ev.proposal.valid = (p[0] & 1) != 0;
        if (ev.proposal.from < FZ_BYZ)
            ev.proposal.from = FZ_BYZ;
    } else if (ev.type == CS_EVENT_VOTE) {
        ev.vote.is_nil = (p[0] & 1) != 0;
        if (ev.vote.from < FZ_BYZ)
            ev.vote.from = FZ_BYZ;
    }
    fz_step(w, to, &ev, 0);
}

static void fz_deliver(struct fz_world *w, uint8_t how)
{
    if (w->queue_len == 0)
        return;
    uint32_t i = fz_byte(w) % w->queue_len;
    struct fz_queued q = w->queue[i];
    if (how == 1) { /* duplicate: deliver and keep */
        q.ev.now_ms = w->now_ms;
        fz_step(w, q.to, &q.ev, 0);
        return;
    }
    w->queue[i] = w->queue[--w->queue_len];
    if (how == 2)
        return; /* lost */
    q.ev.now_ms = w->now_ms;
    fz_step(w, q.to, &q.ev, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_world w; /* large: off the stack, reset per input */
    memset(&w, 0, sizeof(w));
    w.data = data;
    w.size = size;
    for (uint32_t id = 0; id < FZ_N; id++) {
        fz_check(cs_core_init(&w.nodes[id].core, &fz_options) == TB_OK, "init");
        fz_start(&w, id);
    }
    for (uint32_t op = 0; op < FZ_OPS_MAX && w.pos < w.size; op++) {
        uint8_t code = fz_byte(&w);
        uint32_t to = (uint32_t)(code >> 4) % FZ_N;
        switch (code % 12) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
            fz_deliver(&w, 0);
            break;
        case 5:
            fz_deliver(&w, (uint8_t)(1 + (code >> 7)));
            break;
        case 6:
        case 7:
            fz_fire_timer(&w, to);
            break;
        case 8:
            fz_forge(&w, to, false);
            break;
        case 9:
            fz_forge(&w, to, true);
            break;
        case 10:
            fz_restart(&w, to);
            break;
        default:
            fz_raw(&w, to);
            break;
        }
    }
    for (uint32_t id = 0; id < FZ_N; id++)
        cs_core_release(&w.nodes[id].core);
    return 0;
}
