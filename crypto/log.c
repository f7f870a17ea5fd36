/*
 * The RFC 9162 log tree: appends, historical roots, inclusion and consistency proofs
 * from stored perfect-subtree nodes, and the pure verifiers.
 *
 * Every range the RFC's recursive definitions touch is [lo, lo + len) with lo a
 * multiple of the power of two at or above len, so its hash is the right-fold of the
 * perfect subtrees named by the bits of len (range_hash). Proof generation walks the
 * RFC's recursion top-down and reverses the collected hashes at the end.
 *
 * Must never: trust a proof (every loop is bounded by the path and 64 levels), assert on
 * what the store returns, or change the in-memory tree when a store call failed.
 */
#include <string.h>

#include "cr_log.h"
#include "tb_assert.h"
#include "tb_hex.h"

_Static_assert(CR_LOG_LEVELS == 64, "edge[] has one entry per bit of a uint64_t size");
_Static_assert(CR_LOG_PATH_MAX >= 64, "a consistency path of a 2^63-leaf tree has 64 hashes");

static void log_node_hash(struct cr_hasher *h, const uint8_t left[CR_HASH_BYTES],
                          const uint8_t right[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES])
{
    static const uint8_t prefix = 0x01;
    cr_hasher_begin(h);
    cr_hasher_update(h, &prefix, 1);
    cr_hasher_update(h, left, CR_HASH_BYTES);
    cr_hasher_update(h, right, CR_HASH_BYTES);
    cr_hasher_final(h, out);
}

/* The pure verifiers have no hasher: one-shot hashing of the 65-byte node preimage. */
static void log_node_hash_pure(enum cr_suite suite, const uint8_t left[CR_HASH_BYTES],
                               const uint8_t right[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES])
{
    uint8_t buf[1 + 2 * CR_HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, left, CR_HASH_BYTES);
    memcpy(buf + 1 + CR_HASH_BYTES, right, CR_HASH_BYTES);
    cr_hash(suite, buf, sizeof(buf), out);
}

void cr_log_leaf_hash(enum cr_suite suite, const void *data, size_t len, uint8_t out[CR_HASH_BYTES])
{
    static const uint8_t prefix = 0x00;
    uint8_t small[1 + 4 * CR_HASH_BYTES];
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(data != NULL || len == 0);
    /* Tx ids (32 bytes) take the allocation-free one-shot path. */
    if (len < sizeof(small)) {
        small[0] = prefix;
        if (len > 0) {
            memcpy(small + 1, data, len);
        }
        cr_hash(suite, small, len + 1, out);
        return;
    }
    /* Longer leaves are rare (tests, tools): a local hasher, fatal on OOM like cr_hash. */
    struct cr_hasher h;
    int rv = cr_hasher_init(&h, suite);
    TB_ASSERT(rv == TB_OK);
    cr_hasher_begin(&h);
    cr_hasher_update(&h, &prefix, 1);
    cr_hasher_update(&h, data, len);
    cr_hasher_final(&h, out);
    cr_hasher_release(&h);
}

void cr_log_empty_root(enum cr_suite suite, uint8_t out[CR_HASH_BYTES])
{
    TB_ASSERT(cr_suite_valid((int)suite));
    cr_hash(suite, "", 0, out);
}

static int log_get(struct cr_log *log, void *txn, uint32_t level, uint64_t index,
                   uint8_t out[CR_HASH_BYTES])
{
    TB_ASSERT(level < CR_LOG_LEVELS);
    TB_ASSERT(index < (CR_LOG_SIZE_MAX >> level));
    int rv = log->store.get(log->store.impl, txn, level, index, out, log->errmsg);
    if (rv != TB_OK) {
        TB_ASSERT(rv < 0);
        tb_errmsg_wrapf(log->errmsg, "log node (%u, %llu)", (unsigned)level,
                        (unsigned long long)index);
    }
    return rv;
}

static int log_put(struct cr_log *log, void *txn, uint32_t level, uint64_t index,
                   const uint8_t hash[CR_HASH_BYTES])
{
    TB_ASSERT(level < CR_LOG_LEVELS);
    TB_ASSERT(index < (CR_LOG_SIZE_MAX >> level));
    int rv = log->store.put(log->store.impl, txn, level, index, hash, log->errmsg);
    if (rv != TB_OK) {
        TB_ASSERT(rv < 0);
        tb_errmsg_wrapf(log->errmsg, "put log node (%u, %llu)", (unsigned)level,
                        (unsigned long long)index);
    }
    return rv;
}

int cr_log_init(struct cr_log *log, enum cr_suite suite, const struct cr_log_store *store,
                void *txn, uint64_t size)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(store != NULL);
    TB_ASSERT(store->get != NULL);
    TB_ASSERT(store->put != NULL);
    memset(log, 0, sizeof(*log));
    log->suite = suite;
    log->store = *store;
    if (size >= CR_LOG_SIZE_MAX) {
        return tb_fail(log->errmsg, TB_EINVAL, "log size %llu too large", (unsigned long long)size);
    }
    for (uint32_t level = 0; level < CR_LOG_LEVELS; level++) {
        if ((size >> level) & 1) {
            int rv = log_get(log, txn, level, (size >> level) - 1, log->edge[level]);
            if (rv != TB_OK) {
                return rv;
            }
        }
    }
    if (cr_hasher_init(&log->hasher, suite) != TB_OK) {
        return tb_fail(log->errmsg, TB_ENOMEM, "log hasher");
    }
    log->size = size;
    return TB_OK;
}

void cr_log_release(struct cr_log *log)
{
    cr_hasher_release(&log->hasher);
    log->size = 0;
}

int cr_log_append(struct cr_log *log, void *txn, const uint8_t leaf_hash[CR_HASH_BYTES])
{
    uint8_t hash[CR_HASH_BYTES];
    uint64_t n = log->size;
    TB_ASSERT(log->hasher.md_ctx != NULL);
    TB_ASSERT(n < CR_LOG_SIZE_MAX);
    if (n + 1 >= CR_LOG_SIZE_MAX) {
        return tb_fail(log->errmsg, TB_ELIMIT, "log full at %llu leaves", (unsigned long long)n);
    }
    int rv = log_put(log, txn, 0, n, leaf_hash);
    if (rv != TB_OK) {
        return rv;
    }
    /*
     * Each trailing one bit of n is a perfect subtree on the right edge that the new
     * leaf completes into one twice its size: merge and store until a zero bit. The
     * edge is only written after every put succeeded.
     */
    memcpy(hash, leaf_hash, CR_HASH_BYTES);
    uint32_t level = 0;
    while ((n >> level) & 1) {
        log_node_hash(&log->hasher, log->edge[level], hash, hash);
        level++;
        TB_ASSERT(level < CR_LOG_LEVELS);
        rv = log_put(log, txn, level, n >> level, hash);
        if (rv != TB_OK) {
            return rv;
        }
    }
    memcpy(log->edge[level], hash, CR_HASH_BYTES);
    log->size = n + 1;
    TB_ASSERT(((log->size >> level) & 1) == 1);
    return TB_OK;
}

/* Root of the current tree from the cached right edge: fold from the smallest subtree. */
static void log_root_current(struct cr_log *log, uint8_t out[CR_HASH_BYTES])
{
    uint64_t size = log->size;
    TB_ASSERT(size > 0);
    uint32_t low = (uint32_t)__builtin_ctzll(size);
    memcpy(out, log->edge[low], CR_HASH_BYTES);
    for (uint32_t level = low + 1; level < CR_LOG_LEVELS; level++) {
        if ((size >> level) & 1) {
            log_node_hash(&log->hasher, log->edge[level], out, out);
        }
    }
}

/*
 * MTH of leaves [lo, lo + len): the perfect subtrees for the bits of len, from the
 * largest (leftmost) down, folded right to left. lo must be aligned so that those
 * subtrees are stored nodes, which holds for every range of the RFC's recursion.
 */
static int log_range_hash(struct cr_log *log, void *txn, uint64_t lo, uint64_t len,
                          uint8_t out[CR_HASH_BYTES])
{
    uint8_t piece[CR_HASH_BYTES];
    TB_ASSERT(len > 0);
    TB_ASSERT(lo + len <= log->size);
    uint32_t low = (uint32_t)__builtin_ctzll(len);
    uint64_t start = lo + len - (UINT64_C(1) << low);
    int rv = log_get(log, txn, low, start >> low, out);
    for (uint32_t level = low + 1; rv == TB_OK && level < CR_LOG_LEVELS; level++) {
        if ((len >> level) & 1) {
            start -= UINT64_C(1) << level;
            TB_ASSERT(start % (UINT64_C(1) << level) == 0);
            rv = log_get(log, txn, level, start >> level, piece);
            if (rv == TB_OK) {
                log_node_hash(&log->hasher, piece, out, out);
            }
        }
    }
    if (rv == TB_OK) {
        TB_ASSERT(start == lo);
    }
    return rv;
}

int cr_log_root(struct cr_log *log, void *txn, uint64_t size, uint8_t out[CR_HASH_BYTES])
{
    TB_ASSERT(log->hasher.md_ctx != NULL);
    if (size > log->size) {
        return tb_fail(log->errmsg, TB_EINVAL, "root at %llu beyond log size %llu",
                       (unsigned long long)size, (unsigned long long)log->size);
    }
    if (size == 0) {
        cr_log_empty_root(log->suite, out);
        return TB_OK;
    }
    if (size == log->size) {
        log_root_current(log, out);
        return TB_OK;
    }
    return log_range_hash(log, txn, 0, size, out);
}

/* Largest power of two strictly below n (n >= 2): the RFC's split point k. */
static uint64_t log_split(uint64_t n)
{
    TB_ASSERT(n >= 2);
    uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));
    TB_ASSERT(k < n);
    TB_ASSERT(n <= 2 * k);
    return k;
}

static void log_path_reverse(struct cr_log_path *path)
{
    TB_ASSERT(path->count <= CR_LOG_PATH_MAX);
    for (uint32_t i = 0, j = path->count; i + 1 < j; i++, j--) {
        uint8_t tmp[CR_HASH_BYTES];
        memcpy(tmp, path->hashes[i], CR_HASH_BYTES);
        memcpy(path->hashes[i], path->hashes[j - 1], CR_HASH_BYTES);
        memcpy(path->hashes[j - 1], tmp, CR_HASH_BYTES);
    }
}

int cr_log_inclusion_proof(struct cr_log *log, void *txn, uint64_t index, uint64_t size,
                           struct cr_log_path *out)
{
    TB_ASSERT(log->hasher.md_ctx != NULL);
    out->count = 0;
    if (size > log->size || index >= size) {
        return tb_fail(log->errmsg, TB_EINVAL, "inclusion of %llu in %llu (log size %llu)",
                       (unsigned long long)index, (unsigned long long)size,
                       (unsigned long long)log->size);
    }
    /* PATH(m, D[lo:lo+len]): descend towards leaf m, collecting the other side. */
    uint64_t lo = 0;
    uint64_t len = size;
    while (len > 1) {
        TB_ASSERT(out->count < CR_LOG_PATH_MAX);
        uint64_t k = log_split(len);
        uint8_t *sibling = out->hashes[out->count++];
        int rv;
        if (index - lo < k) {
            rv = log_range_hash(log, txn, lo + k, len - k, sibling);
            len = k;
        } else {
            uint32_t level = (uint32_t)__builtin_ctzll(k);
            rv = log_get(log, txn, level, lo >> level, sibling);
            lo += k;
            len -= k;
        }
        if (rv != TB_OK) {
            out->count = 0;
            return rv;
        }
    }
    TB_ASSERT(lo == index);
    log_path_reverse(out);
    return TB_OK;
}

int cr_log_consistency_proof(struct cr_log *log, void *txn, uint64_t size1, uint64_t size2,
                             struct cr_log_path *out)
{
    TB_ASSERT(log->hasher.md_ctx != NULL);
    out->count = 0;
    if (size2 > log->size || size1 > size2) {
        return tb_fail(log->errmsg, TB_EINVAL, "consistency %llu to %llu (log size %llu)",
                       (unsigned long long)size1, (unsigned long long)size2,
                       (unsigned long long)log->size);
    }
    if (size1 == 0 || size1 == size2) {
        return TB_OK;
    }
    /* SUBPROOF(m, D[lo:lo+len], whole): m is relative to lo. */
    uint64_t m = size1;
    uint64_t lo = 0;
    uint64_t len = size2;
    int whole = 1;
    int rv = TB_OK;
    while (rv == TB_OK && m != len) {
        TB_ASSERT(m < len);
        TB_ASSERT(out->count < CR_LOG_PATH_MAX);
        uint64_t k = log_split(len);
        uint8_t *sibling = out->hashes[out->count++];
        if (m <= k) {
            rv = log_range_hash(log, txn, lo + k, len - k, sibling);
            len = k;
        } else {
            uint32_t level = (uint32_t)__builtin_ctzll(k);
            rv = log_get(log, txn, level, lo >> level, sibling);
            m -= k;
            lo += k;
            len -= k;
            whole = 0;
        }
    }
    if (rv == TB_OK && !whole) {
        TB_ASSERT(out->count < CR_LOG_PATH_MAX);
        rv = log_range_hash(log, txn, lo, len, out->hashes[out->count++]);
    }
    if (rv != TB_OK) {
        out->count = 0;
        return rv;
    }
    log_path_reverse(out);
    return TB_OK;
}

int cr_log_verify_inclusion(enum cr_suite suite, const uint8_t leaf_hash[CR_HASH_BYTES],
                            uint64_t index, uint64_t size, const struct cr_log_path *path,
                            const uint8_t root[CR_HASH_BYTES])
{
    uint8_t r[CR_HASH_BYTES];
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(path != NULL);
    if (index >= size || size >= CR_LOG_SIZE_MAX || path->count > CR_LOG_PATH_MAX) {
        return TB_EPROOF;
    }
    uint64_t fn = index;
    uint64_t sn = size - 1;
    memcpy(r, leaf_hash, CR_HASH_BYTES);
    for (uint32_t i = 0; i < path->count; i++) {
        const uint8_t *p = path->hashes[i];
        if (sn == 0) {
            return TB_EPROOF; /* path longer than the tree is deep */
        }
        if ((fn & 1) || fn == sn) {
            log_node_hash_pure(suite, p, r, r);
            /* Skip the levels where this node has no right sibling (bounded: 64 shifts). */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            log_node_hash_pure(suite, r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !tb_memeq_ct(r, root, CR_HASH_BYTES)) {
        return TB_EPROOF;
    }
    return TB_OK;
}

/* The RFC's 0 < size1 < size2 case, after the edge cases were settled by the caller. */
static int log_verify_consistency_path(enum cr_suite suite, uint64_t size1,
                                       const uint8_t root1[CR_HASH_BYTES], uint64_t size2,
                                       const uint8_t root2[CR_HASH_BYTES],
                                       const struct cr_log_path *path)
{
    uint8_t fr[CR_HASH_BYTES];
    uint8_t sr[CR_HASH_BYTES];
    TB_ASSERT(0 < size1);
    TB_ASSERT(size1 < size2);
    TB_ASSERT(path->count > 0);
    TB_ASSERT(path->count <= CR_LOG_PATH_MAX);
    /* A power-of-two first tree is a node of the second: its root starts the path. */
    uint32_t first = 0;
    if ((size1 & (size1 - 1)) == 0) {
        memcpy(fr, root1, CR_HASH_BYTES);
    } else {
        memcpy(fr, path->hashes[0], CR_HASH_BYTES);
        first = 1;
    }
    memcpy(sr, fr, CR_HASH_BYTES);
    uint64_t fn = size1 - 1;
    uint64_t sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (uint32_t i = first; i < path->count; i++) {
        const uint8_t *c = path->hashes[i];
        if (sn == 0) {
            return TB_EPROOF;
        }
        if ((fn & 1) || fn == sn) {
            log_node_hash_pure(suite, c, fr, fr);
            log_node_hash_pure(suite, c, sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            log_node_hash_pure(suite, sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !tb_memeq_ct(fr, root1, CR_HASH_BYTES) ||
        !tb_memeq_ct(sr, root2, CR_HASH_BYTES)) {
        return TB_EPROOF;
    }
    return TB_OK;
}

int cr_log_verify_consistency(enum cr_suite suite, uint64_t size1,
                              const uint8_t root1[CR_HASH_BYTES], uint64_t size2,
                              const uint8_t root2[CR_HASH_BYTES], const struct cr_log_path *path)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(path != NULL);
    if (size1 > size2 || size2 >= CR_LOG_SIZE_MAX || path->count > CR_LOG_PATH_MAX) {
        return TB_EPROOF;
    }
    if (size1 == size2 || size1 == 0) {
        uint8_t empty[CR_HASH_BYTES];
        cr_log_empty_root(suite, empty);
        if (path->count != 0) {
            return TB_EPROOF;
        }
        if (size1 == 0 && !tb_memeq_ct(root1, empty, CR_HASH_BYTES)) {
            return TB_EPROOF;
        }
        if (size1 == size2 && !tb_memeq_ct(root1, root2, CR_HASH_BYTES)) {
            return TB_EPROOF;
        }
        return TB_OK;
    }
    if (path->count == 0) {
        return TB_EPROOF;
    }
    return log_verify_consistency_path(suite, size1, root1, size2, root2, path);
}
