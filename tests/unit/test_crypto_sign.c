/*
 * crypto/sign.c and crypto/key_pem.c: RFC 8032 known answers, the GM/T 0003.5 SM2
 * signature example with the pinned ID, SM2 ID pinning against OpenSSL signing with
 * other IDs, Ed25519 non-canonical and small-order refusals, strict SM2 DER, tampering,
 * PEM round trips with and without a passphrase, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "cr_ossl.h"
#include "cr_sign.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

static void hex_to(const char *hex, uint8_t *out, size_t len)
{
    assert_int_equal(tb_hex_decode(hex, strlen(hex), out, len), TB_OK);
}

/* ---- RFC 8032 section 7.1 ---- */

struct ed_vector
{
    const char *secret, *public, *msg, *sig;
};

static const struct ed_vector rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
};

static void ed25519_rfc8032(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        const struct ed_vector *v = &rfc8032[i];
        uint8_t seed[32], pub[32], msg[2], want[64], sig[CR_SIG_MAX], got_pub[CR_PUBKEY_MAX];
        size_t msg_len = strlen(v->msg) / 2, sig_len = 0;
        struct cr_key *key = NULL;
        hex_to(v->secret, seed, 32);
        hex_to(v->public, pub, 32);
        hex_to(v->sig, want, 64);
        if (msg_len > 0)
            hex_to(v->msg, msg, msg_len);
        assert_int_equal(cr_key_from_ed25519_seed(seed, &key), TB_OK);
        assert_int_equal(cr_key_public(key, got_pub), 32);
        assert_memory_equal(got_pub, pub, 32);
        assert_int_equal(cr_sign(key, msg, msg_len, sig, &sig_len), TB_OK);
        assert_int_equal(sig_len, 64);
        assert_memory_equal(sig, want, 64);
        assert_int_equal(cr_verify(key, msg, msg_len, want, 64), TB_OK);
        assert_int_equal(cr_verify_public(CR_SUITE_ED25519_SHA256, pub, 32, msg, msg_len, want, 64),
                         TB_OK);
        want[63] ^= 0x01;
        assert_int_equal(cr_verify(key, msg, msg_len, want, 64), TB_EBADSIG);
        cr_key_free(key);
    }
}

/* ---- Ed25519 encodings that must be refused ---- */

static const uint8_t order_l[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

static void set_y(uint8_t enc[32], uint8_t low, uint8_t fill, uint8_t top)
{
    memset(enc, fill, 32);
    enc[0] = low;
    enc[31] = top;
}

static void ed25519_refuses_noncanonical_signatures(void **state)
{
    uint8_t seed[32], pub[32], sig[64], bad[64];
    struct cr_key *key = NULL;
    unsigned carry = 0;
    (void)state;
    hex_to(rfc8032[0].secret, seed, 32);
    hex_to(rfc8032[0].public, pub, 32);
    hex_to(rfc8032[0].sig, sig, 64);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 32, &key), TB_OK);
    assert_int_equal(cr_verify(key, "", 0, sig, 64), TB_OK);
    /* S + L: the same group element, the classic malleability. */
    memcpy(bad, sig, 64);
    for (size_t i = 0; i < 32; i++) {
        unsigned sum = bad[32 + i] + order_l[i] + carry;
        bad[32 + i] = (uint8_t)sum;
        carry = sum >> 8;
    }
    assert_int_equal(carry, 0);
    assert_int_equal(cr_verify(key, "", 0, bad, 64), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    assert_true(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, sig, 64));
    /* S = L exactly, and S all ones. */
    memcpy(bad, sig, 64);
    memcpy(bad + 32, order_l, 32);
    assert_int_equal(cr_verify(key, "", 0, bad, 64), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    bad[32] = (uint8_t)(bad[32] - 1); /* S = L - 1 is canonical */
    assert_true(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    memset(bad + 32, 0xff, 32);
    assert_int_equal(cr_verify(key, "", 0, bad, 64), TB_EBADSIG);
    /* R with y = p + 3 (decodes to the valid y = 3, but is not canonical). */
    memcpy(bad, sig, 64);
    set_y(bad, 0xf0, 0xff, 0x7f);
    assert_int_equal(cr_verify(key, "", 0, bad, 64), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    set_y(bad, 0x03, 0x00, 0x00); /* the canonical spelling passes the encoding rules */
    assert_true(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    /* Small-order R (order 8) with S = 0. */
    memset(bad, 0, 64);
    hex_to("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", bad, 32);
    assert_int_equal(cr_verify(key, "", 0, bad, 64), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_ED25519_SHA256, bad, 64));
    /* Wrong lengths. */
    assert_int_equal(cr_verify(key, "", 0, sig, 63), TB_EBADSIG);
    assert_int_equal(cr_verify(key, "", 0, sig, 0), TB_EBADSIG);
    assert_int_equal(cr_verify(key, "", 0, NULL, 64), TB_EBADSIG);
    cr_key_free(key);
}

static void ed25519_refuses_bad_public_keys(void **state)
{
    static const char *small_order[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    uint8_t pub[33];
    struct cr_key *key = NULL;
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        for (int sign = 0; sign < 2; sign++) {
            hex_to(small_order[i], pub, 32);
            pub[31] = (uint8_t)(pub[31] | (sign ? 0x80 : 0));
            assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 32, &key), TB_EINVAL);
            assert_null(key);
        }
    }
    /* y = 3 is on the curve and of large order: canonical accepted, p + 3 refused. */
    set_y(pub, 0x03, 0x00, 0x00);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 32, &key), TB_OK);
    cr_key_free(key);
    set_y(pub, 0xf0, 0xff, 0x7f);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 32, &key), TB_EINVAL);
    /* y = 2 is not on the curve (x^2 has no root). */
    set_y(pub, 0x02, 0x00, 0x00);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 32, &key), TB_EINVAL);
    hex_to(rfc8032[0].public, pub, 32);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 31, &key), TB_EINVAL);
    assert_int_equal(cr_key_from_public(CR_SUITE_ED25519_SHA256, pub, 33, &key), TB_EINVAL);
    /* The lax-verifier forgery: identity key, R = identity, S = 0 "signs" everything. */
    uint8_t forged[64] = {1};
    set_y(pub, 0x01, 0x00, 0x00);
    assert_int_equal(cr_verify_public(CR_SUITE_ED25519_SHA256, pub, 32, "x", 1, forged, 64),
                     TB_EBADSIG);
}

/* ---- Round trips and tampering, both suites ---- */

static void tamper_round_trip(enum cr_suite suite)
{
    struct t_rng rng;
    uint8_t msg[100], sig[CR_SIG_MAX], pub[CR_PUBKEY_MAX], id[CR_HASH_BYTES], want[CR_HASH_BYTES];
    size_t sig_len = 0, pub_len;
    struct cr_key *key = NULL, *pub_key = NULL;

    t_rng_seed(&rng, (uint64_t)suite);
    assert_int_equal(cr_key_generate(suite, &key), TB_OK);
    assert_int_equal(cr_key_suite(key), suite);
    assert_true(cr_key_has_private(key));
    pub_len = cr_key_public(key, pub);
    assert_int_equal(pub_len, suite == CR_SUITE_SM2_SM3 ? 65 : 32);
    cr_key_id(key, id);
    cr_hash(suite, pub, pub_len, want);
    assert_memory_equal(id, want, 32);
    assert_int_equal(cr_key_from_public(suite, pub, pub_len, &pub_key), TB_OK);
    assert_false(cr_key_has_private(pub_key));
    assert_int_equal(cr_sign(pub_key, "m", 1, sig, &sig_len), TB_EINVAL);
    for (int round = 0; round < 4; round++) {
        size_t len = (size_t)t_rng_below(&rng, sizeof(msg) + 1);
        t_rng_bytes(&rng, msg, len);
        assert_int_equal(cr_sign(key, msg, len, sig, &sig_len), TB_OK);
        assert_true(sig_len <= CR_SIG_MAX);
        assert_int_equal(cr_verify(pub_key, msg, len, sig, sig_len), TB_OK);
        assert_int_equal(cr_verify(key, msg, len, sig, sig_len), TB_OK);
        for (size_t i = 0; i < sig_len; i++) { /* every byte of the signature */
            sig[i] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(cr_verify(pub_key, msg, len, sig, sig_len), TB_EBADSIG);
            sig[i] ^= (uint8_t)(1u << (i % 8));
        }
        if (len > 0) {
            msg[len - 1] ^= 0x80;
            assert_int_equal(cr_verify(pub_key, msg, len, sig, sig_len), TB_EBADSIG);
            msg[len - 1] ^= 0x80;
        }
        assert_int_equal(cr_verify(pub_key, msg, len, sig, sig_len), TB_OK); /* still reusable */
    }
    cr_key_free(pub_key);
    cr_key_free(key);
    cr_key_free(NULL);
}

static void ed25519_round_trip_tamper(void **state)
{
    (void)state;
    tamper_round_trip(CR_SUITE_ED25519_SHA256);
}

static void sm2_round_trip_tamper(void **state)
{
    (void)state;
    tamper_round_trip(CR_SUITE_SM2_SM3);
}

/* ---- SM2: the published example and the distinguishing ID ---- */

/* GM/T 0003.5-2012 (GB/T 32918.5) A.2: recommended curve, ID 1234567812345678. */
static const char gmt_pub[] =
    "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
static const char gmt_sig_der[] =
    "3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
    "022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";

static void sm2_published_example(void **state)
{
    uint8_t pub[65], sig[72];
    struct cr_key *key = NULL;
    (void)state;
    hex_to(gmt_pub, pub, 65);
    hex_to(gmt_sig_der, sig, 72);
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 65, &key), TB_OK);
    assert_int_equal(cr_verify(key, "message digest", 14, sig, 72), TB_OK);
    assert_int_equal(cr_verify(key, "message digesT", 14, sig, 72), TB_EBADSIG);
    sig[40] ^= 0x01;
    assert_int_equal(cr_verify(key, "message digest", 14, sig, 72), TB_EBADSIG);
    cr_key_free(key);
}

/* Signs with OpenSSL directly, with an ID of our choosing (NULL: do not set one). */
static size_t openssl_sm2_sign(struct cr_key *key, const char *id, const void *msg, size_t len,
                               uint8_t sig[CR_SIG_MAX])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t n = CR_SIG_MAX;
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, &pctx, "SM3", NULL, NULL, key->pkey, NULL), 1);
    if (id != NULL)
        assert_int_equal(EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
    EVP_MD_CTX_free(ctx);
    return n;
}

static void sm2_id_is_pinned(void **state)
{
    uint8_t sig[CR_SIG_MAX];
    struct cr_key *key = NULL;
    size_t n;
    (void)state;
    assert_int_equal(cr_key_generate(CR_SUITE_SM2_SM3, &key), TB_OK);
    n = openssl_sm2_sign(key, CR_SM2_ID, "hello", 5, sig);
    assert_int_equal(cr_verify(key, "hello", 5, sig, n), TB_OK);
    n = openssl_sm2_sign(key, "", "hello", 5, sig);
    assert_int_equal(cr_verify(key, "hello", 5, sig, n), TB_EBADSIG);
    n = openssl_sm2_sign(key, "ALICE123@YAHOO.COM", "hello", 5, sig);
    assert_int_equal(cr_verify(key, "hello", 5, sig, n), TB_EBADSIG);
    cr_key_free(key);
}

static void sm2_refuses_loose_der(void **state)
{
    uint8_t pub[65], good[72], bad[80];
    struct cr_key *key = NULL;
    (void)state;
    hex_to(gmt_pub, pub, 65);
    hex_to(gmt_sig_der, good, 72);
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 65, &key), TB_OK);
    /* Trailing byte. */
    memcpy(bad, good, 72);
    bad[72] = 0;
    assert_int_equal(cr_verify(key, "message digest", 14, bad, 73), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 73));
    /* Long-form sequence length (0x81 0x46) for a short length. */
    bad[0] = 0x30;
    bad[1] = 0x81;
    bad[2] = 0x46;
    memcpy(bad + 3, good + 2, 70);
    assert_int_equal(cr_verify(key, "message digest", 14, bad, 73), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 73));
    /* An extra leading zero on r: 02 22 00 00 f5... */
    bad[0] = 0x30;
    bad[1] = 0x47;
    bad[2] = 0x02;
    bad[3] = 0x22;
    bad[4] = 0x00;
    memcpy(bad + 5, good + 4, 68);
    assert_int_equal(cr_verify(key, "message digest", 14, bad, 73), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 73));
    /* r = 0 and r = n. */
    static const char zero_r[] =
        "3026020100022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4"
        "840b69c485bbc1aa";
    hex_to(zero_r, bad, 40);
    assert_int_equal(cr_verify(key, "message digest", 14, bad, 40), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 40));
    static const char n_r[] =
        "3046022100fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d541"
        "23022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";
    hex_to(n_r, bad, 72);
    assert_int_equal(cr_verify(key, "message digest", 14, bad, 72), TB_EBADSIG);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 72));
    bad[36] = 0x22; /* r = n - 1: in range, so the encoding rules pass */
    assert_true(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, bad, 72));
    assert_true(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, good, 72));
    assert_int_equal(cr_verify(key, "message digest", 14, good, 72), TB_OK);
    cr_key_free(key);
}

/* BER forms that a lax DER parser accepts: indefinite and long-form lengths. */
static void sm2_refuses_ber_lengths(void **state)
{
    struct cr_key *key = NULL;
    uint8_t sig[CR_SIG_MAX], ber[CR_SIG_MAX + 8];
    size_t n = 0;
    (void)state;
    assert_int_equal(cr_key_generate(CR_SUITE_SM2_SM3, &key), TB_OK);
    for (int i = 0; i < 200 && n != 70; i++) /* r and s both without a 0x00 pad */
        assert_int_equal(cr_sign(key, &i, sizeof(i), sig, &n), TB_OK);
    assert_int_equal(n, 70);
    assert_int_equal(cr_verify(key, "", 0, sig, 0), TB_EBADSIG);
    ber[0] = 0x30; /* indefinite length: 30 80 ... 00 00 */
    ber[1] = 0x80;
    memcpy(ber + 2, sig + 2, 68);
    ber[70] = 0;
    ber[71] = 0;
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, ber, 72));
    ber[1] = 0x81; /* long form: 30 81 44 ... */
    ber[2] = 0x44;
    memcpy(ber + 3, sig + 2, 68);
    assert_false(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, ber, 71));
    assert_true(cr_sig_encoding_ok(CR_SUITE_SM2_SM3, sig, 70));
    cr_key_free(key);
}

static void sm2_refuses_bad_public_keys(void **state)
{
    uint8_t pub[65];
    struct cr_key *key = NULL;
    (void)state;
    hex_to(gmt_pub, pub, 65);
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 64, &key), TB_EINVAL);
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 1, &key), TB_EINVAL);
    pub[0] = 0x02;
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 65, &key), TB_EINVAL);
    pub[0] = 0x04;
    pub[64] ^= 0x01; /* off the curve */
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 65, &key), TB_EINVAL);
    memset(pub + 1, 0, 64); /* (0, 0): what some encoders write for infinity */
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, pub, 65, &key), TB_EINVAL);
    uint8_t inf = 0x00;
    assert_int_equal(cr_key_from_public(CR_SUITE_SM2_SM3, &inf, 1, &key), TB_EINVAL);
    assert_null(key);
    assert_int_equal(cr_key_from_public((enum cr_suite)3, pub, 65, &key), TB_EINVAL);
    ERR_clear_error();
}

/* ---- PEM ---- */

static void pem_round_trip_suite(enum cr_suite suite, const char *dir)
{
    char path[512], errmsg[TB_ERRMSG_SIZE] = "";
    uint8_t sig[CR_SIG_MAX], a[CR_PUBKEY_MAX], b[CR_PUBKEY_MAX];
    struct cr_key *key = NULL, *loaded = NULL;
    struct stat st;
    size_t sig_len = 0;

    snprintf(path, sizeof(path), "%s/key-%d.pem", dir, (int)suite);
    assert_int_equal(cr_key_generate(suite, &key), TB_OK);
    for (int enc = 0; enc < 2; enc++) {
        const char *pass = enc ? "correct horse battery staple" : NULL;
        assert_int_equal(cr_key_save_pem(key, path, pass, errmsg), TB_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(cr_key_load_pem(path, pass, &loaded, errmsg), TB_OK);
        assert_int_equal(cr_key_suite(loaded), suite);
        assert_true(cr_key_has_private(loaded));
        assert_int_equal(cr_key_public(loaded, a), cr_key_public(key, b));
        assert_memory_equal(a, b, cr_key_public(key, b));
        assert_int_equal(cr_sign(loaded, "doc", 3, sig, &sig_len), TB_OK);
        assert_int_equal(cr_verify(key, "doc", 3, sig, sig_len), TB_OK);
        cr_key_free(loaded);
        loaded = NULL;
        if (enc) {
            assert_int_equal(cr_key_load_pem(path, "Tr0ub4dor", &loaded, errmsg), TB_EPASS);
            assert_null(strstr(errmsg, "Tr0ub4dor"));
            assert_null(strstr(errmsg, "horse"));
            assert_int_equal(cr_key_load_pem(path, NULL, &loaded, errmsg), TB_EPASS);
            assert_null(loaded);
        }
    }
    cr_key_free(key);
}

static void pem_round_trips(void **state)
{
    char *dir = t_tmpdir("crypto-pem");
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct cr_key *key = NULL, *pub_only = NULL;
    struct tb_buf pem;
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    (void)state;
    pem_round_trip_suite(CR_SUITE_ED25519_SHA256, dir);
    pem_round_trip_suite(CR_SUITE_SM2_SM3, dir);
    /* A public key PEM gives a public-only key that verifies. */
    for (int s = 1; s <= 2; s++) {
        tb_buf_init(&pem, 4096);
        assert_int_equal(cr_key_generate((enum cr_suite)s, &key), TB_OK);
        assert_int_equal(cr_key_public_pem(key, &pem), TB_OK);
        assert_int_equal(cr_key_from_pem(pem.data, pem.len, NULL, &pub_only, errmsg), TB_OK);
        assert_false(cr_key_has_private(pub_only));
        assert_int_equal(cr_sign(key, "x", 1, sig, &sig_len), TB_OK);
        assert_int_equal(cr_verify(pub_only, "x", 1, sig, sig_len), TB_OK);
        assert_int_equal(cr_key_save_pem(pub_only, "/nonexistent/x.pem", NULL, errmsg), TB_EINVAL);
        cr_key_free(pub_only);
        cr_key_free(key);
        tb_buf_release(&pem);
    }
    assert_int_equal(cr_key_from_pem((const uint8_t *)"hello", 5, NULL, &key, errmsg),
                     TB_EMALFORMED);
    assert_int_equal(cr_key_load_pem("/nonexistent/key.pem", NULL, &key, errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, "/nonexistent/key.pem"));
    t_rmtree(dir);
}

/* A key type that is not one of the suites (EC P-256) is refused with TB_EINVAL. */
static void pem_refuses_other_key_types(void **state)
{
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct cr_key *key = NULL;
    struct tb_buf pem;
    (void)state;
    assert_non_null(p256);
    tb_buf_init(&pem, 4096);
    struct cr_key fake = {.suite = CR_SUITE_SM2_SM3, .has_private = 1, .pkey = p256};
    assert_int_equal(cr_key_public_pem(&fake, &pem), TB_OK);
    assert_int_equal(cr_key_from_pem(pem.data, pem.len, NULL, &key, errmsg), TB_EINVAL);
    assert_non_null(strstr(errmsg, "EC"));
    tb_buf_release(&pem);
    EVP_PKEY_free(p256);
}

/* ---- Allocation failures ---- */

static void alloc_failures(void **state)
{
    char *dir = t_tmpdir("crypto-alloc");
    char path[512], errmsg[TB_ERRMSG_SIZE];
    struct cr_key *key = NULL, *loaded = NULL;
    int rv = TB_ENOMEM;
    (void)state;
    tb_alloc_fault_set(0, 1);
    assert_int_equal(cr_key_generate(CR_SUITE_ED25519_SHA256, &key), TB_ENOMEM);
    assert_null(key);
    tb_alloc_fault_reset();
    assert_int_equal(cr_key_generate(CR_SUITE_SM2_SM3, &key), TB_OK);
    snprintf(path, sizeof(path), "%s/k.pem", dir);
    assert_int_equal(cr_key_save_pem(key, path, "pw", errmsg), TB_OK);
    /* Fail each tb_malloc of a load in turn until the load succeeds. */
    for (long delay = 0; rv == TB_ENOMEM && delay < 20; delay++) {
        tb_alloc_fault_set(delay, 1);
        rv = cr_key_load_pem(path, "pw", &loaded, errmsg);
        tb_alloc_fault_reset();
        if (rv != TB_OK)
            assert_null(loaded);
    }
    assert_int_equal(rv, TB_OK);
    cr_key_free(loaded);
    cr_key_free(key);
    t_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ed25519_rfc8032),
        cmocka_unit_test(ed25519_refuses_noncanonical_signatures),
        cmocka_unit_test(ed25519_refuses_bad_public_keys),
        cmocka_unit_test(ed25519_round_trip_tamper),
        cmocka_unit_test(sm2_round_trip_tamper),
        cmocka_unit_test(sm2_published_example),
        cmocka_unit_test(sm2_id_is_pinned),
        cmocka_unit_test(sm2_refuses_loose_der),
        cmocka_unit_test(sm2_refuses_ber_lengths),
        cmocka_unit_test(sm2_refuses_bad_public_keys),
        cmocka_unit_test(pem_round_trips),
        cmocka_unit_test(pem_refuses_other_key_types),
        cmocka_unit_test(alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
