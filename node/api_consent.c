/*
 * Data sharing with consent in the JSON API (issue 6, docs/consent.md): documents attached
 * when a record is issued (POST /v1/tx and POST /v1/records with "document"), consent tokens
 * (POST /v1/consents), their withdrawal (POST /v1/consents/withdraw, D24) and a subject's
 * access log (GET /v1/subjects/{subject}/access-log).
 * The cross-city fetch (POST /v1/documents/fetch) needs the peer client and lives in
 * node/peer_documents.c.
 *
 * Who is the subject's home city: a city that issued a record to the subject (the by_subject
 * index names the records, each record its issuing city). Consents and the access log are
 * for agencies of that city only, asking their own city's node.
 *
 * Must never: store a document whose digest is not the record's doc_digest, store a document
 * for another city's record, sign a token for an agency outside the node's city, answer an
 * unauthenticated request, record a withdrawal of another city's token, answer a withdrawal
 * before it is synced to disk, or echo document bytes or an ID number.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_auth.h"
#include "api_int.h"
#include "cr_sign.h"
#include "docstore.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define API_CONSENT_SIGNED_BYTES_MAX (WIRE_CONSENT_BYTES_MAX + 256u)
#define API_CONSENT_JSON_BYTES_MAX (TB_BASE64_ENCODED_SIZE(API_CONSENT_SIGNED_BYTES_MAX) + 8192u)
#define API_CONSENT_EXPIRES_MAX_S (366u * 24u * 3600u)
/* Records of a subject looked at to find its home city: each one costs a block read, so the
 * first 64 in by_subject order (a citizen with more records in other cities than that, and
 * none of the home city's among the first 64, is a known limit: docs/consent.md). */
#define API_HOME_SCAN_MAX 64u
#define API_LOG_LIMIT_MAX 1000u
#define API_LOG_LIMIT_DEFAULT 100u

static uint64_t api_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec;
}

/* ----------------------------------------------------------- documents */

/* The record.issue in envelope, its id; 4xx replied on a refusal. */
static int api_doc_record(struct http_req *req, struct node *n, struct tb_bytes envelope,
                          struct wire_tx_body *body, uint8_t id[WIRE_HASH_BYTES])
{
    struct wire_tx tx;
    char why[TB_ERRMSG_SIZE] = "";
    uint8_t chain_id[WIRE_HASH_BYTES];
    if (wire_tx_decode(envelope.ptr, envelope.len, &tx, why) != TB_OK ||
        wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, body, why) != TB_OK) {
        http_reply_error(req, 400, "malformed", "envelope: %s", why);
        return TB_EMALFORMED;
    }
    if (tx.kind != WIRE_KIND_RECORD_ISSUE) {
        http_reply_error(req, 422, "not_a_record", "a document goes with a record.issue, not %s",
                         wire_kind_name(tx.kind));
        return TB_EINVAL;
    }
    ledger_chain_id(node_ledger(n), chain_id);
    wire_tx_id(ledger_suite(node_ledger(n)), chain_id, tx.kind, tx.body.ptr, tx.body.len, id);
    const char *city = node_config(n)->node.city;
    const struct wire_record_issue *r = &body->u.issue;
    if (r->city.len != strlen(city) || memcmp(r->city.ptr, city, r->city.len) != 0) {
        http_reply_error(req, 422, "not_issuing_city",
                         "the record is issued by city %.*s: only that city's node keeps its "
                         "document",
                         (int)r->city.len, (const char *)r->city.ptr);
        return TB_EAUTH;
    }
    return TB_OK;
}

/* The ledger's verdict on the envelope: acceptable now, or already committed (a document
 * attached to a record that exists). Replies otherwise. */
static int api_doc_verdict(struct http_req *req, struct node *n, struct tb_bytes envelope)
{
    struct store_txn *txn = NULL;
    struct ledger_verdict *v = tb_calloc(1, sizeof(*v));
    if (v == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return TB_ENOMEM;
    }
    int rv = api_req_read_begin(req, n, &txn);
    if (rv == TB_OK) {
        rv = ledger_check_tx(node_ledger(n), txn, envelope, api_now_s() * 1000u, v);
        store_abort(txn);
        if (rv != TB_OK && v->code == LEDGER_REPLAY)
            rv = TB_OK;
        else if (rv != TB_OK && v->code == LEDGER_INTERNAL)
            api_reply_failure(req, rv, "check", v->message);
        else if (rv != TB_OK)
            http_reply_error(req, v->code == LEDGER_MALFORMED ? 400 : 422,
                             ledger_code_name(v->code), "%s", v->message);
    }
    tb_free(v);
    return rv;
}

int api_document_attach(struct http_req *req, struct node *n, struct tb_bytes envelope,
                        const uint8_t *doc, size_t len)
{
    uint8_t id[WIRE_HASH_BYTES], digest[WIRE_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(doc != NULL || len == 0);
    if (len > DOCSTORE_DOCUMENT_BYTES_MAX) {
        http_reply_error(req, 413, "too_large", "document larger than %u bytes",
                         DOCSTORE_DOCUMENT_BYTES_MAX);
        return TB_ELIMIT;
    }
    struct wire_tx_body *body = tb_calloc(1, sizeof(*body));
    if (body == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return TB_ENOMEM;
    }
    enum cr_suite suite = ledger_suite(node_ledger(n));
    int rv = api_doc_record(req, n, envelope, body, id);
    if (rv == TB_OK) {
        cr_hash(suite, doc != NULL ? doc : (const uint8_t *)"", len, digest);
        if (!tb_memeq_ct(digest, body->u.issue.doc_digest, WIRE_HASH_BYTES)) {
            http_reply_error(req, 422, "digest_mismatch",
                             "H(document) is not the record's doc_digest");
            rv = TB_EINVAL;
        }
    }
    tb_free(body);
    if (rv == TB_OK)
        rv = api_doc_verdict(req, n, envelope);
    if (rv != TB_OK)
        return rv;
    if (!node_writable(n)) {
        http_reply_error(req, 503, "unavailable", "the node's storage refuses writes; retry later");
        return TB_EIO;
    }
    rv = docstore_put(node_store(n), suite, node_config(n)->node.document_key_file, id, doc, len,
                      errmsg);
    if (rv != TB_OK)
        api_reply_failure(req, rv, "document store", errmsg);
    return rv;
}

int api_tx_document(struct http_req *req, struct node *n, json_t *j, struct tb_bytes envelope)
{
    json_t *d = json_object_get(j, "document");
    size_t len = 0;
    if (d == NULL)
        return TB_OK;
    if (!json_is_string(d) ||
        json_string_length(d) > TB_BASE64_ENCODED_SIZE(API_DOCUMENT_BYTES_MAX) - 1) {
        http_reply_error(req, 400, "bad_request", "document: base64 of at most %u bytes",
                         API_DOCUMENT_BYTES_MAX);
        return TB_EINVAL;
    }
    uint8_t *doc = tb_malloc(API_DOCUMENT_BYTES_MAX);
    if (doc == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return TB_ENOMEM;
    }
    int rv = tb_base64_decode(json_string_value(d), json_string_length(d), doc,
                              API_DOCUMENT_BYTES_MAX, &len);
    if (rv != TB_OK)
        http_reply_error(req, 400, "bad_request", "document: not padded standard base64");
    else
        rv = api_document_attach(req, n, envelope, doc, len);
    tb_wipe(doc, len); /* a citizen's document: not left in freed memory */
    tb_free(doc);
    return rv;
}

/* -------------------------------------------------------- home city */

/* Whether a record issued by `city` is among the subject's first API_HOME_SCAN_MAX. */
static int api_subject_home(struct node *n, struct store_txn *txn,
                            const uint8_t subject[WIRE_HASH_BYTES], const char *city, bool *home,
                            char *errmsg)
{
    struct ledger_subject_entry *e = tb_calloc(API_HOME_SCAN_MAX, sizeof(*e));
    struct ledger_record *rec = tb_calloc(1, sizeof(*rec));
    struct tb_buf env;
    size_t count = 0;
    *home = false;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    int rv = e != NULL && rec != NULL ? TB_OK : TB_ENOMEM;
    if (rv == TB_OK)
        rv = ledger_subject_records(node_ledger(n), txn, subject, NULL, NULL, e, API_HOME_SCAN_MAX,
                                    &count, errmsg);
    for (size_t i = 0; rv == TB_OK && i < count && !*home; i++) {
        rv = ledger_record_get(node_ledger(n), txn, e[i].record_id, rec, &env, errmsg);
        const struct wire_record_issue *r = &rec->body.u.issue;
        if (rv == TB_OK && rec->status != LEDGER_RECORD_UNKNOWN &&
            rec->status != LEDGER_RECORD_PENDING)
            *home = r->city.len == strlen(city) && memcmp(r->city.ptr, city, r->city.len) == 0;
    }
    tb_buf_release(&env);
    tb_free(rec);
    tb_free(e);
    return rv;
}

/* A signed request (api_auth_agency) by an agency of this node's city; replies on refusal. */
static int api_own_agency(struct http_req *req, struct node *n, struct api_agency *who)
{
    int rv = api_auth_agency(req, n, who);
    if (rv != TB_OK)
        return rv;
    if (strcmp(who->city, node_config(n)->node.city) != 0) {
        http_reply_error(req, 403, "forbidden",
                         "agency %s/%s: ask your own city's node (this is %s's)", who->city,
                         who->agency, node_config(n)->node.city);
        return TB_EAUTH;
    }
    return TB_OK;
}

/* The agency's city issued a record to the subject (its home city); replies on refusal. */
static int api_home_subject(struct http_req *req, struct node *n,
                            const uint8_t subject[WIRE_HASH_BYTES], const struct api_agency *who)
{
    struct store_txn *txn = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    bool home = false;
    int rv = api_req_read_begin(req, n, &txn);
    if (rv != TB_OK)
        return rv;
    rv = api_subject_home(n, txn, subject, who->city, &home, errmsg);
    store_abort(txn);
    if (rv != TB_OK) {
        api_reply_failure(req, rv, "subject records", errmsg);
        return rv;
    }
    if (!home) {
        http_reply_error(req, 403, "not_home_city",
                         "city %s issued no record to this subject: it is not the subject's "
                         "home city",
                         who->city);
        return TB_EAUTH;
    }
    return TB_OK;
}

/* ------------------------------------------------------- POST /v1/consents */

static int api_bytes_cmp(const void *a, const void *b)
{
    const struct tb_bytes *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c != 0 ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static int api_json_u64_field(json_t *j, const char *name, uint64_t min, uint64_t max,
                              uint64_t *out, char *errmsg)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return tb_fail(errmsg, TB_EINVAL, "%s: expected an integer in %" PRIu64 "..%" PRIu64, name,
                       min, max);
    *out = (uint64_t)json_integer_value(v);
    return TB_OK;
}

static int api_json_str_field(json_t *j, const char *name, struct tb_bytes *out, char *errmsg)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v))
        return tb_fail(errmsg, TB_EINVAL, "%s: expected a string", name);
    out->ptr = (const uint8_t *)json_string_value(v);
    out->len = json_string_length(v);
    return TB_OK;
}

/* The token fields of a node-signed request (views into j). TB_EINVAL: 400 material. */
static int api_consent_fields(json_t *j, struct wire_consent *c, char *errmsg)
{
    json_t *subject = json_object_get(j, "subject"), *types = json_object_get(j, "types");
    uint64_t expires_in = 0;
    if (!json_is_string(subject) ||
        api_hex32_parse(json_string_value(subject), json_string_length(subject), c->subject) !=
            TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "subject: expected 64 lowercase hex digits");
    int rv = api_json_str_field(j, "grantee_city", &c->grantee_city, errmsg);
    if (rv == TB_OK)
        rv = api_json_str_field(j, "grantee_agency", &c->grantee_agency, errmsg);
    if (rv == TB_OK)
        rv = api_json_str_field(j, "purpose", &c->purpose, errmsg);
    if (rv == TB_OK)
        rv = api_json_u64_field(j, "expires_in", 1, API_CONSENT_EXPIRES_MAX_S, &expires_in, errmsg);
    if (rv == TB_OK)
        rv = api_json_u64_field(j, "uses", 1, WIRE_CONSENT_USES_MAX, &c->uses_max, errmsg);
    if (rv != TB_OK)
        return rv;
    if (!json_is_array(types) || json_array_size(types) < 1 ||
        json_array_size(types) > WIRE_CONSENT_TYPES_MAX)
        return tb_fail(errmsg, TB_EINVAL, "types: expected 1..%u record types",
                       WIRE_CONSENT_TYPES_MAX);
    for (size_t i = 0; i < json_array_size(types); i++) {
        json_t *t = json_array_get(types, i);
        if (!json_is_string(t))
            return tb_fail(errmsg, TB_EINVAL, "types: expected strings");
        c->types[i] =
            (struct tb_bytes){(const uint8_t *)json_string_value(t), json_string_length(t)};
    }
    c->type_count = json_array_size(types);
    qsort(c->types, c->type_count, sizeof(c->types[0]), api_bytes_cmp);
    for (size_t i = 1; i < c->type_count; i++)
        if (api_bytes_cmp(&c->types[i - 1], &c->types[i]) == 0)
            return tb_fail(errmsg, TB_EINVAL, "types: a type is given twice");
    c->not_after = api_now_s() + expires_in;
    return cr_random(c->nonce, sizeof(c->nonce)) == TB_OK
               ? TB_OK
               : tb_fail(errmsg, TB_ECRYPTO, "no randomness for the nonce");
}

/* Encodes and signs c with the agency's key from the agency directory into signed_out. */
static int api_consent_sign(struct node *n, const struct api_agency *who,
                            const struct wire_consent *c, struct tb_buf *signed_out, char *errmsg)
{
    char dir[CFG_PATH_MAX], path[CFG_PATH_MAX + WIRE_AGENCY_BYTES_MAX + 32];
    struct tb_buf tok, in;
    struct cr_key *key = NULL;
    uint8_t chain_id[WIRE_HASH_BYTES], sig[CR_SIG_MAX], pub[CR_PUBKEY_MAX];
    size_t sig_len = 0;
    tb_buf_init(&tok, WIRE_CONSENT_BYTES_MAX);
    tb_buf_init(&in, WIRE_CONSENT_BYTES_MAX + 64u);
    int rv = wire_consent_encode(c, &tok, errmsg);
    if (rv == TB_OK && api_agency_dir(node_config(n), dir) != TB_OK)
        rv = tb_fail(errmsg, TB_ECONFIG, "agency directory path too long");
    if (rv == TB_OK) {
        snprintf(path, sizeof(path), "%s/%s-%s.key", dir, who->city, who->agency);
        if (cr_key_load_pem(path, NULL, &key, NULL) != TB_OK || !cr_key_has_private(key) ||
            cr_key_suite(key) != ledger_suite(node_ledger(n)))
            rv = tb_fail(errmsg, TB_ENOTFOUND,
                         "this node holds no usable key for agency %s (sign the token yourself "
                         "and send it as \"token\")",
                         who->agency);
    }
    ledger_chain_id(node_ledger(n), chain_id);
    if (rv == TB_OK)
        rv = wire_consent_sign_input(chain_id, tok.data, tok.len, &in);
    if (rv == TB_OK)
        rv = cr_sign(key, in.data, in.len, sig, &sig_len);
    if (rv == TB_OK) {
        size_t pub_len = cr_key_public(key, pub);
        struct wire_consent_signed sc = {
            .token = {tok.data, tok.len}, .public_key = {pub, pub_len}, .sig = {sig, sig_len}};
        rv = wire_consent_signed_encode(&sc, signed_out, errmsg);
    }
    cr_key_free(key);
    tb_buf_release(&tok);
    tb_buf_release(&in);
    return rv;
}

/* The token makes sense for this federation: grantee a member, types in the genesis and not
 * `closed`, not expired, signed by the asking agency. 422 replied otherwise. */
static int api_consent_sane(struct http_req *req, struct node *n, const struct docstore_consent *dc,
                            const struct api_agency *who)
{
    const struct wire_consent *c = &dc->token;
    const struct cfg_genesis *g = node_genesis(n);
    char buf[WIRE_TYPE_BYTES_MAX + 1];
    if (strcmp(dc->signer.city, who->city) != 0 || strcmp(dc->signer.agency, who->agency) != 0) {
        http_reply_error(req, 422, "not_signer", "the token is signed by %s/%s, not by %s/%s",
                         dc->signer.city, dc->signer.agency, who->city, who->agency);
        return TB_EAUTH;
    }
    snprintf(buf, sizeof(buf), "%.*s", (int)c->grantee_city.len, (const char *)c->grantee_city.ptr);
    if (cfg_genesis_member_by_city(g, buf) == NULL) {
        http_reply_error(req, 422, "unknown_grantee", "grantee city %s is not a member", buf);
        return TB_EINVAL;
    }
    for (size_t i = 0; i < c->type_count; i++) {
        snprintf(buf, sizeof(buf), "%.*s", (int)c->types[i].len, (const char *)c->types[i].ptr);
        const struct cfg_record_type *t = cfg_genesis_type(g, buf);
        if (t == NULL || t->sharing == CFG_SHARING_CLOSED) {
            http_reply_error(req, 422, t == NULL ? "unknown_type" : "closed_type", "type %s: %s",
                             buf, t == NULL ? "not in the genesis" : "closed records never leave");
            return TB_EINVAL;
        }
    }
    if (c->not_after <= api_now_s()) {
        http_reply_error(req, 422, "consent_expired", "not_after is in the past");
        return TB_EINVAL;
    }
    return TB_OK;
}

/* The 201 answer: the token and what it says. */
static json_t *api_consent_answer(const struct docstore_consent *dc, const struct tb_buf *sc)
{
    const struct wire_consent *c = &dc->token;
    json_t *types = json_array();
    for (size_t i = 0; types != NULL && i < c->type_count; i++)
        if (json_array_append_new(
                types, json_stringn((const char *)c->types[i].ptr, c->types[i].len)) != 0) {
            json_decref(types);
            types = NULL;
        }
    return json_pack("{s:o,s:o,s:o,s:s%,s:s%,s:o,s:s%,s:o,s:o,s:{s:s,s:s}}", "consent_id",
                     api_json_hex(dc->id, WIRE_HASH_BYTES), "token",
                     api_json_b64(sc->data, sc->len), "subject",
                     api_json_hex(c->subject, WIRE_HASH_BYTES), "grantee_city",
                     (const char *)c->grantee_city.ptr, c->grantee_city.len, "grantee_agency",
                     (const char *)c->grantee_agency.ptr, c->grantee_agency.len, "types", types,
                     "purpose", (const char *)c->purpose.ptr, c->purpose.len, "not_after",
                     api_json_u64(c->not_after), "uses_max", api_json_u64(c->uses_max), "signer",
                     "city", dc->signer.city, "agency", dc->signer.agency);
}

/* The signed token from the body: the agency's own ("token") or signed here. */
static int api_consent_token(struct http_req *req, struct node *n, json_t *j,
                             const struct api_agency *who, struct tb_buf *sc)
{
    json_t *tok = json_object_get(j, "token");
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv;
    if (tok != NULL) {
        size_t len = 0;
        if (json_object_size(j) != 1 || !json_is_string(tok)) {
            http_reply_error(req, 400, "bad_request", "give \"token\" alone, as base64");
            return TB_EINVAL;
        }
        rv = tb_buf_reserve(sc, API_CONSENT_SIGNED_BYTES_MAX);
        if (rv == TB_OK)
            rv = tb_base64_decode(json_string_value(tok), json_string_length(tok), sc->data,
                                  API_CONSENT_SIGNED_BYTES_MAX, &len) == TB_OK
                     ? TB_OK
                     : TB_EINVAL;
        if (rv != TB_OK) {
            http_reply_error(req, 400, "bad_request", "token: padded base64 of at most %u bytes",
                             API_CONSENT_SIGNED_BYTES_MAX);
            return rv;
        }
        sc->len = len;
        return TB_OK;
    }
    struct wire_consent *c = tb_calloc(1, sizeof(*c));
    rv = c != NULL ? api_consent_fields(j, c, errmsg) : TB_ENOMEM;
    if (rv == TB_OK)
        rv = api_home_subject(req, n, c->subject, who);
    else if (rv == TB_EINVAL)
        http_reply_error(req, 400, "bad_request", "%s", errmsg);
    else
        api_reply_failure(req, rv, "consent", errmsg);
    if (rv == TB_OK) {
        rv = api_consent_sign(n, who, c, sc, errmsg);
        if (rv == TB_ENOTFOUND)
            http_reply_error(req, 409, "no_agency_key", "%s", errmsg);
        else if (rv == TB_EINVAL || rv == TB_ELIMIT)
            http_reply_error(req, 400, "bad_request", "%s", errmsg);
        else if (rv != TB_OK)
            api_reply_failure(req, rv, "consent", errmsg);
    }
    tb_free(c);
    return rv;
}

/* Opens the signed token against the ledger; replies on refusal. */
static int api_consent_check(struct http_req *req, struct node *n, const struct tb_buf *sc,
                             struct docstore_consent *dc)
{
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = api_req_read_begin(req, n, &txn);
    if (rv != TB_OK)
        return rv;
    rv = ledger_tip_get(node_ledger(n), txn, &tip, errmsg);
    if (rv == TB_OK)
        rv = docstore_consent_open(node_ledger(n), txn, sc->data, sc->len, tip.time_ms / 1000u, dc,
                                   errmsg);
    store_abort(txn);
    if (rv == TB_EMALFORMED)
        http_reply_error(req, 400, "bad_request", "%s", errmsg);
    else if (rv == TB_EAUTH || rv == TB_EBADSIG)
        http_reply_error(req, 422, rv == TB_EBADSIG ? "bad_signature" : "unknown_agency", "%s",
                         errmsg);
    else if (rv != TB_OK)
        api_reply_failure(req, rv, "consent", errmsg);
    return rv;
}

/* What both consent handlers hold: the asking agency, its JSON body, the signed token and its
 * decoded form. */
struct api_consent_req
{
    struct api_agency *who;
    struct docstore_consent *dc;
    struct tb_buf sc;
    json_t *j;
};

/* Allocates r, checks the asking agency and reads its JSON body (only `fields`): true, or
 * false with the answer sent. api_consent_req_end in either case. */
static bool api_consent_req_begin(struct http_req *req, struct node *n, const char *const *fields,
                                  struct api_consent_req *r)
{
    r->who = tb_calloc(1, sizeof(*r->who));
    r->dc = tb_calloc(1, sizeof(*r->dc));
    r->j = NULL;
    tb_buf_init(&r->sc, API_CONSENT_SIGNED_BYTES_MAX);
    if (r->who == NULL || r->dc == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return false;
    }
    return api_own_agency(req, n, r->who) == TB_OK &&
           api_req_json(req, API_CONSENT_JSON_BYTES_MAX, &r->j) == TB_OK &&
           api_req_fields(req, r->j, fields) == TB_OK;
}

static void api_consent_req_end(struct api_consent_req *r)
{
    json_decref(r->j);
    tb_buf_release(&r->sc);
    tb_free(r->dc);
    tb_free(r->who);
}

void api_h_consents_post(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"token",          "subject", "grantee_city",
                                         "grantee_agency", "types",   "purpose",
                                         "expires_in",     "uses",    NULL};
    struct node *n = arg;
    struct api_consent_req r;
    if (api_consent_req_begin(req, n, fields, &r) &&
        api_consent_token(req, n, r.j, r.who, &r.sc) == TB_OK &&
        api_consent_check(req, n, &r.sc, r.dc) == TB_OK &&
        api_consent_sane(req, n, r.dc, r.who) == TB_OK &&
        (json_object_get(r.j, "token") == NULL ||
         api_home_subject(req, n, r.dc->token.subject, r.who) == TB_OK)) {
        http_reply_json(req, 201, api_consent_answer(r.dc, &r.sc));
    }
    api_consent_req_end(&r);
}

/* ------------------------------------------------ POST /v1/consents/withdraw */

/* The withdrawn token must be one of the asking agency's own city (D24); 403 otherwise. */
static int api_withdraw_own(struct http_req *req, const struct docstore_consent *dc,
                            const struct api_agency *who)
{
    if (strcmp(dc->signer.city, who->city) == 0)
        return TB_OK;
    http_reply_error(req, 403, "not_own_consent",
                     "the token is signed by an agency of %s: only %s's agencies can withdraw it",
                     dc->signer.city, dc->signer.city);
    return TB_EAUTH;
}

/* Stores the withdrawal (synced) and answers with the first one's time. */
static void api_withdraw_store(struct http_req *req, struct node *n,
                               const struct docstore_consent *dc, const struct api_agency *who)
{
    struct docstore_withdrawal w = {.at_s = api_now_s()}, first;
    char errmsg[TB_ERRMSG_SIZE] = "";
    bool was_new = false;
    if (!node_writable(n)) {
        http_reply_error(req, 503, "unavailable", "the node's storage refuses writes; retry later");
        return;
    }
    snprintf(w.city, sizeof(w.city), "%s", who->city);
    snprintf(w.agency, sizeof(w.agency), "%s", who->agency);
    int rv = docstore_withdrawal_put(node_store(n), dc->id, &w, &first, &was_new, errmsg);
    if (rv != TB_OK) {
        api_reply_failure(req, rv, "withdrawal", errmsg);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:o,s:o}", "consent_id", api_json_hex(dc->id, WIRE_HASH_BYTES),
                              "withdrawn_at", api_json_u64(first.at_s)));
}

void api_h_consents_withdraw(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"token", NULL};
    struct node *n = arg;
    struct api_consent_req r;
    if (api_consent_req_begin(req, n, fields, &r)) {
        if (json_object_get(r.j, "token") == NULL)
            http_reply_error(req, 400, "bad_request", "token is required (base64)");
        else if (api_consent_token(req, n, r.j, r.who, &r.sc) == TB_OK &&
                 api_consent_check(req, n, &r.sc, r.dc) == TB_OK &&
                 api_withdraw_own(req, r.dc, r.who) == TB_OK)
            api_withdraw_store(req, n, r.dc, r.who);
    }
    api_consent_req_end(&r);
}

/* ------------------------------------------ GET /v1/subjects/{subject}/access-log */

/* An access.audit body is at most ~1.2 KB (a 1024-byte purpose and short codes). */
#define API_AUDIT_BODY_BYTES_MAX 1280u

struct api_log_entry
{
    uint64_t height;
    uint32_t index;
    uint8_t body[API_AUDIT_BODY_BYTES_MAX];
    size_t len;
};

struct api_log_scan
{
    struct api_log_entry *e;
    size_t count, max;
};

static int api_log_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct api_log_scan *s = arg;
    TB_ASSERT(s->count < s->max);
    if (key.len != WIRE_HASH_BYTES + 12 || value.len == 0 || value.len > API_AUDIT_BODY_BYTES_MAX)
        return tb_fail(errmsg, TB_EIO, "audit entry of a corrupt size");
    struct api_log_entry *e = &s->e[s->count++];
    e->height = store_be64(key.ptr + WIRE_HASH_BYTES);
    e->index = store_be32(key.ptr + WIRE_HASH_BYTES + 8);
    memcpy(e->body, value.ptr, value.len);
    e->len = value.len;
    return 0;
}

/* The time of the block at height (ms), cached for the run of one page. */
static int api_block_time(struct node *n, struct store_txn *txn, uint64_t height, uint64_t cache[2],
                          struct tb_buf *blk, char *errmsg)
{
    struct wire_block b;
    if (cache[0] == height)
        return TB_OK;
    int rv = ledger_block_get(node_ledger(n), txn, height, blk, errmsg);
    if (rv == TB_OK && wire_block_decode(blk->data, blk->len, &b, errmsg) != TB_OK)
        rv = TB_EIO;
    if (rv != TB_OK)
        return rv;
    cache[0] = height;
    cache[1] = b.header.time_ms;
    wire_block_release(&b);
    return TB_OK;
}

static json_t *api_log_render(struct node *n, struct store_txn *txn, const struct api_log_entry *e,
                              uint64_t cache[2], struct tb_buf *blk, int *rc, char *errmsg)
{
    struct wire_tx_body *b = tb_calloc(1, sizeof(*b));
    json_t *j = NULL;
    *rc = b == NULL ? TB_ENOMEM : TB_OK;
    if (*rc == TB_OK &&
        wire_tx_body_decode(WIRE_KIND_ACCESS_AUDIT, e->body, e->len, b, errmsg) != TB_OK)
        *rc = TB_EIO;
    if (*rc == TB_OK)
        *rc = api_block_time(n, txn, e->height, cache, blk, errmsg);
    if (*rc == TB_OK) {
        const struct wire_access_audit *a = &b->u.audit;
        j = json_pack("{s:o,s:s%,s:s%,s:s%,s:o,s:o,s:o,s:o,s:o}", "record_id",
                      api_json_hex(a->record_id, WIRE_HASH_BYTES), "requester_city",
                      (const char *)a->requester_city.ptr, a->requester_city.len,
                      "requester_agency", (const char *)a->requester_agency.ptr,
                      a->requester_agency.len, "purpose", (const char *)a->purpose.ptr,
                      a->purpose.len, "consent_id", api_json_hex(a->consent_id, WIRE_HASH_BYTES),
                      "at", api_json_u64(a->at), "time_ms", api_json_u64(cache[1]), "height",
                      api_json_u64(e->height), "index", api_json_u64(e->index));
        if (j == NULL)
            *rc = TB_ENOMEM;
    }
    tb_free(b);
    return j;
}

static int api_refused_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    json_t *list = arg;
    (void)key;
    json_t *e = json_loadb((const char *)value.ptr, value.len, 0, NULL);
    if (e == NULL)
        return tb_fail(errmsg, TB_EIO, "refusal entry is not JSON");
    return json_array_append_new(list, e) == 0 ? 0 : TB_ENOMEM;
}

/* The committed audits (after the cursor) and the refused attempts of the subject. */
static json_t *api_access_log(struct node *n, struct store_txn *txn,
                              const uint8_t subject[WIRE_HASH_BYTES], const struct store_key *after,
                              uint32_t limit, int *rc, char *errmsg)
{
    struct api_log_scan s = {.e = tb_calloc(limit + 1u, sizeof(struct api_log_entry)),
                             .max = limit + 1u};
    struct store_visitor v = {.arg = &s, .visit = api_log_visit};
    struct tb_buf blk;
    uint64_t cache[2] = {0, 0};
    uint32_t visited = 0;
    json_t *audits = json_array(), *refused = json_array();
    uint8_t rp[DOCSTORE_PREFIX_BYTES + WIRE_HASH_BYTES];
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    struct tb_bytes after_b = store_key_bytes(after);
    *rc = s.e != NULL && audits != NULL && refused != NULL ? TB_OK : TB_ENOMEM;
    if (*rc == TB_OK)
        *rc = store_scan(txn, STORE_DB_AUDIT, (struct tb_bytes){subject, WIRE_HASH_BYTES},
                         after->len > 0 ? &after_b : NULL, limit + 1u, &v, &visited, errmsg);
    size_t shown = s.count > limit ? limit : s.count;
    for (size_t i = 0; *rc == TB_OK && i < shown; i++) {
        json_t *e = api_log_render(n, txn, &s.e[i], cache, &blk, rc, errmsg);
        if (e != NULL && json_array_append_new(audits, e) != 0)
            *rc = TB_ENOMEM;
    }
    memcpy(rp, DOCSTORE_REFUSED_PREFIX, DOCSTORE_PREFIX_BYTES);
    memcpy(rp + DOCSTORE_PREFIX_BYTES, subject, WIRE_HASH_BYTES);
    struct store_visitor rv = {.arg = refused, .visit = api_refused_visit};
    if (*rc == TB_OK)
        *rc = store_scan(txn, STORE_DB_META, (struct tb_bytes){rp, sizeof(rp)}, NULL, limit, &rv,
                         &visited, errmsg);
    json_t *next = json_null();
    if (*rc == TB_OK && s.count > limit) {
        char cur[48];
        snprintf(cur, sizeof(cur), "%" PRIu64 "-%" PRIu32, s.e[shown - 1].height,
                 s.e[shown - 1].index);
        next = json_string(cur);
    }
    json_t *j = *rc == TB_OK ? json_pack("{s:o,s:O,s:O,s:o}", "subject",
                                         api_json_hex(subject, WIRE_HASH_BYTES), "accesses", audits,
                                         "refused", refused, "next", next)
                             : NULL;
    if (*rc == TB_OK && j == NULL)
        *rc = TB_ENOMEM;
    json_decref(audits);
    json_decref(refused);
    tb_buf_release(&blk);
    tb_free(s.e);
    return j;
}

/* after=H-I: the last entry of the previous page. */
static int api_log_after(struct http_req *req, const uint8_t subject[WIRE_HASH_BYTES],
                         struct store_key *after)
{
    const char *a = http_req_query(req, "after");
    uint64_t h = 0, i = 0;
    char tail = 0;
    after->len = 0;
    if (a == NULL)
        return TB_OK;
    if (strlen(a) > 40 || sscanf(a, "%" SCNu64 "-%" SCNu64 "%c", &h, &i, &tail) != 2 ||
        i > UINT32_MAX || a[0] < '0' || a[0] > '9') {
        http_reply_error(req, 400, "bad_request", "after: expected HEIGHT-INDEX from \"next\"");
        return TB_EINVAL;
    }
    store_key_audit(after, subject, h, (uint32_t)i);
    return TB_OK;
}

void api_h_access_log(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct api_agency *who = tb_calloc(1, sizeof(*who));
    struct store_txn *txn = NULL;
    struct store_key after;
    uint8_t subject[WIRE_HASH_BYTES];
    uint64_t limit = 0;
    char errmsg[TB_ERRMSG_SIZE] = "";
    if (who == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    if (api_own_agency(req, n, who) == TB_OK &&
        api_req_param_hex32(req, "subject", subject) == TB_OK &&
        api_req_query_u64(req, "limit", 1, API_LOG_LIMIT_MAX, API_LOG_LIMIT_DEFAULT, &limit) ==
            TB_OK &&
        api_log_after(req, subject, &after) == TB_OK &&
        api_home_subject(req, n, subject, who) == TB_OK &&
        api_req_read_begin(req, n, &txn) == TB_OK) {
        int rc = TB_OK;
        json_t *j = api_access_log(n, txn, subject, &after, (uint32_t)limit, &rc, errmsg);
        store_abort(txn);
        if (j == NULL)
            api_reply_failure(req, rc == TB_OK ? TB_ENOMEM : rc, "access log", errmsg);
        else
            http_reply_json(req, 200, j);
    }
    tb_free(who);
}
