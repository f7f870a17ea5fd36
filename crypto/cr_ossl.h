/*
 * Internal to crypto/: the layout of struct cr_key and the helpers that the files of
 * this module share. Never include this outside crypto/ (or crypto's own tests): it
 * pulls in OpenSSL, which no other module may see.
 */
#ifndef CR_OSSL_H
#define CR_OSSL_H

#include <openssl/evp.h>

#include "cr_hash.h"
#include "cr_sign.h"

struct cr_key
{
    enum cr_suite suite;
    int has_private;
    EVP_PKEY *pkey;
    /*
     * Ed25519: initialised once and reused (one-shot EVP_DigestSign/Verify leave the
     * context reusable). SM2: re-initialised on every call, because the Z digest over
     * the distinguishing ID is part of each message's hash.
     */
    EVP_MD_CTX *sign_ctx;
    EVP_MD_CTX *verify_ctx;
    size_t pub_len;
    uint8_t pub[CR_PUBKEY_MAX];
};

/* The EVP_MD of a suite's hash (hash.c). */
const EVP_MD *cr_suite_md(enum cr_suite suite);

/*
 * Takes ownership of pkey (freed on failure too) and builds a key object, reading the
 * public bytes. TB_EINVAL if pkey is not of suite's type, TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int cr_key_wrap(enum cr_suite suite, EVP_PKEY *pkey, int has_private,
                              struct cr_key **out);

/*
 * Drains OpenSSL's error queue into errmsg as "what: <first error>" and returns code.
 * errmsg may be NULL (the queue is still drained).
 */
int cr_ossl_fail(char *errmsg, int code, const char *what);

/*
 * 1 when a signature's encoding passes this module's own strictness rules (Ed25519:
 * 64 bytes, S < L, canonical non-small-order R; SM2: minimal DER, r and s in
 * [1, n-1]), checked before OpenSSL sees it. Exposed so tests can check the rules
 * apart from OpenSSL's own checks, which today catch most of the same cases.
 */
int cr_sig_encoding_ok(enum cr_suite suite, const uint8_t *sig, size_t sig_len);

/*
 * Test-only entry into AES-256-GCM with an explicit nonce (aead.c), so that a published
 * vector can be checked; production sealing always draws a random nonce.
 */
TB_MUST_CHECK int cr_aead_gcm_seal_nonce(const uint8_t key[32], const uint8_t nonce[12],
                                         const void *ad, size_t ad_len, const void *plain,
                                         size_t plain_len, struct tb_buf *out);

#endif
