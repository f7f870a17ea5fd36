/*
 * Benchmark of node/ledger on a real LMDB store: blocks of record.issue txs from one
 * registered agency, each block built by the proposer's path (ledger_build_block, in a
 * transaction that is aborted) and then applied and committed by the validator's path
 * (ledger_apply_block + store_commit, synced), as a node does. Prints, per phase:
 *   build, apply: records/s over CPU time (the machine is shared; wall time is printed too)
 *   verify:       the same signatures checked alone, with one kept key object (what the
 *                 ledger does through its agency key cache) and with cr_verify_public (a
 *                 key object built per call, what the cache saves)
 *   commit:       wall time of the synced commit per block
 *   build - verify: what the ledger's checks cost without signatures (derived from the
 *                 kept-key figure: the ledger has no switch to turn them off, on purpose); the
 *                 apply then finds every signature in the verified-signature cache
 *   disk:         data.mdb bytes and used pages per record, entries per database
 * Not a test: never run by ctest.
 *
 * Usage: bench_ledger [ed25519|sm2] [records (default 100000)] [block (default 1000)]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_chain.h"
#include "tb_alloc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench
{
    struct bench_chain c;
    uint8_t agency_pub[CR_PUBKEY_MAX];
    size_t agency_pub_len;
    /* One block's envelopes and sign inputs (for the verify-only timing). */
    struct tb_buf *envs;
    struct tb_buf *inputs;
    struct tb_bytes *sigs;
    size_t count;
};
/* Builds a block of the given envelopes (all must be taken), applies and commits it. */
static void run_block(struct bench *b, const struct tb_bytes *txs, size_t n, double *build_cpu,
                      double *apply_cpu, double *apply_wall, double *commit_wall)
{
    struct store_txn *txn = NULL;
    struct tb_buf blk;
    struct ledger_verdict v;
    struct ledger_build_limits lim = {.txs_max = WIRE_BLOCK_TXS_MAX,
                                      .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    size_t taken = 0, skipped = 0;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    b->c.now_ms += 1000u;
    double c0 = bench_cpu_s();
    BENCH_CHECK("begin", store_begin_write(b->c.store, &txn, bench_errmsg));
    BENCH_CHECK("build", ledger_build_block(b->c.ledger, txn, txs, n, b->c.now_ms, 0, &lim, &blk,
                                            &taken, NULL, &skipped, bench_errmsg));
    store_abort(txn);
    *build_cpu += bench_cpu_s() - c0;
    if (taken != n) {
        fprintf(stderr, "bench_ledger: %zu of %zu txs skipped\n", skipped, n);
        exit(1);
    }
    c0 = bench_cpu_s();
    double w0 = now_s();
    BENCH_CHECK("begin", store_begin_write(b->c.store, &txn, bench_errmsg));
    struct tb_bytes bb = {blk.data, blk.len};
    int rv = ledger_apply_block(b->c.ledger, txn, bb, &v);
    if (rv != TB_OK) {
        fprintf(stderr, "bench_ledger: apply: %s: %s\n", ledger_code_name(v.code), v.message);
        exit(1);
    }
    *apply_cpu += bench_cpu_s() - c0;
    double w1 = now_s();
    *apply_wall += w1 - w0;
    BENCH_CHECK("commit", store_commit(txn, bench_errmsg));
    *commit_wall += now_s() - w1;
    tb_buf_release(&blk);
}

static void register_agency(struct bench *b)
{
    struct tb_buf env;
    double d = 0, e = 0, f = 0, g = 0;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    bench_agency_register(&b->c, &env);
    struct tb_bytes one = {env.data, env.len};
    run_block(b, &one, 1, &d, &e, &f, &g);
    tb_buf_release(&env);
}

/* Fills b->envs[0..n) with fresh record.issue txs (not timed). */
static void make_issues(struct bench *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bench_issue(&b->c, &b->envs[i], &b->inputs[i], NULL);
}

/* The block's signatures checked alone: one-shot from public bytes and with a kept key. */
static void verify_only(struct bench *b, size_t n, double *oneshot_cpu, double *kept_cpu)
{
    for (size_t i = 0; i < n; i++) {
        struct wire_tx tx;
        BENCH_CHECK("decode", wire_tx_decode(b->envs[i].data, b->envs[i].len, &tx, bench_errmsg));
        b->sigs[i] = tx.sigs[0].sig; /* views into envs[i] */
    }
    double c0 = bench_cpu_s();
    for (size_t i = 0; i < n; i++)
        BENCH_CHECK("verify", cr_verify_public(b->c.suite, b->agency_pub, b->agency_pub_len,
                                               b->inputs[i].data, b->inputs[i].len, b->sigs[i].ptr,
                                               b->sigs[i].len));
    *oneshot_cpu += bench_cpu_s() - c0;
    c0 = bench_cpu_s();
    for (size_t i = 0; i < n; i++)
        BENCH_CHECK("verify", cr_verify(b->c.agency, b->inputs[i].data, b->inputs[i].len,
                                        b->sigs[i].ptr, b->sigs[i].len));
    *kept_cpu += bench_cpu_s() - c0;
}

static void report_disk(struct bench *b, size_t records)
{
    struct store_stat st;
    BENCH_CHECK("stat", store_stat_get(b->c.store, &st, bench_errmsg));
    printf(
        "disk: data.mdb %.1f MiB, used %.1f MiB (page %u): %.0f bytes/record on disk, "
        "%.0f used\n",
        (double)st.file_bytes / 1048576.0, (double)st.used_bytes / 1048576.0, st.page_bytes,
        (double)st.file_bytes / (double)records, (double)st.used_bytes / (double)records);
    printf("entries:");
    for (int db = 0; db < STORE_DB_COUNT; db++)
        if (st.entries[db] > 0)
            printf(" %s=%" PRIu64, store_db_name((enum store_db)db), st.entries[db]);
    printf("\n");
}

struct timings
{
    double build_cpu, apply_cpu, apply_wall, commit_wall, oneshot_cpu, kept_cpu;
    size_t env_bytes;
};

static void report(const struct bench *b, const struct timings *t, size_t n, size_t blocks,
                   size_t per)
{
    printf("bench_ledger %s: %zu records in %zu blocks of %zu (envelope %.0f bytes)\n",
           cr_suite_name(b->c.suite), n, blocks, per, (double)t->env_bytes / (double)n);
    printf("build:  %.0f records/s (CPU)\n", (double)n / t->build_cpu);
    printf("apply:  %.0f records/s (CPU), %.0f records/s (wall), %.1f us/record\n",
           (double)n / t->apply_cpu, (double)n / t->apply_wall, 1e6 * t->apply_cpu / (double)n);
    printf("commit: %.1f ms/block (wall, synced)\n", 1e3 * t->commit_wall / (double)blocks);
    printf(
        "verify alone: %.1f us/sig with a kept key (as the ledger does), %.1f us/sig one-shot "
        "from public bytes\n",
        1e6 * t->kept_cpu / (double)n, 1e6 * t->oneshot_cpu / (double)n);
    /* The build verifies every signature; the apply, on the same ledger, finds each in the
     * verified-signature cache, as a node's block check does after admission (D15, D22). */
    double rest = t->build_cpu - t->kept_cpu;
    printf(
        "build minus kept-key verify: %.1f us/record; signatures are %.0f%% of the build; "
        "apply (signatures from the cache): %.1f us/record\n",
        1e6 * rest / (double)n, 100.0 * t->kept_cpu / t->build_cpu, 1e6 * t->apply_cpu / (double)n);
}

int main(int argc, char **argv)
{
    struct bench b;
    struct timings t;
    memset(&b, 0, sizeof(b));
    memset(&t, 0, sizeof(t));
    enum cr_suite suite = CR_SUITE_ED25519_SHA256;
    if (argc > 1 && strcmp(argv[1], "sm2") == 0)
        suite = CR_SUITE_SM2_SM3;
    size_t records = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 100000u;
    size_t per = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1000u;
    if (per == 0 || per > WIRE_BLOCK_TXS_MAX || records < per) {
        fprintf(stderr, "usage: bench_ledger [ed25519|sm2] [records] [block 1..%u]\n",
                WIRE_BLOCK_TXS_MAX);
        return 2;
    }
    char dir[] = "/tmp/bench_ledger.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    bench_chain_open(&b.c, suite, dir);
    b.agency_pub_len = cr_key_public(b.c.agency, b.agency_pub);
    register_agency(&b);
    b.envs = tb_calloc(per, sizeof(*b.envs));
    b.inputs = tb_calloc(per, sizeof(*b.inputs));
    b.sigs = tb_calloc(per, sizeof(*b.sigs));
    struct tb_bytes *txs = tb_calloc(per, sizeof(*txs));
    if (b.envs == NULL || b.inputs == NULL || b.sigs == NULL || txs == NULL)
        bench_die("alloc", TB_ENOMEM);
    for (size_t i = 0; i < per; i++) {
        tb_buf_init(&b.envs[i], WIRE_TX_BYTES_MAX);
        tb_buf_init(&b.inputs[i], WIRE_TX_BYTES_MAX + 64);
    }
    size_t blocks = records / per;
    for (size_t k = 0; k < blocks; k++) {
        make_issues(&b, per);
        for (size_t i = 0; i < per; i++) {
            txs[i].ptr = b.envs[i].data;
            txs[i].len = b.envs[i].len;
            t.env_bytes += b.envs[i].len;
        }
        verify_only(&b, per, &t.oneshot_cpu, &t.kept_cpu);
        run_block(&b, txs, per, &t.build_cpu, &t.apply_cpu, &t.apply_wall, &t.commit_wall);
    }
    report(&b, &t, blocks * per, blocks, per);
    report_disk(&b, blocks * per);
    for (size_t i = 0; i < per; i++) {
        tb_buf_release(&b.envs[i]);
        tb_buf_release(&b.inputs[i]);
    }
    tb_free(b.envs);
    tb_free(b.inputs);
    tb_free(b.sigs);
    tb_free(txs);
    bench_chain_close(&b.c, dir);
    return 0;
}
