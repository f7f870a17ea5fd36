/*
 * wire/: seeded property tests. For random valid values of every structure,
 * decode(encode(x)) == x field by field and encode(decode(b)) == b; integer and string headers
 * are compared with a naive reference encoder written here from the MessagePack spec.
 * A failure prints the seed; WIRE_SEED=n replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "t_util.h"
#include "tb_buf.h"
#include "wire.h"

#define ROUNDS 300

static struct t_rng rng;
static uint64_t seed = 20261127;
static uint8_t arena[1 << 20];
static size_t arena_n;
static char msg[TB_ERRMSG_SIZE];

static uint64_t rnd(uint64_t bound)
{
    return t_rng_below(&rng, bound);
}

static uint64_t rnd_uint(void)
{
    switch (rnd(6)) {
    case 0:
        return rnd(128);
    case 1:
        return 128 + rnd(128);
    case 2:
        return 256 + rnd(65536 - 256);
    case 3:
        return 65536 + rnd(0x100000000ull - 65536);
    case 4:
        return 0x100000000ull + rnd(1000);
    default:
        return t_rng_next(&rng);
    }
}

static uint8_t *take(size_t n)
{
    uint8_t *p;
    if (arena_n + n > sizeof(arena))
        fail_msg("arena exhausted");
    p = arena + arena_n;
    arena_n += n;
    return p;
}

/* A length in [min, max], often at a header-size boundary. */
static size_t rnd_len(size_t min, size_t max)
{
    static const size_t edges[] = {0, 1, 15, 16, 31, 32, 33, 255, 256, 1023, 1024};
    size_t e = edges[rnd(sizeof(edges) / sizeof(edges[0]))];
    if (rnd(2) == 0 && e >= min && e <= max)
        return e;
    return min + (size_t)rnd(max - min + 1);
}

/* Valid UTF-8 of exactly len bytes, mixing 1- to 4-byte characters. */
static struct tb_bytes rnd_text(size_t min, size_t max)
{
    size_t len = rnd_len(min, max);
    uint8_t *p = take(len);
    size_t i = 0;
    while (i < len) {
        size_t left = len - i;
        uint64_t k = rnd(4);
        if (k == 3 && left >= 4) {
            memcpy(p + i, "\xf0\x9f\x98\x80", 4);
            i += 4;
        } else if (k == 2 && left >= 3) {
            memcpy(p + i, "\xe5\xbc\xa0", 3);
            i += 3;
        } else if (k == 1 && left >= 2) {
            memcpy(p + i, "\xc3\xa9", 2);
            i += 2;
        } else {
            p[i++] = (uint8_t)(0x20 + rnd(0x5f));
        }
    }
    return (struct tb_bytes){p, len};
}

static struct tb_bytes rnd_code(size_t max)
{
    static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
    size_t len = 1 + (size_t)rnd(max);
    uint8_t *p = take(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)set[rnd(sizeof(set) - 1)];
    return (struct tb_bytes){p, len};
}

static struct tb_bytes rnd_city(void)
{
    return rnd_code(WIRE_CITY_BYTES_MAX);
}

static struct tb_bytes rnd_bin(size_t min, size_t max)
{
    size_t len = rnd_len(min, max);
    uint8_t *p = take(len);
    t_rng_bytes(&rng, p, len);
    return (struct tb_bytes){p, len};
}

static int cmp_bytes(const void *a, const void *b)
{
    const struct tb_bytes *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : (x->len > y->len ? 1 : 0);
}

/* A sorted, unique set of 1..max strings. */
static size_t rnd_set(struct tb_bytes *items, size_t max, size_t item_max)
{
    size_t n = 1 + (size_t)rnd(max), k = 1;
    for (size_t i = 0; i < n; i++)
        items[i] = rnd_text(1, rnd(4) == 0 ? item_max : 3);
    qsort(items, n, sizeof(*items), cmp_bytes);
    for (size_t i = 1; i < n; i++) {
        if (cmp_bytes(&items[k - 1], &items[i]) != 0)
            items[k++] = items[i];
    }
    return k;
}

static void eqb(struct tb_bytes a, struct tb_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.ptr, b.ptr, a.len);
}

/* Checks encode(decode(bytes)) == bytes through the public encoder `again`. */
#define REENCODE(enc_call, bytes)                                    \
    do {                                                             \
        struct tb_buf again_;                                        \
        tb_buf_init(&again_, 16u << 20);                             \
        assert_int_equal((enc_call), TB_OK);                         \
        assert_int_equal(again_.len, (bytes).len);                   \
        assert_memory_equal(again_.data, (bytes).data, (bytes).len); \
        tb_buf_release(&again_);                                     \
    } while (0)

/* ---- Naive reference headers ---- */

static size_t naive_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        p[0] = (uint8_t)v;
        return 1;
    }
    int n = v < 256 ? 1 : v < 65536 ? 2 : v <= UINT32_MAX ? 4 : 8;
    p[0] = n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf;
    for (int i = 0; i < n; i++)
        p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 1 + (size_t)n;
}

static size_t naive_str_header(uint8_t *p, size_t len)
{
    if (len < 32) {
        p[0] = (uint8_t)(0xa0 | len);
        return 1;
    }
    if (len < 256) {
        p[0] = 0xd9;
        p[1] = (uint8_t)len;
        return 2;
    }
    p[0] = 0xda;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    return 3;
}

static void uint_and_str_forms_match_naive(void **state)
{
    (void)state;
    for (int r = 0; r < 2000; r++) {
        struct wire_status s = {(uint8_t)(1 + rnd(2)), rnd_uint(), rnd_uint(), rnd_uint()};
        struct wire_tx_body b;
        uint8_t want[2048];
        size_t n = 0;
        struct tb_buf out;
        tb_buf_init(&out, 1 << 16);
        arena_n = 0;
        want[n++] = 0x94;
        n += naive_uint(want + n, s.state);
        n += naive_uint(want + n, s.height_a);
        n += naive_uint(want + n, s.height_b);
        n += naive_uint(want + n, s.time_s);
        assert_int_equal(wire_status_encode(&s, &out, msg), TB_OK);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, want, n);

        memset(&b, 0, sizeof(b));
        b.kind = WIRE_KIND_RECORD_REVOKE;
        b.u.revoke.reason = rnd_text(0, WIRE_TEXT_BYTES_MAX);
        b.u.revoke.revoked_at = rnd_uint();
        tb_buf_reset(&out);
        assert_int_equal(wire_tx_body_encode(&b, &out, msg), TB_OK);
        n = 0;
        want[n++] = 0x93;
        want[n++] = 0xc4;
        want[n++] = 32;
        memset(want + n, 0, 32);
        n += 32;
        n += naive_str_header(want + n, b.u.revoke.reason.len);
        memcpy(want + n, b.u.revoke.reason.ptr, b.u.revoke.reason.len);
        n += b.u.revoke.reason.len;
        n += naive_uint(want + n, b.u.revoke.revoked_at);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, want, n);
        tb_buf_release(&out);
    }
}

/* ---- Random bodies ---- */

static void rnd_body(struct wire_tx_body *b, int kind)
{
    memset(b, 0, sizeof(*b));
    b->kind = (enum wire_kind)kind;
    switch (kind) {
    case WIRE_KIND_RECORD_ISSUE: {
        struct wire_record_issue *r = &b->u.issue;
        struct tb_bytes keys[WIRE_CLAIMS_MAX];
        size_t n = rnd(3) == 0 ? 0 : rnd_set(keys, WIRE_CLAIMS_MAX, WIRE_CLAIM_KEY_BYTES_MAX);
        r->type = rnd_text(1, WIRE_TYPE_BYTES_MAX);
        r->city = rnd_city();
        r->agency = rnd_code(WIRE_AGENCY_BYTES_MAX);
        t_rng_bytes(&rng, r->subject, 32);
        r->issued_at = rnd_uint();
        r->expires_at = rnd(3) == 0 ? 0 : rnd_uint();
        for (size_t i = 0; i < n; i++) {
            r->claims[i].key = keys[i];
            r->claims[i].is_uint = rnd(2) == 0;
            if (r->claims[i].is_uint)
                r->claims[i].uint_value = rnd_uint();
            else
                r->claims[i].str_value = rnd_text(0, rnd(8) == 0 ? 1024 : 40);
        }
        r->claim_count = n;
        t_rng_bytes(&rng, r->doc_digest, 32);
        t_rng_bytes(&rng, r->nonce, 16);
        break;
    }
    case WIRE_KIND_RECORD_REVOKE:
        t_rng_bytes(&rng, b->u.revoke.record_id, 32);
        b->u.revoke.reason = rnd_text(0, WIRE_TEXT_BYTES_MAX);
        b->u.revoke.revoked_at = rnd_uint();
        break;
    case WIRE_KIND_AGENCY_REGISTER:
        b->u.reg.city = rnd_city();
        b->u.reg.agency = rnd_code(WIRE_AGENCY_BYTES_MAX);
        b->u.reg.name = rnd_text(1, WIRE_NAME_BYTES_MAX);
        b->u.reg.public_key = rnd_bin(1, WIRE_PUBKEY_BYTES_MAX);
        b->u.reg.type_count = rnd_set(b->u.reg.types, WIRE_AGENCY_TYPES_MAX, WIRE_TYPE_BYTES_MAX);
        b->u.reg.not_after = rnd_uint();
        break;
    case WIRE_KIND_AGENCY_RETIRE:
        b->u.retire.city = rnd_city();
        b->u.retire.agency = rnd_code(WIRE_AGENCY_BYTES_MAX);
        b->u.retire.public_key = rnd_bin(1, WIRE_PUBKEY_BYTES_MAX);
        b->u.retire.reason = rnd_text(0, WIRE_TEXT_BYTES_MAX);
        break;
    case WIRE_KIND_ACCESS_AUDIT:
        t_rng_bytes(&rng, b->u.audit.record_id, 32);
        b->u.audit.requester_city = rnd_city();
        b->u.audit.requester_agency = rnd_code(WIRE_AGENCY_BYTES_MAX);
        b->u.audit.purpose = rnd_text(0, WIRE_TEXT_BYTES_MAX);
        t_rng_bytes(&rng, b->u.audit.consent_id, 32);
        b->u.audit.at = rnd_uint();
        break;
    default:
        b->u.member.action = (enum wire_member_action)(1 + rnd(3));
        b->u.member.city = rnd_city();
        b->u.member.name = rnd_text(1, WIRE_NAME_BYTES_MAX);
        b->u.member.node_key = rnd_bin(1, WIRE_PUBKEY_BYTES_MAX);
        b->u.member.endpoint = rnd_text(0, WIRE_ENDPOINT_BYTES_MAX);
        b->u.member.effective_height = rnd_uint();
        break;
    }
}

static void eq_body(const struct wire_tx_body *a, const struct wire_tx_body *b)
{
    assert_int_equal(a->kind, b->kind);
    switch (a->kind) {
    case WIRE_KIND_RECORD_ISSUE: {
        const struct wire_record_issue *x = &a->u.issue, *y = &b->u.issue;
        eqb(x->type, y->type);
        eqb(x->city, y->city);
        eqb(x->agency, y->agency);
        assert_memory_equal(x->subject, y->subject, 32);
        assert_int_equal(x->issued_at, y->issued_at);
        assert_int_equal(x->expires_at, y->expires_at);
        assert_int_equal(x->claim_count, y->claim_count);
        for (size_t i = 0; i < x->claim_count; i++) {
            eqb(x->claims[i].key, y->claims[i].key);
            assert_int_equal(x->claims[i].is_uint, y->claims[i].is_uint);
            if (x->claims[i].is_uint)
                assert_int_equal(x->claims[i].uint_value, y->claims[i].uint_value);
            else
                eqb(x->claims[i].str_value, y->claims[i].str_value);
        }
        assert_memory_equal(x->doc_digest, y->doc_digest, 32);
        assert_memory_equal(x->nonce, y->nonce, 16);
        break;
    }
    case WIRE_KIND_RECORD_REVOKE:
        assert_memory_equal(a->u.revoke.record_id, b->u.revoke.record_id, 32);
        eqb(a->u.revoke.reason, b->u.revoke.reason);
        assert_int_equal(a->u.revoke.revoked_at, b->u.revoke.revoked_at);
        break;
    case WIRE_KIND_AGENCY_REGISTER:
        eqb(a->u.reg.city, b->u.reg.city);
        eqb(a->u.reg.agency, b->u.reg.agency);
        eqb(a->u.reg.name, b->u.reg.name);
        eqb(a->u.reg.public_key, b->u.reg.public_key);
        assert_int_equal(a->u.reg.type_count, b->u.reg.type_count);
        for (size_t i = 0; i < a->u.reg.type_count; i++)
            eqb(a->u.reg.types[i], b->u.reg.types[i]);
        assert_int_equal(a->u.reg.not_after, b->u.reg.not_after);
        break;
    case WIRE_KIND_AGENCY_RETIRE:
        eqb(a->u.retire.city, b->u.retire.city);
        eqb(a->u.retire.agency, b->u.retire.agency);
        eqb(a->u.retire.public_key, b->u.retire.public_key);
        eqb(a->u.retire.reason, b->u.retire.reason);
        break;
    case WIRE_KIND_ACCESS_AUDIT:
        assert_memory_equal(a->u.audit.record_id, b->u.audit.record_id, 32);
        eqb(a->u.audit.requester_city, b->u.audit.requester_city);
        eqb(a->u.audit.requester_agency, b->u.audit.requester_agency);
        eqb(a->u.audit.purpose, b->u.audit.purpose);
        assert_memory_equal(a->u.audit.consent_id, b->u.audit.consent_id, 32);
        assert_int_equal(a->u.audit.at, b->u.audit.at);
        break;
    default:
        assert_int_equal(a->u.member.action, b->u.member.action);
        eqb(a->u.member.city, b->u.member.city);
        eqb(a->u.member.name, b->u.member.name);
        eqb(a->u.member.node_key, b->u.member.node_key);
        eqb(a->u.member.endpoint, b->u.member.endpoint);
        assert_int_equal(a->u.member.effective_height, b->u.member.effective_height);
        break;
    }
}

/* A random envelope around a random body; the envelope bytes are appended to env. */
static void rnd_envelope(struct tb_buf *env, struct wire_tx *tx, struct wire_tx_body *body)
{
    struct tb_buf bb;
    int kind = 1 + (int)rnd(6);
    uint8_t *copy;
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    rnd_body(body, kind);
    assert_int_equal(wire_tx_body_encode(body, &bb, msg), TB_OK);
    copy = take(bb.len);
    memcpy(copy, bb.data, bb.len);
    memset(tx, 0, sizeof(*tx));
    tx->kind = (uint8_t)kind;
    tx->body = (struct tb_bytes){copy, bb.len};
    tb_buf_release(&bb);
    tx->sig_count = 1 + (size_t)rnd(WIRE_TX_SIGS_MAX);
    for (size_t i = 0; i < tx->sig_count; i++) {
        t_rng_bytes(&rng, tx->sigs[i].key_id, 32);
        tx->sigs[i].sig = rnd_bin(1, WIRE_SIG_BYTES_MAX);
    }
    if (wire_tx_encode(tx, env, msg) != TB_OK)
        fail_msg("envelope: %s", msg);
}

static void txs_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < ROUNDS; r++) {
        struct tb_buf env;
        static struct wire_tx tx, tx2;
        static struct wire_tx_body body, body2;
        arena_n = 0;
        tb_buf_init(&env, WIRE_TX_BYTES_MAX);
        rnd_envelope(&env, &tx, &body);
        assert_int_equal(wire_tx_decode(env.data, env.len, &tx2, msg), TB_OK);
        assert_int_equal(tx2.kind, tx.kind);
        eqb(tx2.body, tx.body);
        assert_int_equal(tx2.sig_count, tx.sig_count);
        for (size_t i = 0; i < tx.sig_count; i++) {
            assert_memory_equal(tx2.sigs[i].key_id, tx.sigs[i].key_id, 32);
            eqb(tx2.sigs[i].sig, tx.sigs[i].sig);
        }
        REENCODE(wire_tx_encode(&tx2, &again_, msg), env);
        assert_int_equal(wire_tx_body_decode(tx2.kind, tx2.body.ptr, tx2.body.len, &body2, msg),
                         TB_OK);
        eq_body(&body, &body2);
        {
            struct tb_buf bb = {(uint8_t *)(uintptr_t)tx.body.ptr, tx.body.len, 0, 0};
            REENCODE(wire_tx_body_encode(&body2, &again_, msg), bb);
        }
        tb_buf_release(&env);
    }
}

static void rnd_header(struct wire_header *h)
{
    memset(h, 0, sizeof(*h));
    h->version = 1;
    t_rng_bytes(&rng, h->chain_id, 32);
    h->height = rnd_uint();
    h->time_ms = rnd_uint();
    t_rng_bytes(&rng, h->prev_block_hash, 32);
    h->log_size = rnd_uint();
    t_rng_bytes(&rng, h->log_root, 32);
    t_rng_bytes(&rng, h->state_root, 32);
    t_rng_bytes(&rng, h->validator_set_hash, 32);
    h->proposer_index = (uint32_t)rnd(WIRE_VALIDATORS_MAX);
}

static void blocks_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < ROUNDS / 10; r++) {
        struct wire_header h;
        struct tb_buf envs, blk;
        struct tb_bytes views[40];
        size_t offs[41];
        size_t n = (size_t)rnd(40);
        struct wire_block b;
        static struct wire_tx tx;
        static struct wire_tx_body body;
        arena_n = 0;
        rnd_header(&h);
        tb_buf_init(&envs, WIRE_BLOCK_BYTES_MAX);
        tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
        offs[0] = 0;
        for (size_t i = 0; i < n; i++) {
            rnd_envelope(&envs, &tx, &body);
            offs[i + 1] = envs.len;
        }
        for (size_t i = 0; i < n; i++)
            views[i] = (struct tb_bytes){envs.data + offs[i], offs[i + 1] - offs[i]};
        assert_int_equal(wire_block_encode(&h, views, n, &blk, msg), TB_OK);
        assert_int_equal(wire_block_decode(blk.data, blk.len, &b, msg), TB_OK);
        assert_int_equal(b.tx_count, n);
        assert_memory_equal(&b.header, &h, sizeof(h));
        for (size_t i = 0; i < n; i++)
            eqb(b.txs[i], views[i]);
        REENCODE(wire_block_encode(&b.header, b.txs, b.tx_count, &again_, msg), blk);
        {
            struct tb_buf hb;
            tb_buf_init(&hb, 1024);
            assert_int_equal(wire_header_encode(&h, &hb, msg), TB_OK);
            eqb(b.header_bytes, (struct tb_bytes){hb.data, hb.len});
            tb_buf_release(&hb);
        }
        wire_block_release(&b);
        tb_buf_release(&envs);
        tb_buf_release(&blk);
    }
}

static void consensus_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < ROUNDS; r++) {
        struct wire_vote v, v2;
        struct wire_proposal p, p2;
        static struct wire_cert c, c2;
        struct tb_buf out;
        arena_n = 0;
        memset(&v, 0, sizeof(v)); /* padding too: the structs are compared with memcmp */
        memset(&p, 0, sizeof(p));
        tb_buf_init(&out, 1 << 16);

        v.type = (enum wire_vote_type)(1 + rnd(2));
        v.height = rnd_uint();
        v.round = (uint32_t)rnd_uint();
        v.has_block_hash = rnd(3) != 0;
        if (v.has_block_hash)
            t_rng_bytes(&rng, v.block_hash, 32);
        assert_int_equal(wire_vote_encode(&v, &out, msg), TB_OK);
        assert_int_equal(wire_vote_decode(out.data, out.len, &v2, msg), TB_OK);
        assert_memory_equal(&v, &v2, sizeof(v));
        REENCODE(wire_vote_encode(&v2, &again_, msg), out);

        tb_buf_reset(&out);
        p.height = rnd_uint();
        p.round = (uint32_t)(1 + rnd(UINT32_MAX - 1));
        p.has_pol_round = rnd(2) == 0;
        p.pol_round = p.has_pol_round ? (uint32_t)rnd(p.round) : 0;
        t_rng_bytes(&rng, p.block_hash, 32);
        assert_int_equal(wire_proposal_encode(&p, &out, msg), TB_OK);
        assert_int_equal(wire_proposal_decode(out.data, out.len, &p2, msg), TB_OK);
        assert_memory_equal(&p, &p2, sizeof(p));
        REENCODE(wire_proposal_encode(&p2, &again_, msg), out);

        tb_buf_reset(&out);
        memset(&c, 0, sizeof(c));
        c.height = rnd_uint();
        c.round = (uint32_t)rnd_uint();
        t_rng_bytes(&rng, c.block_hash, 32);
        for (uint32_t i = 0; i < WIRE_VALIDATORS_MAX; i++) {
            if (rnd(3) == 0 || (i == WIRE_VALIDATORS_MAX - 1 && c.sig_count == 0)) {
                c.sigs[c.sig_count].validator_index = i;
                c.sigs[c.sig_count++].sig = rnd_bin(1, WIRE_SIG_BYTES_MAX);
            }
        }
        assert_int_equal(wire_cert_encode(&c, &out, msg), TB_OK);
        assert_int_equal(wire_cert_decode(out.data, out.len, &c2, msg), TB_OK);
        assert_int_equal(c2.sig_count, c.sig_count);
        assert_int_equal(c2.height, c.height);
        assert_int_equal(c2.round, c.round);
        for (size_t i = 0; i < c.sig_count; i++) {
            assert_int_equal(c2.sigs[i].validator_index, c.sigs[i].validator_index);
            eqb(c2.sigs[i].sig, c.sigs[i].sig);
        }
        REENCODE(wire_cert_encode(&c2, &again_, msg), out);
        tb_buf_release(&out);
    }
}

static void misc_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < ROUNDS; r++) {
        static struct wire_consent c, c2;
        struct wire_genesis g, g2;
        struct wire_genesis_member m[WIRE_VALIDATORS_MAX];
        struct wire_record_type t[40];
        struct tb_bytes cities[WIRE_VALIDATORS_MAX], types[40];
        static const char *const classes[] = {"open", "consent", "closed"};
        struct tb_buf out;
        arena_n = 0;
        tb_buf_init(&out, WIRE_GENESIS_BYTES_MAX);

        memset(&c, 0, sizeof(c));
        t_rng_bytes(&rng, c.subject, 32);
        c.grantee_city = rnd_city();
        c.grantee_agency = rnd_code(WIRE_AGENCY_BYTES_MAX);
        c.type_count = rnd_set(c.types, WIRE_CONSENT_TYPES_MAX, WIRE_TYPE_BYTES_MAX);
        c.purpose = rnd_text(0, WIRE_TEXT_BYTES_MAX);
        c.not_after = rnd_uint();
        t_rng_bytes(&rng, c.nonce, 16);
        c.uses_max = 1 + rnd(WIRE_CONSENT_USES_MAX);
        assert_int_equal(wire_consent_encode(&c, &out, msg), TB_OK);
        assert_int_equal(wire_consent_decode(out.data, out.len, &c2, msg), TB_OK);
        assert_memory_equal(c2.subject, c.subject, 32);
        eqb(c2.grantee_city, c.grantee_city);
        eqb(c2.grantee_agency, c.grantee_agency);
        assert_int_equal(c2.type_count, c.type_count);
        for (size_t i = 0; i < c.type_count; i++)
            eqb(c2.types[i], c.types[i]);
        eqb(c2.purpose, c.purpose);
        assert_int_equal(c2.not_after, c.not_after);
        assert_memory_equal(c2.nonce, c.nonce, 16);
        assert_int_equal(c2.uses_max, c.uses_max);
        REENCODE(wire_consent_encode(&c2, &again_, msg), out);

        tb_buf_reset(&out);
        memset(&g, 0, sizeof(g));
        g.suite = rnd_text(1, WIRE_SUITE_BYTES_MAX);
        g.federation = rnd_text(1, WIRE_NAME_BYTES_MAX);
        g.created_at = rnd_uint();
        g.member_count = 1 + (size_t)rnd(WIRE_VALIDATORS_MAX);
        for (size_t i = 0; i < g.member_count; i++)
            cities[i] = rnd_city();
        qsort(cities, g.member_count, sizeof(cities[0]), cmp_bytes);
        {
            size_t k = 1;
            for (size_t i = 1; i < g.member_count; i++) {
                if (cmp_bytes(&cities[k - 1], &cities[i]) != 0)
                    cities[k++] = cities[i];
            }
            g.member_count = k;
        }
        for (size_t i = 0; i < g.member_count; i++) {
            m[i].city = cities[i];
            m[i].name = rnd_text(1, WIRE_NAME_BYTES_MAX);
            m[i].node_key = rnd_bin(1, WIRE_PUBKEY_BYTES_MAX);
            m[i].endpoint = rnd_text(0, WIRE_ENDPOINT_BYTES_MAX);
        }
        g.type_count = rnd(4) == 0 ? 0 : rnd_set(types, 40, WIRE_TYPE_BYTES_MAX);
        for (size_t i = 0; i < g.type_count; i++) {
            t[i].type = types[i];
            t[i].sharing =
                (struct tb_bytes){(const uint8_t *)classes[i % 3], strlen(classes[i % 3])};
        }
        g.members = m;
        g.types = t;
        assert_int_equal(wire_genesis_body_encode(&g, &out, msg), TB_OK);
        assert_int_equal(wire_genesis_body_decode(out.data, out.len, &g2, msg), TB_OK);
        eqb(g2.suite, g.suite);
        eqb(g2.federation, g.federation);
        assert_int_equal(g2.created_at, g.created_at);
        assert_int_equal(g2.member_count, g.member_count);
        assert_int_equal(g2.type_count, g.type_count);
        for (size_t i = 0; i < g.member_count; i++) {
            eqb(g2.members[i].city, m[i].city);
            eqb(g2.members[i].name, m[i].name);
            eqb(g2.members[i].node_key, m[i].node_key);
            eqb(g2.members[i].endpoint, m[i].endpoint);
        }
        for (size_t i = 0; i < g.type_count; i++) {
            eqb(g2.types[i].type, t[i].type);
            eqb(g2.types[i].sharing, t[i].sharing);
        }
        REENCODE(wire_genesis_body_encode(&g2, &again_, msg), out);
        wire_genesis_release(&g2);
        tb_buf_release(&out);
    }
}

/* Flipping any single byte of a valid encoding either is rejected or decodes to a value that
 * re-encodes to exactly the flipped bytes (one encoding per value). */
static void single_byte_flips_stay_canonical(void **state)
{
    (void)state;
    for (int r = 0; r < 40; r++) {
        struct tb_buf env;
        static struct wire_tx tx, tx2;
        static struct wire_tx_body body;
        arena_n = 0;
        tb_buf_init(&env, WIRE_TX_BYTES_MAX);
        rnd_envelope(&env, &tx, &body);
        for (size_t i = 0; i < env.len && i < 200; i++) {
            uint8_t old = env.data[i];
            env.data[i] = (uint8_t)(old ^ (1u << rnd(8)));
            if (wire_tx_decode(env.data, env.len, &tx2, msg) == TB_OK)
                REENCODE(wire_tx_encode(&tx2, &again_, msg), env);
            env.data[i] = old;
        }
        tb_buf_release(&env);
    }
}

static int setup(void **state)
{
    (void)state;
    t_rng_seed(&rng, seed);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(uint_and_str_forms_match_naive, setup),
        cmocka_unit_test_setup(txs_round_trip, setup),
        cmocka_unit_test_setup(blocks_round_trip, setup),
        cmocka_unit_test_setup(consensus_round_trip, setup),
        cmocka_unit_test_setup(misc_round_trip, setup),
        cmocka_unit_test_setup(single_byte_flips_stay_canonical, setup),
    };
    const char *env = getenv("WIRE_SEED");
    if (env != NULL)
        seed = strtoull(env, NULL, 10);
    printf("WIRE_SEED=%llu\n", (unsigned long long)seed);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
