/*
 * Authenticated encryption of documents at rest under a node-local 32-byte key
 * (DESIGN 3.1). ed25519-sha256 uses AES-256-GCM; sm2-sm3 uses SM4-CTR then HMAC-SM3
 * (encrypt-then-MAC) with keys derived by HKDF-SM3, because Debian's OpenSSL 3.0 has
 * no SM4-GCM. The exact byte layouts are documented at the top of aead.c.
 *
 * Both functions append to out. On TB_ELIMIT or TB_ENOMEM out has been released (the
 * tb_buf rule); on any other error out is left exactly as it was.
 */
#ifndef CR_AEAD_H
#define CR_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_AEAD_KEY_BYTES 32
/* Bytes that sealing adds to the plaintext: nonce/IV plus tag. */
#define CR_AEAD_GCM_OVERHEAD (12 + 16)
#define CR_AEAD_SM4_OVERHEAD (16 + 32)
#define CR_AEAD_OVERHEAD_MAX CR_AEAD_SM4_OVERHEAD
/* Largest plaintext or associated data accepted (OpenSSL takes int lengths). */
#define CR_AEAD_INPUT_MAX ((size_t)1 << 30)

/*
 * Appends nonce || ciphertext || tag. A fresh random nonce/IV per call.
 * TB_EINVAL (unknown suite), TB_ELIMIT (input over CR_AEAD_INPUT_MAX or out's max),
 * TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int cr_aead_seal(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                               const void *ad, size_t ad_len, const void *plain, size_t plain_len,
                               struct tb_buf *out);

/*
 * Appends the plaintext of sealed. TB_EBADSIG if the tag/MAC fails or sealed is too
 * short to hold nonce and tag (nothing is appended then), TB_EINVAL, TB_ELIMIT,
 * TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int cr_aead_open(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                               const void *ad, size_t ad_len, const void *sealed, size_t sealed_len,
                               struct tb_buf *out);

#ifdef __cplusplus
}
#endif
#endif
