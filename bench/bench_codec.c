/*
 * Codec throughput: encodes and decodes per second of a typical record.issue envelope (5 claims,
 * one 64-byte Ed25519 signature) and of a 1,000-tx block of such envelopes. Not a test; build
 * without sanitizers (RelWithDebInfo) for figures worth quoting.
 * Usage: bench_codec [seconds per case, default 1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tb_assert.h"
#include "wire.h"

#define BLOCK_TXS 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct tb_bytes S(const char *s)
{
    struct tb_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static void
sample_issue(struct wire_tx_body *b, uint32_t serial)
{
    struct wire_record_issue *r = &b->u.issue;
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_RECORD_ISSUE;
    r->type = S("provident-fund.deposit-certificate");
    r->city = S("GZ");
    r->agency = S("gz-provident-fund-centre");
    memset(r->subject, 0x5a, sizeof(r->subject));
    r->issued_at = 1700000000u + serial;
    r->expires_at = 1800000000u;
    r->claims[0].key = S("account_status");
    r->claims[0].str_value = S("normal");
    r->claims[1].key = S("balance_cents");
    r->claims[1].is_uint = true;
    r->claims[1].uint_value = 12345678;
    r->claims[2].key = S("employer");
    r->claims[2].str_value =
        S("\xe5\xb9\xbf\xe5\xb7\x9e\xe5\xb8\x82\xe6\x9f\x90\xe5\x85\xac\xe5\x8f\xb8");
    r->claims[3].key = S("months_paid");
    r->claims[3].is_uint = true;
    r->claims[3].uint_value = 96;
    r->claims[4].key = S("name");
    r->claims[4].str_value = S("\xe5\xbc\xa0\xe4\xb8\x89");
    r->claim_count = 5;
    memset(r->doc_digest, 0x3c, sizeof(r->doc_digest));
    memset(r->nonce, 0, sizeof(r->nonce));
    memcpy(r->nonce, &serial, sizeof(serial));
}

/* Encodes body then envelope into env (appended). */
static void encode_envelope(const struct wire_tx_body *b, struct tb_buf *body, struct tb_buf *env)
{
    static const uint8_t sig[64] = {1};
    struct wire_tx tx;
    char msg[TB_ERRMSG_SIZE];
    tb_buf_reset(body);
    TB_ASSERT(wire_tx_body_encode(b, body, msg) == TB_OK);
    memset(&tx, 0, sizeof(tx));
    tx.kind = WIRE_KIND_RECORD_ISSUE;
    tx.body.ptr = body->data;
    tx.body.len = body->len;
    memset(tx.sigs[0].key_id, 0x77, sizeof(tx.sigs[0].key_id));
    tx.sigs[0].sig.ptr = sig;
    tx.sigs[0].sig.len = sizeof(sig);
    tx.sig_count = 1;
    TB_ASSERT(wire_tx_encode(&tx, env, msg) == TB_OK);
}

static void report(const char *what, long n, double dt, size_t bytes)
{
    printf("%-34s %10.0f ops/s  %8.2f us/op  %7.1f MB/s\n", what, (double)n / dt,
           dt / (double)n * 1e6, (double)bytes * (double)n / dt / 1e6);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    static struct wire_tx_body b, b2;
    static struct wire_tx tx;
    struct tb_buf body, env, envs, blk;
    struct tb_bytes *views = calloc(BLOCK_TXS, sizeof(*views));
    size_t offs[BLOCK_TXS + 1];
    struct wire_header h;
    struct wire_block dec;
    char msg[TB_ERRMSG_SIZE];
    double t0, dt;
    long n;

    TB_ASSERT(views != NULL);
    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    tb_buf_init(&envs, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    sample_issue(&b, 1);

    for (n = 0, t0 = now_s(); (dt = now_s() - t0) < secs; n++) {
        tb_buf_reset(&env);
        encode_envelope(&b, &body, &env);
    }
    report("record.issue envelope encode", n, dt, env.len);

    for (n = 0, t0 = now_s(); (dt = now_s() - t0) < secs; n++) {
        TB_ASSERT(wire_tx_decode(env.data, env.len, &tx, msg) == TB_OK);
        TB_ASSERT(wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, &b2, msg) == TB_OK);
    }
    report("record.issue envelope decode", n, dt, env.len);
    printf("  (envelope %zu bytes, body %zu bytes)\n", env.len, tx.body.len);

    offs[0] = 0;
    for (uint32_t i = 0; i < BLOCK_TXS; i++) {
        sample_issue(&b, i);
        encode_envelope(&b, &body, &envs);
        offs[i + 1] = envs.len;
    }
    for (size_t i = 0; i < BLOCK_TXS; i++) {
        views[i].ptr = envs.data + offs[i];
        views[i].len = offs[i + 1] - offs[i];
    }
    memset(&h, 0, sizeof(h));
    h.version = WIRE_HEADER_VERSION;
    h.height = 123456;
    h.time_ms = 1700000000123u;
    h.log_size = 123456789;

    for (n = 0, t0 = now_s(); (dt = now_s() - t0) < secs; n++) {
        tb_buf_reset(&blk);
        TB_ASSERT(wire_block_encode(&h, views, BLOCK_TXS, &blk, msg) == TB_OK);
    }
    report("1000-tx block encode (checks txs)", n, dt, blk.len);

    for (n = 0, t0 = now_s(); (dt = now_s() - t0) < secs; n++) {
        TB_ASSERT(wire_block_decode(blk.data, blk.len, &dec, msg) == TB_OK);
        TB_ASSERT(dec.tx_count == BLOCK_TXS);
        wire_block_release(&dec);
    }
    report("1000-tx block decode", n, dt, blk.len);
    printf("  (block %zu bytes)\n", blk.len);

    tb_buf_release(&body);
    tb_buf_release(&env);
    tb_buf_release(&envs);
    tb_buf_release(&blk);
    free(views);
    return 0;
}
