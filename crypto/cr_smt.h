/*
 * The status tree (DESIGN 3.6): a sparse Merkle tree over 256-bit keys in compact form.
 *   empty subtree             32 zero bytes
 *   subtree with one leaf     that leaf's hash, at whatever depth
 *   leaf                      H(0x00 || key || value_hash), value_hash = H(value bytes)
 *   any other subtree         H(0x01 || left || right)
 * Key bits are read from the most significant bit of key[0] down; bit 0 selects the
 * root's child, 0 = left.
 *
 * Nodes are content-addressed and immutable: node hash -> (left, right) for inner nodes
 * and leaf hash -> (key, value_hash) for leaves, never overwritten. An update returns a
 * new root and leaves every older root intact, so the caller keeps one root per version
 * and can prove against any of them. The store is a vtable (in-memory here, LMDB in
 * node/); every call passes the caller's opaque `txn` through to it.
 *
 * Must never: trust a proof or store contents (errors, not asserts), or recurse deeper
 * than 256 levels.
 */
#ifndef CR_SMT_H
#define CR_SMT_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_SMT_KEY_BYTES 32
#define CR_SMT_DEPTH_MAX 256

enum cr_smt_node_kind {
    CR_SMT_NODE_LEAF = 1,  /* a = key, b = value_hash */
    CR_SMT_NODE_INNER = 2, /* a = left child hash, b = right child hash */
};

/* A stored node; its address is its hash. */
struct cr_smt_node
{
    uint8_t kind; /* enum cr_smt_node_kind */
    uint8_t a[CR_HASH_BYTES];
    uint8_t b[CR_HASH_BYTES];
};

/*
 * Node storage. get copies the node whose hash is `hash` into out: TB_ENOTFOUND if
 * absent (a corrupt store for the tree), or another TB_E* from the backend, with a
 * reason in errmsg (TB_ERRMSG_SIZE bytes). put stores a node under its hash; putting an
 * existing node again is a no-op. The tree re-hashes every node it reads, so a store
 * that returns the wrong bytes gives TB_EIO rather than a wrong root.
 */
struct cr_smt_store
{
    void *impl;
    int (*get)(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES], struct cr_smt_node *out,
               char *errmsg);
    int (*put)(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
               const struct cr_smt_node *node, char *errmsg);
};

/* One change of a batch: set key to value_hash, or remove key (value_hash ignored). */
struct cr_smt_op
{
    uint8_t key[CR_SMT_KEY_BYTES];
    uint8_t value_hash[CR_HASH_BYTES];
    uint8_t remove; /* 0 = upsert, 1 = remove */
};

/*
 * A tree handle: suite, store and scratch space. It holds no root; roots are values the
 * caller keeps (32 zero bytes is the empty tree). Not thread-safe.
 */
struct cr_smt
{
    enum cr_suite suite;
    struct cr_smt_store store;
    struct cr_hasher hasher;
    const struct cr_smt_op **sorted; /* scratch: the batch sorted by key */
    size_t sorted_cap;
    char errmsg[TB_ERRMSG_SIZE];
};

/*
 * Proof for one key against one root: siblings[0..depth) from the root's children down
 * to the level where the key's path ends, and what it ends in:
 *   CR_SMT_END_EMPTY  an empty subtree: the key is absent;
 *   CR_SMT_END_LEAF   a leaf (leaf_key, leaf_value_hash): the key itself (membership) or
 *                     a different key sharing the first `depth` bits (absence).
 *
 * Compact serialisation (cr_smt_proof_encode/decode; a JSON or msgpack carrier can
 * hold the same bytes, e.g. in base64):
 *   depth      2 bytes, big-endian, 0..256
 *   end        1 byte, 0 = empty, 1 = leaf
 *   leaf       32-byte key and 32-byte value hash, only when end = 1
 *   bitmap     ceil(depth / 8) bytes; bit i (MSB of byte 0 first) is set when
 *              siblings[i] is not 32 zero bytes; bits past depth are zero
 *   siblings   the non-zero siblings, 32 bytes each, in order
 * In a tree of n random keys most deep siblings are non-zero, but long shared prefixes
 * give runs of empty siblings that cost one bit each instead of 32 bytes.
 */
enum cr_smt_end {
    CR_SMT_END_EMPTY = 0,
    CR_SMT_END_LEAF = 1,
};

struct cr_smt_proof
{
    uint32_t depth;
    uint8_t end; /* enum cr_smt_end */
    uint8_t leaf_key[CR_SMT_KEY_BYTES];
    uint8_t leaf_value_hash[CR_HASH_BYTES];
    uint8_t siblings[CR_SMT_DEPTH_MAX][CR_HASH_BYTES];
};

/* H(0x00 || key || value_hash). Pure. */
void cr_smt_leaf_hash(enum cr_suite suite, const uint8_t key[CR_SMT_KEY_BYTES],
                      const uint8_t value_hash[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES]);

/* TB_ENOMEM (for the hasher). The store is copied and must outlive the tree. */
TB_MUST_CHECK int cr_smt_init(struct cr_smt *tree, enum cr_suite suite,
                              const struct cr_smt_store *store);
void cr_smt_release(struct cr_smt *tree);

/*
 * Applies ops[0..count) to the tree whose root is `root` and writes the new root into
 * new_root (which may alias root). Within a batch a later op on the same key wins;
 * removing an absent key is a no-op. Only new nodes are put; nothing is overwritten.
 * TB_ENOMEM (scratch), or a store error (errmsg names the node; TB_EIO for a node whose
 * bytes do not hash to its address or a tree deeper than 256). On failure new_root is
 * untouched; nodes already put are unreachable garbage, harmless to a later retry.
 */
TB_MUST_CHECK int cr_smt_update(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                                const struct cr_smt_op *ops, size_t count,
                                uint8_t new_root[CR_HASH_BYTES]);

/* Looks key up: *found = 1 and value_hash filled, or *found = 0. Store errors as above. */
TB_MUST_CHECK int cr_smt_get(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                             const uint8_t key[CR_SMT_KEY_BYTES], uint8_t value_hash[CR_HASH_BYTES],
                             int *found);

/* Builds the membership or absence proof of key against root. Store errors as above. */
TB_MUST_CHECK int cr_smt_prove(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                               const uint8_t key[CR_SMT_KEY_BYTES], struct cr_smt_proof *proof);

/*
 * Checks a proof. value_hash != NULL: key maps to value_hash under root. value_hash ==
 * NULL: key is absent under root. Pure, for untrusted input: TB_OK or TB_EPROOF (also
 * for depth > 256, an unknown end, an absence leaf that equals key or does not share
 * the path, a non-root end whose last sibling is empty, which no compact tree has).
 */
TB_MUST_CHECK int cr_smt_verify(enum cr_suite suite, const uint8_t root[CR_HASH_BYTES],
                                const uint8_t key[CR_SMT_KEY_BYTES], const uint8_t *value_hash,
                                const struct cr_smt_proof *proof);

/* Largest encoded proof: header, leaf, full bitmap, 256 siblings. */
#define CR_SMT_PROOF_ENCODED_MAX (3 + 2 * 32 + CR_SMT_DEPTH_MAX / 8 + CR_SMT_DEPTH_MAX * 32)

/*
 * Writes the compact form of proof into out (out_max bytes) and its length into
 * *out_len. TB_EINVAL for a proof with depth > 256 or an unknown end; TB_ELIMIT if
 * out_max is too small (CR_SMT_PROOF_ENCODED_MAX always suffices).
 */
TB_MUST_CHECK int cr_smt_proof_encode(const struct cr_smt_proof *proof, uint8_t *out,
                                      size_t out_max, size_t *out_len);

/*
 * Strict decoder for untrusted bytes: TB_EMALFORMED for anything that would not
 * re-encode to exactly the same bytes (depth > 256, unknown end, bits set past depth,
 * a marked sibling that is all zeros, missing or trailing bytes). Fills proof (zero
 * siblings where the bitmap is clear; contents unspecified on failure). Decoding does
 * not verify: call cr_smt_verify.
 */
TB_MUST_CHECK int cr_smt_proof_decode(const uint8_t *data, size_t len, struct cr_smt_proof *proof);

/*
 * In-memory store: an open-addressing hash table of slot indexes into chunked arrays of
 * nodes (about 110 bytes per node). It only grows; every node ever put stays, as the
 * contract asks. For tests, the bench and tools.
 */
struct cr_smt_mem
{
    uint64_t *slots;   /* (node index + 1) << 32 | tag; 0 = empty */
    size_t slot_count; /* a power of two */
    struct cr_smt_mem_entry **chunks;
    size_t chunk_count;
    size_t node_count;
};

void cr_smt_mem_init(struct cr_smt_mem *mem); /* cannot fail; allocates nothing */
void cr_smt_mem_release(struct cr_smt_mem *mem);
struct cr_smt_store cr_smt_mem_store(struct cr_smt_mem *mem); /* borrows mem */
size_t cr_smt_mem_bytes(const struct cr_smt_mem *mem);

#ifdef __cplusplus
}
#endif
#endif
