/*
 * The status tree (DESIGN 3.6): a sparse Merkle tree over 256-bit keys in compact form.
 *   empty subtree             32 zero bytes
 *   subtree with one leaf     that leaf's hash, at whatever depth
 *   leaf                      H(0x00 || key || value_hash), value_hash = H(value bytes)
 *   any other subtree         H(0x01 || left || right)
 * Key bits are read from the most significant bit of key[0] down; bit 0 selects the
 * root's child, 0 = left.
 *
 * Nodes are immutable and location-addressed: the store gives every node it is handed
 * a new 64-bit LOCATION, larger than every earlier one (so a disk store appends one
 * batch's nodes to fresh pages), and an inner node keeps its children's locations next
 * to their hashes, so a walk from a root needs no hash index. The store also maps each
 * root hash to its location (root_put/root_get), one entry per update. An update returns
 * a new root and leaves every older root intact, so the caller keeps one root per
 * version and can prove against any of them. Nodes are not deduplicated: the same
 * content put twice gets two locations, which costs space and nothing else. The
 * store is a vtable (in-memory here, LMDB in node/); every call passes the caller's
 * opaque `txn` through to it.
 *
 * Why the locations are safe although no hash covers them: the tree re-hashes every
 * node it reads and compares the result with the hash its parent (or the root) says
 * the child must have. A wrong or missing location, a swapped or corrupt node gives
 * TB_EIO, never a wrong answer; hashes, roots and proofs are exactly those of DESIGN 3.6.
 *
 * Must never: trust a proof or store contents, locations included (errors, not
 * asserts), or recurse deeper than 256 levels.
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

/*
 * A stored node. Its hash is H(0x00 || a || b) for a leaf, H(0x01 || a || b) for an
 * inner node; a_loc and b_loc are not hashed. Inner node: the locations of the left
 * and right children, 0 exactly for an empty (zero-hash) child. Leaf: both 0.
 */
struct cr_smt_node
{
    uint8_t kind; /* enum cr_smt_node_kind */
    uint8_t a[CR_HASH_BYTES];
    uint8_t b[CR_HASH_BYTES];
    uint64_t a_loc;
    uint64_t b_loc;
};

/*
 * Node storage; every call returns TB_OK or a negative TB_E* with a reason in errmsg
 * (TB_ERRMSG_SIZE bytes).
 *   get       copies the node stored at loc (never 0) into out; TB_ENOTFOUND if none
 *   put       stores a copy of node at a new location, written to *loc: larger than
 *             every location handed out before, never 0. Content is not deduplicated.
 *   root_put  remembers that the tree whose root hash is `hash` starts at loc; a root
 *             already known is TB_OK and keeps its first location
 *   root_get  the location of root `hash`; TB_ENOTFOUND if unknown
 * The empty tree (32 zero bytes) is never stored nor registered. The tree checks
 * everything get returns against the hashes it expects (see above), so a store that
 * returns the wrong node gives TB_EIO rather than a wrong root.
 */
struct cr_smt_store
{
    void *impl;
    int (*get)(void *impl, void *txn, uint64_t loc, struct cr_smt_node *out, char *errmsg);
    int (*put)(void *impl, void *txn, const struct cr_smt_node *node, uint64_t *loc, char *errmsg);
    int (*root_put)(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES], uint64_t loc,
                    char *errmsg);
    int (*root_get)(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES], uint64_t *loc,
                    char *errmsg);
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
 * A non-empty new root is registered with the store's root_put. TB_ENOMEM (scratch),
 * or a store error: for a root the store does not know, its error with errmsg naming
 * the root; otherwise errmsg names the node (TB_EIO for a node that is missing or does
 * not hash to what its parent says, inconsistent locations, or a tree deeper than 256;
 * other store errors as they are). On failure
 * new_root is untouched; nodes already put are unreachable garbage, harmless to a later
 * retry.
 */
TB_MUST_CHECK int cr_smt_update(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                                const struct cr_smt_op *ops, size_t count,
                                uint8_t new_root[CR_HASH_BYTES]);

/*
 * Looks key up: *found = 1 and value_hash filled, or *found = 0. Store errors as above
 * (root must be empty or known to the store).
 */
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
 * In-memory store: nodes in chunked arrays, location = index + 1 (get is an array
 * lookup), and an open-addressing table of root hash -> location (about 90 bytes per
 * node). It only grows; every node ever put stays, as the contract asks. For tests,
 * the bench and tools.
 */
struct cr_smt_mem_root
{
    uint8_t hash[CR_HASH_BYTES];
    uint64_t loc; /* 0 = empty slot */
};

struct cr_smt_mem
{
    struct cr_smt_node **chunks;
    size_t chunk_count;
    size_t node_count;
    struct cr_smt_mem_root *roots; /* the root table */
    size_t root_slots;             /* a power of two, or 0 */
    size_t root_count;
};

void cr_smt_mem_init(struct cr_smt_mem *mem); /* cannot fail; allocates nothing */
void cr_smt_mem_release(struct cr_smt_mem *mem);
struct cr_smt_store cr_smt_mem_store(struct cr_smt_mem *mem); /* borrows mem */
size_t cr_smt_mem_bytes(const struct cr_smt_mem *mem);

#ifdef __cplusplus
}
#endif
#endif
