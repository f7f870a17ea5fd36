/*
 * wire/: the canonical MessagePack codec of every signed or hashed structure (DESIGN 3.2-3.8),
 * and the domain-separated ids and signature inputs built from those bytes (DESIGN 3.3).
 *
 * This is the only module that includes msgpack.h. It checks structure only (types, counts,
 * lengths, character sets, enumerations, canonical form); it never checks signatures, authority
 * or anything that depends on the ledger's state, and it does no I/O.
 *
 * Encoding. Every structure is a MessagePack array with fields in DESIGN order; unsigned ints in
 * their shortest form; byte strings are bin, text is str (valid UTF-8), both in their shortest
 * form; the only map is `claims`, with str keys sorted bytewise and unique. An encoder validates
 * the struct it is given (TB_EINVAL for a bad value, TB_ELIMIT for a length or count over its
 * limit, with the field named in errmsg) and appends the bytes to `out`. On a validation error
 * out->len is restored to what it was; when `out` itself cannot grow (TB_ELIMIT past out->max,
 * TB_ENOMEM) the tb_buf contract applies and the buffer is freed.
 *
 * Decoding. Decoders are strict: they accept exactly the bytes the matching encoder produces for
 * the decoded value, and nothing else (no longer forms, no trailing bytes, no extra or missing
 * fields, no unsorted or duplicate keys, no invalid UTF-8). Every limit breach is TB_ELIMIT and
 * every other bad input TB_EMALFORMED, with a reason naming the field in errmsg, e.g.
 * "record.issue field 4 (subject): expected bin of 32 bytes".
 *
 * Lifetimes. A decoded struct holds `struct tb_bytes` views INTO THE INPUT BUFFER for every str
 * and bin of variable length (zero copy): they are valid while the input is. 32- and 16-byte
 * hashes and nonces are copied into fixed arrays. Only wire_block_decode and
 * wire_genesis_body_decode allocate (their lists); release them with the matching _release.
 * errmsg, where taken, is NULL or TB_ERRMSG_SIZE bytes.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits. Each one is checked on encode and decode; breaches are TB_ELIMIT. ---- */

#define WIRE_TX_BYTES_MAX (64u * 1024u)           /* a whole tx envelope */
#define WIRE_BLOCK_BYTES_MAX (8u * 1024u * 1024u) /* a whole block */
#define WIRE_SMALL_BYTES_MAX (16u * 1024u)        /* header, vote, proposal, status value */
#define WIRE_CERT_BYTES_MAX (16u * 1024u)         /* a commit certificate */
#define WIRE_CONSENT_BYTES_MAX (16u * 1024u)      /* a consent token */
#define WIRE_GENESIS_BYTES_MAX (256u * 1024u)     /* a genesis body */
#define WIRE_DEPTH_MAX 8u                         /* nesting of arrays and maps, any structure */

#define WIRE_TX_SIGS_MAX 16u        /* signatures per envelope */
#define WIRE_CLAIMS_MAX 64u         /* claims per record.issue */
#define WIRE_AGENCY_TYPES_MAX 32u   /* record types per agency.register */
#define WIRE_CONSENT_TYPES_MAX 32u  /* record types per consent token */
#define WIRE_BLOCK_TXS_MAX 10000u   /* txs per block */
#define WIRE_VALIDATORS_MAX 64u     /* validators, so certificate signatures too */
#define WIRE_GENESIS_TYPES_MAX 256u /* record types in a genesis body */

#define WIRE_CITY_BYTES_MAX 16u      /* city code, charset [0-9A-Za-z_-], non-empty */
#define WIRE_AGENCY_BYTES_MAX 64u    /* agency code, [0-9A-Za-z_-] like a city code */
#define WIRE_TYPE_BYTES_MAX 64u      /* record type, non-empty */
#define WIRE_CLAIM_KEY_BYTES_MAX 64u /* claim key, non-empty */
#define WIRE_CLAIM_VALUE_BYTES_MAX 1024u
#define WIRE_NAME_BYTES_MAX 256u     /* display names (agency, city, federation), non-empty */
#define WIRE_TEXT_BYTES_MAX 1024u    /* reasons and purposes, may be empty */
#define WIRE_ENDPOINT_BYTES_MAX 256u /* a node's URL */
#define WIRE_SUITE_BYTES_MAX 32u     /* suite name in the genesis body, non-empty */
#define WIRE_PUBKEY_BYTES_MAX 65u    /* 32 (Ed25519) or 65 (SM2 04||x||y); non-empty */
#define WIRE_SIG_BYTES_MAX 72u       /* 64 (Ed25519) or DER SM2 up to 72; non-empty */

#define WIRE_HASH_BYTES 32u
#define WIRE_NONCE_BYTES 16u

_Static_assert(WIRE_HASH_BYTES == CR_HASH_BYTES, "ids are suite hashes");
_Static_assert(WIRE_BLOCK_TXS_MAX <= WIRE_BLOCK_BYTES_MAX / 8, "a tx takes at least 8 bytes");
_Static_assert(WIRE_TX_BYTES_MAX <= WIRE_BLOCK_BYTES_MAX, "a block can hold a largest tx");

/* ---- Transactions (DESIGN 3.4) ---- */

enum wire_kind {
    WIRE_KIND_RECORD_ISSUE = 1,
    WIRE_KIND_RECORD_REVOKE = 2,
    WIRE_KIND_AGENCY_REGISTER = 3,
    WIRE_KIND_AGENCY_RETIRE = 4,
    WIRE_KIND_ACCESS_AUDIT = 5,
    WIRE_KIND_MEMBER_CHANGE = 6,
};
#define WIRE_KIND_MIN 1
#define WIRE_KIND_MAX 6

/* "record.issue", ...; NULL outside 1..6. */
const char *wire_kind_name(int kind);

struct wire_tx_sig
{
    uint8_t key_id[WIRE_HASH_BYTES];
    struct tb_bytes sig; /* 1..WIRE_SIG_BYTES_MAX bytes */
};

/*
 * Envelope [kind, body(bin), [[key_id(bin32), sig(bin)], ...]]. 1..WIRE_TX_SIGS_MAX signatures
 * with distinct key ids (in any order); the body is kept as the bin view, so that ids and
 * signature inputs are computed from its exact bytes (decode it with wire_tx_body_decode).
 */
struct wire_tx
{
    uint8_t kind;
    struct tb_bytes body;
    struct wire_tx_sig sigs[WIRE_TX_SIGS_MAX];
    size_t sig_count;
};

/* A claim value is a str or a uint. */
struct wire_claim
{
    struct tb_bytes key; /* non-empty, <= WIRE_CLAIM_KEY_BYTES_MAX */
    bool is_uint;
    uint64_t uint_value;       /* when is_uint */
    struct tb_bytes str_value; /* when !is_uint, <= WIRE_CLAIM_VALUE_BYTES_MAX */
};

/* 1: [type, city, agency, subject(bin32), issued_at, expires_at (0 = never), claims, doc_digest
 * (bin32), nonce(bin16)]. Claims must be given sorted by key bytewise, keys unique. */
struct wire_record_issue
{
    struct tb_bytes type, city, agency;
    uint8_t subject[WIRE_HASH_BYTES];
    uint64_t issued_at, expires_at; /* seconds */
    struct wire_claim claims[WIRE_CLAIMS_MAX];
    size_t claim_count;
    uint8_t doc_digest[WIRE_HASH_BYTES];
    uint8_t nonce[WIRE_NONCE_BYTES];
};

/* 2: [record_id(bin32), reason(str), revoked_at]. */
struct wire_record_revoke
{
    uint8_t record_id[WIRE_HASH_BYTES];
    struct tb_bytes reason;
    uint64_t revoked_at; /* seconds */
};

/* 3: [city, agency, name, public_key(bin), types([str], sorted bytewise, unique), not_after]. */
struct wire_agency_register
{
    struct tb_bytes city, agency, name, public_key;
    struct tb_bytes types[WIRE_AGENCY_TYPES_MAX];
    size_t type_count;  /* 1..WIRE_AGENCY_TYPES_MAX */
    uint64_t not_after; /* seconds */
};

/* 4: [city, agency, public_key(bin), reason]. */
struct wire_agency_retire
{
    struct tb_bytes city, agency, public_key, reason;
};

/* 5: [record_id(bin32), requester_city, requester_agency, purpose, consent_id(bin32), at]. */
struct wire_access_audit
{
    uint8_t record_id[WIRE_HASH_BYTES];
    struct tb_bytes requester_city, requester_agency, purpose;
    uint8_t consent_id[WIRE_HASH_BYTES];
    uint64_t at; /* seconds */
};

enum wire_member_action {
    WIRE_MEMBER_ADD = 1,    /* "add" */
    WIRE_MEMBER_REMOVE = 2, /* "remove" */
    WIRE_MEMBER_ROTATE = 3, /* "rotate" */
};

/* 6: [action(str), city, name, node_key(bin), endpoint(str), effective_height]. */
struct wire_member_change
{
    enum wire_member_action action;
    struct tb_bytes city, name, node_key, endpoint;
    uint64_t effective_height;
};

/* A decoded body, tagged by the envelope's kind. */
struct wire_tx_body
{
    enum wire_kind kind;
    union {
        struct wire_record_issue issue;
        struct wire_record_revoke revoke;
        struct wire_agency_register reg;
        struct wire_agency_retire retire;
        struct wire_access_audit audit;
        struct wire_member_change member;
    } u;
};

TB_MUST_CHECK int wire_tx_encode(const struct wire_tx *tx, struct tb_buf *out, char *errmsg);
/* Envelope only (kind in 1..6, body a bin of at most WIRE_TX_BYTES_MAX); not the body. */
TB_MUST_CHECK int wire_tx_decode(const uint8_t *data, size_t len, struct wire_tx *out,
                                 char *errmsg);

/* Encodes body->u member selected by body->kind (the body bytes that go into the envelope). */
TB_MUST_CHECK int wire_tx_body_encode(const struct wire_tx_body *body, struct tb_buf *out,
                                      char *errmsg);
/* Decodes a body of the given kind (TB_EMALFORMED for a kind outside 1..6). */
TB_MUST_CHECK int wire_tx_body_decode(int kind, const uint8_t *data, size_t len,
                                      struct wire_tx_body *out, char *errmsg);

/* ---- Blocks, votes, proposals, commit certificates (DESIGN 3.5) ---- */

#define WIRE_HEADER_VERSION 1u

/* [version=1, chain_id, height, time_ms, prev_block_hash, log_size, log_root, state_root,
 * validator_set_hash, proposer_index (< WIRE_VALIDATORS_MAX)]. */
struct wire_header
{
    uint64_t version; /* must be WIRE_HEADER_VERSION */
    uint8_t chain_id[WIRE_HASH_BYTES];
    uint64_t height;
    uint64_t time_ms;
    uint8_t prev_block_hash[WIRE_HASH_BYTES];
    uint64_t log_size;
    uint8_t log_root[WIRE_HASH_BYTES];
    uint8_t state_root[WIRE_HASH_BYTES];
    uint8_t validator_set_hash[WIRE_HASH_BYTES];
    uint32_t proposer_index;
};

TB_MUST_CHECK int wire_header_encode(const struct wire_header *h, struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_header_decode(const uint8_t *data, size_t len, struct wire_header *out,
                                     char *errmsg);

/*
 * Block [header, [tx envelope, ...]]: the envelopes are embedded as arrays (not bin).
 * Decoding checks every envelope strictly (wire_tx_decode) but not the bodies, whose checks
 * belong to the ledger. `header_bytes` and each `txs[i]` are views of the exact bytes in the
 * input (for the block hash and the tx ids); `txs` is allocated (tb_calloc, NULL when
 * tx_count == 0) and freed by wire_block_release.
 */
struct wire_block
{
    struct wire_header header;
    struct tb_bytes header_bytes;
    struct tb_bytes *txs;
    size_t tx_count;
};

/* txs[i] must each be a canonical envelope (checked: TB_EINVAL otherwise). */
TB_MUST_CHECK int wire_block_encode(const struct wire_header *h, const struct tb_bytes *txs,
                                    size_t tx_count, struct tb_buf *out, char *errmsg);
/* TB_ENOMEM if the tx list cannot be allocated; on any error *out needs no release. */
TB_MUST_CHECK int wire_block_decode(const uint8_t *data, size_t len, struct wire_block *out,
                                    char *errmsg);

/*
 * Spans inside the bytes of a block this node already checked in full (a stored block):
 * the header's bytes (header != NULL), the number of txs, and the envelope at index (tx !=
 * NULL; index SIZE_MAX for none). A bounded structural walk, not a canonical check: decode
 * what you take. TB_EMALFORMED (the bytes are not a block's shape), TB_ENOTFOUND (index past
 * the txs). Views point into data.
 */
TB_MUST_CHECK int wire_block_spans(const uint8_t *data, size_t len, size_t index,
                                   struct tb_bytes *header, struct tb_bytes *tx, size_t *tx_count);
void wire_block_release(struct wire_block *b); /* frees txs; idempotent */

enum wire_vote_type {
    WIRE_VOTE_PREVOTE = 1,
    WIRE_VOTE_PRECOMMIT = 2,
};

/* [type, height, round, block_hash(bin32) or nil]. */
struct wire_vote
{
    enum wire_vote_type type;
    uint64_t height;
    uint32_t round;
    bool has_block_hash; /* false: nil (a vote for no block) */
    uint8_t block_hash[WIRE_HASH_BYTES];
};

TB_MUST_CHECK int wire_vote_encode(const struct wire_vote *v, struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_vote_decode(const uint8_t *data, size_t len, struct wire_vote *out,
                                   char *errmsg);

/* [height, round, pol_round or nil, block_hash(bin32)]. */
struct wire_proposal
{
    uint64_t height;
    uint32_t round;
    bool has_pol_round; /* false: nil (no proof-of-lock round) */
    uint32_t pol_round; /* < round when present */
    uint8_t block_hash[WIRE_HASH_BYTES];
};

TB_MUST_CHECK int wire_proposal_encode(const struct wire_proposal *p, struct tb_buf *out,
                                       char *errmsg);
TB_MUST_CHECK int wire_proposal_decode(const uint8_t *data, size_t len, struct wire_proposal *out,
                                       char *errmsg);

struct wire_cert_sig
{
    uint32_t validator_index; /* < WIRE_VALIDATORS_MAX */
    struct tb_bytes sig;      /* 1..WIRE_SIG_BYTES_MAX */
};

/* [height, round, block_hash, [[validator_index, sig], ...]]: 1..WIRE_VALIDATORS_MAX signatures,
 * validator indexes strictly increasing (one encoding per set of signatures). */
struct wire_cert
{
    uint64_t height;
    uint32_t round;
    uint8_t block_hash[WIRE_HASH_BYTES];
    struct wire_cert_sig sigs[WIRE_VALIDATORS_MAX];
    size_t sig_count;
};

TB_MUST_CHECK int wire_cert_encode(const struct wire_cert *c, struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_cert_decode(const uint8_t *data, size_t len, struct wire_cert *out,
                                   char *errmsg);

/* ---- Status tree values (DESIGN 3.6) ---- */

/*
 * [state, height_a, height_b, time]: a record is [state (1 valid, 2 revoked), issued_height,
 * revoked_height (0 if none), expires_at]; an agency key is [state (1 active, 2 retired),
 * registered_height, retired_height, not_after]. One encoder serves both.
 */
struct wire_status
{
    uint8_t state;     /* 1 or 2 */
    uint64_t height_a; /* issued / registered */
    uint64_t height_b; /* revoked / retired, 0 if none */
    uint64_t time_s;   /* expires_at / not_after */
};

TB_MUST_CHECK int wire_status_encode(const struct wire_status *s, struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_status_decode(const uint8_t *data, size_t len, struct wire_status *out,
                                     char *errmsg);

/* ---- Consent token (DESIGN 3.8) ---- */

#define WIRE_CONSENT_USES_MAX 1000u /* uses_max of a consent token: 1..this (D13) */

/* [subject(bin32), grantee_city, grantee_agency, [type, ...] (1..WIRE_CONSENT_TYPES_MAX, sorted
 * bytewise, unique), purpose, not_after, nonce(bin16), uses_max (1..WIRE_CONSENT_USES_MAX)].
 * DESIGN 3.8 lists seven fields; uses_max is the eighth (docs/decisions.md D13). */
struct wire_consent
{
    uint8_t subject[WIRE_HASH_BYTES];
    struct tb_bytes grantee_city, grantee_agency;
    struct tb_bytes types[WIRE_CONSENT_TYPES_MAX];
    size_t type_count;
    struct tb_bytes purpose;
    uint64_t not_after; /* seconds */
    uint8_t nonce[WIRE_NONCE_BYTES];
    uint64_t uses_max; /* how many documents the token fetches, 1..WIRE_CONSENT_USES_MAX */
};

TB_MUST_CHECK int wire_consent_encode(const struct wire_consent *c, struct tb_buf *out,
                                      char *errmsg);
TB_MUST_CHECK int wire_consent_decode(const uint8_t *data, size_t len, struct wire_consent *out,
                                      char *errmsg);

/*
 * A signed consent token as it travels (D13): [token(bin), public_key(bin), sig(bin)], where
 * token is the canonical wire_consent bytes (1..WIRE_CONSENT_BYTES_MAX), public_key the
 * signing agency's registered key (1..WIRE_PUBKEY_BYTES_MAX) and sig its signature over
 * wire_consent_sign_input (1..WIRE_SIG_BYTES_MAX). Structure only: the token bytes are
 * decoded, and the key and signature checked, by whoever uses it.
 */
struct wire_consent_signed
{
    struct tb_bytes token, public_key, sig;
};

TB_MUST_CHECK int wire_consent_signed_encode(const struct wire_consent_signed *c,
                                             struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_consent_signed_decode(const uint8_t *data, size_t len,
                                             struct wire_consent_signed *out, char *errmsg);

/* ---- Genesis body (DESIGN 3.3) ---- */

struct wire_genesis_member
{
    struct tb_bytes city, name, node_key, endpoint;
};

struct wire_record_type
{
    struct tb_bytes type, sharing; /* sharing: "open", "consent" or "closed" */
};

/* [suite, federation, created_at, [[city, name, node_key(bin), endpoint], ...] sorted by city,
 * unique, 1..WIRE_VALIDATORS_MAX; [[type, sharing], ...] sorted by type, unique, 0..
 * WIRE_GENESIS_TYPES_MAX]. */
struct wire_genesis
{
    struct tb_bytes suite, federation;
    uint64_t created_at;
    const struct wire_genesis_member *members;
    size_t member_count;
    const struct wire_record_type *types;
    size_t type_count;
};

/*
 * TB_EINVAL if members are not sorted by city (bytewise) or cities repeat, types are not sorted
 * or repeat, a string is not valid UTF-8, a city code has a character outside [0-9A-Za-z_-] or a
 * sharing class is unknown; TB_ELIMIT for a length or count over its limit.
 */
TB_MUST_CHECK int wire_genesis_body_encode(const struct wire_genesis *g, struct tb_buf *out,
                                           char *errmsg);
/* Allocates the member and type lists (tb_calloc); release with wire_genesis_release. On any
 * error *out needs no release. */
TB_MUST_CHECK int wire_genesis_body_decode(const uint8_t *data, size_t len,
                                           struct wire_genesis *out, char *errmsg);
void wire_genesis_release(struct wire_genesis *g); /* idempotent */

/* ---- Ids and signature inputs (DESIGN 3.3). Tags include their zero byte. ---- */

/* chain_id = H("tongban/genesis/v1\0" || genesis body bytes). */
void wire_chain_id(enum cr_suite suite, const uint8_t *body, size_t len,
                   uint8_t out[WIRE_HASH_BYTES]);

/* tx id = H("tongban/tx/v1\0" || chain_id || kind (1 byte) || body). */
void wire_tx_id(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES], uint8_t kind,
                const uint8_t *body, size_t body_len, uint8_t out[WIRE_HASH_BYTES]);

/* Appends "tongban/sig/v1\0" || chain_id || kind || body to out (tb_buf errors). */
TB_MUST_CHECK int wire_tx_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], uint8_t kind,
                                     const uint8_t *body, size_t body_len, struct tb_buf *out);

/* block hash = H("tongban/block/v1\0" || header bytes). */
void wire_block_hash(enum cr_suite suite, const uint8_t *header, size_t header_len,
                     uint8_t out[WIRE_HASH_BYTES]);

/* Appends "tongban/vote/v1\0" || chain_id || vote bytes. */
TB_MUST_CHECK int wire_vote_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], const uint8_t *vote,
                                       size_t vote_len, struct tb_buf *out);

/* Appends "tongban/proposal/v1\0" || chain_id || proposal bytes. */
TB_MUST_CHECK int wire_proposal_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES],
                                           const uint8_t *proposal, size_t proposal_len,
                                           struct tb_buf *out);

/*
 * Consent tokens. DESIGN 3.8 gives only the kind tag "tongban/consent/v1\0" and "id = its hash";
 * we bind the chain id as every other signature input does, so that a token cannot be replayed
 * on another federation:
 *   signature input = "tongban/consent/v1\0" || chain_id || token bytes
 *   consent id      = H("tongban/consent/v1\0" || chain_id || token bytes)
 * (the id is the hash of the signature input, not of the signature).
 */
TB_MUST_CHECK int wire_consent_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES],
                                          const uint8_t *token, size_t token_len,
                                          struct tb_buf *out);
void wire_consent_id(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                     const uint8_t *token, size_t token_len, uint8_t out[WIRE_HASH_BYTES]);

/* Status-tree key of an agency key (DESIGN 3.6): H("tongban/agency-key/v1\0" || public key). */
void wire_agency_key_id(enum cr_suite suite, const uint8_t *public_key, size_t key_len,
                        uint8_t out[WIRE_HASH_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
