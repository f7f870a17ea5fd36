/*
 * node/store_trees.c: the LMDB-backed node stores of the log tree (cr_log_store over
 * log_nodes) and the status tree (cr_smt_store over smt_nodes), built on the generic
 * store API so that the nodes land in the caller's transaction: the block's write
 * transaction commits the tree nodes together with everything else the block changed.
 *
 * Both trees only ever add nodes, so puts use STORE_PUT_NEW: a log node put again must
 * carry the same hash (a different one means a bug or a corrupt file, reported as TB_EIO),
 * and a status node is addressed by its own hash, so a second put is a no-op.
 *
 * Must never: include lmdb.h, or trust a stored value's size (the trees re-hash what
 * they read; the sizes are checked here).
 */
#include <string.h>

#include "store.h"
#include "tb_assert.h"

#define STORE_LOG_KEY_BYTES 9u
#define STORE_SMT_VALUE_BYTES (1u + 2u * CR_HASH_BYTES)

static struct tb_bytes store_log_key(uint8_t key[STORE_LOG_KEY_BYTES], uint32_t level,
                                     uint64_t index)
{
    TB_ASSERT(level < CR_LOG_LEVELS);
    key[0] = (uint8_t)level;
    for (int i = 8; i >= 1; i--) {
        key[i] = (uint8_t)(index & 0xffu);
        index >>= 8;
    }
    struct tb_bytes k = {.ptr = key, .len = STORE_LOG_KEY_BYTES};
    return k;
}

static struct store_txn *store_tree_txn(void *impl, void *txn)
{
    TB_ASSERT(impl != NULL);
    TB_ASSERT(txn != NULL); /* the trees always run inside one of our transactions */
    struct store_txn *t = txn;
    TB_ASSERT(store_txn_store(t) == impl);
    return t;
}

static int store_log_get(void *impl, void *txn, uint32_t level, uint64_t index,
                         uint8_t out[CR_HASH_BYTES], char *errmsg)
{
    uint8_t key[STORE_LOG_KEY_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    return store_get_exact(t, STORE_DB_LOG_NODES, store_log_key(key, level, index), out,
                           CR_HASH_BYTES, errmsg);
}

static int store_log_put(void *impl, void *txn, uint32_t level, uint64_t index,
                         const uint8_t hash[CR_HASH_BYTES], char *errmsg)
{
    uint8_t key[STORE_LOG_KEY_BYTES];
    uint8_t old[CR_HASH_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    struct tb_bytes k = store_log_key(key, level, index);
    struct tb_bytes v = {.ptr = hash, .len = CR_HASH_BYTES};
    int rv = store_put(t, STORE_DB_LOG_NODES, k, v, STORE_PUT_NEW, errmsg);
    if (rv != TB_EEXIST)
        return rv;
    /* Put again after a rolled-back append: fine only with the same hash. */
    rv = store_get_exact(t, STORE_DB_LOG_NODES, k, old, sizeof(old), errmsg);
    if (rv != TB_OK)
        return rv;
    if (memcmp(old, hash, CR_HASH_BYTES) != 0)
        return tb_fail(errmsg, TB_EIO, "log_nodes: stored node differs from the new one");
    return TB_OK;
}

struct cr_log_store store_log_tree(struct store *s)
{
    TB_ASSERT(s != NULL);
    struct cr_log_store st = {.impl = s, .get = store_log_get, .put = store_log_put};
    return st;
}

static int store_smt_get(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                         struct cr_smt_node *out, char *errmsg)
{
    uint8_t v[STORE_SMT_VALUE_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    struct tb_bytes k = {.ptr = hash, .len = CR_HASH_BYTES};
    int rv = store_get_exact(t, STORE_DB_SMT_NODES, k, v, sizeof(v), errmsg);
    if (rv != TB_OK)
        return rv;
    out->kind = v[0]; /* cr_smt checks the kind and re-hashes the node */
    memcpy(out->a, v + 1, CR_HASH_BYTES);
    memcpy(out->b, v + 1 + CR_HASH_BYTES, CR_HASH_BYTES);
    return TB_OK;
}

static int store_smt_put(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                         const struct cr_smt_node *node, char *errmsg)
{
    uint8_t v[STORE_SMT_VALUE_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    TB_ASSERT(node->kind == CR_SMT_NODE_LEAF || node->kind == CR_SMT_NODE_INNER);
    v[0] = node->kind;
    memcpy(v + 1, node->a, CR_HASH_BYTES);
    memcpy(v + 1 + CR_HASH_BYTES, node->b, CR_HASH_BYTES);
    struct tb_bytes k = {.ptr = hash, .len = CR_HASH_BYTES};
    struct tb_bytes val = {.ptr = v, .len = sizeof(v)};
    int rv = store_put(t, STORE_DB_SMT_NODES, k, val, STORE_PUT_NEW, errmsg);
    return rv == TB_EEXIST ? TB_OK : rv; /* content-addressed: already there is done */
}

struct cr_smt_store store_smt_tree(struct store *s)
{
    TB_ASSERT(s != NULL);
    struct cr_smt_store st = {.impl = s, .get = store_smt_get, .put = store_smt_put};
    return st;
}
