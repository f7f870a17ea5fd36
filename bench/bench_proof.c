/*
 * Benchmark of proof bundles (node/proof.h) on a real LMDB store built by the real ledger:
 * one agency registered, then N record.issue txs in blocks of 1,000, each block committed with
 * a commit certificate from three of four validators, as a node stores them. Then, for a
 * sample of records spread over the log, at the latest header:
 *   size:    the bundle's JSON (compact, as GET /v1/records/{id}/proof answers) in bytes, and
 *            the parts that grow with the log (inclusion paths, status proofs);
 *   build:   bundles built and rendered to JSON per second (proof_build in one read
 *            transaction, CPU): the first time for each record (its store pages cold), and
 *            ten times more on the same records (warm, as a node serving them repeatedly);
 *   verify:  offline verifications per second of the JSON text (proof_verify_json: parse,
 *            decode, 3 precommits + 2 tx signatures, 2 log paths, 2 status proofs; CPU),
 *            next to its ceiling on this machine: five one-shot signature checks
 *            (cr_verify_public, a key built from public bytes each time, as the verifier does);
 *            and the same through a kept proof_verifier (node keys parsed once).
 * For each suite given (default both) and each size given (default 1000 and 100000).
 * Not a test: never run by ctest.
 *
 * Usage: bench_proof [ed25519|sm2|both] [records ...]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_chain.h"
#include "proof.h"
#include "tb_alloc.h"

#define BENCH_PER_BLOCK 1000u
#define BENCH_SAMPLES 200u

struct bench
{
    struct bench_chain c;
    uint64_t height;
    uint8_t (*ids)[32]; /* every record id, in log order */
    size_t id_count;
};

/* The node key of validator index i (the ledger's set order). */
static struct cr_key *validator_key(struct bench *b, size_t i)
{
    const struct cfg_member *m = ledger_validator(b->c.ledger, i, NULL);
    for (int j = 0; j < 4; j++) {
        uint8_t pub[CR_PUBKEY_MAX];
        size_t n = cr_key_public(b->c.node[j], pub);
        if (n == m->node_key_len && memcmp(pub, m->node_key, n) == 0)
            return b->c.node[j];
    }
    bench_die("validator key", TB_EINVAL);
    return NULL;
}

/* Precommits of validators 0..2 for (height, hash) at round 0. */
static void certificate(struct bench *b, uint64_t height, const uint8_t hash[32],
                        struct tb_buf *out)
{
    struct wire_vote v = {.type = WIRE_VOTE_PRECOMMIT, .height = height, .has_block_hash = true};
    struct wire_cert c;
    struct tb_buf vote, in;
    uint8_t sigs[3][CR_SIG_MAX];
    memcpy(v.block_hash, hash, 32);
    tb_buf_init(&vote, WIRE_SMALL_BYTES_MAX);
    tb_buf_init(&in, WIRE_SMALL_BYTES_MAX + 64);
    BENCH_CHECK("vote", wire_vote_encode(&v, &vote, bench_errmsg));
    BENCH_CHECK("vote input", wire_vote_sign_input(b->c.chain, vote.data, vote.len, &in));
    memset(&c, 0, sizeof(c));
    c.height = height;
    memcpy(c.block_hash, hash, 32);
    for (uint32_t i = 0; i < 3; i++) {
        size_t n = 0;
        BENCH_CHECK("precommit", cr_sign(validator_key(b, i), in.data, in.len, sigs[i], &n));
        c.sigs[i].validator_index = i;
        c.sigs[i].sig = (struct tb_bytes){sigs[i], n};
    }
    c.sig_count = 3;
    BENCH_CHECK("certificate", wire_cert_encode(&c, out, bench_errmsg));
    tb_buf_release(&vote);
    tb_buf_release(&in);
}

/* Builds, applies and commits a block of txs with its certificate. */
static void run_block(struct bench *b, const struct tb_bytes *txs, size_t n)
{
    struct store_txn *txn = NULL;
    struct tb_buf blk, cert;
    struct ledger_verdict v;
    struct ledger_build_limits lim = {.txs_max = WIRE_BLOCK_TXS_MAX,
                                      .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct wire_block wb;
    uint8_t hash[32];
    size_t taken = 0, skipped = 0;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    b->c.now_ms += 1000u;
    BENCH_CHECK("begin", store_begin_write(b->c.store, &txn, bench_errmsg));
    BENCH_CHECK("build", ledger_build_block(b->c.ledger, txn, txs, n, b->c.now_ms, 0, &lim, &blk,
                                            &taken, NULL, &skipped, bench_errmsg));
    store_abort(txn);
    if (taken != n)
        bench_die("build: txs skipped", TB_EINVAL);
    BENCH_CHECK("decode", wire_block_decode(blk.data, blk.len, &wb, bench_errmsg));
    wire_block_hash(b->c.suite, wb.header_bytes.ptr, wb.header_bytes.len, hash);
    wire_block_release(&wb);
    certificate(b, b->height + 1, hash, &cert);
    BENCH_CHECK("begin", store_begin_write(b->c.store, &txn, bench_errmsg));
    if (ledger_apply_block(b->c.ledger, txn, (struct tb_bytes){blk.data, blk.len}, &v) != TB_OK) {
        fprintf(stderr, "bench_proof: apply: %s\n", v.message);
        exit(1);
    }
    BENCH_CHECK("cert put", store_cert_put(txn, b->height + 1,
                                           (struct tb_bytes){cert.data, cert.len}, bench_errmsg));
    BENCH_CHECK("commit", store_commit(txn, bench_errmsg));
    b->height++;
    tb_buf_release(&blk);
    tb_buf_release(&cert);
}

static void register_agency(struct bench *b)
{
    struct tb_buf env;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    bench_agency_register(&b->c, &env);
    run_block(b, &(struct tb_bytes){env.data, env.len}, 1);
    tb_buf_release(&env);
}

/* One block of fresh record.issue txs. */
static void issue_block(struct bench *b, struct tb_buf *envs, struct tb_bytes *txs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bench_issue(&b->c, &envs[i], NULL, b->ids[b->id_count++]);
        txs[i] = (struct tb_bytes){envs[i].data, envs[i].len};
    }
}

static void fill(struct bench *b, size_t records)
{
    struct tb_buf *envs = tb_calloc(BENCH_PER_BLOCK, sizeof(*envs));
    struct tb_bytes *txs = tb_calloc(BENCH_PER_BLOCK, sizeof(*txs));
    b->ids = tb_calloc(records, sizeof(*b->ids));
    if (envs == NULL || txs == NULL || b->ids == NULL)
        bench_die("alloc", TB_ENOMEM);
    for (size_t i = 0; i < BENCH_PER_BLOCK; i++)
        tb_buf_init(&envs[i], WIRE_TX_BYTES_MAX);
    register_agency(b);
    for (size_t done = 0; done < records;) {
        size_t n = records - done < BENCH_PER_BLOCK ? records - done : BENCH_PER_BLOCK;
        issue_block(b, envs, txs, n);
        run_block(b, txs, n);
        done += n;
    }
    for (size_t i = 0; i < BENCH_PER_BLOCK; i++)
        tb_buf_release(&envs[i]);
    tb_free(envs);
    tb_free(txs);
}

struct figures
{
    size_t min_bytes, max_bytes, total_bytes, samples;
    double path_hashes, status_bytes; /* totals over the samples */
    double build_cpu, warm_cpu, verify_cpu, kept_cpu, sig_cpu;
};

#define BENCH_WARM_REPS 10u

/* Five one-shot verifications (a bundle's count) of the record's own signature. */
static double five_sigs(const struct bench *b, const struct proof_bundle *pb)
{
    struct wire_tx rec, reg;
    struct wire_tx_body body;
    struct tb_buf in;
    BENCH_CHECK("record", wire_tx_decode(pb->record.data, pb->record.len, &rec, bench_errmsg));
    BENCH_CHECK("register", wire_tx_decode(pb->agency_register.data, pb->agency_register.len, &reg,
                                           bench_errmsg));
    BENCH_CHECK("register body",
                wire_tx_body_decode(reg.kind, reg.body.ptr, reg.body.len, &body, bench_errmsg));
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    BENCH_CHECK("input", wire_tx_sign_input(b->c.chain, rec.kind, rec.body.ptr, rec.body.len, &in));
    double c0 = bench_cpu_s();
    for (int i = 0; i < 5; i++)
        BENCH_CHECK("verify", cr_verify_public(b->c.suite, body.u.reg.public_key.ptr,
                                               body.u.reg.public_key.len, in.data, in.len,
                                               rec.sigs[0].sig.ptr, rec.sigs[0].sig.len));
    double t = bench_cpu_s() - c0;
    tb_buf_release(&in);
    return t;
}

/* Builds and verifies bundles for a sample of records spread over the log. */
static void measure(struct bench *b, struct figures *f)
{
    struct proof_bundle *pb = proof_bundle_new();
    struct proof_result *res = tb_calloc(1, sizeof(*res));
    struct tb_buf js;
    struct proof_verify_opts o = {0};
    struct proof_verifier *kv = NULL;
    if (pb == NULL || res == NULL)
        bench_die("alloc", TB_ENOMEM);
    BENCH_CHECK("verifier", proof_verifier_new(&b->c.g, &kv, bench_errmsg));
    memset(f, 0, sizeof(*f));
    f->min_bytes = SIZE_MAX;
    tb_buf_init(&js, PROOF_JSON_MAX);
    size_t n = b->id_count < BENCH_SAMPLES ? b->id_count : BENCH_SAMPLES;
    for (size_t s = 0; s < n; s++) {
        const uint8_t *id = b->ids[s * b->id_count / n];
        struct store_txn *txn = NULL;
        double c0 = bench_cpu_s();
        BENCH_CHECK("begin", store_begin_read(b->c.store, &txn, bench_errmsg));
        BENCH_CHECK("build", proof_build(b->c.ledger, txn, id, 0, pb, bench_errmsg));
        store_abort(txn);
        tb_buf_reset(&js);
        BENCH_CHECK("json", proof_bundle_to_json(pb, 0, &js, bench_errmsg));
        f->build_cpu += bench_cpu_s() - c0;
        c0 = bench_cpu_s();
        BENCH_CHECK("verify", proof_verify_json(&b->c.g, (const char *)js.data, js.len, &o, res));
        f->verify_cpu += bench_cpu_s() - c0;
        c0 = bench_cpu_s();
        BENCH_CHECK("verify",
                    proof_verifier_check_json(kv, (const char *)js.data, js.len, &o, res));
        f->kept_cpu += bench_cpu_s() - c0;
        /* The same bundle again, its store pages now in memory (a node serving hot records). */
        c0 = bench_cpu_s();
        BENCH_CHECK("begin", store_begin_read(b->c.store, &txn, bench_errmsg));
        for (unsigned r = 0; r < BENCH_WARM_REPS; r++) {
            BENCH_CHECK("build", proof_build(b->c.ledger, txn, id, 0, pb, bench_errmsg));
            tb_buf_reset(&js);
            BENCH_CHECK("json", proof_bundle_to_json(pb, 0, &js, bench_errmsg));
        }
        store_abort(txn);
        f->warm_cpu += bench_cpu_s() - c0;
        f->sig_cpu += five_sigs(b, pb);
        if (res->verdict != PROOF_VALID) {
            fprintf(stderr, "bench_proof: %s: %s\n", proof_verdict_name(res->verdict),
                    res->reasons[0]);
            exit(1);
        }
        f->min_bytes = js.len < f->min_bytes ? js.len : f->min_bytes;
        f->max_bytes = js.len > f->max_bytes ? js.len : f->max_bytes;
        f->total_bytes += js.len;
        f->path_hashes += pb->record_inclusion.path.count + pb->agency_inclusion.path.count;
        f->status_bytes += (double)(pb->record_status.proof.depth + pb->agency_status.proof.depth);
    }
    f->samples = n;
    proof_verifier_free(kv);
    tb_buf_release(&js);
    tb_free(res);
    proof_bundle_free(pb);
}

static void teardown(struct bench *b, const char *dir)
{
    tb_free(b->ids);
    bench_chain_close(&b->c, dir);
}

static void run(enum cr_suite suite, size_t records)
{
    struct bench b;
    struct figures f;
    char dir[] = "/tmp/bench_proof.XXXXXX";
    memset(&b, 0, sizeof(b));
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    bench_chain_open(&b.c, suite, dir);
    fill(&b, records);
    measure(&b, &f);
    double sn = (double)f.samples;
    printf("bench_proof %s: %zu records in the log (%" PRIu64 " blocks), %zu bundles sampled\n",
           cr_suite_name(suite), records, b.height, f.samples);
    printf(
        "  bundle JSON: %.0f bytes average (min %zu, max %zu); log path hashes %.1f, "
        "status proof depth %.1f (record + agency)\n",
        (double)f.total_bytes / sn, f.min_bytes, f.max_bytes, f.path_hashes / sn,
        f.status_bytes / sn);
    printf(
        "  build + JSON: %.0f bundles/s first time (CPU, %.0f us each), %.0f bundles/s "
        "warm (%.0f us)\n",
        sn / f.build_cpu, 1e6 * f.build_cpu / sn, sn * BENCH_WARM_REPS / f.warm_cpu,
        1e6 * f.warm_cpu / (sn * BENCH_WARM_REPS));
    printf(
        "  offline verify of the JSON: %.0f bundles/s (CPU, %.0f us each); ceiling from 5 "
        "one-shot signature checks (%.0f us each): %.0f/s, ratio %.2f\n",
        sn / f.verify_cpu, 1e6 * f.verify_cpu / sn, 1e6 * f.sig_cpu / (5 * sn), sn / f.sig_cpu,
        f.sig_cpu / f.verify_cpu);
    printf(
        "  the same with a kept verifier (genesis keys parsed once): %.0f bundles/s (CPU, %.0f "
        "us each)\n",
        sn / f.kept_cpu, 1e6 * f.kept_cpu / sn);
    teardown(&b, dir);
}

int main(int argc, char **argv)
{
    enum cr_suite suites[2] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};
    size_t suite_count = 2, sizes[8] = {1000u, 100000u}, size_count = 2;
    int a = 1;
    if (argc > 1 && strcmp(argv[1], "ed25519") == 0)
        suite_count = 1, a = 2;
    else if (argc > 1 && strcmp(argv[1], "sm2") == 0)
        suites[0] = CR_SUITE_SM2_SM3, suite_count = 1, a = 2;
    else if (argc > 1 && strcmp(argv[1], "both") == 0)
        a = 2;
    if (a < argc) {
        size_count = 0;
        for (; a < argc && size_count < 8; a++) {
            sizes[size_count] = (size_t)strtoull(argv[a], NULL, 10);
            if (sizes[size_count] == 0) {
                fprintf(stderr, "usage: bench_proof [ed25519|sm2|both] [records ...]\n");
                return 2;
            }
            size_count++;
        }
    }
    for (size_t s = 0; s < suite_count; s++)
        for (size_t i = 0; i < size_count; i++)
            run(suites[s], sizes[i]);
    return 0;
}
