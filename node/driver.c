/*
 * node/driver.c: the consensus driver. It feeds the pure core (consensus.h) with signature-
 * checked proposals and votes, timeouts (evtimers), and blocks it builds from the mempool,
 * and applies every update in the contracted order:
 *   persist (WAL, synced) -> sign (node key) -> send (peers, and back to the core) ->
 *   timers -> need block -> commit (one write transaction) -> evidence,
 * then starts the next height. Own messages are queued and delivered to the core after the
 * whole update is applied, as the simulator's driver does.
 *
 * Must never: sign before the record naming the message is durable, sign a message at or
 * below the last one the durable WAL says was signed (asserted, node_wal_may_sign), build an
 * empty block, or hand the core a proposal whose block it has not checked and kept.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define DRIVER_SELF_QUEUE_MAX 128u
/* Held messages are fed while this much of the queue stays free for what they cause. */
#define DRIVER_QUEUE_RESERVE 64u
_Static_assert(DRIVER_QUEUE_RESERVE > 4u * CS_OUT_MAX, "room for own messages");
#define NODE_WAL_MAGIC 0x31574254u /* "TBW1" */

/* ------------------------------------------------------------------ WAL codec */

static void wal_u64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint64_t wal_get64(const uint8_t **p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)(*(*p)++) << (8 * i);
    return v;
}

/* Layout, little-endian: magic u64, height, round, step, count, self_index, locked_round,
 * locked_value[32], valid_round, valid_value[32], then per type: present, is_nil, height,
 * round, pol_round, block_id[32]. Every integer is a u64 so the layout has no padding. */
#define NODE_WAL_SIGNED_BYTES (5u * 8u + CS_BLOCK_ID_BYTES)
#define NODE_WAL_RECORD_BYTES (8u * 8u + 2u * CS_BLOCK_ID_BYTES + 3u * NODE_WAL_SIGNED_BYTES)
_Static_assert(NODE_WAL_RECORD_BYTES <= NODE_WAL_BYTES, "the WAL record fits its bound");

int node_wal_encode(const struct cs_persist *s, struct tb_buf *out)
{
    uint8_t rec[NODE_WAL_RECORD_BYTES];
    uint8_t *p = rec;
    wal_u64(&p, NODE_WAL_MAGIC);
    wal_u64(&p, s->height);
    wal_u64(&p, s->round);
    wal_u64(&p, (uint64_t)s->step);
    wal_u64(&p, s->validators.count);
    wal_u64(&p, s->validators.self_index);
    wal_u64(&p, s->locked_round);
    memcpy(p, s->locked_value.bytes, CS_BLOCK_ID_BYTES);
    p += CS_BLOCK_ID_BYTES;
    wal_u64(&p, s->valid_round);
    memcpy(p, s->valid_value.bytes, CS_BLOCK_ID_BYTES);
    p += CS_BLOCK_ID_BYTES;
    for (unsigned t = 0; t < CS_MSG_TYPES; t++) {
        const struct cs_signed *g = &s->last_signed[t];
        wal_u64(&p, g->present);
        wal_u64(&p, g->is_nil);
        wal_u64(&p, g->height);
        wal_u64(&p, g->round);
        wal_u64(&p, g->pol_round);
        memcpy(p, g->block_id.bytes, CS_BLOCK_ID_BYTES);
        p += CS_BLOCK_ID_BYTES;
    }
    TB_ASSERT((size_t)(p - rec) == NODE_WAL_RECORD_BYTES);
    tb_buf_reset(out);
    return tb_buf_append(out, rec, sizeof(rec));
}

static bool wal_u32(const uint8_t **p, uint32_t *out)
{
    uint64_t v = wal_get64(p);
    *out = (uint32_t)v;
    return v <= UINT32_MAX;
}

static bool wal_bool(const uint8_t **p, bool *out)
{
    uint64_t v = wal_get64(p);
    *out = v == 1;
    return v <= 1;
}

/* Structure only; cs_core_restore checks the record's consistency as untrusted input. */
int node_wal_decode(const uint8_t *data, size_t len, struct cs_persist *out)
{
    memset(out, 0, sizeof(*out));
    if (len != NODE_WAL_RECORD_BYTES)
        return TB_EMALFORMED;
    const uint8_t *p = data;
    bool ok = wal_get64(&p) == NODE_WAL_MAGIC;
    out->height = wal_get64(&p);
    ok = wal_u32(&p, &out->round) && ok;
    uint64_t step = wal_get64(&p);
    ok = ok && step <= CS_STEP_COMMIT;
    out->step = (enum cs_step)(step <= CS_STEP_COMMIT ? step : 0);
    ok = wal_u32(&p, &out->validators.count) && ok;
    ok = wal_u32(&p, &out->validators.self_index) && ok;
    ok = wal_u32(&p, &out->locked_round) && ok;
    memcpy(out->locked_value.bytes, p, CS_BLOCK_ID_BYTES);
    p += CS_BLOCK_ID_BYTES;
    ok = wal_u32(&p, &out->valid_round) && ok;
    memcpy(out->valid_value.bytes, p, CS_BLOCK_ID_BYTES);
    p += CS_BLOCK_ID_BYTES;
    for (unsigned t = 0; t < CS_MSG_TYPES; t++) {
        struct cs_signed *g = &out->last_signed[t];
        ok = wal_bool(&p, &g->present) && ok;
        ok = wal_bool(&p, &g->is_nil) && ok;
        g->height = wal_get64(&p);
        ok = wal_u32(&p, &g->round) && ok;
        ok = wal_u32(&p, &g->pol_round) && ok;
        memcpy(g->block_id.bytes, p, CS_BLOCK_ID_BYTES);
        p += CS_BLOCK_ID_BYTES;
    }
    TB_ASSERT((size_t)(p - data) == NODE_WAL_RECORD_BYTES);
    return ok ? TB_OK : TB_EMALFORMED;
}

bool node_wal_may_sign(const struct cs_persist *durable, const struct cs_msg *msg)
{
    TB_ASSERT((unsigned)msg->type < CS_MSG_TYPES);
    const struct cs_signed *g = &durable->last_signed[msg->type];
    if (!g->present)
        return true;
    if (msg->height != g->height)
        return msg->height > g->height;
    if (msg->round != g->round)
        return msg->round > g->round;
    /* The same (h, r, type): only the identical message again (a resend after restore). */
    bool is_nil = msg->type != CS_MSG_PROPOSAL && msg->is_nil;
    if (is_nil != g->is_nil)
        return false;
    if (msg->type == CS_MSG_PROPOSAL && msg->pol_round != g->pol_round)
        return false;
    return is_nil || memcmp(msg->block_id.bytes, g->block_id.bytes, CS_BLOCK_ID_BYTES) == 0;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t driver_committed_height(struct node *n)
{
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    char err[TB_ERRMSG_SIZE];
    if (store_begin_read(n->store, &txn, err) != TB_OK)
        return 0;
    int rc = ledger_tip_get(n->ledger, txn, &tip, err);
    store_abort(txn);
    return rc == TB_OK ? tip.state.height : 0;
}

static struct node_block *driver_block_find(struct node *n, uint64_t height, const uint8_t *id)
{
    for (unsigned i = 0; i < NODE_BLOCKS_KEPT; i++) {
        struct node_block *b = &n->drv.blocks[i];
        if (b->used && b->height == height && memcmp(b->id, id, WIRE_HASH_BYTES) == 0)
            return b;
    }
    return NULL;
}

/*
 * Keeps a checked block. parent != NULL: the driver's scratch write log holds the writes
 * of that check, made on top of parent; it moves into the kept block (a swap, no copy).
 */
static void driver_block_keep(struct node *n, uint64_t height, const uint8_t *id,
                              struct tb_bytes bytes, const struct store_state *parent)
{
    if (driver_block_find(n, height, id) != NULL)
        return;
    struct node_block *victim = &n->drv.blocks[0];
    for (unsigned i = 0; i < NODE_BLOCKS_KEPT; i++) {
        struct node_block *b = &n->drv.blocks[i];
        if (!b->used || b->height < height) {
            victim = b;
            break;
        }
    }
    tb_buf_reset(&victim->bytes);
    victim->used = false;
    victim->prepared = false;
    if (tb_buf_append(&victim->bytes, bytes.ptr, bytes.len) != TB_OK)
        return;
    victim->used = true;
    victim->height = height;
    memcpy(victim->id, id, WIRE_HASH_BYTES);
    struct store_writelog *scratch = &n->drv.scratch_writes;
    if (parent != NULL && !scratch->broken && parent->height + 1 == height) {
        struct store_writelog old = victim->writes;
        victim->writes = *scratch;
        *scratch = old;
        victim->prepared = true;
        victim->parent_height = parent->height;
        memcpy(victim->parent_hash, parent->block_hash, WIRE_HASH_BYTES);
    }
}

/* Frees the write logs of kept blocks at or below a committed height (they cannot apply). */
static void driver_blocks_forget(struct node *n, uint64_t committed)
{
    for (unsigned i = 0; i < NODE_BLOCKS_KEPT; i++) {
        struct node_block *b = &n->drv.blocks[i];
        if (b->used && b->height <= committed && b->writes.buf.data != NULL) {
            b->prepared = false;
            store_writelog_release(&b->writes);
        }
    }
    store_writelog_release(&n->drv.scratch_writes);
}

/* Begins the scratch transaction of a check, recording its writes. */
static int driver_scratch_begin(struct node *n, struct store_txn **txn, struct store_state *parent,
                                char *errmsg)
{
    int rc = store_begin_write(n->store, txn, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = store_state_get(*txn, parent, errmsg);
    if (rc != TB_OK) {
        store_abort(*txn);
        *txn = NULL;
        return rc;
    }
    struct store_writelog *log = &n->drv.scratch_writes;
    tb_buf_reset(&log->buf);
    log->count = 0;
    log->broken = false;
    store_txn_record(*txn, log);
    return TB_OK;
}

/*
 * A committed height that at least f+1 peers report (f = (n-1)/3), so at least one honest
 * node has it: the (f+1)-th highest of the peers' reported heights. A node restored from an
 * old backup has an old WAL too, so the WAL alone cannot stop it from signing again at heights
 * it signed before; it never starts (or resumes) a height at or below this one, and catches up
 * by block sync instead. One lying peer cannot stall it: its claim alone does not count.
 */
static uint64_t driver_peer_max(const struct node *n)
{
    uint64_t heights[NODE_PEERS_MAX];
    uint32_t count = 0;
    uint32_t f = (n->validator_count - 1) / 3;
    for (uint32_t i = 0; i < n->validator_count; i++) {
        if (!n->peers[i].self)
            heights[count++] = n->peers[i].height;
    }
    TB_ASSERT(count < n->validator_count || n->validator_count == 0);
    if (count < f + 1)
        return 0;
    for (uint32_t i = 0; i <= f; i++) { /* partial selection sort: the f+1 highest first */
        uint32_t best = i;
        for (uint32_t j = i + 1; j < count; j++) {
            if (heights[j] > heights[best])
                best = j;
        }
        uint64_t t = heights[i];
        heights[i] = heights[best];
        heights[best] = t;
    }
    return heights[f];
}

/* ------------------------------------------------------------------ stepping */

struct driver_ctx
{
    struct cs_event queue[DRIVER_SELF_QUEUE_MAX];
    unsigned head, count;
    bool start_next; /* a block was committed: start the next height if there is work */
};

static void driver_apply(struct node *n, const struct cs_update *up, struct driver_ctx *ctx);

static void driver_enqueue(struct driver_ctx *ctx, const struct cs_event *ev)
{
    if (ctx->count == DRIVER_SELF_QUEUE_MAX && ctx->head > 0) {
        memmove(ctx->queue, ctx->queue + ctx->head, (ctx->count - ctx->head) * sizeof(*ev));
        ctx->count -= ctx->head;
        ctx->head = 0;
    }
    TB_ASSERT(ctx->count < DRIVER_SELF_QUEUE_MAX); /* a step emits at most CS_OUT_MAX */
    ctx->queue[ctx->count++] = *ev;
}

static void driver_start_event(struct node *n, uint64_t height, struct cs_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = CS_EVENT_START_HEIGHT;
    ev->start_height.height = height;
    ev->start_height.validators.count = n->validator_count;
    ev->start_height.validators.self_index = n->self_index;
}

static void driver_feed_held(struct node *n, struct driver_ctx *ctx);
static void driver_try_build(struct node *n, struct driver_ctx *ctx);

/*
 * Steps the core with ev (may be NULL), after applying `first` (a restore's update, may be
 * NULL), and everything that leads to: own messages, a built block, the next height.
 */
static void driver_run(struct node *n, const struct cs_event *ev, const struct cs_update *first)
{
    struct driver_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (first != NULL)
        driver_apply(n, first, &ctx);
    if (ev != NULL)
        driver_enqueue(&ctx, ev);
    driver_try_build(n, &ctx);
    for (unsigned iter = 0; iter < 256 && !n->drv.halted; iter++) {
        struct cs_event cur;
        if (ctx.head == ctx.count)
            driver_feed_held(n, &ctx); /* messages that waited for this height */
        if (ctx.head < ctx.count) {
            cur = ctx.queue[ctx.head++];
        } else if (ctx.start_next) {
            ctx.start_next = false;
            uint64_t h = n->drv.committed + 1;
            if (n->mempool.count == 0 || h <= n->drv.core.state.height)
                break; /* idle: no empty blocks; a tx or a peer's message starts h */
            driver_start_event(n, h, &cur);
        } else {
            break;
        }
        cur.now_ms = node_now_ms();
        int rc = cs_step(&n->drv.core, &cur, &n->drv.update);
        if (rc != TB_OK) {
            node_log(NODE_LOG_DEBUG, "consensus_refused", n->drv.core.errmsg, "type=%d",
                     (int)cur.type);
            continue;
        }
        if (cur.type == CS_EVENT_START_HEIGHT)
            n->drv.running = true;
        struct cs_update up = n->drv.update; /* own messages re-enter cs_step */
        driver_apply(n, &up, &ctx);
        /* Heights start only at committed + 1 (restore and START_HEIGHT alike). */
        TB_ASSERT(n->drv.core.state.height <= n->drv.committed + 1);
    }
}

/* ------------------------------------------------------------------- persist */

static bool driver_persist(struct node *n, const struct cs_update *up)
{
    struct tb_buf rec;
    char err[TB_ERRMSG_SIZE];
    /* The guard, paired: every message of this update is allowed by the OLD durable record
     * and is exactly what the NEW record says was signed last of its type. */
    for (uint32_t i = 0; i < up->out_count; i++) {
        const struct cs_msg *m = &up->out[i];
        /* A WAL older than the block store must not lead to signing at a committed height. */
        TB_ASSERT(m->height > n->drv.committed);
        if (n->drv.has_durable)
            TB_ASSERT(node_wal_may_sign(&n->drv.durable, m));
        const struct cs_signed *g = &up->persist.last_signed[m->type];
        TB_ASSERT(g->present);
        TB_ASSERT(g->height == m->height && g->round == m->round);
    }
    tb_buf_init(&rec, NODE_WAL_BYTES);
    int rc = node_wal_encode(&up->persist, &rec);
    if (rc == TB_OK)
        rc = store_wal_put(n->store, (struct tb_bytes){rec.data, rec.len}, err);
    else
        tb_errmsg_setf(err, "encode: %s", tb_strerror(rc));
    tb_buf_release(&rec);
    if (rc != TB_OK) {
        node_store_failed(n, "wal_put", rc, err);
        n->drv.halted = true; /* nothing of this update may be signed or sent */
        return false;
    }
    n->drv.durable = up->persist;
    n->drv.has_durable = true;
    if (up->persist.round != n->drv.last_round || up->persist.height != n->drv.last_height) {
        n->metrics.rounds_total++;
        n->drv.last_round = up->persist.round;
        n->drv.last_height = up->persist.height;
    }
    return true;
}

/* ---------------------------------------------------------------- sign, send */

static int driver_sign_body(struct node *n, const struct cs_msg *m, struct tb_buf *body,
                            struct tb_buf *input)
{
    char err[TB_ERRMSG_SIZE];
    int rc;
    if (m->type == CS_MSG_PROPOSAL) {
        struct wire_proposal p = {.height = m->height, .round = m->round};
        p.has_pol_round = m->pol_round != CS_ROUND_NONE;
        p.pol_round = p.has_pol_round ? m->pol_round : 0;
        memcpy(p.block_hash, m->block_id.bytes, WIRE_HASH_BYTES);
        rc = wire_proposal_encode(&p, body, err);
        if (rc == TB_OK)
            rc = wire_proposal_sign_input(n->chain_id, body->data, body->len, input);
        return rc;
    }
    struct wire_vote v = {.height = m->height, .round = m->round};
    v.type = m->type == CS_MSG_PREVOTE ? WIRE_VOTE_PREVOTE : WIRE_VOTE_PRECOMMIT;
    v.has_block_hash = !m->is_nil;
    if (v.has_block_hash)
        memcpy(v.block_hash, m->block_id.bytes, WIRE_HASH_BYTES);
    rc = wire_vote_encode(&v, body, err);
    if (rc == TB_OK)
        rc = wire_vote_sign_input(n->chain_id, body->data, body->len, input);
    return rc;
}

/* The event that delivers an own signed message back to the core. */
static void driver_self_event(struct node *n, const struct cs_msg *m, const uint8_t *sig,
                              size_t sig_len, struct cs_event *ev)
{
    TB_ASSERT(sig_len <= CS_SIG_BYTES_MAX);
    memset(ev, 0, sizeof(*ev));
    struct cs_sig s = {.len = (uint8_t)sig_len};
    memcpy(s.bytes, sig, sig_len);
    if (m->type == CS_MSG_PROPOSAL) {
        ev->type = CS_EVENT_PROPOSAL;
        ev->proposal = (struct cs_proposal){.height = m->height,
                                            .round = m->round,
                                            .pol_round = m->pol_round,
                                            .block_id = m->block_id,
                                            .valid = true,
                                            .from = n->self_index,
                                            .sig = s};
        return;
    }
    ev->type = CS_EVENT_VOTE;
    ev->vote = (struct cs_vote){.type = m->type,
                                .height = m->height,
                                .round = m->round,
                                .is_nil = m->is_nil,
                                .block_id = m->block_id,
                                .from = n->self_index,
                                .sig = s};
}

static void driver_outbox_add(struct node *n, uint64_t height, struct tb_bytes msg)
{
    struct node_driver *d = &n->drv;
    if (d->outbox_height != height) {
        for (uint32_t i = 0; i < d->outbox_count; i++)
            tb_buf_release(&d->outbox[i]);
        d->outbox_count = 0;
        d->outbox_height = height;
    }
    if (d->outbox_count == NODE_OUTBOX_MAX) {
        tb_buf_release(&d->outbox[0]);
        memmove(d->outbox, d->outbox + 1, (NODE_OUTBOX_MAX - 1) * sizeof(d->outbox[0]));
        d->outbox_count--;
        tb_buf_init(&d->outbox[d->outbox_count], WIRE_PEER_CONSENSUS_BYTES_MAX);
    }
    struct tb_buf *b = &d->outbox[d->outbox_count];
    tb_buf_init(b, WIRE_PEER_CONSENSUS_BYTES_MAX);
    if (tb_buf_append(b, msg.ptr, msg.len) == TB_OK)
        d->outbox_count++;
    TB_ASSERT(d->outbox_count <= NODE_OUTBOX_MAX);
}

/* Signs one message (after the persist), broadcasts it and queues it for the core. */
static void driver_send_one(struct node *n, const struct cs_msg *m, struct driver_ctx *ctx)
{
    struct tb_buf body, input, wire;
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    char err[TB_ERRMSG_SIZE] = "";
    tb_buf_init(&body, WIRE_SMALL_BYTES_MAX);
    tb_buf_init(&input, WIRE_SMALL_BYTES_MAX + 64);
    tb_buf_init(&wire, WIRE_PEER_CONSENSUS_BYTES_MAX);
    int rc = driver_sign_body(n, m, &body, &input);
    if (rc == TB_OK)
        rc = cr_sign(n->key, input.data, input.len, sig, &sig_len);
    struct wire_peer_consensus pm = {.type = (enum wire_peer_msg_type)m->type,
                                     .from = n->self_index};
    if (rc == TB_OK) {
        pm.body = (struct tb_bytes){body.data, body.len};
        pm.sig = (struct tb_bytes){sig, sig_len};
        if (m->type == CS_MSG_PROPOSAL) {
            const struct node_block *b = driver_block_find(n, m->height, m->block_id.bytes);
            rc = b == NULL ? TB_ENOTFOUND : TB_OK;
            if (b != NULL) {
                pm.has_block = true;
                pm.block = (struct tb_bytes){b->bytes.data, b->bytes.len};
            }
        }
    }
    if (rc == TB_OK)
        rc = wire_peer_consensus_encode(&pm, &wire, err);
    if (rc == TB_OK) {
        struct tb_bytes w = {wire.data, wire.len};
        driver_outbox_add(n, m->height, w);
        peer_api_broadcast(n, w);
        struct cs_event ev;
        driver_self_event(n, m, sig, sig_len, &ev);
        driver_enqueue(ctx, &ev);
    } else {
        node_log(NODE_LOG_ERROR, "sign_failed", err, "height=%" PRIu64 " round=%u type=%d rc=%d",
                 m->height, m->round, (int)m->type, rc);
    }
    tb_buf_release(&body);
    tb_buf_release(&input);
    tb_buf_release(&wire);
}

/* ------------------------------------------------------------------- timers */

static void driver_timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct node_timer *t = arg;
    struct node *n = t->node;
    TB_ASSERT(n != NULL);
    if (!n->drv.running || n->drv.halted)
        return;
    struct cs_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CS_EVENT_TIMEOUT;
    ev.timeout = (struct cs_timeout){.height = t->height, .round = t->round, .step = t->step};
    if (n->drv.core.state.height <= n->drv.committed)
        return; /* the height was committed (block sync): idle until there is work */
    driver_run(n, &ev, NULL);
}

/* One evtimer per step: a newer timer of a step replaces the older (the core only acts on
 * the timeout of its current (h, r, step); older ones would be counted stale). */
static void driver_arm(struct node *n, const struct cs_timer *t)
{
    TB_ASSERT(t->step >= CS_STEP_PROPOSE && t->step <= CS_STEP_PRECOMMIT);
    struct node_timer *nt = &n->drv.timers[t->step - CS_STEP_PROPOSE];
    TB_ASSERT(nt->ev != NULL);
    nt->height = t->height;
    nt->round = t->round;
    nt->step = t->step;
    struct timeval tv = {.tv_sec = (time_t)(t->duration_ms / 1000),
                         .tv_usec = (suseconds_t)((t->duration_ms % 1000) * 1000)};
    event_add(nt->ev, &tv);
}

/* --------------------------------------------------------------- evidence */

static void driver_evidence(struct node *n, const struct cs_evidence *e)
{
    char err[TB_ERRMSG_SIZE] = "";
    uint8_t rec[2 * (1 + 4 + CS_BLOCK_ID_BYTES + 1 + CS_SIG_BYTES_MAX)];
    size_t len = 0;
    const struct cs_evidence_msg *side[2] = {&e->first, &e->second};
    for (int i = 0; i < 2; i++) {
        rec[len++] = side[i]->is_nil;
        for (int k = 0; k < 4; k++)
            rec[len++] = (uint8_t)(side[i]->pol_round >> (8 * k));
        memcpy(rec + len, side[i]->block_id.bytes, CS_BLOCK_ID_BYTES);
        len += CS_BLOCK_ID_BYTES;
        rec[len++] = side[i]->sig.len;
        memcpy(rec + len, side[i]->sig.bytes, side[i]->sig.len);
        len += side[i]->sig.len;
    }
    TB_ASSERT(len <= sizeof(rec));
    struct store_txn *txn = NULL;
    int rc = store_begin_write(n->store, &txn, err);
    if (rc == TB_OK)
        rc = store_evidence_put(txn, e->height, e->round, (uint8_t)e->type, e->from,
                                (struct tb_bytes){rec, len}, err);
    if (rc == TB_OK)
        rc = store_commit(txn, err);
    else
        store_abort(txn);
    node_log(NODE_LOG_WARN, "equivocation", rc == TB_OK || rc == TB_EEXIST ? NULL : err,
             "height=%" PRIu64 " round=%u type=%d validator=%u stored=%d", e->height, e->round,
             (int)e->type, e->from, rc == TB_OK);
}

/* ------------------------------------------------------------------- commit */

/* Drops committed txs from the mempool (the ledger already removed them from pending). */
static void driver_mempool_prune(struct node *n, const struct wire_block *b)
{
    for (size_t i = 0; i < b->tx_count; i++) {
        struct wire_tx tx;
        uint8_t id[WIRE_HASH_BYTES];
        if (wire_tx_decode(b->txs[i].ptr, b->txs[i].len, &tx, NULL) != TB_OK)
            continue;
        wire_tx_id(n->suite, n->chain_id, tx.kind, tx.body.ptr, tx.body.len, id);
        (void)mempool_remove(&n->mempool, id);
    }
}

/*
 * If this node checked the block on top of the state txn sees, replays that check's writes
 * into txn and confirms the result is the header's state. true: done. false: nothing is
 * to be replayed (txn untouched), or the replay failed, in which case txn was aborted and
 * *txn is NULL: the caller begins a new one and applies the block in full.
 */
static bool driver_commit_replay(struct node *n, struct store_txn **txn, const struct wire_block *b)
{
    char err[TB_ERRMSG_SIZE] = "";
    struct store_state st;
    uint8_t id[WIRE_HASH_BYTES];
    wire_block_hash(n->suite, b->header_bytes.ptr, b->header_bytes.len, id);
    const struct node_block *kb = driver_block_find(n, b->header.height, id);
    if (kb == NULL || !kb->prepared || store_state_get(*txn, &st, err) != TB_OK ||
        st.height != kb->parent_height ||
        memcmp(st.block_hash, kb->parent_hash, WIRE_HASH_BYTES) != 0)
        return false;
    int rc = store_writelog_replay(*txn, &kb->writes, err);
    if (rc == TB_OK)
        rc = store_state_get(*txn, &st, err);
    /* The replayed writes must leave exactly the state the header names. */
    if (rc == TB_OK && (st.height != b->header.height || st.log_size != b->header.log_size ||
                        memcmp(st.block_hash, id, WIRE_HASH_BYTES) != 0 ||
                        memcmp(st.log_root, b->header.log_root, CR_HASH_BYTES) != 0 ||
                        memcmp(st.state_root, b->header.state_root, CR_HASH_BYTES) != 0))
        rc = tb_fail(err, TB_EIO, "replayed state is not the header's");
    if (rc == TB_OK)
        return true;
    node_log(NODE_LOG_WARN, "commit_replay_failed", err, "height=%" PRIu64, b->header.height);
    store_abort(*txn);
    *txn = NULL;
    return false;
}

int driver_commit_block(struct node *n, struct tb_bytes block, struct tb_bytes cert, char *errmsg)
{
    struct wire_block b;
    struct ledger_verdict verdict;
    struct store_txn *txn = NULL;
    int rc = wire_block_decode(block.ptr, block.len, &b, errmsg);
    if (rc != TB_OK)
        return rc;
    uint64_t height = b.header.height;
    TB_ASSERT(height >= 1);
    rc = store_begin_write(n->store, &txn, errmsg);
    bool replayed = false;
    if (rc == TB_OK) {
        replayed = driver_commit_replay(n, &txn, &b);
        rc = txn != NULL ? TB_OK : store_begin_write(n->store, &txn, errmsg);
    }
    if (rc == TB_OK && !replayed) {
        rc = ledger_apply_block(n->ledger, txn, block, &verdict);
        if (rc != TB_OK)
            tb_errmsg_setf(errmsg, "block %" PRIu64 " refused: %s: %s", height,
                           ledger_code_name(verdict.code), verdict.message);
    }
    if (rc == TB_OK)
        rc = store_cert_put(txn, height, cert, errmsg);
    if (rc == TB_OK) {
        rc = store_commit(txn, errmsg);
        txn = NULL;
    }
    store_abort(txn);
    if (rc == TB_OK) {
        driver_mempool_prune(n, &b);
        if (height > n->drv.committed)
            n->drv.committed = height;
        driver_blocks_forget(n, height);
        if (replayed)
            n->metrics.commit_replays++;
        else
            n->metrics.commit_applies++;
        n->drv.first_pending_ms = n->mempool.count == 0 ? 0 : node_mono_ms();
        n->metrics.committed_blocks++;
        n->metrics.committed_txs += b.tx_count;
        if (!n->writable)
            node_store_failed(n, "recovered", TB_OK, "");
        node_log(NODE_LOG_INFO, "commit", NULL, "height=%" PRIu64 " txs=%zu pending=%zu", height,
                 b.tx_count, n->mempool.count);
        commit_watch_on_commit(n, &b); /* consent use index, waiting document fetches */
    } else if (rc == TB_ENOSPC || rc == TB_EIO) {
        node_store_failed(n, "commit", rc, errmsg);
    }
    wire_block_release(&b);
    return rc;
}

static void driver_commit(struct node *n, const struct cs_commit *c, struct driver_ctx *ctx)
{
    TB_ASSERT(c->height == n->drv.core.state.height);
    struct wire_cert wc = {.height = c->height, .round = c->round};
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(c->signer_count <= WIRE_VALIDATORS_MAX);
    memcpy(wc.block_hash, c->block_id.bytes, WIRE_HASH_BYTES);
    for (uint32_t i = 0; i < c->signer_count; i++) {
        wc.sigs[i].validator_index = c->signers[i].index;
        wc.sigs[i].sig = (struct tb_bytes){c->signers[i].sig.bytes, c->signers[i].sig.len};
    }
    wc.sig_count = c->signer_count;
    const struct node_block *b = driver_block_find(n, c->height, c->block_id.bytes);
    if (b == NULL) {
        /* The core decides only on a proposal we checked and kept; a flood of valid
         * proposals from an equivocating proposer can evict it. Block sync fetches it. */
        node_log(NODE_LOG_ERROR, "commit_block_missing", NULL, "height=%" PRIu64, c->height);
        return;
    }
    struct node_driver *d = &n->drv;
    tb_buf_reset(&d->commit_block);
    tb_buf_reset(&d->commit_cert);
    int rc = wire_cert_encode(&wc, &d->commit_cert, err);
    if (rc == TB_OK)
        rc = tb_buf_append(&d->commit_block, b->bytes.data, b->bytes.len);
    if (rc != TB_OK) {
        node_log(NODE_LOG_ERROR, "commit_failed", err, "height=%" PRIu64, c->height);
        return;
    }
    if (n->drv.committed >= c->height) {
        ctx->start_next = true; /* block sync got there first */
        return;
    }
    d->commit_pending = true;
    rc = driver_commit_block(n, (struct tb_bytes){d->commit_block.data, d->commit_block.len},
                             (struct tb_bytes){d->commit_cert.data, d->commit_cert.len}, err);
    if (rc == TB_OK) {
        d->commit_pending = false;
        ctx->start_next = true;
    } else {
        node_log(NODE_LOG_ERROR, "commit_failed", err, "height=%" PRIu64 " rc=%d", c->height, rc);
    }
}

/* ------------------------------------------------------------------ building */

static void driver_drop_txs(struct node *n, const struct ledger_verdict *skipped, size_t count)
{
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE];
    if (count == 0 || store_begin_write(n->store, &txn, err) != TB_OK)
        return;
    for (size_t i = 0; i < count; i++) {
        if (!skipped[i].has_tx || skipped[i].code == LEDGER_INTERNAL)
            continue;
        (void)mempool_remove(&n->mempool, skipped[i].tx_id);
        if (store_pending_del(txn, skipped[i].tx_id, NULL, err) != TB_OK)
            break;
        node_log(NODE_LOG_INFO, "tx_dropped", NULL, "code=%s", ledger_code_name(skipped[i].code));
    }
    if (store_commit(txn, err) != TB_OK)
        node_log(NODE_LOG_WARN, "tx_drop_failed", err, "count=%zu", count);
}

/* Builds a block from the oldest mempool txs into out. *taken 0: nothing valid to propose. */
static int driver_build(struct node *n, uint64_t parent_time_ms, struct tb_buf *out, size_t *taken,
                        struct store_state *parent, bool *prepared, char *errmsg)
{
    size_t max = n->mempool.count;
    const struct mempool_entry **order = tb_calloc(max + 1, sizeof(*order));
    struct tb_bytes *cands = tb_calloc(max + 1, sizeof(*cands));
    struct ledger_verdict *skipped = tb_calloc(max + 1, sizeof(*skipped));
    struct store_txn *txn = NULL;
    size_t skipped_count = 0;
    int rc = order && cands && skipped ? TB_OK : TB_ENOMEM;
    if (rc == TB_OK) {
        size_t limit = n->cfg.consensus.block_txs_max;
        size_t count = mempool_oldest(&n->mempool, order, cands, NULL,
                                      limit < WIRE_BLOCK_TXS_MAX ? limit : WIRE_BLOCK_TXS_MAX);
        uint64_t bytes = n->cfg.consensus.block_bytes_max;
        struct ledger_build_limits lim = {
            .txs_max = count < 1 ? 1 : count,
            .block_bytes_max = bytes < WIRE_BLOCK_BYTES_MAX ? (size_t)bytes : WIRE_BLOCK_BYTES_MAX};
        uint64_t now = node_now_ms();
        uint64_t time_ms = now > parent_time_ms ? now : parent_time_ms + 1;
        rc = driver_scratch_begin(n, &txn, parent, errmsg);
        if (rc == TB_OK)
            rc = ledger_build_block(n->ledger, txn, cands, count, time_ms, n->self_index, &lim, out,
                                    taken, skipped, &skipped_count, errmsg);
        /* The block's own writes too, so that its commit can replay the lot. */
        if (rc == TB_OK && *taken > 0)
            *prepared = ledger_store_built(n->ledger, txn, (struct tb_bytes){out->data, out->len},
                                           errmsg) == TB_OK;
        store_abort(txn); /* scratch, always */
    }
    /* Views into the mempool die when it changes: drop after the build is done. */
    if (rc == TB_OK)
        driver_drop_txs(n, skipped, skipped_count);
    tb_free(order);
    tb_free(cands);
    tb_free(skipped);
    return rc;
}

/* Answers a pending NEED_BLOCK if the mempool has work; never proposes an empty block. */
static void driver_try_build(struct node *n, struct driver_ctx *ctx)
{
    struct node_driver *d = &n->drv;
    if (!d->need_block || n->mempool.count == 0 || d->halted || node_mono_ms() < d->build_retry_ms)
        return; /* after a failed build, each arriving tx must not trigger another one */
    if (d->need.height != d->core.state.height || d->need.height <= d->committed ||
        d->need.round != d->core.state.round || d->core.state.step != CS_STEP_PROPOSE) {
        d->need_block = false; /* stale: the round moved on */
        return;
    }
    struct ledger_tip tip;
    struct store_state parent;
    bool prepared = false;
    struct store_txn *txn = NULL;
    struct tb_buf block;
    size_t taken = 0;
    char err[TB_ERRMSG_SIZE] = "";
    tb_buf_init(&block, WIRE_BLOCK_BYTES_MAX);
    int rc = store_begin_read(n->store, &txn, err);
    if (rc == TB_OK)
        rc = ledger_tip_get(n->ledger, txn, &tip, err);
    store_abort(txn);
    if (rc == TB_OK)
        rc = driver_build(n, tip.time_ms, &block, &taken, &parent, &prepared, err);
    struct wire_block wb;
    if (rc == TB_OK && taken > 0 && wire_block_decode(block.data, block.len, &wb, err) == TB_OK) {
        uint8_t id[WIRE_HASH_BYTES];
        wire_block_hash(n->suite, wb.header_bytes.ptr, wb.header_bytes.len, id);
        TB_ASSERT(wb.header.height == d->need.height);
        wire_block_release(&wb);
        driver_block_keep(n, d->need.height, id, (struct tb_bytes){block.data, block.len},
                          prepared ? &parent : NULL);
        struct cs_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = CS_EVENT_BLOCK_READY;
        ev.block_ready.height = d->need.height;
        ev.block_ready.round = d->need.round;
        memcpy(ev.block_ready.block_id.bytes, id, WIRE_HASH_BYTES);
        d->need_block = false;
        node_log(NODE_LOG_INFO, "propose", NULL, "height=%" PRIu64 " round=%u txs=%zu",
                 d->need.height, d->need.round, taken);
        driver_enqueue(ctx, &ev);
    } else if (rc == TB_ENOSPC || rc == TB_EIO) {
        node_store_failed(n, "build", rc, err);
        d->build_retry_ms = node_mono_ms() + NODE_TICK_MS;
    } else if (rc != TB_OK) {
        node_log(NODE_LOG_ERROR, "build_failed", err, "height=%" PRIu64, d->need.height);
        d->build_retry_ms = node_mono_ms() + NODE_TICK_MS;
    }
    tb_buf_release(&block);
}

/* -------------------------------------------------------------------- apply */

static void driver_apply(struct node *n, const struct cs_update *up, struct driver_ctx *ctx)
{
    TB_ASSERT(up->out_count <= CS_OUT_MAX);
    TB_ASSERT(up->timer_count <= CS_TIMERS_MAX);
    if (up->out_count > 0)
        TB_ASSERT(up->flags & CS_UP_PERSIST); /* the contract: messages come with a record */
    if ((up->flags & CS_UP_PERSIST) && !driver_persist(n, up))
        return; /* not durable: sign nothing, send nothing */
    for (uint32_t i = 0; (up->flags & CS_UP_SEND) && i < up->out_count; i++)
        driver_send_one(n, &up->out[i], ctx);
    for (uint32_t i = 0; (up->flags & CS_UP_TIMER) && i < up->timer_count; i++)
        driver_arm(n, &up->timers[i]);
    if (up->flags & CS_UP_NEED_BLOCK) {
        n->drv.need_block = true;
        n->drv.need = up->need_block;
        driver_try_build(n, ctx);
    }
    if (up->flags & CS_UP_COMMIT)
        driver_commit(n, &up->commit, ctx);
    if (up->flags & CS_UP_EVIDENCE)
        driver_evidence(n, &up->evidence);
}

/* ------------------------------------------------------------------ messages */

struct driver_msg
{
    struct wire_peer_consensus pm;
    uint64_t height;
    struct cs_event ev; /* complete but for proposal.valid */
};

/* Decodes a peer message and checks its signature against the member's node key. */
static int driver_msg_decode(struct node *n, struct tb_bytes bytes, struct driver_msg *out,
                             char *err)
{
    TB_ASSERT(n->validator_count >= 1);
    TB_ASSERT(bytes.ptr != NULL || bytes.len == 0);
    struct tb_buf input;
    int rc = wire_peer_consensus_decode(bytes.ptr, bytes.len, &out->pm, err);
    if (rc != TB_OK)
        return rc;
    const struct wire_peer_consensus *pm = &out->pm;
    if (pm->from >= n->validator_count || pm->sig.len > CS_SIG_BYTES_MAX)
        return tb_fail(err, TB_EINVAL, "sender %u outside the set", pm->from);
    memset(&out->ev, 0, sizeof(out->ev));
    struct cs_sig sig = {.len = (uint8_t)pm->sig.len};
    memcpy(sig.bytes, pm->sig.ptr, pm->sig.len);
    tb_buf_init(&input, WIRE_SMALL_BYTES_MAX + 64);
    if (pm->type == WIRE_PEER_PROPOSAL) {
        struct wire_proposal p;
        rc = wire_proposal_decode(pm->body.ptr, pm->body.len, &p, err);
        if (rc == TB_OK)
            rc = wire_proposal_sign_input(n->chain_id, pm->body.ptr, pm->body.len, &input);
        out->height = p.height;
        out->ev.type = CS_EVENT_PROPOSAL;
        out->ev.proposal =
            (struct cs_proposal){.height = p.height,
                                 .round = p.round,
                                 .pol_round = p.has_pol_round ? p.pol_round : CS_ROUND_NONE,
                                 .from = pm->from,
                                 .sig = sig};
        memcpy(out->ev.proposal.block_id.bytes, p.block_hash, WIRE_HASH_BYTES);
    } else {
        struct wire_vote v;
        rc = wire_vote_decode(pm->body.ptr, pm->body.len, &v, err);
        if (rc == TB_OK && (int)v.type != (int)pm->type)
            rc = tb_fail(err, TB_EMALFORMED, "vote type differs from the message type");
        if (rc == TB_OK)
            rc = wire_vote_sign_input(n->chain_id, pm->body.ptr, pm->body.len, &input);
        out->height = v.height;
        out->ev.type = CS_EVENT_VOTE;
        out->ev.vote = (struct cs_vote){.type = (enum cs_msg_type)pm->type,
                                        .height = v.height,
                                        .round = v.round,
                                        .is_nil = !v.has_block_hash,
                                        .from = pm->from,
                                        .sig = sig};
        memcpy(out->ev.vote.block_id.bytes, v.block_hash, WIRE_HASH_BYTES);
    }
    if (rc == TB_OK &&
        cr_verify(n->peers[pm->from].key, input.data, input.len, pm->sig.ptr, pm->sig.len) != TB_OK)
        rc = tb_fail(err, TB_EBADSIG, "signature of validator %u does not verify", pm->from);
    tb_buf_release(&input);
    return rc;
}

/* valid(v): the block hashes to the proposal's id, applies on the latest state, and its time
 * is after the parent's (the ledger checks) and at most clock_skew_max_ms ahead of ours. */
static bool driver_block_valid(struct node *n, const struct driver_msg *dm)
{
    TB_ASSERT(dm->ev.type == CS_EVENT_PROPOSAL);
    TB_ASSERT(dm->height >= 1);
    struct wire_block b;
    struct ledger_verdict verdict;
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    const struct tb_bytes blk = dm->pm.block;
    if (driver_block_find(n, dm->height, dm->ev.proposal.block_id.bytes) != NULL)
        return true; /* checked when it was kept (re-gossip sends it again every second) */
    if (!dm->pm.has_block || wire_block_decode(blk.ptr, blk.len, &b, err) != TB_OK)
        return false;
    uint8_t id[WIRE_HASH_BYTES];
    wire_block_hash(n->suite, b.header_bytes.ptr, b.header_bytes.len, id);
    bool ok = memcmp(id, dm->ev.proposal.block_id.bytes, WIRE_HASH_BYTES) == 0 &&
              b.header.height == dm->height && b.header.proposer_index == dm->pm.from &&
              b.header.time_ms <= node_now_ms() + n->cfg.consensus.clock_skew_max_ms;
    wire_block_release(&b);
    struct store_state parent;
    if (ok && driver_scratch_begin(n, &txn, &parent, err) == TB_OK) {
        int rc = ledger_apply_block(n->ledger, txn, blk, &verdict);
        ok = rc == TB_OK;
        store_abort(txn); /* only the verdict was wanted */
        if (rc == TB_ENOSPC || rc == TB_EIO)
            node_store_failed(n, "validate", rc, verdict.message);
        else if (!ok)
            node_log(NODE_LOG_WARN, "proposal_invalid", verdict.message,
                     "height=%" PRIu64 " round=%u from=%u code=%s", dm->height,
                     dm->ev.proposal.round, dm->pm.from, ledger_code_name(verdict.code));
    } else {
        ok = false;
    }
    if (ok)
        driver_block_keep(n, dm->height, id, blk, &parent);
    return ok;
}

static void driver_hold(struct node *n, uint64_t height, struct tb_bytes bytes)
{
    struct node_held *slot = NULL;
    for (unsigned i = 0; i < NODE_HELD_MAX && slot == NULL; i++) {
        if (!n->drv.held[i].used)
            slot = &n->drv.held[i];
    }
    if (slot == NULL)
        return; /* full: peers re-gossip */
    tb_buf_init(&slot->bytes, WIRE_PEER_CONSENSUS_BYTES_MAX);
    if (tb_buf_append(&slot->bytes, bytes.ptr, bytes.len) != TB_OK)
        return;
    slot->used = true;
    slot->height = height;
}

static void driver_feed_held(struct node *n, struct driver_ctx *ctx)
{
    uint64_t h = n->drv.core.state.height;
    for (unsigned i = 0; i < NODE_HELD_MAX; i++) {
        struct node_held *hm = &n->drv.held[i];
        if (!hm->used || hm->height > h || !n->drv.running)
            continue;
        if (ctx->count - ctx->head + DRIVER_QUEUE_RESERVE >= DRIVER_SELF_QUEUE_MAX)
            return; /* the rest is fed when the queue drains */
        struct driver_msg dm;
        char err[TB_ERRMSG_SIZE];
        if (hm->height == h && h > n->drv.committed &&
            driver_msg_decode(n, (struct tb_bytes){hm->bytes.data, hm->bytes.len}, &dm, err) ==
                TB_OK) {
            if (dm.ev.type == CS_EVENT_PROPOSAL)
                dm.ev.proposal.valid = driver_block_valid(n, &dm);
            driver_enqueue(ctx, &dm.ev);
        }
        tb_buf_release(&hm->bytes);
        hm->used = false;
    }
}

void driver_on_message(struct node *n, struct tb_bytes bytes)
{
    struct driver_msg dm;
    char err[TB_ERRMSG_SIZE] = "";
    if (driver_msg_decode(n, bytes, &dm, err) != TB_OK) {
        n->metrics.peer_msgs_bad++;
        node_log(NODE_LOG_DEBUG, "peer_msg_refused", err, "bytes=%zu", bytes.len);
        return;
    }
    struct node_driver *d = &n->drv;
    if (dm.pm.from == n->self_index || dm.height <= d->committed)
        return; /* own echo, or late */
    if (!d->started || d->waiting_restore || d->halted || dm.height > d->core.state.height) {
        driver_hold(n, dm.height, bytes);
        /* A peer works on the next height: join it even with an empty mempool. */
        if (d->started && !d->waiting_restore && !d->halted && dm.height == d->committed + 1 &&
            d->core.state.height <= d->committed && dm.height > driver_peer_max(n)) {
            struct cs_event ev;
            driver_start_event(n, dm.height, &ev);
            driver_run(n, &ev, NULL);
        }
        return;
    }
    if (dm.height < d->core.state.height)
        return;
    if (dm.ev.type == CS_EVENT_PROPOSAL)
        dm.ev.proposal.valid = driver_block_valid(n, &dm);
    driver_run(n, &dm.ev, NULL);
}

void driver_on_tx(struct node *n)
{
    if (n->drv.first_pending_ms == 0)
        n->drv.first_pending_ms = node_mono_ms();
    if (n->drv.need_block && !n->drv.halted)
        driver_run(n, NULL, NULL);
}

/* ------------------------------------------------------------- start, resume */

/* Rebuilds the core from rec (freshly initialised) and applies the restore's update when
 * it is for a height still open; an older record only carries its double-sign guard. */
static int driver_restore(struct node *n, const struct cs_persist *rec, char *errmsg)
{
    TB_ASSERT(rec != NULL);
    struct node_driver *d = &n->drv;
    struct cs_update up;
    cs_core_release(&d->core);
    struct cs_options opt = d->core_options;
    int rc = cs_core_init(&d->core, &opt);
    if (rc != TB_OK)
        return tb_fail(errmsg, rc, "consensus core: %s", d->core.errmsg);
    rc = cs_core_restore(&d->core, rec, &up);
    if (rc != TB_OK)
        return tb_fail(errmsg, TB_ESTATE, "WAL record refused: %s", d->core.errmsg);
    d->halted = false;
    d->need_block = false;
    d->durable = *rec;
    d->has_durable = true;
    TB_ASSERT(d->core.state.height == rec->height);
    if (rec->height <= d->committed || rec->height <= driver_peer_max(n)) {
        /* The WAL is older than the block store (or the node decided and stopped): the
         * height is committed, so nothing of it may be signed again; resume idle. */
        node_log(NODE_LOG_INFO, "wal_behind_store", NULL,
                 "wal_height=%" PRIu64 " committed=%" PRIu64, rec->height, d->committed);
        d->running = false;
        return TB_OK;
    }
    TB_ASSERT(rec->height == d->committed + 1);
    d->running = true;
    node_log(NODE_LOG_INFO, "wal_resume", NULL, "height=%" PRIu64 " round=%u step=%d", rec->height,
             rec->round, (int)rec->step);
    driver_run(n, NULL, &up);
    return TB_OK;
}

void driver_start(struct node *n)
{
    struct node_driver *d = &n->drv;
    char err[TB_ERRMSG_SIZE] = "";
    if (!d->has_durable) {
        d->first_pending_ms = n->mempool.count > 0 ? 1 : 0; /* restarted with work: go */
        return;
    }
    if (d->durable.height > d->committed + 1) {
        /* The block store is older than the WAL (restored from a backup): catch up by block
         * sync first; signing now could contradict what the WAL says was signed. */
        d->waiting_restore = true;
        d->wal_pending = d->durable;
        node_log(NODE_LOG_WARN, "wal_ahead_of_store", NULL,
                 "wal_height=%" PRIu64 " committed=%" PRIu64, d->durable.height, d->committed);
        return;
    }
    struct cs_persist rec = d->durable;
    if (driver_restore(n, &rec, err) != TB_OK) {
        d->halted = true;
        node_log(NODE_LOG_ERROR, "wal_restore_failed", err, "height=%" PRIu64, rec.height);
    }
}

void driver_after_sync(struct node *n, uint64_t height)
{
    struct node_driver *d = &n->drv;
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(height <= d->committed);
    if (d->waiting_restore && d->wal_pending.height <= d->committed + 1) {
        d->waiting_restore = false;
        struct cs_persist rec = d->wal_pending;
        if (driver_restore(n, &rec, err) != TB_OK) {
            d->halted = true;
            node_log(NODE_LOG_ERROR, "wal_restore_failed", err, "height=%" PRIu64, rec.height);
        }
    }
}

static void driver_regossip(struct node *n)
{
    struct node_driver *d = &n->drv;
    uint64_t now = node_mono_ms();
    if (now - d->last_gossip_ms < NODE_REGOSSIP_MS || d->outbox_count == 0)
        return;
    d->last_gossip_ms = now;
    if (d->outbox_height <= d->committed)
        return; /* laggards catch up by block sync */
    for (uint32_t i = 0; i < d->outbox_count; i++)
        peer_api_broadcast(n, (struct tb_bytes){d->outbox[i].data, d->outbox[i].len});
}

/* Consensus starts once every peer answered (or failed) a status poll, or after a bound:
 * resuming from the WAL needs to know whether peers committed that height already. */
static bool driver_ready_to_start(struct node *n)
{
    if (node_mono_ms() - n->drv.start_ms >= 4u * NODE_TICK_MS)
        return true;
    for (uint32_t i = 0; i < n->validator_count; i++) {
        if (!n->peers[i].self && !n->peers[i].polled)
            return false;
    }
    return true;
}

void driver_tick(struct node *n)
{
    struct node_driver *d = &n->drv;
    char err[TB_ERRMSG_SIZE] = "";
    if (!d->started) {
        if (!driver_ready_to_start(n))
            return;
        d->started = true;
        driver_start(n);
    }
    if (d->halted && d->has_durable && !d->waiting_restore) {
        struct cs_persist rec = d->durable; /* retry from what is durable */
        if (driver_restore(n, &rec, err) != TB_OK)
            d->halted = true;
        return;
    }
    if (d->commit_pending) {
        if (driver_commit_block(n, (struct tb_bytes){d->commit_block.data, d->commit_block.len},
                                (struct tb_bytes){d->commit_cert.data, d->commit_cert.len},
                                err) != TB_OK &&
            d->committed < d->core.state.height)
            return;
        d->commit_pending = false;
    }
    if (d->waiting_restore || d->halted)
        return;
    driver_regossip(n);
    bool idle = d->core.state.height <= d->committed;
    uint64_t now = node_mono_ms();
    if (idle && n->mempool.count > 0 && d->first_pending_ms != 0 &&
        d->committed + 1 > driver_peer_max(n) &&
        now - d->first_pending_ms >= n->cfg.consensus.block_interval_ms) {
        struct cs_event ev;
        driver_start_event(n, d->committed + 1, &ev);
        driver_run(n, &ev, NULL);
    } else if (!idle && d->need_block && n->mempool.count > 0) {
        driver_run(n, NULL, NULL);
    }
}

/* ------------------------------------------------------------- open, close */

int driver_open(struct node *n, char *errmsg)
{
    struct node_driver *d = &n->drv;
    const struct cfg_consensus_section *c = &n->cfg.consensus;
    d->core_options = (struct cs_options){.validators_max = n->validator_count,
                                          .timeout_propose_ms = c->timeout_propose_ms,
                                          .timeout_prevote_ms = c->timeout_prevote_ms,
                                          .timeout_precommit_ms = c->timeout_precommit_ms,
                                          .timeout_delta_ms = c->timeout_delta_ms};
    int rc = cs_core_init(&d->core, &d->core_options);
    if (rc != TB_OK)
        return tb_fail(errmsg, rc, "consensus core: %s", d->core.errmsg);
    for (unsigned i = 0; i < 3; i++) {
        d->timers[i].node = n;
        d->timers[i].ev = evtimer_new(n->base, driver_timer_fired, &d->timers[i]);
        if (d->timers[i].ev == NULL)
            return tb_fail(errmsg, TB_ENOMEM, "timer");
    }
    for (unsigned i = 0; i < NODE_BLOCKS_KEPT; i++) {
        tb_buf_init(&d->blocks[i].bytes, WIRE_BLOCK_BYTES_MAX);
        store_writelog_init(&d->blocks[i].writes);
    }
    store_writelog_init(&d->scratch_writes);
    tb_buf_init(&d->commit_block, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&d->commit_cert, WIRE_CERT_BYTES_MAX);
    d->committed = driver_committed_height(n);
    struct store_txn *txn = NULL;
    struct tb_buf rec;
    tb_buf_init(&rec, NODE_WAL_BYTES);
    rc = store_begin_read(n->store, &txn, errmsg);
    if (rc == TB_OK)
        rc = store_wal_get(txn, &rec, errmsg);
    store_abort(txn);
    if (rc == TB_OK) {
        rc = node_wal_decode(rec.data, rec.len, &d->durable);
        if (rc != TB_OK)
            tb_errmsg_setf(errmsg, "the WAL record does not decode: refusing to guess");
        d->has_durable = rc == TB_OK;
    } else if (rc == TB_ENOTFOUND) {
        rc = TB_OK; /* a fresh node */
    }
    tb_buf_release(&rec);
    return rc;
}

void driver_close(struct node *n)
{
    struct node_driver *d = &n->drv;
    for (unsigned i = 0; i < 3; i++) {
        if (d->timers[i].ev != NULL)
            event_free(d->timers[i].ev);
        d->timers[i].ev = NULL;
    }
    for (unsigned i = 0; i < NODE_BLOCKS_KEPT; i++) {
        tb_buf_release(&d->blocks[i].bytes);
        store_writelog_release(&d->blocks[i].writes);
    }
    store_writelog_release(&d->scratch_writes);
    for (unsigned i = 0; i < NODE_HELD_MAX; i++)
        tb_buf_release(&d->held[i].bytes);
    for (uint32_t i = 0; i < d->outbox_count; i++)
        tb_buf_release(&d->outbox[i]);
    d->outbox_count = 0;
    tb_buf_release(&d->commit_block);
    tb_buf_release(&d->commit_cert);
    cs_core_release(&d->core);
}

void driver_on_peer_up(struct node *n, struct node_peer *p)
{
    TB_ASSERT(!p->self);
    n->drv.last_gossip_ms = 0; /* the next tick sends our messages of the running height */
}
