/*
 * The node's JSON API v1 (docs/api.md): the route table, the request helpers every handler
 * shares (strict JSON bodies, strict path and query parameters, the submission answer), and
 * the handlers of transactions and of the federation (status, blocks, members, agencies,
 * the OpenAPI document). Records live in api_records.c, custodial issuing in
 * api_custodial.c, JSON rendering in api_json.c.
 *
 * Request to the lead (config/config.h is not ours):
 * NEEDSWORK: a key `[node] agency_dir` (default "agencies", resolved like the other paths);
 *   until it exists the custodial agency directory is `<data_dir>/../agencies`
 *   (api_agency_dir, docs/operators.md).
 *
 * Must never: hold a read transaction past the handler's return, reply twice, log a
 * request body, or answer a submission before node_submit_tx returned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "tb_text.h"

#ifndef TB_VERSION
#define TB_VERSION "0.0.0"
#endif

/* ---------------------------------------------------------------- helpers */

void api_reply_failure(struct http_req *req, int rc, const char *what, const char *errmsg)
{
    TB_ASSERT(rc != TB_OK);
    TB_ASSERT(what != NULL);
    if (rc == TB_ENOSPC)
        http_reply_error(req, 503, "unavailable", "%s: storage full, retry later", what);
    else
        http_reply_error(req, 500, "internal", "%s: %s", what,
                         errmsg != NULL && errmsg[0] != '\0' ? errmsg : tb_strerror(rc));
}

int api_req_read_begin(struct http_req *req, struct node *n, struct store_txn **out)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(n != NULL);
    TB_ASSERT(out != NULL);
    int rv = store_begin_read(node_store(n), out, errmsg);
    if (rv != TB_OK)
        api_reply_failure(req, rv, "read transaction", errmsg);
    return rv;
}

/* True when a Content-Type value's media type (before ';' or a space) is want. */
static bool api_media_type_is(const char *value, const char *want)
{
    size_t n = strlen(want);
    if (value == NULL || strncasecmp(value, want, n) != 0)
        return false;
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}

/*
 * node/http.c has http_body_json, but it answers malformed JSON with the code `bad_json`
 * while docs/api.md promises `bad_request`; this is the same strict parse with the
 * contract's codes (and the API's own, smaller, bounds).
 */
int api_req_json(struct http_req *req, size_t bytes_max, json_t **out)
{
    return api_req_json_depth(req, bytes_max, API_JSON_DEPTH_MAX, out);
}

int api_req_json_depth(struct http_req *req, size_t bytes_max, size_t depth_max, json_t **out)
{
    json_error_t jerr;
    TB_ASSERT(out != NULL);
    TB_ASSERT(bytes_max > 0);
    TB_ASSERT(depth_max >= 1 && depth_max <= 32); /* jansson recurses per level */
    *out = NULL;
    struct tb_bytes body = http_req_body(req);
    if (!api_media_type_is(http_req_header(req, "Content-Type"), "application/json")) {
        http_reply_error(req, 415, "unsupported_media_type",
                         "Content-Type must be application/json");
        return TB_EINVAL;
    }
    if (body.len > bytes_max) {
        http_reply_error(req, 413, "too_large", "body larger than %zu bytes", bytes_max);
        return TB_ELIMIT;
    }
    if (body.len == 0 || memchr(body.ptr, 0, body.len) != NULL ||
        !tb_utf8_valid(body.ptr, body.len)) {
        http_reply_error(req, 400, "bad_request", "body is not UTF-8 JSON text");
        return TB_EMALFORMED;
    }
    if (http_json_depth(body.ptr, body.len, depth_max) > depth_max) {
        http_reply_error(req, 400, "bad_request", "JSON nested deeper than %zu", depth_max);
        return TB_ELIMIT;
    }
    json_t *j = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        http_reply_error(req, 400, "bad_request", "JSON: %s at line %d column %d", jerr.text,
                         jerr.line, jerr.column);
        return TB_EMALFORMED;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_reply_error(req, 400, "bad_request", "body must be a JSON object");
        return TB_EMALFORMED;
    }
    *out = j;
    return TB_OK;
}

int api_req_fields(struct http_req *req, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    TB_ASSERT(json_is_object(obj));
    TB_ASSERT(allowed != NULL);
    json_object_foreach(obj, key, value)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL) {
            /* The key is client text: quote it bounded, it is not echoed anywhere else. */
            http_reply_error(req, 400, "bad_request", "unknown field \"%.64s\"", key);
            return TB_EINVAL;
        }
    }
    return TB_OK;
}

int api_hex32_parse(const char *text, size_t len, uint8_t out[WIRE_HASH_BYTES])
{
    TB_ASSERT(out != NULL);
    if (text == NULL || len != 2 * WIRE_HASH_BYTES)
        return TB_EMALFORMED;
    /* Lowercase only: one spelling per id, as the API writes them. */
    for (size_t i = 0; i < len; i++) {
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return TB_EMALFORMED;
    }
    int rv = tb_hex_decode(text, len, out, WIRE_HASH_BYTES);
    TB_ASSERT(rv == TB_OK);
    return rv;
}

int api_req_param_hex32(struct http_req *req, const char *name, uint8_t out[WIRE_HASH_BYTES])
{
    const char *v = http_req_param(req, name);
    TB_ASSERT(v != NULL); /* the route has the {name} segment */
    if (api_hex32_parse(v, strlen(v), out) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "%s: expected 64 lowercase hex digits", name);
        return TB_EMALFORMED;
    }
    return TB_OK;
}

/* A decimal without sign or leading zeros ("0" itself allowed), at most 20 digits. */
static int api_u64_parse(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return TB_EMALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return TB_EMALFORMED;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return TB_EMALFORMED;
        v = v * 10u + d;
    }
    *out = v;
    return TB_OK;
}

int api_req_param_u64(struct http_req *req, const char *name, uint64_t min, uint64_t *out)
{
    const char *v = http_req_param(req, name);
    TB_ASSERT(v != NULL); /* the route names it */
    if (api_u64_parse(v, out) != TB_OK || *out < min) {
        http_reply_error(req, 400, "bad_request",
                         "%s: expected a decimal %" PRIu64 "..2^64-1 without sign or leading zeros",
                         name, min);
        return TB_EINVAL;
    }
    return TB_OK;
}

int api_req_query_u64(struct http_req *req, const char *name, uint64_t min, uint64_t max,
                      uint64_t def, uint64_t *out)
{
    TB_ASSERT(min <= def && def <= max);
    TB_ASSERT(out != NULL);
    const char *v = http_req_query(req, name);
    if (v == NULL) {
        *out = def;
        return TB_OK;
    }
    if (api_u64_parse(v, out) != TB_OK || *out < min || *out > max) {
        http_reply_error(req, 400, "bad_request", "%s: expected a decimal in %" PRIu64 "..%" PRIu64,
                         name, min, max);
        return TB_EINVAL;
    }
    return TB_OK;
}

/* The answer to a refused tx: malformed 400, other verdicts 422, failures 5xx. */
static void api_submit_refused(struct http_req *req, int rc, const struct node_tx_result *res,
                               const char *errmsg)
{
    enum ledger_code code = res->verdict.code;
    if (rc == TB_ELIMIT && code == LEDGER_OK) { /* the node's mempool is full */
        http_reply_error(req, 503, "unavailable", "%s", errmsg[0] != '\0' ? errmsg : "busy");
        return;
    }
    if (rc == TB_ENOSPC || rc == TB_EIO || rc == TB_ENOMEM || code == LEDGER_INTERNAL ||
        code == LEDGER_OK) {
        api_reply_failure(req, rc == TB_OK ? TB_EIO : rc, "submit", errmsg);
        return;
    }
    TB_ASSERT(code > LEDGER_OK && code < LEDGER_CODE_COUNT);
    int status = code == LEDGER_MALFORMED ? 400 : 422;
    http_reply_error(req, status, ledger_code_name(code), "%s",
                     res->verdict.message[0] != '\0' ? res->verdict.message : "refused");
}

/*
 * The JSON answer to an accepted (or already known) submission, written directly: it is
 * the answer to every submitted tx, and a jansson tree plus json_dumps cost a few percent
 * of a loaded node. The same text as api_json_tx_status's object dumped compactly, plus
 * "subject" for a custodial issue (test_node_api checks both against jansson).
 */
static void api_submit_answer(struct http_req *req, const struct node_tx_result *res,
                              const uint8_t *subject)
{
    char id[2 * WIRE_HASH_BYTES + 1], subj[2 * WIRE_HASH_BYTES + 1];
    char text[256];
    const char *kind = wire_kind_name(res->kind);
    if (kind == NULL) { /* a kind the node core did not fill in */
        http_reply_error(req, 500, "internal", "response could not be built");
        return;
    }
    bool committed = res->state == NODE_TX_COMMITTED;
    tb_hex_encode(res->id, WIRE_HASH_BYTES, id);
    int n = snprintf(text, sizeof(text), "{\"id\":\"%s\",\"kind\":\"%s\",\"status\":\"%s\"", id,
                     kind, committed ? "committed" : "pending");
    if (committed && n > 0 && (size_t)n < sizeof(text))
        n +=
            snprintf(text + n, sizeof(text) - (size_t)n,
                     ",\"height\":%" PRIu64 ",\"index\":%" PRIu32, res->loc.height, res->loc.index);
    if (subject != NULL && n > 0 && (size_t)n < sizeof(text)) {
        tb_hex_encode(subject, WIRE_HASH_BYTES, subj);
        n += snprintf(text + n, sizeof(text) - (size_t)n, ",\"subject\":\"%s\"", subj);
    }
    if (n > 0 && (size_t)n < sizeof(text))
        n += snprintf(text + n, sizeof(text) - (size_t)n, "}");
    TB_ASSERT(n > 0 && (size_t)n < sizeof(text)); /* ids are hex, kinds short names */
    http_reply_json_text(req, res->state == NODE_TX_NEW ? 202 : 200, text);
}

/* A submission waiting for its group commit (node_submit_tx_async). */
struct api_submit_wait
{
    struct http_req *req; /* deferred; replying to a gone request only frees it */
    bool has_subject;
    uint8_t subject[WIRE_HASH_BYTES];
};

static void api_submit_done(void *arg, int rc, const struct node_tx_result *res, const char *errmsg)
{
    struct api_submit_wait *w = arg;
    if (rc != TB_OK || res->state != NODE_TX_NEW)
        api_submit_refused(w->req, rc, res, errmsg);
    else
        api_submit_answer(w->req, res, w->has_subject ? w->subject : NULL);
    tb_free(w);
}

void api_submit_reply(struct http_req *req, struct node *n, struct tb_bytes envelope,
                      const uint8_t *subject)
{
    struct node_tx_result res;
    char errmsg[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(envelope.len <= WIRE_TX_BYTES_MAX);
    if (envelope.len == 0 || envelope.ptr == NULL) {
        /* An empty body is bad input from the network, never an assertion (it was one). */
        http_reply_error(req, 400, "malformed", "empty envelope");
        return;
    }
    if (!node_writable(n)) {
        http_reply_error(req, 503, "unavailable", "the node's storage refuses writes; retry later");
        return;
    }
    struct api_submit_wait *w = tb_calloc(1, sizeof(*w));
    if (w == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    w->req = req;
    if (subject != NULL) {
        w->has_subject = true;
        memcpy(w->subject, subject, WIRE_HASH_BYTES);
    }
    memset(&res, 0, sizeof(res));
    int rc = node_submit_tx_async(n, envelope, api_submit_done, w, &res, errmsg);
    if (rc == TB_OK && res.state == NODE_TX_QUEUED) {
        /* Answered by api_submit_done after the group commit made the tx durable. */
        http_req_defer(req, NULL, NULL);
        return;
    }
    tb_free(w);
    if (rc != TB_OK || res.state == NODE_TX_UNKNOWN) {
        api_submit_refused(req, rc, &res, errmsg);
        return;
    }
    api_submit_answer(req, &res, subject);
}

/* -------------------------------------------------------------- handlers */

/* POST /v1/tx: application/msgpack envelope bytes, or {"envelope": "<base64>"}. */
static void api_h_tx_post(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"envelope", "document", NULL};
    struct node *n = arg;
    json_t *j = NULL;
    if (http_body_type_check(req) != TB_OK)
        return;
    if (api_media_type_is(http_req_header(req, "Content-Type"), "application/msgpack")) {
        struct tb_bytes body = http_req_body(req);
        if (body.len > WIRE_TX_BYTES_MAX) {
            http_reply_error(req, 413, "too_large", "envelope larger than %u bytes",
                             WIRE_TX_BYTES_MAX);
            return;
        }
        api_submit_reply(req, n, body, NULL);
        return;
    }
    if (api_req_json(req, API_TX_DOC_JSON_BYTES_MAX, &j) != TB_OK ||
        api_req_fields(req, j, fields) != TB_OK) {
        json_decref(j);
        return;
    }
    if (json_object_get(j, "document") == NULL && http_req_body(req).len > API_TX_JSON_BYTES_MAX) {
        http_reply_error(req, 413, "too_large", "envelope larger than %u bytes", WIRE_TX_BYTES_MAX);
        json_decref(j);
        return;
    }
    json_t *e = json_object_get(j, "envelope");
    uint8_t *env = tb_malloc(WIRE_TX_BYTES_MAX);
    size_t len = 0;
    if (env == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else if (!json_is_string(e)) {
        http_reply_error(req, 400, "bad_request", "envelope: expected a base64 string");
    } else if (json_string_length(e) > TB_BASE64_ENCODED_SIZE(WIRE_TX_BYTES_MAX) - 1) {
        http_reply_error(req, 413, "too_large", "envelope larger than %u bytes", WIRE_TX_BYTES_MAX);
    } else if (tb_base64_decode(json_string_value(e), json_string_length(e), env, WIRE_TX_BYTES_MAX,
                                &len) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "envelope: not padded standard base64");
    } else {
        struct tb_bytes b = {.ptr = env, .len = len};
        /* "document": checked against the record and stored sealed first (api_consent.c). */
        if (api_tx_document(req, n, j, b) == TB_OK)
            api_submit_reply(req, n, b, NULL);
    }
    tb_free(env);
    json_decref(j);
}

/* GET /v1/tx/{id} */
static void api_h_tx_get(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct node_tx_result res;
    uint8_t id[WIRE_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE] = "";
    if (api_req_param_hex32(req, "id", id) != TB_OK)
        return;
    memset(&res, 0, sizeof(res));
    int rc = node_tx_lookup(n, id, &res, errmsg);
    if (rc != TB_OK) {
        api_reply_failure(req, rc, "tx lookup", errmsg);
        return;
    }
    if (res.state != NODE_TX_PENDING && res.state != NODE_TX_COMMITTED) {
        http_reply_error(req, 404, "not_found", "this node has never seen tx %.16s...",
                         http_req_param(req, "id"));
        return;
    }
    bool committed = res.state == NODE_TX_COMMITTED;
    http_reply_json(req, 200,
                    api_json_tx_status(id, res.kind, committed, committed ? res.loc.height : 0,
                                       committed ? res.loc.index : 0));
}

static json_t *api_json_peers(const struct node_status *st)
{
    json_t *peers = json_array();
    TB_ASSERT(st->peer_count <= NODE_PEERS_MAX);
    for (size_t i = 0; peers != NULL && i < st->peer_count; i++) {
        const struct node_peer_info *p = &st->peers[i];
        json_t *pj =
            json_pack("{s:s,s:s,s:o,s:o,s:s}", "city", p->city, "endpoint", p->endpoint, "height",
                      api_json_u64(p->height), "last_seen_ms", api_json_u64(p->last_seen_ms),
                      "state", p->state == NODE_PEER_UP ? "up" : "down");
        if (json_array_append_new(peers, pj) != 0) {
            json_decref(peers);
            return NULL;
        }
    }
    return peers;
}

/* GET /v1/status */
static void api_h_status(struct http_req *req, void *arg)
{
    struct node *n = arg;
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct node_status *st = tb_calloc(1, sizeof(*st)); /* ~30 KiB of peers: not the stack */
    if (st == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    int rc = node_status_get(n, st, errmsg);
    if (rc != TB_OK) {
        api_reply_failure(req, rc, "status", errmsg);
        tb_free(st);
        return;
    }
    const struct store_state *s = &st->tip.state;
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o}", "city", st->city, "name",
        st->name, "suite", cr_suite_name(st->suite), "chain_id",
        api_json_hex(st->chain_id, WIRE_HASH_BYTES), "version", TB_VERSION, "height",
        api_json_u64(s->height), "block_hash", api_json_hex(s->block_hash, WIRE_HASH_BYTES),
        "time_ms", api_json_u64(st->tip.time_ms), "log_size", api_json_u64(s->log_size), "log_root",
        api_json_hex(s->log_root, CR_HASH_BYTES), "state_root",
        api_json_hex(s->state_root, CR_HASH_BYTES), "pending", api_json_u64(st->pending),
        "validator_index", (json_int_t)st->validator_index, "peers", api_json_peers(st));
    tb_free(st);
    http_reply_json(req, 200, j);
}

/* Reads, decodes and renders the block at height and its certificate (if stored). */
static json_t *api_block_load(struct node *n, struct store_txn *txn, uint64_t height,
                              struct tb_buf *blk, struct tb_buf *cert, int *rc, char *errmsg)
{
    struct wire_block b;
    struct wire_cert c;
    *rc = ledger_block_get(node_ledger(n), txn, height, blk, errmsg);
    if (*rc != TB_OK)
        return NULL;
    /* A stored block that does not decode is a corrupt store: an error, never an assert. */
    *rc = wire_block_decode(blk->data, blk->len, &b, errmsg);
    if (*rc != TB_OK) {
        *rc = TB_EIO;
        return NULL;
    }
    bool has_cert = false;
    *rc = store_cert_get(txn, height, cert, errmsg);
    if (*rc == TB_OK) {
        /* A certificate that does not decode or names another block: a corrupt store. */
        *rc = wire_cert_decode(cert->data, cert->len, &c, errmsg) == TB_OK && c.height == height
                  ? TB_OK
                  : TB_EIO;
        has_cert = *rc == TB_OK;
    } else if (*rc == TB_ENOTFOUND) {
        *rc = TB_OK;
    }
    json_t *j = *rc == TB_OK
                    ? api_json_block(ledger_suite(node_ledger(n)), &b, has_cert ? &c : NULL)
                    : NULL;
    if (*rc == TB_OK && j == NULL)
        *rc = TB_ENOMEM;
    wire_block_release(&b);
    return j;
}

/* GET /v1/blocks/{height} */
static void api_h_block(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct store_txn *txn = NULL;
    struct tb_buf blk, cert;
    char errmsg[TB_ERRMSG_SIZE] = "";
    uint64_t height = 0;
    if (api_req_param_u64(req, "height", 0, &height) != TB_OK)
        return;
    if (api_req_read_begin(req, n, &txn) != TB_OK)
        return;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    int rc = TB_OK;
    json_t *j = api_block_load(n, txn, height, &blk, &cert, &rc, errmsg);
    store_abort(txn);
    tb_buf_release(&blk);
    tb_buf_release(&cert);
    if (rc == TB_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no committed block at height %" PRIu64, height);
    else if (rc != TB_OK)
        api_reply_failure(req, rc, "block", errmsg);
    else
        http_reply_json(req, 200, j);
}

/* GET /v1/members: in validator order (sorted by key id). */
static void api_h_members(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct ledger *l = node_ledger(n);
    size_t count = ledger_validator_count(l);
    TB_ASSERT(count >= 1 && count <= CFG_MEMBERS_MAX);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        uint8_t key_id[WIRE_HASH_BYTES];
        const struct cfg_member *m = ledger_validator(l, i, key_id);
        if (json_array_append_new(list, api_json_member(m, key_id, i)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    http_reply_json(req, 200, list != NULL ? json_pack("{s:o}", "members", list) : NULL);
}

/* GET /v1/openapi.json: docs/openapi.json as compiled in. */
static void api_h_openapi(struct http_req *req, void *arg)
{
    (void)arg;
    TB_ASSERT(api_openapi_json_len > 0);
    http_reply_bytes(req, 200, "application/json", api_openapi_json, api_openapi_json_len);
}

/* ---------------------------------------------------------------- routes */

struct api_route
{
    unsigned methods;
    const char *pattern;
    http_handler_fn handler;
};

static const struct api_route api_routes[] = {
    {HTTP_POST, "/v1/tx", api_h_tx_post},
    {HTTP_GET, "/v1/tx/{id}", api_h_tx_get},
    {HTTP_POST, "/v1/records", api_h_records_post},
    {HTTP_GET, "/v1/records/{id}", api_h_record_get},
    {HTTP_GET, "/v1/subjects/{subject}/records", api_h_subject_records},
    {HTTP_POST, "/v1/consents", api_h_consents_post},
    {HTTP_POST, "/v1/consents/withdraw", api_h_consents_withdraw},
    {HTTP_GET, "/v1/subjects/{subject}/access-log", api_h_access_log},
    {HTTP_GET, "/v1/status", api_h_status},
    {HTTP_GET, "/v1/blocks/{height}", api_h_block},
    {HTTP_GET, "/v1/members", api_h_members},
    {HTTP_GET, "/v1/agencies", api_h_agencies},
    {HTTP_GET, "/v1/openapi.json", api_h_openapi},
    {HTTP_GET, "/v1/records/{id}/proof", api_h_record_proof},
    {HTTP_GET, "/v1/records/{id}/credential", api_h_record_credential},
    {HTTP_GET, "/v1/records/{id}/qr.png", api_h_record_qr},
    {HTTP_GET, "/v1/resolve", api_h_resolve},
    {HTTP_POST, "/v1/verify", api_h_verify},
    {HTTP_GET, "/v1/headers/{height}", api_h_header},
    {HTTP_GET, "/v1/log/consistency", api_h_log_consistency},
};

int api_register(struct http_server *srv, struct node *node, char *errmsg)
{
    TB_ASSERT(srv != NULL);
    TB_ASSERT(node != NULL);
    for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
        const struct api_route *r = &api_routes[i];
        TB_ASSERT(strncmp(r->pattern, "/v1/peer/", 9) != 0);
        int rv = http_server_route(srv, r->methods, r->pattern, r->handler, node, errmsg);
        if (rv != TB_OK) {
            tb_errmsg_wrapf(errmsg, "api route %s", r->pattern);
            return rv;
        }
    }
    return TB_OK;
}
