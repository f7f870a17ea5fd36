/*
 * node/sync.c: commit certificate checks, with four real Ed25519 validator keys. A good
 * certificate passes; too few signatures, a duplicate signer, a signer outside the set, the
 * wrong height or block hash, a signature over another chain id, a prevote signature instead
 * of a precommit, and a tampered signature are each refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node_int.h"
#include "t_util.h"

#define N 4u

static char errmsg[TB_ERRMSG_SIZE];
static struct cr_key *keys[N];
static uint8_t sigs[N][CR_SIG_MAX];
static size_t sig_lens[N];
static const uint8_t chain_a[WIRE_HASH_BYTES] = {0xa1};
static const uint8_t chain_b[WIRE_HASH_BYTES] = {0xb2};
static uint8_t hash[WIRE_HASH_BYTES];

static void sign_vote(struct cr_key *key, const uint8_t *chain, enum wire_vote_type type,
                      uint64_t height, uint32_t round, uint8_t *sig, size_t *sig_len)
{
    struct wire_vote v = {.type = type, .height = height, .round = round, .has_block_hash = true};
    struct tb_buf body, input;
    memcpy(v.block_hash, hash, WIRE_HASH_BYTES);
    tb_buf_init(&body, 256);
    tb_buf_init(&input, 512);
    assert_int_equal(wire_vote_encode(&v, &body, errmsg), TB_OK);
    assert_int_equal(wire_vote_sign_input(chain, body.data, body.len, &input), TB_OK);
    assert_int_equal(cr_sign(key, input.data, input.len, sig, sig_len), TB_OK);
    tb_buf_release(&body);
    tb_buf_release(&input);
}

static int setup(void **state)
{
    (void)state;
    memset(hash, 0x5e, sizeof(hash));
    for (unsigned i = 0; i < N; i++) {
        if (cr_key_generate(CR_SUITE_ED25519_SHA256, &keys[i]) != TB_OK)
            return -1;
        sign_vote(keys[i], chain_a, WIRE_VOTE_PRECOMMIT, 9, 2, sigs[i], &sig_lens[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++)
        cr_key_free(keys[i]);
    return 0;
}

/* A certificate for (9, round 2, hash) signed by the listed validators. */
static void make_cert(const uint32_t *signers, size_t count, struct tb_buf *out)
{
    struct wire_cert c = {.height = 9, .round = 2, .sig_count = count};
    memcpy(c.block_hash, hash, WIRE_HASH_BYTES);
    for (size_t i = 0; i < count; i++) {
        c.sigs[i].validator_index = signers[i];
        c.sigs[i].sig = (struct tb_bytes){sigs[signers[i] % N], sig_lens[signers[i] % N]};
    }
    tb_buf_reset(out);
    assert_int_equal(wire_cert_encode(&c, out, errmsg), TB_OK);
}

static int check(const struct tb_buf *cert, uint32_t n, uint64_t height, const uint8_t *h,
                 const uint8_t *chain)
{
    struct cr_key *const *k = keys;
    return node_cert_check(CR_SUITE_ED25519_SHA256, chain, k, n, height, h,
                           (struct tb_bytes){cert->data, cert->len}, errmsg);
}

static void good_certificate_passes(void **state)
{
    (void)state;
    struct tb_buf cert;
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    const uint32_t three[] = {0, 2, 3}, four[] = {0, 1, 2, 3};
    make_cert(three, 3, &cert);
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_OK);
    make_cert(four, 4, &cert);
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_OK);
    tb_buf_release(&cert);
}

static void bad_certificates_refused(void **state)
{
    (void)state;
    struct tb_buf cert;
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    const uint32_t two[] = {1, 3}, three[] = {0, 1, 2}, outside[] = {0, 1, 4};

    make_cert(two, 2, &cert); /* 2 of 4 is not more than two thirds */
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_EINVAL);

    make_cert(three, 3, &cert);
    assert_int_equal(check(&cert, N, 10, hash, chain_a), TB_EINVAL); /* wrong height */
    uint8_t other[WIRE_HASH_BYTES];
    memset(other, 0x5f, sizeof(other));
    assert_int_equal(check(&cert, N, 9, other, chain_a), TB_EINVAL); /* wrong hash */
    assert_int_equal(check(&cert, N, 9, hash, chain_b), TB_EBADSIG); /* another chain */
    assert_int_equal(check(&cert, 3, 9, hash, chain_a), TB_OK);      /* 3 of 3 fine */

    make_cert(outside, 3, &cert); /* validator 4 of a set of 4 */
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_EINVAL);

    /* Duplicate signer: [.., [1, sig], [1, sig]] made by patching index 2 into 1. */
    make_cert(three, 3, &cert);
    size_t pos = SIZE_MAX;
    for (size_t i = 0; i + 3 < cert.len; i++) {
        if (cert.data[i] == 0x92 && cert.data[i + 1] == 0x02 && cert.data[i + 2] == 0xc4)
            pos = i + 1;
    }
    assert_true(pos != SIZE_MAX);
    cert.data[pos] = 0x01;
    assert_int_not_equal(check(&cert, N, 9, hash, chain_a), TB_OK);

    /* Tampered signature byte. */
    make_cert(three, 3, &cert);
    cert.data[cert.len - 1] ^= 0x01;
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_EBADSIG);

    /* Trailing garbage: strict decode. */
    make_cert(three, 3, &cert);
    assert_int_equal(tb_buf_append_byte(&cert, 0xc0), TB_OK);
    assert_int_not_equal(check(&cert, N, 9, hash, chain_a), TB_OK);
    tb_buf_release(&cert);
}

static void prevote_signatures_do_not_commit(void **state)
{
    (void)state;
    uint8_t pv[N][CR_SIG_MAX];
    size_t pv_len[N];
    struct wire_cert c = {.height = 9, .round = 2, .sig_count = 3};
    struct tb_buf cert;
    memcpy(c.block_hash, hash, WIRE_HASH_BYTES);
    for (uint32_t i = 0; i < 3; i++) {
        sign_vote(keys[i], chain_a, WIRE_VOTE_PREVOTE, 9, 2, pv[i], &pv_len[i]);
        c.sigs[i] = (struct wire_cert_sig){.validator_index = i, .sig = {pv[i], pv_len[i]}};
    }
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    assert_int_equal(wire_cert_encode(&c, &cert, errmsg), TB_OK);
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_EBADSIG);
    /* Signatures of another round do not verify for this round either. */
    for (uint32_t i = 0; i < 3; i++) {
        sign_vote(keys[i], chain_a, WIRE_VOTE_PRECOMMIT, 9, 3, pv[i], &pv_len[i]);
        c.sigs[i].sig = (struct tb_bytes){pv[i], pv_len[i]};
    }
    tb_buf_reset(&cert);
    assert_int_equal(wire_cert_encode(&c, &cert, errmsg), TB_OK);
    assert_int_equal(check(&cert, N, 9, hash, chain_a), TB_EBADSIG);
    tb_buf_release(&cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_certificate_passes),
        cmocka_unit_test(bad_certificates_refused),
        cmocka_unit_test(prevote_signatures_do_not_commit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
