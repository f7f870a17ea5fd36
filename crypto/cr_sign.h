/*
 * Signature keys of the two suites (DESIGN 3.1): Ed25519 (RFC 8032, pure) and SM2
 * with SM3 and the pinned distinguishing ID "1234567812345678".
 *
 * A struct cr_key wraps an OpenSSL EVP_PKEY plus cached contexts so that repeated
 * sign/verify with one key costs what `openssl speed` costs. Keys come from
 * generation, from DESIGN 3.1 public bytes, or from PKCS#8 PEM files.
 *
 * Verification is strict on encodings, because two implementations that disagree on
 * what verifies would fork the ledger: Ed25519 refuses S >= L, non-canonical y and
 * small-order points (libsodium's open.c); SM2 refuses non-minimal DER and r, s
 * outside [1, n-1]. A signature that fails is TB_EBADSIG and is never logged.
 *
 * Thread safety: a key object is not thread-safe (cached contexts); use one key
 * object per thread. Private material is wiped when the key is freed.
 */
#ifndef CR_SIGN_H
#define CR_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_ED25519_PUBKEY_BYTES 32
#define CR_SM2_PUBKEY_BYTES 65 /* 04 || x || y */
#define CR_PUBKEY_MAX 65
#define CR_ED25519_SIG_BYTES 64
#define CR_ED25519_SEED_BYTES 32
#define CR_SIG_MAX 72 /* SM2 DER (r,s) at most 72 bytes */
#define CR_SM2_ID "1234567812345678"

struct cr_key; /* opaque: EVP_PKEY plus cached contexts for fast repeated sign/verify */

/* A fresh key pair from OpenSSL's CSPRNG. TB_ENOMEM, TB_ECRYPTO. */
TB_MUST_CHECK int cr_key_generate(enum cr_suite suite, struct cr_key **out);

/*
 * Public-only key from its DESIGN 3.1 bytes. TB_EINVAL for a wrong length, a point not
 * on the curve, a non-canonical or small-order Ed25519 encoding, or the SM2 point at
 * infinity. TB_ENOMEM.
 */
TB_MUST_CHECK int cr_key_from_public(enum cr_suite suite, const uint8_t *pub, size_t pub_len,
                                     struct cr_key **out);

/*
 * An Ed25519 key from its raw 32-byte RFC 8032 secret (the "seed"). Meant for known-answer
 * tests and deterministic demo keys; production keys come from cr_key_generate or PEM.
 * TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int cr_key_from_ed25519_seed(const uint8_t seed[CR_ED25519_SEED_BYTES],
                                           struct cr_key **out);

/*
 * PKCS#8 PEM, optionally encrypted with a passphrase (AES-256-CBC + PBKDF2/scrypt as
 * OpenSSL's PEM_write_bio_PKCS8PrivateKey does). The suite is detected from the key type.
 * A "PUBLIC KEY" (SubjectPublicKeyInfo) PEM gives a public-only key, checked like
 * cr_key_from_public. Errors: TB_EPASS (encrypted and the passphrase is missing or wrong),
 * TB_EMALFORMED (not a PEM key), TB_EINVAL (a key type that is not one of the suites, or a
 * public key that fails the checks), TB_EIO (load: cannot read the file), TB_ENOMEM.
 * errmsg (TB_ERRMSG_SIZE bytes, may be NULL) gets a reason; it never holds the passphrase.
 */
TB_MUST_CHECK int cr_key_load_pem(const char *path, const char *passphrase, struct cr_key **out,
                                  char *errmsg);
TB_MUST_CHECK int cr_key_from_pem(const uint8_t *pem, size_t len, const char *passphrase,
                                  struct cr_key **out, char *errmsg);

/*
 * Writes the private key as PKCS#8 PEM (encrypted with AES-256-CBC and PBKDF2 when
 * passphrase is non-NULL and non-empty) atomically: a temp file in the same directory,
 * fsync, rename, fsync of the directory, mode 0600. TB_EINVAL for a public-only key,
 * TB_EIO, TB_ECRYPTO, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_key_save_pem(const struct cr_key *key, const char *path,
                                  const char *passphrase, char *errmsg);

/* The public key as "PUBLIC KEY" (SubjectPublicKeyInfo) PEM appended to out. */
TB_MUST_CHECK int cr_key_public_pem(const struct cr_key *key, struct tb_buf *out);

enum cr_suite cr_key_suite(const struct cr_key *key);
size_t cr_key_public(const struct cr_key *key, uint8_t out[CR_PUBKEY_MAX]); /* returns length */
void cr_key_id(const struct cr_key *key, uint8_t out[CR_HASH_BYTES]);       /* H(public bytes) */
int cr_key_has_private(const struct cr_key *key);
void cr_key_free(struct cr_key *key); /* NULL ok; wipes private material */

/*
 * Signs msg. Ed25519 signatures are 64 bytes; SM2 signatures are DER (r,s), at most
 * CR_SIG_MAX bytes. Not thread-safe per key. TB_EINVAL for a public-only key,
 * TB_ECRYPTO, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_sign(struct cr_key *key, const void *msg, size_t len, uint8_t sig[CR_SIG_MAX],
                          size_t *sig_len);

/*
 * TB_OK or TB_EBADSIG (never logs); TB_ENOMEM only if OpenSSL cannot allocate the
 * key's cached context. Not thread-safe per key.
 */
TB_MUST_CHECK int cr_verify(struct cr_key *key, const void *msg, size_t len, const uint8_t *sig,
                            size_t sig_len);

/*
 * One-shot: builds a public key from its bytes and verifies. TB_OK, TB_EBADSIG (bad
 * signature or bad public key bytes), TB_ENOMEM. Slower than cr_verify on a kept key.
 */
TB_MUST_CHECK int cr_verify_public(enum cr_suite suite, const uint8_t *pub, size_t pub_len,
                                   const void *msg, size_t len, const uint8_t *sig, size_t sig_len);

#ifdef __cplusplus
}
#endif
#endif
