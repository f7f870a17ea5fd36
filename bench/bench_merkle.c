/*
 * Benchmark of the log tree and the status tree over their in-memory stores:
 *   log:    appends/s over N appends, inclusion and consistency proofs/s (build and
 *           verify) against the full tree, store bytes;
 *   status: N keys inserted in batches, then batches of updates to existing keys and of
 *           inserts of new keys at that size, proofs/s, store bytes and node count.
 * Prints one line per figure; rates use the process CPU time, because the machine
 * is shared and wall time measures the neighbours. Not a test: never run by ctest.
 *
 * Usage: bench_merkle [sha256|sm3] [N (default 1000000)] [batch (default 1000)]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cr_hash.h"
#include "cr_log.h"
#include "cr_smt.h"
#include "tb_alloc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the machine is shared, so rates use it, not wall time. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* splitmix64: fixed seed, so runs are comparable. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rng_fill(uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = rng_next();
        memcpy(out + i, &v, len - i < 8 ? len - i : 8);
    }
}

static long max_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static void die(const char *what, int rv, const char *errmsg)
{
    fprintf(stderr, "bench_merkle: %s: %s: %s\n", what, tb_strerror(rv), errmsg);
    exit(1);
}

static void bench_log(enum cr_suite suite, uint64_t n)
{
    struct cr_log_mem mem;
    struct cr_log log;
    struct cr_log_path path;
    uint8_t leaf[CR_HASH_BYTES];
    uint8_t root[CR_HASH_BYTES];
    cr_log_mem_init(&mem);
    struct cr_log_store store = cr_log_mem_store(&mem);
    int rv = cr_log_init(&log, suite, &store, NULL, 0);
    if (rv != TB_OK) {
        die("log init", rv, log.errmsg);
    }
    double t0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        uint8_t txid[32];
        memcpy(txid, &i, sizeof(i));
        memset(txid + 8, 0x5a, 24);
        cr_log_leaf_hash(suite, txid, sizeof(txid), leaf);
        rv = cr_log_append(&log, NULL, leaf);
        if (rv != TB_OK) {
            die("log append", rv, log.errmsg);
        }
    }
    double dt = cpu_s() - t0;
    printf("log.append            %10.0f /s  (%" PRIu64 " appends incl. leaf hash, %.2f s)\n",
           (double)n / dt, n, dt);
    printf("log.store_bytes       %10zu     (%.1f bytes/leaf)\n", cr_log_mem_bytes(&mem),
           (double)cr_log_mem_bytes(&mem) / (double)n);
    rv = cr_log_root(&log, NULL, n, root);
    if (rv != TB_OK) {
        die("log root", rv, log.errmsg);
    }
    const int proofs = 200000;
    t0 = cpu_s();
    for (int i = 0; i < proofs; i++) {
        rv = cr_log_inclusion_proof(&log, NULL, rng_next() % n, n, &path);
        if (rv != TB_OK) {
            die("log inclusion", rv, log.errmsg);
        }
    }
    dt = cpu_s() - t0;
    printf("log.inclusion_proof   %10.0f /s  (size %" PRIu64 ", %u hashes)\n", (double)proofs / dt,
           n, path.count);
    t0 = cpu_s();
    int bad = 0;
    for (int i = 0; i < proofs / 10; i++) {
        uint64_t index = rng_next() % n;
        rv = cr_log_inclusion_proof(&log, NULL, index, n, &path);
        uint8_t txid[32];
        memcpy(txid, &index, sizeof(index));
        memset(txid + 8, 0x5a, 24);
        cr_log_leaf_hash(suite, txid, sizeof(txid), leaf);
        bad += rv != TB_OK || cr_log_verify_inclusion(suite, leaf, index, n, &path, root) != TB_OK;
    }
    dt = cpu_s() - t0;
    printf("log.inclusion_verify  %10.0f /s  (build + verify, %d failures)\n",
           (double)(proofs / 10) / dt, bad);
    t0 = cpu_s();
    for (int i = 0; i < proofs / 10; i++) {
        uint64_t size1 = 1 + rng_next() % (n - 1);
        rv = cr_log_consistency_proof(&log, NULL, size1, n, &path);
        if (rv != TB_OK) {
            die("log consistency", rv, log.errmsg);
        }
    }
    dt = cpu_s() - t0;
    printf("log.consistency_proof %10.0f /s  (random size1 to %" PRIu64 ")\n",
           (double)(proofs / 10) / dt, n);
    cr_log_release(&log);
    cr_log_mem_release(&mem);
}

/* One batch of `count` ops: new random keys, or existing keys[] with new values. */
static void smt_fill_batch(struct cr_smt_op *ops, size_t count, uint8_t (*keys)[32],
                           size_t *key_count, int existing)
{
    for (size_t i = 0; i < count; i++) {
        memset(&ops[i], 0, sizeof(ops[i]));
        if (existing) {
            memcpy(ops[i].key, keys[rng_next() % *key_count], 32);
        } else {
            rng_fill(ops[i].key, 32);
            memcpy(keys[(*key_count)++], ops[i].key, 32);
        }
        rng_fill(ops[i].value_hash, 32);
    }
}

static double smt_run_batches(struct cr_smt *tree, uint8_t root[CR_HASH_BYTES],
                              struct cr_smt_op *ops, size_t batch, size_t batches,
                              uint8_t (*keys)[32], size_t *key_count, int existing)
{
    double busy = 0;
    for (size_t b = 0; b < batches; b++) {
        smt_fill_batch(ops, batch, keys, key_count, existing);
        double t0 = cpu_s();
        int rv = cr_smt_update(tree, NULL, root, ops, batch, root);
        busy += cpu_s() - t0;
        if (rv != TB_OK) {
            die("smt update", rv, tree->errmsg);
        }
    }
    return busy;
}

static void bench_smt(enum cr_suite suite, size_t n, size_t batch)
{
    struct cr_smt_mem mem;
    struct cr_smt tree;
    static struct cr_smt_proof proof;
    uint8_t root[CR_HASH_BYTES] = {0};
    size_t extra = 200 * batch;
    uint8_t(*keys)[32] = tb_calloc(n + extra, 32);
    struct cr_smt_op *ops = tb_calloc(batch, sizeof(*ops));
    size_t key_count = 0;
    if (keys == NULL || ops == NULL) {
        die("smt alloc", TB_ENOMEM, "keys");
    }
    cr_smt_mem_init(&mem);
    struct cr_smt_store store = cr_smt_mem_store(&mem);
    int rv = cr_smt_init(&tree, suite, &store);
    if (rv != TB_OK) {
        die("smt init", rv, tree.errmsg);
    }
    double busy = smt_run_batches(&tree, root, ops, batch, n / batch, keys, &key_count, 0);
    printf("smt.load              %10.0f /s  (%zu keys in batches of %zu, %.2f s)\n",
           (double)key_count / busy, key_count, batch, busy);
    printf("smt.store_after_load  %10zu     bytes, %zu nodes (all versions kept)\n",
           cr_smt_mem_bytes(&mem), mem.node_count);
    busy = smt_run_batches(&tree, root, ops, batch, 100, keys, &key_count, 1);
    printf("smt.update_existing   %10.0f /s  (100 batches of %zu at %zu keys)\n",
           (double)(100 * batch) / busy, batch, key_count);
    busy = smt_run_batches(&tree, root, ops, batch, 100, keys, &key_count, 0);
    printf("smt.insert_new        %10.0f /s  (100 batches of %zu at %zu keys)\n",
           (double)(100 * batch) / busy, batch, key_count);
    size_t single_nodes = mem.node_count;
    busy = smt_run_batches(&tree, root, ops, 1, 2000, keys, &key_count, 1);
    printf("smt.update_single     %10.0f /s  (batches of 1; %.1f new nodes each)\n", 2000 / busy,
           (double)(mem.node_count - single_nodes) / 2000);
    const int proofs = 50000;
    double t0 = cpu_s();
    int bad = 0;
    for (int i = 0; i < proofs; i++) {
        const uint8_t *key = keys[rng_next() % key_count];
        rv = cr_smt_prove(&tree, NULL, root, key, &proof);
        if (rv != TB_OK) {
            die("smt prove", rv, tree.errmsg);
        }
        bad += cr_smt_verify(suite, root, key, proof.leaf_value_hash, &proof) != TB_OK;
    }
    double dt = cpu_s() - t0;
    printf("smt.prove_verify      %10.0f /s  (depth %u at %zu keys, %d failures)\n",
           (double)proofs / dt, proof.depth, key_count, bad);
    printf("smt.store_bytes       %10zu     %zu nodes, %.0f bytes/node\n", cr_smt_mem_bytes(&mem),
           mem.node_count, (double)cr_smt_mem_bytes(&mem) / (double)mem.node_count);
    cr_smt_release(&tree);
    cr_smt_mem_release(&mem);
    tb_free(keys);
    tb_free(ops);
}

int main(int argc, char **argv)
{
    enum cr_suite suite = CR_SUITE_ED25519_SHA256;
    uint64_t n = 1000000;
    size_t batch = 1000;
    if (argc > 1 && strcmp(argv[1], "sm3") == 0) {
        suite = CR_SUITE_SM2_SM3;
    } else if (argc > 1 && strcmp(argv[1], "sha256") != 0) {
        fprintf(stderr, "usage: bench_merkle [sha256|sm3] [N] [batch]\n");
        return 2;
    }
    if (argc > 2) {
        n = strtoull(argv[2], NULL, 10);
    }
    if (argc > 3) {
        batch = (size_t)strtoull(argv[3], NULL, 10);
    }
    if (n < 2 || batch < 1 || batch > n) {
        fprintf(stderr, "bench_merkle: need N >= 2 and 1 <= batch <= N\n");
        return 2;
    }
    printf("bench_merkle suite=%s N=%" PRIu64 " batch=%zu\n", cr_suite_name(suite), n, batch);
    double wall0 = now_s();
    double t0 = cpu_s();
    uint8_t out[CR_HASH_BYTES];
    uint8_t in[65] = {1};
    for (int i = 0; i < 1000000; i++) {
        cr_hash(suite, in, sizeof(in), out);
        in[1] = out[0];
    }
    double dt = cpu_s() - t0;
    printf("hash.65_bytes         %10.0f /s  (the machine's limit for one node hash)\n", 1e6 / dt);
    bench_log(suite, n);
    printf("rss_max_mb            %10ld\n", max_rss_mb());
    bench_smt(suite, (size_t)n, batch);
    printf("rss_max_mb            %10ld\n", max_rss_mb());
    printf("wall_s                %10.1f     (rates above use process CPU time)\n",
           now_s() - wall0);
    return 0;
}
