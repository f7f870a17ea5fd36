/*
 * wire/: golden bytes built by hand from the MessagePack spec, seeded round trips, every
 * truncation of every golden encoding, ids and signature inputs, allocation faults.
 *
 * `test_wire --write-corpus DIR` also writes each golden encoding (and a few invalid ones) into
 * DIR/fuzz_wire_NAME/, the seed corpus of the wire fuzz targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "t_util.h"
#include "tb_alloc.h"
#include "tb_buf.h"
#include "wire.h"

/* ---- Hand builder: bytes written from the spec, never through the codec ---- */

struct hb
{
    uint8_t b[8192];
    size_t n;
};

static void hx(struct hb *h, const char *hex)
{
    while (*hex != '\0') {
        unsigned v;
        if (*hex == ' ') {
            hex++;
            continue;
        }
        if (sscanf(hex, "%2x", &v) != 1)
            abort();
        h->b[h->n++] = (uint8_t)v;
        hex += 2;
    }
}

static void hrep(struct hb *h, uint8_t v, size_t n)
{
    memset(h->b + h->n, v, n);
    h->n += n;
}

static void hlit(struct hb *h, const char *s)
{
    memcpy(h->b + h->n, s, strlen(s));
    h->n += strlen(s);
}

static void hcat(struct hb *h, const struct hb *o)
{
    memcpy(h->b + h->n, o->b, o->n);
    h->n += o->n;
}

static struct tb_bytes S(const char *s)
{
    struct tb_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static struct tb_bytes
B(const uint8_t *p, size_t n)
{
    struct tb_bytes b = {p, n};
    return b;
}

static uint8_t fill32[256][32]; /* fill32[v] = 32 bytes of v */
static uint8_t fill64[256][64];

static void fills_init(void)
{
    for (int v = 0; v < 256; v++) {
        memset(fill32[v], v, 32);
        memset(fill64[v], v, 64);
    }
}

/* ---- Samples and their hand-built encodings ---- */

static void s_vote(struct wire_vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = WIRE_VOTE_PRECOMMIT;
    v->height = 5;
    v->round = 0;
    v->has_block_hash = true;
    memset(v->block_hash, 0xab, 32);
}

static void h_vote(struct hb *h)
{
    hx(h, "94 02 05 00 c4 20");
    hrep(h, 0xab, 32);
}

static void s_vote_nil(struct wire_vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = WIRE_VOTE_PREVOTE;
    v->height = 300;
    v->round = 7;
}

static void h_vote_nil(struct hb *h)
{
    hx(h, "94 01 cd 01 2c 07 c0");
}

static void s_proposal(struct wire_proposal *p)
{
    memset(p, 0, sizeof(*p));
    p->height = 70000;
    p->round = 3;
    p->has_pol_round = true;
    p->pol_round = 1;
    memset(p->block_hash, 0x11, 32);
}

static void h_proposal(struct hb *h)
{
    hx(h, "94 ce 00 01 11 70 03 01 c4 20");
    hrep(h, 0x11, 32);
}

static void s_proposal_nil(struct wire_proposal *p)
{
    s_proposal(p);
    p->height = 1;
    p->round = 0;
    p->has_pol_round = false;
}

static void h_proposal_nil(struct hb *h)
{
    hx(h, "94 01 00 c0 c4 20");
    hrep(h, 0x11, 32);
}

static void s_status(struct wire_status *s)
{
    s->state = 1;
    s->height_a = 10;
    s->height_b = 0;
    s->time_s = 1700000000;
}

static void h_status(struct hb *h)
{
    hx(h, "94 01 0a 00 ce 65 53 f1 00");
}

static void s_status_key(struct wire_status *s)
{
    s->state = 2;
    s->height_a = 65536;
    s->height_b = 70000;
    s->time_s = UINT64_MAX;
}

static void h_status_key(struct hb *h)
{
    hx(h, "94 02 ce 00 01 00 00 ce 00 01 11 70 cf ff ff ff ff ff ff ff ff");
}

static void s_header(struct wire_header *hd)
{
    memset(hd, 0, sizeof(*hd));
    hd->version = 1;
    memset(hd->chain_id, 0x01, 32);
    hd->height = 2;
    hd->time_ms = 1700000000123ull;
    memset(hd->prev_block_hash, 0x02, 32);
    hd->log_size = 3;
    memset(hd->log_root, 0x03, 32);
    memset(hd->state_root, 0x04, 32);
    memset(hd->validator_set_hash, 0x05, 32);
    hd->proposer_index = 1;
}

static void h_header(struct hb *h)
{
    hx(h, "9a 01 c4 20");
    hrep(h, 0x01, 32);
    hx(h, "02 cf 00 00 01 8b cf e5 68 7b c4 20");
    hrep(h, 0x02, 32);
    hx(h, "03 c4 20");
    hrep(h, 0x03, 32);
    hx(h, "c4 20");
    hrep(h, 0x04, 32);
    hx(h, "c4 20");
    hrep(h, 0x05, 32);
    hx(h, "01");
}

static void s_cert(struct wire_cert *c)
{
    memset(c, 0, sizeof(*c));
    c->height = 5;
    c->round = 0;
    memset(c->block_hash, 0x10, 32);
    c->sig_count = 2;
    c->sigs[0].validator_index = 0;
    c->sigs[0].sig = B(fill64[0x21], 64);
    c->sigs[1].validator_index = 2;
    c->sigs[1].sig = B(fill64[0x22], 64);
}

static void h_cert(struct hb *h)
{
    hx(h, "94 05 00 c4 20");
    hrep(h, 0x10, 32);
    hx(h, "92 92 00 c4 40");
    hrep(h, 0x21, 64);
    hx(h, "92 02 c4 40");
    hrep(h, 0x22, 64);
}

static void s_consent(struct wire_consent *c)
{
    memset(c, 0, sizeof(*c));
    memset(c->subject, 0x0a, 32);
    c->grantee_city = S("SZ");
    c->grantee_agency = S("court");
    c->types[0] = S("hukou");
    c->type_count = 1;
    c->purpose = S("loan");
    c->not_after = 1700003600;
    memset(c->nonce, 0x0c, 16);
    c->uses_max = 1000;
}

static void h_consent(struct hb *h)
{
    hx(h, "98 c4 20");
    hrep(h, 0x0a, 32);
    hx(h, "a2");
    hlit(h, "SZ");
    hx(h, "a5");
    hlit(h, "court");
    hx(h, "91 a5");
    hlit(h, "hukou");
    hx(h, "a4");
    hlit(h, "loan");
    hx(h, "ce 65 53 ff 10 c4 10");
    hrep(h, 0x0c, 16);
    hx(h, "cd 03 e8"); /* uses_max 1000 (D13) */
}

static struct wire_genesis_member g_members[2];
static struct wire_record_type g_types[2];

static void s_genesis(struct wire_genesis *g)
{
    g_members[0].city = S("GZ");
    g_members[0].name = S("Guangzhou");
    g_members[0].node_key = B(fill32[0x31], 32);
    g_members[0].endpoint = S("https://gz");
    g_members[1].city = S("SZ");
    g_members[1].name = S("Shenzhen");
    g_members[1].node_key = B(fill32[0x32], 32);
    g_members[1].endpoint = S("https://sz");
    g_types[0].type = S("hukou");
    g_types[0].sharing = S("consent");
    g_types[1].type = S("marriage");
    g_types[1].sharing = S("open");
    memset(g, 0, sizeof(*g));
    g->suite = S("ed25519-sha256");
    g->federation = S("Pearl River");
    g->created_at = 1700000000;
    g->members = g_members;
    g->member_count = 2;
    g->types = g_types;
    g->type_count = 2;
}

static void h_genesis(struct hb *h)
{
    hx(h, "95 ae");
    hlit(h, "ed25519-sha256");
    hx(h, "ab");
    hlit(h, "Pearl River");
    hx(h, "ce 65 53 f1 00 92 94 a2");
    hlit(h, "GZ");
    hx(h, "a9");
    hlit(h, "Guangzhou");
    hx(h, "c4 20");
    hrep(h, 0x31, 32);
    hx(h, "aa");
    hlit(h, "https://gz");
    hx(h, "94 a2");
    hlit(h, "SZ");
    hx(h, "a8");
    hlit(h, "Shenzhen");
    hx(h, "c4 20");
    hrep(h, 0x32, 32);
    hx(h, "aa");
    hlit(h, "https://sz");
    hx(h, "92 92 a5");
    hlit(h, "hukou");
    hx(h, "a7");
    hlit(h, "consent");
    hx(h, "92 a8");
    hlit(h, "marriage");
    hx(h, "a4");
    hlit(h, "open");
}

/* Bodies. */

static void s_issue(struct wire_tx_body *b)
{
    struct wire_record_issue *r = &b->u.issue;
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_RECORD_ISSUE;
    r->type = S("hukou");
    r->city = S("GZ");
    r->agency = S("police");
    memset(r->subject, 0x0a, 32);
    r->issued_at = 1700000000;
    r->expires_at = 0;
    r->claims[0].key = S("age");
    r->claims[0].is_uint = true;
    r->claims[0].uint_value = 30;
    r->claims[1].key = S("name");
    r->claims[1].str_value = S("\xe5\xbc\xa0\xe4\xb8\x89"); /* 张三 */
    r->claim_count = 2;
    memset(r->doc_digest, 0x0b, 32);
    memset(r->nonce, 0x0c, 16);
}

static void h_issue(struct hb *h)
{
    hx(h, "99 a5");
    hlit(h, "hukou");
    hx(h, "a2");
    hlit(h, "GZ");
    hx(h, "a6");
    hlit(h, "police");
    hx(h, "c4 20");
    hrep(h, 0x0a, 32);
    hx(h, "ce 65 53 f1 00 00 82 a3");
    hlit(h, "age");
    hx(h, "1e a4");
    hlit(h, "name");
    hx(h, "a6 e5 bc a0 e4 b8 89 c4 20");
    hrep(h, 0x0b, 32);
    hx(h, "c4 10");
    hrep(h, 0x0c, 16);
}

static void s_revoke(struct wire_tx_body *b)
{
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_RECORD_REVOKE;
    memset(b->u.revoke.record_id, 0x09, 32);
    b->u.revoke.reason = S("wrong");
    b->u.revoke.revoked_at = 1700000000;
}

static void h_revoke(struct hb *h)
{
    hx(h, "93 c4 20");
    hrep(h, 0x09, 32);
    hx(h, "a5");
    hlit(h, "wrong");
    hx(h, "ce 65 53 f1 00");
}

static void s_register(struct wire_tx_body *b)
{
    struct wire_agency_register *r = &b->u.reg;
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_AGENCY_REGISTER;
    r->city = S("GZ");
    r->agency = S("police");
    r->name = S("Guangzhou Police");
    r->public_key = B(fill32[0x0d], 32);
    r->types[0] = S("hukou");
    r->types[1] = S("marriage");
    r->type_count = 2;
    r->not_after = 1800000000;
}

static void h_register(struct hb *h)
{
    hx(h, "96 a2");
    hlit(h, "GZ");
    hx(h, "a6");
    hlit(h, "police");
    hx(h, "b0");
    hlit(h, "Guangzhou Police");
    hx(h, "c4 20");
    hrep(h, 0x0d, 32);
    hx(h, "92 a5");
    hlit(h, "hukou");
    hx(h, "a8");
    hlit(h, "marriage");
    hx(h, "ce 6b 49 d2 00");
}

static void s_retire(struct wire_tx_body *b)
{
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_AGENCY_RETIRE;
    b->u.retire.city = S("GZ");
    b->u.retire.agency = S("police");
    b->u.retire.public_key = B(fill32[0x0d], 32);
    b->u.retire.reason = S("");
}

static void h_retire(struct hb *h)
{
    hx(h, "94 a2");
    hlit(h, "GZ");
    hx(h, "a6");
    hlit(h, "police");
    hx(h, "c4 20");
    hrep(h, 0x0d, 32);
    hx(h, "a0");
}

static void s_audit(struct wire_tx_body *b)
{
    struct wire_access_audit *a = &b->u.audit;
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_ACCESS_AUDIT;
    memset(a->record_id, 0x09, 32);
    a->requester_city = S("SZ");
    a->requester_agency = S("court");
    a->purpose = S("case 42");
    memset(a->consent_id, 0x0e, 32);
    a->at = 1700000001;
}

static void h_audit(struct hb *h)
{
    hx(h, "96 c4 20");
    hrep(h, 0x09, 32);
    hx(h, "a2");
    hlit(h, "SZ");
    hx(h, "a5");
    hlit(h, "court");
    hx(h, "a7");
    hlit(h, "case 42");
    hx(h, "c4 20");
    hrep(h, 0x0e, 32);
    hx(h, "ce 65 53 f1 01");
}

static void s_member(struct wire_tx_body *b)
{
    struct wire_member_change *m = &b->u.member;
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_MEMBER_CHANGE;
    m->action = WIRE_MEMBER_ADD;
    m->city = S("SZ");
    m->name = S("Shenzhen");
    m->node_key = B(fill32[0x0f], 32);
    m->endpoint = S("https://sz.example:8443");
    m->effective_height = 100;
}

static void h_member(struct hb *h)
{
    hx(h, "96 a3");
    hlit(h, "add");
    hx(h, "a2");
    hlit(h, "SZ");
    hx(h, "a8");
    hlit(h, "Shenzhen");
    hx(h, "c4 20");
    hrep(h, 0x0f, 32);
    hx(h, "b7");
    hlit(h, "https://sz.example:8443");
    hx(h, "64");
}

/* Envelopes: a revoke with one signature, an issue with two. */

static struct hb env_body; /* body bytes the envelope samples point into */

static void s_tx_revoke(struct wire_tx *tx)
{
    env_body.n = 0;
    h_revoke(&env_body);
    memset(tx, 0, sizeof(*tx));
    tx->kind = WIRE_KIND_RECORD_REVOKE;
    tx->body = B(env_body.b, env_body.n);
    memset(tx->sigs[0].key_id, 0x07, 32);
    tx->sigs[0].sig = B(fill64[0x08], 64);
    tx->sig_count = 1;
}

static void h_tx_revoke(struct hb *h)
{
    struct hb body = {.n = 0};
    h_revoke(&body);
    hx(h, "93 02 c4");
    h->b[h->n++] = (uint8_t)body.n;
    hcat(h, &body);
    hx(h, "91 92 c4 20");
    hrep(h, 0x07, 32);
    hx(h, "c4 40");
    hrep(h, 0x08, 64);
}

static struct hb env_body2;

static void s_tx_issue(struct wire_tx *tx)
{
    env_body2.n = 0;
    h_issue(&env_body2);
    memset(tx, 0, sizeof(*tx));
    tx->kind = WIRE_KIND_RECORD_ISSUE;
    tx->body = B(env_body2.b, env_body2.n);
    memset(tx->sigs[0].key_id, 0x17, 32);
    tx->sigs[0].sig = B(fill64[0x18], 64);
    memset(tx->sigs[1].key_id, 0x16, 32); /* any order, distinct */
    tx->sigs[1].sig = B(fill64[0x19], 3);
    tx->sig_count = 2;
}

static void h_tx_issue(struct hb *h)
{
    struct hb body = {.n = 0};
    h_issue(&body);
    hx(h, "93 01 c4");
    h->b[h->n++] = (uint8_t)body.n;
    hcat(h, &body);
    hx(h, "92 92 c4 20");
    hrep(h, 0x17, 32);
    hx(h, "c4 40");
    hrep(h, 0x18, 64);
    hx(h, "92 c4 20");
    hrep(h, 0x16, 32);
    hx(h, "c4 03 19 19 19");
}

/* ---- The golden table ---- */

static int enc_vote(struct tb_buf *o, char *m)
{
    struct wire_vote v;
    s_vote(&v);
    return wire_vote_encode(&v, o, m);
}
static int enc_vote_nil(struct tb_buf *o, char *m)
{
    struct wire_vote v;
    s_vote_nil(&v);
    return wire_vote_encode(&v, o, m);
}
static int enc_proposal(struct tb_buf *o, char *m)
{
    struct wire_proposal p;
    s_proposal(&p);
    return wire_proposal_encode(&p, o, m);
}
static int enc_proposal_nil(struct tb_buf *o, char *m)
{
    struct wire_proposal p;
    s_proposal_nil(&p);
    return wire_proposal_encode(&p, o, m);
}
static int enc_status(struct tb_buf *o, char *m)
{
    struct wire_status s;
    s_status(&s);
    return wire_status_encode(&s, o, m);
}
static int enc_status_key(struct tb_buf *o, char *m)
{
    struct wire_status s;
    s_status_key(&s);
    return wire_status_encode(&s, o, m);
}
static int enc_header(struct tb_buf *o, char *m)
{
    struct wire_header h;
    s_header(&h);
    return wire_header_encode(&h, o, m);
}
static int enc_cert(struct tb_buf *o, char *m)
{
    struct wire_cert c;
    s_cert(&c);
    return wire_cert_encode(&c, o, m);
}
static int enc_consent(struct tb_buf *o, char *m)
{
    struct wire_consent c;
    s_consent(&c);
    return wire_consent_encode(&c, o, m);
}
static int enc_genesis(struct tb_buf *o, char *m)
{
    struct wire_genesis g;
    s_genesis(&g);
    return wire_genesis_body_encode(&g, o, m);
}

#define BODY_ENC(name)                               \
    static int enc_##name(struct tb_buf *o, char *m) \
    {                                                \
        static struct wire_tx_body b;                \
        s_##name(&b);                                \
        return wire_tx_body_encode(&b, o, m);        \
    }
BODY_ENC(issue)
BODY_ENC(revoke)
BODY_ENC(register)
BODY_ENC(retire)
BODY_ENC(audit)
BODY_ENC(member)

static int enc_tx_revoke(struct tb_buf *o, char *m)
{
    struct wire_tx tx;
    s_tx_revoke(&tx);
    return wire_tx_encode(&tx, o, m);
}
static int enc_tx_issue(struct tb_buf *o, char *m)
{
    struct wire_tx tx;
    s_tx_issue(&tx);
    return wire_tx_encode(&tx, o, m);
}

static struct hb blk_tx[2];

static int enc_block(struct tb_buf *o, char *m)
{
    struct wire_header h;
    struct tb_bytes txs[2];
    blk_tx[0].n = blk_tx[1].n = 0;
    h_tx_revoke(&blk_tx[0]);
    h_tx_issue(&blk_tx[1]);
    txs[0] = B(blk_tx[0].b, blk_tx[0].n);
    txs[1] = B(blk_tx[1].b, blk_tx[1].n);
    s_header(&h);
    return wire_block_encode(&h, txs, 2, o, m);
}

static void h_block(struct hb *h)
{
    hx(h, "92");
    h_header(h);
    hx(h, "92");
    h_tx_revoke(h);
    h_tx_issue(h);
}

static int enc_block_empty(struct tb_buf *o, char *m)
{
    struct wire_header h;
    s_header(&h);
    return wire_block_encode(&h, NULL, 0, o, m);
}

static void h_block_empty(struct hb *h)
{
    hx(h, "92");
    h_header(h);
    hx(h, "90");
}

/* Decoders with a uniform shape; each releases what it allocated. */
static int dec_vote(const uint8_t *p, size_t n, char *m)
{
    struct wire_vote v;
    return wire_vote_decode(p, n, &v, m);
}
static int dec_proposal(const uint8_t *p, size_t n, char *m)
{
    struct wire_proposal v;
    return wire_proposal_decode(p, n, &v, m);
}
static int dec_status(const uint8_t *p, size_t n, char *m)
{
    struct wire_status v;
    return wire_status_decode(p, n, &v, m);
}
static int dec_header(const uint8_t *p, size_t n, char *m)
{
    struct wire_header v;
    return wire_header_decode(p, n, &v, m);
}
static int dec_cert(const uint8_t *p, size_t n, char *m)
{
    static struct wire_cert v;
    return wire_cert_decode(p, n, &v, m);
}
static int dec_consent(const uint8_t *p, size_t n, char *m)
{
    static struct wire_consent v;
    return wire_consent_decode(p, n, &v, m);
}
static int dec_genesis(const uint8_t *p, size_t n, char *m)
{
    struct wire_genesis v;
    int rv = wire_genesis_body_decode(p, n, &v, m);
    wire_genesis_release(&v);
    return rv;
}
static int dec_tx(const uint8_t *p, size_t n, char *m)
{
    static struct wire_tx v;
    return wire_tx_decode(p, n, &v, m);
}
static int dec_block(const uint8_t *p, size_t n, char *m)
{
    struct wire_block v;
    int rv = wire_block_decode(p, n, &v, m);
    wire_block_release(&v);
    return rv;
}
#define BODY_DEC(name, kind)                                   \
    static int dec_##name(const uint8_t *p, size_t n, char *m) \
    {                                                          \
        static struct wire_tx_body v;                          \
        return wire_tx_body_decode(kind, p, n, &v, m);         \
    }
BODY_DEC(issue, WIRE_KIND_RECORD_ISSUE)
BODY_DEC(revoke, WIRE_KIND_RECORD_REVOKE)
BODY_DEC(register, WIRE_KIND_AGENCY_REGISTER)
BODY_DEC(retire, WIRE_KIND_AGENCY_RETIRE)
BODY_DEC(audit, WIRE_KIND_ACCESS_AUDIT)
BODY_DEC(member, WIRE_KIND_MEMBER_CHANGE)

struct golden
{
    const char *name;
    const char *fuzz; /* the fuzz target whose corpus gets this encoding */
    void (*hand)(struct hb *h);
    int (*encode)(struct tb_buf *out, char *errmsg);
    int (*decode)(const uint8_t *p, size_t n, char *errmsg);
};

static const struct golden goldens[] = {
    {"vote", "fuzz_wire_consensus", h_vote, enc_vote, dec_vote},
    {"vote_nil", "fuzz_wire_consensus", h_vote_nil, enc_vote_nil, dec_vote},
    {"proposal", "fuzz_wire_consensus", h_proposal, enc_proposal, dec_proposal},
    {"proposal_nil", "fuzz_wire_consensus", h_proposal_nil, enc_proposal_nil, dec_proposal},
    {"status", "fuzz_wire_misc", h_status, enc_status, dec_status},
    {"status_key", "fuzz_wire_misc", h_status_key, enc_status_key, dec_status},
    {"consent", "fuzz_wire_misc", h_consent, enc_consent, dec_consent},
    {"genesis", "fuzz_wire_misc", h_genesis, enc_genesis, dec_genesis},
    {"header", "fuzz_wire_block", h_header, enc_header, dec_header},
    {"cert", "fuzz_wire_block", h_cert, enc_cert, dec_cert},
    {"block", "fuzz_wire_block", h_block, enc_block, dec_block},
    {"block_empty", "fuzz_wire_block", h_block_empty, enc_block_empty, dec_block},
    {"tx_revoke", "fuzz_wire_tx", h_tx_revoke, enc_tx_revoke, dec_tx},
    {"tx_issue", "fuzz_wire_tx", h_tx_issue, enc_tx_issue, dec_tx},
    {"body_issue", "fuzz_wire_tx", h_issue, enc_issue, dec_issue},
    {"body_revoke", "fuzz_wire_tx", h_revoke, enc_revoke, dec_revoke},
    {"body_register", "fuzz_wire_tx", h_register, enc_register, dec_register},
    {"body_retire", "fuzz_wire_tx", h_retire, enc_retire, dec_retire},
    {"body_audit", "fuzz_wire_tx", h_audit, enc_audit, dec_audit},
    {"body_member", "fuzz_wire_tx", h_member, enc_member, dec_member},
};
#define GOLDEN_COUNT (sizeof(goldens) / sizeof(goldens[0]))

static void golden_bytes_match_hand_built(void **state)
{
    (void)state;
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        struct tb_buf out;
        char msg[TB_ERRMSG_SIZE] = "";
        tb_buf_init(&out, 1 << 20);
        goldens[i].hand(&h);
        assert_int_equal(goldens[i].encode(&out, msg), TB_OK);
        if (out.len != h.n || memcmp(out.data, h.b, h.n) != 0)
            fail_msg("golden %s: encoder output differs from the hand-built bytes",
                     goldens[i].name);
        assert_int_equal(goldens[i].decode(h.b, h.n, msg), TB_OK);
        tb_buf_release(&out);
    }
}

static void golden_every_truncation_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        goldens[i].hand(&h);
        for (size_t n = 0; n < h.n; n++) {
            char msg[TB_ERRMSG_SIZE] = "";
            uint8_t *copy = malloc(n > 0 ? n : 1); /* exact size: ASan sees any overread */
            int rv;
            memcpy(copy, h.b, n);
            rv = goldens[i].decode(copy, n, msg);
            free(copy);
            if (rv != TB_EMALFORMED)
                fail_msg("golden %s truncated to %zu: rv %d (%s)", goldens[i].name, n, rv, msg);
        }
    }
}

static void golden_every_trailing_byte_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        char msg[TB_ERRMSG_SIZE] = "";
        goldens[i].hand(&h);
        h.b[h.n++] = 0x00;
        assert_int_equal(goldens[i].decode(h.b, h.n, msg), TB_EMALFORMED);
        assert_non_null(strstr(msg, "trailing"));
    }
}

/* Decoded values equal the samples, and views point into the input. */
static void golden_decoded_values(void **state)
{
    struct hb h = {.n = 0};
    struct wire_tx_body b;
    struct wire_block blk;
    struct wire_vote v;
    struct wire_genesis g;
    char msg[TB_ERRMSG_SIZE] = "";
    (void)state;

    h_issue(&h);
    assert_int_equal(wire_tx_body_decode(1, h.b, h.n, &b, msg), TB_OK);
    assert_int_equal(b.kind, WIRE_KIND_RECORD_ISSUE);
    assert_int_equal(b.u.issue.claim_count, 2);
    assert_true(b.u.issue.claims[0].is_uint);
    assert_int_equal(b.u.issue.claims[0].uint_value, 30);
    assert_false(b.u.issue.claims[1].is_uint);
    assert_int_equal(b.u.issue.claims[1].str_value.len, 6);
    assert_true(b.u.issue.city.ptr >= h.b && b.u.issue.city.ptr < h.b + h.n); /* zero copy */
    assert_memory_equal(b.u.issue.city.ptr, "GZ", 2);
    assert_memory_equal(b.u.issue.nonce, fill32[0x0c], 16);

    h.n = 0;
    h_vote_nil(&h);
    assert_int_equal(wire_vote_decode(h.b, h.n, &v, msg), TB_OK);
    assert_false(v.has_block_hash);
    assert_int_equal(v.height, 300);
    assert_int_equal(v.round, 7);

    h.n = 0;
    h_block(&h);
    assert_int_equal(wire_block_decode(h.b, h.n, &blk, msg), TB_OK);
    assert_int_equal(blk.tx_count, 2);
    assert_int_equal(blk.header.height, 2);
    assert_ptr_equal(blk.header_bytes.ptr, h.b + 1);
    {
        struct hb t = {.n = 0};
        h_tx_issue(&t);
        assert_int_equal(blk.txs[1].len, t.n);
        assert_memory_equal(blk.txs[1].ptr, t.b, t.n);
    }
    wire_block_release(&blk);
    wire_block_release(&blk); /* idempotent */

    h.n = 0;
    h_genesis(&h);
    assert_int_equal(wire_genesis_body_decode(h.b, h.n, &g, msg), TB_OK);
    assert_int_equal(g.member_count, 2);
    assert_int_equal(g.type_count, 2);
    assert_memory_equal(g.members[1].endpoint.ptr, "https://sz", 10);
    assert_memory_equal(g.types[0].sharing.ptr, "consent", 7);
    wire_genesis_release(&g);
}

/* ---- Ids and signature inputs, against concatenations built here ---- */

static void ids_match_tagged_concatenations(void **state)
{
    uint8_t chain[32], got[32], want[32];
    uint8_t body[5] = {1, 2, 3, 4, 5};
    struct tb_buf in;
    struct hb h = {.n = 0};
    (void)state;
    memset(chain, 0x42, 32);
    tb_buf_init(&in, 4096);

    for (int suite = 1; suite <= 2; suite++) {
        h.n = 0;
        hlit(&h, "tongban/tx/v1");
        hx(&h, "00");
        hrep(&h, 0x42, 32);
        hx(&h, "03 01 02 03 04 05");
        cr_hash((enum cr_suite)suite, h.b, h.n, want);
        wire_tx_id((enum cr_suite)suite, chain, 3, body, 5, got);
        assert_memory_equal(got, want, 32);
    }

    h.n = 0;
    hlit(&h, "tongban/sig/v1");
    hx(&h, "00");
    hrep(&h, 0x42, 32);
    hx(&h, "03 01 02 03 04 05");
    assert_int_equal(wire_tx_sign_input(chain, 3, body, 5, &in), TB_OK);
    assert_int_equal(in.len, h.n);
    assert_memory_equal(in.data, h.b, h.n);

    tb_buf_reset(&in);
    h.n = 0;
    hlit(&h, "tongban/vote/v1");
    hx(&h, "00");
    hrep(&h, 0x42, 32);
    hx(&h, "94 01 cd 01 2c 07 c0");
    assert_int_equal(wire_vote_sign_input(chain, h.b + 16 + 32, 7, &in), TB_OK);
    assert_int_equal(in.len, h.n);
    assert_memory_equal(in.data, h.b, h.n);

    tb_buf_reset(&in);
    h.n = 0;
    hlit(&h, "tongban/proposal/v1");
    hx(&h, "00");
    hrep(&h, 0x42, 32);
    hx(&h, "94 01 00 c0");
    assert_int_equal(wire_proposal_sign_input(chain, h.b + 20 + 32, 4, &in), TB_OK);
    assert_int_equal(in.len, h.n);
    assert_memory_equal(in.data, h.b, h.n);

    tb_buf_reset(&in);
    h.n = 0;
    hlit(&h, "tongban/consent/v1");
    hx(&h, "00");
    hrep(&h, 0x42, 32);
    hx(&h, "01 02 03 04 05");
    assert_int_equal(wire_consent_sign_input(chain, body, 5, &in), TB_OK);
    assert_int_equal(in.len, h.n);
    assert_memory_equal(in.data, h.b, h.n);
    cr_hash(CR_SUITE_ED25519_SHA256, h.b, h.n, want);
    wire_consent_id(CR_SUITE_ED25519_SHA256, chain, body, 5, got);
    assert_memory_equal(got, want, 32);

    h.n = 0;
    hlit(&h, "tongban/block/v1");
    hx(&h, "00 01 02 03 04 05");
    cr_hash(CR_SUITE_SM2_SM3, h.b, h.n, want);
    wire_block_hash(CR_SUITE_SM2_SM3, body, 5, got);
    assert_memory_equal(got, want, 32);

    h.n = 0;
    hlit(&h, "tongban/genesis/v1");
    hx(&h, "00 01 02 03 04 05");
    cr_hash(CR_SUITE_ED25519_SHA256, h.b, h.n, want);
    wire_chain_id(CR_SUITE_ED25519_SHA256, body, 5, got);
    assert_memory_equal(got, want, 32);

    h.n = 0;
    hlit(&h, "tongban/agency-key/v1");
    hx(&h, "00 01 02 03 04 05");
    cr_hash(CR_SUITE_ED25519_SHA256, h.b, h.n, want);
    wire_agency_key_id(CR_SUITE_ED25519_SHA256, body, 5, got);
    assert_memory_equal(got, want, 32);
    tb_buf_release(&in);
}

/* ---- Allocation faults ---- */

static void alloc_faults_never_crash_or_leak(void **state)
{
    int enc_nomem = 0, dec_nomem = 0;
    (void)state;
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        goldens[i].hand(&h);
        for (long k = 0; k < 8; k++) {
            for (long repeat = 1; repeat >= -1; repeat -= 2) {
                struct tb_buf out;
                char msg[TB_ERRMSG_SIZE] = "";
                int rv;
                tb_buf_init(&out, 1 << 20);
                tb_alloc_fault_set(k, repeat);
                rv = goldens[i].encode(&out, msg);
                assert_true(rv == TB_OK || rv == TB_ENOMEM);
                enc_nomem += rv == TB_ENOMEM;
                if (rv == TB_OK)
                    assert_memory_equal(out.data, h.b, h.n);
                rv = goldens[i].decode(h.b, h.n, msg);
                tb_alloc_fault_reset();
                assert_true(rv == TB_OK || rv == TB_ENOMEM);
                dec_nomem += rv == TB_ENOMEM;
                tb_buf_release(&out);
            }
        }
    }
    /* The fault hook really reached the codec: encoders grow buffers, and the block and genesis
     * decoders allocate their lists (msgpack-c's own zone uses malloc, outside the hook). */
    assert_true(enc_nomem > 0);
    assert_true(dec_nomem > 0);
}

/* The committed seed corpus holds exactly the golden bytes (regenerate with --write-corpus). */
static void corpus_matches_goldens(void **state)
{
    (void)state;
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        char path[512];
        size_t n = 0;
        uint8_t *p;
        goldens[i].hand(&h);
        snprintf(path, sizeof(path), "tests/fuzz/corpus/%s/%s", goldens[i].fuzz, goldens[i].name);
        p = t_read_file(path, &n);
        if (n != h.n || memcmp(p, h.b, n) != 0)
            fail_msg("%s is stale: run test_wire --write-corpus tests/fuzz/corpus", path);
        tb_free(p);
    }
}

/* ---- Corpus writer ---- */

static void write_file(const char *dir, const char *target, const char *name, const uint8_t *p,
                       size_t n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static int write_corpus(const char *dir)
{
    static const char *const targets[] = {"fuzz_wire_tx", "fuzz_wire_block", "fuzz_wire_consensus",
                                          "fuzz_wire_misc"};
    for (size_t i = 0; i < GOLDEN_COUNT; i++) {
        struct hb h = {.n = 0};
        char name[128];
        goldens[i].hand(&h);
        write_file(dir, goldens[i].fuzz, goldens[i].name, h.b, h.n);
        /* Invalid twins: truncated by one, a trailing byte, and the first field mangled. */
        snprintf(name, sizeof(name), "bad_%s_truncated", goldens[i].name);
        write_file(dir, goldens[i].fuzz, name, h.b, h.n - 1);
        h.b[h.n] = 0xc0;
        snprintf(name, sizeof(name), "bad_%s_trailing", goldens[i].name);
        write_file(dir, goldens[i].fuzz, name, h.b, h.n + 1);
        h.b[1] = 0xcc; /* a uint8 header where the first field was */
        snprintf(name, sizeof(name), "bad_%s_field1", goldens[i].name);
        write_file(dir, goldens[i].fuzz, name, h.b, h.n);
    }
    for (size_t t = 0; t < 4; t++) {
        static const uint8_t deep[64] = {
            0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
            0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
        };
        static const uint8_t huge[10] = {0xdd, 0xff, 0xff, 0xff, 0xff,
                                         0x00, 0x00, 0x00, 0x00, 0x00};
        write_file(dir, targets[t], "bad_deep_nesting", deep, sizeof(deep));
        write_file(dir, targets[t], "bad_huge_array", huge, sizeof(huge));
    }
    printf("corpus written under %s\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_bytes_match_hand_built),
        cmocka_unit_test(golden_every_truncation_rejected),
        cmocka_unit_test(golden_every_trailing_byte_rejected),
        cmocka_unit_test(golden_decoded_values),
        cmocka_unit_test(ids_match_tagged_concatenations),
        cmocka_unit_test(alloc_faults_never_crash_or_leak),
        cmocka_unit_test(corpus_matches_goldens),
    };
    fills_init();
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
