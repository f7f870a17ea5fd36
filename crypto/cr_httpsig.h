/*
 * Signed agency requests: a strict profile of HTTP Message Signatures (RFC 9421) with
 * Content-Digest (RFC 9530). docs/authentication.md is the specification; this header is
 * its C surface.
 *
 * The profile fixes everything an attacker could otherwise choose: one label ("tb"), the
 * covered components in this order ("@method" "@path" "@query" "content-digest"
 * "tongban-agency"), the parameters in this order (created, expires, nonce, keyid, alg),
 * all of them required, a lifetime of at most CR_HTTPSIG_LIFETIME_MAX_S and a clock skew of
 * CR_HTTPSIG_SKEW_S. The verifier parses Signature-Input and Signature with a small RFC 8941
 * subset that accepts only the canonical serialisation, so whatever parses re-serialises to
 * the same bytes.
 *
 * Nothing here reads a clock or does I/O: `now` is an argument, keys come from a callback,
 * header fields from another. The request view borrows the caller's memory for the duration
 * of one call.
 */
#ifndef CR_HTTPSIG_H
#define CR_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "cr_sign.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "tb_hex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_HTTPSIG_LABEL "tb"
#define CR_HTTPSIG_SKEW_S 60          /* |now - created| must not exceed this */
#define CR_HTTPSIG_LIFETIME_MAX_S 300 /* expires - created, in (0, this] */
#define CR_HTTPSIG_NONCE_BYTES 24     /* what the signer draws */
#define CR_HTTPSIG_NONCE_MIN_BYTES 16 /* what the verifier accepts, decoded */
#define CR_HTTPSIG_NONCE_MAX_BYTES 48
#define CR_HTTPSIG_ALG_ED25519 "ed25519" /* RFC 9421 section 6.2.2 */
#define CR_HTTPSIG_ALG_SM2 "sm2-sm3"     /* ours, not in the IANA registry */

/* Parser bounds (characters, without the NUL). */
#define CR_HTTPSIG_LABEL_MAX 32
#define CR_HTTPSIG_COMPONENTS_MAX 8
#define CR_HTTPSIG_NAME_MAX 32  /* a covered component's name */
#define CR_HTTPSIG_NONCE_MAX 64 /* base64 text of CR_HTTPSIG_NONCE_MAX_BYTES */
#define CR_HTTPSIG_KEYID_MAX 64 /* lowercase hex of a key id */
#define CR_HTTPSIG_ALG_MAX 16
#define CR_HTTPSIG_FIELD_MAX 1024 /* any header field value the verifier reads */
#define CR_HTTPSIG_PATH_MAX 2048
#define CR_HTTPSIG_QUERY_MAX 2048
#define CR_HTTPSIG_CITY_MAX 16   /* [0-9A-Za-z_-], as in the genesis file */
#define CR_HTTPSIG_AGENCY_MAX 64 /* visible ASCII, no '/' needed (the first '/' splits) */

/* Output sizes (with the NUL). */
#define CR_HTTPSIG_DIGEST_TEXT_SIZE 64 /* "sha-256=:<44 base64>:" */
#define CR_HTTPSIG_INPUT_TEXT_SIZE 512
#define CR_HTTPSIG_SIG_TEXT_SIZE (sizeof(CR_HTTPSIG_LABEL) + 3 + TB_BASE64_ENCODED_SIZE(CR_SIG_MAX))

/*
 * A request as the HTTP layer sees it. method is the request method as sent ("GET");
 * path is the request target's path, starting with '/', still percent-encoded, without
 * the query; query is what follows '?' (NULL or "" when there is none); body may be NULL
 * when body_len is 0. header returns the index-th (0-based) field line named `name`
 * (lower case; matching is case-insensitive, as HTTP's) or NULL when there are no more,
 * borrowed until the call returns. Signing ignores header and header_ctx.
 */
struct cr_httpsig_request
{
    const char *method;
    const char *path;
    const char *query;
    const uint8_t *body;
    size_t body_len;
    const char *(*header)(void *ctx, const char *name, size_t index);
    void *header_ctx;
};

/* The three field values a signer adds to its request (NUL-terminated). */
struct cr_httpsig_signed
{
    char content_digest[CR_HTTPSIG_DIGEST_TEXT_SIZE];
    char signature_input[CR_HTTPSIG_INPUT_TEXT_SIZE];
    char signature[CR_HTTPSIG_SIG_TEXT_SIZE];
};

/*
 * Signs req for agency `city`/`agency` (which also go, as "city/agency", into the
 * Tongban-Agency field the caller must send). created and expires are Unix seconds; nonce
 * is NULL to draw CR_HTTPSIG_NONCE_BYTES from the CSPRNG (tests pass a fixed one of
 * CR_HTTPSIG_NONCE_MIN_BYTES..CR_HTTPSIG_NONCE_MAX_BYTES). The keyid is the hex key id of
 * key; the alg and the digest follow the key's suite. TB_EINVAL for a request, city, agency
 * or time pair the verifier would refuse (reason in errmsg, which may be NULL), TB_ECRYPTO,
 * TB_ENOMEM.
 */
TB_MUST_CHECK int cr_httpsig_sign(struct cr_key *key, const struct cr_httpsig_request *req,
                                  const char *city, const char *agency, int64_t created_s,
                                  int64_t expires_s, const uint8_t *nonce, size_t nonce_len,
                                  struct cr_httpsig_signed *out, char *errmsg);

/*
 * A bounded replay cache of (keyed hash of key id and nonce, last second the request is
 * acceptable). Set-associative, CR_HTTPSIG_REPLAY_WAYS entries per set, two candidate sets
 * per entry (it goes to the one with more free entries), both chosen by a hash under a random
 * per-process key so that nobody can aim nonces at one set. Expired entries are reused; when
 * both sets hold only live entries the request is refused (TB_ELIMIT) rather than an
 * unexpired nonce forgotten. Measured with random nonces: no refusal at 50 % of capacity
 * live, 1 in 49152 at 75 %, 0.7 % at 90 %. Not thread-safe.
 */
#define CR_HTTPSIG_REPLAY_WAYS 8
#define CR_HTTPSIG_REPLAY_CAPACITY_MAX (1u << 22)
struct cr_httpsig_replay;

/* capacity (1..CR_HTTPSIG_REPLAY_CAPACITY_MAX) is rounded up to a power of two sets of
 * CR_HTTPSIG_REPLAY_WAYS. TB_EINVAL, TB_ENOMEM, TB_ECRYPTO (no random key). */
TB_MUST_CHECK int cr_httpsig_replay_new(size_t capacity, struct cr_httpsig_replay **out);
void cr_httpsig_replay_free(struct cr_httpsig_replay *cache); /* NULL ok */

/*
 * Records (key_id, nonce) as seen until valid_until_s. TB_OK when it was not live in the
 * cache, TB_EAUTH when it was (a replay), TB_ELIMIT when its set holds no expired entry at
 * now_s (the cache is full; nothing is forgotten). The caller guarantees
 * 0 <= now_s <= valid_until_s and a nonce of at most CR_HTTPSIG_NONCE_MAX characters
 * (asserted: the verifier passes only what it has checked).
 */
TB_MUST_CHECK int cr_httpsig_replay_add(struct cr_httpsig_replay *cache,
                                        const uint8_t key_id[CR_HASH_BYTES], const char *nonce,
                                        int64_t valid_until_s, int64_t now_s);

/* Entries still live at now_s (O(capacity); for tests and metrics). */
size_t cr_httpsig_replay_live(const struct cr_httpsig_replay *cache, int64_t now_s);

/* What the key lookup returns for a key id: the public key and who registered it. */
struct cr_httpsig_agency_key
{
    enum cr_suite suite;
    size_t pub_len;
    uint8_t pub[CR_PUBKEY_MAX];
    char city[CR_HTTPSIG_CITY_MAX + 1];
    char agency[CR_HTTPSIG_AGENCY_MAX + 1];
};

/*
 * The verifier's fixed inputs. lookup returns TB_OK and fills *out, TB_ENOTFOUND for a key
 * id that is not an active agency key, or another TB_E* code that is passed up unchanged.
 * replay is required.
 */
struct cr_httpsig_verifier
{
    enum cr_suite suite; /* the federation's */
    int (*lookup)(void *ctx, const uint8_t key_id[CR_HASH_BYTES],
                  struct cr_httpsig_agency_key *out);
    void *lookup_ctx;
    struct cr_httpsig_replay *replay;
};

/* Who signed a request that verified. */
struct cr_httpsig_result
{
    uint8_t key_id[CR_HASH_BYTES];
    char city[CR_HTTPSIG_CITY_MAX + 1];
    char agency[CR_HTTPSIG_AGENCY_MAX + 1];
    int64_t created_s;
    int64_t expires_s;
};

/*
 * Verifies req at now_s. Steps, in order: both signature fields parse and follow the
 * profile; the time window holds; Tongban-Agency and Content-Digest are well formed and
 * the digest matches the body; the key id is known (lookup), hashes to the key id and is
 * registered to the agency the request names; the signature over the rebuilt signature
 * base verifies; the nonce was not seen (then it is recorded). Errors: TB_EMALFORMED (a
 * field is missing, duplicated, malformed or outside the profile), TB_EAUTH (outside the
 * time window, unknown key, agency mismatch, replayed nonce), TB_EBADSIG (signature or
 * content digest does not match), TB_ELIMIT (replay cache full), or lookup's own code.
 * errmsg (may be NULL) gets the reason; *out is filled only on TB_OK.
 */
TB_MUST_CHECK int cr_httpsig_verify(const struct cr_httpsig_verifier *v,
                                    const struct cr_httpsig_request *req, int64_t now_s,
                                    struct cr_httpsig_result *out, char *errmsg);

/* ---- The RFC 8941 subset and the RFC 9421 signature base, exposed for tests and fuzzing. */

enum cr_httpsig_param_flags {
    CR_HTTPSIG_P_CREATED = 1 << 0,
    CR_HTTPSIG_P_EXPIRES = 1 << 1,
    CR_HTTPSIG_P_NONCE = 1 << 2,
    CR_HTTPSIG_P_KEYID = 1 << 3,
    CR_HTTPSIG_P_ALG = 1 << 4,
};

/* One Signature-Input member: label=("c1" "c2" ...);created=..;expires=..;nonce=".." ... */
struct cr_httpsig_input
{
    char label[CR_HTTPSIG_LABEL_MAX + 1];
    char components[CR_HTTPSIG_COMPONENTS_MAX][CR_HTTPSIG_NAME_MAX + 1];
    size_t component_count;
    uint32_t present; /* enum cr_httpsig_param_flags */
    int64_t created_s;
    int64_t expires_s;
    char nonce[CR_HTTPSIG_NONCE_MAX + 1];
    char keyid[CR_HTTPSIG_KEYID_MAX + 1];
    char alg[CR_HTTPSIG_ALG_MAX + 1];
};

/*
 * Parses a Signature-Input value holding exactly one member, in canonical RFC 8941 form:
 * no whitespace except one SP between inner-list items, parameters in the order of the
 * flags above with no duplicates, integers non-negative without leading zeros (at most 15
 * digits), strings with only the \" and \\ escapes. Which components and parameters the
 * profile needs is checked by the verifier, not here. TB_EMALFORMED with a reason.
 */
TB_MUST_CHECK int cr_httpsig_input_parse(const char *text, size_t len, struct cr_httpsig_input *out,
                                         char *errmsg);

/* The member's canonical form (label=...) / the @signature-params value (without the
 * label), appended to out. TB_ELIMIT, TB_ENOMEM from the buffer. */
TB_MUST_CHECK int cr_httpsig_input_serialise(const struct cr_httpsig_input *in, struct tb_buf *out);
TB_MUST_CHECK int cr_httpsig_params_serialise(const struct cr_httpsig_input *in,
                                              struct tb_buf *out);

/*
 * Parses a Signature value holding exactly one member label=:base64: (padded base64,
 * 1..CR_SIG_MAX bytes). label gets CR_HTTPSIG_LABEL_MAX + 1 bytes. TB_EMALFORMED.
 */
TB_MUST_CHECK int cr_httpsig_signature_parse(const char *text, size_t len, char *label,
                                             uint8_t sig[CR_SIG_MAX], size_t *sig_len,
                                             char *errmsg);
TB_MUST_CHECK int cr_httpsig_signature_serialise(const char *label, const uint8_t *sig,
                                                 size_t sig_len, struct tb_buf *out);

/*
 * The RFC 9421 section 2.5 signature base: one line `"name": value` per component of in
 * (values[i] is the value of in->components[i]), then `"@signature-params": ` and the
 * serialised parameters, no final newline. TB_EMALFORMED when a value holds a byte outside
 * 0x20..0x7E (a CR or LF would forge a line); TB_ELIMIT, TB_ENOMEM from the buffer.
 */
TB_MUST_CHECK int cr_httpsig_base(const struct cr_httpsig_input *in, const char *const *values,
                                  struct tb_buf *out);

#ifdef __cplusplus
}
#endif
#endif
