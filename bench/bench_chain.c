/*
 * bench/bench_chain.c: the federation bench_ledger and bench_proof share (bench_chain.h).
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_chain.h"

char bench_errmsg[TB_ERRMSG_SIZE];

void bench_die(const char *what, int rv)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", program_invocation_short_name, what, tb_strerror(rv),
            bench_errmsg);
    exit(1);
}

double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct cr_key *bench_key_new(enum cr_suite suite, uint8_t tag)
{
    struct cr_key *k = NULL;
    if (suite == CR_SUITE_ED25519_SHA256) {
        uint8_t seed[CR_ED25519_SEED_BYTES];
        memset(seed, tag, sizeof(seed));
        BENCH_CHECK("key", cr_key_from_ed25519_seed(seed, &k));
    } else {
        BENCH_CHECK("key", cr_key_generate(suite, &k));
    }
    return k;
}

void bench_chain_open(struct bench_chain *c, enum cr_suite suite, const char *dir)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"pf.deposit", CFG_SHARING_CONSENT}};
    memset(c, 0, sizeof(*c));
    memset(m, 0, sizeof(m));
    c->suite = suite;
    for (int i = 0; i < 4; i++) {
        c->node[i] = bench_key_new(suite, (uint8_t)(i + 1));
        snprintf(m[i].city, sizeof(m[i].city), "37%02d00", i + 1);
        snprintf(m[i].name, sizeof(m[i].name), "city %d", i);
        m[i].node_key_len = cr_key_public(c->node[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    BENCH_CHECK("genesis",
                cfg_genesis_build(suite, "bench", BENCH_T0_S, m, 4, t, 1, &c->g, bench_errmsg));
    BENCH_CHECK("chain id", cfg_genesis_chain_id(&c->g, c->chain));
    BENCH_CHECK("store", store_open(&c->store, dir, BENCH_MAP_BYTES, bench_errmsg));
    BENCH_CHECK("ledger", ledger_open(&c->ledger, c->store, &c->g, bench_errmsg));
    c->agency = bench_key_new(suite, 0x77);
    c->now_ms = BENCH_T0_S * 1000u;
}

void bench_chain_close(struct bench_chain *c, const char *dir)
{
    char path[256];
    ledger_close(c->ledger);
    store_close(c->store);
    for (int i = 0; i < 4; i++)
        cr_key_free(c->node[i]);
    cr_key_free(c->agency);
    cfg_genesis_release(&c->g);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

void bench_envelope(const struct bench_chain *c, const struct wire_tx_body *body,
                    struct cr_key *key, struct tb_buf *env, struct tb_buf *input, uint8_t *id)
{
    struct tb_buf bb, in;
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    struct wire_tx tx;
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    BENCH_CHECK("body", wire_tx_body_encode(body, &bb, bench_errmsg));
    BENCH_CHECK("sign input",
                wire_tx_sign_input(c->chain, (uint8_t)body->kind, bb.data, bb.len, &in));
    BENCH_CHECK("sign", cr_sign(key, in.data, in.len, sig, &sig_len));
    memset(&tx, 0, sizeof(tx));
    tx.kind = (uint8_t)body->kind;
    tx.body = (struct tb_bytes){bb.data, bb.len};
    cr_key_id(key, tx.sigs[0].key_id);
    tx.sigs[0].sig = (struct tb_bytes){sig, sig_len};
    tx.sig_count = 1;
    tb_buf_reset(env);
    BENCH_CHECK("envelope", wire_tx_encode(&tx, env, bench_errmsg));
    if (input != NULL) {
        tb_buf_reset(input);
        BENCH_CHECK("input", tb_buf_append(input, in.data, in.len));
    }
    if (id != NULL)
        wire_tx_id(c->suite, c->chain, tx.kind, bb.data, bb.len, id);
    tb_buf_release(&bb);
    tb_buf_release(&in);
}

void bench_agency_register(const struct bench_chain *c, struct tb_buf *env)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body body;
    memset(&body, 0, sizeof(body));
    body.kind = WIRE_KIND_AGENCY_REGISTER;
    body.u.reg.city = (struct tb_bytes){(const uint8_t *)"370100", 6};
    body.u.reg.agency = (struct tb_bytes){(const uint8_t *)"pf-centre", 9};
    body.u.reg.name = (struct tb_bytes){(const uint8_t *)"provident fund centre", 21};
    body.u.reg.public_key = (struct tb_bytes){pub, cr_key_public(c->agency, pub)};
    body.u.reg.types[0] = (struct tb_bytes){(const uint8_t *)"pf.deposit", 10};
    body.u.reg.type_count = 1;
    body.u.reg.not_after = BENCH_T0_S + 10u * 365u * 86400u;
    bench_envelope(c, &body, c->node[0], env, NULL, NULL); /* cities sort 370100 first */
}

void bench_issue(struct bench_chain *c, struct tb_buf *env, struct tb_buf *input, uint8_t *id)
{
    struct wire_tx_body body;
    uint64_t k = ++c->nonce;
    memset(&body, 0, sizeof(body));
    body.kind = WIRE_KIND_RECORD_ISSUE;
    body.u.issue.type = (struct tb_bytes){(const uint8_t *)"pf.deposit", 10};
    body.u.issue.city = (struct tb_bytes){(const uint8_t *)"370100", 6};
    body.u.issue.agency = (struct tb_bytes){(const uint8_t *)"pf-centre", 9};
    body.u.issue.issued_at = c->now_ms / 1000u;
    body.u.issue.claims[0].key = (struct tb_bytes){(const uint8_t *)"balance_fen", 11};
    body.u.issue.claims[0].is_uint = true;
    body.u.issue.claims[0].uint_value = k * 7919u % 10000000u;
    body.u.issue.claims[1].key = (struct tb_bytes){(const uint8_t *)"employer", 8};
    body.u.issue.claims[1].str_value =
        (struct tb_bytes){(const uint8_t *)"Liaocheng Steel Co.", 19};
    body.u.issue.claim_count = 2;
    for (int j = 0; j < 4; j++) {
        uint64_t x = (k + (uint64_t)j) * 0x9e3779b97f4a7c15u;
        memcpy(body.u.issue.subject + 8 * j, &x, 8);
        memcpy(body.u.issue.doc_digest + 8 * j, &x, 8);
    }
    memcpy(body.u.issue.nonce, &k, sizeof(k));
    bench_envelope(c, &body, c->agency, env, input, id);
}
