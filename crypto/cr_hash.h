/*
 * The suites' hash functions (SHA-256 for ed25519-sha256, SM3 for sm2-sm3), HMAC,
 * and the domain-separated hashes of DESIGN 3.3. Everything goes through OpenSSL
 * EVP; the EVP_MD of each suite is fetched once and reused.
 *
 * Hashing cannot fail except when OpenSSL cannot allocate, which is treated as a
 * fatal programmer-visible condition (TB_ASSERT), so these functions return void.
 */
#ifndef CR_HASH_H
#define CR_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cr_suite {
    CR_SUITE_ED25519_SHA256 = 1,
    CR_SUITE_SM2_SM3 = 2,
};

#define CR_HASH_BYTES 32

/* "ed25519-sha256" / "sm2-sm3"; NULL for an unknown value. */
const char *cr_suite_name(enum cr_suite suite);

/* Parses a suite name; TB_EINVAL if unknown. */
TB_MUST_CHECK int cr_suite_parse(const char *name, enum cr_suite *out);

/* True for the two defined suites. */
int cr_suite_valid(int suite);

/*
 * A reusable incremental hasher. Not thread-safe; one per thread.
 * init allocates (TB_ENOMEM), release frees; begin/update/final may repeat.
 */
struct cr_hasher
{
    enum cr_suite suite;
    void *md_ctx; /* EVP_MD_CTX, private */
};

TB_MUST_CHECK int cr_hasher_init(struct cr_hasher *h, enum cr_suite suite);
void cr_hasher_release(struct cr_hasher *h);
void cr_hasher_begin(struct cr_hasher *h);
void cr_hasher_update(struct cr_hasher *h, const void *data, size_t len);
void cr_hasher_final(struct cr_hasher *h, uint8_t out[CR_HASH_BYTES]);

/* One-shot H(data). */
void cr_hash(enum cr_suite suite, const void *data, size_t len, uint8_t out[CR_HASH_BYTES]);

/*
 * H(tag ‖ 0x00 ‖ parts[0] ‖ parts[1] ‖ ...). `tag` is the ASCII text without the
 * zero byte (e.g. "tongban/tx/v1"); the zero byte is added here, so that every
 * tagged hash in the project is built the same way.
 */
void cr_hash_tagged(enum cr_suite suite, const char *tag, const struct tb_bytes *parts,
                    size_t part_count, uint8_t out[CR_HASH_BYTES]);

/* HMAC-H(key, data). */
void cr_hmac(enum cr_suite suite, const uint8_t *key, size_t key_len, const void *data, size_t len,
             uint8_t out[CR_HASH_BYTES]);

/*
 * The keyed subject of a citizen (DESIGN 3.3): HMAC-H(subject_key, normalised ID).
 * Normalisation removes spaces and hyphens and upper-cases a final 'x'. The result
 * must be 18 characters (17 digits and a check character that satisfies GB 11643's
 * ISO 7064 MOD 11-2 checksum) or 15 digits (the older card format), which is keyed in its
 * 18-character form (century 19 inserted, check character computed: D23), so a citizen
 * has one subject whichever of the two numbers an agency holds.
 * TB_EINVAL for anything else, with a reason in errmsg (which never contains the ID).
 * The normalised number lives only on this function's stack and is wiped.
 */
TB_MUST_CHECK int cr_subject(enum cr_suite suite, const uint8_t subject_key[32],
                             const char *id_number, uint8_t out[CR_HASH_BYTES], char *errmsg);

/* Fills out with len bytes from OpenSSL's CSPRNG; TB_ECRYPTO if it fails. */
TB_MUST_CHECK int cr_random(void *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
