/*
 * crypto/smt.c: the status tree. Roots are checked against a naive recursion over the
 * sorted key set written straight from the definition (DESIGN 3.6), over random sets
 * and over keys with long shared prefixes; batches against one-by-one updates; old roots
 * against their own versions; proofs against tampering; store failures and corruption.
 * The root properties run with SHA-256 and SM3. Known answers and compact proof bytes
 * come from an independent Python implementation (tests/vectors/smt_compact.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cr_smt.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

#define H CR_HASH_BYTES
#define MODEL_MAX 700

static const enum cr_suite suites[] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};

/* ---- the model: a plain set of (key, value_hash) and the naive root ---- */

struct entry
{
    uint8_t key[H];
    uint8_t value[H];
};

struct model
{
    struct entry e[MODEL_MAX];
    size_t n;
};

static int model_find(const struct model *m, const uint8_t *key)
{
    for (size_t i = 0; i < m->n; i++) {
        if (memcmp(m->e[i].key, key, H) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void model_apply(struct model *m, const struct cr_smt_op *op)
{
    int at = model_find(m, op->key);
    if (op->remove) {
        if (at >= 0) {
            m->e[at] = m->e[--m->n];
        }
        return;
    }
    if (at < 0) {
        assert_true(m->n < MODEL_MAX);
        at = (int)m->n++;
        memcpy(m->e[at].key, op->key, H);
    }
    memcpy(m->e[at].value, op->value_hash, H);
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key, H);
}

static int key_bit(const uint8_t *key, unsigned depth)
{
    return (key[depth / 8] >> (7 - depth % 8)) & 1;
}

/* The definition: empty = zeros, one leaf = its hash, else H(0x01 || left || right). */
static void naive_sub(enum cr_suite suite, const struct entry *e, size_t n, unsigned depth,
                      uint8_t out[H])
{
    uint8_t buf[1 + 2 * H];
    if (n == 0) {
        memset(out, 0, H);
        return;
    }
    if (n == 1) {
        buf[0] = 0;
        memcpy(buf + 1, e[0].key, H);
        memcpy(buf + 1 + H, e[0].value, H);
        cr_hash(suite, buf, sizeof(buf), out);
        return;
    }
    assert_true(depth < 256);
    size_t split = 0;
    while (split < n && !key_bit(e[split].key, depth)) {
        split++;
    }
    buf[0] = 1;
    naive_sub(suite, e, split, depth + 1, buf + 1);
    naive_sub(suite, e + split, n - split, depth + 1, buf + 1 + H);
    cr_hash(suite, buf, sizeof(buf), out);
}

static void naive_root(enum cr_suite suite, const struct model *m, uint8_t out[H])
{
    struct entry *sorted = tb_calloc(m->n + 1, sizeof(*sorted));
    assert_non_null(sorted);
    memcpy(sorted, m->e, m->n * sizeof(*sorted));
    qsort(sorted, m->n, sizeof(*sorted), entry_cmp);
    naive_sub(suite, sorted, m->n, 0, out);
    tb_free(sorted);
}

/* ---- key generators ---- */

/* Random keys, or keys that share a long prefix with `base` (only the last bits vary). */
static void gen_key(struct t_rng *rng, const uint8_t *base, int prefixed, uint8_t key[H])
{
    if (!prefixed) {
        t_rng_bytes(rng, key, H);
        return;
    }
    memcpy(key, base, H);
    unsigned free_bits = 1 + (unsigned)t_rng_below(rng, 12);
    for (unsigned b = 256 - free_bits; b < 256; b++) {
        if (t_rng_below(rng, 2)) {
            key[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
        }
    }
    if (t_rng_below(rng, 8) == 0) {
        key[0] ^= 0x80; /* a few far away, so the top of the tree branches too */
    }
}

/* A random batch against the model: new keys, updates, removals, repeats in a batch. */
static size_t gen_batch(struct t_rng *rng, const struct model *m, const uint8_t *base, int prefixed,
                        int shrink, struct cr_smt_op *ops, size_t max)
{
    size_t count = 1 + (size_t)t_rng_below(rng, max);
    for (size_t i = 0; i < count; i++) {
        struct cr_smt_op *op = &ops[i];
        uint64_t r = t_rng_below(rng, 10);
        memset(op, 0, sizeof(*op));
        t_rng_bytes(rng, op->value_hash, H);
        if (i > 0 && r == 0) {
            memcpy(op->key, ops[t_rng_below(rng, i)].key, H); /* same key twice: last wins */
            op->remove = (uint8_t)t_rng_below(rng, 2);
        } else if (m->n > 0 && (shrink ? r < 8 : r < 2)) {
            memcpy(op->key, m->e[t_rng_below(rng, m->n)].key, H);
            op->remove = (uint8_t)(shrink || r == 1);
        } else {
            gen_key(rng, base, prefixed, op->key);
            op->remove = (uint8_t)(r == 9); /* removing an absent key */
        }
    }
    return count;
}

struct fixture
{
    struct cr_smt_mem mem;
    struct cr_smt_store store;
    struct cr_smt tree;
};

static void fixture_open(struct fixture *f, enum cr_suite suite)
{
    cr_smt_mem_init(&f->mem);
    f->store = cr_smt_mem_store(&f->mem);
    assert_int_equal(cr_smt_init(&f->tree, suite, &f->store), TB_OK);
}

static void fixture_close(struct fixture *f)
{
    cr_smt_release(&f->tree);
    cr_smt_mem_release(&f->mem);
}

static void apply_checked(struct fixture *f, struct model *m, uint8_t root[H],
                          const struct cr_smt_op *ops, size_t count)
{
    uint8_t want[H];
    assert_int_equal(cr_smt_update(&f->tree, NULL, root, ops, count, root), TB_OK);
    for (size_t i = 0; i < count; i++) {
        model_apply(m, &ops[i]);
    }
    naive_root(f->tree.suite, m, want);
    assert_memory_equal(root, want, H);
}

/* Grows a set to ~500 keys and shrinks it to empty, checking the root after each batch. */
static void roots_match_naive_run(enum cr_suite suite, uint64_t seed, int prefixed)
{
    static struct model m;
    struct fixture f;
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t root[H] = {0};
    uint8_t base[H];
    t_rng_seed(&rng, seed);
    t_rng_bytes(&rng, base, H);
    m.n = 0;
    fixture_open(&f, suite);
    size_t peak = 0;
    for (int round = 0; round < 400 && m.n < 500; round++) {
        size_t count = gen_batch(&rng, &m, base, prefixed, 0, ops, 60);
        apply_checked(&f, &m, root, ops, count);
        peak = m.n > peak ? m.n : peak;
    }
    assert_true(peak >= 500 || prefixed);
    for (int round = 0; round < 400 && m.n > 0; round++) {
        size_t count = gen_batch(&rng, &m, base, prefixed, 1, ops, 60);
        apply_checked(&f, &m, root, ops, count);
    }
    while (m.n > 0) { /* finish: remove what is left, one batch */
        size_t count = 0;
        for (size_t i = 0; i < m.n && count < 64; i++, count++) {
            memcpy(ops[count].key, m.e[i].key, H);
            ops[count].remove = 1;
        }
        apply_checked(&f, &m, root, ops, count);
    }
    uint8_t zero[H] = {0};
    assert_memory_equal(root, zero, H);
    fixture_close(&f);
}

static void random_sets_match_naive(void **state)
{
    (void)state;
    for (size_t s = 0; s < 2; s++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            roots_match_naive_run(suites[s], seed * 1000 + s, 0);
        }
    }
}

static void shared_prefixes_match_naive(void **state)
{
    (void)state;
    for (size_t s = 0; s < 2; s++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            roots_match_naive_run(suites[s], seed * 7919 + s, 1);
        }
    }
}

/* Keys that differ only in their last bit: leaves at depth 256, inner nodes above. */
static void deepest_leaves(void **state)
{
    struct fixture f;
    struct model m = {.n = 0};
    struct cr_smt_op ops[2];
    struct cr_smt_proof proof;
    uint8_t root[H] = {0};
    (void)state;
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    memset(ops, 0, sizeof(ops));
    memset(ops[0].key, 0xab, H);
    memcpy(ops[1].key, ops[0].key, H);
    ops[1].key[31] ^= 1;
    memset(ops[0].value_hash, 1, H);
    memset(ops[1].value_hash, 2, H);
    apply_checked(&f, &m, root, ops, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cr_smt_prove(&f.tree, NULL, root, ops[i].key, &proof), TB_OK);
        assert_int_equal(proof.depth, 256);
        assert_int_equal(
            cr_smt_verify(CR_SUITE_ED25519_SHA256, root, ops[i].key, ops[i].value_hash, &proof),
            TB_OK);
    }
    /* Removing one collapses the other to the root. */
    ops[1].remove = 1;
    apply_checked(&f, &m, root, &ops[1], 1);
    uint8_t leaf[H];
    cr_smt_leaf_hash(CR_SUITE_ED25519_SHA256, ops[0].key, ops[0].value_hash, leaf);
    assert_memory_equal(root, leaf, H);
    assert_int_equal(cr_smt_prove(&f.tree, NULL, root, ops[0].key, &proof), TB_OK);
    assert_int_equal(proof.depth, 0);
    assert_int_equal(
        cr_smt_verify(CR_SUITE_ED25519_SHA256, root, ops[0].key, ops[0].value_hash, &proof), TB_OK);
    assert_int_equal(cr_smt_prove(&f.tree, NULL, root, ops[1].key, &proof), TB_OK);
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, root, ops[1].key, NULL, &proof), TB_OK);
    fixture_close(&f);
}

static void batch_equals_one_by_one(void **state)
{
    static struct cr_smt_op ops[400];
    struct fixture f;
    struct t_rng rng;
    uint8_t base[H];
    uint8_t batch_root[H] = {0};
    uint8_t single_root[H] = {0};
    uint8_t reverse_root[H] = {0};
    (void)state;
    t_rng_seed(&rng, 42);
    t_rng_bytes(&rng, base, H);
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    for (size_t i = 0; i < 400; i++) {
        memset(&ops[i], 0, sizeof(ops[i]));
        t_rng_bytes(&rng, ops[i].value_hash, H);
        for (int again = 1; again;) { /* distinct keys, so that order cannot matter */
            gen_key(&rng, base, i % 2 == 0, ops[i].key);
            again = 0;
            for (size_t j = 0; j < i; j++) {
                again |= memcmp(ops[i].key, ops[j].key, H) == 0;
            }
        }
    }
    assert_int_equal(cr_smt_update(&f.tree, NULL, batch_root, ops, 400, batch_root), TB_OK);
    size_t nodes = f.mem.node_count;
    for (size_t i = 0; i < 400; i++) {
        assert_int_equal(cr_smt_update(&f.tree, NULL, single_root, &ops[i], 1, single_root), TB_OK);
        assert_int_equal(cr_smt_update(&f.tree, NULL, reverse_root, &ops[399 - i], 1, reverse_root),
                         TB_OK);
    }
    assert_memory_equal(batch_root, single_root, H);
    assert_memory_equal(batch_root, reverse_root, H);
    /* Re-applying the batch changes nothing (nodes are not deduplicated: the rebuilt
     * path is stored again, at new locations, under the same root). */
    nodes = f.mem.node_count;
    assert_int_equal(cr_smt_update(&f.tree, NULL, batch_root, ops, 400, single_root), TB_OK);
    assert_memory_equal(batch_root, single_root, H);
    assert_true(f.mem.node_count >= nodes);
    /* An empty batch keeps the root. */
    assert_int_equal(cr_smt_update(&f.tree, NULL, batch_root, ops, 0, single_root), TB_OK);
    assert_memory_equal(batch_root, single_root, H);
    fixture_close(&f);
}

static void check_proofs_at(struct fixture *f, const uint8_t root[H], const struct model *m,
                            const struct model *others)
{
    struct cr_smt_proof proof;
    uint8_t value[H];
    int found = 0;
    enum cr_suite suite = f->tree.suite;
    for (size_t i = 0; i < m->n; i++) {
        assert_int_equal(cr_smt_prove(&f->tree, NULL, root, m->e[i].key, &proof), TB_OK);
        assert_int_equal(cr_smt_verify(suite, root, m->e[i].key, m->e[i].value, &proof), TB_OK);
        assert_int_equal(cr_smt_verify(suite, root, m->e[i].key, NULL, &proof), TB_EPROOF);
        assert_int_equal(cr_smt_get(&f->tree, NULL, root, m->e[i].key, value, &found), TB_OK);
        assert_int_equal(found, 1);
        assert_memory_equal(value, m->e[i].value, H);
    }
    for (size_t i = 0; i < others->n; i++) {
        int at = model_find(m, others->e[i].key);
        if (at >= 0 && memcmp(m->e[at].value, others->e[i].value, H) == 0) {
            continue;
        }
        const uint8_t *key = others->e[i].key;
        assert_int_equal(cr_smt_prove(&f->tree, NULL, root, key, &proof), TB_OK);
        assert_int_equal(cr_smt_verify(suite, root, key, others->e[i].value, &proof), TB_EPROOF);
        if (at < 0) {
            assert_int_equal(cr_smt_verify(suite, root, key, NULL, &proof), TB_OK);
            assert_int_equal(cr_smt_get(&f->tree, NULL, root, key, value, &found), TB_OK);
            assert_int_equal(found, 0);
        }
    }
}

/* Every version's root keeps proving that version's values after later updates. */
static void old_roots_still_prove(void **state)
{
    enum { VERSIONS = 8 };
    static struct model versions[VERSIONS];
    uint8_t roots[VERSIONS][H];
    struct fixture f;
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t base[H];
    uint8_t root[H] = {0};
    (void)state;
    t_rng_seed(&rng, 2024);
    t_rng_bytes(&rng, base, H);
    fixture_open(&f, CR_SUITE_SM2_SM3);
    struct model m = {.n = 0};
    for (int v = 0; v < VERSIONS; v++) {
        for (int b = 0; b < 3; b++) {
            size_t count = gen_batch(&rng, &m, base, b == 1, v >= 6, ops, 40);
            apply_checked(&f, &m, root, ops, count);
        }
        versions[v] = m;
        memcpy(roots[v], root, H);
    }
    for (int v = 0; v < VERSIONS; v++) {
        check_proofs_at(&f, roots[v], &versions[v], &versions[(v + 3) % VERSIONS]);
    }
    fixture_close(&f);
}

/* ---- tampering ---- */

static void flip(uint8_t *bytes, unsigned bit)
{
    bytes[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
}

/* Every sibling of short paths; a spread (always with the last) of long ones. */
static uint32_t next_depth(uint32_t d, uint32_t depth)
{
    uint32_t step = 1 + depth / 24;
    if (d + step >= depth && d + 1 < depth) {
        return depth - 1;
    }
    return d + step;
}

static void tamper_member(const uint8_t root[H], const struct entry *e,
                          const struct cr_smt_proof *proof, struct t_rng *rng)
{
    static struct cr_smt_proof p;
    static struct cr_smt_proof t;
    p = *proof;
    enum cr_suite suite = CR_SUITE_ED25519_SHA256;
    uint8_t value[H];
    assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &p), TB_OK);
    for (uint32_t d = 0; d < p.depth; d = next_depth(d, p.depth)) {
        t = p;
        flip(t.siblings[d], (unsigned)t_rng_below(rng, 256));
        assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
    }
    memcpy(value, e->value, H);
    flip(value, (unsigned)t_rng_below(rng, 256));
    assert_int_equal(cr_smt_verify(suite, root, e->key, value, &p), TB_EPROOF);
    assert_int_equal(cr_smt_verify(suite, root, e->key, NULL, &p), TB_EPROOF);
    t = p;
    flip(t.leaf_key, (unsigned)t_rng_below(rng, 256));
    assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
    if (p.depth > 0) {
        t = p;
        t.depth--; /* truncated */
        assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
    }
    if (p.depth < 256) {
        t = p;
        memset(t.siblings[t.depth++], 0x33, H); /* extended */
        assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
    }
    t = p;
    t.end = CR_SMT_END_EMPTY;
    assert_int_equal(cr_smt_verify(suite, root, e->key, NULL, &t), TB_EPROOF);
    t.end = 7;
    assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
    t = p;
    t.depth = 257;
    assert_int_equal(cr_smt_verify(suite, root, e->key, e->value, &t), TB_EPROOF);
}

static void tamper_absent(const uint8_t root[H], const uint8_t key[H],
                          const struct cr_smt_proof *proof, struct t_rng *rng)
{
    static struct cr_smt_proof p;
    static struct cr_smt_proof t;
    p = *proof;
    enum cr_suite suite = CR_SUITE_ED25519_SHA256;
    uint8_t value[H];
    assert_int_equal(cr_smt_verify(suite, root, key, NULL, &p), TB_OK);
    t_rng_bytes(rng, value, H);
    assert_int_equal(cr_smt_verify(suite, root, key, value, &p), TB_EPROOF);
    for (uint32_t d = 0; d < p.depth; d = next_depth(d, p.depth)) {
        t = p;
        flip(t.siblings[d], (unsigned)t_rng_below(rng, 256));
        assert_int_equal(cr_smt_verify(suite, root, key, NULL, &t), TB_EPROOF);
    }
    if (p.end == CR_SMT_END_LEAF) {
        t = p;
        memcpy(t.leaf_key, key, H); /* "the leaf there is the key itself" */
        assert_int_equal(cr_smt_verify(suite, root, key, NULL, &t), TB_EPROOF);
        assert_int_equal(cr_smt_verify(suite, root, key, p.leaf_value_hash, &t), TB_EPROOF);
        if (p.depth > 0) {
            t = p;
            flip(t.leaf_key, (unsigned)t_rng_below(rng, p.depth)); /* off the path */
            assert_int_equal(cr_smt_verify(suite, root, key, NULL, &t), TB_EPROOF);
        }
        t = p;
        t.end = CR_SMT_END_EMPTY;
        assert_int_equal(cr_smt_verify(suite, root, key, NULL, &t), TB_EPROOF);
    }
    if (p.depth > 0) {
        t = p;
        t.depth--;
        assert_int_equal(cr_smt_verify(suite, root, key, NULL, &t), TB_EPROOF);
    }
}

static void tampered_proofs_refused(void **state)
{
    static struct cr_smt_proof p;
    struct fixture f;
    struct model m = {.n = 0};
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t base[H];
    uint8_t root[H] = {0};
    (void)state;
    t_rng_seed(&rng, 99);
    t_rng_bytes(&rng, base, H);
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    for (int b = 0; b < 8; b++) {
        size_t count = gen_batch(&rng, &m, base, b % 2, 0, ops, 50);
        apply_checked(&f, &m, root, ops, count);
    }
    assert_true(m.n > 50);
    for (size_t i = 0; i < m.n; i++) {
        assert_int_equal(cr_smt_prove(&f.tree, NULL, root, m.e[i].key, &p), TB_OK);
        tamper_member(root, &m.e[i], &p, &rng);
    }
    int leaf_ends = 0;
    for (int i = 0; i < 300; i++) {
        uint8_t key[H];
        gen_key(&rng, base, i % 2, key);
        if (model_find(&m, key) >= 0) {
            continue;
        }
        assert_int_equal(cr_smt_prove(&f.tree, NULL, root, key, &p), TB_OK);
        leaf_ends += p.end == CR_SMT_END_LEAF;
        tamper_absent(root, key, &p, &rng);
    }
    assert_true(leaf_ends > 0);
    fixture_close(&f);
}

/* A proof that hashes to its root but has a shape no compact tree has is refused. */
static void non_canonical_shapes_refused(void **state)
{
    static struct cr_smt_proof p;
    uint8_t key[H];
    uint8_t value[H];
    uint8_t leaf[H];
    uint8_t buf[1 + 2 * H];
    uint8_t root[H];
    (void)state;
    memset(key, 0x11, H); /* bit 0 is 0: the leaf is the left child */
    memset(value, 0x22, H);
    cr_smt_leaf_hash(CR_SUITE_ED25519_SHA256, key, value, leaf);
    buf[0] = 1;
    memcpy(buf + 1, leaf, H);
    memset(buf + 1 + H, 0, H);
    cr_hash(CR_SUITE_ED25519_SHA256, buf, sizeof(buf), root); /* H(1 || leaf || empty) */
    memset(&p, 0, sizeof(p));
    p.depth = 1;
    p.end = CR_SMT_END_LEAF;
    memcpy(p.leaf_key, key, H);
    memcpy(p.leaf_value_hash, value, H);
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, root, key, value, &p), TB_EPROOF);
    /* A leaf placed off its own path (its key starts with 1, it sits on the left) must
     * not prove that a left-hand key is absent, even though the hashes agree. */
    static struct cr_smt_proof q;
    uint8_t other_key[H];
    uint8_t other_leaf[H];
    memset(other_key, 0xf0, H);
    cr_smt_leaf_hash(CR_SUITE_ED25519_SHA256, other_key, value, other_leaf);
    memcpy(buf + 1, other_leaf, H);
    memset(buf + 1 + H, 0x44, H);
    cr_hash(CR_SUITE_ED25519_SHA256, buf, sizeof(buf), root);
    memset(&q, 0, sizeof(q));
    q.depth = 1;
    q.end = CR_SMT_END_LEAF;
    memcpy(q.leaf_key, other_key, H);
    memcpy(q.leaf_value_hash, value, H);
    memset(q.siblings[0], 0x44, H);
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, root, key, NULL, &q), TB_EPROOF);
    /* The same leaf as a one-leaf tree is fine. */
    p.depth = 0;
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, leaf, key, value, &p), TB_OK);
    /* Empty tree: absence with depth 0, and nothing else. */
    uint8_t zero[H] = {0};
    memset(&p, 0, sizeof(p));
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, zero, key, NULL, &p), TB_OK);
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, zero, key, value, &p), TB_EPROOF);
    p.depth = 256;
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, zero, key, NULL, &p), TB_EPROOF);
}

/* ---- store failures ---- */

struct faulty
{
    struct cr_smt_store inner;
    long gets_left; /* < 0: never fail */
    long puts_left;
    int corrupt;       /* flip a byte of every node read */
    uint64_t swap[2];  /* reads of swap[0] get the node at swap[1] and back; 0: none */
    uint64_t last_put; /* the last location handed out */
    int put_order_ok;  /* every location larger than the one before, never 0 */
};

static int faulty_get(void *impl, void *txn, uint64_t loc, struct cr_smt_node *out, char *errmsg)
{
    struct faulty *fs = impl;
    if (fs->gets_left == 0) {
        return tb_fail(errmsg, TB_EIO, "injected read fault");
    }
    if (fs->gets_left > 0) {
        fs->gets_left--;
    }
    if (fs->swap[0] != 0 && (loc == fs->swap[0] || loc == fs->swap[1])) {
        loc = loc == fs->swap[0] ? fs->swap[1] : fs->swap[0];
    }
    int rv = fs->inner.get(fs->inner.impl, txn, loc, out, errmsg);
    if (rv == TB_OK && fs->corrupt) {
        out->b[5] ^= 0x40;
    }
    return rv;
}

static int faulty_put(void *impl, void *txn, const struct cr_smt_node *node, uint64_t *loc,
                      char *errmsg)
{
    struct faulty *fs = impl;
    if (fs->puts_left == 0) {
        return tb_fail(errmsg, TB_ENOSPC, "injected write fault");
    }
    if (fs->puts_left > 0) {
        fs->puts_left--;
    }
    int rv = fs->inner.put(fs->inner.impl, txn, node, loc, errmsg);
    if (rv == TB_OK) {
        fs->put_order_ok &= *loc > fs->last_put;
        fs->last_put = *loc;
    }
    return rv;
}

static int faulty_root_put(void *impl, void *txn, const uint8_t hash[H], uint64_t loc, char *errmsg)
{
    struct faulty *fs = impl;
    return fs->inner.root_put(fs->inner.impl, txn, hash, loc, errmsg);
}

static int faulty_root_get(void *impl, void *txn, const uint8_t hash[H], uint64_t *loc,
                           char *errmsg)
{
    struct faulty *fs = impl;
    return fs->inner.root_get(fs->inner.impl, txn, hash, loc, errmsg);
}

/* Fails the k-th read, then the k-th write, of one batch until it goes through. */
static void update_with_faults(struct cr_smt *tree, struct faulty *fs, const uint8_t root[H],
                               const struct cr_smt_op *ops, size_t count, uint8_t out[H])
{
    for (long k = 0;; k++) {
        fs->gets_left = k;
        memset(out, 0xee, H);
        int rv = cr_smt_update(tree, NULL, root, ops, count, out);
        fs->gets_left = -1;
        if (rv == TB_OK) {
            break;
        }
        assert_int_equal(rv, TB_EIO);
        assert_non_null(strstr(tree->errmsg, "injected read fault"));
        assert_true(out[0] == 0xee && out[31] == 0xee); /* untouched on failure */
    }
    for (long k = 0;; k++) {
        fs->puts_left = k;
        int rv = cr_smt_update(tree, NULL, root, ops, count, out);
        fs->puts_left = -1;
        if (rv == TB_OK) {
            break;
        }
        assert_int_equal(rv, TB_ENOSPC);
        assert_non_null(strstr(tree->errmsg, "put status node"));
    }
}

static void store_faults_propagate(void **state)
{
    static struct cr_smt_proof p;
    struct cr_smt_mem mem;
    struct faulty fs = {.gets_left = -1, .puts_left = -1};
    struct cr_smt tree;
    struct model m = {.n = 0};
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t base[H];
    uint8_t root[H] = {0};
    uint8_t out[H];
    (void)state;
    t_rng_seed(&rng, 5);
    t_rng_bytes(&rng, base, H);
    cr_smt_mem_init(&mem);
    fs.inner = cr_smt_mem_store(&mem);
    struct cr_smt_store store = {&fs, faulty_get, faulty_put, faulty_root_put, faulty_root_get};
    assert_int_equal(cr_smt_init(&tree, CR_SUITE_ED25519_SHA256, &store), TB_OK);
    for (int b = 0; b < 6; b++) {
        size_t count = gen_batch(&rng, &m, base, 0, 0, ops, 40);
        update_with_faults(&tree, &fs, root, ops, count, out);
        for (size_t i = 0; i < count; i++) {
            model_apply(&m, &ops[i]);
        }
        uint8_t want[H];
        naive_root(CR_SUITE_ED25519_SHA256, &m, want);
        assert_memory_equal(out, want, H);
        memcpy(root, out, H);
    }
    assert_true(m.n > 2);
    fs.gets_left = 1;
    assert_int_equal(cr_smt_prove(&tree, NULL, root, m.e[0].key, &p), TB_EIO);
    fs.gets_left = -1;
    /* A node whose bytes do not hash to what its parent says is refused, not believed. */
    fs.corrupt = 1;
    int found = 0;
    assert_int_equal(cr_smt_get(&tree, NULL, root, m.e[0].key, out, &found), TB_EIO);
    assert_non_null(strstr(tree.errmsg, "holds another node"));
    assert_int_equal(cr_smt_update(&tree, NULL, root, ops, 1, out), TB_EIO);
    fs.corrupt = 0;
    cr_smt_release(&tree);
    /* A root the store does not know: its TB_ENOTFOUND, naming the root. */
    struct cr_smt_mem other;
    char hex[2 * H + 1];
    tb_hex_encode(root, H, hex);
    cr_smt_mem_init(&other);
    struct cr_smt_store other_store = cr_smt_mem_store(&other);
    assert_int_equal(cr_smt_init(&tree, CR_SUITE_ED25519_SHA256, &other_store), TB_OK);
    assert_int_equal(cr_smt_prove(&tree, NULL, root, m.e[0].key, &p), TB_ENOTFOUND);
    assert_non_null(strstr(tree.errmsg, hex));
    assert_int_equal(cr_smt_get(&tree, NULL, root, m.e[0].key, out, &found), TB_ENOTFOUND);
    assert_int_equal(cr_smt_update(&tree, NULL, root, ops, 1, out), TB_ENOTFOUND);
    assert_non_null(strstr(tree.errmsg, hex));
    assert_int_equal(other.node_count, 0);
    cr_smt_release(&tree);
    cr_smt_mem_release(&other);
    cr_smt_mem_release(&mem);
}

/* Builds a tree of a few hundred keys through a faulty (pass-through) store. */
static void faulty_tree(struct cr_smt_mem *mem, struct faulty *fs, struct cr_smt *tree,
                        struct model *m, uint8_t root[H], int batches)
{
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t base[H];
    t_rng_seed(&rng, 77);
    t_rng_bytes(&rng, base, H);
    cr_smt_mem_init(mem);
    memset(fs, 0, sizeof(*fs));
    fs->gets_left = -1;
    fs->puts_left = -1;
    fs->put_order_ok = 1;
    fs->inner = cr_smt_mem_store(mem);
    struct cr_smt_store store = {fs, faulty_get, faulty_put, faulty_root_put, faulty_root_get};
    assert_int_equal(cr_smt_init(tree, CR_SUITE_ED25519_SHA256, &store), TB_OK);
    m->n = 0;
    memset(root, 0, H);
    for (int b = 0; b < batches; b++) {
        size_t count = gen_batch(&rng, m, base, b % 3 == 1, 0, ops, 60);
        assert_int_equal(cr_smt_update(tree, NULL, root, ops, count, root), TB_OK);
        for (size_t i = 0; i < count; i++) {
            model_apply(m, &ops[i]);
        }
    }
    uint8_t want[H];
    naive_root(CR_SUITE_ED25519_SHA256, m, want);
    assert_memory_equal(root, want, H);
}

/* Every key of m through get: the right answer or TB_EIO, never a wrong one. */
static int lookups_right_or_eio(struct cr_smt *tree, const uint8_t root[H], const struct model *m)
{
    int eio = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint8_t value[H];
        int found = 0;
        int rv = cr_smt_get(tree, NULL, root, m->e[i].key, value, &found);
        if (rv == TB_EIO) {
            eio++;
            continue;
        }
        assert_int_equal(rv, TB_OK);
        assert_int_equal(found, 1);
        assert_memory_equal(value, m->e[i].value, H);
    }
    return eio;
}

/* A store that answers with the node of another location gives TB_EIO, never a wrong answer. */
static void swapped_locations_refused(void **state)
{
    static struct model m;
    struct cr_smt_mem mem;
    struct faulty fs;
    struct cr_smt tree;
    struct cr_smt_node node;
    struct t_rng rng;
    uint8_t root[H];
    uint8_t out[H];
    (void)state;
    faulty_tree(&mem, &fs, &tree, &m, root, 8);
    assert_true(m.n > 100);
    assert_true(fs.put_order_ok);
    /* The root and its left child swapped: every read path starts wrong. */
    uint64_t root_loc = 0;
    assert_int_equal(fs.inner.root_get(fs.inner.impl, NULL, root, &root_loc, tree.errmsg), TB_OK);
    assert_int_equal(fs.inner.get(fs.inner.impl, NULL, root_loc, &node, tree.errmsg), TB_OK);
    assert_int_equal(node.kind, CR_SMT_NODE_INNER);
    assert_true(node.a_loc != 0 && node.a_loc < root_loc);
    fs.swap[0] = root_loc;
    fs.swap[1] = node.a_loc;
    assert_int_equal(lookups_right_or_eio(&tree, root, &m), (int)m.n);
    assert_non_null(strstr(tree.errmsg, "holds another node"));
    assert_int_equal(cr_smt_update(&tree, NULL, root, &(struct cr_smt_op){.remove = 1}, 1, out),
                     TB_EIO);
    /* Random pairs, many of them below the root: right answers or TB_EIO. */
    t_rng_seed(&rng, 9);
    int eio = 0;
    for (int i = 0; i < 40; i++) {
        fs.swap[0] = 1 + t_rng_below(&rng, mem.node_count);
        fs.swap[1] = 1 + t_rng_below(&rng, mem.node_count);
        eio += lookups_right_or_eio(&tree, root, &m);
    }
    assert_true(eio > 0);
    /* A location past the end: the store has no such node, the tree a corrupt store. */
    fs.swap[0] = root_loc;
    fs.swap[1] = mem.node_count + 5;
    int found = 0;
    assert_int_equal(cr_smt_get(&tree, NULL, root, m.e[0].key, out, &found), TB_EIO);
    assert_non_null(strstr(tree.errmsg, "no node at location"));
    fs.swap[0] = 0;
    assert_int_equal(lookups_right_or_eio(&tree, root, &m), 0);
    cr_smt_release(&tree);
    cr_smt_mem_release(&mem);
}

/*
 * Locations strictly increase; the same content may be stored twice; a root seen again
 * keeps its first location; every old root stays provable after many updates; a root
 * the store never saw is an error naming it.
 */
static void locations_and_roots(void **state)
{
    enum { VERSIONS = 60 };
    static struct model m;
    static struct cr_smt_proof p;
    struct cr_smt_mem mem;
    struct faulty fs;
    struct cr_smt tree;
    struct cr_smt_node node = {.kind = CR_SMT_NODE_LEAF};
    uint8_t roots[VERSIONS][H];
    uint8_t keys[VERSIONS][H];
    uint8_t values[VERSIONS][H];
    uint8_t root[H];
    (void)state;
    faulty_tree(&mem, &fs, &tree, &m, root, 2);
    /* The same node put twice: two locations, both readable, in order. */
    uint64_t loc1 = 0, loc2 = 0;
    node.a[0] = 7;
    assert_int_equal(fs.inner.put(fs.inner.impl, NULL, &node, &loc1, tree.errmsg), TB_OK);
    assert_int_equal(fs.inner.put(fs.inner.impl, NULL, &node, &loc2, tree.errmsg), TB_OK);
    assert_true(loc1 != 0 && loc2 > loc1);
    struct cr_smt_node got;
    assert_int_equal(fs.inner.get(fs.inner.impl, NULL, loc2, &got, tree.errmsg), TB_OK);
    assert_memory_equal(&got, &node, sizeof(node));
    assert_int_equal(fs.inner.get(fs.inner.impl, NULL, 0, &got, tree.errmsg), TB_ENOTFOUND);
    /* Many one-key versions; each root keeps proving its own key's value. */
    uint8_t first_root[H];
    uint64_t first_loc = 0, again_loc = 0;
    memcpy(first_root, root, H);
    assert_int_equal(fs.inner.root_get(fs.inner.impl, NULL, root, &first_loc, tree.errmsg), TB_OK);
    for (int v = 0; v < VERSIONS; v++) {
        struct cr_smt_op op = {.remove = 0};
        memcpy(op.key, m.e[v % m.n].key, H);
        memset(op.value_hash, v + 1, H);
        memcpy(keys[v], op.key, H);
        memcpy(values[v], op.value_hash, H);
        assert_int_equal(cr_smt_update(&tree, NULL, root, &op, 1, root), TB_OK);
        memcpy(roots[v], root, H);
    }
    assert_true(fs.put_order_ok);
    for (int v = 0; v < VERSIONS; v++) {
        assert_int_equal(cr_smt_prove(&tree, NULL, roots[v], keys[v], &p), TB_OK);
        assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, roots[v], keys[v], values[v], &p),
                         TB_OK);
    }
    /* Back to the first version's values: the same root again, stored anew, and its first
     * location kept in the root table. */
    for (int v = 0; v < VERSIONS; v++) {
        struct cr_smt_op op = {.remove = 0};
        memcpy(op.key, keys[v], H);
        memcpy(op.value_hash, m.e[v % m.n].value, H);
        assert_int_equal(cr_smt_update(&tree, NULL, root, &op, 1, root), TB_OK);
    }
    assert_memory_equal(root, first_root, H);
    assert_int_equal(fs.inner.root_get(fs.inner.impl, NULL, root, &again_loc, tree.errmsg), TB_OK);
    assert_int_equal(again_loc, first_loc);
    assert_true(fs.put_order_ok);
    assert_int_equal(lookups_right_or_eio(&tree, root, &m), 0);
    /* A root this store never saw. */
    uint8_t stranger[H];
    uint8_t out[H];
    int found = 0;
    memset(stranger, 0x5a, H);
    assert_int_equal(cr_smt_get(&tree, NULL, stranger, keys[0], out, &found), TB_ENOTFOUND);
    assert_non_null(strstr(tree.errmsg, "status root 5a5a5a"));
    cr_smt_release(&tree);
    cr_smt_mem_release(&mem);
}

/* The scratch allocation failing is TB_ENOMEM, not a crash. */
static void scratch_alloc_failure(void **state)
{
    struct fixture f;
    struct cr_smt_op ops[3];
    uint8_t root[H] = {0};
    (void)state;
    memset(ops, 0, sizeof(ops));
    ops[1].key[0] = 1;
    ops[2].key[0] = 2;
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    tb_alloc_fault_set(0, 1);
    assert_int_equal(cr_smt_update(&f.tree, NULL, root, ops, 3, root), TB_ENOMEM);
    tb_alloc_fault_reset();
    assert_int_equal(cr_smt_update(&f.tree, NULL, root, ops, 3, root), TB_OK);
    fixture_close(&f);
}

/* ---- compact proof encoding ---- */

static void assert_proofs_equal(const struct cr_smt_proof *a, const struct cr_smt_proof *b)
{
    assert_int_equal(a->depth, b->depth);
    assert_int_equal(a->end, b->end);
    if (a->end == CR_SMT_END_LEAF) {
        assert_memory_equal(a->leaf_key, b->leaf_key, H);
        assert_memory_equal(a->leaf_value_hash, b->leaf_value_hash, H);
    }
    if (a->depth > 0) {
        assert_memory_equal(a->siblings, b->siblings, (size_t)a->depth * H);
    }
}

/* Round trip, re-encoding, and every truncation and extension refused. */
static void check_encoding(const struct cr_smt_proof *p, const uint8_t root[H], const uint8_t *key,
                           const uint8_t *value)
{
    static struct cr_smt_proof back;
    static uint8_t enc[CR_SMT_PROOF_ENCODED_MAX + 1];
    static uint8_t again[CR_SMT_PROOF_ENCODED_MAX];
    size_t len = 0;
    size_t len2 = 0;
    assert_int_equal(cr_smt_proof_encode(p, enc, sizeof(again), &len), TB_OK);
    assert_true(len <= 3 + 2 * H + (p->depth + 7) / 8 + (size_t)p->depth * H);
    assert_int_equal(cr_smt_proof_decode(enc, len, &back), TB_OK);
    assert_proofs_equal(p, &back);
    assert_int_equal(cr_smt_verify(CR_SUITE_ED25519_SHA256, root, key, value, &back), TB_OK);
    assert_int_equal(cr_smt_proof_encode(&back, again, sizeof(again), &len2), TB_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, enc, len);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(cr_smt_proof_decode(enc, cut, &back), TB_EMALFORMED);
    }
    enc[len] = 0;
    assert_int_equal(cr_smt_proof_decode(enc, len + 1, &back), TB_EMALFORMED);
    assert_int_equal(cr_smt_proof_encode(p, again, len - 1, &len2), TB_ELIMIT);
}

static void proof_encoding(void **state)
{
    static struct cr_smt_proof p;
    struct fixture f;
    struct model m = {.n = 0};
    struct t_rng rng;
    struct cr_smt_op ops[64];
    uint8_t base[H];
    uint8_t root[H] = {0};
    (void)state;
    t_rng_seed(&rng, 314);
    t_rng_bytes(&rng, base, H);
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    assert_int_equal(cr_smt_prove(&f.tree, NULL, root, base, &p), TB_OK); /* empty tree */
    check_encoding(&p, root, base, NULL);
    for (int b = 0; b < 6; b++) {
        size_t count = gen_batch(&rng, &m, base, b % 2, 0, ops, 50);
        apply_checked(&f, &m, root, ops, count);
    }
    size_t zero_siblings = 0;
    for (size_t i = 0; i < m.n; i++) {
        assert_int_equal(cr_smt_prove(&f.tree, NULL, root, m.e[i].key, &p), TB_OK);
        check_encoding(&p, root, m.e[i].key, m.e[i].value);
        for (uint32_t d = 0; d < p.depth; d++) {
            zero_siblings += p.siblings[d][0] == 0 && p.siblings[d][31] == 0;
        }
        uint8_t key[H];
        gen_key(&rng, base, (int)(i % 2), key);
        if (model_find(&m, key) < 0) {
            assert_int_equal(cr_smt_prove(&f.tree, NULL, root, key, &p), TB_OK);
            check_encoding(&p, root, key, NULL);
        }
    }
    assert_true(zero_siblings > 0); /* the bitmap path was exercised */
    fixture_close(&f);
}

static void proof_decoding_strict(void **state)
{
    static struct cr_smt_proof p;
    static uint8_t buf[CR_SMT_PROOF_ENCODED_MAX + 8];
    struct t_rng rng;
    size_t len = 0;
    (void)state;
    /* depth 1, empty end, bitmap bit set, sibling of zeros: a clear bit is the only form. */
    memset(buf, 0, sizeof(buf));
    buf[1] = 1;
    buf[3] = 0x80;
    assert_int_equal(cr_smt_proof_decode(buf, 4 + H, &p), TB_EMALFORMED);
    buf[3] = 0x00;
    assert_int_equal(cr_smt_proof_decode(buf, 4, &p), TB_OK);
    buf[3] = 0x40; /* a bit past depth */
    assert_int_equal(cr_smt_proof_decode(buf, 4, &p), TB_EMALFORMED);
    buf[3] = 0;
    buf[2] = 2; /* unknown end */
    assert_int_equal(cr_smt_proof_decode(buf, 4, &p), TB_EMALFORMED);
    buf[2] = 0;
    buf[0] = 1;
    buf[1] = 1; /* depth 257 */
    assert_int_equal(cr_smt_proof_decode(buf, sizeof(buf), &p), TB_EMALFORMED);
    memset(&p, 0, sizeof(p));
    p.depth = 257;
    assert_int_equal(cr_smt_proof_encode(&p, buf, sizeof(buf), &len), TB_EINVAL);
    p.depth = 3;
    p.end = 9;
    assert_int_equal(cr_smt_proof_encode(&p, buf, sizeof(buf), &len), TB_EINVAL);
    /* Random bytes: whatever decodes must re-encode to exactly the input. */
    t_rng_seed(&rng, 271828);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)t_rng_below(&rng, 200);
        t_rng_bytes(&rng, buf, n);
        if (n >= 2 && t_rng_below(&rng, 2)) {
            buf[0] = 0; /* small depths, so that some inputs get through */
            buf[1] = (uint8_t)t_rng_below(&rng, 12);
            buf[2] = (uint8_t)t_rng_below(&rng, 2);
        }
        if (cr_smt_proof_decode(buf, n, &p) == TB_OK) {
            static uint8_t again[CR_SMT_PROOF_ENCODED_MAX];
            assert_int_equal(cr_smt_proof_encode(&p, again, sizeof(again), &len), TB_OK);
            assert_int_equal(len, n);
            assert_memory_equal(again, buf, n);
        }
    }
}

/* ---- known answers from an independent implementation (tests/vectors/smt_gen.py) ---- */

struct vec_case
{
    struct fixture f;
    int open;
    struct cr_smt_op ops[32];
    size_t count;
    uint8_t root[H];
};

static void vec_prove(struct vec_case *c, const char *key_hex, const char *proof_hex)
{
    static struct cr_smt_proof p;
    static struct cr_smt_proof want;
    static uint8_t want_bytes[CR_SMT_PROOF_ENCODED_MAX];
    static uint8_t enc[CR_SMT_PROOF_ENCODED_MAX];
    uint8_t key[H];
    size_t want_len = 0;
    size_t len = 0;
    assert_int_equal(tb_hex_decode(key_hex, 2 * H, key, H), TB_OK);
    assert_int_equal(
        tb_hex_decode_var(proof_hex, strlen(proof_hex), want_bytes, sizeof(want_bytes), &want_len),
        TB_OK);
    assert_int_equal(cr_smt_prove(&c->f.tree, NULL, c->root, key, &p), TB_OK);
    assert_int_equal(cr_smt_proof_encode(&p, enc, sizeof(enc), &len), TB_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(enc, want_bytes, len);
    assert_int_equal(cr_smt_proof_decode(want_bytes, want_len, &want), TB_OK);
    const uint8_t *value = NULL;
    for (size_t i = 0; i < c->count; i++) {
        if (memcmp(c->ops[i].key, key, H) == 0) {
            value = c->ops[i].value_hash;
        }
    }
    assert_int_equal(cr_smt_verify(c->f.tree.suite, c->root, key, value, &want), TB_OK);
}

static void vec_line(struct vec_case *c, char *line)
{
    uint8_t want[H];
    if (strncmp(line, "case ", 5) == 0) {
        if (c->open) {
            fixture_close(&c->f);
        }
        c->open = 0;
        c->count = 0;
        memset(c->root, 0, H);
    } else if (strncmp(line, "suite ", 6) == 0) {
        fixture_open(&c->f,
                     strcmp(line + 6, "sm3") == 0 ? CR_SUITE_SM2_SM3 : CR_SUITE_ED25519_SHA256);
        c->open = 1;
    } else if (strncmp(line, "kv ", 3) == 0 && strlen(line) == 3 + 4 * H + 1) {
        struct cr_smt_op *op = &c->ops[c->count++];
        assert_true(c->count <= 32);
        memset(op, 0, sizeof(*op));
        assert_int_equal(tb_hex_decode(line + 3, 2 * H, op->key, H), TB_OK);
        assert_int_equal(tb_hex_decode(line + 4 + 2 * H, 2 * H, op->value_hash, H), TB_OK);
    } else if (strncmp(line, "root ", 5) == 0) {
        assert_int_equal(tb_hex_decode(line + 5, strlen(line + 5), want, H), TB_OK);
        assert_int_equal(cr_smt_update(&c->f.tree, NULL, c->root, c->ops, c->count, c->root),
                         TB_OK);
        assert_memory_equal(c->root, want, H);
    } else if (strncmp(line, "prove ", 6) == 0 && strlen(line) > 6 + 2 * H + 1) {
        line[6 + 2 * H] = '\0';
        vec_prove(c, line + 6, line + 7 + 2 * H);
    } else {
        fail_msg("bad vector line: %s", line);
    }
}

static void compact_vectors(void **state)
{
    static struct vec_case c;
    size_t len = 0;
    int cases = 0;
    (void)state;
    memset(&c, 0, sizeof(c));
    char *text = (char *)t_read_file("tests/vectors/smt_compact.txt", &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '#') {
            cases += strncmp(line, "case ", 5) == 0;
            vec_line(&c, line);
        }
    }
    assert_true(c.open);
    fixture_close(&c.f);
    assert_int_equal(cases, 8);
    tb_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_sets_match_naive),
        cmocka_unit_test(shared_prefixes_match_naive),
        cmocka_unit_test(deepest_leaves),
        cmocka_unit_test(batch_equals_one_by_one),
        cmocka_unit_test(old_roots_still_prove),
        cmocka_unit_test(tampered_proofs_refused),
        cmocka_unit_test(non_canonical_shapes_refused),
        cmocka_unit_test(store_faults_propagate),
        cmocka_unit_test(swapped_locations_refused),
        cmocka_unit_test(locations_and_roots),
        cmocka_unit_test(scratch_alloc_failure),
        cmocka_unit_test(proof_encoding),
        cmocka_unit_test(proof_decoding_strict),
        cmocka_unit_test(compact_vectors),
    };
    if (getenv("T_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("T_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
