/*
 * node/store_trees.c: the LMDB-backed node stores of the log tree (cr_log_store over
 * log_nodes) and the status tree (cr_smt_store over smt_nodes_v2 and smt_roots), built on
 * the generic store API so that the nodes land in the caller's transaction: the block's
 * write transaction commits the tree nodes together with everything else the block
 * changed.
 *
 * Both trees only ever add nodes. A log node put again must carry the same hash (a
 * different one means a bug or a corrupt file, reported as TB_EIO). A status node is
 * appended under the next location (store_append_u64: big-endian u64 keys, so one
 * block's nodes fill fresh pages instead of touching random ones), as
 *   kind(1) || a(32) || b(32) [|| a_loc u64 || b_loc u64 for an inner node],
 * and each new status root gets root hash -> location u64 in smt_roots (STORE_PUT_NEW:
 * a root seen again keeps its first location).
 *
 * Must never: include lmdb.h, or trust a stored value's size or kind (the tree re-hashes
 * what it reads; sizes, and that a size matches its kind, are checked here).
 */
#include <string.h>

#include "store.h"
#include "tb_assert.h"

#define STORE_LOG_KEY_BYTES 9u
#define STORE_SMT_LEAF_BYTES (1u + 2u * CR_HASH_BYTES)
#define STORE_SMT_INNER_BYTES (STORE_SMT_LEAF_BYTES + 16u)
#define STORE_SMT_LOC_BYTES 8u

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

static void store_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static int store_smt_get(void *impl, void *txn, uint64_t loc, struct cr_smt_node *out, char *errmsg)
{
    uint8_t key[STORE_SMT_LOC_BYTES];
    uint8_t v[STORE_SMT_INNER_BYTES];
    size_t len = 0;
    struct store_txn *t = store_tree_txn(impl, txn);
    TB_ASSERT(loc != 0);
    store_put_be64(key, loc);
    struct tb_bytes k = {.ptr = key, .len = sizeof(key)};
    int rv = store_get_upto(t, STORE_DB_SMT_NODES, k, v, sizeof(v), &len, errmsg);
    if (rv != TB_OK)
        return rv;
    bool leaf = v[0] == CR_SMT_NODE_LEAF && len == STORE_SMT_LEAF_BYTES;
    bool inner = v[0] == CR_SMT_NODE_INNER && len == STORE_SMT_INNER_BYTES;
    if (len == 0 || (!leaf && !inner)) {
        return tb_fail(errmsg, TB_EIO,
                       "smt_nodes_v2: corrupt store: node %llu of %zu bytes, kind %u",
                       (unsigned long long)loc, len, len ? (unsigned)v[0] : 0u);
    }
    out->kind = v[0]; /* cr_smt re-hashes the node against what its parent says */
    memcpy(out->a, v + 1, CR_HASH_BYTES);
    memcpy(out->b, v + 1 + CR_HASH_BYTES, CR_HASH_BYTES);
    out->a_loc = inner ? store_be64(v + STORE_SMT_LEAF_BYTES) : 0;
    out->b_loc = inner ? store_be64(v + STORE_SMT_LEAF_BYTES + 8) : 0;
    return TB_OK;
}

static int store_smt_put(void *impl, void *txn, const struct cr_smt_node *node, uint64_t *loc,
                         char *errmsg)
{
    uint8_t v[STORE_SMT_INNER_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    TB_ASSERT(node->kind == CR_SMT_NODE_LEAF || node->kind == CR_SMT_NODE_INNER);
    v[0] = node->kind;
    memcpy(v + 1, node->a, CR_HASH_BYTES);
    memcpy(v + 1 + CR_HASH_BYTES, node->b, CR_HASH_BYTES);
    size_t len = STORE_SMT_LEAF_BYTES;
    if (node->kind == CR_SMT_NODE_INNER) {
        store_put_be64(v + STORE_SMT_LEAF_BYTES, node->a_loc);
        store_put_be64(v + STORE_SMT_LEAF_BYTES + 8, node->b_loc);
        len = STORE_SMT_INNER_BYTES;
    } else {
        TB_ASSERT(node->a_loc == 0 && node->b_loc == 0);
    }
    struct tb_bytes val = {.ptr = v, .len = len};
    return store_append_u64(t, STORE_DB_SMT_NODES, val, loc, errmsg);
}

static int store_smt_root_put(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                              uint64_t loc, char *errmsg)
{
    uint8_t v[STORE_SMT_LOC_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    TB_ASSERT(loc != 0);
    store_put_be64(v, loc);
    struct tb_bytes k = {.ptr = hash, .len = CR_HASH_BYTES};
    struct tb_bytes val = {.ptr = v, .len = sizeof(v)};
    int rv = store_put(t, STORE_DB_SMT_ROOTS, k, val, STORE_PUT_NEW, errmsg);
    return rv == TB_EEXIST ? TB_OK : rv; /* a root seen again keeps its first location */
}

static int store_smt_root_get(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                              uint64_t *loc, char *errmsg)
{
    uint8_t v[STORE_SMT_LOC_BYTES];
    struct store_txn *t = store_tree_txn(impl, txn);
    struct tb_bytes k = {.ptr = hash, .len = CR_HASH_BYTES};
    int rv = store_get_exact(t, STORE_DB_SMT_ROOTS, k, v, sizeof(v), errmsg);
    if (rv != TB_OK)
        return rv;
    *loc = store_be64(v);
    if (*loc == 0)
        return tb_fail(errmsg, TB_EIO, "smt_roots: corrupt store: location 0");
    return TB_OK;
}

struct cr_smt_store store_smt_tree(struct store *s)
{
    TB_ASSERT(s != NULL);
    struct cr_smt_store st = {.impl = s,
                              .get = store_smt_get,
                              .put = store_smt_put,
                              .root_put = store_smt_root_put,
                              .root_get = store_smt_root_get};
    return st;
}
