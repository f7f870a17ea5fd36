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
 *   apply - verify: what the ledger costs without signature checks (derived from the
 *                 kept-key figure: the ledger has no switch to turn them off, on purpose)
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

#include "cr_sign.h"
#include "genesis.h"
#include "ledger.h"
#include "store.h"
#include "tb_alloc.h"
#include "wire.h"

#define BENCH_MAP_BYTES (UINT64_C(8) << 30)
#define BENCH_T0_S UINT64_C(1700000000)

static char errmsg[TB_ERRMSG_SIZE];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_ledger: %s: %s (%s)\n", what, tb_strerror(rv), errmsg);
    exit(1);
}

#define CHECK(what, expr)     \
    do {                      \
        int rv_ = (expr);     \
        if (rv_ != TB_OK)     \
            die((what), rv_); \
    } while (0)

struct bench
{
    enum cr_suite suite;
    struct cfg_genesis g;
    uint8_t chain[32];
    struct cr_key *node[4];
    struct cr_key *agency;
    uint8_t agency_pub[CR_PUBKEY_MAX];
    size_t agency_pub_len;
    struct store *store;
    struct ledger *ledger;
    uint64_t now_ms;
    uint64_t nonce;
    /* One block's envelopes and sign inputs (for the verify-only timing). */
    struct tb_buf *envs;
    struct tb_buf *inputs;
    struct tb_bytes *sigs;
    size_t count;
};

static struct cr_key *key_new(enum cr_suite suite, uint8_t tag)
{
    struct cr_key *k = NULL;
    if (suite == CR_SUITE_ED25519_SHA256) {
        uint8_t seed[CR_ED25519_SEED_BYTES];
        memset(seed, tag, sizeof(seed));
        CHECK("key", cr_key_from_ed25519_seed(seed, &k));
    } else {
        CHECK("key", cr_key_generate(suite, &k));
    }
    return k;
}

/* Signs body (of kind) with key into env; the sign input is kept in input when non-NULL. */
static void envelope(struct bench *b, const struct wire_tx_body *body, struct cr_key *key,
                     struct tb_buf *env, struct tb_buf *input)
{
    struct tb_buf bb, in;
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    struct wire_tx tx;
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    CHECK("body", wire_tx_body_encode(body, &bb, errmsg));
    CHECK("sign input", wire_tx_sign_input(b->chain, (uint8_t)body->kind, bb.data, bb.len, &in));
    CHECK("sign", cr_sign(key, in.data, in.len, sig, &sig_len));
    memset(&tx, 0, sizeof(tx));
    tx.kind = (uint8_t)body->kind;
    tx.body.ptr = bb.data;
    tx.body.len = bb.len;
    cr_key_id(key, tx.sigs[0].key_id);
    tx.sigs[0].sig.ptr = sig;
    tx.sigs[0].sig.len = sig_len;
    tx.sig_count = 1;
    tb_buf_reset(env);
    CHECK("envelope", wire_tx_encode(&tx, env, errmsg));
    if (input != NULL) {
        tb_buf_reset(input);
        CHECK("input", tb_buf_append(input, in.data, in.len));
    }
    tb_buf_release(&bb);
    tb_buf_release(&in);
}

static void setup(struct bench *b, const char *dir)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"pf.deposit", CFG_SHARING_CONSENT}};
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        b->node[i] = key_new(b->suite, (uint8_t)(i + 1));
        snprintf(m[i].city, sizeof(m[i].city), "37%02d00", i + 1);
        snprintf(m[i].name, sizeof(m[i].name), "city %d", i);
        m[i].node_key_len = cr_key_public(b->node[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    CHECK("genesis", cfg_genesis_build(b->suite, "bench", BENCH_T0_S, m, 4, t, 1, &b->g, errmsg));
    CHECK("chain id", cfg_genesis_chain_id(&b->g, b->chain));
    CHECK("store", store_open(&b->store, dir, BENCH_MAP_BYTES, errmsg));
    CHECK("ledger", ledger_open(&b->ledger, b->store, &b->g, errmsg));
    b->agency = key_new(b->suite, 0x77);
    b->agency_pub_len = cr_key_public(b->agency, b->agency_pub);
    b->now_ms = BENCH_T0_S * 1000u;
}

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
    b->now_ms += 1000u;
    double c0 = cpu_s();
    CHECK("begin", store_begin_write(b->store, &txn, errmsg));
    CHECK("build", ledger_build_block(b->ledger, txn, txs, n, b->now_ms, 0, &lim, &blk, &taken,
                                      NULL, &skipped, errmsg));
    store_abort(txn);
    *build_cpu += cpu_s() - c0;
    if (taken != n) {
        fprintf(stderr, "bench_ledger: %zu of %zu txs skipped\n", skipped, n);
        exit(1);
    }
    c0 = cpu_s();
    double w0 = now_s();
    CHECK("begin", store_begin_write(b->store, &txn, errmsg));
    struct tb_bytes bb = {blk.data, blk.len};
    int rv = ledger_apply_block(b->ledger, txn, bb, &v);
    if (rv != TB_OK) {
        fprintf(stderr, "bench_ledger: apply: %s: %s\n", ledger_code_name(v.code), v.message);
        exit(1);
    }
    *apply_cpu += cpu_s() - c0;
    double w1 = now_s();
    *apply_wall += w1 - w0;
    CHECK("commit", store_commit(txn, errmsg));
    *commit_wall += now_s() - w1;
    tb_buf_release(&blk);
}

static void register_agency(struct bench *b)
{
    struct wire_tx_body body;
    struct tb_buf env;
    double d = 0, e = 0, f = 0, g = 0;
    memset(&body, 0, sizeof(body));
    body.kind = WIRE_KIND_AGENCY_REGISTER;
    body.u.reg.city = (struct tb_bytes){(const uint8_t *)"370100", 6};
    body.u.reg.agency = (struct tb_bytes){(const uint8_t *)"pf-centre", 9};
    body.u.reg.name = (struct tb_bytes){(const uint8_t *)"provident fund centre", 21};
    body.u.reg.public_key = (struct tb_bytes){b->agency_pub, b->agency_pub_len};
    body.u.reg.types[0] = (struct tb_bytes){(const uint8_t *)"pf.deposit", 10};
    body.u.reg.type_count = 1;
    body.u.reg.not_after = BENCH_T0_S + 10u * 365u * 86400u;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    envelope(b, &body, b->node[0], &env, NULL); /* cities sort 370100 first: node[0] */
    struct tb_bytes one = {env.data, env.len};
    run_block(b, &one, 1, &d, &e, &f, &g);
    tb_buf_release(&env);
}

/* Fills b->envs[0..n) with fresh record.issue txs (not timed). */
static void make_issues(struct bench *b, size_t n)
{
    struct wire_tx_body body;
    memset(&body, 0, sizeof(body));
    body.kind = WIRE_KIND_RECORD_ISSUE;
    body.u.issue.type = (struct tb_bytes){(const uint8_t *)"pf.deposit", 10};
    body.u.issue.city = (struct tb_bytes){(const uint8_t *)"370100", 6};
    body.u.issue.agency = (struct tb_bytes){(const uint8_t *)"pf-centre", 9};
    body.u.issue.claims[0].key = (struct tb_bytes){(const uint8_t *)"balance_fen", 11};
    body.u.issue.claims[0].is_uint = true;
    body.u.issue.claims[1].key = (struct tb_bytes){(const uint8_t *)"employer", 8};
    body.u.issue.claims[1].str_value =
        (struct tb_bytes){(const uint8_t *)"Liaocheng Steel Co.", 19};
    body.u.issue.claim_count = 2;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = ++b->nonce;
        body.u.issue.issued_at = b->now_ms / 1000u;
        body.u.issue.claims[0].uint_value = k * 7919u % 10000000u;
        for (int j = 0; j < 4; j++) {
            uint64_t x = (k + (uint64_t)j) * 0x9e3779b97f4a7c15u;
            memcpy(body.u.issue.subject + 8 * j, &x, 8);
            memcpy(body.u.issue.doc_digest + 8 * j, &x, 8);
        }
        memset(body.u.issue.nonce, 0, WIRE_NONCE_BYTES);
        memcpy(body.u.issue.nonce, &k, sizeof(k));
        envelope(b, &body, b->agency, &b->envs[i], &b->inputs[i]);
    }
}

/* The block's signatures checked alone: one-shot from public bytes and with a kept key. */
static void verify_only(struct bench *b, size_t n, double *oneshot_cpu, double *kept_cpu)
{
    for (size_t i = 0; i < n; i++) {
        struct wire_tx tx;
        CHECK("decode", wire_tx_decode(b->envs[i].data, b->envs[i].len, &tx, errmsg));
        b->sigs[i] = tx.sigs[0].sig; /* views into envs[i] */
    }
    double c0 = cpu_s();
    for (size_t i = 0; i < n; i++)
        CHECK("verify",
              cr_verify_public(b->suite, b->agency_pub, b->agency_pub_len, b->inputs[i].data,
                               b->inputs[i].len, b->sigs[i].ptr, b->sigs[i].len));
    *oneshot_cpu += cpu_s() - c0;
    c0 = cpu_s();
    for (size_t i = 0; i < n; i++)
        CHECK("verify", cr_verify(b->agency, b->inputs[i].data, b->inputs[i].len, b->sigs[i].ptr,
                                  b->sigs[i].len));
    *kept_cpu += cpu_s() - c0;
}

static void report_disk(struct bench *b, size_t records)
{
    struct store_stat st;
    CHECK("stat", store_stat_get(b->store, &st, errmsg));
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
           cr_suite_name(b->suite), n, blocks, per, (double)t->env_bytes / (double)n);
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

static void teardown(struct bench *b, const char *dir)
{
    char path[256];
    ledger_close(b->ledger);
    store_close(b->store);
    for (int i = 0; i < 4; i++)
        cr_key_free(b->node[i]);
    cr_key_free(b->agency);
    cfg_genesis_release(&b->g);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    struct bench b;
    struct timings t;
    memset(&b, 0, sizeof(b));
    memset(&t, 0, sizeof(t));
    b.suite = CR_SUITE_ED25519_SHA256;
    if (argc > 1 && strcmp(argv[1], "sm2") == 0)
        b.suite = CR_SUITE_SM2_SM3;
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
    setup(&b, dir);
    register_agency(&b);
    b.envs = tb_calloc(per, sizeof(*b.envs));
    b.inputs = tb_calloc(per, sizeof(*b.inputs));
    b.sigs = tb_calloc(per, sizeof(*b.sigs));
    struct tb_bytes *txs = tb_calloc(per, sizeof(*txs));
    if (b.envs == NULL || b.inputs == NULL || b.sigs == NULL || txs == NULL)
        die("alloc", TB_ENOMEM);
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
    teardown(&b, dir);
    return 0;
}
