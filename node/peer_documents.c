/*
 * node/peer_documents.c: fetching a document across cities with consent (issue 6 item 3,
 * DESIGN 3.8, docs/consent.md). Both ends:
 *
 *   requesting node   POST /v1/documents/fetch (JSON, a signed request of one of its own
 *                     city's agencies): record id, consent token and a signed access.audit
 *                     envelope; forwards them to the holding city's node, checks the answer's
 *                     H(document) against the ledger's doc_digest, and only then hands it over.
 *   holding node      POST /v1/peer/documents (msgpack, wire_peer_doc_request): checks the
 *                     record, its sharing class, the token (signer an active agency of the
 *                     record's city, not withdrawn (D24), subject, type, grantee = the
 *                     audit's requester, expiry, uses), the audit (record, consent id; its
 * signature by the ledger's admission), that the sealed document opens; submits the audit, WAITS
 *                     until it is committed (commit_watch.c), and only then answers with the
 *                     document. Every refusal after the record is known is kept for the
 *                     subject's access log (docstore_refusal_put).
 *
 * Must never: answer a document before its audit tx is committed, serve a document whose AEAD
 * fails, let a `closed` record's document leave, log a document or a body, or block the loop.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_auth.h"
#include "docstore.h"
#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define PEER_DOC_COMMIT_WAIT_MS 20000u /* the holding node waits this long for the audit */
#define PEER_DOC_FETCH_TIMEOUT_MS (PEER_DOC_COMMIT_WAIT_MS + 5000u)
#define PEER_DOC_REQUEST_BYTES_MAX (WIRE_TX_BYTES_MAX + WIRE_CONSENT_BYTES_MAX + 1024u)

static const char *const peer_doc_headers[] = {"Content-Type: application/msgpack", NULL};

/* ================================================================ holding node */

/* One request being checked, then waiting for its audit to commit. */
struct peer_doc_serve
{
    struct node *n;
    struct http_req *req;
    struct event *timer;
    uint8_t record_id[WIRE_HASH_BYTES];
    uint8_t audit_id[WIRE_HASH_BYTES];
    bool has_subject; /* the record is known: refusals are kept for its subject */
    struct docstore_refusal refusal;
    struct ledger_record rec;
    struct docstore_consent dc;
    struct wire_tx_body audit;
};

static int peer_doc_refuse(struct peer_doc_serve *s, int rc, int status, const char *code,
                           const char *fmt, ...) TB_PRINTF(5, 6);

/* Replies with a JSON error, keeps the refusal for the subject's access log, returns rc. */
static int peer_doc_refuse(struct peer_doc_serve *s, int rc, int status, const char *code,
                           const char *fmt, ...)
{
    char msg[256], err[TB_ERRMSG_SIZE] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    metrics_count_status(s->n, status);
    http_reply_error(s->req, status, code, "%s", msg);
    s->req = NULL;
    TB_ASSERT(rc != TB_OK);
    if (!s->has_subject)
        return rc;
    s->refusal.code = code;
    snprintf(s->refusal.message, sizeof(s->refusal.message), "%s", msg);
    s->refusal.time_ms = node_now_ms();
    if (docstore_refusal_put(s->n->store, &s->refusal, err) != TB_OK)
        node_log(NODE_LOG_WARN, "refusal_not_kept", err, "code=%s", code);
    return rc;
}

static void peer_doc_serve_free(struct peer_doc_serve *s)
{
    if (s->timer != NULL)
        event_free(s->timer);
    commit_watch_remove(s->n, s);
    tb_free(s);
}

/* The record, known and held here, and the refusal context for its subject. */
static int peer_doc_load_record(struct peer_doc_serve *s, struct store_txn *txn, struct tb_buf *env)
{
    char err[TB_ERRMSG_SIZE] = "";
    int rv = ledger_record_get(s->n->ledger, txn, s->record_id, &s->rec, env, err);
    if (rv != TB_OK) {
        (void)peer_doc_refuse(s, TB_EINVAL, 500, "internal", "record: %s", err);
        return rv;
    }
    if (s->rec.status == LEDGER_RECORD_UNKNOWN || s->rec.status == LEDGER_RECORD_PENDING) {
        (void)peer_doc_refuse(s, TB_EINVAL, 404, "unknown_record",
                              "no committed record with that id");
        return TB_ENOTFOUND;
    }
    const struct wire_record_issue *r = &s->rec.body.u.issue;
    const char *city = s->n->cfg.node.city;
    if (r->city.len != strlen(city) || memcmp(r->city.ptr, city, r->city.len) != 0) {
        (void)peer_doc_refuse(s, TB_EINVAL, 404, "not_holder", "city %s did not issue this record",
                              city);
        return TB_ENOTFOUND;
    }
    s->has_subject = true;
    memcpy(s->refusal.subject, r->subject, WIRE_HASH_BYTES);
    memcpy(s->refusal.record_id, s->record_id, WIRE_HASH_BYTES);
    return TB_OK;
}

static bool peer_doc_bytes_eq(struct tb_bytes a, struct tb_bytes b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Fills the requester fields of the refusal from the audit body (when it decoded). */
static void peer_doc_refusal_requester(struct peer_doc_serve *s)
{
    const struct wire_access_audit *a = &s->audit.u.audit;
    struct docstore_refusal *r = &s->refusal;
    snprintf(r->requester_city, sizeof(r->requester_city), "%.*s", (int)a->requester_city.len,
             (const char *)a->requester_city.ptr);
    snprintf(r->requester_agency, sizeof(r->requester_agency), "%.*s", (int)a->requester_agency.len,
             (const char *)a->requester_agency.ptr);
    size_t n = a->purpose.len < sizeof(r->purpose) - 1 ? a->purpose.len : sizeof(r->purpose) - 1;
    while (n > 0 && n < a->purpose.len && (a->purpose.ptr[n] & 0xc0) == 0x80)
        n--; /* cut on a character boundary */
    memcpy(r->purpose, a->purpose.ptr, n);
    r->purpose[n] = '\0';
}

/* The audit envelope: an access.audit of this record and this token. */
static int peer_doc_check_audit(struct peer_doc_serve *s, struct tb_bytes audit)
{
    struct wire_tx tx;
    char why[TB_ERRMSG_SIZE] = "";
    if (wire_tx_decode(audit.ptr, audit.len, &tx, why) != TB_OK ||
        tx.kind != WIRE_KIND_ACCESS_AUDIT ||
        wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, &s->audit, why) != TB_OK) {
        (void)peer_doc_refuse(s, TB_EINVAL, 400, "bad_audit",
                              "audit: not an access.audit envelope%s%s", why[0] != '\0' ? ": " : "",
                              why);
        return TB_EMALFORMED;
    }
    wire_tx_id(s->n->suite, s->n->chain_id, tx.kind, tx.body.ptr, tx.body.len, s->audit_id);
    peer_doc_refusal_requester(s);
    if (memcmp(s->audit.u.audit.record_id, s->record_id, WIRE_HASH_BYTES) != 0) {
        (void)peer_doc_refuse(s, TB_EINVAL, 422, "audit_mismatch",
                              "the audit names another record");
        return TB_EINVAL;
    }
    /* Over mutual TLS the connection says which member asks: a node may fetch only for its
     * own city's agencies (plain loopback federations have no such name to compare). */
    const char *peer = http_req_peer_name(s->req);
    const struct tb_bytes rc = s->audit.u.audit.requester_city;
    if (peer != NULL && (strlen(peer) != rc.len || memcmp(peer, rc.ptr, rc.len) != 0)) {
        (void)peer_doc_refuse(s, TB_EAUTH, 403, "wrong_requester_node",
                              "the audit's requester city is not the member node that asks (%s)",
                              peer);
        return TB_EAUTH;
    }
    return TB_OK;
}

/* The token against the record and the audit (after docstore_consent_open). */
static int peer_doc_check_token(struct peer_doc_serve *s, uint64_t tip_s)
{
    const struct wire_consent *c = &s->dc.token;
    const struct wire_record_issue *r = &s->rec.body.u.issue;
    const struct wire_access_audit *a = &s->audit.u.audit;
    bool typed = false;
    uint64_t now_s = node_now_ms() / 1000u;
    memcpy(s->refusal.consent_id, s->dc.id, WIRE_HASH_BYTES);
    if (!peer_doc_bytes_eq(
            (struct tb_bytes){(const uint8_t *)s->dc.signer.city, strlen(s->dc.signer.city)},
            r->city))
        return peer_doc_refuse(s, TB_EAUTH, 403, "consent_wrong_city",
                               "the token is signed by %s, not by the record's city",
                               s->dc.signer.city);
    if (memcmp(c->subject, r->subject, WIRE_HASH_BYTES) != 0)
        return peer_doc_refuse(s, TB_EAUTH, 403, "consent_wrong_subject",
                               "the token is for another subject");
    for (size_t i = 0; i < c->type_count && !typed; i++)
        typed = peer_doc_bytes_eq(c->types[i], r->type);
    if (!typed)
        return peer_doc_refuse(s, TB_EAUTH, 403, "consent_wrong_type",
                               "the token does not cover type %.*s", (int)r->type.len,
                               (const char *)r->type.ptr);
    if (!peer_doc_bytes_eq(c->grantee_city, a->requester_city) ||
        !peer_doc_bytes_eq(c->grantee_agency, a->requester_agency))
        return peer_doc_refuse(s, TB_EAUTH, 403, "wrong_grantee",
                               "the token grants %.*s/%.*s, the audit names %s/%s",
                               (int)c->grantee_city.len, (const char *)c->grantee_city.ptr,
                               (int)c->grantee_agency.len, (const char *)c->grantee_agency.ptr,
                               s->refusal.requester_city, s->refusal.requester_agency);
    /* Block time is the rule (DESIGN 4); an idle chain's last block may be old, so the
     * node's own clock, when later, makes the judgement stricter, never laxer. */
    if (c->not_after <= tip_s || c->not_after <= now_s)
        return peer_doc_refuse(s, TB_EAUTH, 403, "consent_expired",
                               "the token expired at %" PRIu64 " (block time %" PRIu64 ")",
                               c->not_after, tip_s);
    if (memcmp(a->consent_id, s->dc.id, WIRE_HASH_BYTES) != 0)
        return peer_doc_refuse(s, TB_EINVAL, 422, "audit_mismatch",
                               "the audit names another consent id");
    return TB_OK;
}

/* The token was not withdrawn at this node (D24): read in the same transaction as the checks
 * before it; a withdrawal answered 200 is committed, so every later fetch sees it. */
static int peer_doc_check_withdrawn(struct peer_doc_serve *s, struct store_txn *txn)
{
    struct docstore_withdrawal w;
    char err[TB_ERRMSG_SIZE] = "";
    memcpy(s->refusal.consent_id, s->dc.id, WIRE_HASH_BYTES);
    int rv = docstore_withdrawal_get(txn, s->dc.id, &w, err);
    if (rv == TB_ENOTFOUND)
        return TB_OK;
    if (rv != TB_OK)
        return peer_doc_refuse(s, rv, 500, "internal", "withdrawal: %s", err);
    return peer_doc_refuse(s, TB_EAUTH, 403, "consent_withdrawn",
                           "the consent was withdrawn at %" PRIu64 " by %s/%s", w.at_s, w.city,
                           w.agency);
}

/* The sharing class of the record's type: `closed` never leaves its city. */
static int peer_doc_check_class(struct peer_doc_serve *s)
{
    const struct wire_record_issue *r = &s->rec.body.u.issue;
    char type[WIRE_TYPE_BYTES_MAX + 1];
    snprintf(type, sizeof(type), "%.*s", (int)r->type.len, (const char *)r->type.ptr);
    const struct cfg_record_type *t = cfg_genesis_type(&s->n->genesis, type);
    if (t == NULL || t->sharing == CFG_SHARING_CLOSED)
        return peer_doc_refuse(s, TB_EAUTH, 403, "closed_type",
                               "type %s is closed: its documents never leave the city", type);
    if (s->rec.status == LEDGER_RECORD_REVOKED)
        return peer_doc_refuse(s, TB_EAUTH, 410, "record_revoked", "the record was revoked");
    return TB_OK;
}

/* Committed uses (the index, caught up) plus the fetches waiting for their audit. */
static int peer_doc_check_uses(struct peer_doc_serve *s)
{
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    uint32_t used = 0;
    uint64_t max = s->dc.token.uses_max;
    TB_ASSERT(max >= 1 && max <= WIRE_CONSENT_USES_MAX);
    int rv;
    for (int i = 0; i < 64 && (rv = commit_watch_index(s->n, err)) == TB_ELIMIT; i++)
        ;
    if (rv == TB_OK)
        rv = store_begin_read(s->n->store, &txn, err);
    if (rv == TB_OK)
        rv = docstore_uses_count(txn, s->dc.id, (uint32_t)max + 1u, &used, err);
    store_abort(txn);
    if (rv != TB_OK)
        return peer_doc_refuse(s, rv, 503, "unavailable", "consent uses: %s", err);
    uint64_t total = (uint64_t)used + commit_watch_count_tag(s->n, s->dc.id);
    if (total >= max)
        return peer_doc_refuse(
            s, TB_EAUTH, 403, "consent_used_up",
            "the token allows %" PRIu64 " use(s); %" PRIu64 " committed or in flight", max, total);
    return TB_OK;
}

/* The sealed document is here and opens (a tampered one is never served). */
static int peer_doc_check_document(struct peer_doc_serve *s, struct tb_buf *doc)
{
    char err[TB_ERRMSG_SIZE] = "";
    int rv = docstore_get(s->n->store, s->n->suite, s->n->cfg.node.document_key_file, s->record_id,
                          doc, err);
    if (rv == TB_ENOTFOUND)
        return peer_doc_refuse(s, rv, 404, "no_document", "this node holds no document for it");
    if (rv == TB_EBADSIG)
        return peer_doc_refuse(s, rv, 500, "document_corrupt",
                               "the stored document fails its integrity check; not served");
    if (rv != TB_OK)
        return peer_doc_refuse(s, rv, 500, "internal", "document: %s", err);
    return TB_OK;
}

/* Decodes the request and runs every check up to (not including) the submission. */
static int peer_doc_checks(struct peer_doc_serve *s, struct tb_bytes body, struct tb_bytes *audit)
{
    struct wire_peer_doc_request m;
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    struct tb_buf env, doc;
    char err[TB_ERRMSG_SIZE] = "";
    if (wire_peer_doc_request_decode(body.ptr, body.len, &m, err) != TB_OK) {
        s->n->metrics.peer_msgs_bad++;
        return peer_doc_refuse(s, TB_EMALFORMED, 400, "bad_request", "%s", err);
    }
    memcpy(s->record_id, m.record_id, WIRE_HASH_BYTES);
    *audit = m.audit;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    int rv = store_begin_read(s->n->store, &txn, err);
    if (rv != TB_OK)
        rv = peer_doc_refuse(s, rv, 500, "internal", "%s", err);
    if (rv == TB_OK)
        rv = peer_doc_load_record(s, txn, &env);
    if (rv == TB_OK && (rv = ledger_tip_get(s->n->ledger, txn, &tip, err)) != TB_OK)
        rv = peer_doc_refuse(s, rv, 500, "internal", "tip: %s", err);
    if (rv == TB_OK)
        rv = peer_doc_check_audit(s, m.audit);
    if (rv == TB_OK)
        rv = peer_doc_check_class(s);
    if (rv == TB_OK) {
        rv = docstore_consent_open(s->n->ledger, txn, m.consent.ptr, m.consent.len,
                                   tip.time_ms / 1000u, &s->dc, err);
        if (rv != TB_OK)
            rv = peer_doc_refuse(s, rv, rv == TB_EMALFORMED ? 400 : 403,
                                 rv == TB_EMALFORMED ? "bad_consent" : "consent_not_valid", "%s",
                                 err);
    }
    if (rv == TB_OK)
        rv = peer_doc_check_withdrawn(s, txn);
    store_abort(txn);
    /* The record's views point into env: the checks that read them run before it goes. */
    if (rv == TB_OK)
        rv = peer_doc_check_token(s, tip.time_ms / 1000u);
    if (rv == TB_OK)
        rv = peer_doc_check_uses(s);
    tb_buf_init(&doc, DOCSTORE_DOCUMENT_BYTES_MAX);
    if (rv == TB_OK)
        rv = peer_doc_check_document(s, &doc);
    tb_buf_release(&doc);
    tb_buf_release(&env);
    return rv;
}

/* The audit committed: read the document again and answer with it. */
static void peer_doc_committed(void *arg, const struct store_txloc *loc)
{
    struct peer_doc_serve *s = arg;
    struct tb_buf doc, out;
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(s->req != NULL);
    tb_buf_init(&doc, DOCSTORE_DOCUMENT_BYTES_MAX);
    tb_buf_init(&out, WIRE_PEER_DOC_ANSWER_BYTES_MAX);
    int rv = docstore_get(s->n->store, s->n->suite, s->n->cfg.node.document_key_file, s->record_id,
                          &doc, err);
    if (rv == TB_OK) {
        struct wire_peer_doc_answer a = {.height = loc->height, .document = {doc.data, doc.len}};
        memcpy(a.audit_id, s->audit_id, WIRE_HASH_BYTES);
        rv = wire_peer_doc_answer_encode(&a, &out, err);
    }
    if (rv == TB_OK) {
        metrics_count_status(s->n, 200);
        http_reply_bytes(s->req, 200, "application/msgpack", out.data, out.len);
        s->req = NULL;
        node_log(NODE_LOG_INFO, "document_served", NULL, "height=%" PRIu64 " requester=%s/%s",
                 loc->height, s->refusal.requester_city, s->refusal.requester_agency);
    } else {
        (void)peer_doc_refuse(s, rv, 500, rv == TB_EBADSIG ? "document_corrupt" : "internal",
                              "the audit is committed at height %" PRIu64 " but: %s", loc->height,
                              err);
    }
    tb_wipe(doc.data, doc.len);
    tb_buf_release(&doc);
    tb_buf_release(&out);
    peer_doc_serve_free(s);
}

static void peer_doc_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct peer_doc_serve *s = arg;
    (void)fd;
    (void)what;
    commit_watch_remove(s->n, s);
    metrics_count_status(s->n, 504);
    http_reply_error(s->req, 504, "audit_not_committed",
                     "the audit tx was not committed within %u ms; it may still commit (and "
                     "count as a use)",
                     PEER_DOC_COMMIT_WAIT_MS);
    s->req = NULL;
    peer_doc_serve_free(s);
}

static void peer_doc_gone(struct http_req *req, void *arg)
{
    struct peer_doc_serve *s = arg;
    TB_ASSERT(s->req == req);
    commit_watch_remove(s->n, s);
    http_reply_error(req, 499, "gone", "client went away"); /* only frees the handle */
    s->req = NULL;
    peer_doc_serve_free(s);
}

/* Submits the audit (durable on return) and waits for its commit. */
static void peer_doc_submit(struct peer_doc_serve *s, struct tb_bytes audit)
{
    struct node_tx_result res;
    char err[TB_ERRMSG_SIZE] = "";
    memset(&res, 0, sizeof(res));
    int rv = node_submit_tx(s->n, audit, &res, err);
    if (rv == TB_OK && res.state != NODE_TX_NEW) {
        (void)peer_doc_refuse(s, TB_EEXIST, 409, "replay",
                              "this audit tx was already submitted (%s): one audit, one fetch",
                              res.state == NODE_TX_COMMITTED ? "committed" : "pending");
    } else if (rv != TB_OK && res.verdict.code == LEDGER_REPLAY) {
        (void)peer_doc_refuse(s, rv, 409, "replay", "%s", res.verdict.message);
    } else if (rv != TB_OK && res.verdict.code != LEDGER_OK &&
               res.verdict.code != LEDGER_INTERNAL) {
        (void)peer_doc_refuse(s, rv, res.verdict.code == LEDGER_MALFORMED ? 400 : 422,
                              ledger_code_name(res.verdict.code), "audit: %s", res.verdict.message);
    } else if (rv != TB_OK) {
        (void)peer_doc_refuse(s, rv, 503, "unavailable", "audit not accepted: %s", err);
    } else if (commit_watch_add(s->n, s->audit_id, s->dc.id, peer_doc_committed, s) != TB_OK) {
        /* Checked free before submitting (peer_doc_on_request): cannot happen. */
        TB_UNREACHABLE();
    } else {
        struct timeval tv = {.tv_sec = PEER_DOC_COMMIT_WAIT_MS / 1000u, .tv_usec = 0};
        s->timer = evtimer_new(s->n->base, peer_doc_timeout, s);
        if (s->timer == NULL || evtimer_add(s->timer, &tv) != 0) {
            commit_watch_remove(s->n, s);
            (void)peer_doc_refuse(s, TB_ENOMEM, 500, "internal", "no timer");
        } else {
            http_req_defer(s->req, peer_doc_gone, s);
            return;
        }
    }
    peer_doc_serve_free(s);
}

static bool peer_doc_watch_free(const struct node *n)
{
    for (uint32_t i = 0; i < NODE_WATCH_MAX; i++)
        if (!n->watches[i].used)
            return true;
    return false;
}

/* POST /v1/peer/documents */
static void peer_doc_on_request(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct tb_bytes body = http_req_body(req), audit = {NULL, 0};
    if (body.len == 0 || body.len > PEER_DOC_REQUEST_BYTES_MAX) {
        metrics_count_status(n, 400);
        http_reply_error(req, 400, "bad_request", "empty or oversized message");
        return;
    }
    if (!node_writable(n) || !peer_doc_watch_free(n)) {
        metrics_count_status(n, 503);
        http_reply_error(req, 503, "unavailable", "busy: retry later");
        return;
    }
    struct peer_doc_serve *s = tb_calloc(1, sizeof(*s));
    if (s == NULL) {
        metrics_count_status(n, 500);
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    s->n = n;
    s->req = req;
    if (peer_doc_checks(s, body, &audit) != TB_OK) {
        peer_doc_serve_free(s);
        return;
    }
    peer_doc_submit(s, audit);
}

/* ============================================================== requesting node */

struct peer_doc_fetch
{
    struct node *n;
    struct http_req *req; /* NULL once replied (or gone) */
    char holder[CFG_CITY_MAX + 1];
    uint8_t record_id[WIRE_HASH_BYTES];
    uint8_t doc_digest[WIRE_HASH_BYTES];
};

/* The holding node's refusal, passed on with its status and code. */
static void peer_fetch_relay_error(struct peer_doc_fetch *f, const struct peer_result *r)
{
    json_t *j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    int status = r->status >= 400 && r->status <= 599 ? (int)r->status : 502;
    http_reply_error(f->req, status, code != NULL ? code : "holder_error", "holding node %s: %s",
                     f->holder, msg != NULL ? msg : "no reason given");
    json_decref(j);
}

/* The answer: its document must hash to the ledger's doc_digest. */
static void peer_fetch_answer(struct peer_doc_fetch *f, const struct peer_result *r)
{
    struct wire_peer_doc_answer a;
    char err[TB_ERRMSG_SIZE] = "";
    uint8_t digest[WIRE_HASH_BYTES];
    if (wire_peer_doc_answer_decode(r->body, r->body_len, &a, err) != TB_OK) {
        http_reply_error(f->req, 502, "bad_holder_answer", "holding node %s: %s", f->holder, err);
        return;
    }
    cr_hash(f->n->suite, a.document.len > 0 ? a.document.ptr : (const uint8_t *)"", a.document.len,
            digest);
    if (!tb_memeq_ct(digest, f->doc_digest, WIRE_HASH_BYTES)) {
        node_log(NODE_LOG_WARN, "document_digest_mismatch", NULL, "holder=%s", f->holder);
        http_reply_error(f->req, 502, "digest_mismatch",
                         "holding node %s answered a document whose digest is not the record's "
                         "doc_digest: not handed over",
                         f->holder);
        return;
    }
    char *b64 = tb_malloc(TB_BASE64_ENCODED_SIZE(a.document.len));
    if (b64 == NULL) {
        http_reply_error(f->req, 500, "internal", "out of memory");
        return;
    }
    tb_base64_encode(a.document.ptr, a.document.len, b64);
    char rid[2 * WIRE_HASH_BYTES + 1], aid[2 * WIRE_HASH_BYTES + 1];
    tb_hex_encode(f->record_id, WIRE_HASH_BYTES, rid);
    tb_hex_encode(a.audit_id, WIRE_HASH_BYTES, aid);
    http_reply_json(f->req, 200,
                    json_pack("{s:s,s:s,s:I,s:s,s:s,s:I}", "record_id", rid, "audit_id", aid,
                              "audit_height", (json_int_t)a.height, "holder", f->holder, "document",
                              b64, "document_bytes", (json_int_t)a.document.len));
    tb_free(b64);
}

static void peer_fetch_done(const struct peer_result *r, void *arg)
{
    struct peer_doc_fetch *f = arg;
    if (f->req != NULL) {
        if (r->cancelled)
            http_reply_error(f->req, 503, "unavailable", "the node is stopping");
        else if (r->rc != TB_OK)
            http_reply_error(f->req, 502, "holder_unreachable", "holding node %s: %s", f->holder,
                             r->error);
        else if (r->status != 200)
            peer_fetch_relay_error(f, r);
        else
            peer_fetch_answer(f, r);
    }
    tb_free(f);
}

static void peer_fetch_gone(struct http_req *req, void *arg)
{
    struct peer_doc_fetch *f = arg;
    TB_ASSERT(f->req == req);
    http_reply_error(req, 499, "gone", "client went away"); /* only frees the handle */
    f->req = NULL; /* the peer callback still comes, and frees f */
}

/* A base64 field of the body into out (at most max bytes); replies on failure. */
static int peer_fetch_b64(struct http_req *req, json_t *j, const char *name, struct tb_buf *out,
                          size_t max)
{
    json_t *v = json_object_get(j, name);
    size_t len = 0;
    if (!json_is_string(v) || tb_buf_reserve(out, max) != TB_OK ||
        tb_base64_decode(json_string_value(v), json_string_length(v), out->data, max, &len) !=
            TB_OK ||
        len == 0) {
        http_reply_error(req, 400, "bad_request", "%s: padded base64 of 1..%zu bytes", name, max);
        return TB_EINVAL;
    }
    out->len = len;
    return TB_OK;
}

/* The audit must be the asking agency's own: requester = the signed request's agency. */
static int peer_fetch_audit_is_own(struct http_req *req, const struct tb_buf *audit,
                                   const struct api_agency *who, uint8_t record_id[32])
{
    struct wire_tx tx;
    struct wire_tx_body *b = tb_calloc(1, sizeof(*b));
    char why[TB_ERRMSG_SIZE] = "";
    int rv = b != NULL ? TB_OK : TB_ENOMEM;
    if (rv == TB_OK && (wire_tx_decode(audit->data, audit->len, &tx, why) != TB_OK ||
                        tx.kind != WIRE_KIND_ACCESS_AUDIT ||
                        wire_tx_body_decode(tx.kind, tx.body.ptr, tx.body.len, b, why) != TB_OK))
        rv = TB_EMALFORMED;
    if (rv == TB_ENOMEM) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else if (rv != TB_OK) {
        http_reply_error(req, 400, "bad_request", "audit: not an access.audit envelope: %s", why);
    } else {
        const struct wire_access_audit *a = &b->u.audit;
        if (a->requester_city.len != strlen(who->city) ||
            memcmp(a->requester_city.ptr, who->city, a->requester_city.len) != 0 ||
            a->requester_agency.len != strlen(who->agency) ||
            memcmp(a->requester_agency.ptr, who->agency, a->requester_agency.len) != 0) {
            http_reply_error(req, 403, "not_requester",
                             "the audit names another requester than %s/%s", who->city,
                             who->agency);
            rv = TB_EAUTH;
        } else if (memcmp(a->record_id, record_id, WIRE_HASH_BYTES) != 0) {
            http_reply_error(req, 422, "audit_mismatch", "the audit names another record");
            rv = TB_EINVAL;
        }
    }
    tb_free(b);
    return rv;
}

/* The record on our ledger: its issuing city (the holder) and doc_digest. */
static int peer_fetch_record(struct http_req *req, struct node *n, struct peer_doc_fetch *f)
{
    struct ledger_record *rec = tb_calloc(1, sizeof(*rec));
    struct store_txn *txn = NULL;
    struct tb_buf env;
    char err[TB_ERRMSG_SIZE] = "";
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    int rv = rec != NULL ? store_begin_read(n->store, &txn, err) : TB_ENOMEM;
    if (rv == TB_OK)
        rv = ledger_record_get(n->ledger, txn, f->record_id, rec, &env, err);
    store_abort(txn);
    if (rv != TB_OK) {
        http_reply_error(req, 500, "internal", "record: %s", err);
    } else if (rec->status == LEDGER_RECORD_UNKNOWN || rec->status == LEDGER_RECORD_PENDING) {
        http_reply_error(req, 404, "unknown_record", "no committed record with that id");
        rv = TB_ENOTFOUND;
    } else {
        const struct wire_record_issue *r = &rec->body.u.issue;
        snprintf(f->holder, sizeof(f->holder), "%.*s", (int)r->city.len, (const char *)r->city.ptr);
        memcpy(f->doc_digest, r->doc_digest, WIRE_HASH_BYTES);
    }
    tb_buf_release(&env);
    tb_free(rec);
    return rv;
}

/* Encodes the peer request and sends it to the holder; defers req. */
static int peer_fetch_send(struct http_req *req, struct node *n, struct peer_doc_fetch *f,
                           const struct tb_buf *consent, const struct tb_buf *audit)
{
    struct node_peer *p = NULL;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE] = "";
    for (uint32_t i = 0; i < n->validator_count && p == NULL; i++)
        if (strcmp(n->peers[i].member->city, f->holder) == 0)
            p = &n->peers[i];
    if (p == NULL || p->self) {
        http_reply_error(req, 422, p == NULL ? "unknown_holder" : "own_record",
                         p == NULL ? "city %s is not a member"
                                   : "city %s is this node's own city: "
                                     "its documents are not fetched "
                                     "across cities",
                         f->holder);
        return TB_EINVAL;
    }
    struct wire_peer_doc_request m = {.consent = {consent->data, consent->len},
                                      .audit = {audit->data, audit->len}};
    memcpy(m.record_id, f->record_id, WIRE_HASH_BYTES);
    tb_buf_init(&out, PEER_DOC_REQUEST_BYTES_MAX);
    int rv = wire_peer_doc_request_encode(&m, &out, err);
    char url[CFG_ENDPOINT_MAX + 64];
    snprintf(url, sizeof(url), "%s/v1/peer/documents", p->member->endpoint);
    if (rv == TB_OK)
        rv = peer_request(n->client, "POST", url, peer_doc_headers, out.data, out.len,
                          PEER_DOC_FETCH_TIMEOUT_MS, NULL, peer_fetch_done, f);
    tb_buf_release(&out);
    if (rv == TB_EINVAL || rv == TB_ELIMIT)
        http_reply_error(req, 400, "bad_request", "%s", err[0] != '\0' ? err : "too large");
    else if (rv != TB_OK)
        http_reply_error(req, 503, "unavailable", "cannot reach %s: %s", f->holder,
                         peer_client_errmsg(n->client));
    else
        http_req_defer(req, peer_fetch_gone, f);
    return rv;
}

/* POST /v1/documents/fetch */
static void peer_fetch_on_request(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"record_id", "consent", "audit", NULL};
    struct node *n = arg;
    struct api_agency *who = tb_calloc(1, sizeof(*who));
    struct peer_doc_fetch *f = tb_calloc(1, sizeof(*f));
    struct tb_buf consent, audit;
    json_t *j = NULL;
    int rv = who != NULL && f != NULL ? TB_OK : TB_ENOMEM;
    tb_buf_init(&consent, WIRE_PEER_SIGNED_CONSENT_BYTES_MAX);
    tb_buf_init(&audit, WIRE_TX_BYTES_MAX);
    if (rv != TB_OK)
        http_reply_error(req, 500, "internal", "out of memory");
    if (rv == TB_OK && (rv = api_auth_agency(req, n, who)) == TB_OK &&
        strcmp(who->city, n->cfg.node.city) != 0) {
        http_reply_error(req, 403, "forbidden", "agency %s/%s: ask your own city's node", who->city,
                         who->agency);
        rv = TB_EAUTH;
    }
    if (rv == TB_OK)
        rv = http_body_json(req, &j);
    for (size_t k = 0; rv == TB_OK && j != NULL && k < 3; k++)
        if (json_object_get(j, fields[k]) == NULL) {
            http_reply_error(req, 400, "bad_request", "%s is required", fields[k]);
            rv = TB_EINVAL;
        }
    if (rv == TB_OK &&
        (json_object_size(j) != 3 || !json_is_string(json_object_get(j, "record_id")) ||
         tb_hex_decode(json_string_value(json_object_get(j, "record_id")),
                       json_string_length(json_object_get(j, "record_id")), f->record_id,
                       WIRE_HASH_BYTES) != TB_OK)) {
        http_reply_error(req, 400, "bad_request",
                         "expected exactly record_id (64 hex digits), consent and audit");
        rv = TB_EINVAL;
    }
    if (rv == TB_OK)
        rv = peer_fetch_b64(req, j, "consent", &consent, WIRE_PEER_SIGNED_CONSENT_BYTES_MAX);
    if (rv == TB_OK)
        rv = peer_fetch_b64(req, j, "audit", &audit, WIRE_TX_BYTES_MAX);
    if (rv == TB_OK)
        rv = peer_fetch_audit_is_own(req, &audit, who, f->record_id);
    if (rv == TB_OK)
        rv = peer_fetch_record(req, n, f);
    if (rv == TB_OK) {
        f->n = n;
        f->req = req;
        rv = peer_fetch_send(req, n, f, &consent, &audit);
        if (rv == TB_OK)
            f = NULL; /* the peer callback owns it */
    }
    json_decref(j);
    tb_buf_release(&consent);
    tb_buf_release(&audit);
    tb_free(f);
    tb_free(who);
}

int peer_documents_register(struct node *n, char *errmsg)
{
    int rc =
        http_server_route(n->http, HTTP_POST, "/v1/peer/documents", peer_doc_on_request, n, errmsg);
    if (rc == TB_OK)
        rc = http_server_route(n->http, HTTP_POST, "/v1/documents/fetch", peer_fetch_on_request, n,
                               errmsg);
    return rc;
}
