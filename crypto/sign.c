/*
 * Key objects, signing and strict verification for both suites (DESIGN 3.1), through
 * OpenSSL EVP. PEM files live in key_pem.c.
 *
 * Before OpenSSL sees a signature or a public key, this file refuses every encoding
 * that another implementation might judge differently: for Ed25519 the rules of
 * libsodium's open.c (S < L, canonical y, no small-order A or R), for SM2 minimal DER
 * and r, s in [1, n-1]. It must never log or print a key, a signature or a message,
 * and a failed verification is a return code (TB_EBADSIG), never an error message.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <string.h>

#include "cr_ossl.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

_Static_assert(CR_SM2_PUBKEY_BYTES <= CR_PUBKEY_MAX, "SM2 public key fits");
_Static_assert(CR_ED25519_PUBKEY_BYTES <= CR_PUBKEY_MAX, "Ed25519 public key fits");
_Static_assert(CR_ED25519_SIG_BYTES <= CR_SIG_MAX, "Ed25519 signature fits");
_Static_assert(sizeof(CR_SM2_ID) - 1 == 16, "the pinned SM2 ID is 16 bytes");

/* ---- Curve constants, computed once ---- */

static BIGNUM *sm2_order; /* n of the SM2 curve */
static BIGNUM *ed_p;      /* 2^255 - 19 */
static BIGNUM *ed_d;      /* -121665/121666 mod p */
static BIGNUM *ed_p_half; /* (p - 1) / 2, the Euler criterion exponent */
static pthread_once_t consts_once = PTHREAD_ONCE_INIT;

static void consts_init(void)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *t = BN_new();
    int ok = group != NULL && bn != NULL && t != NULL;

    TB_ASSERT(ok);
    sm2_order = BN_dup(EC_GROUP_get0_order(group));
    ed_p = BN_new();
    ed_d = BN_new();
    ed_p_half = BN_new();
    ok = sm2_order != NULL && ed_p != NULL && ed_d != NULL && ed_p_half != NULL;
    ok = ok && BN_set_bit(ed_p, 255) && BN_sub_word(ed_p, 19);
    ok = ok && BN_set_word(t, 121666) && BN_mod_inverse(t, t, ed_p, bn) != NULL;
    ok = ok && BN_set_word(ed_d, 121665) && BN_mod_mul(ed_d, ed_d, t, ed_p, bn);
    ok = ok && BN_sub(ed_d, ed_p, ed_d);
    ok = ok && BN_rshift1(ed_p_half, ed_p);
    TB_ASSERT(ok);
    TB_ASSERT(BN_num_bits(sm2_order) == 256);
    BN_free(t);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
}

/* ---- Ed25519 encoding rules (libsodium open.c) ---- */

/*
 * Encodings of the points of order 1, 2, 4 and 8, plus the non-canonical spellings
 * p-1, p, p+1; compared with the sign bit cleared (libsodium ge25519_has_small_order).
 */
static const uint8_t ed_small_order[7][32] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t ed_order_l[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

/* Public inputs only, so no constant-time care is needed here. */
static int ed25519_has_small_order(const uint8_t s[32])
{
    for (size_t i = 0; i < 7; i++) {
        if (memcmp(s, ed_small_order[i], 31) == 0 && (s[31] & 0x7f) == ed_small_order[i][31])
            return 1;
    }
    return 0;
}

/* y (the encoding without its sign bit) must be below p = 2^255 - 19. */
static int ed25519_y_is_canonical(const uint8_t s[32])
{
    if ((s[31] & 0x7f) != 0x7f)
        return 1;
    for (size_t i = 30; i > 0; i--) {
        if (s[i] != 0xff)
            return 1;
    }
    return s[0] < 0xed;
}

/* S must be below L (RFC 8032 5.1.7 step 1; rejects the S + L malleability). */
static int ed25519_s_is_canonical(const uint8_t s[32])
{
    for (size_t i = 32; i-- > 0;) {
        if (s[i] != ed_order_l[i])
            return s[i] < ed_order_l[i];
    }
    return 0; /* S == L */
}

/*
 * RFC 8032 5.1.3: the encoding decodes to a point when x^2 = (y^2 - 1) / (d y^2 + 1)
 * has a root, and x = 0 does not come with the sign bit set. Import-time only.
 * Returns 1 (on the curve), 0 (not), or TB_ENOMEM.
 */
static int ed25519_is_on_curve(const uint8_t s[32])
{
    uint8_t be[32];
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *y = BN_new(), *u = BN_new(), *v = BN_new();
    int ok = bn != NULL && y != NULL && u != NULL && v != NULL;
    int on = 0;

    pthread_once(&consts_once, consts_init);
    for (size_t i = 0; i < 32; i++)
        be[i] = s[31 - i];
    be[0] &= 0x7f;
    ok = ok && BN_bin2bn(be, 32, y) != NULL;
    ok = ok && BN_mod_sqr(v, y, ed_p, bn) && BN_copy(u, v) != NULL;
    ok = ok && BN_mod_sub(u, u, BN_value_one(), ed_p, bn); /* u = y^2 - 1 */
    ok = ok && BN_mod_mul(v, v, ed_d, ed_p, bn);
    ok = ok && BN_mod_add(v, v, BN_value_one(), ed_p, bn); /* v = d y^2 + 1 */
    ok = ok && BN_mod_inverse(v, v, ed_p, bn) != NULL;
    ok = ok && BN_mod_mul(u, u, v, ed_p, bn); /* x^2 */
    if (ok && BN_is_zero(u)) {
        on = (s[31] & 0x80) == 0;
    } else if (ok) {
        ok = BN_mod_exp(v, u, ed_p_half, ed_p, bn); /* Euler: 1 for a square */
        on = ok && BN_is_one(v);
    }
    BN_free(y);
    BN_free(u);
    BN_free(v);
    BN_CTX_free(bn);
    if (!ok) { /* only allocation can fail: v = d y^2 + 1 is never 0 since d is not a square */
        ERR_clear_error();
        return TB_ENOMEM;
    }
    TB_ASSERT(on == 0 || on == 1);
    return on;
}

/* ---- Key objects ---- */

static int key_read_public(struct cr_key *key)
{
    size_t n = 0;
    if (key->suite == CR_SUITE_ED25519_SHA256) {
        n = CR_ED25519_PUBKEY_BYTES;
        if (EVP_PKEY_get_raw_public_key(key->pkey, key->pub, &n) != 1 || n != 32)
            return TB_ECRYPTO;
    } else {
        if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, key->pub,
                                            sizeof(key->pub), &n) != 1)
            return TB_ECRYPTO;
        if (n != CR_SM2_PUBKEY_BYTES || key->pub[0] != 0x04)
            return TB_ECRYPTO;
    }
    key->pub_len = n;
    return TB_OK;
}

int cr_key_wrap(enum cr_suite suite, EVP_PKEY *pkey, int has_private, struct cr_key **out)
{
    const char *type = suite == CR_SUITE_ED25519_SHA256 ? "ED25519" : "SM2";
    struct cr_key *key;
    int rv;

    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(pkey != NULL);
    *out = NULL;
    if (!EVP_PKEY_is_a(pkey, type)) {
        EVP_PKEY_free(pkey);
        return TB_EINVAL;
    }
    key = tb_calloc(1, sizeof(*key));
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return TB_ENOMEM;
    }
    key->suite = suite;
    key->pkey = pkey;
    key->has_private = has_private;
    rv = key_read_public(key);
    if (rv != TB_OK) {
        ERR_clear_error();
        cr_key_free(key);
        return rv;
    }
    *out = key;
    return TB_OK;
}

int cr_key_generate(enum cr_suite suite, struct cr_key **out)
{
    const char *type = suite == CR_SUITE_ED25519_SHA256 ? "ED25519" : "SM2";
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pkey = NULL;
    int ok;

    TB_ASSERT(cr_suite_valid((int)suite));
    *out = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return cr_ossl_fail(NULL, TB_ECRYPTO, "key generation");
    }
    return cr_key_wrap(suite, pkey, 1, out);
}

int cr_key_from_ed25519_seed(const uint8_t seed[CR_ED25519_SEED_BYTES], struct cr_key **out)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, 32);
    TB_ASSERT(out != NULL);
    *out = NULL;
    if (pkey == NULL)
        return cr_ossl_fail(NULL, TB_ECRYPTO, "ed25519 seed");
    return cr_key_wrap(CR_SUITE_ED25519_SHA256, pkey, 1, out);
}

static int ed25519_from_public(const uint8_t *pub, size_t pub_len, EVP_PKEY **pkey)
{
    int on;

    if (pub_len != CR_ED25519_PUBKEY_BYTES)
        return TB_EINVAL;
    if (!ed25519_y_is_canonical(pub) || ed25519_has_small_order(pub))
        return TB_EINVAL;
    on = ed25519_is_on_curve(pub);
    if (on != 1)
        return on == 0 ? TB_EINVAL : on;
    *pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub, pub_len);
    return *pkey == NULL ? TB_ENOMEM : TB_OK;
}

/*
 * The point goes through EVP_PKEY_fromdata, which decodes it with EC_POINT_oct2point
 * (refusing points off the curve), then through EVP_PKEY_public_check, which also
 * refuses infinity and points outside the prime-order group.
 */
static int sm2_from_public(const uint8_t *pub, size_t pub_len, EVP_PKEY **pkey)
{
    char group[] = "SM2";
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx;
    int ok;

    if (pub_len != CR_SM2_PUBKEY_BYTES || pub[0] != 0x04)
        return TB_EINVAL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, pub_len);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (ctx == NULL)
        return TB_ENOMEM;
    ok = EVP_PKEY_fromdata_init(ctx) == 1 &&
         EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *pkey, NULL);
        ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    if (!ok) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        ERR_clear_error();
        return TB_EINVAL;
    }
    return TB_OK;
}

int cr_key_from_public(enum cr_suite suite, const uint8_t *pub, size_t pub_len, struct cr_key **out)
{
    EVP_PKEY *pkey = NULL;
    int rv;

    TB_ASSERT(out != NULL);
    *out = NULL;
    if (!cr_suite_valid((int)suite) || pub == NULL)
        return TB_EINVAL;
    if (suite == CR_SUITE_ED25519_SHA256)
        rv = ed25519_from_public(pub, pub_len, &pkey);
    else
        rv = sm2_from_public(pub, pub_len, &pkey);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(pkey != NULL);
    return cr_key_wrap(suite, pkey, 0, out);
}

enum cr_suite cr_key_suite(const struct cr_key *key)
{
    TB_ASSERT(key != NULL);
    return key->suite;
}

size_t cr_key_public(const struct cr_key *key, uint8_t out[CR_PUBKEY_MAX])
{
    TB_ASSERT(key != NULL);
    TB_ASSERT(key->pub_len <= CR_PUBKEY_MAX);
    memcpy(out, key->pub, key->pub_len);
    return key->pub_len;
}

void cr_key_id(const struct cr_key *key, uint8_t out[CR_HASH_BYTES])
{
    TB_ASSERT(key != NULL);
    TB_ASSERT(key->pub_len > 0);
    cr_hash(key->suite, key->pub, key->pub_len, out);
}

int cr_key_has_private(const struct cr_key *key)
{
    TB_ASSERT(key != NULL);
    return key->has_private;
}

void cr_key_free(struct cr_key *key)
{
    if (key == NULL)
        return;
    EVP_MD_CTX_free(key->sign_ctx);
    EVP_MD_CTX_free(key->verify_ctx);
    EVP_PKEY_free(key->pkey); /* OpenSSL clears the private scalar when it frees it */
    tb_wipe(key, sizeof(*key));
    tb_free(key);
}

/* ---- Signing ---- */

/*
 * (Re)initialises ctx for key: Ed25519 with a NULL digest (pure Ed25519), SM2 with SM3
 * and the distinguishing ID set explicitly, since OpenSSL's default ID has changed
 * between versions.
 */
static int ctx_init(struct cr_key *key, EVP_MD_CTX **ctxp, int for_sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = NULL;
    int ok;

    if (*ctxp == NULL) {
        *ctxp = EVP_MD_CTX_new();
        if (*ctxp == NULL)
            return TB_ENOMEM;
    }
    if (key->suite == CR_SUITE_SM2_SM3)
        md = cr_suite_md(CR_SUITE_SM2_SM3);
    if (for_sign)
        ok = EVP_DigestSignInit(*ctxp, &pctx, md, NULL, key->pkey) == 1;
    else
        ok = EVP_DigestVerifyInit(*ctxp, &pctx, md, NULL, key->pkey) == 1;
    if (ok && key->suite == CR_SUITE_SM2_SM3)
        ok = EVP_PKEY_CTX_set1_id(pctx, CR_SM2_ID, sizeof(CR_SM2_ID) - 1) == 1;
    if (!ok) {
        EVP_MD_CTX_free(*ctxp); /* never reuse a context left half-initialised */
        *ctxp = NULL;
        return TB_ECRYPTO;
    }
    return TB_OK;
}

int cr_sign(struct cr_key *key, const void *msg, size_t len, uint8_t sig[CR_SIG_MAX],
            size_t *sig_len)
{
    size_t n = CR_SIG_MAX;
    int rv = TB_OK;

    TB_ASSERT(key != NULL);
    TB_ASSERT(msg != NULL || len == 0);
    *sig_len = 0;
    if (!key->has_private)
        return TB_EINVAL;
    if (key->sign_ctx == NULL || key->suite == CR_SUITE_SM2_SM3)
        rv = ctx_init(key, &key->sign_ctx, 1);
    if (rv != TB_OK)
        return cr_ossl_fail(NULL, rv, "sign init");
    if (EVP_DigestSign(key->sign_ctx, sig, &n, msg, len) != 1) {
        EVP_MD_CTX_free(key->sign_ctx);
        key->sign_ctx = NULL;
        return cr_ossl_fail(NULL, TB_ECRYPTO, "sign");
    }
    TB_ASSERT(n <= CR_SIG_MAX);
    if (key->suite == CR_SUITE_ED25519_SHA256)
        TB_ASSERT(n == CR_ED25519_SIG_BYTES);
    *sig_len = n;
    return TB_OK;
}

/* ---- Verification ---- */

static int ed25519_sig_is_strict(const uint8_t *sig, size_t sig_len)
{
    if (sig_len != CR_ED25519_SIG_BYTES)
        return 0;
    if (!ed25519_s_is_canonical(sig + 32))
        return 0;
    return ed25519_y_is_canonical(sig) && !ed25519_has_small_order(sig);
}

/* BN_cmp-based range check: 1 <= x <= n - 1. */
static int sm2_scalar_in_range(const BIGNUM *x)
{
    return !BN_is_negative(x) && !BN_is_zero(x) && BN_cmp(x, sm2_order) < 0;
}

/*
 * Strict DER: it must parse completely, re-encode to the very same bytes (minimal
 * lengths and integers), and r, s must be in [1, n-1].
 */
static int sm2_sig_is_strict(const uint8_t *sig, size_t sig_len)
{
    const unsigned char *p = sig;
    unsigned char *der = NULL;
    ECDSA_SIG *es;
    int der_len;
    int ok;

    if (sig_len < 8 || sig_len > CR_SIG_MAX)
        return 0;
    pthread_once(&consts_once, consts_init);
    es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
    if (es == NULL) {
        ERR_clear_error();
        return 0;
    }
    ok = p == sig + sig_len;
    der_len = i2d_ECDSA_SIG(es, &der);
    ok = ok && der_len > 0 && (size_t)der_len == sig_len && memcmp(der, sig, sig_len) == 0;
    ok = ok && sm2_scalar_in_range(ECDSA_SIG_get0_r(es));
    ok = ok && sm2_scalar_in_range(ECDSA_SIG_get0_s(es));
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

int cr_sig_encoding_ok(enum cr_suite suite, const uint8_t *sig, size_t sig_len)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(sig != NULL || sig_len == 0);
    if (suite == CR_SUITE_ED25519_SHA256)
        return ed25519_sig_is_strict(sig, sig_len);
    return sm2_sig_is_strict(sig, sig_len);
}

int cr_verify(struct cr_key *key, const void *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
    int rv = TB_OK;

    TB_ASSERT(key != NULL);
    TB_ASSERT(msg != NULL || len == 0);
    if (sig == NULL)
        return TB_EBADSIG;
    if (!cr_sig_encoding_ok(key->suite, sig, sig_len))
        return TB_EBADSIG;
    if (key->verify_ctx == NULL || key->suite == CR_SUITE_SM2_SM3)
        rv = ctx_init(key, &key->verify_ctx, 0);
    if (rv != TB_OK) {
        ERR_clear_error();
        return rv == TB_ENOMEM ? TB_ENOMEM : TB_EBADSIG;
    }
    if (EVP_DigestVerify(key->verify_ctx, sig, sig_len, msg, len) != 1) {
        ERR_clear_error(); /* a bad signature is an answer, not an error to report */
        return TB_EBADSIG;
    }
    return TB_OK;
}

int cr_verify_public(enum cr_suite suite, const uint8_t *pub, size_t pub_len, const void *msg,
                     size_t len, const uint8_t *sig, size_t sig_len)
{
    struct cr_key *key = NULL;
    int rv = cr_key_from_public(suite, pub, pub_len, &key);

    if (rv == TB_ENOMEM)
        return rv;
    if (rv != TB_OK)
        return TB_EBADSIG;
    rv = cr_verify(key, msg, len, sig, sig_len);
    cr_key_free(key);
    return rv;
}
