/*
 * node/commit_watch.c: what happens after a block commits, for data sharing (issue 6):
 *   - every committed access.audit is indexed under its consent id (docstore.h "consent/u"),
 *     so that the holding node counts a token's uses from the ledger, and "consent/h" says up
 *     to which height; a height missed (a crash between the block's commit and the index's,
 *     a node that synced before this existed) is caught up from the stored blocks;
 *   - a document fetch waiting for its audit tx is woken once the tx is committed.
 * The index is a cache of the ledger: rebuilding it from the blocks gives the same entries.
 *
 * Must never: write into the driver's block transaction (it has committed when the hook
 * runs), block the loop for long (bounded catch-up), or run a watch twice.
 */
#include <inttypes.h>
#include <string.h>

#include "docstore.h"
#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

/* Indexes the audits of one decoded block into the write transaction. */
static int commit_watch_index_block(struct node *n, struct store_txn *txn,
                                    const struct wire_block *b, char *errmsg)
{
    struct wire_tx tx;
    struct wire_tx_body *body = NULL;
    uint8_t id[WIRE_HASH_BYTES];
    int rv = TB_OK;
    for (size_t i = 0; rv == TB_OK && i < b->tx_count; i++) {
        /* A committed block decoded when it was applied: these cannot fail on a sound store. */
        if (wire_tx_decode(b->txs[i].ptr, b->txs[i].len, &tx, errmsg) != TB_OK) {
            rv = TB_EIO;
            break;
        }
        if (tx.kind != WIRE_KIND_ACCESS_AUDIT)
            continue;
        if (body == NULL && (body = tb_calloc(1, sizeof(*body))) == NULL) {
            rv = TB_ENOMEM;
            break;
        }
        if (wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, body, errmsg) != TB_OK) {
            rv = TB_EIO;
            break;
        }
        wire_tx_id(n->suite, n->chain_id, tx.kind, tx.body.ptr, tx.body.len, id);
        rv = docstore_use_put(txn, body->u.audit.consent_id, id, errmsg);
    }
    tb_free(body);
    return rv;
}

/* Indexes stored blocks from..to (inclusive) into txn. */
static int commit_watch_index_range(struct node *n, struct store_txn *txn, uint64_t from,
                                    uint64_t to, char *errmsg)
{
    struct tb_buf blk;
    struct wire_block b;
    int rv = TB_OK;
    TB_ASSERT(from <= to);
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    for (uint64_t h = from; rv == TB_OK && h <= to; h++) {
        rv = store_block_get(txn, h, &blk, errmsg);
        if (rv == TB_OK && wire_block_decode(blk.data, blk.len, &b, errmsg) != TB_OK)
            rv = TB_EIO;
        if (rv != TB_OK)
            break;
        rv = commit_watch_index_block(n, txn, &b, errmsg);
        wire_block_release(&b);
    }
    tb_buf_release(&blk);
    return rv;
}

/* Whether a committed block holds an access.audit (envelopes decoded, bodies not). */
static bool commit_watch_has_audit(const struct wire_block *b)
{
    struct wire_tx tx;
    char err[TB_ERRMSG_SIZE];
    for (size_t i = 0; i < b->tx_count; i++)
        if (wire_tx_decode(b->txs[i].ptr, b->txs[i].len, &tx, err) != TB_OK ||
            tx.kind == WIRE_KIND_ACCESS_AUDIT)
            return true; /* an undecodable one: let the indexer report it */
    return false;
}

/*
 * The catch-up, and the block just committed when it is the next one (no re-read). A block
 * without audits costs no write (and no fsync) except every NODE_WATCH_INDEX_BLOCKS / 4
 * heights, which bounds what a later catch-up re-reads.
 */
static int commit_watch_index_upto(struct node *n, const struct wire_block *just, char *errmsg)
{
    struct store_txn *txn = NULL;
    struct store_state st;
    uint64_t done = 0;
    if (just != NULL && !commit_watch_has_audit(just) &&
        just->header.height % (NODE_WATCH_INDEX_BLOCKS / 4) != 0)
        return TB_OK;
    int rv = store_begin_write(n->store, &txn, errmsg);
    if (rv == TB_OK)
        rv = docstore_indexed_height(txn, &done, errmsg);
    if (rv == TB_OK)
        rv = store_state_get(txn, &st, errmsg);
    if (rv == TB_ENOTFOUND)
        st.height = 0, rv = TB_OK;
    bool more = false;
    if (rv == TB_OK && st.height > done) {
        uint64_t to = st.height;
        if (to - done > NODE_WATCH_INDEX_BLOCKS) {
            to = done + NODE_WATCH_INDEX_BLOCKS;
            more = true;
        }
        if (just != NULL && done + 1 == just->header.height && to == just->header.height)
            rv = commit_watch_index_block(n, txn, just, errmsg);
        else
            rv = commit_watch_index_range(n, txn, done + 1, to, errmsg);
        if (rv == TB_OK)
            rv = docstore_indexed_height_put(txn, to, errmsg);
        if (rv == TB_OK) {
            rv = store_commit(txn, errmsg);
            txn = NULL;
        }
    }
    store_abort(txn);
    return rv == TB_OK && more ? TB_ELIMIT : rv;
}

int commit_watch_index(struct node *n, char *errmsg)
{
    return commit_watch_index_upto(n, NULL, errmsg);
}

/* Runs the watch of every tx that is now committed. */
static void commit_watch_wake(struct node *n)
{
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    bool any = false;
    for (uint32_t i = 0; i < NODE_WATCH_MAX && !any; i++)
        any = n->watches[i].used;
    if (!any || store_begin_read(n->store, &txn, err) != TB_OK)
        return;
    for (uint32_t i = 0; i < NODE_WATCH_MAX; i++) {
        struct node_watch *w = &n->watches[i];
        struct store_txloc loc;
        if (!w->used || store_txloc_get(txn, w->tx_id, &loc, err) != TB_OK)
            continue;
        w->used = false; /* before the call: fn may add or remove watches */
        TB_ASSERT(w->fn != NULL);
        w->fn(w->arg, &loc);
    }
    store_abort(txn);
}

void commit_watch_on_commit(struct node *n, const struct wire_block *b)
{
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(b != NULL);
    TB_ASSERT(b->header.height >= 1);
    int rv = commit_watch_index_upto(n, b, err);
    if (rv != TB_OK && rv != TB_ELIMIT)
        node_log(NODE_LOG_WARN, "consent_index_failed", err, "height=%" PRIu64 " rc=%d",
                 b->header.height, rv);
    commit_watch_wake(n);
}

int commit_watch_add(struct node *n, const uint8_t tx_id[WIRE_HASH_BYTES],
                     const uint8_t tag[WIRE_HASH_BYTES], node_watch_fn fn, void *arg)
{
    TB_ASSERT(fn != NULL && arg != NULL);
    for (uint32_t i = 0; i < NODE_WATCH_MAX; i++) {
        struct node_watch *w = &n->watches[i];
        if (w->used)
            continue;
        w->used = true;
        memcpy(w->tx_id, tx_id, WIRE_HASH_BYTES);
        memcpy(w->tag, tag, WIRE_HASH_BYTES);
        w->fn = fn;
        w->arg = arg;
        return TB_OK;
    }
    return TB_ELIMIT;
}

void commit_watch_remove(struct node *n, void *arg)
{
    for (uint32_t i = 0; i < NODE_WATCH_MAX; i++)
        if (n->watches[i].used && n->watches[i].arg == arg)
            n->watches[i].used = false;
}

uint32_t commit_watch_count_tag(const struct node *n, const uint8_t tag[WIRE_HASH_BYTES])
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < NODE_WATCH_MAX; i++)
        if (n->watches[i].used && memcmp(n->watches[i].tag, tag, WIRE_HASH_BYTES) == 0)
            count++;
    TB_ASSERT(count <= NODE_WATCH_MAX);
    return count;
}
