/*
 * Status-tree values (DESIGN 3.6), consent tokens (3.8) and the genesis body (3.3).
 * Structure only: whether a consent token is expired, or a genesis member key valid for its
 * suite, is decided by the code that uses them.
 */
#include <string.h>

#include "tb_alloc.h"
#include "tb_assert.h"
#include "wire_int.h"

/* ---- Status value ---- */

static void wire_enc_status(struct wire_enc *e, const void *in)
{
    const struct wire_status *s = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "state");
    if (s->state != 1 && s->state != 2)
        wire_enc_fail(e, TB_EINVAL, "must be 1 or 2, got %u", s->state);
    wire_put_uint(e, s->state);
    wire_enc_field(e, 2, "height_a");
    wire_put_uint(e, s->height_a);
    wire_enc_field(e, 3, "height_b");
    wire_put_uint(e, s->height_b);
    wire_enc_field(e, 4, "time");
    wire_put_uint(e, s->time_s);
}

static void wire_conv_status(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_status *s = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);
    uint64_t state = 0;

    memset(s, 0, sizeof(*s));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "state", &state);
    if (d->err == TB_OK && state != 1 && state != 2)
        wire_dec_fail(d, TB_EMALFORMED, 1, "state", "must be 1 or 2, got %llu",
                      (unsigned long long)state);
    s->state = (uint8_t)(state <= 2 ? state : 0);
    wire_get_uint(d, &f[1], 2, "height_a", &s->height_a);
    wire_get_uint(d, &f[2], 3, "height_b", &s->height_b);
    wire_get_uint(d, &f[3], 4, "time", &s->time_s);
}

int wire_status_encode(const struct wire_status *s, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("status", WIRE_SMALL_BYTES_MAX, wire_enc_status, s, out, errmsg);
}

int wire_status_decode(const uint8_t *data, size_t len, struct wire_status *out, char *errmsg)
{
    return wire_decode_with("status", data, len, WIRE_SMALL_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_status, wire_enc_status, out, errmsg);
}

/* ---- Consent token ---- */

static void wire_enc_consent(struct wire_enc *e, const void *in)
{
    const struct wire_consent *c = in;

    wire_put_array(e, 8);
    wire_enc_field(e, 1, "subject");
    wire_put_hash(e, c->subject, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "grantee_city");
    wire_put_city(e, c->grantee_city);
    wire_enc_field(e, 3, "grantee_agency");
    wire_put_agency(e, c->grantee_agency);
    wire_enc_field(e, 4, "types");
    wire_put_str_set(e, c->types, c->type_count, 1, WIRE_CONSENT_TYPES_MAX, WIRE_TYPE_BYTES_MAX);
    wire_enc_field(e, 5, "purpose");
    wire_put_str(e, c->purpose, 0, WIRE_TEXT_BYTES_MAX);
    wire_enc_field(e, 6, "not_after");
    wire_put_uint(e, c->not_after);
    wire_enc_field(e, 7, "nonce");
    wire_put_hash(e, c->nonce, WIRE_NONCE_BYTES);
    wire_enc_field(e, 8, "uses_max");
    if (c->uses_max < 1 || c->uses_max > WIRE_CONSENT_USES_MAX)
        wire_enc_fail(e, TB_EINVAL, "must be 1..%u, got %llu", WIRE_CONSENT_USES_MAX,
                      (unsigned long long)c->uses_max);
    wire_put_uint(e, c->uses_max);
}

static void wire_conv_consent(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_consent *c = out;
    const msgpack_object *f = wire_get_array(d, root, 8, 0, NULL);

    memset(c, 0, sizeof(*c));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "subject", c->subject, WIRE_HASH_BYTES);
    wire_get_str(d, &f[1], 2, "grantee_city", &c->grantee_city);
    wire_get_str(d, &f[2], 3, "grantee_agency", &c->grantee_agency);
    wire_get_str_list(d, &f[3], c->types, WIRE_CONSENT_TYPES_MAX, &c->type_count, 4, "types");
    wire_get_str(d, &f[4], 5, "purpose", &c->purpose);
    wire_get_uint(d, &f[5], 6, "not_after", &c->not_after);
    wire_get_hash(d, &f[6], 7, "nonce", c->nonce, WIRE_NONCE_BYTES);
    /* The range is the encoder's check, run in compare mode: 0 or 1001 is malformed. */
    wire_get_uint(d, &f[7], 8, "uses_max", &c->uses_max);
}

int wire_consent_encode(const struct wire_consent *c, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("consent", WIRE_CONSENT_BYTES_MAX, wire_enc_consent, c, out, errmsg);
}

int wire_consent_decode(const uint8_t *data, size_t len, struct wire_consent *out, char *errmsg)
{
    return wire_decode_with("consent", data, len, WIRE_CONSENT_BYTES_MAX, WIRE_CONSENT_TYPES_MAX,
                            wire_conv_consent, wire_enc_consent, out, errmsg);
}

/* ---- Signed consent token (D13) ---- */

static void wire_enc_consent_signed(struct wire_enc *e, const void *in)
{
    const struct wire_consent_signed *c = in;

    wire_put_array(e, 3);
    wire_enc_field(e, 1, "token");
    wire_put_bin(e, c->token, 1, WIRE_CONSENT_BYTES_MAX);
    wire_enc_field(e, 2, "public_key");
    wire_put_bin(e, c->public_key, 1, WIRE_PUBKEY_BYTES_MAX);
    wire_enc_field(e, 3, "sig");
    wire_put_bin(e, c->sig, 1, WIRE_SIG_BYTES_MAX);
}

static void wire_conv_consent_signed(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_consent_signed *c = out;
    const msgpack_object *f = wire_get_array(d, root, 3, 0, NULL);

    memset(c, 0, sizeof(*c));
    if (f == NULL)
        return;
    wire_get_bin(d, &f[0], 1, "token", &c->token);
    wire_get_bin(d, &f[1], 2, "public_key", &c->public_key);
    wire_get_bin(d, &f[2], 3, "sig", &c->sig);
}

int wire_consent_signed_encode(const struct wire_consent_signed *c, struct tb_buf *out,
                               char *errmsg)
{
    TB_ASSERT(c != NULL);
    return wire_encode_with("consent.signed", WIRE_CONSENT_BYTES_MAX + 256u,
                            wire_enc_consent_signed, c, out, errmsg);
}

int wire_consent_signed_decode(const uint8_t *data, size_t len, struct wire_consent_signed *out,
                               char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("consent.signed", data, len, WIRE_CONSENT_BYTES_MAX + 256u,
                            WIRE_FIELDS_MAX, wire_conv_consent_signed, wire_enc_consent_signed, out,
                            errmsg);
}

/* ---- Genesis body ---- */

static bool wire_sharing_valid(struct tb_bytes s)
{
    static const char *const classes[] = {"open", "consent", "closed"};
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        if (s.len == strlen(classes[i]) && s.len > 0 && memcmp(s.ptr, classes[i], s.len) == 0)
            return true;
    }
    return false;
}

static void wire_enc_members(struct wire_enc *e, const struct wire_genesis *g)
{
    wire_enc_field(e, 4, "members");
    if (g->member_count > WIRE_VALIDATORS_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu members, limit %u", g->member_count, WIRE_VALIDATORS_MAX);
    if (g->member_count == 0)
        wire_enc_fail(e, TB_EINVAL, "needs at least one member");
    if (e->err != TB_OK)
        return;
    TB_ASSERT(g->members != NULL);
    wire_put_array(e, g->member_count);
    for (size_t i = 0; i < g->member_count; i++) {
        const struct wire_genesis_member *m = &g->members[i];
        if (i > 0 && wire_bytes_cmp(g->members[i - 1].city, m->city) >= 0)
            wire_enc_fail(e, TB_EINVAL, "member %zu city not after member %zu (sorted, unique)", i,
                          i - 1);
        wire_put_array(e, 4);
        wire_put_city(e, m->city);
        wire_put_str(e, m->name, 1, WIRE_NAME_BYTES_MAX);
        wire_put_bin(e, m->node_key, 1, WIRE_PUBKEY_BYTES_MAX);
        wire_put_str(e, m->endpoint, 0, WIRE_ENDPOINT_BYTES_MAX);
    }
}

static void wire_enc_types(struct wire_enc *e, const struct wire_genesis *g)
{
    wire_enc_field(e, 5, "types");
    if (g->type_count > WIRE_GENESIS_TYPES_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu types, limit %u", g->type_count, WIRE_GENESIS_TYPES_MAX);
    if (e->err != TB_OK)
        return;
    TB_ASSERT(g->types != NULL || g->type_count == 0);
    wire_put_array(e, g->type_count);
    for (size_t i = 0; i < g->type_count; i++) {
        const struct wire_record_type *t = &g->types[i];
        if (i > 0 && wire_bytes_cmp(g->types[i - 1].type, t->type) >= 0)
            wire_enc_fail(e, TB_EINVAL, "type %zu not after type %zu (sorted, unique)", i, i - 1);
        if (!wire_sharing_valid(t->sharing))
            wire_enc_fail(e, TB_EINVAL, "type %zu: sharing must be open, consent or closed", i);
        wire_put_array(e, 2);
        wire_put_str(e, t->type, 1, WIRE_TYPE_BYTES_MAX);
        wire_put_str(e, t->sharing, 1, 16);
    }
}

static void wire_enc_genesis(struct wire_enc *e, const void *in)
{
    const struct wire_genesis *g = in;

    wire_put_array(e, 5);
    wire_enc_field(e, 1, "suite");
    wire_put_str(e, g->suite, 1, WIRE_SUITE_BYTES_MAX);
    wire_enc_field(e, 2, "federation");
    wire_put_str(e, g->federation, 1, WIRE_NAME_BYTES_MAX);
    wire_enc_field(e, 3, "created_at");
    wire_put_uint(e, g->created_at);
    wire_enc_members(e, g);
    wire_enc_types(e, g);
}

static void wire_conv_members(struct wire_dec *d, const msgpack_object *o, struct wire_genesis *g)
{
    size_t n = 0;
    const msgpack_object *it = wire_get_list(d, o, WIRE_VALIDATORS_MAX, &n, 4, "members");
    struct wire_genesis_member *m;

    if (it == NULL || n == 0)
        return;
    m = tb_calloc(n, sizeof(*m));
    if (m == NULL) {
        wire_dec_fail(d, TB_ENOMEM, 4, "members", "cannot allocate %zu members", n);
        return;
    }
    g->members = m;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *f = wire_get_array(d, &it[i], 4, 4, "members");
        if (f == NULL)
            return;
        wire_get_str(d, &f[0], 4, "members", &m[i].city);
        wire_get_str(d, &f[1], 4, "members", &m[i].name);
        wire_get_bin(d, &f[2], 4, "members", &m[i].node_key);
        wire_get_str(d, &f[3], 4, "members", &m[i].endpoint);
    }
    g->member_count = n;
}

static void wire_conv_types(struct wire_dec *d, const msgpack_object *o, struct wire_genesis *g)
{
    size_t n = 0;
    const msgpack_object *it = wire_get_list(d, o, WIRE_GENESIS_TYPES_MAX, &n, 5, "types");
    struct wire_record_type *t;

    if (it == NULL || n == 0)
        return;
    t = tb_calloc(n, sizeof(*t));
    if (t == NULL) {
        wire_dec_fail(d, TB_ENOMEM, 5, "types", "cannot allocate %zu types", n);
        return;
    }
    g->types = t;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *f = wire_get_array(d, &it[i], 2, 5, "types");
        if (f == NULL)
            return;
        wire_get_str(d, &f[0], 5, "types", &t[i].type);
        wire_get_str(d, &f[1], 5, "types", &t[i].sharing);
    }
    g->type_count = n;
}

static void wire_conv_genesis(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_genesis *g = out;
    const msgpack_object *f = wire_get_array(d, root, 5, 0, NULL);

    memset(g, 0, sizeof(*g));
    if (f == NULL)
        return;
    wire_get_str(d, &f[0], 1, "suite", &g->suite);
    wire_get_str(d, &f[1], 2, "federation", &g->federation);
    wire_get_uint(d, &f[2], 3, "created_at", &g->created_at);
    wire_conv_members(d, &f[3], g);
    wire_conv_types(d, &f[4], g);
}

int wire_genesis_body_encode(const struct wire_genesis *g, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("genesis", WIRE_GENESIS_BYTES_MAX, wire_enc_genesis, g, out, errmsg);
}

int wire_genesis_body_decode(const uint8_t *data, size_t len, struct wire_genesis *out,
                             char *errmsg)
{
    int rv;

    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    rv = wire_decode_with("genesis", data, len, WIRE_GENESIS_BYTES_MAX, WIRE_GENESIS_TYPES_MAX,
                          wire_conv_genesis, wire_enc_genesis, out, errmsg);
    if (rv != TB_OK)
        wire_genesis_release(out);
    TB_ASSERT(rv != TB_OK || out->member_count > 0);
    return rv;
}

void wire_genesis_release(struct wire_genesis *g)
{
    if (g == NULL)
        return;
    tb_free((void *)g->members);
    tb_free((void *)g->types);
    g->members = NULL;
    g->types = NULL;
    g->member_count = 0;
    g->type_count = 0;
}
