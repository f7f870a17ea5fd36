/*
 * node/qr: credential URIs and QR rendering.
 *
 * URI: the bech32m polymod against BIP 350's published vectors; known-answer URIs computed
 * independently (Python's base64.b32encode and BIP 350's reference checksum); random round
 * trips in both accepted cases; every single-byte substitution at every position refused,
 * adjacent transpositions and random 2-4 character errors refused; a naive reference
 * parser agrees on 20 000 random near-valid texts; length, prefix,
 * separator, mixed case, NUL and padding-bit tampering refused; another federation's code
 * refused by qr_uri_chain_check; the URI fits version 4 at level M.
 * PNG: signature and IHDR, pixels read back with libpng against libqrencode's matrix, and
 * zbarimg (zbar-tools) decoding the image back to the text.
 * Terminal: line count, glyph set and the half-block matrix against the QR matrix, both
 * polarities. Limits and an allocation fault loop over both renderers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <png.h>
#include <qrencode.h>
#include <unistd.h>

#include "qr.h"
#include "t_util.h"
#include "tb_alloc.h"

#define OUT_MAX (1u << 20)

static char errmsg[TB_ERRMSG_SIZE];

#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

/* ---- bech32m ---- */

static const char bech32_alphabet[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* Splits a bech32 string at its last '1' and returns the polymod of hrp and data. */
static uint32_t bech32_string_polymod(const char *s)
{
    char hrp[32];
    uint8_t values[128];
    const char *sep = strrchr(s, '1');
    size_t hrp_len;
    size_t n = 0;

    assert_non_null(sep);
    hrp_len = (size_t)(sep - s);
    assert_true(hrp_len < sizeof(hrp));
    for (size_t i = 0; i < hrp_len; i++)
        hrp[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    hrp[hrp_len] = '\0';
    for (const char *p = sep + 1; *p != '\0'; p++) {
        char c = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
        const char *at = strchr(bech32_alphabet, c);
        assert_non_null(at);
        assert_true(n < sizeof(values));
        values[n++] = (uint8_t)(at - bech32_alphabet);
    }
    return qr_bech32m_polymod(hrp, values, n);
}

static void bech32m_published_vectors(void **state)
{
    /* BIP 350, "Test vectors for Bech32m": valid strings (short hrps only). */
    static const char *const valid[] = {
        "A1LQFN3A",
        "a1lqfn3a",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        ("11llllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
         "llllllllllllllllllllllllludsr8"),
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
        "?1v759aa",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        assert_int_equal(bech32_string_polymod(valid[i]), QR_BECH32M_CONST);
    /* BIP 350 invalid: "checksum calculated with bech32 instead of bech32m". */
    assert_int_not_equal(bech32_string_polymod("M1VUXWEZ"), QR_BECH32M_CONST);
    /* BIP 173 valid bech32 strings end at polymod 1: the same polymod, another constant. */
    assert_int_equal(bech32_string_polymod("A12UEL5L"), 1);
    assert_int_equal(bech32_string_polymod("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"), 1);
}

/* ---- URI ---- */

static void random_ids(struct t_rng *rng, uint8_t chain[QR_CHAIN_ID_BYTES],
                       uint8_t record[QR_RECORD_ID_BYTES])
{
    t_rng_bytes(rng, chain, QR_CHAIN_ID_BYTES);
    t_rng_bytes(rng, record, QR_RECORD_ID_BYTES);
}

static int parse(const char *text, size_t len, uint8_t prefix[QR_CHAIN_PREFIX_BYTES],
                 uint8_t record[QR_RECORD_ID_BYTES])
{
    return qr_uri_parse(text, len, prefix, record, errmsg);
}

static void expect_refused(const char *text, size_t len, const char *why)
{
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    static const uint8_t zero[QR_RECORD_ID_BYTES];

    memset(prefix, 0xAA, sizeof(prefix));
    memset(record, 0xAA, sizeof(record));
    errmsg[0] = '\0';
    if (parse(text, len, prefix, record) != TB_EMALFORMED)
        fail_msg("accepted a tampered credential (%s): %.*s", why, (int)len, text);
    assert_true(errmsg[0] != '\0');
    assert_memory_equal(prefix, zero, sizeof(prefix));
    assert_memory_equal(record, zero, sizeof(record));
}

static void uri_known_answers(void **state)
{
    /* Computed by Python (base64.b32encode without '=', BIP 350 reference checksum). */
    static const char want_counting[] =
        "TONGBAN:AAAQEAYEAUDAO:EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q63L5XX";
    static const char want_sha[] =
        "TONGBAN:CEA2F7Y6AQUGA:PWVI3P32DHNIRAK6JXHXWF2FXGX4BCDGXAFFE6HTM7LDAG3N7IQATVAW6T";
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
    uint8_t back[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    uint8_t *hex_chain;
    uint8_t *hex_record;
    size_t n;
    (void)state;

    for (unsigned i = 0; i < 32; i++) {
        chain[i] = (uint8_t)i;
        record[i] = (uint8_t)(0x20 + i);
    }
    qr_uri_encode(chain, record, uri);
    assert_string_equal(uri, want_counting);

    /* SHA-256("tongban test chain"), SHA-256("tongban test record"). */
    hex_chain = t_hex("1101a2ff1e042860b1d726c592f668a2a25b5b56658e1eda2da0f56e21e37d98", &n);
    hex_record = t_hex("7daa8dbf7a19da88815e4dcf7b1745b9afc08866b80a5278f367d6301b6dfa20", &n);
    qr_uri_encode(hex_chain, hex_record, uri);
    assert_string_equal(uri, want_sha);
    OK(parse(want_sha, strlen(want_sha), prefix, back));
    assert_memory_equal(prefix, hex_chain, QR_CHAIN_PREFIX_BYTES);
    assert_memory_equal(back, hex_record, QR_RECORD_ID_BYTES);
    tb_free(hex_chain);
    tb_free(hex_record);
}

static void uri_round_trip(void **state)
{
    struct t_rng rng;
    (void)state;

    t_rng_seed(&rng, 0x51);
    for (int i = 0; i < 500; i++) {
        uint8_t chain[QR_CHAIN_ID_BYTES];
        uint8_t record[QR_RECORD_ID_BYTES];
        uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
        uint8_t back[QR_RECORD_ID_BYTES];
        char uri[QR_URI_SIZE];
        char lower[QR_URI_SIZE];

        random_ids(&rng, chain, record);
        if (i == 0)
            memset(record, 0xFF, sizeof(record)); /* every padding position next to ones */
        if (i == 1)
            memset(chain, 0, sizeof(chain));
        qr_uri_encode(chain, record, uri);
        assert_int_equal(strlen(uri), QR_URI_LEN);
        assert_memory_equal(uri, "TONGBAN:", 8);
        for (size_t k = 0; k < QR_URI_LEN; k++) /* all in QR alphanumeric mode */
            assert_non_null(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", uri[k]));
        OK(parse(uri, QR_URI_LEN, prefix, back));
        assert_memory_equal(prefix, chain, QR_CHAIN_PREFIX_BYTES);
        assert_memory_equal(back, record, QR_RECORD_ID_BYTES);
        OK(qr_uri_chain_check(prefix, chain, errmsg));

        /* Entirely lowercase: accepted, same values. */
        for (size_t k = 0; k <= QR_URI_LEN; k++)
            lower[k] = (uri[k] >= 'A' && uri[k] <= 'Z') ? (char)(uri[k] - 'A' + 'a') : uri[k];
        memset(back, 0, sizeof(back));
        OK(parse(lower, QR_URI_LEN, prefix, back));
        assert_memory_equal(back, record, QR_RECORD_ID_BYTES);
    }
}

/* Every byte value other than the original, at every position, in both cases. */
static void uri_every_substitution_refused(void **state)
{
    struct t_rng rng;
    (void)state;

    t_rng_seed(&rng, 0x52);
    for (int round = 0; round < 4; round++) {
        uint8_t chain[QR_CHAIN_ID_BYTES];
        uint8_t record[QR_RECORD_ID_BYTES];
        char uri[QR_URI_SIZE];

        random_ids(&rng, chain, record);
        qr_uri_encode(chain, record, uri);
        if (round % 2 == 1) {
            for (size_t k = 0; k < QR_URI_LEN; k++)
                if (uri[k] >= 'A' && uri[k] <= 'Z')
                    uri[k] = (char)(uri[k] - 'A' + 'a');
        }
        for (size_t pos = 0; pos < QR_URI_LEN; pos++) {
            char orig = uri[pos];
            for (int c = 0; c < 256; c++) {
                if ((char)c == orig)
                    continue;
                uri[pos] = (char)c;
                expect_refused(uri, QR_URI_LEN, "one substitution");
            }
            uri[pos] = orig;
        }
    }
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int symbol_position(size_t k)
{
    /* Positions of the 71 base32 symbols (chain, record, check) within the URI. */
    return k < QR_URI_CHAIN_CHARS ? (int)(8 + k) : (int)(8 + 1 + k);
}

static void uri_multiple_errors_refused(void **state)
{
    struct t_rng rng;
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    char bad[QR_URI_SIZE];
    const size_t symbols = QR_URI_CHAIN_CHARS + QR_URI_RECORD_CHARS + QR_URI_CHECK_CHARS;
    (void)state;

    t_rng_seed(&rng, 0x53);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    /* Adjacent transpositions, the commonest typing slip after a substitution. */
    for (size_t pos = 0; pos + 1 < QR_URI_LEN; pos++) {
        if (uri[pos] == uri[pos + 1])
            continue;
        memcpy(bad, uri, sizeof(bad));
        bad[pos] = uri[pos + 1];
        bad[pos + 1] = uri[pos];
        expect_refused(bad, QR_URI_LEN, "transposition");
    }
    /* 2 to 4 substitutions inside the alphabet: bech32m guarantees detection up to 4. */
    for (int trial = 0; trial < 3000; trial++) {
        unsigned errors = 2 + (unsigned)t_rng_below(&rng, 3);
        size_t used[4];
        memcpy(bad, uri, sizeof(bad));
        for (unsigned e = 0; e < errors; e++) {
            size_t k;
            int pos;
            int fresh;
            do {
                k = (size_t)t_rng_below(&rng, symbols);
                fresh = 1;
                for (unsigned j = 0; j < e; j++)
                    fresh &= used[j] != k;
            } while (!fresh);
            used[e] = k;
            pos = symbol_position(k);
            do {
                bad[pos] = b32[t_rng_below(&rng, 32)];
            } while (bad[pos] == uri[pos]);
        }
        expect_refused(bad, QR_URI_LEN, "several substitutions");
    }
}

/* Builds a URI from 65 data symbols with a valid check, bypassing qr_uri_encode. */
static void build_uri(const uint8_t data[65], char out[QR_URI_SIZE])
{
    uint8_t values[71];
    uint32_t mod;

    memcpy(values, data, 65);
    memset(values + 65, 0, 6);
    mod = qr_bech32m_polymod("tongban", values, 71) ^ QR_BECH32M_CONST;
    for (unsigned i = 0; i < 6; i++)
        values[65 + i] = (uint8_t)((mod >> (5 * (5 - i))) & 31u);
    memcpy(out, "TONGBAN:", 8);
    for (size_t k = 0; k < 71; k++)
        out[symbol_position(k)] = b32[values[k]];
    out[21] = ':';
    out[80] = '\0';
}

static void uri_format_refused(void **state)
{
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
    uint8_t back[QR_RECORD_ID_BYTES];
    uint8_t data[65];
    char uri[QR_URI_SIZE];
    char bad[QR_URI_SIZE + 8];
    struct t_rng rng;
    (void)state;

    t_rng_seed(&rng, 0x54);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    OK(parse(uri, QR_URI_LEN, prefix, back));

    /* Length: short, long (the text is read only up to text_len), empty. */
    expect_refused(uri, QR_URI_LEN - 1, "one short");
    memcpy(bad, uri, QR_URI_LEN);
    bad[QR_URI_LEN] = 'A';
    expect_refused(bad, QR_URI_LEN + 1, "one long");
    expect_refused("", 0, "empty");
    expect_refused(NULL, 0, "NULL and empty");
    /* A C string that carries the URI with a trailing newline is not a credential. */
    memcpy(bad, uri, QR_URI_LEN);
    bad[QR_URI_LEN] = '\n';
    expect_refused(bad, QR_URI_LEN + 1, "trailing newline");

    /* Prefix and separator. */
    memcpy(bad, uri, sizeof(uri));
    memcpy(bad, "TONGBAM:", 8);
    expect_refused(bad, QR_URI_LEN, "wrong scheme");
    memcpy(bad, "TONGBAN/", 8);
    expect_refused(bad, QR_URI_LEN, "wrong scheme separator");
    memcpy(bad, uri, sizeof(uri));
    bad[21] = 'A';
    expect_refused(bad, QR_URI_LEN, "missing separator");

    /* Mixed case: lowercase scheme, uppercase data; one lowercase data letter. */
    memcpy(bad, uri, sizeof(uri));
    memcpy(bad, "tongban:", 8);
    expect_refused(bad, QR_URI_LEN, "mixed case scheme");
    assert_non_null(strstr(errmsg, "case"));

    /* Padding bits set under a valid check: the last chain symbol carries one pad bit,
     * the last record symbol four. */
    for (size_t k = 0; k < 65; k++)
        data[k] = (uint8_t)t_rng_below(&rng, 32);
    data[12] &= 0x1E;
    data[64] &= 0x10;
    build_uri(data, bad);
    OK(parse(bad, QR_URI_LEN, prefix, back)); /* the builder itself is right */
    for (uint8_t pad = 1; pad < 16; pad++) {
        data[64] = (uint8_t)((data[64] & 0x10) | pad);
        build_uri(data, bad);
        expect_refused(bad, QR_URI_LEN, "record padding bits");
        assert_non_null(strstr(errmsg, "padding"));
    }
    data[64] &= 0x10;
    data[12] |= 1;
    build_uri(data, bad);
    expect_refused(bad, QR_URI_LEN, "chain padding bit");
}

/* ---- a naive reference parser, written from docs/credentials.md alone ---- */

static uint32_t naive_polymod(const uint8_t *v, size_t n)
{
    static const uint32_t g[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    static const char hrp[] = "tongban";
    uint8_t all[128];
    size_t m = 0;
    uint32_t chk = 1;

    for (size_t i = 0; i < 7; i++)
        all[m++] = (uint8_t)(hrp[i] >> 5);
    all[m++] = 0;
    for (size_t i = 0; i < 7; i++)
        all[m++] = (uint8_t)(hrp[i] & 31);
    for (size_t i = 0; i < n; i++)
        all[m++] = v[i];
    for (size_t i = 0; i < m; i++) {
        uint32_t b = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ all[i];
        for (int k = 0; k < 5; k++)
            if ((b >> k) & 1)
                chk ^= g[k];
    }
    return chk;
}

/* One bit at a time: bit i of the 325 data bits (65 symbols). */
static int naive_bit(const uint8_t *symbols, size_t i)
{
    return (symbols[i / 5] >> (4 - i % 5)) & 1;
}

static int naive_parse(const char *t, size_t len, uint8_t prefix[8], uint8_t record[32])
{
    char s[80];
    uint8_t v[71];
    int lower = 0;
    int upper = 0;
    size_t k = 0;

    if (len != 80)
        return 0;
    for (size_t i = 0; i < 80; i++) {
        lower |= t[i] >= 'a' && t[i] <= 'z';
        upper |= t[i] >= 'A' && t[i] <= 'Z';
        s[i] = (t[i] >= 'a' && t[i] <= 'z') ? (char)(t[i] - 32) : t[i];
    }
    if ((lower && upper) || memcmp(s, "TONGBAN:", 8) != 0 || s[21] != ':')
        return 0;
    for (size_t i = 8; i < 80; i++) {
        const char *at;
        if (i == 21)
            continue;
        at = s[i] == '\0' ? NULL : strchr(b32, s[i]);
        if (at == NULL)
            return 0;
        v[k++] = (uint8_t)(at - b32);
    }
    if (naive_polymod(v, 71) != QR_BECH32M_CONST)
        return 0;
    memset(prefix, 0, 8);
    memset(record, 0, 32);
    for (size_t i = 0; i < 64; i++)
        prefix[i / 8] |= (uint8_t)(naive_bit(v, i) << (7 - i % 8));
    for (size_t i = 0; i < 256; i++)
        record[i / 8] |= (uint8_t)(naive_bit(v, 65 + i) << (7 - i % 8));
    return naive_bit(v, 64) == 0 && naive_bit(v, 321) == 0 && naive_bit(v, 322) == 0 &&
           naive_bit(v, 323) == 0 && naive_bit(v, 324) == 0;
}

/* Random near-valid texts: qr_uri_parse agrees with the naive parser on every one. */
static void uri_parse_matches_naive(void **state)
{
    static const char pool[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:/ ";
    struct t_rng rng;
    int accepted = 0;
    (void)state;

    t_rng_seed(&rng, 0x5A);
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t chain[QR_CHAIN_ID_BYTES];
        uint8_t record[QR_RECORD_ID_BYTES];
        uint8_t p1[QR_CHAIN_PREFIX_BYTES], r1[QR_RECORD_ID_BYTES];
        uint8_t p2[QR_CHAIN_PREFIX_BYTES], r2[QR_RECORD_ID_BYTES];
        char text[QR_URI_SIZE + 1];
        size_t len = QR_URI_LEN;
        unsigned edits = (unsigned)t_rng_below(&rng, 4);
        int rv;
        int want;

        random_ids(&rng, chain, record);
        if (t_rng_below(&rng, 4) == 0) {
            uint8_t data[65];
            for (size_t i = 0; i < 65; i++)
                data[i] = (uint8_t)t_rng_below(&rng, 32);
            build_uri(data, text); /* valid check, padding bits random */
        } else {
            qr_uri_encode(chain, record, text);
        }
        if (t_rng_below(&rng, 4) == 0) /* whole text lowercase */
            for (size_t i = 0; i < QR_URI_LEN; i++)
                if (text[i] >= 'A' && text[i] <= 'Z')
                    text[i] = (char)(text[i] + 32);
        for (unsigned e = 0; e < edits; e++)
            text[t_rng_below(&rng, QR_URI_LEN)] = pool[t_rng_below(&rng, sizeof(pool) - 1)];
        if (t_rng_below(&rng, 50) == 0)
            len = QR_URI_LEN - 1 + (size_t)t_rng_below(&rng, 3);
        text[QR_URI_LEN] = 'A';
        rv = qr_uri_parse(text, len, p1, r1, errmsg);
        want = naive_parse(text, len, p2, r2);
        if ((rv == TB_OK) != want)
            fail_msg("iteration %d: qr_uri_parse %s, naive %s: %.*s", iter, tb_strerror(rv),
                     want ? "accepts" : "refuses", (int)len, text);
        if (want) {
            accepted++;
            assert_memory_equal(p1, p2, sizeof(p1));
            assert_memory_equal(r1, r2, sizeof(r1));
        } else {
            assert_int_equal(rv, TB_EMALFORMED);
        }
    }
    assert_true(accepted > 2000); /* about 19 %: the generator reaches both verdicts */
}

static void uri_other_federation_refused(void **state)
{
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t other[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
    uint8_t back[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    struct t_rng rng;
    (void)state;

    t_rng_seed(&rng, 0x55);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    OK(parse(uri, QR_URI_LEN, prefix, back));
    OK(qr_uri_chain_check(prefix, chain, errmsg));
    for (size_t i = 0; i < QR_CHAIN_ID_BYTES; i++) {
        memcpy(other, chain, sizeof(other));
        other[i] ^= 0x01;
        if (i < QR_CHAIN_PREFIX_BYTES) {
            assert_int_equal(qr_uri_chain_check(prefix, other, errmsg), TB_EINVAL);
            assert_non_null(strstr(errmsg, "another federation"));
        } else {
            /* Only the prefix travels in the code; the record proof binds the full id. */
            OK(qr_uri_chain_check(prefix, other, errmsg));
        }
    }
}

/* The figure docs/credentials.md gives: version 4 (33 modules) at M, 5 at Q. */
static void uri_fits_version_4(void **state)
{
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    char hex_form[128];
    struct t_rng rng;
    QRcode *qr;
    (void)state;

    t_rng_seed(&rng, 0x56);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->version, 4);
    assert_int_equal(qr->width, 33);
    QRcode_free(qr);
    qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_Q, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->version, 5);
    QRcode_free(qr);
    /* The same text in lowercase falls back to byte mode and needs version 5. */
    for (size_t k = 0; k < QR_URI_LEN; k++)
        if (uri[k] >= 'A' && uri[k] <= 'Z')
            uri[k] = (char)(uri[k] - 'A' + 'a');
    qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->version, 5);
    QRcode_free(qr);
    /* The uppercase-hex alternative (16 + 64 hex digits, 8 hex digits of check) needs 5. */
    memset(hex_form, 'A', 97);
    memcpy(hex_form, "TONGBAN:", 8);
    hex_form[24] = ':';
    hex_form[97] = '\0';
    qr = QRcode_encodeString(hex_form, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->version, 5);
    QRcode_free(qr);
}

/* ---- PNG ---- */

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static QRcode *reference_qr(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    return qr;
}

/* Signature, IHDR, then every pixel against the QR matrix. */
static void check_png(const struct tb_buf *png, const char *text, unsigned module_px,
                      unsigned margin)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    QRcode *qr = reference_qr(text);
    unsigned modules = (unsigned)qr->width;
    unsigned side = (modules + 2 * margin) * module_px;
    png_image image;
    uint8_t *pixels;

    assert_true(png->len > 33);
    assert_memory_equal(png->data, sig, 8);
    assert_int_equal(be32(png->data + 8), 13);
    assert_memory_equal(png->data + 12, "IHDR", 4);
    assert_int_equal(be32(png->data + 16), side);
    assert_int_equal(be32(png->data + 20), side);
    assert_int_equal(png->data[24], 1); /* bit depth */
    assert_int_equal(png->data[25], 0); /* grayscale */
    assert_int_equal(png->data[28], 0); /* not interlaced */

    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&image, png->data, png->len));
    image.format = PNG_FORMAT_GRAY;
    assert_int_equal(image.width, side);
    pixels = malloc(PNG_IMAGE_SIZE(image));
    assert_non_null(pixels);
    assert_true(png_image_finish_read(&image, NULL, pixels, 0, NULL));
    for (unsigned y = 0; y < side; y++) {
        for (unsigned x = 0; x < side; x++) {
            unsigned mx = x / module_px;
            unsigned my = y / module_px;
            int dark = 0;
            if (mx >= margin && mx < margin + modules && my >= margin && my < margin + modules)
                dark = qr->data[(my - margin) * modules + (mx - margin)] & 1;
            if (pixels[(size_t)y * side + x] != (dark ? 0 : 255))
                fail_msg("pixel (%u, %u) is %u, module dark=%d", x, y, pixels[(size_t)y * side + x],
                         dark);
        }
    }
    free(pixels);
    QRcode_free(qr);
}

static void png_matches_matrix(void **state)
{
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    struct t_rng rng;
    struct tb_buf out;
    (void)state;

    t_rng_seed(&rng, 0x57);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    tb_buf_init(&out, OUT_MAX);
    for (unsigned px = 1; px <= 9; px += 2) {
        for (unsigned margin = 0; margin <= 5; margin++) {
            OK(qr_png(uri, px, margin, &out, errmsg));
            check_png(&out, uri, px, margin);
        }
    }
    /* Byte mode, and the largest geometry. */
    OK(qr_png("https://example.org/v1/records/abc?lang=zh-CN", QR_MODULE_PX_MAX,
              QR_MARGIN_MODULES_MAX, &out, errmsg));
    check_png(&out, "https://example.org/v1/records/abc?lang=zh-CN", QR_MODULE_PX_MAX,
              QR_MARGIN_MODULES_MAX);
    tb_buf_release(&out);
}

/* Writes png to a file and returns what `zbarimg --raw -q` reads from it. */
static char *zbar_decode(const struct tb_buf *png)
{
    static char text[1024];
    char *dir = tb_strdup(t_tmpdir("qr"));
    char path[600];
    char cmd[700];
    FILE *f;
    FILE *p;
    size_t n;

    if (access("/usr/bin/zbarimg", X_OK) != 0 && system("command -v zbarimg >/dev/null") != 0)
        fail_msg(
            "zbarimg not found: install zbar-tools (apt-get install -y zbar-tools) "
            "to check that the PNG decodes");
    snprintf(path, sizeof(path), "%s/code.png", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(png->data, 1, png->len, f), png->len);
    assert_int_equal(fclose(f), 0);
    /* zbarimg's stderr carries D-Bus noise in containers; it is kept only for failures. */
    snprintf(cmd, sizeof(cmd), "zbarimg --raw -q '%s' 2>'%s/stderr.txt'", path, dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(text, 1, sizeof(text) - 1, p);
    text[n] = '\0';
    if (pclose(p) != 0)
        fail_msg("zbarimg could not decode the PNG (%s; its stderr is beside it)", path);
    t_rmtree(dir);
    tb_free(dir);
    if (n > 0 && text[n - 1] == '\n')
        text[n - 1] = '\0';
    return text;
}

static void png_decodes_with_zbar(void **state)
{
    static const char *const texts[] = {
        "HELLO",
        "https://example.org/v1/records/abc?lang=zh-CN",
    };
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES];
    uint8_t back[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    struct t_rng rng;
    struct tb_buf out;
    char *read;
    (void)state;

    t_rng_seed(&rng, 0x58);
    tb_buf_init(&out, OUT_MAX);
    for (int i = 0; i < 3; i++) {
        random_ids(&rng, chain, record);
        qr_uri_encode(chain, record, uri);
        OK(qr_png(uri, 4, 4, &out, errmsg));
        read = zbar_decode(&out);
        assert_string_equal(read, uri);
        /* The scanned text resolves to the same record. */
        OK(parse(read, strlen(read), prefix, back));
        assert_memory_equal(back, record, sizeof(record));
    }
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        OK(qr_png(texts[i], 3, 4, &out, errmsg));
        assert_string_equal(zbar_decode(&out), texts[i]);
    }
    tb_buf_release(&out);
}

/* ---- terminal ---- */

/* Decodes the half-block text back into a side x side ink matrix; returns the side. */
static unsigned term_matrix(const struct tb_buf *out, uint8_t *ink, size_t ink_max,
                            unsigned *lines_out)
{
    size_t i = 0;
    unsigned line = 0;
    unsigned side = 0;

    *lines_out = 0;
    while (i < out->len) {
        unsigned col = 0;
        while (i < out->len && out->data[i] != '\n') {
            int top;
            int bottom;
            if (out->data[i] == ' ') {
                top = bottom = 0;
                i += 1;
            } else {
                assert_true(i + 3 <= out->len);
                assert_int_equal(out->data[i], 0xE2);
                assert_int_equal(out->data[i + 1], 0x96);
                switch (out->data[i + 2]) {
                case 0x80:
                    top = 1, bottom = 0;
                    break;
                case 0x84:
                    top = 0, bottom = 1;
                    break;
                case 0x88:
                    top = 1, bottom = 1;
                    break;
                default:
                    fail_msg("unexpected glyph byte 0x%02x", out->data[i + 2]);
                    return 0;
                }
                i += 3;
            }
            assert_true((size_t)(2 * line + 1) * 128 + col < ink_max);
            ink[(2 * line) * 128 + col] = (uint8_t)top;
            ink[(2 * line + 1) * 128 + col] = (uint8_t)bottom;
            col++;
        }
        assert_true(i < out->len); /* every line ends in '\n' */
        i++;
        if (line == 0)
            side = col;
        assert_int_equal(col, side);
        line++;
    }
    *lines_out = line;
    return side;
}

static void check_terminal(const char *text, unsigned flags)
{
    static uint8_t ink[128 * 128];
    QRcode *qr = reference_qr(text);
    unsigned modules = (unsigned)qr->width;
    unsigned m = QR_TERM_MARGIN_MODULES;
    unsigned side;
    unsigned lines = 0;
    struct tb_buf out;

    tb_buf_init(&out, OUT_MAX);
    OK(qr_terminal(text, flags, &out, errmsg));
    memset(ink, 0xFF, sizeof(ink));
    side = term_matrix(&out, ink, sizeof(ink), &lines);
    assert_int_equal(side, modules + 2 * m);
    assert_int_equal(lines, (side + 1) / 2);
    for (unsigned y = 0; y < 2 * lines; y++) {
        for (unsigned x = 0; x < side; x++) {
            int dark = 0;
            int want;
            if (x >= m && x < m + modules && y >= m && y < m + modules)
                dark = qr->data[(y - m) * modules + (x - m)] & 1;
            want = (flags & QR_TERM_INVERT) ? dark : !dark;
            if (ink[y * 128 + x] != want)
                fail_msg("terminal module (%u, %u): %u, want %d", x, y, ink[y * 128 + x], want);
        }
    }
    tb_buf_release(&out);
    QRcode_free(qr);
}

static void terminal_matches_matrix(void **state)
{
    uint8_t chain[QR_CHAIN_ID_BYTES];
    uint8_t record[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE];
    struct tb_buf out;
    struct t_rng rng;
    unsigned lines = 0;
    (void)state;

    /* "HELLO": version 1, 21 modules, 29 with the quiet zone, 15 lines. */
    tb_buf_init(&out, OUT_MAX);
    OK(qr_terminal("HELLO", 0, &out, errmsg));
    for (size_t i = 0; i < out.len; i++)
        lines += out.data[i] == '\n';
    assert_int_equal(lines, 15);
    assert_true(out.len >= 15 * (29 + 1));
    assert_true(out.len <= 15 * (29 * 3 + 1));
    tb_buf_release(&out);
    check_terminal("HELLO", 0);
    check_terminal("HELLO", QR_TERM_INVERT);

    t_rng_seed(&rng, 0x59);
    random_ids(&rng, chain, record);
    qr_uri_encode(chain, record, uri);
    check_terminal(uri, 0);
    check_terminal(uri, QR_TERM_INVERT);
    assert_int_equal(qr_terminal(uri, 0x2, &out, errmsg), TB_EINVAL);
}

/* ---- limits and faults ---- */

static void limits_refused(void **state)
{
    static char text[QR_TEXT_BYTES_MAX + 2];
    struct tb_buf out;
    struct tb_buf small;
    (void)state;

    tb_buf_init(&out, OUT_MAX);
    assert_int_equal(qr_png("", 4, 4, &out, errmsg), TB_EINVAL);
    assert_int_equal(qr_terminal("", 0, &out, errmsg), TB_EINVAL);
    assert_int_equal(qr_png("A", 0, 4, &out, errmsg), TB_EINVAL);
    assert_int_equal(qr_png("A", QR_MODULE_PX_MAX + 1, 4, &out, errmsg), TB_EINVAL);
    assert_int_equal(qr_png("A", 4, QR_MARGIN_MODULES_MAX + 1, &out, errmsg), TB_EINVAL);
    assert_int_equal(out.len, 0);

    /* Byte mode: version 10-M holds 213 bytes; 214 need version 11. */
    memset(text, 'a', 213);
    text[213] = '\0';
    OK(qr_png(text, 1, 4, &out, errmsg));
    check_png(&out, text, 1, 4);
    text[213] = 'a';
    text[214] = '\0';
    assert_int_equal(qr_png(text, 1, 4, &out, errmsg), TB_ELIMIT);
    assert_non_null(strstr(errmsg, "version 11"));
    assert_int_equal(out.len, 0);
    assert_int_equal(qr_terminal(text, 0, &out, errmsg), TB_ELIMIT);
    /* Alphanumeric: 311 characters fit version 10; one more is over the length limit. */
    memset(text, 'A', QR_TEXT_BYTES_MAX);
    text[QR_TEXT_BYTES_MAX] = '\0';
    OK(qr_png(text, 1, 4, &out, errmsg));
    check_png(&out, text, 1, 4);
    text[QR_TEXT_BYTES_MAX] = 'A';
    assert_int_equal(qr_png(text, 1, 4, &out, errmsg), TB_ELIMIT);
    assert_int_equal(out.len, 0);

    /* The caller's buffer bounds the output. */
    tb_buf_init(&small, 64);
    assert_int_equal(qr_png("HELLO", 4, 4, &small, errmsg), TB_ELIMIT);
    assert_int_equal(small.len, 0);
    assert_null(small.data);
    assert_int_equal(qr_terminal("HELLO", 0, &small, errmsg), TB_ELIMIT);
    assert_int_equal(small.len, 0);
    tb_buf_release(&out);
}

/*
 * Fails allocation number `delay` and every later one, for each delay until the call
 * succeeds (which gives the number of allocations it makes); then fails each single
 * allocation in turn. Every failure is TB_ENOMEM with an empty buffer, every success is
 * byte-identical to the reference, and LeakSanitizer checks that nothing leaked.
 */
static void fault_loop(int terminal)
{
    static const char text[] =
        "TONGBAN:CEA2F7Y6AQUGA:PWVI3P32DHNIRAK6JXHXWF2FXGX4BCDGXAFFE6HTM7LDAG3N7IQATVAW6T";
    struct tb_buf ref;
    struct tb_buf out;
    long count = -1;
    int rv;

    tb_buf_init(&ref, OUT_MAX);
    tb_buf_init(&out, OUT_MAX);
    if (terminal)
        OK(qr_terminal(text, 0, &ref, errmsg));
    else
        OK(qr_png(text, 3, 4, &ref, errmsg));
    for (int pass = 0; pass < 2; pass++) {
        long limit = pass == 0 ? 2000 : count;
        for (long delay = 0; delay < limit; delay++) {
            tb_alloc_fault_set(delay, pass == 0 ? -1 : 1);
            rv = terminal ? qr_terminal(text, 0, &out, errmsg) : qr_png(text, 3, 4, &out, errmsg);
            tb_alloc_fault_reset();
            if (rv != TB_OK) {
                assert_int_equal(rv, TB_ENOMEM);
                assert_int_equal(out.len, 0);
                assert_null(out.data);
                continue;
            }
            assert_int_equal(out.len, ref.len);
            assert_memory_equal(out.data, ref.data, ref.len);
            if (pass == 0) {
                count = delay;
                break;
            }
        }
        assert_true(count > 0); /* the persistent pass reached a success */
    }
    tb_buf_release(&out);
    tb_buf_release(&ref);
}

static void alloc_faults_do_not_leak(void **state)
{
    (void)state;
    fault_loop(0);
    fault_loop(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bech32m_published_vectors),
        cmocka_unit_test(uri_known_answers),
        cmocka_unit_test(uri_round_trip),
        cmocka_unit_test(uri_every_substitution_refused),
        cmocka_unit_test(uri_multiple_errors_refused),
        cmocka_unit_test(uri_format_refused),
        cmocka_unit_test(uri_parse_matches_naive),
        cmocka_unit_test(uri_other_federation_refused),
        cmocka_unit_test(uri_fits_version_4),
        cmocka_unit_test(png_matches_matrix),
        cmocka_unit_test(png_decodes_with_zbar),
        cmocka_unit_test(terminal_matches_matrix),
        cmocka_unit_test(limits_refused),
        cmocka_unit_test(alloc_faults_do_not_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
