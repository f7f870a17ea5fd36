/*
 * node/admit.c: admission of txs with group commit (DESIGN 5: "a tx that the API acknowledged
 * is durable: it is in `pending` before the answer").
 *
 * A synced LMDB commit costs about as much as checking a signature, and a loaded node admits
 * hundreds of txs a second from clients and peers. So admission has two halves:
 *   1. node_admit_queue (synchronous, in the handler): decode, dedupe by id (mempool, this
 *      batch, committed), the ledger's full check against the latest committed state, then
 *      the envelope joins the batch and the flush event is armed: zero-delay, or, within
 *      NODE_ADMIT_GAP_MS of the previous group commit, for the rest of that gap;
 *   2. admit_flush (the flush event, later in the same loop turn or after the gap): ONE
 *      write transaction puts every batched envelope into `pending` and commits (synced);
 *      only then are the txs added to the mempool, their submitters answered, and the batch
 *      gossiped to peers in one message.
 * Requests that arrive while a flush is syncing wait in the socket and form the next batch,
 * so the batch grows with the load by itself, and an idle node still answers at once.
 *
 * Must never: answer a submitter NEW before the commit that holds its tx returned TB_OK,
 * call a done callback twice or not at all, or gossip a tx that is not durable here.
 */
#include <event2/event.h>
#include <string.h>

#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

static void admit_flush_cb(evutil_socket_t fd, short what, void *arg);

int admit_open(struct node *n, char *errmsg)
{
    TB_ASSERT(n->base != NULL);
    TB_ASSERT(n->admit.flush_ev == NULL);
    n->admit.flush_ev = event_new(n->base, -1, 0, admit_flush_cb, n);
    if (n->admit.flush_ev == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "admission flush event");
    return TB_OK;
}

void admit_close(struct node *n)
{
    /* What is queued was checked and promised to nobody yet: make it durable and answer
     * (the HTTP server is gone by now, so the answers only free their requests). */
    if (n->admit.count > 0)
        admit_flush(n);
    if (n->admit.flush_ev != NULL)
        event_free(n->admit.flush_ev);
    n->admit.flush_ev = NULL;
    TB_ASSERT(n->admit.count == 0);
}

static bool admit_batch_has(const struct node_admit_batch *b, const uint8_t id[WIRE_HASH_BYTES])
{
    for (size_t i = 0; i < b->count; i++)
        if (memcmp(b->entries[i].id, id, WIRE_HASH_BYTES) == 0)
            return true;
    return false;
}

/* Decode, dedupe and check; TB_OK with out->state UNKNOWN means "new and acceptable". */
static int admit_check(struct node *n, struct tb_bytes envelope, struct node_tx_result *out,
                       char *errmsg)
{
    struct wire_tx tx;
    struct store_txn *txn = NULL;
    int rc = wire_tx_decode(envelope.ptr, envelope.len, &tx, out->verdict.message);
    if (rc != TB_OK) {
        out->verdict.code = LEDGER_MALFORMED;
        return tb_fail(errmsg, TB_EMALFORMED, "%s", out->verdict.message);
    }
    wire_tx_id(n->suite, n->chain_id, tx.kind, tx.body.ptr, tx.body.len, out->id);
    out->kind = tx.kind;
    if (mempool_has(&n->mempool, out->id) || admit_batch_has(&n->admit, out->id)) {
        out->state = NODE_TX_PENDING;
        return TB_OK;
    }
    rc = store_begin_read(n->store, &txn, errmsg);
    if (rc == TB_OK) {
        rc = node_committed_lookup(txn, out->id, out, errmsg);
        if (rc == TB_ENOTFOUND)
            rc = ledger_check_tx(n->ledger, txn, envelope, node_now_ms(), &out->verdict);
    }
    store_abort(txn);
    if (rc != TB_OK)
        tb_errmsg_setf(errmsg, "%s", out->verdict.message);
    return rc;
}

int node_admit_queue(struct node *n, struct tb_bytes envelope, bool gossip, node_submit_fn done,
                     void *arg, struct node_tx_result *out, char *errmsg)
{
    TB_ASSERT(envelope.ptr != NULL || envelope.len == 0);
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    int rc = admit_check(n, envelope, out, errmsg);
    if (rc != TB_OK || out->state != NODE_TX_UNKNOWN)
        return rc;
    if (n->mempool.count + n->admit.count >= n->mempool.count_max ||
        n->mempool.bytes + n->admit.bytes + envelope.len > n->mempool.bytes_max)
        return tb_fail(errmsg, TB_ELIMIT, "the mempool is full; retry later");
    if (n->admit.count == NODE_ADMIT_BATCH_MAX)
        admit_flush(n); /* a full batch goes now; this tx starts the next one */
    TB_ASSERT(n->admit.count < NODE_ADMIT_BATCH_MAX);
    struct node_admit_entry *e = &n->admit.entries[n->admit.count];
    e->envelope = tb_malloc(envelope.len);
    if (e->envelope == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "admission batch");
    memcpy(e->envelope, envelope.ptr, envelope.len);
    e->len = envelope.len;
    memcpy(e->id, out->id, WIRE_HASH_BYTES);
    e->kind = out->kind;
    e->gossip = gossip;
    e->done = done;
    e->arg = arg;
    n->admit.count++;
    n->admit.bytes += envelope.len;
    if (!n->admit.scheduled && n->admit.flush_ev != NULL) {
        /* Right after a group commit, wait a little for more: every commit rewrites the
         * pages its txs touch, so fewer, larger batches write less per tx. Idle: at once. */
        uint64_t since = node_mono_ms() - n->admit.last_flush_ms;
        if (since >= NODE_ADMIT_GAP_MS) {
            event_active(n->admit.flush_ev, 0, 0);
        } else {
            struct timeval tv = {.tv_sec = 0,
                                 .tv_usec = (suseconds_t)((NODE_ADMIT_GAP_MS - since) * 1000u)};
            event_add(n->admit.flush_ev, &tv);
        }
        n->admit.scheduled = true;
    }
    out->state = NODE_TX_QUEUED;
    return TB_OK;
}

/* One synced write transaction for the whole batch. */
static int admit_commit(struct node *n, char *errmsg)
{
    struct store_txn *txn = NULL;
    int rc = store_begin_write(n->store, &txn, errmsg);
    for (size_t i = 0; rc == TB_OK && i < n->admit.count; i++) {
        const struct node_admit_entry *e = &n->admit.entries[i];
        rc = store_pending_put(txn, e->id, (struct tb_bytes){e->envelope, e->len}, errmsg);
    }
    if (rc == TB_OK) {
        rc = store_commit(txn, errmsg); /* synced: only now may we promise anything */
        txn = NULL;
    }
    store_abort(txn);
    return rc;
}

void admit_flush(struct node *n)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct tb_bytes gossip[NODE_ADMIT_BATCH_MAX];
    size_t gossip_count = 0, added = 0;
    size_t count = n->admit.count;
    n->admit.scheduled = false;
    if (count == 0)
        return;
    TB_ASSERT(count <= NODE_ADMIT_BATCH_MAX);
    if (n->admit.flush_ev != NULL)
        event_del(n->admit.flush_ev); /* a full batch or a sync submit flushes before the timer */
    int rc = admit_commit(n, errmsg);
    n->admit.last_flush_ms = node_mono_ms();
    node_store_failed(n, "pending_put", rc, errmsg);
    n->admit.count = 0; /* done callbacks may queue again: into a fresh batch */
    n->admit.bytes = 0;
    for (size_t i = 0; i < count; i++) {
        struct node_admit_entry *e = &n->admit.entries[i];
        struct node_tx_result res;
        memset(&res, 0, sizeof(res));
        memcpy(res.id, e->id, WIRE_HASH_BYTES);
        res.kind = e->kind;
        if (rc == TB_OK) {
            int ma =
                mempool_add(&n->mempool, e->id, e->kind, (struct tb_bytes){e->envelope, e->len});
            /* Room was reserved at queue time. Should the mempool still refuse (ENOMEM), the
             * tx is durable in `pending` and a restart proposes it: the answer stands. */
            if (ma != TB_OK && ma != TB_EEXIST)
                node_log(NODE_LOG_WARN, "mempool_add_failed", tb_strerror(ma), "kind=%u", e->kind);
            res.state = NODE_TX_NEW;
            added++;
            if (e->gossip)
                gossip[gossip_count++] = (struct tb_bytes){e->envelope, e->len};
        }
        if (e->done != NULL)
            e->done(e->arg, rc, &res, errmsg);
    }
    n->metrics.admit_batches++;
    if (gossip_count > 0 && !n->stopping)
        peer_api_gossip_txs(n, gossip, gossip_count);
    for (size_t i = 0; i < count; i++)
        tb_free(n->admit.entries[i].envelope);
    if (added > 0 && !n->stopping)
        driver_on_tx(n);
}

static void admit_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    admit_flush(arg);
}

/* --------------------------------------------------------- the API's entry points */

int node_submit_tx_async(struct node *n, struct tb_bytes envelope, node_submit_fn done, void *arg,
                         struct node_tx_result *out, char *errmsg)
{
    TB_ASSERT(n != NULL);
    TB_ASSERT(done != NULL);
    return node_admit_queue(n, envelope, true, done, arg, out, errmsg);
}

struct admit_sync
{
    int rc;
    struct node_tx_result res;
    char errmsg[TB_ERRMSG_SIZE];
};

static void admit_sync_done(void *arg, int rc, const struct node_tx_result *res, const char *errmsg)
{
    struct admit_sync *s = arg;
    s->rc = rc;
    s->res = *res;
    memcpy(s->errmsg, errmsg, sizeof(s->errmsg));
}

int node_submit_tx(struct node *n, struct tb_bytes envelope, struct node_tx_result *out,
                   char *errmsg)
{
    struct admit_sync s = {.rc = TB_EIO};
    int rc = node_admit_queue(n, envelope, true, admit_sync_done, &s, out, errmsg);
    if (rc != TB_OK || out->state != NODE_TX_QUEUED)
        return rc;
    admit_flush(n); /* the caller wants the answer now: flush the batch this tx is in */
    *out = s.res;
    if (s.rc != TB_OK)
        tb_errmsg_setf(errmsg, "%s", s.errmsg);
    return s.rc;
}
