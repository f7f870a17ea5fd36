/*
 * node/docstore: documents at home (issue 6 item 1, DESIGN 3.1 and 5, docs/consent.md) and
 * the holding node's bookkeeping of who used a consent token and who was refused.
 *
 * A document is kept only by the node of the city that issued its record, sealed with the
 * suite's AEAD (cr_aead.h: AES-256-GCM for ed25519-sha256, SM4-CTR + HMAC-SM3 for sm2-sm3,
 * D2) under the node's 32-byte document key ([node] document_key_file, outside the data
 * directory). The associated data binds the record id, so a sealed document moved to another
 * record's key fails to open. Stored value in the `documents` database:
 *     version(1) = 1 || cr_aead_seal output (nonce || ciphertext || tag)
 *
 * Consent bookkeeping, in the `meta` database under the "consent/" prefix (D13):
 *     "consent/u" || consent_id(32) || audit tx id(32) -> empty: a committed access.audit
 *                  naming that consent (one entry per audit; counting them is the use count)
 *     "consent/h" -> u64 big-endian: the last height whose audits are indexed
 *     "consent/r" || subject(32) || time_ms u64 || seq u32 -> JSON text: a refused attempt
 *                  (record id, requester, purpose, consent id, reason code and message)
 *     "consent/w" || consent_id(32) -> u64 big-endian withdrawal time (unix s) || "CITY/AGENCY":
 *                  the consent was withdrawn (D24); written once, never changed
 * All of them are local to this node (never on the ledger, never gossiped).
 *
 * Must never: store a document unsealed, log or echo document bytes, keep the document key
 * in memory longer than one call (it is read from its file and wiped each time), or put a
 * personal ID number anywhere (subjects are the keyed HMACs of DESIGN 3.3).
 */
#ifndef NODE_DOCSTORE_H
#define NODE_DOCSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_aead.h"
#include "cr_hash.h"
#include "ledger.h"
#include "store.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOCSTORE_VERSION 1u
#define DOCSTORE_DOCUMENT_BYTES_MAX (4u * 1024u * 1024u) /* a document, plaintext */
#define DOCSTORE_SEALED_BYTES_MAX (1u + DOCSTORE_DOCUMENT_BYTES_MAX + CR_AEAD_OVERHEAD_MAX)
#define DOCSTORE_KEY_FILE_BYTES_MAX 80u

/* Key prefixes in meta (see the file comment). */
#define DOCSTORE_USE_PREFIX "consent/u"
#define DOCSTORE_HEIGHT_KEY "consent/h"
#define DOCSTORE_REFUSED_PREFIX "consent/r"
#define DOCSTORE_WITHDRAWN_PREFIX "consent/w"
#define DOCSTORE_PREFIX_BYTES 9u /* strlen of each prefix above */

/*
 * Reads the document key: exactly 32 raw bytes (what `tongban init` writes), or 64 hex digits
 * and an optional newline. TB_EIO (unreadable), TB_ECONFIG (another size or content), with
 * errmsg naming the path. The caller wipes key after use.
 */
TB_MUST_CHECK int docstore_key_load(const char *path, uint8_t key[CR_AEAD_KEY_BYTES], char *errmsg);

/*
 * Seals doc for record_id (appends version || sealed bytes to out). TB_ELIMIT (doc over
 * DOCSTORE_DOCUMENT_BYTES_MAX, or out's max), TB_EINVAL (suite), TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int docstore_seal(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                                const uint8_t record_id[CR_HASH_BYTES], const uint8_t *doc,
                                size_t len, struct tb_buf *out, char *errmsg);

/*
 * Opens what docstore_seal produced for record_id (appends the document to out).
 * TB_EBADSIG when the bytes were changed, belong to another record or another key, or carry
 * an unknown version (nothing appended); TB_ELIMIT, TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int docstore_open(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                                const uint8_t record_id[CR_HASH_BYTES], const uint8_t *sealed,
                                size_t sealed_len, struct tb_buf *out, char *errmsg);

/*
 * Seals doc under the key in key_path and stores it for record_id in its own synced write
 * transaction (overwrites: the same record's document again is the same document, its
 * digest being on the ledger). Errors of docstore_key_load, docstore_seal and the store.
 */
TB_MUST_CHECK int docstore_put(struct store *s, enum cr_suite suite, const char *key_path,
                               const uint8_t record_id[CR_HASH_BYTES], const uint8_t *doc,
                               size_t len, char *errmsg);

/*
 * Reads and opens record_id's document into out (replacing its contents; out->max >=
 * DOCSTORE_DOCUMENT_BYTES_MAX advised). TB_ENOTFOUND (this node holds none), TB_EBADSIG (the
 * stored bytes do not open: tampered, or another key), and the errors above.
 */
TB_MUST_CHECK int docstore_get(struct store *s, enum cr_suite suite, const char *key_path,
                               const uint8_t record_id[CR_HASH_BYTES], struct tb_buf *out,
                               char *errmsg);

/* ---- consent bookkeeping ---- */

/*
 * Number of committed audits indexed for consent_id, counting at most limit (a bounded scan).
 * TB_EIO.
 */
TB_MUST_CHECK int docstore_uses_count(struct store_txn *txn,
                                      const uint8_t consent_id[CR_HASH_BYTES], uint32_t limit,
                                      uint32_t *count, char *errmsg);

/* Writes the use entry of one committed audit (write transaction). Store errors. */
TB_MUST_CHECK int docstore_use_put(struct store_txn *txn, const uint8_t consent_id[CR_HASH_BYTES],
                                   const uint8_t audit_id[CR_HASH_BYTES], char *errmsg);

/* The last indexed height (0 when none) / sets it. Store errors. */
TB_MUST_CHECK int docstore_indexed_height(struct store_txn *txn, uint64_t *height, char *errmsg);
TB_MUST_CHECK int docstore_indexed_height_put(struct store_txn *txn, uint64_t height, char *errmsg);

/* A signed consent token, opened and checked by docstore_consent_open. */
struct docstore_consent
{
    struct wire_consent_signed sc; /* views into the caller's bytes */
    struct wire_consent token;     /* views into the caller's bytes */
    uint8_t id[CR_HASH_BYTES];     /* the consent id (wire_consent_id) */
    struct ledger_agency signer;   /* the signing agency, from the ledger */
};

/*
 * Decodes a signed token (wire_consent_signed, then wire_consent), computes its id, finds the
 * signing key among the agencies registered on the ledger (txn), checks that it is active and
 * unexpired at time_s (the latest block's time), and verifies the signature over
 * wire_consent_sign_input. Does not judge subject, types, grantee, expiry or uses: the caller
 * does, knowing the record. TB_OK; TB_EMALFORMED (does not decode), TB_EAUTH (unknown,
 * retired or expired agency key), TB_EBADSIG (signature), TB_EIO / TB_ENOMEM, with errmsg.
 */
TB_MUST_CHECK int docstore_consent_open(struct ledger *l, struct store_txn *txn,
                                        const uint8_t *bytes, size_t len, uint64_t time_s,
                                        struct docstore_consent *out, char *errmsg);

/* A refused attempt, kept by the holding node for the subject's access log. */
struct docstore_refusal
{
    uint8_t subject[CR_HASH_BYTES];
    uint8_t record_id[CR_HASH_BYTES];
    uint8_t consent_id[CR_HASH_BYTES]; /* zero when the token did not decode */
    char requester_city[17];
    char requester_agency[65];
    char purpose[256]; /* cut to fit */
    const char *code;  /* machine reason, e.g. "consent_expired" */
    char message[256];
    uint64_t time_ms; /* the holding node's clock when refused */
};

#define DOCSTORE_REFUSALS_PER_SUBJECT 256u /* kept per subject; the oldest goes first */

/* Stores r in its own synced write transaction, dropping the subject's oldest refusal when it
 * has DOCSTORE_REFUSALS_PER_SUBJECT already. Store errors, TB_ENOMEM. */
TB_MUST_CHECK int docstore_refusal_put(struct store *s, const struct docstore_refusal *r,
                                       char *errmsg);

/* ---- withdrawn consents (D24) ---- */

/* A withdrawal: when, and by which agency of the holding node's city. */
struct docstore_withdrawal
{
    uint64_t at_s; /* the holding node's clock (unix seconds) */
    char city[17];
    char agency[65];
};

/*
 * Reads consent_id's withdrawal into out. TB_OK (withdrawn), TB_ENOTFOUND (not withdrawn),
 * TB_EIO (a stored entry of a corrupt form), store errors.
 */
TB_MUST_CHECK int docstore_withdrawal_get(struct store_txn *txn,
                                          const uint8_t consent_id[CR_HASH_BYTES],
                                          struct docstore_withdrawal *out, char *errmsg);

/*
 * Records the withdrawal w of consent_id in its own synced write transaction, unless one is
 * stored already: then nothing is written. Either way first gets the stored (first)
 * withdrawal, and *was_new says which. TB_EINVAL (city or agency empty, too long, or holding
 * '/'), store errors.
 */
TB_MUST_CHECK int docstore_withdrawal_put(struct store *s, const uint8_t consent_id[CR_HASH_BYTES],
                                          const struct docstore_withdrawal *w,
                                          struct docstore_withdrawal *first, bool *was_new,
                                          char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
