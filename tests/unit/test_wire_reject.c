/*
 * wire/: every kind of bad input the decoders must refuse, each with its expected code
 * (TB_ELIMIT for a limit, TB_EMALFORMED for anything else) and, where it matters, the field
 * named in the message; and the encoders' refusals (TB_EINVAL / TB_ELIMIT).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tb_alloc.h"
#include "tb_buf.h"
#include "wire.h"

struct hb
{
    uint8_t b[80000];
    size_t n;
};

static struct hb H; /* the input under construction */
static char msg[TB_ERRMSG_SIZE];

static void hx(const char *hex)
{
    while (*hex != '\0') {
        unsigned v;
        if (*hex == ' ') {
            hex++;
            continue;
        }
        if (sscanf(hex, "%2x", &v) != 1)
            abort();
        H.b[H.n++] = (uint8_t)v;
        hex += 2;
    }
}

static void hrep(uint8_t v, size_t n)
{
    memset(H.b + H.n, v, n);
    H.n += n;
}

static void hlit(const char *s)
{
    memcpy(H.b + H.n, s, strlen(s));
    H.n += strlen(s);
}

static void reset(void)
{
    H.n = 0;
    msg[0] = '\0';
}

static struct tb_bytes S(const char *s)
{
    struct tb_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static int
vote(void)
{
    struct wire_vote v;
    return wire_vote_decode(H.b, H.n, &v, msg);
}

static int status(void)
{
    struct wire_status v;
    return wire_status_decode(H.b, H.n, &v, msg);
}

static int body(int kind)
{
    static struct wire_tx_body v;
    return wire_tx_body_decode(kind, H.b, H.n, &v, msg);
}

static int tx(void)
{
    static struct wire_tx v;
    return wire_tx_decode(H.b, H.n, &v, msg);
}

static int block(void)
{
    struct wire_block v;
    int rv = wire_block_decode(H.b, H.n, &v, msg);
    wire_block_release(&v);
    return rv;
}

static int genesis(void)
{
    struct wire_genesis v;
    int rv = wire_genesis_body_decode(H.b, H.n, &v, msg);
    wire_genesis_release(&v);
    return rv;
}

static void expect_(int rv, int code, const char *needle, const char *expr)
{
    if (rv != code)
        fail_msg("%s: rv %d, want %d (%s)", expr, rv, code, msg);
    if (needle != NULL && strstr(msg, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", expr, msg, needle);
}

#define EXPECT(call, code, needle) expect_((call), (code), (needle), #call)

/* A record.issue body with a given subject field and claims map (raw bytes). */
static void issue_with(const char *subject_hex, size_t subject_rep, const char *claims_hex)
{
    reset();
    hx("99 a5");
    hlit("hukou");
    hx("a2");
    hlit("GZ");
    hx("a6");
    hlit("police");
    hx(subject_hex);
    hrep(0x0a, subject_rep);
    hx("ce 65 53 f1 00 00");
    hx(claims_hex);
    hx("c4 20");
    hrep(0x0b, 32);
    hx("c4 10");
    hrep(0x0c, 16);
}

static void valid_issue_is_accepted(void **state)
{
    (void)state;
    issue_with("c4 20", 32, "82 a1 61 01 a1 62 02");
    EXPECT(body(1), TB_OK, NULL);
}

static void non_shortest_forms(void **state)
{
    (void)state;
    reset();
    hx("94 01 cc 05 00 00"); /* uint8 for 5 */
    EXPECT(status(), TB_EMALFORMED, "status field 2 (height_a): not canonical");
    reset();
    hx("94 01 cd 00 ff 00 00"); /* uint16 for 255 */
    EXPECT(status(), TB_EMALFORMED, "not canonical");
    reset();
    hx("94 01 d0 05 00 00"); /* int8 for 5 */
    EXPECT(status(), TB_EMALFORMED, NULL);
    reset();
    hx("dc 00 04 01 05 00 00"); /* array16 for 4 elements */
    EXPECT(status(), TB_EMALFORMED, "not canonical");
    issue_with("c5 00 20", 32, "80"); /* bin16 for a 32-byte hash */
    EXPECT(body(1), TB_EMALFORMED, "field 4 (subject)");
    reset(); /* str8 for a 2-byte city */
    hx("94 d9 02");
    hlit("GZ");
    hx("a6");
    hlit("police");
    hx("c4 01 0d a0");
    EXPECT(body(4), TB_EMALFORMED, "field 1 (city): not canonical");
    issue_with("c4 20", 32, "de 00 01 a1 61 01"); /* map16 for one claim */
    EXPECT(body(1), TB_EMALFORMED, "field 7 (claims): not canonical");
}

static void wrong_types(void **state)
{
    (void)state;
    issue_with("a5", 5, "80"); /* str where bin expected */
    EXPECT(body(1), TB_EMALFORMED, "record.issue field 4 (subject): expected bin of 32 bytes");
    issue_with("c4 1f", 31, "80"); /* bin8 of 31 bytes for a 32-byte hash */
    EXPECT(body(1), TB_EMALFORMED, "record.issue field 4 (subject): expected bin of 32 bytes");
    issue_with("c4 21", 33, "80");
    EXPECT(body(1), TB_EMALFORMED, "expected bin of 32 bytes");
    reset();
    hx("84 01 02 03 04 05 06 07 08"); /* map where array expected */
    EXPECT(status(), TB_EMALFORMED, "expected array");
    reset();
    hx("94 01 ff 00 00"); /* negative int */
    EXPECT(status(), TB_EMALFORMED, "expected uint, got negative int");
    reset();
    hx("94 01 c3 00 00"); /* bool */
    EXPECT(status(), TB_EMALFORMED, "got bool");
    reset();
    hx("94 01 ca 00 00 00 00 00 00"); /* float32 */
    EXPECT(status(), TB_EMALFORMED, "got float");
    reset();
    hx("94 01 d4 01 00 00 00"); /* fixext1 */
    EXPECT(status(), TB_EMALFORMED, "got ext");
    reset();
    hx("94 01 c1 00 00"); /* reserved byte */
    EXPECT(status(), TB_EMALFORMED, "reserved");
    issue_with("c4 20", 32, "81 a1 61 c0"); /* claim value nil */
    EXPECT(body(1), TB_EMALFORMED, "expected str or uint");
    issue_with("c4 20", 32, "81 01 01"); /* claim key uint */
    EXPECT(body(1), TB_EMALFORMED, "field 7 (claims): expected str");
}

static void nil_only_where_allowed(void **state)
{
    struct wire_proposal p;
    (void)state;
    reset();
    hx("94 01 c0 00 00"); /* status height nil */
    EXPECT(status(), TB_EMALFORMED, "field 2 (height_a): expected uint, got nil");
    reset();
    hx("94 c0 05 00 c0"); /* vote type nil */
    EXPECT(vote(), TB_EMALFORMED, "field 1 (type)");
    reset();
    hx("94 01 00 00 c0"); /* proposal block_hash nil */
    EXPECT(wire_proposal_decode(H.b, H.n, &p, msg), TB_EMALFORMED, "field 4 (block_hash)");
    reset();
    hx("93 c0 c4 01 00 91 92 c4 20"); /* tx kind nil */
    hrep(0x07, 32);
    hx("c4 01 08");
    EXPECT(tx(), TB_EMALFORMED, "tx field 1 (kind)");
    reset();
    hx("94 02 05 00 c0"); /* vote nil block hash is fine */
    EXPECT(vote(), TB_OK, NULL);
}

static void claims_sorted_and_unique(void **state)
{
    (void)state;
    issue_with("c4 20", 32, "82 a1 62 01 a1 61 02"); /* "b", "a" */
    EXPECT(body(1), TB_EMALFORMED, "field 7 (claims): key 1 not after key 0");
    issue_with("c4 20", 32, "82 a1 61 01 a1 61 02"); /* "a", "a" */
    EXPECT(body(1), TB_EMALFORMED, "key 1 not after key 0");
    issue_with("c4 20", 32, "82 a2 61 61 01 a1 61 02"); /* "aa" before "a": shorter first */
    EXPECT(body(1), TB_EMALFORMED, "not after");
    issue_with("c4 20", 32, "82 a1 61 01 a2 61 61 02"); /* "a", "aa": fine */
    EXPECT(body(1), TB_OK, NULL);
    issue_with("c4 20", 32, "81 a0 01"); /* empty key */
    EXPECT(body(1), TB_EMALFORMED, "empty");
}

static void field_count_exact(void **state)
{
    (void)state;
    reset();
    hx("95 01 05 00 00 00"); /* one field more */
    EXPECT(status(), TB_EMALFORMED, "status: expected 4 fields, got 5");
    reset();
    hx("93 01 05 00"); /* one field less */
    EXPECT(status(), TB_EMALFORMED, "status: expected 4 fields, got 3");
    reset();
    hx("94 01 05 00 00 00"); /* trailing byte */
    EXPECT(status(), TB_EMALFORMED, "trailing");
    reset();
    EXPECT(status(), TB_EMALFORMED, "empty");
}

static void deep_nesting_is_bounded(void **state)
{
    struct wire_proposal p;
    (void)state;
    reset();
    hrep(0x91, 10000);
    hx("00");
    EXPECT(vote(), TB_ELIMIT, "nesting");
    EXPECT(tx(), TB_ELIMIT, "nesting");
    EXPECT(block(), TB_ELIMIT, "nesting");
    EXPECT(genesis(), TB_ELIMIT, "nesting");
    EXPECT(body(1), TB_ELIMIT, "nesting");
    EXPECT(wire_proposal_decode(H.b, H.n, &p, msg), TB_ELIMIT, "nesting");
    reset(); /* maps nest too */
    for (int i = 0; i < 5000; i++)
        hx("81 00");
    hx("00");
    EXPECT(body(1), TB_ELIMIT, "nesting");
}

static void huge_declared_counts(void **state)
{
    (void)state;
    reset();
    hx("dd ff ff ff ff 00 00 00 00 00"); /* 2^32-1 elements in 10 bytes */
    EXPECT(vote(), TB_ELIMIT, NULL);
    EXPECT(tx(), TB_ELIMIT, NULL);
    EXPECT(block(), TB_ELIMIT, NULL);
    EXPECT(genesis(), TB_ELIMIT, NULL);
    reset();
    hx("df ff ff ff ff 00 00 00 00 00"); /* the same as a map */
    EXPECT(body(1), TB_ELIMIT, NULL);
    reset();
    hx("dc 00 10 00 00 00"); /* 16 elements (within the tx limit) but 3 bytes */
    EXPECT(tx(), TB_EMALFORMED, "bytes left");
    reset();
    hx("c6 ff ff ff ff 00"); /* a 4 GiB bin in 6 bytes */
    EXPECT(tx(), TB_EMALFORMED, "payload");
    reset();
    hx("93 01 c6 ff ff ff f0 00"); /* inside an envelope */
    EXPECT(tx(), TB_EMALFORMED, "payload");
}

static void invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "c0 af",          /* overlong '/' */
        "e0 80 af",       /* overlong, 3 bytes */
        "f0 80 80 af",    /* overlong, 4 bytes */
        "ed a0 80",       /* surrogate U+D800 */
        "ed bf bf",       /* surrogate U+DFFF */
        "e5 bc",          /* truncated */
        "bc",             /* lone continuation */
        "f4 90 80 80",    /* above U+10FFFF */
        "f8 88 80 80 80", /* 5-byte form */
        "ff",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hb s = {.n = 0};
        reset();
        hx(bad[i]);
        s.n = H.n;
        memcpy(s.b, H.b, H.n);
        reset(); /* record.revoke with the bad reason */
        hx("93 c4 20");
        hrep(0x09, 32);
        H.b[H.n++] = (uint8_t)(0xa0 | s.n);
        memcpy(H.b + H.n, s.b, s.n);
        H.n += s.n;
        hx("01");
        EXPECT(body(2), TB_EMALFORMED, "field 2 (reason): invalid UTF-8");
    }
    reset(); /* valid: 2-, 3- and 4-byte forms and the extremes */
    hx("93 c4 20");
    hrep(0x09, 32);
    hx("ac c2 80 e0 a0 80 ef bf bf f0 90 80 80 01");
    EXPECT(body(2), TB_OK, NULL);
}

static void kinds_and_enums(void **state)
{
    (void)state;
    for (int kind = 0; kind <= 7; kind += 7) {
        reset();
        H.b[H.n++] = 0x93;
        H.b[H.n++] = (uint8_t)kind;
        hx("c4 01 00 91 92 c4 20");
        hrep(0x07, 32);
        hx("c4 01 08");
        EXPECT(tx(), TB_EMALFORMED, "tx field 1 (kind): must be 1..6");
        EXPECT(body(kind), TB_EMALFORMED, "kind");
    }
    reset();
    hx("94 03 05 00 c0"); /* vote type 3 */
    EXPECT(vote(), TB_EMALFORMED, "field 1 (type)");
    reset();
    hx("94 00 05 00 00"); /* status state 0 */
    EXPECT(status(), TB_EMALFORMED, "field 1 (state)");
    reset();
    hx("96 a6");
    hlit("delete");
    hx("a2");
    hlit("SZ");
    hx("a1 53 c4 01 01 a0 01");
    EXPECT(body(6), TB_EMALFORMED, "field 1 (action)");
    reset();
    hx("96 a3");
    hlit("add");
    hx("a3");
    hlit("S Z"); /* city outside the charset */
    hx("a1 53 c4 01 01 a0 01");
    EXPECT(body(6), TB_EMALFORMED, "field 2 (city)");
    reset(); /* header version 2 */
    hx("9a 02 c4 20");
    hrep(1, 32);
    hx("02 03 c4 20");
    hrep(2, 32);
    hx("03 c4 20");
    hrep(3, 32);
    hx("c4 20");
    hrep(4, 32);
    hx("c4 20");
    hrep(5, 32);
    hx("01");
    {
        struct wire_header h;
        EXPECT(wire_header_decode(H.b, H.n, &h, msg), TB_EMALFORMED, "field 1 (version)");
        H.b[1] = 0x01;
        EXPECT(wire_header_decode(H.b, H.n, &h, msg), TB_OK, NULL);
        H.b[H.n - 1] = 0x40; /* proposer index 64 */
        EXPECT(wire_header_decode(H.b, H.n, &h, msg), TB_EMALFORMED, "proposer_index");
    }
}

static void limits_are_elimit(void **state)
{
    struct wire_tx_body b;
    struct wire_tx t;
    struct tb_buf out;
    uint8_t big[2000];
    (void)state;
    memset(big, 'a', sizeof(big));
    tb_buf_init(&out, 1 << 20);

    reset(); /* city of 17 bytes */
    hx("94 b1");
    hrep('A', 17);
    hx("a1 61 c4 01 01 a0");
    EXPECT(body(4), TB_ELIMIT, "field 1 (city): 17 bytes, limit 16");

    issue_with("c4 20", 32, "de 00 41"); /* 65 claims */
    EXPECT(body(1), TB_ELIMIT, NULL);

    reset(); /* 17 signatures */
    hx("93 01 c4 01 00 dc 00 11");
    for (int i = 0; i < 17; i++) {
        hx("92 c4 20");
        hrep((uint8_t)i, 32);
        hx("c4 01 08");
    }
    EXPECT(tx(), TB_ELIMIT, NULL);

    reset(); /* an envelope over 64 KiB */
    hx("93 01 c6 00 01 00 00");
    hrep(0, 65536);
    hx("91 92 c4 20");
    hrep(7, 32);
    hx("c4 01 08");
    EXPECT(tx(), TB_ELIMIT, "limit");

    /* Encoders: limits are TB_ELIMIT, bad values TB_EINVAL, and out is left as it was. */
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_RECORD_ISSUE;
    b.u.issue.type = S("t");
    b.u.issue.city = S("GZ");
    b.u.issue.agency = S("a");
    b.u.issue.claim_count = 1;
    b.u.issue.claims[0].key = S("k");
    b.u.issue.claims[0].str_value.ptr = big;
    b.u.issue.claims[0].str_value.len = 1025;
    assert_int_equal(tb_buf_append(&out, "xy", 2), TB_OK);
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_ELIMIT, "field 7 (claims): 1025 bytes");
    assert_int_equal(out.len, 2);
    b.u.issue.claims[0].str_value.len = 1024;
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_OK, NULL);
    b.u.issue.claim_count = 65;
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_ELIMIT, "65 claims");
    b.u.issue.claim_count = 1;
    b.u.issue.city = S("G.Z");
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_EINVAL, "field 2 (city)");
    b.u.issue.city = S("");
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_EINVAL, "field 2 (city)");
    b.u.issue.city = S("GZ");
    b.u.issue.agency = S("\xc0\xaf");
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_EINVAL,
           "field 3 (agency): agency code byte 0 (0xc0) outside [0-9A-Za-z_-]");
    b.u.issue.agency = S("hpf centre");
    EXPECT(wire_tx_body_encode(&b, &out, msg), TB_EINVAL, "field 3 (agency): agency code byte 3");

    memset(&t, 0, sizeof(t));
    t.kind = 7;
    t.body = S("x");
    t.sig_count = 1;
    t.sigs[0].sig = S("s");
    EXPECT(wire_tx_encode(&t, &out, msg), TB_EINVAL, "kind");
    t.kind = 1;
    t.sig_count = 2;
    t.sigs[1].sig = S("s"); /* same (zero) key id twice */
    EXPECT(wire_tx_encode(&t, &out, msg), TB_EINVAL, "share a key id");
    t.sig_count = 0;
    EXPECT(wire_tx_encode(&t, &out, msg), TB_EINVAL, "at least one");
    t.sig_count = 17;
    EXPECT(wire_tx_encode(&t, &out, msg), TB_ELIMIT, "17 signatures");
    tb_buf_release(&out);

    tb_buf_init(&out, 10); /* the output buffer's own limit */
    t.sig_count = 1;
    EXPECT(wire_tx_encode(&t, &out, msg), TB_ELIMIT, "output buffer");
    tb_buf_release(&out);
}

static void cert_and_proposal_rules(void **state)
{
    struct wire_cert c;
    struct wire_proposal p;
    struct tb_buf out;
    (void)state;
    tb_buf_init(&out, 1 << 16);
    memset(&c, 0, sizeof(c));
    c.sig_count = 2;
    c.sigs[0].validator_index = 3;
    c.sigs[0].sig = S("a");
    c.sigs[1].validator_index = 3;
    c.sigs[1].sig = S("b");
    EXPECT(wire_cert_encode(&c, &out, msg), TB_EINVAL, "sorted, unique");
    c.sigs[1].validator_index = 2;
    EXPECT(wire_cert_encode(&c, &out, msg), TB_EINVAL, "sorted, unique");
    c.sigs[1].validator_index = 64;
    EXPECT(wire_cert_encode(&c, &out, msg), TB_EINVAL, "not below 64");
    c.sigs[1].validator_index = 4;
    EXPECT(wire_cert_encode(&c, &out, msg), TB_OK, NULL);
    /* Swap the two entries in the bytes: the decoder must refuse the unsorted order. */
    reset();
    hx("94 00 00 c4 20");
    hrep(0, 32);
    hx("92 92 04 c4 01 62 92 03 c4 01 61");
    EXPECT(wire_cert_decode(H.b, H.n, &c, msg), TB_EMALFORMED, "field 4 (signatures)");

    memset(&p, 0, sizeof(p));
    p.round = 2;
    p.has_pol_round = true;
    p.pol_round = 2;
    EXPECT(wire_proposal_encode(&p, &out, msg), TB_EINVAL, "field 3 (pol_round)");
    reset();
    hx("94 01 cf 00 00 00 01 00 00 00 00 c0 c4 20"); /* round 2^32 */
    hrep(0, 32);
    EXPECT(wire_proposal_decode(H.b, H.n, &p, msg), TB_ELIMIT, "field 2 (round)");
    tb_buf_release(&out);
}

static void genesis_rules(void **state)
{
    struct wire_genesis g;
    struct wire_genesis_member m[2];
    struct wire_record_type t[2];
    struct tb_buf out;
    (void)state;
    tb_buf_init(&out, 1 << 16);
    memset(m, 0, sizeof(m));
    m[0].city = S("SZ");
    m[0].name = S("Shenzhen");
    m[0].node_key = S("k");
    m[1].city = S("GZ");
    m[1].name = S("Guangzhou");
    m[1].node_key = S("k");
    t[0].type = S("b");
    t[0].sharing = S("open");
    t[1].type = S("a");
    t[1].sharing = S("closed");
    memset(&g, 0, sizeof(g));
    g.suite = S("sm2-sm3");
    g.federation = S("F");
    g.members = m;
    g.member_count = 2;
    g.types = t;
    g.type_count = 2;
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "field 4 (members)");
    m[0].city = S("GZ");
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "field 4 (members)"); /* repeat */
    m[0].city = S("FS");
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "field 5 (types)");
    t[1].type = S("b");
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "field 5 (types)"); /* repeat */
    t[1].type = S("c");
    t[1].sharing = S("secret");
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "sharing");
    t[1].sharing = S("consent");
    m[1].name = S("\xed\xa0\x80");
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_EINVAL, "invalid UTF-8");
    m[1].name = S("Guangzhou");
    assert_int_equal(out.len, 0);
    EXPECT(wire_genesis_body_encode(&g, &out, msg), TB_OK, NULL);
    /* Swap the members in the bytes: the decoder must refuse the unsorted order. */
    {
        struct wire_genesis d;
        uint8_t *p = out.data;
        size_t a = 0, n = out.len;
        for (a = 0; a + 3 < n; a++) {
            if (memcmp(p + a,
                       "\xa2"
                       "FS",
                       3) == 0)
                memcpy(p + a,
                       "\xa2"
                       "HZ",
                       3); /* now HZ > GZ: unsorted */
        }
        EXPECT(wire_genesis_body_decode(p, n, &d, msg), TB_EMALFORMED, "field 4 (members)");
        wire_genesis_release(&d);
    }
    tb_buf_release(&out);
}

static void block_rejects_bad_tx(void **state)
{
    struct wire_header h;
    struct tb_bytes txs[1];
    struct tb_buf out;
    uint8_t bad[] = {0x93, 0x07, 0xc4, 0x01, 0x00, 0x90};
    (void)state;
    memset(&h, 0, sizeof(h));
    h.version = 1;
    tb_buf_init(&out, 1 << 16);
    txs[0].ptr = bad;
    txs[0].len = sizeof(bad);
    EXPECT(wire_block_encode(&h, txs, 1, &out, msg), TB_EINVAL, "tx 0");
    EXPECT(wire_block_encode(&h, txs, 0, &out, msg), TB_OK, NULL);
    /* Append the bad tx by hand and fix the tx count. */
    reset();
    memcpy(H.b, out.data, out.len);
    H.n = out.len;
    H.b[H.n - 1] = 0x91;
    memcpy(H.b + H.n, bad, sizeof(bad));
    H.n += sizeof(bad);
    EXPECT(block(), TB_EMALFORMED, "block tx 0");
    H.b[0] = 0x93; /* three top-level fields */
    EXPECT(block(), TB_EMALFORMED, NULL);
    tb_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_issue_is_accepted),
        cmocka_unit_test(non_shortest_forms),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(nil_only_where_allowed),
        cmocka_unit_test(claims_sorted_and_unique),
        cmocka_unit_test(field_count_exact),
        cmocka_unit_test(deep_nesting_is_bounded),
        cmocka_unit_test(huge_declared_counts),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(kinds_and_enums),
        cmocka_unit_test(limits_are_elimit),
        cmocka_unit_test(cert_and_proposal_rules),
        cmocka_unit_test(genesis_rules),
        cmocka_unit_test(block_rejects_bad_tx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
