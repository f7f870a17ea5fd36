/*
 * Verifiable answers of the JSON API (issue 5, docs/api.md "Proofs"): a record's proof bundle
 * (GET /v1/records/{id}/proof), the same bundle as a file a citizen keeps
 * (GET /v1/records/{id}/credential), its QR code (GET /v1/records/{id}/qr.png), the credential
 * URI resolved (GET /v1/resolve?uri=...), a bundle or a record checked by the node
 * (POST /v1/verify), and the log's own evidence: a committed header with its certificate and
 * validator set (GET /v1/headers/{height}) and RFC 9162 consistency proofs between two heights
 * (GET /v1/log/consistency?first=&second=).
 *
 * Bundles are built by node/proof.h in one short read transaction, which ends before any
 * JSON is rendered or any reply goes out; their JSON text is cached under a content-addressed
 * key (see "Rendered bundles, cached"). POST /v1/verify checks with the same offline verifier
 * `tongban verify --offline` uses: for a record id the node takes the bundle at its latest
 * header as JSON text (built now, or rendered earlier at that same header) and verifies that
 * text, exactly as a client holding the file would (no shortcut through the ledger).
 *
 * Must never: hold a read transaction past the handler's return, reply twice, trust a byte
 * of a presented bundle before proof_verify has checked it, assert on anything read from the
 * store or the request, or answer for a record of another federation's credential URI.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "proof.h"
#include "qr.h"
#include "tb_alloc.h"
#include "tb_assert.h"

/* The API's own bounds for these endpoints (docs/api.md). */
#define API_VERIFY_BYTES_MAX (PROOF_JSON_MAX + 1024u)       /* {"bundle": ..., "max_age": ...} */
#define API_VERIFY_DEPTH_MAX 8u                             /* the bundle's nesting plus one */
#define API_QR_PX_DEFAULT 8u                                /* pixels per module of qr.png */
#define API_QR_PX_MAX 16u                                   /* 41 modules * 16 px: 656 px square */
#define API_QR_MARGIN_MODULES 4u                            /* ISO/IEC 18004's quiet zone */
#define API_QR_PNG_BYTES_MAX (64u * 1024u)                  /* the URI's PNG is under 1 KiB */
#define API_MAX_AGE_S_MAX (UINT64_C(100) * 365 * 24 * 3600) /* max_age: a century at most */

_Static_assert(API_QR_PX_MAX <= QR_MODULE_PX_MAX, "qr.h bounds the module size");
_Static_assert(API_QR_PNG_BYTES_MAX <= QR_PNG_BYTES_MAX, "qr.h bounds the PNG");
_Static_assert(API_MAX_AGE_S_MAX < UINT64_MAX / 1000u, "max_age in ms must not overflow");

/* --------------------------------------------------------------- bundles */

enum api_bundle_form {
    API_BUNDLE_PLAIN,      /* GET .../proof and /v1/resolve: compact JSON */
    API_BUNDLE_CREDENTIAL, /* GET .../credential: pretty JSON, an attachment */
};

/* Replies to a proof_build failure with the docs/api.md status for it. */
static void api_bundle_refused(struct http_req *req, int rc, const char *errmsg)
{
    TB_ASSERT(rc != TB_OK);
    const char *why = errmsg[0] != '\0' ? errmsg : tb_strerror(rc);
    if (rc == TB_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "%s", why);
    else if (rc == TB_ESTATE)
        http_reply_error(req, 409, "pending",
                         "the record is pending: acknowledged but not yet in a committed block; "
                         "ask again after the next block (%s)",
                         why);
    else
        api_reply_failure(req, rc, "proof", errmsg);
}

/*
 * Rendered bundles, cached. Everything in a bundle is fixed by the header it is taken at
 * (the header's log and state roots commit to the paths and proofs; any valid certificate
 * will do), and committed history never changes. So the JSON text is kept under a
 * content-addressed key, (record id, block hash, form): a second request for the same record
 * at the same header costs a read of the tip (or of that height's block hash) and a copy, and
 * an entry can never be served for another chain or another history, whichever node (or
 * test) asks. Bounded: API_CACHE_SETS x API_CACHE_WAYS entries of at most
 * API_CACHE_ENTRY_BYTES_MAX each, API_CACHE_BYTES_MAX in all, the least recently used one
 * replaced within a set. Only successes are kept (a pending or unknown record is asked again
 * each time). Every handler runs on the node's loop thread (node.h): no lock.
 */
#define API_CACHE_SETS 256u
#define API_CACHE_WAYS 4u
#define API_CACHE_ENTRY_BYTES_MAX (64u * 1024u)
#define API_CACHE_BYTES_MAX (16u * 1024u * 1024u)

_Static_assert(API_CACHE_SETS <= 256u, "the set index is one byte of the key");

struct api_cache_key
{
    uint8_t id[WIRE_HASH_BYTES];
    uint8_t block_hash[WIRE_HASH_BYTES];
    enum api_bundle_form form;
};

struct api_cache_entry
{
    struct api_cache_key key;
    uint8_t *text; /* tb_malloc'ed, len bytes; NULL: the entry is empty */
    size_t len;
    uint64_t used; /* api_cache.tick of the last use */
};

static struct
{
    struct api_cache_entry sets[API_CACHE_SETS][API_CACHE_WAYS];
    size_t bytes;
    uint64_t tick;
} api_cache;

static bool api_cache_key_eq(const struct api_cache_key *a, const struct api_cache_key *b)
{
    return a->form == b->form && memcmp(a->id, b->id, WIRE_HASH_BYTES) == 0 &&
           memcmp(a->block_hash, b->block_hash, WIRE_HASH_BYTES) == 0;
}

static struct api_cache_entry *api_cache_set(const struct api_cache_key *k)
{
    /* Both are hashes: one byte of each spreads the entries evenly. */
    return api_cache.sets[(size_t)(k->id[0] ^ k->block_hash[0]) % API_CACHE_SETS];
}

static const struct api_cache_entry *api_cache_find(const struct api_cache_key *k)
{
    struct api_cache_entry *set = api_cache_set(k);
    for (size_t w = 0; w < API_CACHE_WAYS; w++) {
        struct api_cache_entry *e = &set[w];
        if (e->text != NULL && api_cache_key_eq(&e->key, k)) {
            TB_ASSERT(e->len > 0 && e->len <= API_CACHE_ENTRY_BYTES_MAX);
            e->used = ++api_cache.tick;
            return e;
        }
    }
    return NULL;
}

/* Keeps a copy of text (best effort: nothing is kept when memory or the bounds say no). */
static void api_cache_put(const struct api_cache_key *k, const struct tb_buf *text)
{
    struct api_cache_entry *set = api_cache_set(k), *victim = &set[0];
    TB_ASSERT(api_cache.bytes <= API_CACHE_BYTES_MAX);
    if (text->len == 0 || text->len > API_CACHE_ENTRY_BYTES_MAX)
        return;
    for (size_t w = 1; w < API_CACHE_WAYS && victim->text != NULL; w++)
        if (set[w].text == NULL || set[w].used < victim->used)
            victim = &set[w];
    if (victim->text != NULL) {
        TB_ASSERT(api_cache.bytes >= victim->len);
        api_cache.bytes -= victim->len;
        tb_free(victim->text);
        memset(victim, 0, sizeof(*victim));
    }
    if (api_cache.bytes + text->len > API_CACHE_BYTES_MAX)
        return; /* full of other sets' entries: serve without keeping this one */
    uint8_t *copy = tb_malloc(text->len);
    if (copy == NULL)
        return;
    memcpy(copy, text->data, text->len);
    victim->key = *k;
    victim->text = copy;
    victim->len = text->len;
    victim->used = ++api_cache.tick;
    api_cache.bytes += text->len;
}

/*
 * Builds the bundle of id at height (0: the latest) in one read transaction, ended before
 * rendering, and renders it to out. TB_OK, or the proof_build / store / JSON error with
 * errmsg; the caller replies.
 */
static int api_bundle_render(struct node *n, struct store_txn *txn,
                             const uint8_t id[WIRE_HASH_BYTES], uint64_t height,
                             enum api_bundle_form form, struct tb_buf *out, char *errmsg)
{
    struct proof_bundle *b = proof_bundle_new();
    if (b == NULL) {
        store_abort(txn);
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    }
    int rc = proof_build(node_ledger(n), txn, id, height, b, errmsg);
    store_abort(txn);
    if (rc == TB_OK) {
        TB_ASSERT(memcmp(b->record_id, id, WIRE_HASH_BYTES) == 0);
        if (height > 0)
            TB_ASSERT(b->header_view.height == height);
        rc = proof_bundle_to_json(b, form == API_BUNDLE_CREDENTIAL ? PROOF_JSON_PRETTY : 0, out,
                                  errmsg);
    }
    proof_bundle_free(b);
    return rc;
}

/*
 * The cache key of (id, height, form): the block hash of height (0: the latest), read in txn.
 * TB_ENOTFOUND when nothing is committed at that height (yet); the store's errors.
 */
static int api_cache_key_get(struct node *n, struct store_txn *txn,
                             const uint8_t id[WIRE_HASH_BYTES], uint64_t *height,
                             enum api_bundle_form form, struct api_cache_key *k, char *errmsg)
{
    struct ledger_tip tip;
    memset(k, 0, sizeof(*k));
    memcpy(k->id, id, WIRE_HASH_BYTES);
    k->form = form;
    int rc = ledger_tip_get(node_ledger(n), txn, &tip, errmsg);
    if (rc != TB_OK)
        return rc;
    if (*height == 0 || *height == tip.state.height) {
        *height = tip.state.height; /* "latest" under a stable key */
        memcpy(k->block_hash, tip.state.block_hash, WIRE_HASH_BYTES);
        return tip.state.height > 0 ? TB_OK : TB_ENOTFOUND;
    }
    if (*height > tip.state.height)
        return TB_ENOTFOUND;
    return store_block_hash_get(txn, *height, k->block_hash, errmsg);
}

/*
 * The JSON text of the bundle of id at height (0: the latest committed header) appended to
 * out, from the cache or freshly built. Errors as proof_build (TB_ENOTFOUND, TB_ESTATE,
 * TB_EIO, TB_ENOMEM) and the store's, with errmsg.
 */
static int api_bundle_text(struct node *n, const uint8_t id[WIRE_HASH_BYTES], uint64_t height,
                           enum api_bundle_form form, struct tb_buf *out, char *errmsg)
{
    struct store_txn *txn = NULL;
    struct api_cache_key key;
    TB_ASSERT(out->len == 0);
    int rc = store_begin_read(node_store(n), &txn, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = api_cache_key_get(n, txn, id, &height, form, &key, errmsg);
    const struct api_cache_entry *hit = rc == TB_OK ? api_cache_find(&key) : NULL;
    if (hit != NULL) {
        store_abort(txn);
        return tb_buf_append(out, hit->text, hit->len);
    }
    /* A key that cannot be read (no such height): proof_build gives the answer and message. */
    bool keyed = rc == TB_OK;
    rc = api_bundle_render(n, txn, id, height, form, out, errmsg); /* ends txn */
    if (rc == TB_OK && keyed)
        api_cache_put(&key, out);
    return rc;
}

/* Sets Content-Disposition: attachment; filename="tongban-<first 16 hex of id>.json". */
static int api_credential_header(struct http_req *req, const uint8_t id[WIRE_HASH_BYTES])
{
    char hex[2 * WIRE_HASH_BYTES + 1];
    char value[64];
    tb_hex_encode(id, WIRE_HASH_BYTES, hex);
    int len = snprintf(value, sizeof(value), "attachment; filename=\"tongban-%.16s.json\"", hex);
    TB_ASSERT(len > 0 && (size_t)len < sizeof(value));
    return http_reply_header(req, "Content-Disposition", value);
}

/* Answers the bundle of id at height (0: the latest); replies in every case. */
static void api_bundle_answer(struct http_req *req, struct node *n,
                              const uint8_t id[WIRE_HASH_BYTES], uint64_t height,
                              enum api_bundle_form form)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct tb_buf text;
    tb_buf_init(&text, PROOF_JSON_MAX);
    int rc = api_bundle_text(n, id, height, form, &text, errmsg);
    if (rc != TB_OK)
        api_bundle_refused(req, rc, errmsg);
    else if (form == API_BUNDLE_CREDENTIAL && api_credential_header(req, id) != TB_OK)
        http_reply_error(req, 500, "internal", "out of memory");
    else
        http_reply_bytes(req, 200, "application/json", text.data, text.len);
    tb_buf_release(&text);
}

/* GET /v1/records/{id}/proof[?height=H] */
void api_h_record_proof(struct http_req *req, void *arg)
{
    uint8_t id[WIRE_HASH_BYTES];
    uint64_t height = 0;
    if (api_req_param_hex32(req, "id", id) != TB_OK)
        return;
    /* Absent: the latest header (proof_build's 0); present: a committed height, 1 or more. */
    if (http_req_query(req, "height") != NULL &&
        api_req_query_u64(req, "height", 1, UINT64_MAX, 1, &height) != TB_OK)
        return;
    api_bundle_answer(req, arg, id, height, API_BUNDLE_PLAIN);
}

/* GET /v1/records/{id}/credential: the latest bundle, pretty, as a file to keep. */
void api_h_record_credential(struct http_req *req, void *arg)
{
    uint8_t id[WIRE_HASH_BYTES];
    if (api_req_param_hex32(req, "id", id) != TB_OK)
        return;
    api_bundle_answer(req, arg, id, 0, API_BUNDLE_CREDENTIAL);
}

/* ------------------------------------------------------ credential URI and QR code */

/* GET /v1/resolve?uri=TONGBAN:...: this federation's credential URI -> the latest bundle. */
void api_h_resolve(struct http_req *req, void *arg)
{
    struct node *n = arg;
    uint8_t chain_id[WIRE_HASH_BYTES], prefix[QR_CHAIN_PREFIX_BYTES], id[QR_RECORD_ID_BYTES];
    char errmsg[TB_ERRMSG_SIZE] = "";
    _Static_assert(QR_RECORD_ID_BYTES == WIRE_HASH_BYTES, "a record id is one hash");
    const char *uri = http_req_query(req, "uri");
    if (uri == NULL) {
        http_reply_error(req, 400, "bad_request", "uri: required (a TONGBAN: credential URI)");
        return;
    }
    /* qr_uri_parse never repeats the text in its message. */
    if (qr_uri_parse(uri, strlen(uri), prefix, id, errmsg) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "uri: %s", errmsg);
        return;
    }
    ledger_chain_id(node_ledger(n), chain_id);
    if (qr_uri_chain_check(prefix, chain_id, errmsg) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "uri: %s", errmsg);
        return;
    }
    api_bundle_answer(req, n, id, 0, API_BUNDLE_PLAIN);
}

/* GET /v1/records/{id}/qr.png[?px=N]: the credential URI as a PNG, for a record this node knows. */
void api_h_record_qr(struct http_req *req, void *arg)
{
    struct node *n = arg;
    uint8_t id[WIRE_HASH_BYTES], chain_id[WIRE_HASH_BYTES];
    char uri[QR_URI_SIZE], errmsg[TB_ERRMSG_SIZE] = "";
    uint64_t px = 0;
    struct ledger_record *rec = NULL;
    struct tb_buf env, png;
    if (api_req_param_hex32(req, "id", id) != TB_OK ||
        api_req_query_u64(req, "px", 1, API_QR_PX_MAX, API_QR_PX_DEFAULT, &px) != TB_OK)
        return;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    if (api_record_read(req, n, id, &rec, &env) != TB_OK) {
        tb_buf_release(&env);
        return;
    }
    tb_buf_init(&png, API_QR_PNG_BYTES_MAX);
    if (rec->status == LEDGER_RECORD_UNKNOWN) {
        http_reply_error(req, 404, "not_found", "no record with this id on this node");
    } else {
        ledger_chain_id(node_ledger(n), chain_id);
        qr_uri_encode(chain_id, id, uri);
        int rc = qr_png(uri, (unsigned)px, API_QR_MARGIN_MODULES, &png, errmsg);
        if (rc != TB_OK)
            api_reply_failure(req, rc, "qr.png", errmsg);
        else
            http_reply_bytes(req, 200, "image/png", png.data, png.len);
    }
    tb_buf_release(&png);
    tb_buf_release(&env);
    tb_free(rec);
}

/* ------------------------------------------------------------ POST /v1/verify */

/* The verifier's clock: the node's wall clock, used only when the asker gives max_age. */
static uint64_t api_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    TB_ASSERT(ts.tv_sec >= 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Answers 200 with the result's JSON (proof_result_to_json), record_id filled when unknown. */
static void api_verify_reply(struct http_req *req, const struct proof_result *res,
                             const uint8_t *asked_id)
{
    struct tb_buf text;
    json_error_t jerr;
    tb_buf_init(&text, PROOF_JSON_MAX);
    int rc = proof_result_to_json(res, &text);
    json_t *j = rc == TB_OK ? json_loadb((const char *)text.data, text.len, 0, &jerr) : NULL;
    tb_buf_release(&text);
    /* The asker named a record the bundle could not speak for (unknown, pending): say which. */
    if (j != NULL && asked_id != NULL && json_is_null(json_object_get(j, "record_id")) &&
        json_object_set_new(j, "record_id", api_json_hex(asked_id, WIRE_HASH_BYTES)) != 0) {
        json_decref(j);
        j = NULL;
    }
    http_reply_json(req, 200, j); /* NULL: 500 */
}

/* A verdict reached without a bundle (a record id this node cannot prove). */
static void api_verify_without_bundle(struct http_req *req, enum proof_verdict v,
                                      const uint8_t id[WIRE_HASH_BYTES], const char *reason)
{
    struct proof_result *res = tb_calloc(1, sizeof(*res));
    if (res == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    res->verdict = v;
    res->reason_count = 1;
    snprintf(res->reasons[0], sizeof(res->reasons[0]), "%s", reason);
    api_verify_reply(req, res, id);
    tb_free(res);
}

/*
 * {"record_id": hex}: the bundle at the latest header (built fresh, or its text from the
 * cache), checked from its JSON text by proof_verify_json, as a client holding the file would.
 */
static void api_verify_record(struct http_req *req, struct node *n,
                              const uint8_t id[WIRE_HASH_BYTES],
                              const struct proof_verify_opts *opts)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct tb_buf text;
    struct proof_result *res = tb_calloc(1, sizeof(*res));
    tb_buf_init(&text, PROOF_JSON_MAX);
    int rc = res != NULL ? api_bundle_text(n, id, 0, API_BUNDLE_PLAIN, &text, errmsg) : TB_ENOMEM;
    if (rc == TB_ENOTFOUND) {
        api_verify_without_bundle(
            req, PROOF_NOT_ON_LEDGER, id,
            errmsg[0] != '\0' ? errmsg : "no record with this id on this node's ledger");
    } else if (rc == TB_ESTATE) {
        api_verify_without_bundle(req, PROOF_NOT_ON_LEDGER, id,
                                  "the record is pending: acknowledged but not yet committed");
    } else if (rc != TB_OK) {
        api_reply_failure(req, rc, "proof", errmsg);
    } else if ((rc = proof_verify_json(node_genesis(n), (const char *)text.data, text.len, opts,
                                       res)) != TB_OK) {
        api_reply_failure(req, rc, "verify", res->reason_count > 0 ? res->reasons[0] : "");
    } else {
        api_verify_reply(req, res, id);
    }
    tb_buf_release(&text);
    tb_free(res);
}

/* {"bundle": {...}}: decoded strictly and checked; a bundle that does not decode is malformed. */
static void api_verify_bundle(struct http_req *req, struct node *n, const json_t *bundle,
                              const struct proof_verify_opts *opts)
{
    struct proof_bundle *b = proof_bundle_new();
    struct proof_result *res = tb_calloc(1, sizeof(*res));
    if (b == NULL || res == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else {
        char why[TB_ERRMSG_SIZE] = "";
        int rc = proof_bundle_from_json_value((const struct json_t *)bundle, b, why);
        if (rc == TB_ENOMEM) {
            api_reply_failure(req, rc, "bundle", why);
        } else if (rc != TB_OK) { /* whatever the decoder refused, the bundle is malformed */
            res->verdict = PROOF_MALFORMED;
            res->reason_count = 1;
            snprintf(res->reasons[0], sizeof(res->reasons[0]), "%s",
                     why[0] != '\0' ? why : tb_strerror(rc));
            api_verify_reply(req, res, NULL);
        } else if ((rc = proof_verify_bundle(node_genesis(n), b, opts, res)) != TB_OK) {
            api_reply_failure(req, rc, "verify", res->reason_count > 0 ? res->reasons[0] : "");
        } else {
            api_verify_reply(req, res, NULL);
        }
    }
    tb_free(res);
    proof_bundle_free(b);
}

/* max_age (optional): seconds, 0..API_MAX_AGE_S_MAX; 400 otherwise. */
static int api_verify_opts(struct http_req *req, const json_t *body, struct proof_verify_opts *o)
{
    const json_t *age = json_object_get(body, "max_age");
    memset(o, 0, sizeof(*o));
    if (age == NULL)
        return TB_OK;
    if (!json_is_integer(age) || json_integer_value(age) < 0 ||
        (uint64_t)json_integer_value(age) > API_MAX_AGE_S_MAX) {
        http_reply_error(req, 400, "bad_request", "max_age: expected seconds in 0..%" PRIu64,
                         API_MAX_AGE_S_MAX);
        return TB_EINVAL;
    }
    o->has_max_age = true;
    o->max_age_s = (uint64_t)json_integer_value(age);
    o->now_ms = api_now_ms();
    return TB_OK;
}

/*
 * POST /v1/verify: {"bundle": {...}} or {"record_id": "<hex>"}, and optionally "max_age".
 * A request that is not one of those forms is 400; every verdict, malformed included, is 200.
 */
void api_h_verify(struct http_req *req, void *arg)
{
    static const char *const fields[] = {"bundle", "record_id", "max_age", NULL};
    struct node *n = arg;
    struct proof_verify_opts opts;
    uint8_t id[WIRE_HASH_BYTES];
    json_t *j = NULL;
    if (api_req_json_depth(req, API_VERIFY_BYTES_MAX, API_VERIFY_DEPTH_MAX, &j) != TB_OK)
        return;
    if (api_req_fields(req, j, fields) != TB_OK || api_verify_opts(req, j, &opts) != TB_OK) {
        json_decref(j);
        return;
    }
    const json_t *bundle = json_object_get(j, "bundle");
    const json_t *rid = json_object_get(j, "record_id");
    if ((bundle == NULL) == (rid == NULL)) {
        http_reply_error(req, 400, "bad_request", "give exactly one of bundle and record_id");
    } else if (bundle != NULL && !json_is_object(bundle)) {
        http_reply_error(req, 400, "bad_request", "bundle: expected a JSON object");
    } else if (bundle != NULL) {
        api_verify_bundle(req, n, bundle, &opts);
    } else if (!json_is_string(rid) ||
               api_hex32_parse(json_string_value(rid), json_string_length(rid), id) != TB_OK) {
        http_reply_error(req, 400, "bad_request", "record_id: expected 64 lowercase hex digits");
    } else {
        api_verify_record(req, n, id, &opts);
    }
    json_decref(j);
}

/* -------------------------------------------------------------- log evidence */

/* One committed block's header and certificate, copied out of a read transaction. */
struct api_header
{
    struct wire_header header;
    uint8_t header_bytes[PROOF_HEADER_BYTES_MAX];
    size_t header_len;
    uint8_t block_hash[WIRE_HASH_BYTES];
    struct tb_buf cert; /* empty: the node holds the block without a certificate */
};

/*
 * Reads the block at height (its header bytes, as hashed) and its certificate. TB_ENOTFOUND
 * (no committed block there), TB_EIO (a stored block or certificate that does not decode, or
 * a certificate for another block), TB_ENOMEM, TB_ELIMIT.
 */
static int api_header_load(struct node *n, struct store_txn *txn, uint64_t height,
                           struct api_header *out, char *errmsg)
{
    struct tb_buf blk;
    struct wire_block b;
    struct wire_cert *c = NULL;
    TB_ASSERT(out->cert.max >= WIRE_CERT_BYTES_MAX);
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    int rc = ledger_block_get(node_ledger(n), txn, height, &blk, errmsg);
    if (rc == TB_OK && wire_block_decode(blk.data, blk.len, &b, errmsg) != TB_OK)
        rc = TB_EIO; /* a stored block that does not decode: a corrupt store */
    if (rc != TB_OK) {
        tb_buf_release(&blk);
        return rc;
    }
    if (b.header_bytes.len > sizeof(out->header_bytes) || b.header.height != height) {
        rc = tb_fail(errmsg, TB_EIO, "stored block %" PRIu64 " has a bad header", height);
    } else {
        out->header = b.header;
        memcpy(out->header_bytes, b.header_bytes.ptr, b.header_bytes.len);
        out->header_len = b.header_bytes.len;
        wire_block_hash(ledger_suite(node_ledger(n)), out->header_bytes, out->header_len,
                        out->block_hash);
        rc = store_cert_get(txn, height, &out->cert, errmsg);
        if (rc == TB_ENOTFOUND)
            rc = TB_OK;
        else if (rc == TB_OK && (c = tb_malloc(sizeof(*c))) == NULL)
            rc = TB_ENOMEM;
        else if (rc == TB_OK &&
                 (wire_cert_decode(out->cert.data, out->cert.len, c, errmsg) != TB_OK ||
                  c->height != height ||
                  memcmp(c->block_hash, out->block_hash, WIRE_HASH_BYTES) != 0))
            rc = tb_fail(errmsg, TB_EIO, "stored certificate %" PRIu64 " is not this block's",
                         height);
    }
    tb_free(c);
    wire_block_release(&b);
    tb_buf_release(&blk);
    return rc;
}

/* The validator set as the bundle carries it: [{"city", "node_key"}] in set order. */
static json_t *api_json_validators(struct ledger *l)
{
    size_t count = ledger_validator_count(l);
    TB_ASSERT(count >= 1 && count <= WIRE_VALIDATORS_MAX);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        const struct cfg_member *m = ledger_validator(l, i, NULL);
        json_t *v = json_pack("{s:s,s:o}", "city", m->city, "node_key",
                              api_json_hex(m->node_key, m->node_key_len));
        if (json_array_append_new(list, v) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

static json_t *api_json_header_answer(struct ledger *l, const struct api_header *h)
{
    uint8_t set_hash[WIRE_HASH_BYTES];
    ledger_validator_set_hash(l, set_hash);
    /* The genesis set is the set at every height until member.change is applied (proof.h). */
    bool same_set = memcmp(set_hash, h->header.validator_set_hash, WIRE_HASH_BYTES) == 0;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "height", api_json_u64(h->header.height),
                     "block_hash", api_json_hex(h->block_hash, WIRE_HASH_BYTES), "header",
                     api_json_b64(h->header_bytes, h->header_len), "header_view",
                     api_json_header(&h->header), "certificate",
                     h->cert.len > 0 ? api_json_b64(h->cert.data, h->cert.len) : json_null(),
                     "validators", same_set ? api_json_validators(l) : json_null());
}

/* GET /v1/headers/{height} */
void api_h_header(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct store_txn *txn = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    uint64_t height = 0;
    if (api_req_param_u64(req, "height", 1, &height) != TB_OK)
        return;
    struct api_header *h = tb_calloc(1, sizeof(*h));
    if (h == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
        return;
    }
    tb_buf_init(&h->cert, WIRE_CERT_BYTES_MAX);
    if (api_req_read_begin(req, n, &txn) == TB_OK) {
        int rc = api_header_load(n, txn, height, h, errmsg);
        store_abort(txn);
        if (rc == TB_ENOTFOUND)
            http_reply_error(req, 404, "not_found", "no committed block at height %" PRIu64,
                             height);
        else if (rc != TB_OK)
            api_reply_failure(req, rc, "header", errmsg);
        else
            http_reply_json(req, 200, api_json_header_answer(node_ledger(n), h));
    }
    tb_buf_release(&h->cert);
    tb_free(h);
}

/* The two heights of a consistency request: first required, second defaults to the latest. */
struct api_consistency
{
    uint64_t height[2];
    struct api_header *h[2];
    struct cr_log_path path;
};

static json_t *api_json_log_point(const struct api_header *h)
{
    return json_pack("{s:o,s:o,s:o,s:o}", "height", api_json_u64(h->header.height), "block_hash",
                     api_json_hex(h->block_hash, WIRE_HASH_BYTES), "log_size",
                     api_json_u64(h->header.log_size), "log_root",
                     api_json_hex(h->header.log_root, WIRE_HASH_BYTES));
}

static json_t *api_json_consistency(const struct api_consistency *c)
{
    json_t *path = json_array();
    TB_ASSERT(c->path.count <= CR_LOG_PATH_MAX);
    for (uint32_t i = 0; path != NULL && i < c->path.count; i++) {
        if (json_array_append_new(path, api_json_hex(c->path.hashes[i], CR_HASH_BYTES)) != 0) {
            json_decref(path);
            path = NULL;
        }
    }
    return json_pack("{s:o,s:o,s:o}", "first", api_json_log_point(c->h[0]), "second",
                     api_json_log_point(c->h[1]), "path", path);
}

/*
 * Loads both headers and proves the log at the second extends the log at the first, from
 * the log tree as it is now (its nodes never change). The proof is checked before it is
 * served: a store that cannot prove its own history answers 500, never a wrong proof.
 */
static int api_consistency_prove(struct node *n, struct store_txn *txn, struct api_consistency *c,
                                 char *errmsg)
{
    struct ledger_tip tip;
    enum cr_suite suite = ledger_suite(node_ledger(n));
    int rc = ledger_tip_get(node_ledger(n), txn, &tip, errmsg);
    for (size_t i = 0; rc == TB_OK && i < 2; i++)
        rc = c->height[i] > tip.state.height
                 ? TB_ENOTFOUND
                 : api_header_load(n, txn, c->height[i], c->h[i], errmsg);
    if (rc != TB_OK)
        return rc;
    uint64_t size1 = c->h[0]->header.log_size, size2 = c->h[1]->header.log_size;
    if (size1 > size2 || size2 > tip.state.log_size)
        return tb_fail(errmsg, TB_EIO, "stored log sizes go backwards");
    struct cr_log *log = tb_calloc(1, sizeof(*log));
    if (log == NULL)
        return TB_ENOMEM;
    struct cr_log_store ls = store_log_tree(node_store(n));
    rc = cr_log_init(log, suite, &ls, txn, tip.state.log_size);
    if (rc == TB_OK) {
        rc = cr_log_consistency_proof(log, txn, size1, size2, &c->path);
        if (rc != TB_OK)
            snprintf(errmsg, TB_ERRMSG_SIZE, "%s", log->errmsg);
        cr_log_release(log);
    } else {
        snprintf(errmsg, TB_ERRMSG_SIZE, "%s", log->errmsg);
    }
    tb_free(log);
    if (rc == TB_OK && cr_log_verify_consistency(suite, size1, c->h[0]->header.log_root, size2,
                                                 c->h[1]->header.log_root, &c->path) != TB_OK)
        rc = tb_fail(errmsg, TB_EIO, "the log tree does not prove its own headers' roots");
    return rc == TB_ENOTFOUND ? TB_EIO : rc; /* a missing tree node is a corrupt store */
}

static int api_consistency_query(struct http_req *req, struct api_consistency *c)
{
    if (http_req_query(req, "first") == NULL) {
        http_reply_error(req, 400, "bad_request", "first: required (a committed height)");
        return TB_EINVAL;
    }
    if (api_req_query_u64(req, "first", 1, UINT64_MAX, 1, &c->height[0]) != TB_OK ||
        api_req_query_u64(req, "second", 0, UINT64_MAX, 0, &c->height[1]) != TB_OK)
        return TB_EINVAL;
    if (http_req_query(req, "second") != NULL && c->height[1] < c->height[0]) {
        http_reply_error(req, 400, "bad_request", "second must not be below first");
        return TB_EINVAL;
    }
    return TB_OK;
}

/* GET /v1/log/consistency?first=H1[&second=H2] (heights; second defaults to the latest) */
void api_h_log_consistency(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct store_txn *txn = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct api_consistency *c = tb_calloc(1, sizeof(*c));
    if (c == NULL || (c->h[0] = tb_calloc(1, sizeof(*c->h[0]))) == NULL ||
        (c->h[1] = tb_calloc(1, sizeof(*c->h[1]))) == NULL) {
        http_reply_error(req, 500, "internal", "out of memory");
    } else if (api_consistency_query(req, c) == TB_OK &&
               api_req_read_begin(req, n, &txn) == TB_OK) {
        tb_buf_init(&c->h[0]->cert, WIRE_CERT_BYTES_MAX);
        tb_buf_init(&c->h[1]->cert, WIRE_CERT_BYTES_MAX);
        int rc = TB_OK;
        if (c->height[1] == 0) { /* second absent: the latest committed height */
            struct ledger_tip tip;
            rc = ledger_tip_get(node_ledger(n), txn, &tip, errmsg);
            c->height[1] = tip.state.height;
        }
        if (rc == TB_OK && c->height[1] < c->height[0])
            rc = TB_ENOTFOUND;
        if (rc == TB_OK)
            rc = api_consistency_prove(n, txn, c, errmsg);
        store_abort(txn);
        if (rc == TB_ENOTFOUND)
            http_reply_error(req, 404, "not_found", "no committed block at height %" PRIu64,
                             c->height[0] > c->height[1] ? c->height[0] : c->height[1]);
        else if (rc != TB_OK)
            api_reply_failure(req, rc, "consistency", errmsg);
        else
            http_reply_json(req, 200, api_json_consistency(c));
        tb_buf_release(&c->h[0]->cert);
        tb_buf_release(&c->h[1]->cert);
    }
    if (c != NULL) {
        tb_free(c->h[0]);
        tb_free(c->h[1]);
    }
    tb_free(c);
}
