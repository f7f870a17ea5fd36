/*
 * Transactions (DESIGN 3.4): the envelope and the six bodies, each as an encoder (validate and
 * pack) and a converter (msgpack object -> struct); codec.c turns each pair into a strict
 * decoder. Structure only: nothing here checks a signature or who may sign what.
 */
#include <string.h>

#include "tb_assert.h"
#include "wire_int.h"

const char *wire_kind_name(int kind)
{
    static const char *const names[] = {
        NULL,           "record.issue",  "record.revoke", "agency.register", "agency.retire",
        "access.audit", "member.change",
    };
    if (kind < WIRE_KIND_MIN || kind > WIRE_KIND_MAX)
        return NULL;
    return names[kind];
}

/* ---- Envelope ---- */

static void wire_enc_tx(struct wire_enc *e, const void *in)
{
    const struct wire_tx *tx = in;

    wire_put_array(e, 3);
    wire_enc_field(e, 1, "kind");
    if (tx->kind < WIRE_KIND_MIN || tx->kind > WIRE_KIND_MAX)
        wire_enc_fail(e, TB_EINVAL, "must be %d..%d, got %u", WIRE_KIND_MIN, WIRE_KIND_MAX,
                      tx->kind);
    wire_put_uint(e, tx->kind);
    wire_enc_field(e, 2, "body");
    wire_put_bin(e, tx->body, 1, WIRE_TX_BYTES_MAX);
    wire_enc_field(e, 3, "signatures");
    if (tx->sig_count > WIRE_TX_SIGS_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu signatures, limit %u", tx->sig_count, WIRE_TX_SIGS_MAX);
    if (tx->sig_count == 0)
        wire_enc_fail(e, TB_EINVAL, "needs at least one signature");
    if (e->err != TB_OK)
        return;
    wire_put_array(e, tx->sig_count);
    for (size_t i = 0; i < tx->sig_count; i++) {
        /* Distinct signers: a repeated key must never count twice towards a quorum. */
        for (size_t j = 0; j < i; j++) {
            if (memcmp(tx->sigs[j].key_id, tx->sigs[i].key_id, WIRE_HASH_BYTES) == 0)
                wire_enc_fail(e, TB_EINVAL, "signatures %zu and %zu share a key id", j, i);
        }
        wire_put_array(e, 2);
        wire_put_hash(e, tx->sigs[i].key_id, WIRE_HASH_BYTES);
        wire_put_bin(e, tx->sigs[i].sig, 1, WIRE_SIG_BYTES_MAX);
    }
}

static void wire_conv_tx(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_tx *tx = out;
    const msgpack_object *f = wire_get_array(d, root, 3, 0, NULL);
    const msgpack_object *s;
    uint64_t kind = 0;
    size_t n = 0;

    memset(tx, 0, sizeof(*tx));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "kind", &kind);
    if (d->err == TB_OK && (kind < WIRE_KIND_MIN || kind > WIRE_KIND_MAX))
        wire_dec_fail(d, TB_EMALFORMED, 1, "kind", "must be %d..%d, got %llu", WIRE_KIND_MIN,
                      WIRE_KIND_MAX, (unsigned long long)kind);
    tx->kind = (uint8_t)(d->err == TB_OK ? kind : 0);
    wire_get_bin(d, &f[1], 2, "body", &tx->body);
    s = wire_get_list(d, &f[2], WIRE_TX_SIGS_MAX, &n, 3, "signatures");
    for (size_t i = 0; s != NULL && i < n; i++) {
        const msgpack_object *p = wire_get_array(d, &s[i], 2, 3, "signatures");
        if (p == NULL)
            return;
        wire_get_hash(d, &p[0], 3, "signatures", tx->sigs[i].key_id, WIRE_HASH_BYTES);
        wire_get_bin(d, &p[1], 3, "signatures", &tx->sigs[i].sig);
    }
    TB_ASSERT(n <= WIRE_TX_SIGS_MAX);
    tx->sig_count = n;
}

int wire_tx_encode(const struct wire_tx *tx, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("tx", WIRE_TX_BYTES_MAX, wire_enc_tx, tx, out, errmsg);
}

int wire_tx_decode(const uint8_t *data, size_t len, struct wire_tx *out, char *errmsg)
{
    return wire_decode_with("tx", data, len, WIRE_TX_BYTES_MAX, WIRE_TX_SIGS_MAX, wire_conv_tx,
                            wire_enc_tx, out, errmsg);
}

/* ---- 1 record.issue ---- */

static void wire_enc_claims(struct wire_enc *e, const struct wire_claim *c, size_t n)
{
    wire_enc_field(e, 7, "claims");
    if (n > WIRE_CLAIMS_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu claims, limit %u", n, WIRE_CLAIMS_MAX);
    if (e->err != TB_OK)
        return;
    wire_put_map(e, n);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && wire_bytes_cmp(c[i - 1].key, c[i].key) >= 0)
            wire_enc_fail(e, TB_EINVAL, "key %zu not after key %zu (sorted bytewise, unique)", i,
                          i - 1);
        wire_put_str(e, c[i].key, 1, WIRE_CLAIM_KEY_BYTES_MAX);
        if (c[i].is_uint)
            wire_put_uint(e, c[i].uint_value);
        else
            wire_put_str(e, c[i].str_value, 0, WIRE_CLAIM_VALUE_BYTES_MAX);
    }
}

static void wire_enc_issue(struct wire_enc *e, const void *in)
{
    const struct wire_record_issue *b = in;

    wire_put_array(e, 9);
    wire_enc_field(e, 1, "type");
    wire_put_str(e, b->type, 1, WIRE_TYPE_BYTES_MAX);
    wire_enc_field(e, 2, "city");
    wire_put_city(e, b->city);
    wire_enc_field(e, 3, "agency");
    wire_put_agency(e, b->agency);
    wire_enc_field(e, 4, "subject");
    wire_put_hash(e, b->subject, WIRE_HASH_BYTES);
    wire_enc_field(e, 5, "issued_at");
    wire_put_uint(e, b->issued_at);
    wire_enc_field(e, 6, "expires_at");
    wire_put_uint(e, b->expires_at);
    wire_enc_claims(e, b->claims, b->claim_count);
    wire_enc_field(e, 8, "doc_digest");
    wire_put_hash(e, b->doc_digest, WIRE_HASH_BYTES);
    wire_enc_field(e, 9, "nonce");
    wire_put_hash(e, b->nonce, WIRE_NONCE_BYTES);
}

static void wire_conv_claims(struct wire_dec *d, const msgpack_object *o,
                             struct wire_record_issue *b)
{
    if (d->err != TB_OK)
        return;
    if (o->type != MSGPACK_OBJECT_MAP) {
        wire_dec_fail(d, TB_EMALFORMED, 7, "claims", "expected map");
        return;
    }
    if (o->via.map.size > WIRE_CLAIMS_MAX) {
        wire_dec_fail(d, TB_ELIMIT, 7, "claims", "%u claims, limit %u", o->via.map.size,
                      WIRE_CLAIMS_MAX);
        return;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        struct wire_claim *c = &b->claims[i];
        wire_get_str(d, &kv->key, 7, "claims", &c->key);
        if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            c->is_uint = true;
            c->uint_value = kv->val.via.u64;
        } else if (kv->val.type == MSGPACK_OBJECT_STR) {
            wire_get_str(d, &kv->val, 7, "claims", &c->str_value);
        } else {
            wire_dec_fail(d, TB_EMALFORMED, 7, "claims", "value %u: expected str or uint", i);
        }
    }
    b->claim_count = o->via.map.size;
}

static void wire_conv_issue(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_record_issue *b = out;
    const msgpack_object *f = wire_get_array(d, root, 9, 0, NULL);

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_str(d, &f[0], 1, "type", &b->type);
    wire_get_str(d, &f[1], 2, "city", &b->city);
    wire_get_str(d, &f[2], 3, "agency", &b->agency);
    wire_get_hash(d, &f[3], 4, "subject", b->subject, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[4], 5, "issued_at", &b->issued_at);
    wire_get_uint(d, &f[5], 6, "expires_at", &b->expires_at);
    wire_conv_claims(d, &f[6], b);
    wire_get_hash(d, &f[7], 8, "doc_digest", b->doc_digest, WIRE_HASH_BYTES);
    wire_get_hash(d, &f[8], 9, "nonce", b->nonce, WIRE_NONCE_BYTES);
}

/* ---- 2 record.revoke ---- */

static void wire_enc_revoke(struct wire_enc *e, const void *in)
{
    const struct wire_record_revoke *b = in;

    wire_put_array(e, 3);
    wire_enc_field(e, 1, "record_id");
    wire_put_hash(e, b->record_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "reason");
    wire_put_str(e, b->reason, 0, WIRE_TEXT_BYTES_MAX);
    wire_enc_field(e, 3, "revoked_at");
    wire_put_uint(e, b->revoked_at);
}

static void wire_conv_revoke(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_record_revoke *b = out;
    const msgpack_object *f = wire_get_array(d, root, 3, 0, NULL);

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "record_id", b->record_id, WIRE_HASH_BYTES);
    wire_get_str(d, &f[1], 2, "reason", &b->reason);
    wire_get_uint(d, &f[2], 3, "revoked_at", &b->revoked_at);
}

/* ---- 3 agency.register ---- */

static void wire_enc_register(struct wire_enc *e, const void *in)
{
    const struct wire_agency_register *b = in;

    wire_put_array(e, 6);
    wire_enc_field(e, 1, "city");
    wire_put_city(e, b->city);
    wire_enc_field(e, 2, "agency");
    wire_put_agency(e, b->agency);
    wire_enc_field(e, 3, "name");
    wire_put_str(e, b->name, 1, WIRE_NAME_BYTES_MAX);
    wire_enc_field(e, 4, "public_key");
    wire_put_bin(e, b->public_key, 1, WIRE_PUBKEY_BYTES_MAX);
    wire_enc_field(e, 5, "types");
    wire_put_str_set(e, b->types, b->type_count, 1, WIRE_AGENCY_TYPES_MAX, WIRE_TYPE_BYTES_MAX);
    wire_enc_field(e, 6, "not_after");
    wire_put_uint(e, b->not_after);
}

static void wire_conv_register(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_agency_register *b = out;
    const msgpack_object *f = wire_get_array(d, root, 6, 0, NULL);

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_str(d, &f[0], 1, "city", &b->city);
    wire_get_str(d, &f[1], 2, "agency", &b->agency);
    wire_get_str(d, &f[2], 3, "name", &b->name);
    wire_get_bin(d, &f[3], 4, "public_key", &b->public_key);
    wire_get_str_list(d, &f[4], b->types, WIRE_AGENCY_TYPES_MAX, &b->type_count, 5, "types");
    wire_get_uint(d, &f[5], 6, "not_after", &b->not_after);
}

/* ---- 4 agency.retire ---- */

static void wire_enc_retire(struct wire_enc *e, const void *in)
{
    const struct wire_agency_retire *b = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "city");
    wire_put_city(e, b->city);
    wire_enc_field(e, 2, "agency");
    wire_put_agency(e, b->agency);
    wire_enc_field(e, 3, "public_key");
    wire_put_bin(e, b->public_key, 1, WIRE_PUBKEY_BYTES_MAX);
    wire_enc_field(e, 4, "reason");
    wire_put_str(e, b->reason, 0, WIRE_TEXT_BYTES_MAX);
}

static void wire_conv_retire(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_agency_retire *b = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_str(d, &f[0], 1, "city", &b->city);
    wire_get_str(d, &f[1], 2, "agency", &b->agency);
    wire_get_bin(d, &f[2], 3, "public_key", &b->public_key);
    wire_get_str(d, &f[3], 4, "reason", &b->reason);
}

/* ---- 5 access.audit ---- */

static void wire_enc_audit(struct wire_enc *e, const void *in)
{
    const struct wire_access_audit *b = in;

    wire_put_array(e, 6);
    wire_enc_field(e, 1, "record_id");
    wire_put_hash(e, b->record_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "requester_city");
    wire_put_city(e, b->requester_city);
    wire_enc_field(e, 3, "requester_agency");
    wire_put_agency(e, b->requester_agency);
    wire_enc_field(e, 4, "purpose");
    wire_put_str(e, b->purpose, 0, WIRE_TEXT_BYTES_MAX);
    wire_enc_field(e, 5, "consent_id");
    wire_put_hash(e, b->consent_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 6, "at");
    wire_put_uint(e, b->at);
}

static void wire_conv_audit(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_access_audit *b = out;
    const msgpack_object *f = wire_get_array(d, root, 6, 0, NULL);

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "record_id", b->record_id, WIRE_HASH_BYTES);
    wire_get_str(d, &f[1], 2, "requester_city", &b->requester_city);
    wire_get_str(d, &f[2], 3, "requester_agency", &b->requester_agency);
    wire_get_str(d, &f[3], 4, "purpose", &b->purpose);
    wire_get_hash(d, &f[4], 5, "consent_id", b->consent_id, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[5], 6, "at", &b->at);
}

/* ---- 6 member.change ---- */

static const char *const wire_actions[] = {NULL, "add", "remove", "rotate"};

static void wire_enc_member(struct wire_enc *e, const void *in)
{
    const struct wire_member_change *b = in;
    struct tb_bytes action = {NULL, 0};

    wire_put_array(e, 6);
    wire_enc_field(e, 1, "action");
    if (b->action < WIRE_MEMBER_ADD || b->action > WIRE_MEMBER_ROTATE) {
        wire_enc_fail(e, TB_EINVAL, "must be add, remove or rotate");
    } else {
        action.ptr = (const uint8_t *)wire_actions[b->action];
        action.len = strlen(wire_actions[b->action]);
    }
    wire_put_str(e, action, 1, 8);
    wire_enc_field(e, 2, "city");
    wire_put_city(e, b->city);
    wire_enc_field(e, 3, "name");
    wire_put_str(e, b->name, 1, WIRE_NAME_BYTES_MAX);
    wire_enc_field(e, 4, "node_key");
    wire_put_bin(e, b->node_key, 1, WIRE_PUBKEY_BYTES_MAX);
    wire_enc_field(e, 5, "endpoint");
    wire_put_str(e, b->endpoint, 0, WIRE_ENDPOINT_BYTES_MAX);
    wire_enc_field(e, 6, "effective_height");
    wire_put_uint(e, b->effective_height);
}

static void wire_conv_member(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_member_change *b = out;
    const msgpack_object *f = wire_get_array(d, root, 6, 0, NULL);
    struct tb_bytes action = {NULL, 0};

    memset(b, 0, sizeof(*b));
    if (f == NULL)
        return;
    wire_get_str(d, &f[0], 1, "action", &action);
    for (int a = WIRE_MEMBER_ADD; d->err == TB_OK && a <= WIRE_MEMBER_ROTATE; a++) {
        if (action.len == strlen(wire_actions[a]) &&
            memcmp(action.ptr, wire_actions[a], action.len) == 0)
            b->action = (enum wire_member_action)a;
    }
    if (d->err == TB_OK && b->action == 0)
        wire_dec_fail(d, TB_EMALFORMED, 1, "action", "must be add, remove or rotate");
    wire_get_str(d, &f[1], 2, "city", &b->city);
    wire_get_str(d, &f[2], 3, "name", &b->name);
    wire_get_bin(d, &f[3], 4, "node_key", &b->node_key);
    wire_get_str(d, &f[4], 5, "endpoint", &b->endpoint);
    wire_get_uint(d, &f[5], 6, "effective_height", &b->effective_height);
}

/* ---- Bodies by kind ---- */

struct wire_body_codec
{
    wire_conv_fn conv;
    wire_enc_fn enc;
};

static const struct wire_body_codec wire_bodies[WIRE_KIND_MAX + 1] = {
    [WIRE_KIND_RECORD_ISSUE] = {wire_conv_issue, wire_enc_issue},
    [WIRE_KIND_RECORD_REVOKE] = {wire_conv_revoke, wire_enc_revoke},
    [WIRE_KIND_AGENCY_REGISTER] = {wire_conv_register, wire_enc_register},
    [WIRE_KIND_AGENCY_RETIRE] = {wire_conv_retire, wire_enc_retire},
    [WIRE_KIND_ACCESS_AUDIT] = {wire_conv_audit, wire_enc_audit},
    [WIRE_KIND_MEMBER_CHANGE] = {wire_conv_member, wire_enc_member},
};

int wire_tx_body_encode(const struct wire_tx_body *body, struct tb_buf *out, char *errmsg)
{
    int kind;

    TB_ASSERT(body != NULL);
    kind = (int)body->kind;
    if (kind < WIRE_KIND_MIN || kind > WIRE_KIND_MAX)
        return tb_fail(errmsg, TB_EINVAL, "tx body: kind must be %d..%d, got %d", WIRE_KIND_MIN,
                       WIRE_KIND_MAX, kind);
    /* The envelope's own limit (WIRE_TX_BYTES_MAX) is checked again when the body is wrapped. */
    return wire_encode_with(wire_kind_name(kind), WIRE_TX_BYTES_MAX, wire_bodies[kind].enc,
                            &body->u, out, errmsg);
}

int wire_tx_body_decode(int kind, const uint8_t *data, size_t len, struct wire_tx_body *out,
                        char *errmsg)
{
    int rv;

    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (kind < WIRE_KIND_MIN || kind > WIRE_KIND_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "tx body: kind must be %d..%d, got %d", WIRE_KIND_MIN,
                       WIRE_KIND_MAX, kind);
    rv = wire_decode_with(wire_kind_name(kind), data, len, WIRE_TX_BYTES_MAX, WIRE_CLAIMS_MAX,
                          wire_bodies[kind].conv, wire_bodies[kind].enc, &out->u, errmsg);
    if (rv == TB_OK)
        out->kind = (enum wire_kind)kind;
    return rv;
}
