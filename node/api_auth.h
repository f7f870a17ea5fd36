/*
 * node/api_auth: the ONE gate for agency requests that read or act on personal data
 * (issue 6 item 5, DESIGN 6, docs/decisions.md D9, docs/authentication.md). A request is
 * signed with the agency key under the RFC 9421 profile of crypto/cr_httpsig.h; this module
 * checks it against the agency keys registered on the ledger and says who asked.
 *
 * Checks, in order (each refusal answered by api_auth_agency itself, JSON error shape):
 *   - the four fields Signature-Input, Signature, Content-Digest and Tongban-Agency:
 *     missing, duplicated, malformed or outside the profile: 401 `unauthorised`;
 *   - the time window (|now - created| <= 60 s, now <= expires): 401 `unauthorised`;
 *   - created before this node started, during its first 61 s: 401 `unauthorised`
 *     (a restart empties the replay cache, D9);
 *   - Content-Digest equals the digest of the received body: 401 `unauthorised`;
 *   - the key id names an agency key registered on the ledger (meta "ledger/k" || key id,
 *     ledger.h): else 401 `unauthorised` ("unknown agency key");
 *   - that key is active (not retired) and not expired at the LATEST BLOCK TIME (not the
 *     local clock): else 403 `forbidden`;
 *   - the key is registered to exactly the city/agency Tongban-Agency names: else 401;
 *   - the signature verifies over the rebuilt signature base: else 401;
 *   - the nonce was not seen (replay cache, owned by struct api_auth): a replay is 401;
 *     a full cache is 503 `unavailable` with Retry-After: 60 (D9: refuse, never forget).
 * On TB_OK nothing was replied: the caller authorises (who may do what) and answers.
 *
 * Must never: accept a request without a verified signature, record a nonce before the
 * signature verified, judge key expiry by the local clock, log a request body, or hold a
 * read transaction past its return.
 */
#ifndef NODE_API_AUTH_H
#define NODE_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "cr_httpsig.h"
#include "http.h"
#include "ledger.h"
#include "store.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct node;

#define API_AUTH_REPLAY_CAPACITY 16384u /* nonces: 1.5 x 150 requests/s x 61 s (384 KB) */

/* The per-node state of the gate: the replay cache and the node's start time. */
struct api_auth;

/*
 * start_s: Unix seconds at which the node started (requests created before it are refused
 * until start_s + CR_HTTPSIG_SKEW_S + 1). capacity: the replay cache's, in entries
 * (API_AUTH_REPLAY_CAPACITY for a node). TB_EINVAL, TB_ENOMEM, TB_ECRYPTO with errmsg.
 */
TB_MUST_CHECK int api_auth_new(enum cr_suite suite, size_t capacity, int64_t start_s,
                               struct api_auth **out, char *errmsg);
void api_auth_free(struct api_auth *a); /* NULL ok */

/* Who signed a request that passed the gate: an active agency key registered on the ledger. */
struct api_agency
{
    char city[WIRE_CITY_BYTES_MAX + 1];
    char agency[WIRE_AGENCY_BYTES_MAX + 1];
    uint8_t key_id[CR_HASH_BYTES];
    uint8_t public_key[WIRE_PUBKEY_BYTES_MAX];
    size_t public_key_len;
    uint64_t not_after; /* the key's, Unix seconds */
    size_t type_count;  /* the record types it is registered for */
    char types[WIRE_AGENCY_TYPES_MAX][WIRE_TYPE_BYTES_MAX + 1];
    int64_t created_s; /* the signature's */
};

/* True when the agency is registered for record type `type`. */
bool api_agency_has_type(const struct api_agency *who, const char *type);

/*
 * THE GATE for HTTP handlers: verifies req (signed as docs/authentication.md says) with
 * the node's struct api_auth, ledger and store, at the local clock. TB_OK: *out says who
 * asked and NOTHING was replied. Otherwise it has replied (401 / 403 / 503 / 500, JSON
 * {"error": {"code", "message"}} with the reason) and returns the error: the handler must
 * just return. Call it before parsing the body or touching anything else.
 */
TB_MUST_CHECK int api_auth_agency(struct http_req *req, struct node *n, struct api_agency *out);

/* What api_auth_check decided, for the caller to reply with. */
struct api_auth_refusal
{
    int status;       /* 401, 403, 503 or 500 */
    const char *code; /* "unauthorised", "forbidden", "unavailable", "internal" */
    char message[TB_ERRMSG_SIZE];
};

/*
 * The same checks without HTTP or a node, for unit tests and other transports: hreq is the
 * request view (cr_httpsig.h), now_s the local clock. Opens and ends its own read
 * transaction on store. TB_OK with *out filled, or an error with *refusal filled.
 */
TB_MUST_CHECK int api_auth_check(struct api_auth *a, struct ledger *l, struct store *store,
                                 const struct cr_httpsig_request *hreq, int64_t now_s,
                                 struct api_agency *out, struct api_auth_refusal *refusal);

#ifdef __cplusplus
}
#endif
#endif
