/*
 * node/proof: proof bundles (DESIGN 3.5-3.7, issue 5): what a node answers for "is record X
 * good?" and what a citizen's file carries, and the offline check of one.
 *
 * A bundle holds, for one record and one committed header (the latest, or a height asked for):
 *   - the record's issue envelope and its id (the id is recomputed from the envelope);
 *   - the header as its canonical bytes (the verifier decodes and re-hashes them; the
 *     "header_view" in the JSON is for humans and must agree with the bytes), the commit
 *     certificate (DESIGN 3.5 bytes) and the validator set (city, node key) in set order;
 *   - the record's RFC 9162 inclusion path in the log at that header (tree_size ==
 *     the header's log_size), absent when the record is not in the log at that height;
 *   - the status-tree proof of the record id against the header's state_root, with the
 *     status value [state, issued_height, revoked_height, expires_at] (absent value: an
 *     absence proof);
 *   - for the signer: the agency.register envelope (signed by the city's node key), its
 *     inclusion path at the same header, and the status-tree proof of the agency key
 *     H("tongban/agency-key/v1\0" || public key) with [state, registered_height,
 *     retired_height, not_after].
 * docs/proofs.md gives the JSON shape, a real bundle and a walk-through by hand.
 *
 * Three parts:
 *   proof.c         proof_build: a bundle from the store and ledger (read transaction only).
 *   proof_json.c    bundle <-> JSON; the decoder is strict (unknown or missing keys, wrong
 *                   types, non-canonical hex/base64, over-long values: TB_EMALFORMED/TB_ELIMIT).
 *   proof_verify.c  proof_verify*: the offline check, pure (no network, no clock, no files:
 *                   `now` is a parameter), against a genesis the caller trusts.
 *
 * Order of the checks in proof_verify (the first failing one decides the verdict):
 *   1. malformed      JSON or any binary field does not decode strictly; version != 1;
 *                     unknown suite; record_id is not the tx id of the envelope; the envelope
 *                     is not a record.issue or the agency tx not an agency.register; the
 *                     header's chain id differs from the bundle's; a tree_size differs from the
 *                     header's log_size; the header view disagrees with the header bytes;
 *                     a bundle whose record inclusion and status value disagree in presence.
 *   2. bad_signature  the bundle's chain id or suite is not the genesis' (ANOTHER FEDERATION's
 *                     bundle lands here); the validator set is not the genesis set or does not
 *                     hash to the header's validator_set_hash; the certificate is for another
 *                     height or block, has precommits from two thirds or fewer of the set, or
 *                     a precommit signature does not verify.
 *   3. not_on_ledger  the record's status proof shows it absent at the header (or does not
 *                     verify against state_root), or its inclusion path does not verify
 *                     against the header's log_root.
 *   4. unknown_issuer the agency.register is not for the record's city, agency and type, its
 *                     key is not the one that signed the record, it is not signed by the
 *                     genesis member of that city, it is not in the log at the header, or the
 *                     agency key's status proof is absent, does not verify, or shows the key
 *                     registered after the record or retired before it.
 *   5. bad_signature  the record's signature by the registered agency key does not verify.
 *   6. revoked        the record's status is revoked (state 2) at the header.
 *   7. expired        expires_at != 0 and expires_at <= the header's time (seconds).
 *   8. stale          only with a max age: header time_ms < now_ms - max_age_s * 1000.
 *   9. valid.
 * The validator set is the genesis members ordered by key id H(node key) (DESIGN 4, as
 * node/ledger.c builds it); member.change is not applied by the ledger yet, so the genesis set
 * is the set at every height. NEEDSWORK: follow member changes once the ledger applies them.
 *
 * Ownership. struct proof_bundle owns its byte buffers (tb_buf, released by
 * proof_bundle_release); it is large (about 30 KiB: two status proofs of up to 256 siblings
 * and two log paths of up to 64), so allocate it (proof_bundle_new) rather than put it on a
 * small stack. A struct proof_result is plain data.
 *
 * Must never: trust any byte of a bundle before the check that covers it, read a clock or the
 * network in proof_verify*, assert on bundle contents, or write to the store.
 *
 * CHANGES (append a dated line for every change after the first version):
 *   2026-11-27 first version.
 *   2026-11-27 proof_bundle_from_json refuses uppercase hex (one spelling per value; found by
 *              the JSON bit-flip test); proof_build reads only the header and the one tx it
 *              needs from a stored block (16x faster at 1,000 txs per block); no API change.
 *   2026-11-27 added struct proof_verifier (proof_verifier_new/free/check/check_json): the
 *              same checks with the genesis work and the node keys kept between calls.
 */
#ifndef NODE_PROOF_H
#define NODE_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "cr_log.h"
#include "cr_smt.h"
#include "genesis.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROOF_VERSION 1u
#define PROOF_JSON_MAX (512u * 1024u) /* bytes of one bundle as JSON (largest is ~200 KiB) */
#define PROOF_HEADER_BYTES_MAX 512u   /* a canonical header is at most ~210 bytes */
#define PROOF_STATUS_VALUE_MAX 64u    /* a canonical status value is at most 29 bytes */
#define PROOF_REASONS_MAX 8u          /* reasons kept in a result */
#define PROOF_REASON_BYTES TB_ERRMSG_SIZE

/* ------------------------------------------------------------------- bundle */

/* An RFC 9162 inclusion path. present == false: the tx is not in the log at the header. */
struct proof_inclusion
{
    bool present;
    uint64_t leaf_index;
    uint64_t tree_size; /* must equal the header's log_size */
    struct cr_log_path path;
};

/*
 * A status-tree proof. has_value: `value` holds the canonical wire_status bytes the key maps
 * to (membership); otherwise the proof shows the key absent.
 */
struct proof_status
{
    struct cr_smt_proof proof;
    bool has_value;
    uint8_t value[PROOF_STATUS_VALUE_MAX];
    size_t value_len;
};

/* One member of the validator set, in set order (index = certificate validator_index). */
struct proof_validator
{
    char city[CFG_CITY_MAX + 1];
    uint8_t node_key[CFG_NODE_KEY_MAX];
    size_t node_key_len;
};

/*
 * The human view of the header in the JSON. The builder fills it from the header; the
 * verifier only checks that it agrees with the header bytes (malformed otherwise).
 */
struct proof_header_view
{
    uint64_t height;
    uint64_t time_ms;
    uint64_t log_size;
    uint8_t log_root[WIRE_HASH_BYTES];
    uint8_t state_root[WIRE_HASH_BYTES];
    uint8_t block_hash[WIRE_HASH_BYTES];
};

struct proof_bundle
{
    uint32_t version; /* PROOF_VERSION */
    enum cr_suite suite;
    uint8_t chain_id[WIRE_HASH_BYTES];
    uint8_t record_id[WIRE_HASH_BYTES];
    struct tb_buf record; /* the record.issue envelope (max WIRE_TX_BYTES_MAX) */
    struct tb_buf header; /* canonical header bytes (max PROOF_HEADER_BYTES_MAX) */
    struct proof_header_view header_view;
    struct tb_buf certificate; /* commit certificate bytes (max WIRE_CERT_BYTES_MAX) */
    struct proof_validator validators[WIRE_VALIDATORS_MAX];
    size_t validator_count;
    struct proof_inclusion record_inclusion;
    struct proof_status record_status;
    struct tb_buf agency_register; /* the agency.register envelope (max WIRE_TX_BYTES_MAX) */
    struct proof_inclusion agency_inclusion;
    struct proof_status agency_status;
};

/* Zeroes b and sets the buffers' maxima; allocates nothing. */
void proof_bundle_init(struct proof_bundle *b);
/* Frees the buffers and zeroes b (safe twice, and on an init'ed bundle). */
void proof_bundle_release(struct proof_bundle *b);
/* A heap bundle, init'ed (NULL when out of memory); free with proof_bundle_free (NULL ok). */
struct proof_bundle *proof_bundle_new(void);
void proof_bundle_free(struct proof_bundle *b);

/* ------------------------------------------------------------------- build */

struct ledger;
struct store_txn;

/*
 * Builds the bundle of record_id at the committed header of `height` (0: the latest) from
 * the ledger's store, through the caller's read (or write) transaction txn, into out
 * (init'ed; its previous contents are replaced). The header, certificate, log paths and
 * status proofs are all taken at that height (the status tree keeps every old root).
 * A record committed after `height` gives a bundle without inclusion path and with an
 * absence proof (its verdict is not_on_ledger). errmsg: TB_ERRMSG_SIZE bytes.
 * TB_ENOTFOUND  unknown record id, or no committed block at `height` (height > tip), or
 *               the store has no certificate for that height;
 * TB_ESTATE     the record is pending (acknowledged, not committed yet);
 * TB_EIO        the store is inconsistent (a block that does not decode, a missing tree
 *               node, an agency key without its registration, a txloc past the block);
 * TB_ENOMEM.
 */
TB_MUST_CHECK int proof_build(struct ledger *l, struct store_txn *txn,
                              const uint8_t record_id[WIRE_HASH_BYTES], uint64_t height,
                              struct proof_bundle *out, char *errmsg);

/* ------------------------------------------------------------------- JSON */

enum proof_json_flags {
    PROOF_JSON_PRETTY = 1u << 0, /* 2-space indentation and a final newline (for files) */
};

/*
 * Appends the bundle as JSON (docs/proofs.md: keys in a fixed order; hashes and keys in
 * lowercase hex, byte strings in standard padded base64) to out. flags: enum
 * proof_json_flags. TB_EINVAL for a bundle that cannot be represented (a value over its
 * limit), TB_ELIMIT / TB_ENOMEM from out.
 */
TB_MUST_CHECK int proof_bundle_to_json(const struct proof_bundle *b, uint32_t flags,
                                       struct tb_buf *out, char *errmsg);

/*
 * Strict decoder for untrusted JSON text (at most PROOF_JSON_MAX bytes): every key known
 * and present (the optional ones are null), no duplicate keys, right types, lowercase hex of
 * the exact length, canonical base64, integers in range, binary fields decodable (status
 * proofs by cr_smt_proof_decode). It does NOT check hashes or signatures: proof_verify_bundle does.
 * out must be init'ed; on failure its contents are unspecified (release it still).
 * TB_EMALFORMED (with the JSON path of the offending field in errmsg, e.g.
 * "agency.status.proof: not canonical base64"), TB_ELIMIT, TB_ENOMEM.
 */
TB_MUST_CHECK int proof_bundle_from_json(const char *text, size_t len, struct proof_bundle *out,
                                         char *errmsg);

/* The same from an already-parsed jansson object (e.g. a field of a request body). */
struct json_t;
TB_MUST_CHECK int proof_bundle_from_json_value(const struct json_t *value, struct proof_bundle *out,
                                               char *errmsg);

/* ------------------------------------------------------------------ verify */

/* Verdict names (exact, issue 5): proof_verdict_name gives them. */
enum proof_verdict {
    PROOF_VALID = 0,      /* "valid" */
    PROOF_REVOKED,        /* "revoked" */
    PROOF_EXPIRED,        /* "expired" */
    PROOF_UNKNOWN_ISSUER, /* "unknown_issuer" */
    PROOF_BAD_SIGNATURE,  /* "bad_signature" */
    PROOF_NOT_ON_LEDGER,  /* "not_on_ledger" */
    PROOF_STALE,          /* "stale" */
    PROOF_MALFORMED,      /* "malformed" */
    PROOF_VERDICT_COUNT
};

/* "valid", ...; "unknown" outside the enum. */
const char *proof_verdict_name(enum proof_verdict v);

/*
 * The exit status of `tongban verify` for a verdict: valid 0, revoked 3, expired 4,
 * unknown_issuer 5, bad_signature 6, not_on_ledger 7, stale 8, malformed 9 (1 is an
 * operational failure such as an unreadable file or an unreachable node, 2 a usage error).
 */
int proof_verdict_exit_status(enum proof_verdict v);

struct proof_verify_opts
{
    uint64_t now_ms;    /* the verifier's time (unix ms); used only with has_max_age */
    bool has_max_age;   /* check staleness */
    uint64_t max_age_s; /* header time must be >= now_ms - max_age_s * 1000 */
};

/*
 * What the bundle says, as far as the checks got (each has_* says whether it is set; a
 * field is set only once the bytes it comes from decoded; trust it only with PROOF_VALID
 * or the verdicts after 2 in the order above).
 */
struct proof_facts
{
    bool has_record; /* the envelope decoded: record_id, type, city, agency, expires_at */
    uint8_t record_id[WIRE_HASH_BYTES];
    char type[WIRE_TYPE_BYTES_MAX + 1];
    char city[WIRE_CITY_BYTES_MAX + 1];
    char agency[WIRE_AGENCY_BYTES_MAX + 1];
    uint64_t expires_at; /* seconds, 0 = never */
    bool has_header;     /* the header decoded: height, time_ms, block_hash, chain_id */
    uint64_t height;
    uint64_t time_ms;
    uint8_t block_hash[WIRE_HASH_BYTES];
    uint8_t chain_id[WIRE_HASH_BYTES];
    uint32_t signers; /* precommits that verified (after step 2) */
    bool has_status;  /* the record's status value decoded */
    uint8_t state;    /* 0 absent (absence proven), 1 valid, 2 revoked */
    uint64_t issued_height, revoked_height;
    bool has_issuer; /* the agency.register decoded */
    char agency_name[WIRE_NAME_BYTES_MAX + 1];
    uint8_t signer_key_id[WIRE_HASH_BYTES];
    uint64_t agency_registered_height, agency_retired_height, agency_not_after;
};

struct proof_result
{
    enum proof_verdict verdict;
    /* reasons[0] says why this verdict (the CLI prints "verdict: reasons[0]"); the others
     * list what was checked before it, in order. */
    size_t reason_count;
    char reasons[PROOF_REASONS_MAX][PROOF_REASON_BYTES];
    struct proof_facts facts;
};

/*
 * Checks a decoded bundle against the genesis (which the caller trusts) in the order of the
 * file comment, and fills *out with the verdict, reasons and facts. Pure: no clock (opts
 * carry now), no network, no files. Returns TB_OK whenever a verdict was reached (a bad
 * bundle is a verdict, not an error); TB_ENOMEM (OpenSSL or a buffer could not allocate)
 * or TB_EINVAL (g is not a validated genesis), with out->verdict malformed and a reason.
 */
TB_MUST_CHECK int proof_verify_bundle(const struct cfg_genesis *g, const struct proof_bundle *b,
                                      const struct proof_verify_opts *opts,
                                      struct proof_result *out);

/*
 * proof_bundle_from_json, then proof_verify_bundle: a JSON that does not decode is verdict
 * malformed (TB_OK, the decoder's message as reason). Same returns as proof_verify_bundle.
 */
TB_MUST_CHECK int proof_verify_json(const struct cfg_genesis *g, const char *text, size_t len,
                                    const struct proof_verify_opts *opts, struct proof_result *out);

/*
 * A verifier kept for one genesis (g is borrowed and must outlive it): the chain id, the
 * validator set and its hash computed once, and every member's node key parsed once, so a
 * check builds four keys fewer: the three precommits' and the registration's signers are
 * kept keys; only the record's signer (an agency key) is built from its bytes. Same
 * verdicts, reasons and facts as proof_verify_bundle / proof_verify_json (the tests compare
 * them). Not thread-safe (kept keys cache OpenSSL contexts): one per thread.
 * proof_verifier_new: TB_EINVAL (a genesis that is not validated or whose node keys do not
 * parse), TB_ENOMEM, with errmsg. proof_verifier_free(NULL) is a no-op.
 */
struct proof_verifier;
TB_MUST_CHECK int proof_verifier_new(const struct cfg_genesis *g, struct proof_verifier **out,
                                     char *errmsg);
void proof_verifier_free(struct proof_verifier *v);
TB_MUST_CHECK int proof_verifier_check(struct proof_verifier *v, const struct proof_bundle *b,
                                       const struct proof_verify_opts *opts,
                                       struct proof_result *out);
TB_MUST_CHECK int proof_verifier_check_json(struct proof_verifier *v, const char *text, size_t len,
                                            const struct proof_verify_opts *opts,
                                            struct proof_result *out);

/*
 * The result as a JSON object appended to out, the shape POST /v1/verify answers with:
 *   {"verdict": "...", "reasons": ["...", ...], "record_id": hex|null, "type", "city",
 *    "agency", "status": "valid"|"revoked"|"absent"|null, "issued_height", "revoked_height",
 *    "expires_at", "height", "time_ms", "block_hash", "chain_id"}   (null where not known)
 * TB_ELIMIT / TB_ENOMEM from out.
 */
TB_MUST_CHECK int proof_result_to_json(const struct proof_result *r, struct tb_buf *out);

#ifdef __cplusplus
}
#endif
#endif
