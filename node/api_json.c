/*
 * JSON rendering of ledger objects for the API (records, headers, blocks, agencies,
 * members): the one place that decides how a wire structure looks in docs/api.md.
 *
 * Every renderer builds a fresh jansson value and returns NULL if anything in it cannot
 * be built (allocation, or a string jansson refuses); json_pack frees what it already
 * built in that case. Nothing here reads the store, replies or logs, and nothing here
 * trusts a length it did not get from a decoded wire struct.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

/* Hex of at most this many bytes renders on the stack; keys are at most 65 bytes. */
#define API_HEX_STACK_BYTES 128u

json_t *api_json_hex(const uint8_t *p, size_t n)
{
    char text[2 * API_HEX_STACK_BYTES + 1];
    TB_ASSERT(n <= API_HEX_STACK_BYTES);
    TB_ASSERT(p != NULL || n == 0);
    tb_hex_encode(p, n, text);
    return json_stringn(text, 2 * n);
}

json_t *api_json_b64(const uint8_t *p, size_t n)
{
    TB_ASSERT(p != NULL || n == 0);
    TB_ASSERT(n <= WIRE_BLOCK_BYTES_MAX);
    size_t size = TB_BASE64_ENCODED_SIZE(n);
    char *text = tb_malloc(size);
    if (text == NULL)
        return NULL;
    tb_base64_encode(p, n, text);
    json_t *j = json_stringn(text, size - 1);
    tb_free(text);
    return j;
}

json_t *api_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRIu64, v);
    TB_ASSERT(n > 0 && (size_t)n < sizeof(text));
    return json_stringn(text, (size_t)n);
}

static json_t *api_json_claims(const struct wire_record_issue *r)
{
    json_t *obj = json_object();
    TB_ASSERT(r->claim_count <= WIRE_CLAIMS_MAX);
    if (obj == NULL)
        return NULL;
    for (size_t i = 0; i < r->claim_count; i++) {
        const struct wire_claim *c = &r->claims[i];
        TB_ASSERT(c->key.len > 0 && c->key.len <= WIRE_CLAIM_KEY_BYTES_MAX);
        json_t *v = c->is_uint ? api_json_u64(c->uint_value)
                               : json_stringn((const char *)c->str_value.ptr, c->str_value.len);
        if (json_object_setn_new(obj, (const char *)c->key.ptr, c->key.len, v) !=
            0) { /* NULL v fails here too */
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *api_json_record(const struct wire_record_issue *r)
{
    TB_ASSERT(r != NULL);
    TB_ASSERT(r->type.len > 0 && r->city.len > 0);
    return json_pack(
        "{s:s%,s:s%,s:s%,s:o,s:o,s:o,s:o,s:o}", "type", (const char *)r->type.ptr, r->type.len,
        "city", (const char *)r->city.ptr, r->city.len, "agency", (const char *)r->agency.ptr,
        r->agency.len, "subject", api_json_hex(r->subject, WIRE_HASH_BYTES), "issued_at",
        api_json_u64(r->issued_at), "expires_at", api_json_u64(r->expires_at), "claims",
        api_json_claims(r), "doc_digest", api_json_hex(r->doc_digest, WIRE_HASH_BYTES));
}

json_t *api_json_header(const struct wire_header *h)
{
    TB_ASSERT(h != NULL);
    TB_ASSERT(h->version == WIRE_HEADER_VERSION);
    return json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "version", api_json_u64(h->version),
        "chain_id", api_json_hex(h->chain_id, 32), "height", api_json_u64(h->height), "time_ms",
        api_json_u64(h->time_ms), "prev_block_hash", api_json_hex(h->prev_block_hash, 32),
        "log_size", api_json_u64(h->log_size), "log_root", api_json_hex(h->log_root, 32),
        "state_root", api_json_hex(h->state_root, 32), "validator_set_hash",
        api_json_hex(h->validator_set_hash, 32), "proposer_index", (json_int_t)h->proposer_index);
}

/* One {"id", "kind", "envelope"} of a block; the id is recomputed from the body bytes. */
static json_t *api_json_block_tx(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                                 struct tb_bytes env)
{
    struct wire_tx tx;
    uint8_t id[WIRE_HASH_BYTES];
    /* The block decoded strictly, so each envelope does too; a failure here is a store
     * that changed under us, answered as an internal error rather than asserted. */
    if (wire_tx_decode(env.ptr, env.len, &tx, NULL) != TB_OK)
        return NULL;
    TB_ASSERT(tx.kind >= WIRE_KIND_MIN && tx.kind <= WIRE_KIND_MAX);
    wire_tx_id(suite, chain_id, tx.kind, tx.body.ptr, tx.body.len, id);
    return json_pack("{s:o,s:s,s:o}", "id", api_json_hex(id, WIRE_HASH_BYTES), "kind",
                     wire_kind_name(tx.kind), "envelope", api_json_b64(env.ptr, env.len));
}

static json_t *api_json_cert(const struct wire_cert *c)
{
    json_t *sigs = json_array();
    TB_ASSERT(c->sig_count <= WIRE_VALIDATORS_MAX);
    if (sigs == NULL)
        return NULL;
    for (size_t i = 0; i < c->sig_count; i++) {
        json_t *s = json_pack("{s:I,s:o}", "validator", (json_int_t)c->sigs[i].validator_index,
                              "sig", api_json_b64(c->sigs[i].sig.ptr, c->sigs[i].sig.len));
        if (json_array_append_new(sigs, s) != 0) {
            json_decref(sigs);
            return NULL;
        }
    }
    return json_pack("{s:I,s:o,s:o}", "round", (json_int_t)c->round, "block_hash",
                     api_json_hex(c->block_hash, WIRE_HASH_BYTES), "signatures", sigs);
}

json_t *api_json_block(enum cr_suite suite, const struct wire_block *b,
                       const struct wire_cert *cert)
{
    uint8_t hash[WIRE_HASH_BYTES];
    TB_ASSERT(b != NULL);
    TB_ASSERT(b->tx_count <= WIRE_BLOCK_TXS_MAX);
    wire_block_hash(suite, b->header_bytes.ptr, b->header_bytes.len, hash);
    json_t *txs = json_array();
    if (txs == NULL)
        return NULL;
    for (size_t i = 0; i < b->tx_count; i++) {
        if (json_array_append_new(txs, api_json_block_tx(suite, b->header.chain_id, b->txs[i])) !=
            0) {
            json_decref(txs);
            return NULL;
        }
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "height", api_json_u64(b->header.height), "hash",
                     api_json_hex(hash, WIRE_HASH_BYTES), "header", api_json_header(&b->header),
                     "txs", txs, "certificate", cert != NULL ? api_json_cert(cert) : json_null());
}

json_t *api_json_agency(enum cr_suite suite, const struct ledger_agency *a)
{
    uint8_t key_id[CR_HASH_BYTES];
    TB_ASSERT(a != NULL);
    TB_ASSERT(a->public_key_len > 0 && a->public_key_len <= WIRE_PUBKEY_BYTES_MAX);
    TB_ASSERT(a->type_count <= WIRE_AGENCY_TYPES_MAX);
    cr_hash(suite, a->public_key, a->public_key_len, key_id); /* DESIGN 3.1: H(public key) */
    json_t *types = json_array();
    if (types == NULL)
        return NULL;
    for (size_t i = 0; i < a->type_count; i++) {
        if (json_array_append_new(types, json_string(a->types[i])) != 0) {
            json_decref(types);
            return NULL;
        }
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "city", a->city, "agency",
                     a->agency, "name", a->name, "public_key",
                     api_json_hex(a->public_key, a->public_key_len), "key_id",
                     api_json_hex(key_id, CR_HASH_BYTES), "types", types, "not_after",
                     api_json_u64(a->not_after), "state", a->state == 1 ? "active" : "retired",
                     "registered_height", api_json_u64(a->registered_height), "retired_height",
                     api_json_u64(a->retired_height));
}

json_t *api_json_member(const struct cfg_member *m, const uint8_t key_id[CR_HASH_BYTES],
                        size_t validator_index)
{
    TB_ASSERT(m != NULL);
    TB_ASSERT(m->node_key_len > 0 && m->node_key_len <= CFG_NODE_KEY_MAX);
    return json_pack("{s:s,s:s,s:o,s:o,s:s,s:I}", "city", m->city, "name", m->name, "node_key",
                     api_json_hex(m->node_key, m->node_key_len), "key_id",
                     api_json_hex(key_id, CR_HASH_BYTES), "endpoint", m->endpoint,
                     "validator_index", (json_int_t)validator_index);
}

json_t *api_json_tx_status(const uint8_t id[WIRE_HASH_BYTES], uint8_t kind, bool committed,
                           uint64_t height, uint32_t index)
{
    const char *name = wire_kind_name(kind);
    if (!committed)
        TB_ASSERT(height == 0);
    if (name == NULL)
        return NULL; /* a kind the node core did not fill in: answered as 500 */
    if (!committed)
        return json_pack("{s:o,s:s,s:s}", "id", api_json_hex(id, WIRE_HASH_BYTES), "kind", name,
                         "status", "pending");
    return json_pack("{s:o,s:s,s:s,s:o,s:I}", "id", api_json_hex(id, WIRE_HASH_BYTES), "kind", name,
                     "status", "committed", "height", api_json_u64(height), "index",
                     (json_int_t)index);
}
