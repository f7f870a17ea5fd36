/*
 * Read handlers of the JSON API over the ledger's queries: a record and its status
 * (GET /v1/records/{id}), a subject's records (GET /v1/subjects/{subject}/records: a request
 * signed by an active agency of a member city, node/api_auth.h) and the registered agencies
 * (GET /v1/agencies).
 *
 * Each handler opens one short read transaction, copies what it needs out of it, ends it
 * and only then replies. Must never: return a subject's records without an authenticated
 * agency, walk more than a bounded number of entries per request, or assert on anything
 * read from the store.
 */
#include <inttypes.h>
#include <string.h>

#include "api_auth.h"
#include "api_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

/* ------------------------------------------------------- GET /v1/records/{id} */

/* The answer for a known record (status other than unknown). */
static json_t *api_json_record_answer(const uint8_t id[WIRE_HASH_BYTES],
                                      const struct ledger_record *r, const struct tb_buf *env)
{
    TB_ASSERT(r->status != LEDGER_RECORD_UNKNOWN);
    TB_ASSERT(r->body.kind == WIRE_KIND_RECORD_ISSUE);
    json_t *j =
        json_pack("{s:o,s:s,s:o,s:o,s:o}", "id", api_json_hex(id, WIRE_HASH_BYTES), "status",
                  ledger_record_status_name(r->status), "record", api_json_record(&r->body.u.issue),
                  "revoked_height", api_json_u64(r->revoked_height), "envelope",
                  api_json_b64(env->data, env->len));
    /* height and index exist once the record is in a block (docs/api.md). */
    if (j != NULL && r->status != LEDGER_RECORD_PENDING &&
        (json_object_set_new(j, "height", api_json_u64(r->issued_height)) != 0 ||
         json_object_set_new(j, "index", api_json_u64(r->loc.index)) != 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int api_record_read(struct http_req *req, struct node *n, const uint8_t id[WIRE_HASH_BYTES],
                    struct ledger_record **rec, struct tb_buf *env)
{
    struct store_txn *txn = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    *rec = tb_calloc(1, sizeof(**rec)); /* a decoded body with 64 claims: not the stack */
    if (*rec == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return TB_ENOMEM;
    }
    int rc = api_req_read_begin(req, n, &txn);
    if (rc == TB_OK) {
        rc = ledger_record_get(node_ledger(n), txn, id, *rec, env, errmsg);
        store_abort(txn);
        if (rc != TB_OK)
            api_reply_failure(req, rc, "record", errmsg);
    }
    if (rc != TB_OK) {
        tb_free(*rec);
        *rec = NULL;
    }
    return rc;
}

void api_h_record_get(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct ledger_record *rec = NULL;
    struct tb_buf env;
    uint8_t id[WIRE_HASH_BYTES];
    if (api_req_param_hex32(req, "id", id) != TB_OK)
        return;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    if (api_record_read(req, n, id, &rec, &env) != TB_OK) {
        tb_buf_release(&env);
        return;
    }
    if (rec->status == LEDGER_RECORD_UNKNOWN) {
        http_reply_json(req, 404,
                        json_pack("{s:o,s:s,s:{s:s,s:s}}", "id", api_json_hex(id, WIRE_HASH_BYTES),
                                  "status", "unknown", "error", "code", "not_found", "message",
                                  "no record with this id on this node"));
    } else {
        http_reply_json(req, 200, api_json_record_answer(id, rec, &env));
    }
    tb_buf_release(&env);
    tb_free(rec);
}

/* ------------------------------------------- GET /v1/subjects/{subject}/records */

struct api_subject_query
{
    uint8_t subject[WIRE_HASH_BYTES];
    const char *type; /* NULL: all types */
    bool has_after;
    struct ledger_subject_entry after;
    uint64_t limit;
};

/*
 * The `after` cursor is a record id; the ledger pages by (type, id), so the record's type
 * is looked up, and the record must be one of this subject's (and of the type asked for).
 */
static int api_subject_after(struct http_req *req, struct node *n, struct store_txn *txn,
                             struct api_subject_query *q, struct ledger_record *rec,
                             struct tb_buf *env)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(!q->has_after);
    if (q->type != NULL)
        TB_ASSERT(strlen(q->type) <= WIRE_TYPE_BYTES_MAX); /* checked by the query parse */
    const char *a = http_req_query(req, "after");
    if (a == NULL)
        return TB_OK;
    if (api_hex32_parse(a, strlen(a), q->after.record_id) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "after: expected 64 lowercase hex digits");
        return TB_EINVAL;
    }
    int rc = ledger_record_get(node_ledger(n), txn, q->after.record_id, rec, env, errmsg);
    if (rc != TB_OK) {
        api_reply_failure(req, rc, "after", errmsg);
        return rc;
    }
    const struct wire_record_issue *r = &rec->body.u.issue;
    bool ok = rec->status != LEDGER_RECORD_UNKNOWN && rec->status != LEDGER_RECORD_PENDING &&
              memcmp(r->subject, q->subject, WIRE_HASH_BYTES) == 0 && r->type.len > 0 &&
              r->type.len <= WIRE_TYPE_BYTES_MAX;
    if (ok && q->type != NULL)
        ok = strlen(q->type) == r->type.len && memcmp(q->type, r->type.ptr, r->type.len) == 0;
    if (!ok) {
        http_reply_error(req, 400, "bad_request", "after: not a committed record of this query");
        return TB_EINVAL;
    }
    memcpy(q->after.type, r->type.ptr, r->type.len);
    q->after.type[r->type.len] = '\0';
    q->has_after = true;
    return TB_OK;
}

static int api_subject_query_parse(struct http_req *req, struct api_subject_query *q)
{
    memset(q, 0, sizeof(*q));
    if (api_req_param_hex32(req, "subject", q->subject) != TB_OK)
        return TB_EINVAL;
    q->type = http_req_query(req, "type");
    if (q->type != NULL && (q->type[0] == '\0' || strlen(q->type) > WIRE_TYPE_BYTES_MAX)) {
        http_reply_error(req, 400, "bad_request", "type: 1..%u bytes", WIRE_TYPE_BYTES_MAX);
        return TB_EINVAL;
    }
    return api_req_query_u64(req, "limit", 1, API_LIST_LIMIT_MAX, API_LIST_LIMIT_DEFAULT,
                             &q->limit);
}

/* {"id", "type", "status", "issued_at"} of one listed record. */
static json_t *api_subject_entry(struct node *n, struct store_txn *txn,
                                 const struct ledger_subject_entry *e, struct ledger_record *rec,
                                 struct tb_buf *env, int *rc, char *errmsg)
{
    TB_ASSERT(e->type[0] != '\0');
    TB_ASSERT(env->max >= WIRE_TX_BYTES_MAX);
    *rc = ledger_record_get(node_ledger(n), txn, e->record_id, rec, env, errmsg);
    if (*rc != TB_OK)
        return NULL;
    if (rec->status == LEDGER_RECORD_UNKNOWN || rec->status == LEDGER_RECORD_PENDING) {
        /* The index names a record the ledger does not have: a corrupt store. */
        *rc = tb_fail(errmsg, TB_EIO, "by_subject names a record that is not committed");
        return NULL;
    }
    json_t *j = json_pack("{s:o,s:s,s:s,s:o}", "id", api_json_hex(e->record_id, WIRE_HASH_BYTES),
                          "type", e->type, "status", ledger_record_status_name(rec->status),
                          "issued_at", api_json_u64(rec->body.u.issue.issued_at));
    if (j == NULL)
        *rc = TB_ENOMEM;
    return j;
}

/* Lists the page; one entry more than the limit is read to know whether there is a next. */
static json_t *api_subject_list(struct node *n, struct store_txn *txn,
                                const struct api_subject_query *q,
                                struct ledger_subject_entry *entries, struct ledger_record *rec,
                                struct tb_buf *env, int *rc, char *errmsg)
{
    size_t count = 0;
    TB_ASSERT(q->limit >= 1 && q->limit <= API_LIST_LIMIT_MAX);
    *rc = ledger_subject_records(node_ledger(n), txn, q->subject, q->type,
                                 q->has_after ? &q->after : NULL, entries, q->limit + 1, &count,
                                 errmsg);
    if (*rc != TB_OK)
        return NULL;
    TB_ASSERT(count <= q->limit + 1);
    size_t shown = count > q->limit ? q->limit : count;
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < shown; i++) {
        json_t *e = api_subject_entry(n, txn, &entries[i], rec, env, rc, errmsg);
        if (e == NULL || json_array_append_new(list, e) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    json_t *next = count > q->limit ? api_json_hex(entries[shown - 1].record_id, WIRE_HASH_BYTES)
                                    : json_null();
    json_t *j = json_pack("{s:o,s:o,s:o}", "subject", api_json_hex(q->subject, WIRE_HASH_BYTES),
                          "records", list, "next", next);
    if (j == NULL && *rc == TB_OK)
        *rc = TB_ENOMEM;
    return j;
}

/*
 * Who may list a subject's records (docs/authentication.md "Who may read"): any active
 * agency registered on the ledger whose city is a member of the federation. The subject is
 * a keyed hash, so no node can tell which city a subject "belongs" to; the list holds ids,
 * types and statuses only, and every reader is an identified, registered agency.
 */
static int api_subject_reader(struct http_req *req, struct node *n)
{
    struct api_agency *who = tb_calloc(1, sizeof(*who));
    if (who == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return TB_ENOMEM;
    }
    int rv = api_auth_agency(req, n, who);
    if (rv == TB_OK && cfg_genesis_member_by_city(node_genesis(n), who->city) == NULL) {
        http_reply_error(req, 403, "forbidden", "agency %s/%s: city is not a member", who->city,
                         who->agency);
        rv = TB_EAUTH;
    }
    tb_free(who);
    return rv;
}

void api_h_subject_records(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct api_subject_query q;
    struct store_txn *txn = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rc = TB_OK;
    if (api_subject_reader(req, n) != TB_OK || api_subject_query_parse(req, &q) != TB_OK)
        return;
    struct ledger_record *rec = tb_calloc(1, sizeof(*rec));
    struct ledger_subject_entry *entries = tb_calloc(API_LIST_LIMIT_MAX + 1, sizeof(*entries));
    struct tb_buf env;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    if (rec == NULL || entries == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else if (api_req_read_begin(req, n, &txn) == TB_OK) {
        json_t *j = NULL;
        bool replied = api_subject_after(req, n, txn, &q, rec, &env) != TB_OK;
        if (!replied)
            j = api_subject_list(n, txn, &q, entries, rec, &env, &rc, errmsg);
        store_abort(txn); /* ended before the reply goes out */
        if (!replied && j == NULL)
            api_reply_failure(req, rc == TB_OK ? TB_ENOMEM : rc, "subject records", errmsg);
        else if (!replied)
            http_reply_json(req, 200, j);
    }
    tb_buf_release(&env);
    tb_free(entries);
    tb_free(rec);
}

/* ------------------------------------------------------------ GET /v1/agencies */

#define API_AGENCY_PAGE 100u

struct api_agency_query
{
    const char *city; /* NULL: every city */
    uint8_t after[WIRE_PUBKEY_BYTES_MAX];
    size_t after_len; /* 0: from the start */
    uint64_t limit;
};

static int api_agency_query_parse(struct http_req *req, struct api_agency_query *q)
{
    memset(q, 0, sizeof(*q));
    q->city = http_req_query(req, "city");
    if (q->city != NULL) {
        size_t n = strlen(q->city);
        bool ok = n > 0 && n <= WIRE_CITY_BYTES_MAX;
        for (size_t i = 0; ok && i < n; i++) {
            char c = q->city[i];
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '_' || c == '-';
        }
        if (!ok) {
            http_reply_error(req, 400, "bad_request", "city: 1..%u of [0-9A-Za-z_-]",
                             WIRE_CITY_BYTES_MAX);
            return TB_EINVAL;
        }
    }
    const char *a = http_req_query(req, "after");
    if (a != NULL) {
        size_t n = strlen(a);
        bool ok = n > 0 && n % 2 == 0 && n <= 2 * WIRE_PUBKEY_BYTES_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');
        if (!ok || tb_hex_decode_var(a, n, q->after, sizeof(q->after), &q->after_len) != TB_OK) {
            http_reply_error(req, 400, "bad_request", "after: a public key in lowercase hex");
            return TB_EINVAL;
        }
    }
    return api_req_query_u64(req, "limit", 1, API_AGENCY_LIMIT_MAX, API_AGENCY_LIMIT_MAX,
                             &q->limit);
}

/*
 * Walks agencies in public-key order in pages, keeping those of q->city, until the limit,
 * the end, or API_AGENCY_SCAN_MAX entries read. *next_key gets the cursor to go on from
 * (length 0: the list is complete).
 */
static int api_agency_walk(struct node *n, struct store_txn *txn, const struct api_agency_query *q,
                           struct ledger_agency *page, json_t *list, uint8_t *next_key,
                           size_t *next_len, char *errmsg)
{
    struct tb_bytes after = {.ptr = q->after, .len = q->after_len};
    size_t taken = 0, scanned = 0;
    enum cr_suite suite = ledger_suite(node_ledger(n));
    TB_ASSERT(q->after_len <= WIRE_PUBKEY_BYTES_MAX);
    TB_ASSERT(q->limit >= 1 && q->limit <= API_AGENCY_LIMIT_MAX);
    memcpy(next_key, q->after, q->after_len);
    *next_len = 0;
    while (scanned < API_AGENCY_SCAN_MAX) {
        size_t count = 0;
        int rc = ledger_agencies_list(node_ledger(n), txn, after.len > 0 ? &after : NULL, page,
                                      API_AGENCY_PAGE, &count, errmsg);
        if (rc != TB_OK)
            return rc;
        TB_ASSERT(count <= API_AGENCY_PAGE);
        for (size_t i = 0; i < count; i++) {
            const struct ledger_agency *a = &page[i];
            TB_ASSERT(a->public_key_len <= WIRE_PUBKEY_BYTES_MAX); /* the cursor buffer */
            memcpy(next_key, a->public_key, a->public_key_len);
            *next_len = a->public_key_len;
            if (q->city == NULL || strcmp(q->city, a->city) == 0) {
                if (json_array_append_new(list, api_json_agency(suite, a)) != 0)
                    return TB_ENOMEM;
                if (++taken == q->limit)
                    return TB_OK; /* next stays set: there may be more */
            }
        }
        scanned += count;
        if (count < API_AGENCY_PAGE) {
            *next_len = 0; /* the end */
            return TB_OK;
        }
        after.ptr = next_key;
        after.len = *next_len;
    }
    return TB_OK; /* scan bound reached: next lets the client go on */
}

void api_h_agencies(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct api_agency_query q;
    struct store_txn *txn = NULL;
    uint8_t next_key[WIRE_PUBKEY_BYTES_MAX];
    size_t next_len = 0;
    char errmsg[TB_ERRMSG_SIZE] = "";
    if (api_agency_query_parse(req, &q) != TB_OK)
        return;
    struct ledger_agency *page = tb_calloc(API_AGENCY_PAGE, sizeof(*page));
    json_t *list = json_array();
    if (page == NULL || list == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else if (api_req_read_begin(req, n, &txn) == TB_OK) {
        int rc = api_agency_walk(n, txn, &q, page, list, next_key, &next_len, errmsg);
        store_abort(txn);
        if (rc != TB_OK) {
            api_reply_failure(req, rc, "agencies", errmsg);
        } else {
            json_t *next = next_len > 0 ? api_json_hex(next_key, next_len) : json_null();
            http_reply_json(req, 200, json_pack("{s:O,s:o}", "agencies", list, "next", next));
        }
    }
    json_decref(list);
    tb_free(page);
}
