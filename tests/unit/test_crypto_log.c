/*
 * crypto/log.c: the RFC 9162 log tree. Certificate Transparency's reference vectors
 * (tests/vectors/merkle_rfc6962.txt), then property tests against a naive recursive
 * implementation written straight from RFC 9162 2.1 (MTH, PATH, SUBPROOF), tampered
 * proofs, CVE-2012-2459, and store read/write failures. Every property runs with SHA-256
 * and SM3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cr_log.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

#define H CR_HASH_BYTES
#define PROP_N 300     /* property tests: every size 1..PROP_N */
#define CONS_ALL_N 120 /* consistency: every pair up to this size */

static const enum cr_suite suites[] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};

/* ---- naive reference, straight from RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1 ---- */

struct naive
{
    enum cr_suite suite;
    uint8_t (*leaves)[H];           /* leaf hashes */
    uint8_t (*memo)[PROP_N + 1][H]; /* memo[lo][len]: MTH(D[lo:lo+len]) */
    uint8_t (*have)[PROP_N + 1];
};

static void naive_node(enum cr_suite suite, const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    uint8_t buf[1 + 2 * H];
    buf[0] = 1;
    memcpy(buf + 1, l, H);
    memcpy(buf + 1 + H, r, H);
    cr_hash(suite, buf, sizeof(buf), out);
}

static uint64_t naive_k(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    return k;
}

/* MTH(D[lo:lo+n]); memoised by range only (the leaves never change), so still MTH. */
static void naive_mth(struct naive *nv, uint64_t lo, uint64_t n, uint8_t *out)
{
    if (n == 0) {
        cr_hash(nv->suite, "", 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, nv->leaves[lo], H);
        return;
    }
    if (nv->have[lo][n]) {
        memcpy(out, nv->memo[lo][n], H);
        return;
    }
    uint8_t l[H];
    uint8_t r[H];
    uint64_t k = naive_k(n);
    naive_mth(nv, lo, k, l);
    naive_mth(nv, lo + k, n - k, r);
    naive_node(nv->suite, l, r, out);
    memcpy(nv->memo[lo][n], out, H);
    nv->have[lo][n] = 1;
}

/* PATH(m, D[lo:lo+n]) appended to path. */
static void naive_path(struct naive *nv, uint64_t m, uint64_t lo, uint64_t n,
                       struct cr_log_path *path)
{
    if (n <= 1) {
        return;
    }
    uint64_t k = naive_k(n);
    if (m < k) {
        naive_path(nv, m, lo, k, path);
        naive_mth(nv, lo + k, n - k, path->hashes[path->count++]);
    } else {
        naive_path(nv, m - k, lo + k, n - k, path);
        naive_mth(nv, lo, k, path->hashes[path->count++]);
    }
}

/* SUBPROOF(m, D[lo:lo+n], b) appended to path. */
static void naive_subproof(struct naive *nv, uint64_t m, uint64_t lo, uint64_t n, int b,
                           struct cr_log_path *path)
{
    if (m == n) {
        if (!b) {
            naive_mth(nv, lo, n, path->hashes[path->count++]);
        }
        return;
    }
    uint64_t k = naive_k(n);
    if (m <= k) {
        naive_subproof(nv, m, lo, k, b, path);
        naive_mth(nv, lo + k, n - k, path->hashes[path->count++]);
    } else {
        naive_subproof(nv, m - k, lo + k, n - k, 0, path);
        naive_mth(nv, lo, k, path->hashes[path->count++]);
    }
}

static void naive_init(struct naive *nv, enum cr_suite suite, uint64_t n)
{
    nv->suite = suite;
    nv->leaves = tb_calloc(n, H);
    nv->memo = tb_calloc(PROP_N + 1, sizeof(*nv->memo));
    nv->have = tb_calloc(PROP_N + 1, sizeof(*nv->have));
    assert_non_null(nv->leaves);
    assert_non_null(nv->memo);
    assert_non_null(nv->have);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t data[8];
        for (int b = 0; b < 8; b++) {
            data[b] = (uint8_t)(i >> (8 * b));
        }
        cr_log_leaf_hash(suite, data, sizeof(data), nv->leaves[i]);
    }
}

static void naive_release(struct naive *nv)
{
    tb_free(nv->leaves);
    tb_free(nv->memo);
    tb_free(nv->have);
}

/* ---- a tree over the in-memory store ---- */

struct fixture
{
    struct cr_log_mem mem;
    struct cr_log_store store;
    struct cr_log log;
};

static void fixture_open(struct fixture *f, enum cr_suite suite)
{
    cr_log_mem_init(&f->mem);
    f->store = cr_log_mem_store(&f->mem);
    assert_int_equal(cr_log_init(&f->log, suite, &f->store, NULL, 0), TB_OK);
}

static void fixture_close(struct fixture *f)
{
    cr_log_release(&f->log);
    cr_log_mem_release(&f->mem);
}

static void assert_path_equal(const struct cr_log_path *a, const struct cr_log_path *b)
{
    assert_int_equal(a->count, b->count);
    if (a->count > 0) {
        assert_memory_equal(a->hashes, b->hashes, (size_t)a->count * H);
    }
}

/* ---- CT reference vectors ---- */

struct vectors
{
    uint8_t leaves[8][H];
    size_t leaf_count;
    uint8_t roots[9][H];
};

static void parse_hashes(char *rest, struct cr_log_path *path)
{
    char *save = NULL;
    path->count = 0;
    for (char *tok = strtok_r(rest, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        assert_true(path->count < CR_LOG_PATH_MAX);
        assert_int_equal(tb_hex_decode(tok, strlen(tok), path->hashes[path->count++], H), TB_OK);
    }
}

static void check_vector_line(struct fixture *f, struct vectors *v, char *line)
{
    struct cr_log_path want;
    struct cr_log_path got;
    unsigned long long a = 0;
    unsigned long long b = 0;
    int used = 0;
    if (strncmp(line, "leaf ", 5) == 0) {
        uint8_t data[64];
        size_t len = 0;
        if (strcmp(line + 5, "-") != 0) {
            assert_int_equal(
                tb_hex_decode_var(line + 5, strlen(line + 5), data, sizeof(data), &len), TB_OK);
        }
        assert_true(v->leaf_count < 8);
        cr_log_leaf_hash(CR_SUITE_ED25519_SHA256, data, len, v->leaves[v->leaf_count]);
        assert_int_equal(cr_log_append(&f->log, NULL, v->leaves[v->leaf_count]), TB_OK);
        v->leaf_count++;
    } else if (sscanf(line, "root %llu %n", &a, &used) == 1) {
        uint8_t root[H];
        assert_true(a <= 8);
        assert_int_equal(tb_hex_decode(line + used, strlen(line + used), v->roots[a], H), TB_OK);
        assert_int_equal(cr_log_root(&f->log, NULL, a, root), TB_OK);
        assert_memory_equal(root, v->roots[a], H);
    } else if (sscanf(line, "inclusion %llu %llu%n", &a, &b, &used) == 2) {
        parse_hashes(line + used, &want);
        assert_int_equal(cr_log_inclusion_proof(&f->log, NULL, a, b, &got), TB_OK);
        assert_path_equal(&got, &want);
        assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, v->leaves[a], a, b, &want,
                                                 v->roots[b]),
                         TB_OK);
    } else if (sscanf(line, "consistency %llu %llu%n", &a, &b, &used) == 2) {
        parse_hashes(line + used, &want);
        assert_int_equal(cr_log_consistency_proof(&f->log, NULL, a, b, &got), TB_OK);
        assert_path_equal(&got, &want);
        assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, a, v->roots[a], b,
                                                   v->roots[b], &want),
                         TB_OK);
    } else {
        fail_msg("bad vector line: %s", line);
    }
}

static void ct_reference_vectors(void **state)
{
    struct fixture f;
    struct vectors v;
    size_t len = 0;
    int checked = 0;
    (void)state;
    memset(&v, 0, sizeof(v));
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    char *text = (char *)t_read_file("tests/vectors/merkle_rfc6962.txt", &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        check_vector_line(&f, &v, line);
        checked++;
    }
    assert_int_equal(v.leaf_count, 8);
    assert_int_equal(checked, 8 + 9 + 5 + 4);
    /* The final root named in the brief, independently of the file. */
    uint8_t want[H];
    uint8_t root[H];
    assert_int_equal(
        tb_hex_decode("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", 64, want,
                      H),
        TB_OK);
    assert_int_equal(cr_log_root(&f.log, NULL, 8, root), TB_OK);
    assert_memory_equal(root, want, H);
    tb_free(text);
    fixture_close(&f);
}

/* ---- properties against the naive tree ---- */

static void build_full(struct fixture *f, struct naive *nv, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint8_t root[H];
        uint8_t want[H];
        assert_int_equal(cr_log_append(&f->log, NULL, nv->leaves[i]), TB_OK);
        assert_int_equal(f->log.size, i + 1);
        assert_int_equal(cr_log_root(&f->log, NULL, i + 1, root), TB_OK);
        naive_mth(nv, 0, i + 1, want);
        assert_memory_equal(root, want, H);
    }
}

static void inclusion_matches_naive_one(enum cr_suite suite)
{
    struct fixture f;
    struct naive nv;
    naive_init(&nv, suite, PROP_N);
    fixture_open(&f, suite);
    build_full(&f, &nv, PROP_N);
    /* Every historical size and index, served from the full tree's store. */
    for (uint64_t n = 1; n <= PROP_N; n++) {
        uint8_t root[H];
        uint8_t want_root[H];
        assert_int_equal(cr_log_root(&f.log, NULL, n, root), TB_OK);
        naive_mth(&nv, 0, n, want_root);
        assert_memory_equal(root, want_root, H);
        for (uint64_t i = 0; i < n; i++) {
            struct cr_log_path got;
            struct cr_log_path want = {0};
            assert_int_equal(cr_log_inclusion_proof(&f.log, NULL, i, n, &got), TB_OK);
            naive_path(&nv, i, 0, n, &want);
            assert_path_equal(&got, &want);
            assert_int_equal(cr_log_verify_inclusion(suite, nv.leaves[i], i, n, &got, root), TB_OK);
        }
    }
    fixture_close(&f);
    naive_release(&nv);
}

static void inclusion_matches_naive(void **state)
{
    (void)state;
    for (size_t s = 0; s < 2; s++) {
        inclusion_matches_naive_one(suites[s]);
    }
}

static void check_consistency_pair(struct fixture *f, struct naive *nv, uint64_t m, uint64_t n)
{
    struct cr_log_path got;
    struct cr_log_path want = {0};
    uint8_t r1[H];
    uint8_t r2[H];
    assert_int_equal(cr_log_consistency_proof(&f->log, NULL, m, n, &got), TB_OK);
    if (m > 0 && m < n) {
        naive_subproof(nv, m, 0, n, 1, &want);
    }
    assert_path_equal(&got, &want);
    naive_mth(nv, 0, m, r1);
    naive_mth(nv, 0, n, r2);
    assert_int_equal(cr_log_verify_consistency(nv->suite, m, r1, n, r2, &got), TB_OK);
}

static void consistency_matches_naive_one(enum cr_suite suite)
{
    struct fixture f;
    struct naive nv;
    struct t_rng rng;
    t_rng_seed(&rng, 0x10c5 + (uint64_t)suite);
    naive_init(&nv, suite, PROP_N);
    fixture_open(&f, suite);
    build_full(&f, &nv, PROP_N);
    for (uint64_t n = 0; n <= CONS_ALL_N; n++) {
        for (uint64_t m = 0; m <= n; m++) {
            check_consistency_pair(&f, &nv, m, n);
        }
    }
    for (int i = 0; i < 3000; i++) {
        uint64_t n = 1 + t_rng_below(&rng, PROP_N);
        uint64_t m = t_rng_below(&rng, n + 1);
        check_consistency_pair(&f, &nv, m, n);
    }
    fixture_close(&f);
    naive_release(&nv);
}

static void consistency_matches_naive(void **state)
{
    (void)state;
    for (size_t s = 0; s < 2; s++) {
        consistency_matches_naive_one(suites[s]);
    }
}

/* Reopening the tree from its store at any size gives the same roots and appends on. */
static void reopen_from_store(void **state)
{
    struct fixture f;
    struct naive nv;
    (void)state;
    naive_init(&nv, CR_SUITE_ED25519_SHA256, PROP_N);
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    build_full(&f, &nv, 200);
    for (uint64_t size = 0; size <= 200; size += 7) {
        struct cr_log again;
        uint8_t root[H];
        uint8_t want[H];
        assert_int_equal(cr_log_init(&again, CR_SUITE_ED25519_SHA256, &f.store, NULL, size), TB_OK);
        assert_int_equal(cr_log_root(&again, NULL, size, root), TB_OK);
        naive_mth(&nv, 0, size, want);
        assert_memory_equal(root, want, H);
        /* Re-appending leaves already stored re-puts identical nodes: accepted. */
        for (uint64_t i = size; i < size + 3 && i < PROP_N; i++) {
            assert_int_equal(cr_log_append(&again, NULL, nv.leaves[i]), TB_OK);
        }
        cr_log_release(&again);
    }
    cr_log_release(&f.log);
    assert_int_equal(cr_log_init(&f.log, CR_SUITE_ED25519_SHA256, &f.store, NULL, 200), TB_OK);
    for (uint64_t i = 200; i < PROP_N; i++) {
        assert_int_equal(cr_log_append(&f.log, NULL, nv.leaves[i]), TB_OK);
    }
    uint8_t root[H];
    uint8_t want[H];
    assert_int_equal(cr_log_root(&f.log, NULL, PROP_N, root), TB_OK);
    naive_mth(&nv, 0, PROP_N, want);
    assert_memory_equal(root, want, H);
    fixture_close(&f);
    naive_release(&nv);
}

/* ---- tampering ---- */

static void tampered_inclusion_refused_one(struct fixture *f, struct naive *nv, uint64_t i,
                                           uint64_t n)
{
    enum cr_suite suite = nv->suite;
    struct cr_log_path p;
    struct cr_log_path t;
    uint8_t root[H];
    uint8_t other[H];
    naive_mth(nv, 0, n, root);
    assert_int_equal(cr_log_inclusion_proof(&f->log, NULL, i, n, &p), TB_OK);
    assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &p, root), TB_OK);
    for (uint32_t h = 0; h < p.count; h++) {
        for (int bit = 0; bit < 8 * H; bit++) {
            t = p;
            t.hashes[h][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &t, root),
                             TB_EPROOF);
        }
    }
    for (int bit = 0; bit < 8 * H; bit += 5) {
        uint8_t leaf[H];
        memcpy(leaf, nv->leaves[i], H);
        leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(cr_log_verify_inclusion(suite, leaf, i, n, &p, root), TB_EPROOF);
        memcpy(other, root, H);
        other[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &p, other), TB_EPROOF);
    }
    for (uint64_t j = 0; j < n + 2; j++) { /* every other index, and past the end */
        if (j != i) {
            assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], j, n, &p, root),
                             TB_EPROOF);
        }
    }
    for (uint64_t m = 1; m <= PROP_N; m++) { /* another size, with that size's real root */
        if (m != n) {
            naive_mth(nv, 0, m, other);
            assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, m, &p, other),
                             TB_EPROOF);
        }
    }
    if (p.count > 0) {
        t = p;
        t.count--;
        assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &t, root), TB_EPROOF);
    }
    t = p;
    memset(t.hashes[t.count++], 0x5a, H);
    assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &t, root), TB_EPROOF);
    t.count = CR_LOG_PATH_MAX + 1;
    assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, n, &t, root), TB_EPROOF);
    assert_int_equal(cr_log_verify_inclusion(suite, nv->leaves[i], i, CR_LOG_SIZE_MAX, &p, root),
                     TB_EPROOF);
}

static void tampered_consistency_refused_one(struct fixture *f, struct naive *nv, uint64_t m,
                                             uint64_t n)
{
    enum cr_suite suite = nv->suite;
    struct cr_log_path p;
    struct cr_log_path t;
    uint8_t r1[H];
    uint8_t r2[H];
    uint8_t other[H];
    naive_mth(nv, 0, m, r1);
    naive_mth(nv, 0, n, r2);
    assert_int_equal(cr_log_consistency_proof(&f->log, NULL, m, n, &p), TB_OK);
    assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, r2, &p), TB_OK);
    for (uint32_t h = 0; h < p.count; h++) {
        for (int bit = 0; bit < 8 * H; bit++) {
            t = p;
            t.hashes[h][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, r2, &t), TB_EPROOF);
        }
    }
    for (int bit = 0; bit < 8 * H; bit += 3) {
        memcpy(other, r1, H);
        other[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(cr_log_verify_consistency(suite, m, other, n, r2, &p), TB_EPROOF);
        memcpy(other, r2, H);
        other[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, other, &p), TB_EPROOF);
    }
    for (uint64_t k = 1; k <= PROP_N; k++) { /* wrong sizes, with those sizes' real roots */
        naive_mth(nv, 0, k, other);
        if (k != m && k <= n) {
            assert_int_equal(cr_log_verify_consistency(suite, k, other, n, r2, &p), TB_EPROOF);
        }
        if (k != n && k >= m) {
            assert_int_equal(cr_log_verify_consistency(suite, m, r1, k, other, &p), TB_EPROOF);
        }
    }
    assert_int_equal(cr_log_verify_consistency(suite, n, r2, m, r1, &p), TB_EPROOF);
    if (p.count > 0) {
        t = p;
        t.count--;
        assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, r2, &t), TB_EPROOF);
    }
    t = p;
    memset(t.hashes[t.count++], 0xa5, H);
    assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, r2, &t), TB_EPROOF);
    t.count = CR_LOG_PATH_MAX + 1;
    assert_int_equal(cr_log_verify_consistency(suite, m, r1, n, r2, &t), TB_EPROOF);
}

static void tampered_proofs_refused(void **state)
{
    (void)state;
    for (size_t s = 0; s < 2; s++) {
        struct fixture f;
        struct naive nv;
        struct t_rng rng;
        t_rng_seed(&rng, 77 + s);
        naive_init(&nv, suites[s], PROP_N);
        fixture_open(&f, suites[s]);
        build_full(&f, &nv, PROP_N);
        static const uint64_t fixed[][2] = {{0, 1},     {0, 2},     {1, 2},    {2, 3},
                                            {4, 5},     {7, 8},     {5, 8},    {0, 300},
                                            {299, 300}, {255, 256}, {256, 257}};
        for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
            tampered_inclusion_refused_one(&f, &nv, fixed[k][0], fixed[k][1]);
            if (fixed[k][0] > 0) {
                tampered_consistency_refused_one(&f, &nv, fixed[k][0], fixed[k][1]);
            }
        }
        for (int k = 0; k < 12; k++) {
            uint64_t n = 2 + t_rng_below(&rng, PROP_N - 1);
            uint64_t i = t_rng_below(&rng, n);
            tampered_inclusion_refused_one(&f, &nv, i, n);
            tampered_consistency_refused_one(&f, &nv, 1 + t_rng_below(&rng, n - 1), n);
        }
        fixture_close(&f);
        naive_release(&nv);
    }
}

/* The edge cases of the consistency verifier beyond the RFC's 0 < size1 < size2. */
static void consistency_edge_cases(void **state)
{
    struct cr_log_path empty = {0};
    struct cr_log_path one = {0};
    uint8_t e[H];
    uint8_t a[H];
    uint8_t b[H];
    (void)state;
    cr_log_empty_root(CR_SUITE_ED25519_SHA256, e);
    memset(a, 1, H);
    memset(b, 2, H);
    one.count = 1;
    memcpy(one.hashes[0], a, H);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 0, e, 5, b, &empty), TB_OK);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 0, a, 5, b, &empty),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 0, e, 5, b, &one),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 5, a, 5, a, &empty), TB_OK);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 5, a, 5, b, &empty),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 5, a, 5, a, &one),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 3, a, 5, b, &empty),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_consistency(CR_SUITE_ED25519_SHA256, 6, a, 5, b, &empty),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, a, 0, 0, &empty, a),
                     TB_EPROOF);
    assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, a, 0, 1, &empty, a), TB_OK);
    assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, a, 1, 1, &empty, a),
                     TB_EPROOF);
}

/* CVE-2012-2459: duplicating the last leaf must give another root (and the copy no proof). */
static void duplicated_last_leaf(void **state)
{
    struct naive nv;
    (void)state;
    naive_init(&nv, CR_SUITE_ED25519_SHA256, 130);
    for (uint64_t n = 1; n <= 128; n++) {
        struct fixture f;
        uint8_t root[H];
        uint8_t dup_root[H];
        fixture_open(&f, CR_SUITE_ED25519_SHA256);
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(cr_log_append(&f.log, NULL, nv.leaves[i]), TB_OK);
        }
        assert_int_equal(cr_log_root(&f.log, NULL, n, root), TB_OK);
        assert_int_equal(cr_log_append(&f.log, NULL, nv.leaves[n - 1]), TB_OK);
        assert_int_equal(cr_log_root(&f.log, NULL, n + 1, dup_root), TB_OK);
        assert_memory_not_equal(root, dup_root, H);
        /* The copy's own proof holds only against the longer tree's root, and the
         * original's proof does not place the leaf at index n. */
        struct cr_log_path p;
        assert_int_equal(cr_log_inclusion_proof(&f.log, NULL, n, n + 1, &p), TB_OK);
        assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, nv.leaves[n - 1], n,
                                                 n + 1, &p, dup_root),
                         TB_OK);
        assert_int_equal(
            cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, nv.leaves[n - 1], n, n, &p, root),
            TB_EPROOF);
        assert_int_equal(cr_log_inclusion_proof(&f.log, NULL, n - 1, n, &p), TB_OK);
        assert_int_equal(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, nv.leaves[n - 1], n,
                                                 n + 1, &p, dup_root),
                         TB_EPROOF);
        fixture_close(&f);
    }
    naive_release(&nv);
}

/* ---- store failures ---- */

struct faulty
{
    struct cr_log_store inner;
    long gets_left; /* < 0: never fail */
    long puts_left;
};

static int faulty_get(void *impl, void *txn, uint32_t level, uint64_t index, uint8_t out[H],
                      char *errmsg)
{
    struct faulty *fs = impl;
    if (fs->gets_left == 0) {
        return tb_fail(errmsg, TB_EIO, "injected read fault");
    }
    if (fs->gets_left > 0) {
        fs->gets_left--;
    }
    return fs->inner.get(fs->inner.impl, txn, level, index, out, errmsg);
}

static int faulty_put(void *impl, void *txn, uint32_t level, uint64_t index, const uint8_t hash[H],
                      char *errmsg)
{
    struct faulty *fs = impl;
    if (fs->puts_left == 0) {
        return tb_fail(errmsg, TB_ENOSPC, "injected write fault");
    }
    if (fs->puts_left > 0) {
        fs->puts_left--;
    }
    return fs->inner.put(fs->inner.impl, txn, level, index, hash, errmsg);
}

/* Every read of a root, proof or reopen fails cleanly at any point, and succeeds once
 * the fault comes later than the operation's last read. */
static void check_read_faults(struct cr_log *log, struct faulty *fs,
                              const struct cr_log_store *store)
{
    struct cr_log_path p;
    uint8_t root[H];
    int ok[4] = {0};
    for (long k = 0; k < 16; k++) {
        int rv[4];
        struct cr_log again;
        fs->gets_left = k;
        rv[0] = cr_log_root(log, NULL, 77, root);
        fs->gets_left = k;
        rv[1] = cr_log_inclusion_proof(log, NULL, 5, 99, &p);
        assert_true(rv[1] == TB_OK || p.count == 0);
        fs->gets_left = k;
        rv[2] = cr_log_consistency_proof(log, NULL, 13, 99, &p);
        assert_true(rv[2] == TB_OK || p.count == 0);
        fs->gets_left = k;
        rv[3] = cr_log_init(&again, CR_SUITE_ED25519_SHA256, store, NULL, 99);
        if (rv[3] == TB_OK) {
            cr_log_release(&again);
        }
        for (int i = 0; i < 4; i++) {
            if (rv[i] != TB_OK) {
                assert_int_equal(rv[i], TB_EIO);
                assert_false(ok[i]); /* a later fault never breaks a finished operation */
            }
            ok[i] = rv[i] == TB_OK;
        }
        if (rv[0] != TB_OK) {
            assert_non_null(strstr(log->errmsg, "log node"));
        }
    }
    for (int i = 0; i < 4; i++) {
        assert_true(ok[i]);
    }
    fs->gets_left = -1;
}

static void store_faults_propagate(void **state)
{
    struct cr_log_mem mem;
    struct naive nv;
    struct faulty fs;
    struct cr_log log;
    uint8_t root[H];
    uint8_t want[H];
    (void)state;
    naive_init(&nv, CR_SUITE_ED25519_SHA256, 100);
    cr_log_mem_init(&mem);
    fs.inner = cr_log_mem_store(&mem);
    fs.gets_left = -1;
    fs.puts_left = -1;
    struct cr_log_store store = {&fs, faulty_get, faulty_put};
    assert_int_equal(cr_log_init(&log, CR_SUITE_ED25519_SHA256, &store, NULL, 0), TB_OK);
    /* Appends: fail the k-th put of each append until it goes through; the tree is
     * unchanged by every failure and the retry completes it. */
    for (uint64_t i = 0; i < 100; i++) {
        for (long k = 0;; k++) {
            fs.puts_left = k;
            int rv = cr_log_append(&log, NULL, nv.leaves[i]);
            if (rv == TB_OK) {
                break;
            }
            assert_int_equal(rv, TB_ENOSPC);
            assert_int_equal(log.size, i);
            assert_non_null(strstr(log.errmsg, "injected write fault"));
            assert_true(k < 10);
        }
        fs.puts_left = -1;
        assert_int_equal(cr_log_root(&log, NULL, i + 1, root), TB_OK);
        naive_mth(&nv, 0, i + 1, want);
        assert_memory_equal(root, want, H);
    }
    check_read_faults(&log, &fs, &store);
    fs.gets_left = 0;
    assert_int_equal(cr_log_root(&log, NULL, 100, root), TB_OK); /* current: no reads */
    assert_int_equal(cr_log_root(&log, NULL, 99, root), TB_EIO);
    /* A missing node is an error, not a crash. */
    struct cr_log_mem empty_mem;
    cr_log_mem_init(&empty_mem);
    struct cr_log_store empty_store = cr_log_mem_store(&empty_mem);
    struct cr_log broken;
    assert_int_equal(cr_log_init(&broken, CR_SUITE_ED25519_SHA256, &empty_store, NULL, 5),
                     TB_ENOTFOUND);
    cr_log_release(&log);
    cr_log_mem_release(&mem);
    naive_release(&nv);
}

static void bad_arguments(void **state)
{
    struct fixture f;
    struct naive nv;
    struct cr_log_path p;
    uint8_t root[H];
    (void)state;
    naive_init(&nv, CR_SUITE_ED25519_SHA256, 10);
    fixture_open(&f, CR_SUITE_ED25519_SHA256);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(cr_log_append(&f.log, NULL, nv.leaves[i]), TB_OK);
    }
    assert_int_equal(cr_log_root(&f.log, NULL, 11, root), TB_EINVAL);
    assert_int_equal(cr_log_inclusion_proof(&f.log, NULL, 10, 10, &p), TB_EINVAL);
    assert_int_equal(cr_log_inclusion_proof(&f.log, NULL, 0, 11, &p), TB_EINVAL);
    assert_int_equal(cr_log_consistency_proof(&f.log, NULL, 5, 4, &p), TB_EINVAL);
    assert_int_equal(cr_log_consistency_proof(&f.log, NULL, 5, 11, &p), TB_EINVAL);
    assert_int_equal(cr_log_root(&f.log, NULL, 0, root), TB_OK);
    uint8_t e[H];
    cr_log_empty_root(CR_SUITE_ED25519_SHA256, e);
    assert_memory_equal(root, e, H);
    fixture_close(&f);
    naive_release(&nv);
    struct cr_log_mem mem;
    cr_log_mem_init(&mem);
    struct cr_log_store store = cr_log_mem_store(&mem);
    struct cr_log log;
    assert_int_equal(cr_log_init(&log, CR_SUITE_ED25519_SHA256, &store, NULL, CR_LOG_SIZE_MAX),
                     TB_EINVAL);
    cr_log_mem_release(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ct_reference_vectors),
        cmocka_unit_test(inclusion_matches_naive),
        cmocka_unit_test(consistency_matches_naive),
        cmocka_unit_test(reopen_from_store),
        cmocka_unit_test(tampered_proofs_refused),
        cmocka_unit_test(consistency_edge_cases),
        cmocka_unit_test(duplicated_last_leaf),
        cmocka_unit_test(store_faults_propagate),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
