/*
 * AEAD for documents at rest (DESIGN 3.1). Byte layouts, all lengths in bytes:
 *
 * ed25519-sha256, AES-256-GCM:
 *     sealed = nonce(12, random) || ciphertext(len(plain)) || tag(16)
 *     the associated data is GCM's AAD; the 32-byte local key is the AES key.
 *
 * sm2-sm3, SM4-CTR + HMAC-SM3, encrypt-then-MAC:
 *     enc_key(16) = HKDF-SM3(ikm = local key, salt = empty, info = "tongban/aead/sm4/v1")
 *     mac_key(32) = HKDF-SM3(ikm = local key, salt = empty, info = "tongban/aead/mac/v1")
 *     (an empty salt is RFC 5869's default: HashLen zero bytes; info has no NUL byte)
 *     iv(16, random) is SM4-CTR's initial 128-bit big-endian counter block
 *     ciphertext = SM4-CTR(enc_key, iv, plain)
 *     tag(32) = HMAC-SM3(mac_key, iv || u64be(len(ad)) || ad || ciphertext)
 *     sealed = iv || ciphertext || tag
 *     Opening recomputes the tag, compares it in constant time, and decrypts only
 *     when it matches.
 *
 * This file never decrypts before authenticating (SM4 path), never releases GCM
 * plaintext whose tag failed (it is wiped), and never reuses a nonce on purpose: each
 * seal draws a fresh one from OpenSSL's CSPRNG. Derived keys are wiped after use.
 */
#include "cr_aead.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <string.h>

#include "cr_ossl.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define GCM_NONCE_BYTES 12
#define GCM_TAG_BYTES 16
#define SM4_KEY_BYTES 16
#define SM4_IV_BYTES 16
#define SM4_MAC_KEY_BYTES 32
#define SM4_TAG_BYTES 32

_Static_assert(CR_AEAD_GCM_OVERHEAD == GCM_NONCE_BYTES + GCM_TAG_BYTES, "GCM overhead");
_Static_assert(CR_AEAD_SM4_OVERHEAD == SM4_IV_BYTES + SM4_TAG_BYTES, "SM4 overhead");
_Static_assert(CR_AEAD_INPUT_MAX < (size_t)INT32_MAX - 64, "lengths fit OpenSSL's int");

static EVP_CIPHER *cipher_gcm;
static EVP_CIPHER *cipher_sm4_ctr;
static EVP_KDF *kdf_hkdf;
static EVP_MAC *mac_hmac;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
    cipher_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    cipher_sm4_ctr = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL);
    kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    TB_ASSERT(cipher_gcm != NULL && cipher_sm4_ctr != NULL);
    TB_ASSERT(kdf_hkdf != NULL && mac_hmac != NULL);
}

/* ---- AES-256-GCM ---- */

static int gcm_seal(const uint8_t key[32], const uint8_t nonce[GCM_NONCE_BYTES], const void *ad,
                    size_t ad_len, const void *plain, size_t plain_len, struct tb_buf *out)
{
    EVP_CIPHER_CTX *ctx;
    uint8_t *dst;
    int n = 0;
    int fin = 0;
    int ok;
    int rv = tb_buf_reserve(out, GCM_NONCE_BYTES + plain_len + GCM_TAG_BYTES);

    if (rv != TB_OK)
        return rv;
    dst = out->data + out->len;
    memcpy(dst, nonce, GCM_NONCE_BYTES);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "gcm context");
    ok = EVP_EncryptInit_ex2(ctx, cipher_gcm, key, nonce, NULL) == 1;
    ok = ok && (ad_len == 0 || EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1);
    n = 0;
    ok = ok && EVP_EncryptUpdate(ctx, dst + GCM_NONCE_BYTES, &n, plain, (int)plain_len) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx, dst + GCM_NONCE_BYTES + n, &fin) == 1;
    ok = ok && (size_t)n + (size_t)fin == plain_len;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_BYTES,
                                   dst + GCM_NONCE_BYTES + plain_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return cr_ossl_fail(NULL, TB_ECRYPTO, "aes-256-gcm seal");
    out->len += GCM_NONCE_BYTES + plain_len + GCM_TAG_BYTES;
    return TB_OK;
}

int cr_aead_gcm_seal_nonce(const uint8_t key[32], const uint8_t nonce[12], const void *ad,
                           size_t ad_len, const void *plain, size_t plain_len, struct tb_buf *out)
{
    TB_ASSERT(ad_len <= CR_AEAD_INPUT_MAX);
    TB_ASSERT(plain_len <= CR_AEAD_INPUT_MAX);
    pthread_once(&algs_once, algs_fetch);
    return gcm_seal(key, nonce, ad, ad_len, plain, plain_len, out);
}

static int gcm_open(const uint8_t key[32], const void *ad, size_t ad_len, const uint8_t *sealed,
                    size_t sealed_len, struct tb_buf *out)
{
    size_t ct_len = sealed_len - GCM_NONCE_BYTES - GCM_TAG_BYTES;
    EVP_CIPHER_CTX *ctx;
    uint8_t *dst;
    int n = 0;
    int fin = 0;
    int ok;
    int rv = tb_buf_reserve(out, ct_len);

    TB_ASSERT(sealed_len >= GCM_NONCE_BYTES + GCM_TAG_BYTES);
    if (rv != TB_OK)
        return rv;
    dst = out->data + out->len;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "gcm context");
    ok = EVP_DecryptInit_ex2(ctx, cipher_gcm, key, sealed, NULL) == 1;
    ok = ok && (ad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1);
    n = 0;
    ok = ok && EVP_DecryptUpdate(ctx, dst, &n, sealed + GCM_NONCE_BYTES, (int)ct_len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_BYTES,
                                   (void *)(sealed + GCM_NONCE_BYTES + ct_len)) == 1;
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        tb_wipe(dst, ct_len);
        return cr_ossl_fail(NULL, TB_ECRYPTO, "aes-256-gcm open");
    }
    /* Final is where the tag is checked; a failure there is a bad tag, not an error. */
    ok = EVP_DecryptFinal_ex(ctx, dst + n, &fin) == 1 && (size_t)n + (size_t)fin == ct_len;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        tb_wipe(dst, ct_len); /* unauthenticated plaintext never reaches the caller */
        return TB_EBADSIG;
    }
    out->len += ct_len;
    return TB_OK;
}

/* ---- SM4-CTR + HMAC-SM3 ---- */

static int sm4_hkdf(const uint8_t key[32], const char *info, uint8_t *okm, size_t okm_len)
{
    char digest[] = "SM3";
    OSSL_PARAM params[4];
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf_hkdf);
    int ok;

    TB_ASSERT(okm_len <= 32);
    if (kctx == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "hkdf context");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    params[3] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(kctx, okm, okm_len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok ? TB_OK : cr_ossl_fail(NULL, TB_ECRYPTO, "hkdf-sm3");
}

static int sm4_derive(const uint8_t key[32], uint8_t enc_key[SM4_KEY_BYTES],
                      uint8_t mac_key[SM4_MAC_KEY_BYTES])
{
    int rv = sm4_hkdf(key, "tongban/aead/sm4/v1", enc_key, SM4_KEY_BYTES);
    if (rv == TB_OK)
        rv = sm4_hkdf(key, "tongban/aead/mac/v1", mac_key, SM4_MAC_KEY_BYTES);
    return rv;
}

/* tag = HMAC-SM3(mac_key, iv || u64be(ad_len) || ad || ct) */
static int sm4_tag(const uint8_t mac_key[SM4_MAC_KEY_BYTES], const uint8_t iv[SM4_IV_BYTES],
                   const void *ad, size_t ad_len, const uint8_t *ct, size_t ct_len,
                   uint8_t tag[SM4_TAG_BYTES])
{
    char digest[] = "SM3";
    OSSL_PARAM params[2];
    uint8_t len_be[8];
    size_t n = 0;
    EVP_MAC_CTX *mctx = EVP_MAC_CTX_new(mac_hmac);
    int ok;

    if (mctx == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "hmac context");
    for (int i = 0; i < 8; i++)
        len_be[i] = (uint8_t)((uint64_t)ad_len >> (56 - 8 * i));
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_MAC_init(mctx, mac_key, SM4_MAC_KEY_BYTES, params) == 1;
    ok = ok && EVP_MAC_update(mctx, iv, SM4_IV_BYTES) == 1;
    ok = ok && EVP_MAC_update(mctx, len_be, sizeof(len_be)) == 1;
    ok = ok && (ad_len == 0 || EVP_MAC_update(mctx, ad, ad_len) == 1);
    ok = ok && (ct_len == 0 || EVP_MAC_update(mctx, ct, ct_len) == 1);
    ok = ok && EVP_MAC_final(mctx, tag, &n, SM4_TAG_BYTES) == 1 && n == SM4_TAG_BYTES;
    EVP_MAC_CTX_free(mctx);
    return ok ? TB_OK : cr_ossl_fail(NULL, TB_ECRYPTO, "hmac-sm3");
}

/* CTR mode: encryption and decryption are the same operation. */
static int sm4_ctr(const uint8_t enc_key[SM4_KEY_BYTES], const uint8_t iv[SM4_IV_BYTES],
                   const uint8_t *in, size_t len, uint8_t *dst)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    int fin = 0;
    int ok;

    if (ctx == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "sm4 context");
    ok = EVP_EncryptInit_ex2(ctx, cipher_sm4_ctr, enc_key, iv, NULL) == 1;
    ok = ok && (len == 0 || EVP_EncryptUpdate(ctx, dst, &n, in, (int)len) == 1);
    ok = ok && EVP_EncryptFinal_ex(ctx, dst + n, &fin) == 1;
    ok = ok && (size_t)n + (size_t)fin == len;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? TB_OK : cr_ossl_fail(NULL, TB_ECRYPTO, "sm4-ctr");
}

static int sm4_seal(const uint8_t key[32], const void *ad, size_t ad_len, const void *plain,
                    size_t plain_len, struct tb_buf *out)
{
    uint8_t enc_key[SM4_KEY_BYTES];
    uint8_t mac_key[SM4_MAC_KEY_BYTES];
    uint8_t *dst;
    int rv = tb_buf_reserve(out, SM4_IV_BYTES + plain_len + SM4_TAG_BYTES);

    if (rv != TB_OK)
        return rv;
    dst = out->data + out->len;
    rv = cr_random(dst, SM4_IV_BYTES);
    if (rv == TB_OK)
        rv = sm4_derive(key, enc_key, mac_key);
    if (rv == TB_OK)
        rv = sm4_ctr(enc_key, dst, plain, plain_len, dst + SM4_IV_BYTES);
    if (rv == TB_OK)
        rv = sm4_tag(mac_key, dst, ad, ad_len, dst + SM4_IV_BYTES, plain_len,
                     dst + SM4_IV_BYTES + plain_len);
    tb_wipe(enc_key, sizeof(enc_key));
    tb_wipe(mac_key, sizeof(mac_key));
    if (rv == TB_OK)
        out->len += SM4_IV_BYTES + plain_len + SM4_TAG_BYTES;
    return rv;
}

static int sm4_open(const uint8_t key[32], const void *ad, size_t ad_len, const uint8_t *sealed,
                    size_t sealed_len, struct tb_buf *out)
{
    size_t ct_len = sealed_len - SM4_IV_BYTES - SM4_TAG_BYTES;
    const uint8_t *ct = sealed + SM4_IV_BYTES;
    uint8_t enc_key[SM4_KEY_BYTES];
    uint8_t mac_key[SM4_MAC_KEY_BYTES];
    uint8_t tag[SM4_TAG_BYTES];
    int rv;

    TB_ASSERT(sealed_len >= SM4_IV_BYTES + SM4_TAG_BYTES);
    rv = sm4_derive(key, enc_key, mac_key);
    if (rv == TB_OK)
        rv = sm4_tag(mac_key, sealed, ad, ad_len, ct, ct_len, tag);
    if (rv == TB_OK && !tb_memeq_ct(tag, ct + ct_len, SM4_TAG_BYTES))
        rv = TB_EBADSIG; /* nothing has been decrypted */
    if (rv == TB_OK)
        rv = tb_buf_reserve(out, ct_len);
    if (rv == TB_OK)
        rv = sm4_ctr(enc_key, sealed, ct, ct_len, out->data + out->len);
    if (rv == TB_OK)
        out->len += ct_len;
    tb_wipe(enc_key, sizeof(enc_key));
    tb_wipe(mac_key, sizeof(mac_key));
    return rv;
}

/* ---- Public entry points ---- */

int cr_aead_seal(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES], const void *ad,
                 size_t ad_len, const void *plain, size_t plain_len, struct tb_buf *out)
{
    uint8_t nonce[GCM_NONCE_BYTES];
    int rv;

    TB_ASSERT(key != NULL && out != NULL);
    TB_ASSERT(ad != NULL || ad_len == 0);
    TB_ASSERT(plain != NULL || plain_len == 0);
    if (!cr_suite_valid((int)suite))
        return TB_EINVAL;
    if (ad_len > CR_AEAD_INPUT_MAX || plain_len > CR_AEAD_INPUT_MAX)
        return TB_ELIMIT;
    pthread_once(&algs_once, algs_fetch);
    if (suite == CR_SUITE_SM2_SM3)
        return sm4_seal(key, ad, ad_len, plain, plain_len, out);
    rv = cr_random(nonce, sizeof(nonce));
    if (rv != TB_OK)
        return rv;
    return gcm_seal(key, nonce, ad, ad_len, plain, plain_len, out);
}

int cr_aead_open(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES], const void *ad,
                 size_t ad_len, const void *sealed, size_t sealed_len, struct tb_buf *out)
{
    size_t overhead = suite == CR_SUITE_SM2_SM3 ? CR_AEAD_SM4_OVERHEAD : CR_AEAD_GCM_OVERHEAD;

    TB_ASSERT(key != NULL && out != NULL);
    TB_ASSERT(ad != NULL || ad_len == 0);
    TB_ASSERT(sealed != NULL || sealed_len == 0);
    if (!cr_suite_valid((int)suite))
        return TB_EINVAL;
    if (ad_len > CR_AEAD_INPUT_MAX || sealed_len > CR_AEAD_INPUT_MAX + overhead)
        return TB_ELIMIT;
    if (sealed_len < overhead)
        return TB_EBADSIG;
    pthread_once(&algs_once, algs_fetch);
    if (suite == CR_SUITE_SM2_SM3)
        return sm4_open(key, ad, ad_len, sealed, sealed_len, out);
    return gcm_open(key, ad, ad_len, sealed, sealed_len, out);
}
