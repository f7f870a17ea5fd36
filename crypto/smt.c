/*
 * The status tree: batch updates over location-addressed nodes, lookups, proofs, and the
 * pure proof verifier (DESIGN 3.6; the compact form and the store are described in
 * cr_smt.h).
 *
 * An update sorts the batch by key and walks the old tree and the batch together, so a
 * prefix shared by many keys is read and hashed once. Where the old tree has an empty
 * subtree or a single leaf, the new subtree is built from the remaining ops (plus that
 * leaf, unless an op names its key). Results climb with their kind, so that a subtree
 * left with one leaf collapses to that leaf's hash (and location) without rehashing.
 * Every subtree travels as hash + location: a node is read by its location and must hash
 * to the hash its parent (or the root) names.
 *
 * Must never: trust a proof, or a node from the store without re-hashing it against the
 * hash its parent names; follow a location whose hash it does not know; recurse past 256
 * levels; overwrite a node.
 */
#include <stdlib.h>
#include <string.h>

#include "cr_smt.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

_Static_assert(CR_SMT_DEPTH_MAX == 8 * CR_SMT_KEY_BYTES, "one level per key bit");

static const uint8_t smt_zero[CR_HASH_BYTES];

enum smt_kind {
    SMT_EMPTY = 0,
    SMT_LEAF = 1,
    SMT_INNER = 2,
    SMT_UNKNOWN = 3, /* an untouched subtree: read it only if its kind matters */
};

/* A subtree's hash and location (0 for the empty one) with what is known of its shape. */
struct smt_sub
{
    uint8_t hash[CR_HASH_BYTES];
    uint8_t kind; /* enum smt_kind */
    uint64_t loc;
};

static int smt_bit(const uint8_t key[CR_SMT_KEY_BYTES], uint32_t depth)
{
    TB_ASSERT(depth < CR_SMT_DEPTH_MAX);
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1;
}

static int smt_is_zero(const uint8_t hash[CR_HASH_BYTES])
{
    return memcmp(hash, smt_zero, CR_HASH_BYTES) == 0;
}

static void smt_hash3(struct cr_hasher *h, uint8_t prefix, const uint8_t a[CR_HASH_BYTES],
                      const uint8_t b[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES])
{
    cr_hasher_begin(h);
    cr_hasher_update(h, &prefix, 1);
    cr_hasher_update(h, a, CR_HASH_BYTES);
    cr_hasher_update(h, b, CR_HASH_BYTES);
    cr_hasher_final(h, out);
}

static void smt_hash3_pure(enum cr_suite suite, uint8_t prefix, const uint8_t a[CR_HASH_BYTES],
                           const uint8_t b[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES])
{
    uint8_t buf[1 + 2 * CR_HASH_BYTES];
    buf[0] = prefix;
    memcpy(buf + 1, a, CR_HASH_BYTES);
    memcpy(buf + 1 + CR_HASH_BYTES, b, CR_HASH_BYTES);
    cr_hash(suite, buf, sizeof(buf), out);
}

void cr_smt_leaf_hash(enum cr_suite suite, const uint8_t key[CR_SMT_KEY_BYTES],
                      const uint8_t value_hash[CR_HASH_BYTES], uint8_t out[CR_HASH_BYTES])
{
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(key != NULL);
    TB_ASSERT(value_hash != NULL);
    smt_hash3_pure(suite, 0x00, key, value_hash, out);
}

int cr_smt_init(struct cr_smt *tree, enum cr_suite suite, const struct cr_smt_store *store)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(store != NULL);
    TB_ASSERT(store->get != NULL);
    TB_ASSERT(store->put != NULL);
    TB_ASSERT(store->root_put != NULL);
    TB_ASSERT(store->root_get != NULL);
    memset(tree, 0, sizeof(*tree));
    tree->suite = suite;
    tree->store = *store;
    if (cr_hasher_init(&tree->hasher, suite) != TB_OK) {
        return tb_fail(tree->errmsg, TB_ENOMEM, "status tree hasher");
    }
    return TB_OK;
}

void cr_smt_release(struct cr_smt *tree)
{
    cr_hasher_release(&tree->hasher);
    tb_free(tree->sorted);
    tree->sorted = NULL;
    tree->sorted_cap = 0;
}

static void smt_errmsg_node(struct cr_smt *tree, const char *what,
                            const uint8_t hash[CR_HASH_BYTES])
{
    char hex[2 * 8 + 1];
    tb_hex_encode(hash, 8, hex);
    tb_errmsg_wrapf(tree->errmsg, "%s status node %s", what, hex);
}

/* Inner node: a location exactly for each non-empty child. Leaf: no locations. */
static int smt_locs_ok(const struct cr_smt_node *node)
{
    if (node->kind == CR_SMT_NODE_LEAF) {
        return node->a_loc == 0 && node->b_loc == 0;
    }
    return smt_is_zero(node->a) == (node->a_loc == 0) && smt_is_zero(node->b) == (node->b_loc == 0);
}

/*
 * Reads the node at loc and checks that its bytes hash to `hash`, the hash its parent
 * (or the root) names: a wrong location or corrupt bytes are TB_EIO.
 */
static int smt_read(struct cr_smt *tree, void *txn, const uint8_t hash[CR_HASH_BYTES], uint64_t loc,
                    struct cr_smt_node *node)
{
    uint8_t check[CR_HASH_BYTES];
    TB_ASSERT(!smt_is_zero(hash)); /* the empty subtree is never stored */
    if (loc == 0) {
        tb_errmsg_setf(tree->errmsg, "no location");
        smt_errmsg_node(tree, "read", hash);
        return TB_EIO;
    }
    int rv = tree->store.get(tree->store.impl, txn, loc, node, tree->errmsg);
    if (rv != TB_OK) {
        TB_ASSERT(rv < 0);
        smt_errmsg_node(tree, "read", hash);
        /* A checked parent or a known root names it: missing means a corrupt store. */
        return rv == TB_ENOTFOUND ? TB_EIO : rv;
    }
    if (node->kind != CR_SMT_NODE_LEAF && node->kind != CR_SMT_NODE_INNER) {
        tb_errmsg_setf(tree->errmsg, "bad kind %u at location %llu", (unsigned)node->kind,
                       (unsigned long long)loc);
        smt_errmsg_node(tree, "read", hash);
        return TB_EIO;
    }
    smt_hash3(&tree->hasher, node->kind == CR_SMT_NODE_LEAF ? 0x00 : 0x01, node->a, node->b, check);
    if (memcmp(check, hash, CR_HASH_BYTES) != 0) {
        tb_errmsg_setf(tree->errmsg, "location %llu holds another node", (unsigned long long)loc);
        smt_errmsg_node(tree, "read", hash);
        return TB_EIO;
    }
    if (!smt_locs_ok(node)) {
        tb_errmsg_setf(tree->errmsg, "child locations do not match its children");
        smt_errmsg_node(tree, "read", hash);
        return TB_EIO;
    }
    return TB_OK;
}

/* Hashes and stores a node; out gets its hash, kind and new location. */
static int smt_write(struct cr_smt *tree, void *txn, uint8_t kind, const struct smt_sub *a,
                     const struct smt_sub *b, struct smt_sub *out)
{
    struct cr_smt_node node;
    TB_ASSERT(kind == CR_SMT_NODE_LEAF || kind == CR_SMT_NODE_INNER);
    memset(&node, 0, sizeof(node));
    node.kind = kind;
    memcpy(node.a, a->hash, CR_HASH_BYTES);
    memcpy(node.b, b->hash, CR_HASH_BYTES);
    if (kind == CR_SMT_NODE_INNER) {
        node.a_loc = a->loc;
        node.b_loc = b->loc;
        TB_ASSERT(smt_locs_ok(&node));
    }
    smt_hash3(&tree->hasher, kind == CR_SMT_NODE_LEAF ? 0x00 : 0x01, node.a, node.b, out->hash);
    out->kind = kind == CR_SMT_NODE_LEAF ? SMT_LEAF : SMT_INNER;
    out->loc = 0;
    int rv = tree->store.put(tree->store.impl, txn, &node, &out->loc, tree->errmsg);
    if (rv != TB_OK) {
        TB_ASSERT(rv < 0);
        smt_errmsg_node(tree, "put", out->hash);
        return rv;
    }
    TB_ASSERT(out->loc != 0);
    return TB_OK;
}

/* Stores the leaf of op: key and value hash are the two halves smt_write takes. */
static int smt_write_leaf(struct cr_smt *tree, void *txn, const struct cr_smt_op *op,
                          struct smt_sub *out)
{
    struct smt_sub key = {.loc = 0};
    struct smt_sub value = {.loc = 0};
    memcpy(key.hash, op->key, CR_SMT_KEY_BYTES);
    memcpy(value.hash, op->value_hash, CR_HASH_BYTES);
    return smt_write(tree, txn, CR_SMT_NODE_LEAF, &key, &value, out);
}

/* First op in sorted ops[0..n) whose key has bit `depth` set (all share the bits above). */
static size_t smt_split(const struct cr_smt_op *const *ops, size_t n, uint32_t depth)
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (smt_bit(ops[mid]->key, depth)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    TB_ASSERT(lo <= n);
    if (lo > 0) {
        TB_DEBUG_ASSERT(!smt_bit(ops[lo - 1]->key, depth));
    }
    return lo;
}

/* Whether sorted ops[0..n) names key. */
static int smt_ops_have(const struct cr_smt_op *const *ops, size_t n,
                        const uint8_t key[CR_SMT_KEY_BYTES])
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ops[mid]->key, key, CR_SMT_KEY_BYTES);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/*
 * Builds the subtree at `depth` that holds the upserts of ops[0..n) plus `extra`, an
 * existing leaf (hash and location in extra_sub) that no op names, or NULL. Keys are
 * distinct, so two of them split before depth 256.
 */
static int smt_build(struct cr_smt *tree, void *txn, uint32_t depth,
                     const struct cr_smt_op *const *ops, size_t n, const struct cr_smt_node *extra,
                     const struct smt_sub *extra_sub, struct smt_sub *out)
{
    size_t live = extra != NULL ? 1 : 0;
    const struct cr_smt_op *last = NULL;
    for (size_t i = 0; i < n && live < 2; i++) {
        if (!ops[i]->remove) {
            live++;
            last = ops[i];
        }
    }
    if (live == 0) {
        memset(out->hash, 0, CR_HASH_BYTES);
        out->kind = SMT_EMPTY;
        out->loc = 0;
        return TB_OK;
    }
    if (live == 1) {
        if (extra != NULL) {
            *out = *extra_sub; /* already stored: keeps its location */
            TB_ASSERT(out->kind == SMT_LEAF && out->loc != 0);
            return TB_OK;
        }
        TB_ASSERT(last != NULL);
        return smt_write_leaf(tree, txn, last, out);
    }
    TB_ASSERT(depth < CR_SMT_DEPTH_MAX);
    struct smt_sub left;
    struct smt_sub right;
    size_t split = smt_split(ops, n, depth);
    int extra_right = extra != NULL && smt_bit(extra->a, depth);
    int rv = smt_build(tree, txn, depth + 1, ops, split, extra_right ? NULL : extra,
                       extra_right ? NULL : extra_sub, &left);
    if (rv == TB_OK) {
        rv = smt_build(tree, txn, depth + 1, ops + split, n - split, extra_right ? extra : NULL,
                       extra_right ? extra_sub : NULL, &right);
    }
    if (rv != TB_OK) {
        return rv;
    }
    /* Two or more leaves below: never collapses, even if one side is empty. */
    return smt_write(tree, txn, CR_SMT_NODE_INNER, &left, &right, out);
}

/* Whether a and b agree on their first `bits` bits. */
static int smt_prefix_equal(const uint8_t a[CR_SMT_KEY_BYTES], const uint8_t b[CR_SMT_KEY_BYTES],
                            uint32_t bits)
{
    TB_ASSERT(bits <= CR_SMT_DEPTH_MAX);
    uint32_t bytes = bits / 8;
    if (memcmp(a, b, bytes) != 0) {
        return 0;
    }
    uint32_t rest = bits % 8;
    if (rest == 0) {
        return 1;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

/* Combines two new children of an inner node, collapsing a lone leaf upwards. */
static int smt_join(struct cr_smt *tree, void *txn, struct smt_sub *left, struct smt_sub *right,
                    struct smt_sub *out)
{
    struct smt_sub *sides[2] = {left, right};
    for (int i = 0; i < 2; i++) {
        if (sides[i]->kind == SMT_UNKNOWN && smt_is_zero(sides[i]->hash)) {
            sides[i]->kind = SMT_EMPTY;
            sides[i]->loc = 0;
        }
    }
    if (left->kind == SMT_EMPTY || right->kind == SMT_EMPTY) {
        struct smt_sub *other = left->kind == SMT_EMPTY ? right : left;
        if (other->kind == SMT_UNKNOWN) {
            struct cr_smt_node node;
            int rv = smt_read(tree, txn, other->hash, other->loc, &node);
            if (rv != TB_OK) {
                return rv;
            }
            other->kind = node.kind == CR_SMT_NODE_LEAF ? SMT_LEAF : SMT_INNER;
        }
        if (other->kind != SMT_INNER) {
            *out = *other; /* empty or a single leaf, location and all: the subtree is that */
            return TB_OK;
        }
    }
    TB_ASSERT(left->kind != SMT_EMPTY || right->kind != SMT_EMPTY);
    return smt_write(tree, txn, CR_SMT_NODE_INNER, left, right, out);
}

/* Applies sorted, distinct ops[0..n) (n > 0) to the subtree `at` at `depth`. */
static int smt_update_at(struct cr_smt *tree, void *txn, const struct smt_sub *at, uint32_t depth,
                         const struct cr_smt_op *const *ops, size_t n, struct smt_sub *out)
{
    struct cr_smt_node node;
    TB_ASSERT(n > 0);
    TB_ASSERT(depth <= CR_SMT_DEPTH_MAX);
    if (smt_is_zero(at->hash)) {
        return smt_build(tree, txn, depth, ops, n, NULL, NULL, out);
    }
    int rv = smt_read(tree, txn, at->hash, at->loc, &node);
    if (rv != TB_OK) {
        return rv;
    }
    if (node.kind == CR_SMT_NODE_LEAF) {
        /* A leaf off its key's path would break the build's depth bound. */
        if (!smt_prefix_equal(node.a, ops[0]->key, depth)) {
            tb_errmsg_setf(tree->errmsg, "leaf off its key's path at depth %u", depth);
            smt_errmsg_node(tree, "read", at->hash);
            return TB_EIO;
        }
        struct smt_sub leaf = *at;
        leaf.kind = SMT_LEAF;
        int replaced = smt_ops_have(ops, n, node.a);
        return smt_build(tree, txn, depth, ops, n, replaced ? NULL : &node, replaced ? NULL : &leaf,
                         out);
    }
    if (depth == CR_SMT_DEPTH_MAX) {
        tb_errmsg_setf(tree->errmsg, "inner node at depth 256");
        smt_errmsg_node(tree, "read", at->hash);
        return TB_EIO;
    }
    struct smt_sub left = {.kind = SMT_UNKNOWN, .loc = node.a_loc};
    struct smt_sub right = {.kind = SMT_UNKNOWN, .loc = node.b_loc};
    memcpy(left.hash, node.a, CR_HASH_BYTES);
    memcpy(right.hash, node.b, CR_HASH_BYTES);
    size_t split = smt_split(ops, n, depth);
    if (split > 0) {
        struct smt_sub child = left;
        rv = smt_update_at(tree, txn, &child, depth + 1, ops, split, &left);
    }
    if (rv == TB_OK && split < n) {
        struct smt_sub child = right;
        rv = smt_update_at(tree, txn, &child, depth + 1, ops + split, n - split, &right);
    }
    if (rv != TB_OK) {
        return rv;
    }
    return smt_join(tree, txn, &left, &right, out);
}

/* Orders by key, then by position in the caller's array, so the last op of a key wins. */
static int smt_op_cmp(const void *pa, const void *pb)
{
    const struct cr_smt_op *a = *(const struct cr_smt_op *const *)pa;
    const struct cr_smt_op *b = *(const struct cr_smt_op *const *)pb;
    int c = memcmp(a->key, b->key, CR_SMT_KEY_BYTES);
    if (c != 0) {
        return c;
    }
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* Sorts the batch into tree->sorted and keeps the last op of each key; returns the count. */
static int smt_sort_batch(struct cr_smt *tree, const struct cr_smt_op *ops, size_t count,
                          size_t *out_count)
{
    if (count > tree->sorted_cap) {
        if (count > SIZE_MAX / sizeof(*tree->sorted)) {
            return tb_fail(tree->errmsg, TB_ENOMEM, "batch of %zu ops", count);
        }
        const struct cr_smt_op **grown = tb_realloc(tree->sorted, count * sizeof(*grown));
        if (grown == NULL) {
            return tb_fail(tree->errmsg, TB_ENOMEM, "batch of %zu ops", count);
        }
        tree->sorted = grown;
        tree->sorted_cap = count;
    }
    for (size_t i = 0; i < count; i++) {
        tree->sorted[i] = &ops[i];
    }
    qsort(tree->sorted, count, sizeof(*tree->sorted), smt_op_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        int last_of_key = i + 1 == count || memcmp(tree->sorted[i]->key, tree->sorted[i + 1]->key,
                                                   CR_SMT_KEY_BYTES) != 0;
        if (last_of_key) {
            tree->sorted[kept++] = tree->sorted[i];
        }
    }
    TB_ASSERT(kept <= count);
    TB_ASSERT(count == 0 || kept > 0);
    *out_count = kept;
    return TB_OK;
}

/* The location of root (none for the empty tree) from the store; errmsg names the root. */
static int smt_root_find(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                         struct smt_sub *out)
{
    memcpy(out->hash, root, CR_HASH_BYTES);
    out->kind = SMT_UNKNOWN;
    out->loc = 0;
    if (smt_is_zero(root)) {
        out->kind = SMT_EMPTY;
        return TB_OK;
    }
    int rv = tree->store.root_get(tree->store.impl, txn, root, &out->loc, tree->errmsg);
    if (rv == TB_OK && out->loc == 0) {
        rv = tb_fail(tree->errmsg, TB_EIO, "location 0");
    }
    if (rv != TB_OK) {
        char hex[2 * CR_HASH_BYTES + 1];
        TB_ASSERT(rv < 0);
        tb_hex_encode(root, CR_HASH_BYTES, hex);
        tb_errmsg_wrapf(tree->errmsg, "status root %s", hex);
    }
    return rv;
}

int cr_smt_update(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                  const struct cr_smt_op *ops, size_t count, uint8_t new_root[CR_HASH_BYTES])
{
    struct smt_sub at;
    struct smt_sub result;
    size_t n = 0;
    TB_ASSERT(tree->hasher.md_ctx != NULL);
    TB_ASSERT(ops != NULL || count == 0);
    if (count == 0) {
        memmove(new_root, root, CR_HASH_BYTES);
        return TB_OK;
    }
    int rv = smt_root_find(tree, txn, root, &at);
    if (rv == TB_OK) {
        rv = smt_sort_batch(tree, ops, count, &n);
    }
    if (rv == TB_OK) {
        rv = smt_update_at(tree, txn, &at, 0, tree->sorted, n, &result);
    }
    if (rv != TB_OK) {
        return rv;
    }
    if (smt_is_zero(result.hash)) {
        TB_ASSERT(result.kind == SMT_EMPTY);
    } else {
        TB_ASSERT(result.loc != 0);
        rv = tree->store.root_put(tree->store.impl, txn, result.hash, result.loc, tree->errmsg);
        if (rv != TB_OK) {
            TB_ASSERT(rv < 0);
            smt_errmsg_node(tree, "register root", result.hash);
            return rv;
        }
    }
    memcpy(new_root, result.hash, CR_HASH_BYTES);
    return TB_OK;
}

/*
 * Follows key's path from root, filling proof (siblings, depth, end). Used by both
 * cr_smt_get and cr_smt_prove.
 */
static int smt_walk(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                    const uint8_t key[CR_SMT_KEY_BYTES], struct cr_smt_proof *proof)
{
    struct smt_sub at;
    struct cr_smt_node node;
    proof->depth = 0;
    int rv = smt_root_find(tree, txn, root, &at);
    if (rv != TB_OK) {
        return rv;
    }
    for (uint32_t depth = 0; depth <= CR_SMT_DEPTH_MAX; depth++) {
        proof->depth = depth;
        if (smt_is_zero(at.hash)) {
            proof->end = CR_SMT_END_EMPTY;
            return TB_OK;
        }
        rv = smt_read(tree, txn, at.hash, at.loc, &node);
        if (rv != TB_OK) {
            return rv;
        }
        if (node.kind == CR_SMT_NODE_LEAF) {
            proof->end = CR_SMT_END_LEAF;
            memcpy(proof->leaf_key, node.a, CR_SMT_KEY_BYTES);
            memcpy(proof->leaf_value_hash, node.b, CR_HASH_BYTES);
            return TB_OK;
        }
        if (depth == CR_SMT_DEPTH_MAX) {
            break;
        }
        int bit = smt_bit(key, depth);
        memcpy(proof->siblings[depth], bit ? node.a : node.b, CR_HASH_BYTES);
        memcpy(at.hash, bit ? node.b : node.a, CR_HASH_BYTES);
        at.loc = bit ? node.b_loc : node.a_loc;
    }
    tb_errmsg_setf(tree->errmsg, "inner node at depth 256");
    smt_errmsg_node(tree, "read", at.hash);
    return TB_EIO;
}

int cr_smt_prove(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
                 const uint8_t key[CR_SMT_KEY_BYTES], struct cr_smt_proof *proof)
{
    TB_ASSERT(tree->hasher.md_ctx != NULL);
    TB_ASSERT(proof != NULL);
    memset(proof, 0, offsetof(struct cr_smt_proof, siblings));
    return smt_walk(tree, txn, root, key, proof);
}

int cr_smt_get(struct cr_smt *tree, void *txn, const uint8_t root[CR_HASH_BYTES],
               const uint8_t key[CR_SMT_KEY_BYTES], uint8_t value_hash[CR_HASH_BYTES], int *found)
{
    /* The walk that builds a proof finds the value too; 8 KiB of stack is fine here. */
    struct cr_smt_proof proof;
    TB_ASSERT(tree->hasher.md_ctx != NULL);
    TB_ASSERT(found != NULL);
    *found = 0;
    int rv = smt_walk(tree, txn, root, key, &proof);
    if (rv != TB_OK) {
        return rv;
    }
    if (proof.end == CR_SMT_END_LEAF && memcmp(proof.leaf_key, key, CR_SMT_KEY_BYTES) == 0) {
        memcpy(value_hash, proof.leaf_value_hash, CR_HASH_BYTES);
        *found = 1;
    }
    return TB_OK;
}

/* The hash the proof's path ends in, after the checks that make the end admissible. */
static int smt_verify_end(enum cr_suite suite, const uint8_t key[CR_SMT_KEY_BYTES],
                          const uint8_t *value_hash, const struct cr_smt_proof *proof,
                          uint8_t out[CR_HASH_BYTES])
{
    if (proof->end == CR_SMT_END_EMPTY) {
        /* Absence only; a depth-256 subtree holds at most one key, so its sibling can't
         * hold the two that would keep the parent from collapsing. */
        if (value_hash != NULL || proof->depth >= CR_SMT_DEPTH_MAX) {
            return TB_EPROOF;
        }
        memset(out, 0, CR_HASH_BYTES);
        return TB_OK;
    }
    if (proof->end != CR_SMT_END_LEAF) {
        return TB_EPROOF;
    }
    int same_key = tb_memeq_ct(proof->leaf_key, key, CR_SMT_KEY_BYTES);
    if (value_hash != NULL) {
        if (!same_key || !tb_memeq_ct(proof->leaf_value_hash, value_hash, CR_HASH_BYTES)) {
            return TB_EPROOF;
        }
    } else if (same_key || !smt_prefix_equal(proof->leaf_key, key, proof->depth)) {
        return TB_EPROOF; /* present after all, or a leaf from another path */
    }
    cr_smt_leaf_hash(suite, proof->leaf_key, proof->leaf_value_hash, out);
    return TB_OK;
}

int cr_smt_verify(enum cr_suite suite, const uint8_t root[CR_HASH_BYTES],
                  const uint8_t key[CR_SMT_KEY_BYTES], const uint8_t *value_hash,
                  const struct cr_smt_proof *proof)
{
    uint8_t hash[CR_HASH_BYTES];
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(proof != NULL);
    if (proof->depth > CR_SMT_DEPTH_MAX) {
        return TB_EPROOF;
    }
    if (smt_verify_end(suite, key, value_hash, proof, hash) != TB_OK) {
        return TB_EPROOF;
    }
    /* Below the root, a lone leaf or empty end would have collapsed unless its sibling
     * held something. */
    if (proof->depth > 0 && smt_is_zero(proof->siblings[proof->depth - 1])) {
        return TB_EPROOF;
    }
    for (uint32_t i = proof->depth; i > 0; i--) {
        const uint8_t *sibling = proof->siblings[i - 1];
        if (smt_bit(key, i - 1)) {
            smt_hash3_pure(suite, 0x01, sibling, hash, hash);
        } else {
            smt_hash3_pure(suite, 0x01, hash, sibling, hash);
        }
    }
    return tb_memeq_ct(hash, root, CR_HASH_BYTES) ? TB_OK : TB_EPROOF;
}

int cr_smt_proof_encode(const struct cr_smt_proof *proof, uint8_t *out, size_t out_max,
                        size_t *out_len)
{
    TB_ASSERT(proof != NULL);
    TB_ASSERT(out_len != NULL);
    *out_len = 0;
    if (proof->depth > CR_SMT_DEPTH_MAX ||
        (proof->end != CR_SMT_END_EMPTY && proof->end != CR_SMT_END_LEAF)) {
        return TB_EINVAL;
    }
    uint32_t depth = proof->depth;
    size_t bitmap_len = (depth + 7) / 8;
    size_t leaf_len = proof->end == CR_SMT_END_LEAF ? 2 * (size_t)CR_HASH_BYTES : 0;
    size_t need = 3 + leaf_len + bitmap_len;
    for (uint32_t i = 0; i < depth; i++) {
        need += smt_is_zero(proof->siblings[i]) ? 0 : (size_t)CR_HASH_BYTES;
    }
    TB_ASSERT(need <= CR_SMT_PROOF_ENCODED_MAX);
    if (need > out_max) {
        return TB_ELIMIT;
    }
    size_t at = 0;
    out[at++] = (uint8_t)(depth >> 8);
    out[at++] = (uint8_t)depth;
    out[at++] = proof->end;
    if (proof->end == CR_SMT_END_LEAF) {
        memcpy(out + at, proof->leaf_key, CR_SMT_KEY_BYTES);
        memcpy(out + at + CR_SMT_KEY_BYTES, proof->leaf_value_hash, CR_HASH_BYTES);
        at += 2 * CR_HASH_BYTES;
    }
    uint8_t *bitmap = out + at;
    memset(bitmap, 0, bitmap_len);
    at += bitmap_len;
    for (uint32_t i = 0; i < depth; i++) {
        if (!smt_is_zero(proof->siblings[i])) {
            bitmap[i / 8] |= (uint8_t)(0x80u >> (i % 8));
            memcpy(out + at, proof->siblings[i], CR_HASH_BYTES);
            at += CR_HASH_BYTES;
        }
    }
    TB_ASSERT(at == need);
    *out_len = at;
    return TB_OK;
}

/* The fixed part of an encoded proof: depth, end and the leaf; *at moves past it. */
static int smt_proof_decode_head(const uint8_t *data, size_t len, struct cr_smt_proof *proof,
                                 size_t *at)
{
    if (len < 3) {
        return TB_EMALFORMED;
    }
    proof->depth = (uint32_t)data[0] << 8 | data[1];
    proof->end = data[2];
    *at = 3;
    if (proof->depth > CR_SMT_DEPTH_MAX) {
        return TB_EMALFORMED;
    }
    if (proof->end == CR_SMT_END_LEAF) {
        if (len - *at < 2 * CR_HASH_BYTES) {
            return TB_EMALFORMED;
        }
        memcpy(proof->leaf_key, data + *at, CR_SMT_KEY_BYTES);
        memcpy(proof->leaf_value_hash, data + *at + CR_SMT_KEY_BYTES, CR_HASH_BYTES);
        *at += 2 * CR_HASH_BYTES;
    } else if (proof->end != CR_SMT_END_EMPTY) {
        return TB_EMALFORMED;
    }
    TB_ASSERT(*at <= len);
    return TB_OK;
}

int cr_smt_proof_decode(const uint8_t *data, size_t len, struct cr_smt_proof *proof)
{
    size_t at = 0;
    TB_ASSERT(data != NULL || len == 0);
    TB_ASSERT(proof != NULL);
    memset(proof, 0, sizeof(*proof));
    if (smt_proof_decode_head(data, len, proof, &at) != TB_OK) {
        return TB_EMALFORMED;
    }
    uint32_t depth = proof->depth;
    size_t bitmap_len = (depth + 7) / 8;
    if (len - at < bitmap_len) {
        return TB_EMALFORMED;
    }
    const uint8_t *bitmap = data + at;
    at += bitmap_len;
    if (depth % 8 != 0 && (bitmap[bitmap_len - 1] & (0xffu >> (depth % 8))) != 0) {
        return TB_EMALFORMED; /* bits past depth */
    }
    for (uint32_t i = 0; i < depth; i++) {
        if (!(bitmap[i / 8] & (0x80u >> (i % 8)))) {
            continue;
        }
        if (len - at < CR_HASH_BYTES) {
            return TB_EMALFORMED;
        }
        memcpy(proof->siblings[i], data + at, CR_HASH_BYTES);
        at += CR_HASH_BYTES;
        if (smt_is_zero(proof->siblings[i])) {
            return TB_EMALFORMED; /* a zero sibling has one encoding: a clear bit */
        }
    }
    if (at != len) {
        return TB_EMALFORMED;
    }
    return TB_OK;
}
