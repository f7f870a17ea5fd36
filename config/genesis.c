/*
 * The genesis file (DESIGN 3.3): strict JSON in, validated struct out, canonical body
 * and chain id, and the same JSON back out in one stable layout.
 *
 * jansson is used only here and only through json_loadb with JSON_REJECT_DUPLICATES
 * on text this file has already bounded; its trailing-garbage check stays on. This
 * file must never accept an unknown key, a value of the wrong JSON type, or a genesis
 * whose members or types are not unique: every node derives the chain id from what it
 * accepts here, so leniency would split the federation.
 */
#include "genesis.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"
#include "cr_sign.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "wire.h"

#define CFG_GENESIS_BODY_MAX (256u * 1024u) /* 64 members and 256 types fit with room */

_Static_assert(CFG_MEMBERS_MAX <= WIRE_VALIDATORS_MAX, "every member can be a validator");
_Static_assert(CFG_TYPES_MAX <= WIRE_GENESIS_TYPES_MAX, "wire encodes every type");
_Static_assert(CFG_NAME_MAX <= WIRE_NAME_BYTES_MAX, "wire encodes every name");
_Static_assert(CFG_FEDERATION_MAX <= WIRE_NAME_BYTES_MAX, "wire encodes the federation");
_Static_assert(CFG_ENDPOINT_MAX <= WIRE_ENDPOINT_BYTES_MAX, "wire encodes every endpoint");
_Static_assert(CFG_TYPE_MAX <= WIRE_TYPE_BYTES_MAX, "wire encodes every type name");
_Static_assert(CFG_NODE_KEY_MAX == CR_PUBKEY_MAX, "node keys are suite public keys");
_Static_assert(CFG_GENESIS_BODY_MAX >= WIRE_GENESIS_BYTES_MAX, "room for any body");

static const char *const gen_top_keys[] = {"suite", "federation", "created_at", "members",
                                           "record_types"};
static const char *const gen_member_keys[] = {"city", "name", "node_key", "endpoint"};
static const char *const gen_type_keys[] = {"type", "sharing"};

const char *cfg_sharing_name(enum cfg_sharing sharing)
{
    switch (sharing) {
    case CFG_SHARING_OPEN:
        return "open";
    case CFG_SHARING_CONSENT:
        return "consent";
    case CFG_SHARING_CLOSED:
        return "closed";
    }
    return NULL;
}

static size_t gen_key_len(enum cr_suite suite)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    return suite == CR_SUITE_ED25519_SHA256 ? CR_ED25519_PUBKEY_BYTES : CR_SM2_PUBKEY_BYTES;
}

/* "source: path: reason" into errmsg; returns code. */
TB_PRINTF(5, 6)
static int gen_fail(char *errmsg, int code, const char *source, const char *path, const char *fmt,
                    ...)
{
    char reason[TB_ERRMSG_SIZE];
    va_list ap;
    TB_ASSERT(code < 0);
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return tb_fail(errmsg, code, "%s: %s: %s", source, path, reason);
}

/* Refuses any key of `obj` that is not in `allowed`. */
static int gen_check_keys(json_t *obj, const char *const *allowed, size_t count, const char *source,
                          const char *prefix, char *errmsg)
{
    const char *key;
    json_t *value;
    TB_ASSERT(json_is_object(obj));
    TB_ASSERT(count > 0);
    json_object_foreach(obj, key, value)
    {
        size_t i = 0;
        while (i < count && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == count) {
            char path[96];
            /* The key is valid UTF-8 (jansson checks) but may be long or odd: cut it. */
            snprintf(path, sizeof(path), "%s%.40s", prefix, key);
            return gen_fail(errmsg, TB_ECONFIG, source, path, "unknown key");
        }
    }
    return TB_OK;
}

/* Fetches a required string member; its length comes from jansson, never strlen. */
static int gen_get_string(json_t *obj, const char *key, const char *source, const char *prefix,
                          const char **val, size_t *len, char *errmsg)
{
    char path[96];
    json_t *v = json_object_get(obj, key);
    snprintf(path, sizeof(path), "%s%s", prefix, key);
    if (v == NULL)
        return gen_fail(errmsg, TB_ECONFIG, source, path, "missing");
    if (!json_is_string(v))
        return gen_fail(errmsg, TB_ECONFIG, source, path, "expected a string");
    *val = json_string_value(v);
    *len = json_string_length(v);
    TB_ASSERT(*val != NULL);
    TB_ASSERT(memchr(*val, 0, *len) == NULL); /* no JSON_ALLOW_NUL */
    return TB_OK;
}

/* Checks a member's decoded key: length, SM2 point form, and a valid point (crypto/). */
static int gen_check_node_key(const uint8_t *key, size_t len, enum cr_suite suite, char *why)
{
    TB_ASSERT(key != NULL);
    if (len != gen_key_len(suite))
        return tb_fail(why, TB_ECONFIG, "expected %zu bytes for %s, got %zu", gen_key_len(suite),
                       cr_suite_name(suite), len);
    if (suite == CR_SUITE_SM2_SM3 && key[0] != 0x04)
        return tb_fail(why, TB_ECONFIG,
                       "sm2-sm3 node key must be an uncompressed point starting with 04");
    /* A point off the curve, a non-canonical or small-order Ed25519 encoding is refused
     * here, at genesis time, rather than at the member's first signature. */
    struct cr_key *k = NULL;
    int rc = cr_key_from_public(suite, key, len, &k);
    cr_key_free(k);
    if (rc == TB_ENOMEM)
        return tb_fail(why, rc, "out of memory");
    if (rc != TB_OK)
        return tb_fail(why, TB_ECONFIG, "not a valid %s public key", cr_suite_name(suite));
    return TB_OK;
}

/* Validates the fields of a member that is already in C form. */
static int gen_member_check(const struct cfg_member *m, enum cr_suite suite, const char **field,
                            char *why)
{
    int rc;
    TB_ASSERT(m != NULL);
    TB_ASSERT(field != NULL);
    *field = "city";
    if ((rc = cfg_check_city(m->city, strnlen(m->city, sizeof(m->city)), why)) != TB_OK)
        return rc;
    *field = "name";
    if ((rc = cfg_check_text(m->name, strnlen(m->name, sizeof(m->name)), CFG_NAME_MAX, why)) !=
        TB_OK)
        return rc;
    *field = "node_key";
    if ((rc = gen_check_node_key(m->node_key, m->node_key_len, suite, why)) != TB_OK)
        return rc;
    *field = "endpoint";
    return cfg_check_endpoint(m->endpoint, strnlen(m->endpoint, sizeof(m->endpoint)), why);
}

/* Copies a JSON string into a fixed field, refusing what does not fit. */
static int gen_copy_string(json_t *obj, const char *key, char *dst, size_t dst_size,
                           const char *source, const char *prefix, char *errmsg)
{
    const char *val = NULL;
    size_t len = 0;
    int rc = gen_get_string(obj, key, source, prefix, &val, &len, errmsg);
    if (rc != TB_OK)
        return rc;
    if (len >= dst_size) {
        char path[96];
        snprintf(path, sizeof(path), "%s%s", prefix, key);
        return gen_fail(errmsg, TB_ECONFIG, source, path, "longer than %zu bytes", dst_size - 1);
    }
    memcpy(dst, val, len);
    dst[len] = '\0';
    return TB_OK;
}

static int gen_member_key_from_json(json_t *obj, enum cr_suite suite, const char *source,
                                    const char *prefix, struct cfg_member *out, char *errmsg)
{
    const char *hex;
    size_t hex_len, want = 2 * gen_key_len(suite);
    char path[96];
    int rc = gen_get_string(obj, "node_key", source, prefix, &hex, &hex_len, errmsg);
    if (rc != TB_OK)
        return rc;
    snprintf(path, sizeof(path), "%snode_key", prefix);
    if (hex_len != want)
        return gen_fail(errmsg, TB_ECONFIG, source, path, "expected %zu hex digits for %s, got %zu",
                        want, cr_suite_name(suite), hex_len);
    if (tb_hex_decode(hex, hex_len, out->node_key, want / 2) != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, source, path, "not a hex string");
    out->node_key_len = want / 2;
    return TB_OK;
}

/* One member object, with `prefix` ("members[2]." or "") naming it in errors. */
static int gen_member_from_json(json_t *obj, enum cr_suite suite, const char *source,
                                const char *prefix, struct cfg_member *out, char *errmsg)
{
    char why[TB_ERRMSG_SIZE], path[96];
    const char *field = "";
    int rc;

    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        /* "members[2]." names the object as "members[2]". */
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(prefix, "."), prefix);
        return gen_fail(errmsg, TB_ECONFIG, source, path[0] ? path : "member",
                        "expected an object");
    }
    if ((rc = gen_check_keys(obj, gen_member_keys, 4, source, prefix, errmsg)) != TB_OK ||
        (rc = gen_copy_string(obj, "city", out->city, sizeof(out->city), source, prefix, errmsg)) !=
            TB_OK ||
        (rc = gen_copy_string(obj, "name", out->name, sizeof(out->name), source, prefix, errmsg)) !=
            TB_OK ||
        (rc = gen_member_key_from_json(obj, suite, source, prefix, out, errmsg)) != TB_OK ||
        (rc = gen_copy_string(obj, "endpoint", out->endpoint, sizeof(out->endpoint), source, prefix,
                              errmsg)) != TB_OK)
        return rc;
    if ((rc = gen_member_check(out, suite, &field, why)) != TB_OK) {
        snprintf(path, sizeof(path), "%s%s", prefix, field);
        return gen_fail(errmsg, rc, source, path, "%s", why);
    }
    return TB_OK;
}

static int gen_sharing_parse(const char *s, enum cfg_sharing *out)
{
    for (int v = CFG_SHARING_OPEN; v <= CFG_SHARING_CLOSED; v++) {
        if (strcmp(s, cfg_sharing_name((enum cfg_sharing)v)) == 0) {
            *out = (enum cfg_sharing)v;
            return TB_OK;
        }
    }
    return TB_ECONFIG;
}

static int gen_type_from_json(json_t *obj, const char *source, size_t index,
                              struct cfg_record_type *out, char *errmsg)
{
    char prefix[48], path[96], why[TB_ERRMSG_SIZE];
    const char *sharing;
    size_t sharing_len;
    int rc;

    snprintf(prefix, sizeof(prefix), "record_types[%zu].", index);
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        snprintf(path, sizeof(path), "record_types[%zu]", index);
        return gen_fail(errmsg, TB_ECONFIG, source, path, "expected an object");
    }
    if ((rc = gen_check_keys(obj, gen_type_keys, 2, source, prefix, errmsg)) != TB_OK ||
        (rc = gen_copy_string(obj, "type", out->type, sizeof(out->type), source, prefix, errmsg)) !=
            TB_OK)
        return rc;
    snprintf(path, sizeof(path), "%stype", prefix);
    if (cfg_check_type(out->type, strlen(out->type), why) != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, source, path, "%s", why);
    snprintf(path, sizeof(path), "%ssharing", prefix);
    if ((rc = gen_get_string(obj, "sharing", source, prefix, &sharing, &sharing_len, errmsg)) !=
        TB_OK)
        return rc;
    if (strlen(sharing) != sharing_len || gen_sharing_parse(sharing, &out->sharing) != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, source, path, "expected open, consent or closed");
    return TB_OK;
}

static int gen_member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cfg_member *)a)->city, ((const struct cfg_member *)b)->city);
}

static int gen_type_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cfg_record_type *)a)->type,
                  ((const struct cfg_record_type *)b)->type);
}

/*
 * Uniqueness of cities, node keys and types, checked in the order given so that the
 * message names the later entry and the earlier one; then both arrays are sorted.
 * Quadratic on purpose: at most 64 members and 256 types, and the message is exact.
 */
static int gen_check_unique_and_sort(struct cfg_genesis *g, const char *source, char *errmsg)
{
    char path[64];
    TB_ASSERT(g->member_count >= 1 && g->member_count <= CFG_MEMBERS_MAX);
    TB_ASSERT(g->type_count >= 1 && g->type_count <= CFG_TYPES_MAX);
    for (size_t i = 1; i < g->member_count; i++) {
        const struct cfg_member *m = &g->members[i];
        for (size_t j = 0; j < i; j++) {
            const struct cfg_member *o = &g->members[j];
            if (strcmp(m->city, o->city) == 0) {
                snprintf(path, sizeof(path), "members[%zu].city", i);
                return gen_fail(errmsg, TB_ECONFIG, source, path,
                                "duplicate city \"%s\" (also members[%zu])", m->city, j);
            }
            if (m->node_key_len == o->node_key_len &&
                memcmp(m->node_key, o->node_key, m->node_key_len) == 0) {
                snprintf(path, sizeof(path), "members[%zu].node_key", i);
                return gen_fail(errmsg, TB_ECONFIG, source, path,
                                "duplicate node key (also members[%zu])", j);
            }
        }
    }
    for (size_t i = 1; i < g->type_count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(g->types[i].type, g->types[j].type) == 0) {
                snprintf(path, sizeof(path), "record_types[%zu].type", i);
                return gen_fail(errmsg, TB_ECONFIG, source, path,
                                "duplicate type \"%s\" (also record_types[%zu])", g->types[i].type,
                                j);
            }
        }
    }
    qsort(g->members, g->member_count, sizeof(g->members[0]), gen_member_cmp);
    qsort(g->types, g->type_count, sizeof(g->types[0]), gen_type_cmp);
    return TB_OK;
}

/* Fetches a required array with a count in [1, max]. */
static int gen_get_array(json_t *root, const char *key, size_t max, const char *source,
                         json_t **out, char *errmsg)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL)
        return gen_fail(errmsg, TB_ECONFIG, source, key, "missing");
    if (!json_is_array(v))
        return gen_fail(errmsg, TB_ECONFIG, source, key, "expected an array");
    if (json_array_size(v) < 1 || json_array_size(v) > max)
        return gen_fail(errmsg, TB_ECONFIG, source, key, "must have 1..%zu entries, got %zu", max,
                        json_array_size(v));
    *out = v;
    return TB_OK;
}

static int gen_header_from_json(json_t *root, const char *source, struct cfg_genesis *out,
                                char *errmsg)
{
    char suite[16], why[TB_ERRMSG_SIZE];
    int rc;
    if ((rc = gen_check_keys(root, gen_top_keys, 5, source, "", errmsg)) != TB_OK)
        return rc;
    rc = gen_copy_string(root, "suite", suite, sizeof(suite), source, "", errmsg);
    if (rc == TB_OK && cr_suite_parse(suite, &out->suite) != TB_OK)
        rc = TB_ECONFIG;
    if (rc != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, source, "suite", "expected ed25519-sha256 or sm2-sm3");
    if ((rc = gen_copy_string(root, "federation", out->federation, sizeof(out->federation), source,
                              "", errmsg)) != TB_OK)
        return rc;
    if (cfg_check_text(out->federation, strlen(out->federation), CFG_FEDERATION_MAX, why) != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, source, "federation", "%s", why);
    json_t *created = json_object_get(root, "created_at");
    if (created == NULL)
        return gen_fail(errmsg, TB_ECONFIG, source, "created_at", "missing");
    if (!json_is_integer(created) || json_integer_value(created) < 0)
        return gen_fail(errmsg, TB_ECONFIG, source, "created_at",
                        "expected a non-negative integer (unix seconds)");
    out->created_at = (uint64_t)json_integer_value(created);
    return TB_OK;
}

static int gen_lists_from_json(json_t *root, const char *source, struct cfg_genesis *out,
                               char *errmsg)
{
    json_t *members, *types;
    int rc;
    if ((rc = gen_get_array(root, "members", CFG_MEMBERS_MAX, source, &members, errmsg)) != TB_OK ||
        (rc = gen_get_array(root, "record_types", CFG_TYPES_MAX, source, &types, errmsg)) != TB_OK)
        return rc;
    out->members = tb_calloc(json_array_size(members), sizeof(out->members[0]));
    out->types = tb_calloc(json_array_size(types), sizeof(out->types[0]));
    if (out->members == NULL || out->types == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "%s: out of memory", source);
    for (size_t i = 0; i < json_array_size(members); i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "members[%zu].", i);
        rc = gen_member_from_json(json_array_get(members, i), out->suite, source, prefix,
                                  &out->members[i], errmsg);
        if (rc != TB_OK)
            return rc;
        out->member_count = i + 1;
    }
    for (size_t i = 0; i < json_array_size(types); i++) {
        rc = gen_type_from_json(json_array_get(types, i), source, i, &out->types[i], errmsg);
        if (rc != TB_OK)
            return rc;
        out->type_count = i + 1;
    }
    return gen_check_unique_and_sort(out, source, errmsg);
}

/* json_loadb with our flags; syntax errors become "source:line:column: text". */
static int gen_load_json(const char *text, size_t len, size_t max, const char *source, json_t **out,
                         char *errmsg)
{
    json_error_t jerr;
    TB_ASSERT(source != NULL);
    if (len > max)
        return tb_fail(errmsg, TB_ELIMIT, "%s: larger than %zu bytes", source, max);
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "%s:%d:%d: %s", source, jerr.line, jerr.column,
                       jerr.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return tb_fail(errmsg, TB_ECONFIG, "%s: expected a JSON object", source);
    }
    return TB_OK;
}

int cfg_genesis_parse(const char *text, size_t len, const char *source_name,
                      struct cfg_genesis *out, char *errmsg)
{
    json_t *root = NULL;
    TB_ASSERT(text != NULL || len == 0);
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    int rc = gen_load_json(text, len, CFG_GENESIS_FILE_MAX, source_name, &root, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = gen_header_from_json(root, source_name, out, errmsg);
    if (rc == TB_OK)
        rc = gen_lists_from_json(root, source_name, out, errmsg);
    json_decref(root);
    if (rc != TB_OK)
        cfg_genesis_release(out);
    return rc;
}

int cfg_genesis_load(const char *path, struct cfg_genesis *out, char *errmsg)
{
    struct tb_buf buf;
    TB_ASSERT(path != NULL);
    memset(out, 0, sizeof(*out));
    int rc = cfg_file_read(path, CFG_GENESIS_FILE_MAX, &buf, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = cfg_genesis_parse((const char *)buf.data, buf.len, path, out, errmsg);
    tb_buf_release(&buf);
    return rc;
}

void cfg_genesis_release(struct cfg_genesis *g)
{
    if (g == NULL)
        return;
    tb_free(g->members);
    tb_free(g->types);
    memset(g, 0, sizeof(*g));
}

int cfg_member_parse(const char *text, size_t len, const char *source_name, enum cr_suite suite,
                     struct cfg_member *out, char *errmsg)
{
    json_t *root = NULL;
    TB_ASSERT(out != NULL);
    TB_ASSERT(cr_suite_valid((int)suite));
    memset(out, 0, sizeof(*out));
    int rc = gen_load_json(text, len, CFG_MEMBER_FILE_MAX, source_name, &root, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = gen_member_from_json(root, suite, source_name, "", out, errmsg);
    json_decref(root);
    return rc;
}

int cfg_member_load(const char *path, enum cr_suite suite, struct cfg_member *out, char *errmsg)
{
    struct tb_buf buf;
    memset(out, 0, sizeof(*out));
    int rc = cfg_file_read(path, CFG_MEMBER_FILE_MAX, &buf, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = cfg_member_parse((const char *)buf.data, buf.len, path, suite, out, errmsg);
    tb_buf_release(&buf);
    return rc;
}

/* Checks the fields that the parser checks, for a genesis built from C values. */
static int gen_build_check(struct cfg_genesis *g, char *errmsg)
{
    char why[TB_ERRMSG_SIZE], path[64];
    const char *field = "";
    if (cfg_check_text(g->federation, strlen(g->federation), CFG_FEDERATION_MAX, why) != TB_OK)
        return gen_fail(errmsg, TB_ECONFIG, "genesis", "federation", "%s", why);
    if (g->created_at > INT64_MAX)
        return gen_fail(errmsg, TB_ECONFIG, "genesis", "created_at", "too large");
    for (size_t i = 0; i < g->member_count; i++) {
        int rc = gen_member_check(&g->members[i], g->suite, &field, why);
        if (rc != TB_OK) {
            snprintf(path, sizeof(path), "members[%zu].%s", i, field);
            return gen_fail(errmsg, rc, "genesis", path, "%s", why);
        }
    }
    for (size_t i = 0; i < g->type_count; i++) {
        const struct cfg_record_type *t = &g->types[i];
        snprintf(path, sizeof(path), "record_types[%zu]", i);
        if (cfg_check_type(t->type, strnlen(t->type, sizeof(t->type)), why) != TB_OK)
            return gen_fail(errmsg, TB_ECONFIG, "genesis", path, "%s", why);
        if (cfg_sharing_name(t->sharing) == NULL)
            return gen_fail(errmsg, TB_ECONFIG, "genesis", path, "bad sharing class");
    }
    return gen_check_unique_and_sort(g, "genesis", errmsg);
}

int cfg_genesis_build(enum cr_suite suite, const char *federation, uint64_t created_at,
                      const struct cfg_member *members, size_t member_count,
                      const struct cfg_record_type *types, size_t type_count,
                      struct cfg_genesis *out, char *errmsg)
{
    TB_ASSERT(out != NULL);
    TB_ASSERT(federation != NULL);
    memset(out, 0, sizeof(*out));
    if (!cr_suite_valid((int)suite))
        return tb_fail(errmsg, TB_ECONFIG, "genesis: suite: expected ed25519-sha256 or sm2-sm3");
    if (member_count < 1 || member_count > CFG_MEMBERS_MAX || type_count < 1 ||
        type_count > CFG_TYPES_MAX)
        return tb_fail(errmsg, TB_ECONFIG, "genesis: need 1..%d members and 1..%d record types",
                       CFG_MEMBERS_MAX, CFG_TYPES_MAX);
    if (strlen(federation) > CFG_FEDERATION_MAX)
        return tb_fail(errmsg, TB_ECONFIG, "genesis: federation: longer than %d bytes",
                       CFG_FEDERATION_MAX);
    out->suite = suite;
    memcpy(out->federation, federation, strlen(federation) + 1);
    out->created_at = created_at;
    out->members = tb_calloc(member_count, sizeof(out->members[0]));
    out->types = tb_calloc(type_count, sizeof(out->types[0]));
    if (out->members == NULL || out->types == NULL) {
        cfg_genesis_release(out);
        return tb_fail(errmsg, TB_ENOMEM, "genesis: out of memory");
    }
    memcpy(out->members, members, member_count * sizeof(members[0]));
    memcpy(out->types, types, type_count * sizeof(types[0]));
    out->member_count = member_count;
    out->type_count = type_count;
    int rc = gen_build_check(out, errmsg);
    if (rc != TB_OK)
        cfg_genesis_release(out);
    return rc;
}

/* Borrowed views of the genesis strings for wire/; valid while `g` is. */
static struct tb_bytes gen_view(const char *s)
{
    struct tb_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

int cfg_genesis_body(const struct cfg_genesis *g, struct tb_buf *out)
{
    struct wire_genesis_member wm[CFG_MEMBERS_MAX];
    struct wire_record_type wt[CFG_TYPES_MAX];
    char errmsg[TB_ERRMSG_SIZE];
    TB_ASSERT(g != NULL);
    TB_ASSERT(out != NULL);
    if (!cr_suite_valid((int)g->suite) || g->member_count < 1 ||
        g->member_count > CFG_MEMBERS_MAX || g->type_count < 1 || g->type_count > CFG_TYPES_MAX)
        return TB_EINVAL;
    for (size_t i = 0; i < g->member_count; i++) {
        const struct cfg_member *m = &g->members[i];
        TB_ASSERT(m->node_key_len == gen_key_len(g->suite));
        wm[i].city = gen_view(m->city);
        wm[i].name = gen_view(m->name);
        wm[i].node_key.ptr = m->node_key;
        wm[i].node_key.len = m->node_key_len;
        wm[i].endpoint = gen_view(m->endpoint);
    }
    for (size_t i = 0; i < g->type_count; i++) {
        TB_ASSERT(cfg_sharing_name(g->types[i].sharing) != NULL);
        wt[i].type = gen_view(g->types[i].type);
        wt[i].sharing = gen_view(cfg_sharing_name(g->types[i].sharing));
    }
    struct wire_genesis wg = {
        .suite = gen_view(cr_suite_name(g->suite)),
        .federation = gen_view(g->federation),
        .created_at = g->created_at,
        .members = wm,
        .member_count = g->member_count,
        .types = wt,
        .type_count = g->type_count,
    };
    /* wire/ refuses unsorted or duplicate entries with TB_EINVAL: a genesis that came
     * through this module never has them. */
    return wire_genesis_body_encode(&wg, out, errmsg);
}

int cfg_genesis_chain_id(const struct cfg_genesis *g, uint8_t out[CR_HASH_BYTES])
{
    struct tb_buf body;
    TB_ASSERT(g != NULL);
    TB_ASSERT(out != NULL);
    tb_buf_init(&body, CFG_GENESIS_BODY_MAX);
    int rc = cfg_genesis_body(g, &body);
    if (rc != TB_OK) {
        tb_buf_release(&body);
        return rc;
    }
    struct tb_bytes part = {body.data, body.len};
    cr_hash_tagged(g->suite, CFG_GENESIS_TAG, &part, 1, out);
    tb_buf_release(&body);
    return TB_OK;
}

/* json_dump_callback sink: appends to a tb_buf, refusing past its maximum. */
struct gen_sink
{
    struct tb_buf *buf;
    int rc;
};

static int gen_dump_to_buf(const char *buffer, size_t size, void *data)
{
    struct gen_sink *sink = data;
    if (sink->rc == TB_OK)
        sink->rc = tb_buf_append(sink->buf, buffer, size);
    return sink->rc == TB_OK ? 0 : -1;
}

/* Sets a string member; a failure leaves the object to the caller's decref. */
static int gen_set_str(json_t *obj, const char *key, const char *val)
{
    return json_object_set_new(obj, key, json_string(val));
}

static json_t *gen_member_to_obj(const struct cfg_member *m)
{
    char hex[2 * CFG_NODE_KEY_MAX + 1];
    json_t *obj = json_object();
    TB_ASSERT(m->node_key_len <= CFG_NODE_KEY_MAX);
    if (obj == NULL)
        return NULL;
    tb_hex_encode(m->node_key, m->node_key_len, hex);
    if (gen_set_str(obj, "city", m->city) != 0 || gen_set_str(obj, "name", m->name) != 0 ||
        gen_set_str(obj, "node_key", hex) != 0 || gen_set_str(obj, "endpoint", m->endpoint) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *gen_to_obj(const struct cfg_genesis *g)
{
    json_t *root = json_object(), *members = json_array(), *types = json_array();
    int bad = root == NULL || members == NULL || types == NULL;
    for (size_t i = 0; !bad && i < g->member_count; i++)
        bad = json_array_append_new(members, gen_member_to_obj(&g->members[i])) != 0;
    for (size_t i = 0; !bad && i < g->type_count; i++) {
        json_t *t = json_object();
        bad = t == NULL || gen_set_str(t, "type", g->types[i].type) != 0 ||
              gen_set_str(t, "sharing", cfg_sharing_name(g->types[i].sharing)) != 0;
        if (json_array_append_new(types, t) != 0)
            bad = 1;
    }
    /* Insertion order is the file's key order (jansson keeps it). */
    if (bad || gen_set_str(root, "suite", cr_suite_name(g->suite)) != 0 ||
        gen_set_str(root, "federation", g->federation) != 0 ||
        json_object_set_new(root, "created_at", json_integer((json_int_t)g->created_at)) != 0 ||
        json_object_set(root, "members", members) != 0 ||
        json_object_set(root, "record_types", types) != 0) {
        json_decref(root);
        root = NULL;
    }
    json_decref(members);
    json_decref(types);
    return root;
}

static int gen_dump(json_t *obj, struct tb_buf *out)
{
    struct gen_sink sink = {out, TB_OK};
    if (obj == NULL)
        return TB_ENOMEM;
    int jrc = json_dump_callback(obj, gen_dump_to_buf, &sink, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (jrc != 0)
        return sink.rc != TB_OK ? sink.rc : TB_ENOMEM;
    return tb_buf_append_byte(out, '\n');
}

int cfg_genesis_to_json(const struct cfg_genesis *g, struct tb_buf *out)
{
    TB_ASSERT(g != NULL);
    TB_ASSERT(out != NULL);
    TB_ASSERT(cr_suite_valid((int)g->suite));
    TB_ASSERT(g->created_at <= INT64_MAX);
    return gen_dump(gen_to_obj(g), out);
}

int cfg_member_to_json(const struct cfg_member *m, struct tb_buf *out)
{
    TB_ASSERT(m != NULL);
    TB_ASSERT(out != NULL);
    return gen_dump(gen_member_to_obj(m), out);
}

const struct cfg_member *cfg_genesis_member_by_city(const struct cfg_genesis *g, const char *city)
{
    size_t lo = 0, hi = g->member_count;
    TB_ASSERT(city != NULL);
    TB_ASSERT(hi <= CFG_MEMBERS_MAX);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(city, g->members[mid].city);
        if (c == 0)
            return &g->members[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct cfg_member *cfg_genesis_member_by_key(const struct cfg_genesis *g,
                                                   const uint8_t *node_key, size_t len)
{
    TB_ASSERT(node_key != NULL || len == 0);
    TB_ASSERT(g->member_count <= CFG_MEMBERS_MAX);
    for (size_t i = 0; i < g->member_count; i++) {
        const struct cfg_member *m = &g->members[i];
        if (m->node_key_len == len && memcmp(m->node_key, node_key, len) == 0)
            return m;
    }
    return NULL;
}

const struct cfg_record_type *cfg_genesis_type(const struct cfg_genesis *g, const char *type)
{
    size_t lo = 0, hi = g->type_count;
    TB_ASSERT(type != NULL);
    TB_ASSERT(hi <= CFG_TYPES_MAX);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(type, g->types[mid].type);
        if (c == 0)
            return &g->types[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
