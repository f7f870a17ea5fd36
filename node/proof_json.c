/*
 * node/proof_json.c: a proof bundle (proof.h) to and from its JSON form (docs/proofs.md), and
 * a verification result to JSON.
 *
 * The decoder takes untrusted text: every object must have exactly its known keys (optional
 * parts are present as null), no duplicate keys, integers in [0, 2^62), lowercase hex of the
 * exact length, canonical padded base64 within each field's limit, and the
 * status proofs and values must decode strictly. Hashes and signatures are not its business:
 * proof_verify.c checks them.
 *
 * Must never: accept a key it does not know, keep a jansson object past a call, or assert on
 * anything in the input.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "proof.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define PROOF_JSON_INT_MAX (UINT64_C(1) << 62) /* far above any height, size or time */

/* ------------------------------------------------------------------ encode */

static json_t *proof_hex(const uint8_t *p, size_t n)
{
    char text[2 * CFG_NODE_KEY_MAX + 1];
    TB_ASSERT(n <= CFG_NODE_KEY_MAX);
    tb_hex_encode(p, n, text);
    return json_string(text);
}

static json_t *proof_b64(const uint8_t *p, size_t n)
{
    char *text = tb_malloc(TB_BASE64_ENCODED_SIZE(n));
    if (text == NULL)
        return NULL;
    tb_base64_encode(p, n, text);
    json_t *j = json_string(text);
    tb_free(text);
    return j;
}

static json_t *proof_uint(uint64_t v)
{
    if (v >= PROOF_JSON_INT_MAX)
        return NULL;
    return json_integer((json_int_t)v);
}

/* json_object_set_new that remembers a failure (a NULL value or an allocation failure). */
static void proof_set(json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *ok = false;
}

static json_t *proof_inclusion_json(const struct proof_inclusion *inc, bool *ok)
{
    if (!inc->present)
        return json_null();
    json_t *o = json_object(), *path = json_array();
    if (o == NULL || path == NULL) {
        json_decref(o);
        json_decref(path);
        *ok = false;
        return NULL;
    }
    proof_set(o, "leaf_index", proof_uint(inc->leaf_index), ok);
    proof_set(o, "tree_size", proof_uint(inc->tree_size), ok);
    for (uint32_t i = 0; i < inc->path.count && i < CR_LOG_PATH_MAX; i++)
        if (json_array_append_new(path, proof_hex(inc->path.hashes[i], CR_HASH_BYTES)) != 0)
            *ok = false;
    proof_set(o, "path", path, ok);
    return o;
}

static json_t *proof_status_json(const struct proof_status *st, bool *ok)
{
    uint8_t enc[CR_SMT_PROOF_ENCODED_MAX];
    size_t len = 0;
    json_t *o = json_object();
    if (o == NULL || cr_smt_proof_encode(&st->proof, enc, sizeof(enc), &len) != TB_OK) {
        json_decref(o);
        *ok = false;
        return NULL;
    }
    proof_set(o, "proof", proof_b64(enc, len), ok);
    proof_set(o, "value", st->has_value ? proof_b64(st->value, st->value_len) : json_null(), ok);
    return o;
}

static json_t *proof_header_view_json(const struct proof_header_view *v, bool *ok)
{
    json_t *o = json_object();
    if (o == NULL) {
        *ok = false;
        return NULL;
    }
    proof_set(o, "height", proof_uint(v->height), ok);
    proof_set(o, "time_ms", proof_uint(v->time_ms), ok);
    proof_set(o, "log_size", proof_uint(v->log_size), ok);
    proof_set(o, "log_root", proof_hex(v->log_root, WIRE_HASH_BYTES), ok);
    proof_set(o, "state_root", proof_hex(v->state_root, WIRE_HASH_BYTES), ok);
    proof_set(o, "block_hash", proof_hex(v->block_hash, WIRE_HASH_BYTES), ok);
    return o;
}

static json_t *proof_validators_json(const struct proof_bundle *b, bool *ok)
{
    json_t *a = json_array();
    if (a == NULL || b->validator_count > WIRE_VALIDATORS_MAX) {
        json_decref(a);
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < b->validator_count; i++) {
        const struct proof_validator *v = &b->validators[i];
        json_t *o = json_object();
        if (o == NULL || v->node_key_len > CFG_NODE_KEY_MAX) {
            json_decref(o);
            *ok = false;
            continue;
        }
        proof_set(o, "city", json_string(v->city), ok);
        proof_set(o, "node_key", proof_hex(v->node_key, v->node_key_len), ok);
        if (json_array_append_new(a, o) != 0)
            *ok = false;
    }
    return a;
}

static json_t *proof_bundle_json(const struct proof_bundle *b, bool *ok)
{
    json_t *o = json_object(), *ag = json_object();
    if (o == NULL || ag == NULL) {
        json_decref(o);
        json_decref(ag);
        *ok = false;
        return NULL;
    }
    const char *suite = cr_suite_name(b->suite);
    proof_set(o, "version", proof_uint(b->version), ok);
    proof_set(o, "suite", suite != NULL ? json_string(suite) : NULL, ok);
    proof_set(o, "chain_id", proof_hex(b->chain_id, WIRE_HASH_BYTES), ok);
    proof_set(o, "record_id", proof_hex(b->record_id, WIRE_HASH_BYTES), ok);
    proof_set(o, "record", proof_b64(b->record.data, b->record.len), ok);
    proof_set(o, "header", proof_b64(b->header.data, b->header.len), ok);
    proof_set(o, "header_view", proof_header_view_json(&b->header_view, ok), ok);
    proof_set(o, "certificate", proof_b64(b->certificate.data, b->certificate.len), ok);
    proof_set(o, "validators", proof_validators_json(b, ok), ok);
    proof_set(o, "record_inclusion", proof_inclusion_json(&b->record_inclusion, ok), ok);
    proof_set(o, "record_status", proof_status_json(&b->record_status, ok), ok);
    proof_set(ag, "register", proof_b64(b->agency_register.data, b->agency_register.len), ok);
    proof_set(ag, "inclusion", proof_inclusion_json(&b->agency_inclusion, ok), ok);
    proof_set(ag, "status", proof_status_json(&b->agency_status, ok), ok);
    proof_set(o, "agency", ag, ok);
    return o;
}

/*
 * The compact form is written straight into the buffer (no jansson object tree: building and
 * freeing that tree was half the cost of serving a bundle). It is byte for byte what jansson's
 * JSON_COMPACT dump of the same document gives (the tests parse it with jansson, dump it
 * compact and compare). A failed append
 * frees out (tb_buf); *ok turns false for a value that cannot be represented.
 */
struct proof_w
{
    struct tb_buf *out;
    int rv;
};

static void pw_raw(struct proof_w *w, const char *s, size_t n)
{
    if (w->rv == TB_OK)
        w->rv = tb_buf_append(w->out, s, n);
}

static void pw_lit(struct proof_w *w, const char *s)
{
    pw_raw(w, s, strlen(s));
}

static void pw_u64(struct proof_w *w, uint64_t v)
{
    char text[24];
    if (v >= PROOF_JSON_INT_MAX && w->rv == TB_OK)
        w->rv = TB_EINVAL;
    int n = snprintf(text, sizeof(text), "%" PRIu64, v);
    pw_raw(w, text, (size_t)n);
}

static void pw_hex(struct proof_w *w, const uint8_t *p, size_t n)
{
    char text[2 * CFG_NODE_KEY_MAX + 3];
    TB_ASSERT(n <= CFG_NODE_KEY_MAX);
    text[0] = '"';
    tb_hex_encode(p, n, text + 1);
    text[2 * n + 1] = '"';
    pw_raw(w, text, 2 * n + 2);
}

static void pw_b64(struct proof_w *w, const uint8_t *p, size_t n)
{
    size_t size = TB_BASE64_ENCODED_SIZE(n); /* with the NUL */
    pw_lit(w, "\"");
    if (w->rv == TB_OK)
        w->rv = tb_buf_reserve(w->out, size);
    if (w->rv != TB_OK)
        return;
    tb_base64_encode(p, n, (char *)w->out->data + w->out->len);
    w->out->len += size - 1;
    pw_lit(w, "\"");
}

/* A city code: 1..CFG_CITY_MAX bytes of [0-9A-Za-z_-] (the genesis rule), nothing to escape. */
static bool proof_city_ok(const char *s, size_t n)
{
    return n >= 1 && n <= CFG_CITY_MAX &&
           strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") == n;
}

/* A city code is written as is; anything else is refused rather than escaped. */
static void pw_city(struct proof_w *w, const char *s)
{
    size_t n = strnlen(s, CFG_CITY_MAX + 1);
    if (!proof_city_ok(s, n)) {
        if (w->rv == TB_OK)
            w->rv = TB_EINVAL;
        return;
    }
    pw_lit(w, "\"");
    pw_raw(w, s, n);
    pw_lit(w, "\"");
}

static void pw_inclusion(struct proof_w *w, const struct proof_inclusion *inc)
{
    if (!inc->present) {
        pw_lit(w, "null");
        return;
    }
    if (inc->path.count > CR_LOG_PATH_MAX && w->rv == TB_OK)
        w->rv = TB_EINVAL;
    pw_lit(w, "{\"leaf_index\":");
    pw_u64(w, inc->leaf_index);
    pw_lit(w, ",\"tree_size\":");
    pw_u64(w, inc->tree_size);
    pw_lit(w, ",\"path\":[");
    for (uint32_t i = 0; w->rv == TB_OK && i < inc->path.count; i++) {
        if (i > 0)
            pw_lit(w, ",");
        pw_hex(w, inc->path.hashes[i], CR_HASH_BYTES);
    }
    pw_lit(w, "]}");
}

static void pw_status(struct proof_w *w, const struct proof_status *st)
{
    uint8_t enc[CR_SMT_PROOF_ENCODED_MAX];
    size_t len = 0;
    if (cr_smt_proof_encode(&st->proof, enc, sizeof(enc), &len) != TB_OK ||
        st->value_len > sizeof(st->value)) {
        if (w->rv == TB_OK)
            w->rv = TB_EINVAL;
        return;
    }
    pw_lit(w, "{\"proof\":");
    pw_b64(w, enc, len);
    pw_lit(w, ",\"value\":");
    if (st->has_value)
        pw_b64(w, st->value, st->value_len);
    else
        pw_lit(w, "null");
    pw_lit(w, "}");
}

static void pw_header(struct proof_w *w, const struct proof_bundle *b)
{
    const struct proof_header_view *v = &b->header_view;
    pw_lit(w, ",\"header\":");
    pw_b64(w, b->header.data, b->header.len);
    pw_lit(w, ",\"header_view\":{\"height\":");
    pw_u64(w, v->height);
    pw_lit(w, ",\"time_ms\":");
    pw_u64(w, v->time_ms);
    pw_lit(w, ",\"log_size\":");
    pw_u64(w, v->log_size);
    pw_lit(w, ",\"log_root\":");
    pw_hex(w, v->log_root, WIRE_HASH_BYTES);
    pw_lit(w, ",\"state_root\":");
    pw_hex(w, v->state_root, WIRE_HASH_BYTES);
    pw_lit(w, ",\"block_hash\":");
    pw_hex(w, v->block_hash, WIRE_HASH_BYTES);
    pw_lit(w, "},\"certificate\":");
    pw_b64(w, b->certificate.data, b->certificate.len);
    pw_lit(w, ",\"validators\":[");
    if (b->validator_count > WIRE_VALIDATORS_MAX && w->rv == TB_OK)
        w->rv = TB_EINVAL;
    for (size_t i = 0; w->rv == TB_OK && i < b->validator_count; i++) {
        const struct proof_validator *pv = &b->validators[i];
        pw_lit(w, i > 0 ? ",{\"city\":" : "{\"city\":");
        pw_city(w, pv->city);
        pw_lit(w, ",\"node_key\":");
        if (pv->node_key_len > CFG_NODE_KEY_MAX && w->rv == TB_OK)
            w->rv = TB_EINVAL;
        if (w->rv == TB_OK)
            pw_hex(w, pv->node_key, pv->node_key_len);
        pw_lit(w, "}");
    }
    pw_lit(w, "]");
}

static int proof_bundle_write_compact(const struct proof_bundle *b, struct tb_buf *out)
{
    struct proof_w w = {.out = out, .rv = TB_OK};
    const char *suite = cr_suite_name(b->suite);
    if (suite == NULL)
        return TB_EINVAL;
    pw_lit(&w, "{\"version\":");
    pw_u64(&w, b->version);
    pw_lit(&w, ",\"suite\":\"");
    pw_lit(&w, suite);
    pw_lit(&w, "\",\"chain_id\":");
    pw_hex(&w, b->chain_id, WIRE_HASH_BYTES);
    pw_lit(&w, ",\"record_id\":");
    pw_hex(&w, b->record_id, WIRE_HASH_BYTES);
    pw_lit(&w, ",\"record\":");
    pw_b64(&w, b->record.data, b->record.len);
    pw_header(&w, b);
    pw_lit(&w, ",\"record_inclusion\":");
    pw_inclusion(&w, &b->record_inclusion);
    pw_lit(&w, ",\"record_status\":");
    pw_status(&w, &b->record_status);
    pw_lit(&w, ",\"agency\":{\"register\":");
    pw_b64(&w, b->agency_register.data, b->agency_register.len);
    pw_lit(&w, ",\"inclusion\":");
    pw_inclusion(&w, &b->agency_inclusion);
    pw_lit(&w, ",\"status\":");
    pw_status(&w, &b->agency_status);
    pw_lit(&w, "}}");
    return w.rv;
}

/* The indented form (files), through jansson: rare, and its layout is jansson's. */
static int proof_bundle_write_pretty(const struct proof_bundle *b, struct tb_buf *out)
{
    bool ok = true;
    json_t *doc = proof_bundle_json(b, &ok);
    if (!ok) {
        json_decref(doc);
        return TB_EINVAL;
    }
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (text == NULL)
        return TB_ENOMEM;
    int rv = tb_buf_append(out, text, strlen(text));
    if (rv == TB_OK)
        rv = tb_buf_append_byte(out, '\n');
    free(text); /* jansson's allocator */
    return rv;
}

int proof_bundle_to_json(const struct proof_bundle *b, uint32_t flags, struct tb_buf *out,
                         char *errmsg)
{
    size_t start = out->len;
    int rv = (flags & PROOF_JSON_PRETTY) ? proof_bundle_write_pretty(b, out)
                                         : proof_bundle_write_compact(b, out);
    if (rv == TB_EINVAL) {
        out->len = start; /* out still holds what it had */
        return tb_fail(errmsg, rv, "bundle cannot be represented as JSON (a value over its limit)");
    }
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "bundle JSON does not fit its buffer (or out of memory)");
    return TB_OK;
}

/* ------------------------------------------------------------------ decode */

/* obj must be an object with exactly these keys. */
static int proof_keys(const json_t *obj, const char *path, const char *const *keys, size_t n,
                      char *errmsg)
{
    if (!json_is_object(obj))
        return tb_fail(errmsg, TB_EMALFORMED, "%s: expected an object", path);
    for (size_t i = 0; i < n; i++)
        if (json_object_get(obj, keys[i]) == NULL)
            return tb_fail(errmsg, TB_EMALFORMED, "%s: missing key \"%s\"", path, keys[i]);
    if (json_object_size(obj) != n) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            bool known = false;
            for (size_t i = 0; i < n; i++)
                known = known || strcmp(key, keys[i]) == 0;
            if (!known)
                return tb_fail(errmsg, TB_EMALFORMED, "%s: unknown key \"%.64s\"", path, key);
        }
    }
    return TB_OK;
}

static int proof_get_uint(const json_t *obj, const char *path, const char *key, uint64_t *out,
                          char *errmsg)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) >= PROOF_JSON_INT_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "%s.%s: expected an integer in [0, 2^62)", path, key);
    *out = (uint64_t)json_integer_value(v);
    return TB_OK;
}

static int proof_str(const json_t *v, const char *path, const char *key, const char **s,
                     size_t *len, char *errmsg)
{
    if (!json_is_string(v))
        return tb_fail(errmsg, TB_EMALFORMED, "%s%s%s: expected a string", path, key[0] ? "." : "",
                       key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return TB_OK;
}

/* Lowercase hex only: one spelling per value, as the encoder writes it. */
static bool proof_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Exactly n bytes of lowercase hex. */
static int proof_get_hex(const json_t *v, const char *path, const char *key, uint8_t *out, size_t n,
                         char *errmsg)
{
    const char *s = NULL;
    size_t len = 0;
    int rv = proof_str(v, path, key, &s, &len, errmsg);
    if (rv == TB_OK &&
        (len != 2 * n || !proof_lower_hex(s, len) || tb_hex_decode(s, len, out, n) != TB_OK))
        rv = tb_fail(errmsg, TB_EMALFORMED, "%s%s%s: expected %zu lowercase hex digits", path,
                     key[0] ? "." : "", key, 2 * n);
    return rv;
}

/* Canonical base64 of 1..out->max bytes into out (replacing its contents). */
static int proof_get_b64(const json_t *v, const char *path, const char *key, struct tb_buf *out,
                         char *errmsg)
{
    const char *s = NULL;
    size_t len = 0, n = 0;
    int rv = proof_str(v, path, key, &s, &len, errmsg);
    if (rv != TB_OK)
        return rv;
    if (len == 0 || len / 4 * 3 > out->max + 2)
        return tb_fail(errmsg, len == 0 ? TB_EMALFORMED : TB_ELIMIT,
                       "%s.%s: expected base64 of 1..%zu bytes", path, key, out->max);
    size_t want = len / 4 * 3 < out->max ? len / 4 * 3 : out->max;
    tb_buf_reset(out);
    rv = tb_buf_reserve(out, want);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "%s.%s: out of memory", path, key);
    TB_ASSERT(out->cap >= want);
    rv = tb_base64_decode(s, len, out->data, want, &n);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv == TB_ELIMIT ? rv : TB_EMALFORMED,
                       "%s.%s: not canonical base64 (or over %zu bytes)", path, key, out->max);
    out->len = n;
    return TB_OK;
}

static int proof_inclusion_parse(const json_t *v, const char *path, struct proof_inclusion *out,
                                 char *errmsg)
{
    static const char *const keys[] = {"leaf_index", "tree_size", "path"};
    memset(out, 0, sizeof(*out));
    if (json_is_null(v))
        return TB_OK;
    int rv = proof_keys(v, path, keys, 3, errmsg);
    if (rv == TB_OK)
        rv = proof_get_uint(v, path, "leaf_index", &out->leaf_index, errmsg);
    if (rv == TB_OK)
        rv = proof_get_uint(v, path, "tree_size", &out->tree_size, errmsg);
    if (rv != TB_OK)
        return rv;
    const json_t *a = json_object_get(v, "path");
    if (!json_is_array(a) || json_array_size(a) > CR_LOG_PATH_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "%s.path: expected an array of at most %d hashes",
                       path, CR_LOG_PATH_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[96];
        snprintf(p, sizeof(p), "%s.path[%zu]", path, i);
        rv = proof_get_hex(json_array_get(a, i), p, "", out->path.hashes[i], CR_HASH_BYTES, errmsg);
        if (rv != TB_OK)
            return rv;
    }
    out->path.count = (uint32_t)json_array_size(a);
    out->present = true;
    return TB_OK;
}

static int proof_status_parse(const json_t *v, const char *path, struct proof_status *out,
                              char *errmsg)
{
    static const char *const keys[] = {"proof", "value"};
    struct tb_buf raw;
    memset(out, 0, sizeof(*out));
    int rv = proof_keys(v, path, keys, 2, errmsg);
    if (rv != TB_OK)
        return rv;
    tb_buf_init(&raw, CR_SMT_PROOF_ENCODED_MAX);
    rv = proof_get_b64(json_object_get(v, "proof"), path, "proof", &raw, errmsg);
    if (rv == TB_OK && cr_smt_proof_decode(raw.data, raw.len, &out->proof) != TB_OK)
        rv = tb_fail(errmsg, TB_EMALFORMED, "%s.proof: not a canonical status-tree proof", path);
    const json_t *val = json_object_get(v, "value");
    if (rv == TB_OK && !json_is_null(val)) {
        struct wire_status st;
        tb_buf_release(&raw);
        tb_buf_init(&raw, PROOF_STATUS_VALUE_MAX);
        rv = proof_get_b64(val, path, "value", &raw, errmsg);
        if (rv == TB_OK && wire_status_decode(raw.data, raw.len, &st, NULL) != TB_OK)
            rv = tb_fail(errmsg, TB_EMALFORMED, "%s.value: not a canonical status value", path);
        if (rv == TB_OK) {
            memcpy(out->value, raw.data, raw.len);
            out->value_len = raw.len;
            out->has_value = true;
        }
    }
    tb_buf_release(&raw);
    return rv;
}

static int proof_header_view_parse(const json_t *v, struct proof_header_view *out, char *errmsg)
{
    static const char *const keys[] = {"height",   "time_ms",    "log_size",
                                       "log_root", "state_root", "block_hash"};
    const char *p = "header_view";
    int rv = proof_keys(v, p, keys, 6, errmsg);
    if (rv == TB_OK)
        rv = proof_get_uint(v, p, "height", &out->height, errmsg);
    if (rv == TB_OK)
        rv = proof_get_uint(v, p, "time_ms", &out->time_ms, errmsg);
    if (rv == TB_OK)
        rv = proof_get_uint(v, p, "log_size", &out->log_size, errmsg);
    if (rv == TB_OK)
        rv = proof_get_hex(json_object_get(v, "log_root"), p, "log_root", out->log_root,
                           WIRE_HASH_BYTES, errmsg);
    if (rv == TB_OK)
        rv = proof_get_hex(json_object_get(v, "state_root"), p, "state_root", out->state_root,
                           WIRE_HASH_BYTES, errmsg);
    if (rv == TB_OK)
        rv = proof_get_hex(json_object_get(v, "block_hash"), p, "block_hash", out->block_hash,
                           WIRE_HASH_BYTES, errmsg);
    return rv;
}

static int proof_validators_parse(const json_t *a, struct proof_bundle *out, char *errmsg)
{
    static const char *const keys[] = {"city", "node_key"};
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > WIRE_VALIDATORS_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "validators: expected an array of 1..%u members",
                       WIRE_VALIDATORS_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[48];
        const json_t *m = json_array_get(a, i);
        struct proof_validator *v = &out->validators[i];
        const char *s = NULL;
        size_t len = 0;
        snprintf(p, sizeof(p), "validators[%zu]", i);
        int rv = proof_keys(m, p, keys, 2, errmsg);
        if (rv == TB_OK)
            rv = proof_str(json_object_get(m, "city"), p, "city", &s, &len, errmsg);
        if (rv == TB_OK && (strlen(s) != len || !proof_city_ok(s, len)))
            rv = tb_fail(errmsg, TB_EMALFORMED, "%s.city: expected 1..%d of [0-9A-Za-z_-]", p,
                         CFG_CITY_MAX);
        if (rv != TB_OK)
            return rv;
        memcpy(v->city, s, len);
        v->city[len] = '\0';
        rv = proof_str(json_object_get(m, "node_key"), p, "node_key", &s, &len, errmsg);
        if (rv == TB_OK &&
            (!proof_lower_hex(s, len) || tb_hex_decode_var(s, len, v->node_key, sizeof(v->node_key),
                                                           &v->node_key_len) != TB_OK))
            rv = tb_fail(errmsg, TB_EMALFORMED,
                         "%s.node_key: expected lowercase hex of at most %d bytes", p,
                         CFG_NODE_KEY_MAX);
        if (rv == TB_OK && v->node_key_len == 0)
            rv = tb_fail(errmsg, TB_EMALFORMED, "%s.node_key: empty", p);
        if (rv != TB_OK)
            return rv;
    }
    out->validator_count = json_array_size(a);
    return TB_OK;
}

static int proof_agency_parse(const json_t *v, struct proof_bundle *out, char *errmsg)
{
    static const char *const keys[] = {"register", "inclusion", "status"};
    int rv = proof_keys(v, "agency", keys, 3, errmsg);
    if (rv == TB_OK)
        rv = proof_get_b64(json_object_get(v, "register"), "agency", "register",
                           &out->agency_register, errmsg);
    if (rv == TB_OK)
        rv = proof_inclusion_parse(json_object_get(v, "inclusion"), "agency.inclusion",
                                   &out->agency_inclusion, errmsg);
    if (rv == TB_OK)
        rv = proof_status_parse(json_object_get(v, "status"), "agency.status", &out->agency_status,
                                errmsg);
    return rv;
}

/* The top-level scalars: version, suite, chain_id, record_id. */
static int proof_top_parse(const json_t *doc, struct proof_bundle *out, char *errmsg)
{
    uint64_t version = 0;
    const char *s = NULL;
    size_t len = 0;
    int rv = proof_get_uint(doc, "bundle", "version", &version, errmsg);
    if (rv == TB_OK && version != PROOF_VERSION)
        rv = tb_fail(errmsg, TB_EMALFORMED, "bundle.version: %" PRIu64 " is not %u", version,
                     PROOF_VERSION);
    if (rv == TB_OK)
        rv = proof_str(json_object_get(doc, "suite"), "bundle", "suite", &s, &len, errmsg);
    if (rv == TB_OK && (strlen(s) != len || cr_suite_parse(s, &out->suite) != TB_OK))
        rv = tb_fail(errmsg, TB_EMALFORMED, "bundle.suite: unknown suite");
    if (rv == TB_OK)
        rv = proof_get_hex(json_object_get(doc, "chain_id"), "bundle", "chain_id", out->chain_id,
                           WIRE_HASH_BYTES, errmsg);
    if (rv == TB_OK)
        rv = proof_get_hex(json_object_get(doc, "record_id"), "bundle", "record_id", out->record_id,
                           WIRE_HASH_BYTES, errmsg);
    out->version = (uint32_t)version;
    return rv;
}

int proof_bundle_from_json_value(const struct json_t *value, struct proof_bundle *out, char *errmsg)
{
    static const char *const keys[] = {
        "version",     "suite",       "chain_id",   "record_id",        "record",        "header",
        "header_view", "certificate", "validators", "record_inclusion", "record_status", "agency"};
    const json_t *doc = (const json_t *)value;
    TB_ASSERT(out->record.max == WIRE_TX_BYTES_MAX); /* init'ed */
    int rv = proof_keys(doc, "bundle", keys, sizeof(keys) / sizeof(keys[0]), errmsg);
    if (rv == TB_OK)
        rv = proof_top_parse(doc, out, errmsg);
    if (rv == TB_OK)
        rv =
            proof_get_b64(json_object_get(doc, "record"), "bundle", "record", &out->record, errmsg);
    if (rv == TB_OK)
        rv =
            proof_get_b64(json_object_get(doc, "header"), "bundle", "header", &out->header, errmsg);
    if (rv == TB_OK)
        rv =
            proof_header_view_parse(json_object_get(doc, "header_view"), &out->header_view, errmsg);
    if (rv == TB_OK)
        rv = proof_get_b64(json_object_get(doc, "certificate"), "bundle", "certificate",
                           &out->certificate, errmsg);
    if (rv == TB_OK)
        rv = proof_validators_parse(json_object_get(doc, "validators"), out, errmsg);
    if (rv == TB_OK)
        rv = proof_inclusion_parse(json_object_get(doc, "record_inclusion"), "record_inclusion",
                                   &out->record_inclusion, errmsg);
    if (rv == TB_OK)
        rv = proof_status_parse(json_object_get(doc, "record_status"), "record_status",
                                &out->record_status, errmsg);
    if (rv == TB_OK)
        rv = proof_agency_parse(json_object_get(doc, "agency"), out, errmsg);
    return rv;
}

int proof_bundle_from_json(const char *text, size_t len, struct proof_bundle *out, char *errmsg)
{
    json_error_t jerr;
    if (len == 0 || text == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "bundle: empty");
    if (len > PROOF_JSON_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "bundle: %zu bytes, at most %u", len, PROOF_JSON_MAX);
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "bundle: not JSON: line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    int rv = proof_bundle_from_json_value(doc, out, errmsg);
    json_decref(doc);
    return rv;
}

/* ------------------------------------------------------------------ result */

static json_t *proof_opt_str(bool has, const char *s)
{
    return has ? json_string(s) : json_null();
}

static json_t *proof_opt_uint(bool has, uint64_t v)
{
    return has ? proof_uint(v) : json_null();
}

static const char *proof_state_name(uint8_t state)
{
    return state == 1 ? "valid" : state == 2 ? "revoked" : "absent";
}

int proof_result_to_json(const struct proof_result *r, struct tb_buf *out)
{
    const struct proof_facts *f = &r->facts;
    bool ok = true;
    json_t *o = json_object(), *reasons = json_array();
    if (o == NULL || reasons == NULL) {
        json_decref(o);
        json_decref(reasons);
        return TB_ENOMEM;
    }
    proof_set(o, "verdict", json_string(proof_verdict_name(r->verdict)), &ok);
    for (size_t i = 0; i < r->reason_count && i < PROOF_REASONS_MAX; i++)
        if (json_array_append_new(reasons, json_string(r->reasons[i])) != 0)
            ok = false;
    proof_set(o, "reasons", reasons, &ok);
    proof_set(o, "record_id",
              f->has_record ? proof_hex(f->record_id, WIRE_HASH_BYTES) : json_null(), &ok);
    proof_set(o, "type", proof_opt_str(f->has_record, f->type), &ok);
    proof_set(o, "city", proof_opt_str(f->has_record, f->city), &ok);
    proof_set(o, "agency", proof_opt_str(f->has_record, f->agency), &ok);
    proof_set(o, "status", proof_opt_str(f->has_status, proof_state_name(f->state)), &ok);
    proof_set(o, "issued_height", proof_opt_uint(f->has_status && f->state != 0, f->issued_height),
              &ok);
    proof_set(o, "revoked_height",
              proof_opt_uint(f->has_status && f->state == 2, f->revoked_height), &ok);
    proof_set(o, "expires_at", proof_opt_uint(f->has_record, f->expires_at), &ok);
    proof_set(o, "height", proof_opt_uint(f->has_header, f->height), &ok);
    proof_set(o, "time_ms", proof_opt_uint(f->has_header, f->time_ms), &ok);
    proof_set(o, "block_hash",
              f->has_header ? proof_hex(f->block_hash, WIRE_HASH_BYTES) : json_null(), &ok);
    proof_set(o, "chain_id", f->has_header ? proof_hex(f->chain_id, WIRE_HASH_BYTES) : json_null(),
              &ok);
    char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return TB_ENOMEM;
    int rv = tb_buf_append(out, text, strlen(text));
    free(text);
    return rv;
}
