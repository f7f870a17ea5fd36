/*
 * The ledger's log: one append-only Merkle tree over every committed tx id, exactly
 * as RFC 9162 section 2.1 defines it (DESIGN 3.5):
 *   leaf hash  H(0x00 || leaf data)
 *   node hash  H(0x01 || left || right), split at the largest power of two below n
 *   empty tree H("")
 * For the ledger the leaf data is a 32-byte tx id; the API takes any bytes so that the
 * Certificate Transparency reference vectors apply unchanged.
 *
 * Storage: the tree keeps the hash of every complete perfect subtree, addressed by
 * (level, index): level 0 holds leaf hashes, and node (l, i) covers leaves
 * [i * 2^l, (i + 1) * 2^l). Those nodes never change once written, so any historical
 * root, inclusion proof or consistency proof can be rebuilt from them with O(log n)
 * reads. Appending writes one leaf plus one node per completed level (amortised two
 * puts) and hashes only along the right edge, which the tree caches in memory.
 *
 * The store is a vtable so that the in-memory store here and a later LMDB store in
 * node/ look the same. Every call that touches the store takes an opaque `txn` that is
 * handed through unchanged, so that puts land in the caller's write transaction.
 *
 * This module never does I/O itself, never allocates per append, and never asserts
 * on store contents or on untrusted proofs: those give TB_E* codes.
 */
#ifndef CR_LOG_H
#define CR_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Trees hold fewer than 2^63 leaves, so that every inclusion or consistency path fits
 * in CR_LOG_PATH_MAX hashes (depth <= 63, plus one for a consistency proof's start).
 */
#define CR_LOG_SIZE_MAX (UINT64_C(1) << 63)
#define CR_LOG_PATH_MAX 64
#define CR_LOG_LEVELS 64

/*
 * An inclusion or consistency path: hashes[0..count) in RFC 9162 order (the hash
 * nearest the leaves first). A decoder of untrusted proofs fills this struct; count
 * beyond CR_LOG_PATH_MAX is refused by the verifiers.
 */
struct cr_log_path
{
    uint32_t count;
    uint8_t hashes[CR_LOG_PATH_MAX][CR_HASH_BYTES];
};

/*
 * Node storage. `impl` is the store's own state; `txn` is whatever the caller passed to
 * the cr_log_* call (an LMDB transaction, or NULL for the in-memory store).
 *
 * get: copies the hash of node (level, index) into out. TB_ENOTFOUND if absent (for the
 *      tree that means a corrupt or truncated store); any other TB_E* from the backend.
 *      Writes a reason into errmsg (TB_ERRMSG_SIZE bytes) on failure.
 * put: stores the hash of node (level, index). A node may be put again with the same
 *      hash (after a rolled-back transaction); it is never put with a different one.
 *      TB_E* from the backend (TB_ENOMEM, TB_ENOSPC, TB_EIO) with errmsg.
 */
struct cr_log_store
{
    void *impl;
    int (*get)(void *impl, void *txn, uint32_t level, uint64_t index, uint8_t out[CR_HASH_BYTES],
               char *errmsg);
    int (*put)(void *impl, void *txn, uint32_t level, uint64_t index,
               const uint8_t hash[CR_HASH_BYTES], char *errmsg);
};

/*
 * A log tree over a store. Not thread-safe. The caller owns the struct; the store is
 * borrowed and must outlive it. size is the number of leaves appended (read-only for
 * the caller). edge[l] caches the hash of the perfect subtree that bit l of size
 * stands for, so appends and the current root need no reads.
 */
struct cr_log
{
    enum cr_suite suite;
    struct cr_log_store store;
    uint64_t size;
    uint8_t edge[CR_LOG_LEVELS][CR_HASH_BYTES];
    struct cr_hasher hasher;
    char errmsg[TB_ERRMSG_SIZE];
};

/* RFC 9162 leaf hash H(0x00 || data). Pure. */
void cr_log_leaf_hash(enum cr_suite suite, const void *data, size_t len,
                      uint8_t out[CR_HASH_BYTES]);

/* The root of the empty tree, H(""). Pure. */
void cr_log_empty_root(enum cr_suite suite, uint8_t out[CR_HASH_BYTES]);

/*
 * Opens a tree of `size` leaves whose nodes are already in store (0 for a new tree):
 * reads the right edge (popcount(size) reads). The store is copied (a small struct).
 * TB_EINVAL for size >= CR_LOG_SIZE_MAX, TB_ENOMEM, or the store's error (then errmsg
 * says which node). On failure nothing needs releasing.
 *
 * The same call reloads the tree after the caller rolled back a transaction that held
 * appends: cr_log_release, then cr_log_init with the last committed size.
 */
TB_MUST_CHECK int cr_log_init(struct cr_log *log, enum cr_suite suite,
                              const struct cr_log_store *store, void *txn, uint64_t size);
void cr_log_release(struct cr_log *log);

/*
 * Appends one leaf (give it cr_log_leaf_hash of the leaf data). On success size grows
 * by one. On failure (TB_ELIMIT when full, or the store's put error) the in-memory tree
 * is unchanged; puts already made are harmless duplicates of the next attempt.
 */
TB_MUST_CHECK int cr_log_append(struct cr_log *log, void *txn,
                                const uint8_t leaf_hash[CR_HASH_BYTES]);

/*
 * Root of the tree as it was at `size` leaves (0 <= size <= log->size). The current
 * size needs no reads; an older one needs at most 63. TB_EINVAL for size > log->size;
 * the store's error otherwise.
 */
TB_MUST_CHECK int cr_log_root(struct cr_log *log, void *txn, uint64_t size,
                              uint8_t out[CR_HASH_BYTES]);

/*
 * RFC 9162 2.1.3.1 inclusion proof of leaf `index` in the tree of `size` leaves
 * (index < size <= log->size), into out. TB_EINVAL for bad arguments; the store's
 * error otherwise.
 */
TB_MUST_CHECK int cr_log_inclusion_proof(struct cr_log *log, void *txn, uint64_t index,
                                         uint64_t size, struct cr_log_path *out);

/*
 * RFC 9162 2.1.4.1 consistency proof from `size1` to `size2` leaves
 * (size1 <= size2 <= log->size). size1 == 0 or size1 == size2 give an empty path, which
 * cr_log_verify_consistency accepts for those cases only. TB_EINVAL for bad arguments;
 * the store's error otherwise.
 */
TB_MUST_CHECK int cr_log_consistency_proof(struct cr_log *log, void *txn, uint64_t size1,
                                           uint64_t size2, struct cr_log_path *out);

/*
 * RFC 9162 2.1.3.2: checks that leaf_hash is leaf `index` of the tree of `size` leaves
 * whose root is `root`. Pure, for untrusted input. TB_OK or TB_EPROOF (also for
 * index >= size, size >= CR_LOG_SIZE_MAX, a path of the wrong length).
 */
TB_MUST_CHECK int cr_log_verify_inclusion(enum cr_suite suite,
                                          const uint8_t leaf_hash[CR_HASH_BYTES], uint64_t index,
                                          uint64_t size, const struct cr_log_path *path,
                                          const uint8_t root[CR_HASH_BYTES]);

/*
 * RFC 9162 2.1.4.2: checks that the tree (size2, root2) extends (size1, root1). Pure,
 * for untrusted input. TB_OK or TB_EPROOF. Beyond the RFC's 0 < size1 < size2 case:
 * size1 == size2 needs an empty path and equal roots; size1 == 0 needs an empty path
 * and root1 == H(""); size1 > size2 or a size >= CR_LOG_SIZE_MAX is refused.
 */
TB_MUST_CHECK int cr_log_verify_consistency(enum cr_suite suite, uint64_t size1,
                                            const uint8_t root1[CR_HASH_BYTES], uint64_t size2,
                                            const uint8_t root2[CR_HASH_BYTES],
                                            const struct cr_log_path *path);

/*
 * In-memory store: one growable array of hashes per level (about 64 bytes per leaf in
 * total). Puts must come in append order per level (index <= count), as cr_log makes
 * them. For tests, the bench and tools; the node uses LMDB.
 */
struct cr_log_mem
{
    uint8_t *level_hashes[CR_LOG_LEVELS];
    uint64_t level_count[CR_LOG_LEVELS];
    uint64_t level_cap[CR_LOG_LEVELS];
};

/* Cannot fail; allocates nothing until the first put. */
void cr_log_mem_init(struct cr_log_mem *mem);
void cr_log_mem_release(struct cr_log_mem *mem);
/* A vtable over mem (borrowed: mem must outlive every tree using it). */
struct cr_log_store cr_log_mem_store(struct cr_log_mem *mem);
/* Bytes of heap the store holds. */
size_t cr_log_mem_bytes(const struct cr_log_mem *mem);

#ifdef __cplusplus
}
#endif
#endif
