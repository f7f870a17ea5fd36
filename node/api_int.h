/*
 * Internals of the JSON API (node/api*.c): request helpers of api.c (strict JSON bodies,
 * path and query parsing, the submission answer), agency authentication of api_custodial.c,
 * the handlers of api_records.c and api_custodial.c, and the JSON renderers of api_json.c.
 * Not for other modules: api.h is the public surface.
 *
 * Request helpers named api_req_* reply themselves when they fail (a 4xx or 5xx with the
 * docs/api.md error shape) and return the error; the handler must then just return.
 *
 * Renderers return a new jansson value (the caller owns one reference) or NULL when jansson
 * cannot allocate or a string is not valid UTF-8; they never reply, never touch the store
 * and never log. Hex is lowercase, byte strings are standard padded base64 (docs/api.md).
 */
#ifndef NODE_API_INT_H
#define NODE_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cr_hash.h"
#include "config.h"
#include "genesis.h"
#include "http.h"
#include "ledger.h"
#include "tb_buf.h"
#include "tb_hex.h"
#include "node.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The API's own bounds (docs/api.md). */
#define API_TOKEN_BYTES_MIN 16u     /* a Bearer token shorter than this is refused */
#define API_TOKEN_BYTES_MAX 256u    /* and longer */
#define API_LIST_LIMIT_MAX 100u     /* subject records per page */
#define API_LIST_LIMIT_DEFAULT 50u  /* when no limit is given */
#define API_AGENCY_LIMIT_MAX 1000u  /* agencies per page */
#define API_AGENCY_SCAN_MAX 100000u /* agencies read for one filtered page, at most */
#define API_DOCUMENT_BYTES_MAX (4u * 1024u * 1024u) /* "document" of POST /v1/records */
/* {"envelope": "<base64>"} of a largest envelope, with room for whitespace. */
#define API_TX_JSON_BYTES_MAX (TB_BASE64_ENCODED_SIZE(WIRE_TX_BYTES_MAX) + 256u)

_Static_assert(API_LIST_LIMIT_MAX < LEDGER_QUERY_MAX, "one extra entry tells if there is more");
_Static_assert(API_AGENCY_LIMIT_MAX <= LEDGER_QUERY_MAX, "an agency page is one ledger page");

/* ------------------------------------------------------- request helpers (api.c) */

/*
 * Parses the body as strict JSON: Content-Type application/json (415
 * unsupported_media_type), at most bytes_max bytes (413 too_large), UTF-8 without NUL,
 * nesting at most API_JSON_DEPTH_MAX, no duplicate keys, a top-level object (400
 * bad_request). The caller owns *out.
 */
#define API_JSON_DEPTH_MAX 4u
TB_MUST_CHECK int api_req_json(struct http_req *req, size_t bytes_max, json_t **out);
/* The same with another nesting bound (1..32): POST /v1/verify carries a whole bundle. */
TB_MUST_CHECK int api_req_json_depth(struct http_req *req, size_t bytes_max, size_t depth_max,
                                     json_t **out);

/* Every key of obj is one of the NULL-terminated list `allowed`; 400 bad_request if not. */
TB_MUST_CHECK int api_req_fields(struct http_req *req, json_t *obj, const char *const *allowed);

/* 32 bytes from exactly 64 lowercase hex digits in text; TB_EMALFORMED otherwise. */
TB_MUST_CHECK int api_hex32_parse(const char *text, size_t len, uint8_t out[WIRE_HASH_BYTES]);

/* The path parameter `name` as 32 bytes of lowercase hex; 400 bad_request if not. */
TB_MUST_CHECK int api_req_param_hex32(struct http_req *req, const char *name,
                                      uint8_t out[WIRE_HASH_BYTES]);

/* The path parameter `name` as a decimal of at least min without sign or leading zeros;
 * 400 bad_request otherwise. */
TB_MUST_CHECK int api_req_param_u64(struct http_req *req, const char *name, uint64_t min,
                                    uint64_t *out);

/*
 * The query parameter `name` as a decimal in min..max without sign or leading zeros;
 * absent: *out = def. 400 bad_request otherwise.
 */
TB_MUST_CHECK int api_req_query_u64(struct http_req *req, const char *name, uint64_t min,
                                    uint64_t max, uint64_t def, uint64_t *out);

/* A read transaction on the node's store; 500 internal if it cannot begin. */
TB_MUST_CHECK int api_req_read_begin(struct http_req *req, struct node *n, struct store_txn **out);

/* Replies to a storage or memory failure: TB_ENOSPC 503 unavailable, else 500 internal. */
void api_reply_failure(struct http_req *req, int rc, const char *what, const char *errmsg);

/*
 * Submits envelope through node_submit_tx and answers as docs/api.md says for POST /v1/tx
 * (202 new, 200 known, 400 malformed, 422 other verdicts, 503/500 storage); subject, when
 * not NULL, is added to a success answer (custodial issuing).
 */
void api_submit_reply(struct http_req *req, struct node *n, struct tb_bytes envelope,
                      const uint8_t *subject);

/* ------------------------------------------- agencies and handlers (api_custodial.c) */

/* An agency the node holds a key for, authenticated by its API token. */
struct api_agency_cred
{
    char city[CFG_CITY_MAX + 1];
    char agency[WIRE_AGENCY_BYTES_MAX + 1];
};

/*
 * The custodial agency directory (docs/operators.md): today `<data_dir>/../agencies`, until
 * the config names one. out holds CFG_PATH_MAX bytes; TB_ELIMIT if the path does not fit.
 */
TB_MUST_CHECK int api_agency_dir(const struct cfg_config *cfg, char out[CFG_PATH_MAX]);

/*
 * Authenticates `Authorization: Bearer <token>` against the token files of the node's own
 * city in the agency directory (SHA-256, constant-time comparison). 401 unauthorised when
 * missing, malformed or unknown; 500 internal when the directory cannot be read.
 */
TB_MUST_CHECK int api_req_agency(struct http_req *req, struct node *n, struct api_agency_cred *out);

void api_h_records_post(struct http_req *req, void *arg); /* POST /v1/records */

/* ----------------------------------------------------- handlers (api_records.c) */

/* docs/openapi.json, compiled in by node/api.cmake (not NUL-terminated). */
extern const unsigned char api_openapi_json[];
extern const size_t api_openapi_json_len;

void api_h_record_get(struct http_req *req, void *arg);      /* GET /v1/records/{id} */
void api_h_subject_records(struct http_req *req, void *arg); /* GET /v1/subjects/.../records */
void api_h_agencies(struct http_req *req, void *arg);        /* GET /v1/agencies */

/* ------------------------------------------------------ handlers (api_proof.c) */

void api_h_record_proof(struct http_req *req, void *arg);      /* GET /v1/records/{id}/proof */
void api_h_record_credential(struct http_req *req, void *arg); /* .../{id}/credential */
void api_h_record_qr(struct http_req *req, void *arg);         /* .../{id}/qr.png */
void api_h_resolve(struct http_req *req, void *arg);           /* GET /v1/resolve?uri= */
void api_h_verify(struct http_req *req, void *arg);            /* POST /v1/verify */
void api_h_header(struct http_req *req, void *arg);            /* GET /v1/headers/{height} */
void api_h_log_consistency(struct http_req *req, void *arg);   /* GET /v1/log/consistency */

/* ----------------------------------------------------- handlers (api_consent.c) */

void api_h_consents_post(struct http_req *req, void *arg); /* POST /v1/consents */
void api_h_access_log(struct http_req *req, void *arg);    /* GET .../{subject}/access-log */
/* POST /v1/consents/withdraw (D24) */
void api_h_consents_withdraw(struct http_req *req, void *arg);

/*
 * A document attached to a record.issue envelope (POST /v1/tx, POST /v1/records): checks that
 * the envelope is a record.issue of this node's city that the ledger accepts (or has
 * committed), that H(document) is its doc_digest, and stores the document sealed
 * (node/docstore.h) under the record id. TB_OK: nothing replied, the caller submits.
 * Otherwise replied (400 malformed, 413, 422 digest_mismatch / not_issuing_city / not_a_record
 * / the ledger's verdict, 503, 500) and the error returned.
 */
TB_MUST_CHECK int api_document_attach(struct http_req *req, struct node *n,
                                      struct tb_bytes envelope, const uint8_t *doc, size_t len);

/* POST /v1/tx's optional "document" (base64) of body j: api_document_attach when present,
 * TB_OK at once when absent. Replies on failure (400 for bad base64). */
TB_MUST_CHECK int api_tx_document(struct http_req *req, struct node *n, json_t *j,
                                  struct tb_bytes envelope);
/* POST /v1/tx with a document: {"envelope", "document"} with room for both. */
#define API_TX_DOC_JSON_BYTES_MAX \
    (API_TX_JSON_BYTES_MAX + TB_BASE64_ENCODED_SIZE(API_DOCUMENT_BYTES_MAX))

/* ---------------------------------------------------------- renderers (api_json.c) */

/* Lowercase hex / padded base64 strings of n bytes. */
json_t *api_json_hex(const uint8_t *p, size_t n);
json_t *api_json_b64(const uint8_t *p, size_t n);

/*
 * A uint64 as a JSON integer; above INT64_MAX (jansson's json_int_t and most JSON readers
 * stop there) as its decimal string, which docs/api.md documents.
 */
json_t *api_json_u64(uint64_t v);

/* The "record" object of GET /v1/records/{id} from a decoded record.issue body. */
json_t *api_json_record(const struct wire_record_issue *r);

/* The "header" object of GET /v1/blocks/{height}. */
json_t *api_json_header(const struct wire_header *h);

/*
 * The whole GET /v1/blocks/{height} answer: height, hash (recomputed from the header
 * bytes), header, txs (id recomputed from each envelope's body, kind, envelope) and the
 * certificate (NULL cert: JSON null, a block the node holds without one).
 */
json_t *api_json_block(enum cr_suite suite, const struct wire_block *b,
                       const struct wire_cert *cert);

/* One entry of GET /v1/agencies. */
json_t *api_json_agency(enum cr_suite suite, const struct ledger_agency *a);

/* One entry of GET /v1/members. */
json_t *api_json_member(const struct cfg_member *m, const uint8_t key_id[CR_HASH_BYTES],
                        size_t validator_index);

/*
 * Reads record id in a short read transaction for a handler: TB_OK with *rec (the caller
 * tb_frees it; status LEDGER_RECORD_UNKNOWN for an id the node does not know) and env, or an
 * error with the answer already sent (out of memory, the store) and *rec NULL.
 */
int api_record_read(struct http_req *req, struct node *n, const uint8_t id[WIRE_HASH_BYTES],
                    struct ledger_record **rec, struct tb_buf *env);

/* {"id", "kind", "status": "pending"} or committed with "height" and "index". */
json_t *api_json_tx_status(const uint8_t id[WIRE_HASH_BYTES], uint8_t kind, bool committed,
                           uint64_t height, uint32_t index);

#ifdef __cplusplus
}
#endif
#endif
