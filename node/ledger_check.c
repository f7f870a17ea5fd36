/*
 * node/ledger_check.c: the admission rules of DESIGN 3.4, one function per kind: strict
 * decoding, the tx id from the exact body bytes, replay, authority (who may sign what, with
 * which key state at the block's time) and the signature over the DESIGN 3.3 sign input.
 * The checks only read the store; whatever the apply step needs is left in the context.
 *
 * The order of checks inside a kind is part of the contract, because the verdict code is
 * what an API client sees: structure, then replay, then what the ledger knows (types,
 * records, keys and their state), then the signature. Cheap refusals come before the
 * signature check so that junk costs no public-key operation.
 *
 * Must never: write to the store, read a clock (times come from the block), or assert on
 * tx bytes or stored entries.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "tb_assert.h"

int ledger_refuse(struct ledger_verdict *v, enum ledger_code code, const char *fmt, ...)
{
    TB_ASSERT(code != LEDGER_OK && code != LEDGER_INTERNAL && code < LEDGER_CODE_COUNT);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
    v->code = code;
    switch (code) {
    case LEDGER_MALFORMED:
        return TB_EMALFORMED;
    case LEDGER_BAD_SIGNATURE:
        return TB_EBADSIG;
    case LEDGER_REPLAY:
    case LEDGER_ALREADY_REVOKED:
    case LEDGER_ALREADY_REGISTERED:
        return TB_EEXIST;
    case LEDGER_UNKNOWN_RECORD:
        return TB_ENOTFOUND;
    case LEDGER_BAD_TIME:
    case LEDGER_UNSUPPORTED:
    case LEDGER_BAD_HEADER:
    case LEDGER_BAD_ROOTS:
        return TB_EINVAL;
    default:
        return TB_EAUTH;
    }
}

int ledger_internal(struct ledger_verdict *v, int rv, const char *what, const char *errmsg)
{
    TB_ASSERT(rv < 0);
    v->code = LEDGER_INTERNAL;
    size_t n = strnlen(errmsg, sizeof(v->message) - 1);
    memcpy(v->message, errmsg, n);
    v->message[n] = '\0';
    tb_errmsg_wrapf(v->message, "%s", what);
    return rv;
}

static bool ledger_bytes_eq(struct tb_bytes a, struct tb_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Time in a tx body (seconds) against the block's: at most the allowance ahead. */
static bool ledger_time_ok(uint64_t at_s, uint64_t block_time_ms)
{
    return at_s <= block_time_ms / 1000u + LEDGER_FUTURE_ALLOWANCE_S;
}

static int ledger_one_sig(const struct wire_tx *tx, struct ledger_verdict *v)
{
    TB_ASSERT(tx->sig_count >= 1); /* wire refuses an envelope without signatures */
    if (tx->sig_count != 1)
        return ledger_refuse(v, LEDGER_NOT_AUTHORISED, "%s takes exactly one signature, got %zu",
                             wire_kind_name(tx->kind), tx->sig_count);
    return TB_OK;
}

/*
 * The key object of an agency public key, from the cache or parsed and cached (evicting the
 * least recently used). *key is NULL when the bytes are no valid key (refused at
 * registration, so only a corrupt store gets here). TB_ENOMEM.
 */
static int ledger_agency_key(struct ledger *l, struct tb_bytes pub, struct cr_key **key)
{
    TB_ASSERT(pub.len > 0 && pub.len <= CR_PUBKEY_MAX);
    struct ledger_cached_key *victim = &l->key_cache[0];
    *key = NULL;
    l->key_cache_clock++;
    for (size_t i = 0; i < LEDGER_KEY_CACHE_SIZE; i++) {
        struct ledger_cached_key *c = &l->key_cache[i];
        if (c->pub_len == pub.len && memcmp(c->pub, pub.ptr, pub.len) == 0) {
            c->used = l->key_cache_clock;
            *key = c->key;
            return TB_OK;
        }
        if (c->used < victim->used)
            victim = c;
    }
    struct cr_key *k = NULL;
    int rv = cr_key_from_public(l->suite, pub.ptr, pub.len, &k);
    if (rv == TB_ENOMEM)
        return rv;
    if (rv != TB_OK)
        return TB_OK; /* not a key: the signature cannot verify */
    cr_key_free(victim->key);
    memcpy(victim->pub, pub.ptr, pub.len);
    victim->pub_len = pub.len;
    victim->key = k;
    victim->used = l->key_cache_clock;
    TB_ASSERT(victim->key != NULL);
    *key = k;
    return TB_OK;
}

/* The cache set of a verified (public key, signature, sign input) triple; digest filled. */
static size_t ledger_sig_set(const struct ledger *l, struct tb_bytes pub, struct tb_bytes sig,
                             uint8_t digest[WIRE_HASH_BYTES])
{
    /* Local only, never on disk or the wire; the tag keeps it apart from every DESIGN hash. */
    TB_ASSERT(pub.len <= 255 && sig.len <= 255); /* length bytes make the input unambiguous */
    const uint8_t lens[2] = {(uint8_t)pub.len, (uint8_t)sig.len};
    const struct tb_bytes parts[4] = {
        {lens, sizeof(lens)}, pub, sig, {l->sign_input.data, l->sign_input.len}};
    cr_hash_tagged(l->suite, "tongban/local-sig-cache/v1", parts, 4, digest);
    return ((size_t)digest[0] << 16 | (size_t)digest[1] << 8 | digest[2]) % LEDGER_SIG_CACHE_SETS;
}

static bool ledger_sig_cached(const struct ledger *l, size_t set,
                              const uint8_t digest[WIRE_HASH_BYTES])
{
    for (size_t w = 0; w < LEDGER_SIG_CACHE_WAYS; w++)
        if (memcmp(l->sig_cache[set * LEDGER_SIG_CACHE_WAYS + w], digest, WIRE_HASH_BYTES) == 0)
            return true;
    return false;
}

/* Replaces the set's ways in turn: the oldest insert goes first. */
static void ledger_sig_remember(struct ledger *l, size_t set, const uint8_t digest[WIRE_HASH_BYTES])
{
    uint8_t way = l->sig_cache_next[set];
    TB_ASSERT(way < LEDGER_SIG_CACHE_WAYS);
    memcpy(l->sig_cache[set * LEDGER_SIG_CACHE_WAYS + way], digest, WIRE_HASH_BYTES);
    l->sig_cache_next[set] = (uint8_t)((way + 1u) % LEDGER_SIG_CACHE_WAYS);
}

/* Verifies tx's only signature with key (a kept node key) or pub (an agency key). */
static int ledger_verify(struct ledger *l, const struct wire_tx *tx, struct cr_key *key,
                         struct tb_bytes pub, struct ledger_verdict *v)
{
    TB_ASSERT(tx->sig_count == 1);
    TB_ASSERT(key != NULL || pub.len > 0);
    tb_buf_reset(&l->sign_input);
    int rv = wire_tx_sign_input(l->chain_id, tx->kind, tx->body.ptr, tx->body.len, &l->sign_input);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "signature input", tb_strerror(rv));
    const struct wire_tx_sig *s = &tx->sigs[0];
    uint8_t digest[WIRE_HASH_BYTES];
    size_t set = 0;
    bool cacheable = l->sig_cache != NULL && pub.len > 0; /* agency keys: nearly every tx */
    if (cacheable) {
        set = ledger_sig_set(l, pub, s->sig, digest);
        if (ledger_sig_cached(l, set, digest)) {
            l->sig_cache_hits++;
            return TB_OK; /* these exact bytes verified before */
        }
    }
    if (key == NULL) {
        rv = ledger_agency_key(l, pub, &key);
        if (rv != TB_OK)
            return ledger_internal(v, rv, "agency key", tb_strerror(rv));
    }
    if (key != NULL) {
        rv = cr_verify(key, l->sign_input.data, l->sign_input.len, s->sig.ptr, s->sig.len);
        l->sig_verifies++;
    } else {
        rv = TB_EBADSIG;
    }
    if (rv == TB_EBADSIG)
        return ledger_refuse(v, LEDGER_BAD_SIGNATURE,
                             "%s: the signature does not verify over this chain's sign input",
                             wire_kind_name(tx->kind));
    if (rv != TB_OK)
        return ledger_internal(v, rv, "signature check", tb_strerror(rv));
    if (cacheable)
        ledger_sig_remember(l, set, digest);
    return TB_OK;
}

static size_t ledger_pub_len(enum cr_suite suite)
{
    return suite == CR_SUITE_SM2_SM3 ? CR_SM2_PUBKEY_BYTES : CR_ED25519_PUBKEY_BYTES;
}

/*
 * The agency key behind the tx's only signature: its public key (into pub) and entry,
 * usable at the block time (registered, not retired, not expired).
 */
static int ledger_signing_agency(struct ledger *l, struct store_txn *txn, const struct wire_tx *tx,
                                 uint64_t block_time_ms, uint8_t pub[CR_PUBKEY_MAX],
                                 struct ledger_ag *ag, struct ledger_verdict *v)
{
    uint8_t key[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES];
    struct tb_bytes kb = {key, sizeof(key)};
    size_t pub_len = ledger_pub_len(l->suite);
    int rv = ledger_one_sig(tx, v);
    if (rv != TB_OK)
        return rv;
    ledger_meta_key(key, 'k', tx->sigs[0].key_id);
    rv = store_get_exact(txn, STORE_DB_META, kb, pub, pub_len, l->errmsg);
    if (rv == TB_ENOTFOUND)
        return ledger_refuse(v, LEDGER_UNKNOWN_AGENCY,
                             "%s: the signing key is not a registered agency key",
                             wire_kind_name(tx->kind));
    if (rv != TB_OK)
        return ledger_internal(v, rv, "agency key id", l->errmsg);
    struct tb_bytes pb = {pub, pub_len};
    rv = ledger_ag_get(l, txn, pb, ag, l->errmsg);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(l->errmsg, TB_EIO, "agency key id without its entry (corrupt store)");
    if (rv != TB_OK)
        return ledger_internal(v, rv, "agency entry", l->errmsg);
    if (ag->state != LEDGER_STATE_ACTIVE)
        return ledger_refuse(v, LEDGER_RETIRED_KEY, "the agency key was retired at height %" PRIu64,
                             ag->retired_height);
    if (ag->not_after <= block_time_ms / 1000u)
        return ledger_refuse(v, LEDGER_EXPIRED_KEY,
                             "the agency key expired at %" PRIu64 " (block time %" PRIu64 " s)",
                             ag->not_after, block_time_ms / 1000u);
    return TB_OK;
}

/* The genesis member of city and its kept node key, or a refusal. */
static int ledger_city_key(struct ledger *l, struct tb_bytes city, const struct wire_tx *tx,
                           struct cr_key **key, struct ledger_verdict *v)
{
    char c[WIRE_CITY_BYTES_MAX + 1];
    ledger_cstr(c, sizeof(c), city);
    const struct cfg_member *m = cfg_genesis_member_by_city(l->genesis, c);
    if (m == NULL)
        return ledger_refuse(v, LEDGER_NOT_AUTHORISED, "city %s is not a member of the federation",
                             c);
    int rv = ledger_one_sig(tx, v);
    if (rv != TB_OK)
        return rv;
    for (size_t i = 0; i < l->validator_count; i++) {
        if (l->validators[i].member != m)
            continue;
        if (memcmp(l->validators[i].key_id, tx->sigs[0].key_id, WIRE_HASH_BYTES) != 0)
            return ledger_refuse(v, LEDGER_NOT_AUTHORISED,
                                 "%s for city %s must be signed by that city's node key",
                                 wire_kind_name(tx->kind), c);
        *key = l->validators[i].key;
        return TB_OK;
    }
    TB_UNREACHABLE(); /* every member is a validator */
}

static bool ledger_genesis_type(const struct ledger *l, struct tb_bytes type)
{
    char t[WIRE_TYPE_BYTES_MAX + 1];
    ledger_cstr(t, sizeof(t), type);
    return cfg_genesis_type(l->genesis, t) != NULL;
}

static int ledger_check_issue(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                              uint64_t block_time_ms, struct ledger_verdict *v)
{
    const struct wire_record_issue *b = &ctx->body.u.issue;
    uint8_t pub[CR_PUBKEY_MAX];
    struct ledger_ag ag;
    if (!ledger_genesis_type(l, b->type))
        return ledger_refuse(v, LEDGER_UNKNOWN_TYPE, "record type %.*s is not in the genesis",
                             (int)b->type.len, (const char *)b->type.ptr);
    if (b->expires_at != 0 && b->expires_at <= b->issued_at)
        return ledger_refuse(v, LEDGER_BAD_TIME,
                             "expires_at %" PRIu64 " is not after issued_at %" PRIu64,
                             b->expires_at, b->issued_at);
    if (!ledger_time_ok(b->issued_at, block_time_ms))
        return ledger_refuse(v, LEDGER_BAD_TIME, "issued_at %" PRIu64 " is after the block time",
                             b->issued_at);
    int rv = ledger_signing_agency(l, txn, &ctx->tx, block_time_ms, pub, &ag, v);
    if (rv != TB_OK)
        return rv;
    const struct wire_agency_register *r = &ag.reg.u.reg;
    if (!ledger_bytes_eq(r->city, b->city) || !ledger_bytes_eq(r->agency, b->agency))
        return ledger_refuse(
            v, LEDGER_NOT_AUTHORISED, "the key belongs to %.*s/%.*s, the record is for %.*s/%.*s",
            (int)r->city.len, (const char *)r->city.ptr, (int)r->agency.len,
            (const char *)r->agency.ptr, (int)b->city.len, (const char *)b->city.ptr,
            (int)b->agency.len, (const char *)b->agency.ptr);
    bool typed = false;
    for (size_t i = 0; i < r->type_count && !typed; i++)
        typed = ledger_bytes_eq(r->types[i], b->type);
    if (!typed)
        return ledger_refuse(v, LEDGER_WRONG_TYPE, "the agency is not registered for type %.*s",
                             (int)b->type.len, (const char *)b->type.ptr);
    struct tb_bytes pb = {pub, ledger_pub_len(l->suite)};
    return ledger_verify(l, &ctx->tx, NULL, pb, v);
}

/*
 * Revoke and audit: the record must exist (and, for a revoke, still be valid); the signer
 * must be an active agency key of (city, agency), or of the record's issuing city and
 * agency when city is NULL (a revoke: the issuer, not another agency of the same city).
 */
static int ledger_check_record_tx(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                                  const uint8_t record_id[WIRE_HASH_BYTES],
                                  const struct tb_bytes *city, const struct tb_bytes *agency,
                                  uint64_t at_s, uint64_t block_time_ms, struct ledger_verdict *v)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct ledger_ag ag;
    TB_ASSERT((city == NULL) == (agency == NULL));
    int rv = ledger_rec_get(l, txn, record_id, &ctx->rec, l->errmsg);
    if (rv == TB_ENOTFOUND)
        return ledger_refuse(v, LEDGER_UNKNOWN_RECORD, "no committed record with that id");
    if (rv != TB_OK)
        return ledger_internal(v, rv, "record entry", l->errmsg);
    if (ctx->tx.kind == WIRE_KIND_RECORD_REVOKE && ctx->rec.state != LEDGER_STATE_ACTIVE)
        return ledger_refuse(v, LEDGER_ALREADY_REVOKED, "the record was revoked at height %" PRIu64,
                             ctx->rec.revoked_height);
    if (!ledger_time_ok(at_s, block_time_ms))
        return ledger_refuse(v, LEDGER_BAD_TIME, "time %" PRIu64 " is after the block time", at_s);
    rv = ledger_signing_agency(l, txn, &ctx->tx, block_time_ms, pub, &ag, v);
    if (rv != TB_OK)
        return rv;
    struct tb_bytes want_city = {(const uint8_t *)ctx->rec.city, strlen(ctx->rec.city)};
    struct tb_bytes want_agency = {(const uint8_t *)ctx->rec.agency, strlen(ctx->rec.agency)};
    if (city != NULL) {
        want_city = *city;
        want_agency = *agency;
    }
    const struct wire_agency_register *r = &ag.reg.u.reg;
    if (!ledger_bytes_eq(r->city, want_city) || !ledger_bytes_eq(r->agency, want_agency))
        return ledger_refuse(
            v, LEDGER_NOT_AUTHORISED, "the key belongs to %.*s/%.*s, the %s needs %.*s/%.*s",
            (int)r->city.len, (const char *)r->city.ptr, (int)r->agency.len,
            (const char *)r->agency.ptr, wire_kind_name(ctx->tx.kind), (int)want_city.len,
            (const char *)want_city.ptr, (int)want_agency.len, (const char *)want_agency.ptr);
    struct tb_bytes pb = {pub, ledger_pub_len(l->suite)};
    return ledger_verify(l, &ctx->tx, NULL, pb, v);
}

static int ledger_check_revoke(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                               uint64_t block_time_ms, struct ledger_verdict *v)
{
    const struct wire_record_revoke *b = &ctx->body.u.revoke;
    return ledger_check_record_tx(l, txn, ctx, b->record_id, NULL, NULL, b->revoked_at,
                                  block_time_ms, v);
}

/*
 * access.audit: what is deterministic from the ledger's state (docs/consent.md): the record
 * exists; its type is not `closed` (a closed record's document never leaves its city, so no
 * access to it is ever logged as one); the signer is an active, unexpired agency key
 * registered to exactly requester_city/requester_agency (so the requester's city is a
 * member); `at` not after the block. The consent token itself is not on the ledger: the
 * holding node checks it (signer an agency of the record's city, subject, type, grantee =
 * requester, expiry, uses) before it submits the audit, and only then serves the document.
 */
static int ledger_check_audit(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                              uint64_t block_time_ms, struct ledger_verdict *v)
{
    const struct wire_access_audit *b = &ctx->body.u.audit;
    int rv = ledger_rec_get(l, txn, b->record_id, &ctx->rec, l->errmsg);
    if (rv == TB_OK) {
        const struct cfg_record_type *t = cfg_genesis_type(l->genesis, ctx->rec.type);
        if (t != NULL && t->sharing == CFG_SHARING_CLOSED)
            return ledger_refuse(v, LEDGER_NOT_AUTHORISED,
                                 "type %s is closed: its records are never accessed from "
                                 "another agency",
                                 ctx->rec.type);
    } else if (rv != TB_ENOTFOUND) {
        return ledger_internal(v, rv, "record entry", l->errmsg);
    }
    return ledger_check_record_tx(l, txn, ctx, b->record_id, &b->requester_city,
                                  &b->requester_agency, b->at, block_time_ms, v);
}

static int ledger_check_register(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                                 uint64_t block_time_ms, struct ledger_verdict *v)
{
    const struct wire_agency_register *b = &ctx->body.u.reg;
    struct cr_key *node_key = NULL, *agency_key = NULL;
    int rv = ledger_city_key(l, b->city, &ctx->tx, &node_key, v);
    if (rv != TB_OK)
        return rv;
    if (cr_key_from_public(l->suite, b->public_key.ptr, b->public_key.len, &agency_key) != TB_OK)
        return ledger_refuse(v, LEDGER_MALFORMED, "public_key is not a valid %s public key",
                             cr_suite_name(l->suite));
    cr_key_free(agency_key);
    rv = store_agency_get(txn, b->public_key, NULL, l->errmsg);
    if (rv == TB_OK)
        return ledger_refuse(v, LEDGER_ALREADY_REGISTERED, "that agency key is already registered");
    if (rv != TB_ENOTFOUND)
        return ledger_internal(v, rv, "agency entry", l->errmsg);
    for (size_t i = 0; i < b->type_count; i++)
        if (!ledger_genesis_type(l, b->types[i]))
            return ledger_refuse(v, LEDGER_UNKNOWN_TYPE, "record type %.*s is not in the genesis",
                                 (int)b->types[i].len, (const char *)b->types[i].ptr);
    if (b->not_after <= block_time_ms / 1000u)
        return ledger_refuse(v, LEDGER_EXPIRED_KEY,
                             "not_after %" PRIu64 " is not after the block time", b->not_after);
    return ledger_verify(l, &ctx->tx, node_key, (struct tb_bytes){NULL, 0}, v);
}

static int ledger_check_retire(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                               struct ledger_verdict *v)
{
    const struct wire_agency_retire *b = &ctx->body.u.retire;
    struct cr_key *node_key = NULL;
    int rv = ledger_city_key(l, b->city, &ctx->tx, &node_key, v);
    if (rv != TB_OK)
        return rv;
    rv = ledger_ag_get(l, txn, b->public_key, &ctx->ag, l->errmsg);
    if (rv == TB_ENOTFOUND)
        return ledger_refuse(v, LEDGER_UNKNOWN_AGENCY, "that agency key is not registered");
    if (rv != TB_OK)
        return ledger_internal(v, rv, "agency entry", l->errmsg);
    const struct wire_agency_register *r = &ctx->ag.reg.u.reg;
    if (!ledger_bytes_eq(r->city, b->city) || !ledger_bytes_eq(r->agency, b->agency))
        return ledger_refuse(v, LEDGER_NOT_AUTHORISED,
                             "the key belongs to %.*s/%.*s, not to the agency named",
                             (int)r->city.len, (const char *)r->city.ptr, (int)r->agency.len,
                             (const char *)r->agency.ptr);
    if (ctx->ag.state != LEDGER_STATE_ACTIVE)
        return ledger_refuse(v, LEDGER_RETIRED_KEY, "the agency key was retired at height %" PRIu64,
                             ctx->ag.retired_height);
    return ledger_verify(l, &ctx->tx, node_key, (struct tb_bytes){NULL, 0}, v);
}

/* The body of a member.change against the genesis set (the only set there is so far). */
static int ledger_check_member_body(struct ledger *l, const struct wire_member_change *b,
                                    uint64_t height, struct ledger_verdict *v)
{
    char c[WIRE_CITY_BYTES_MAX + 1];
    struct cr_key *k = NULL;
    ledger_cstr(c, sizeof(c), b->city);
    const struct cfg_member *m = cfg_genesis_member_by_city(l->genesis, c);
    if (b->action == WIRE_MEMBER_ADD && m != NULL)
        return ledger_refuse(v, LEDGER_MALFORMED, "city %s is already a member", c);
    if (b->action != WIRE_MEMBER_ADD && m == NULL)
        return ledger_refuse(v, LEDGER_MALFORMED, "city %s is not a member", c);
    if (cr_key_from_public(l->suite, b->node_key.ptr, b->node_key.len, &k) != TB_OK)
        return ledger_refuse(v, LEDGER_MALFORMED, "node_key is not a valid %s public key",
                             cr_suite_name(l->suite));
    cr_key_free(k);
    if (b->action != WIRE_MEMBER_REMOVE &&
        cfg_genesis_member_by_key(l->genesis, b->node_key.ptr, b->node_key.len) != NULL)
        return ledger_refuse(v, LEDGER_MALFORMED, "node_key is already a member's key");
    if (b->effective_height <= height)
        return ledger_refuse(v, LEDGER_BAD_TIME,
                             "effective_height %" PRIu64 " is not after height %" PRIu64,
                             b->effective_height, height);
    return TB_OK;
}

/*
 * member.change: the body is checked and the signatures must come from more than two
 * thirds of the members' node keys (distinct: wire refuses repeated key ids), each one
 * verifying; then it is refused, because applying it is not implemented.
 */
static int ledger_check_member(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                               struct ledger_verdict *v)
{
    struct store_state st;
    int rv = store_state_get(txn, &st, l->errmsg);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "state", l->errmsg);
    rv = ledger_check_member_body(l, &ctx->body.u.member, st.height, v);
    if (rv != TB_OK)
        return rv;
    const struct wire_tx *tx = &ctx->tx;
    TB_ASSERT(tx->sig_count <= WIRE_TX_SIGS_MAX);
    for (size_t i = 0; i < tx->sig_count; i++) {
        const struct ledger_validator *val = NULL;
        for (size_t j = 0; j < l->validator_count && val == NULL; j++)
            if (memcmp(l->validators[j].key_id, tx->sigs[i].key_id, WIRE_HASH_BYTES) == 0)
                val = &l->validators[j];
        if (val == NULL)
            return ledger_refuse(v, LEDGER_NOT_AUTHORISED,
                                 "member.change signature %zu is not by a member's node key", i);
        /* ledger_verify checks sigs[0]: hand it a one-signature view of this one. */
        struct wire_tx one = *tx;
        one.sigs[0] = tx->sigs[i];
        one.sig_count = 1;
        rv = ledger_verify(l, &one, val->key, (struct tb_bytes){NULL, 0}, v);
        if (rv != TB_OK)
            return rv;
    }
    if (3 * tx->sig_count <= 2 * l->validator_count)
        return ledger_refuse(v, LEDGER_NOT_AUTHORISED,
                             "member.change needs more than two thirds of %zu members, got %zu",
                             l->validator_count, tx->sig_count);
    /* NEEDSWORK(issue 4, member.change): apply it: the validator set changes at
     * effective_height (and with it validator_set_hash and the proposer order). Until then
     * a valid change is refused rather than half-applied. */
    return ledger_refuse(
        v, LEDGER_UNSUPPORTED,
        "member.change is not supported yet (its body and %zu signatures are valid)",
        tx->sig_count);
}

static int ledger_check_body(struct ledger *l, struct store_txn *txn, struct ledger_txctx *ctx,
                             uint64_t block_time_ms, struct ledger_verdict *v)
{
    switch (ctx->body.kind) {
    case WIRE_KIND_RECORD_ISSUE:
        return ledger_check_issue(l, txn, ctx, block_time_ms, v);
    case WIRE_KIND_RECORD_REVOKE:
        return ledger_check_revoke(l, txn, ctx, block_time_ms, v);
    case WIRE_KIND_AGENCY_REGISTER:
        return ledger_check_register(l, txn, ctx, block_time_ms, v);
    case WIRE_KIND_AGENCY_RETIRE:
        return ledger_check_retire(l, txn, ctx, v);
    case WIRE_KIND_ACCESS_AUDIT:
        return ledger_check_audit(l, txn, ctx, block_time_ms, v);
    case WIRE_KIND_MEMBER_CHANGE:
        return ledger_check_member(l, txn, ctx, v);
    }
    TB_UNREACHABLE();
}

int ledger_tx_check(struct ledger *l, struct store_txn *txn, struct tb_bytes envelope,
                    uint64_t block_time_ms, struct ledger_txctx *ctx, struct ledger_verdict *v)
{
    TB_ASSERT(l != NULL && txn != NULL && ctx != NULL);
    memset(v, 0, sizeof(*v));
    char why[TB_ERRMSG_SIZE] = "";
    int rv = wire_tx_decode(envelope.ptr, envelope.len, &ctx->tx, why);
    if (rv != TB_OK)
        return ledger_refuse(v, LEDGER_MALFORMED, "envelope: %s", why);
    TB_ASSERT(ctx->tx.kind >= WIRE_KIND_MIN && ctx->tx.kind <= WIRE_KIND_MAX);
    wire_tx_id(l->suite, l->chain_id, ctx->tx.kind, ctx->tx.body.ptr, ctx->tx.body.len, ctx->id);
    v->has_tx = true;
    v->kind = ctx->tx.kind;
    memcpy(v->tx_id, ctx->id, WIRE_HASH_BYTES);
    rv = wire_tx_body_decode(ctx->tx.kind, ctx->tx.body.ptr, ctx->tx.body.len, &ctx->body, why);
    if (rv != TB_OK)
        return ledger_refuse(v, LEDGER_MALFORMED, "body: %s", why);
    struct store_txloc loc;
    rv = store_txloc_get(txn, ctx->id, &loc, l->errmsg);
    if (rv == TB_OK)
        return ledger_refuse(v, LEDGER_REPLAY,
                             "%s already committed at height %" PRIu64 " index %" PRIu32,
                             wire_kind_name(ctx->tx.kind), loc.height, loc.index);
    if (rv != TB_ENOTFOUND)
        return ledger_internal(v, rv, "txloc", l->errmsg);
    rv = ledger_check_body(l, txn, ctx, block_time_ms, v);
    if (rv == TB_OK)
        v->code = LEDGER_OK;
    return rv;
}

int ledger_check_tx(struct ledger *l, struct store_txn *txn, struct tb_bytes envelope,
                    uint64_t block_time_ms, struct ledger_verdict *verdict)
{
    struct ledger_txctx ctx;
    return ledger_tx_check(l, txn, envelope, block_time_ms, &ctx, verdict);
}
