/*
 * config/genesis.c: the genesis JSON file and its chain id.
 *
 * The chain ids pinned here were computed by tests/vectors/genesis-chain-id.sh, which
 * assembles the DESIGN 3.3 body byte by byte in the shell and hashes it with `openssl
 * dgst`; a change of the body format, of the sort order or of the tag fails these tests.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "cr_sign.h"
#include "genesis.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

#define ED_PATH "tests/vectors/genesis-ed25519.json"
#define SM_PATH "tests/vectors/genesis-sm2.json"
#define ED_CHAIN_ID "2b003ed067c5babaa1a3c5124bbfdac5744519312145863b3194efe5b0b56739"
#define SM_CHAIN_ID "8aebe20edbbeb87e0b1b361afabdcaf20343f3bbf93f3354552cabe9f8e5b00f"
#define ED_BODY_BYTES 431
#define SM_BODY_BYTES 406

/* Valid keys from `openssl genpkey` (the vector files use them too). */
#define ED_KEY1 "e34382abb4e1a9ff6dafbf247f07d1d7f861ff7a74f0861fa2364a8480f5dc71"
#define ED_KEY2 "7b752494ed498aad50aa3fa973154cb3c3655aaa51f0fae9d11a4ee8dcea0893"
#define SM_KEY1                                                                                \
    "04d97469d6531cb0f5acbf520953f1a3adea4e9966ba4ffa1edb86bd329cccb56647937a29097ab32638cbc6" \
    "a7a14f400f16607f9100dfcfbad867db51a1df0fc6"

static void chain_id_hex(const struct cfg_genesis *g, char hex[2 * CR_HASH_BYTES + 1])
{
    uint8_t id[CR_HASH_BYTES];
    assert_int_equal(cfg_genesis_chain_id(g, id), TB_OK);
    tb_hex_encode(id, sizeof(id), hex);
}

static size_t body_len(const struct cfg_genesis *g)
{
    struct tb_buf b;
    tb_buf_init(&b, 1 << 20);
    assert_int_equal(cfg_genesis_body(g, &b), TB_OK);
    size_t n = b.len;
    tb_buf_release(&b);
    return n;
}

static void ed25519_vector_loads_and_pins_chain_id(void **state)
{
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "", hex[65];
    (void)state;
    assert_int_equal(cfg_genesis_load(ED_PATH, &g, err), TB_OK);
    assert_int_equal(g.suite, CR_SUITE_ED25519_SHA256);
    assert_string_equal(g.federation, "山东通办联盟");
    assert_int_equal(g.created_at, 1767225600);
    assert_int_equal(g.member_count, 4);
    assert_string_equal(g.members[0].city, "JN");
    assert_string_equal(g.members[1].city, "LC");
    assert_string_equal(g.members[2].city, "QD");
    assert_string_equal(g.members[3].city, "ZB");
    assert_int_equal(g.type_count, 4);
    assert_string_equal(g.types[0].type, "business.license");
    assert_int_equal(g.types[0].sharing, CFG_SHARING_OPEN);
    assert_string_equal(g.types[3].type, "marriage.certificate");
    assert_int_equal(g.types[3].sharing, CFG_SHARING_CLOSED);
    const struct cfg_member *lc = cfg_genesis_member_by_city(&g, "LC");
    assert_non_null(lc);
    assert_string_equal(lc->name, "聊城");
    assert_string_equal(lc->endpoint, "http://[fd00::3]:7480");
    assert_ptr_equal(cfg_genesis_member_by_key(&g, lc->node_key, lc->node_key_len), lc);
    assert_null(cfg_genesis_member_by_key(&g, lc->node_key, 31));
    assert_null(cfg_genesis_member_by_city(&g, "XX"));
    assert_null(cfg_genesis_member_by_city(&g, "lc"));
    assert_int_equal(cfg_genesis_type(&g, "fund.deposit")->sharing, CFG_SHARING_CONSENT);
    assert_null(cfg_genesis_type(&g, "fund"));
    assert_int_equal(body_len(&g), ED_BODY_BYTES);
    chain_id_hex(&g, hex);
    assert_string_equal(hex, ED_CHAIN_ID);
    cfg_genesis_release(&g);
    cfg_genesis_release(&g); /* idempotent on a zeroed struct */
}

static void sm2_vector_loads_and_pins_chain_id(void **state)
{
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "", hex[65];
    (void)state;
    assert_int_equal(cfg_genesis_load(SM_PATH, &g, err), TB_OK);
    assert_int_equal(g.suite, CR_SUITE_SM2_SM3);
    assert_int_equal(g.member_count, 3);
    assert_string_equal(g.members[0].city, "BZ");
    assert_int_equal(g.members[0].node_key_len, 65);
    assert_int_equal(g.members[0].node_key[0], 0x04);
    assert_int_equal(body_len(&g), SM_BODY_BYTES);
    chain_id_hex(&g, hex);
    assert_string_equal(hex, SM_CHAIN_ID);
    cfg_genesis_release(&g);
}

/* Shuffles a JSON array in place with the test PRNG (Fisher-Yates). */
static void shuffle_array(json_t *arr, struct t_rng *rng)
{
    size_t n = json_array_size(arr);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)t_rng_below(rng, i);
        json_t *a = json_incref(json_array_get(arr, i - 1));
        json_t *b = json_incref(json_array_get(arr, j));
        assert_int_equal(json_array_set_new(arr, i - 1, b), 0);
        assert_int_equal(json_array_set_new(arr, j, a), 0);
    }
}

static void order_in_file_does_not_change_chain_id(void **state)
{
    const char *paths[2] = {ED_PATH, SM_PATH};
    const char *ids[2] = {ED_CHAIN_ID, SM_CHAIN_ID};
    struct t_rng rng;
    (void)state;
    t_rng_seed(&rng, 20261127);
    for (int v = 0; v < 2; v++) {
        json_error_t jerr;
        json_t *root = json_load_file(paths[v], 0, &jerr);
        assert_non_null(root);
        for (int round = 0; round < 20; round++) {
            struct cfg_genesis g;
            char err[TB_ERRMSG_SIZE] = "", hex[65];
            shuffle_array(json_object_get(root, "members"), &rng);
            shuffle_array(json_object_get(root, "record_types"), &rng);
            char *text = json_dumps(root, JSON_COMPACT);
            assert_non_null(text);
            assert_int_equal(cfg_genesis_parse(text, strlen(text), "shuffled.json", &g, err),
                             TB_OK);
            chain_id_hex(&g, hex);
            assert_string_equal(hex, ids[v]);
            cfg_genesis_release(&g);
            free(text);
        }
        json_decref(root);
    }
}

static void json_round_trip_is_identical(void **state)
{
    const char *paths[2] = {ED_PATH, SM_PATH};
    (void)state;
    for (int v = 0; v < 2; v++) {
        struct cfg_genesis a, b;
        struct tb_buf ja, jb;
        char err[TB_ERRMSG_SIZE] = "";
        assert_int_equal(cfg_genesis_load(paths[v], &a, err), TB_OK);
        tb_buf_init(&ja, 1 << 20);
        tb_buf_init(&jb, 1 << 20);
        assert_int_equal(cfg_genesis_to_json(&a, &ja), TB_OK);
        assert_int_equal(cfg_genesis_parse((const char *)ja.data, ja.len, "out.json", &b, err),
                         TB_OK);
        assert_int_equal(cfg_genesis_to_json(&b, &jb), TB_OK);
        assert_int_equal(ja.len, jb.len);
        assert_memory_equal(ja.data, jb.data, ja.len);
        assert_int_equal(a.suite, b.suite);
        assert_string_equal(a.federation, b.federation);
        assert_int_equal(a.created_at, b.created_at);
        assert_int_equal(a.member_count, b.member_count);
        assert_memory_equal(a.members, b.members, a.member_count * sizeof(a.members[0]));
        assert_int_equal(a.type_count, b.type_count);
        assert_memory_equal(a.types, b.types, a.type_count * sizeof(a.types[0]));
        /* Chinese names stay readable UTF-8 in the file, not \u escapes. */
        assert_non_null(
            memmem(ja.data, ja.len, "\"name\": \"聊城\"", strlen("\"name\": \"聊城\"")));
        assert_int_equal(ja.data[ja.len - 1], '\n');
        cfg_genesis_release(&a);
        cfg_genesis_release(&b);
        tb_buf_release(&ja);
        tb_buf_release(&jb);
    }
}

static void stable_layout_of_written_file(void **state)
{
    static const char want[] =
        "{\n"
        "  \"suite\": \"ed25519-sha256\",\n"
        "  \"federation\": \"F\",\n"
        "  \"created_at\": 7,\n"
        "  \"members\": [\n"
        "    {\n"
        "      \"city\": \"LC\",\n"
        "      \"name\": \"聊城\",\n"
        "      \"node_key\": \"" ED_KEY1
        "\",\n"
        "      \"endpoint\": \"https://a.example:1\"\n"
        "    }\n"
        "  ],\n"
        "  \"record_types\": [\n"
        "    {\n"
        "      \"type\": \"t\",\n"
        "      \"sharing\": \"open\"\n"
        "    }\n"
        "  ]\n"
        "}\n";
    static const char in[] =
        "{\"record_types\":[{\"sharing\":\"open\",\"type\":\"t\"}],\"created_at\":7,"
        "\"members\":[{\"endpoint\":\"https://a.example:1\",\"node_key\":\"" ED_KEY1
        "\",\"name\":\"聊城\",\"city\":\"LC\"}],\"federation\":\"F\",\"suite\":\"ed25519-sha256\"}";
    struct cfg_genesis g;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(cfg_genesis_parse(in, strlen(in), "in.json", &g, err), TB_OK);
    tb_buf_init(&out, 4096);
    assert_int_equal(cfg_genesis_to_json(&g, &out), TB_OK);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    tb_buf_release(&out);
    /* A buffer too small for the file is refused, not truncated. */
    tb_buf_init(&out, 64);
    assert_int_equal(cfg_genesis_to_json(&g, &out), TB_ELIMIT);
    tb_buf_release(&out);
    cfg_genesis_release(&g);
}

/* One-member genesis text with replaceable pieces. */
static char *doc(const char *suite, const char *created, const char *members, const char *types)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf),
             "{\"suite\":\"%s\",\"federation\":\"F\",\"created_at\":%s,\"members\":[%s],"
             "\"record_types\":[%s]}",
             suite, created, members, types);
    return buf;
}

#define M_LC                                                     \
    "{\"city\":\"LC\",\"name\":\"聊城\",\"node_key\":\"" ED_KEY1 \
    "\",\"endpoint\":\"https://a.example:1\"}"
#define M_JN                                                     \
    "{\"city\":\"JN\",\"name\":\"济南\",\"node_key\":\"" ED_KEY2 \
    "\",\"endpoint\":\"https://b.example:1\"}"
#define T_OPEN "{\"type\":\"t\",\"sharing\":\"open\"}"
#define ED "ed25519-sha256"

struct bad_case
{
    const char *text;
    int rc;
    const char *msg;
};

static void expect_refused(const char *text, int want_rc, const char *want_msg)
{
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "";
    int rc = cfg_genesis_parse(text, strlen(text), "g.json", &g, err);
    if (rc != want_rc || strcmp(err, want_msg) != 0)
        fail_msg("input %s\n  got %d \"%s\"\n want %d \"%s\"", text, rc, err, want_rc, want_msg);
    assert_null(g.members); /* nothing to release after a failure */
    assert_null(g.types);
}

static void genesis_errors_name_file_and_path(void **state)
{
    char text[8192];
    (void)state;
    expect_refused(
        doc(ED, "1",
            "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"e34382abb4e1a9ff6dafbf247f07d1d7f"
            "861ff7a74f0861fa2364a8480f5dc7\",\"endpoint\":\"https://a.example:1\"}",
            T_OPEN),
        TB_ECONFIG,
        "g.json: members[0].node_key: expected 64 hex digits for ed25519-sha256, got 63");
    expect_refused(
        doc(ED, "1",
            M_JN ",{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"zz4382abb4e1a9ff6dafbf247f07d1"
                 "d7f861ff7a74f0861fa2364a8480f5dc71\",\"endpoint\":\"https://a.example:1\"}",
            T_OPEN),
        TB_ECONFIG, "g.json: members[1].node_key: not a hex string");
    expect_refused(doc("sm2-sm3", "1", M_LC, T_OPEN), TB_ECONFIG,
                   "g.json: members[0].node_key: expected 130 hex digits for sm2-sm3, got 64");
    snprintf(text, sizeof(text), "%s",
             doc("sm2-sm3", "1",
                 "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"03d97469d6531cb0f5acbf520953f1a3"
                 "adea4e9966ba4ffa1edb86bd329cccb56647937a29097ab32638cbc6a7a14f400f16607f9100dfc"
                 "fbad867db51a1df0fc6\",\"endpoint\":\"https://a.example:1\"}",
                 T_OPEN));
    expect_refused(text, TB_ECONFIG,
                   "g.json: members[0].node_key: sm2-sm3 node key must be an uncompressed point "
                   "starting with 04");
    /* The Ed25519 identity point (small order) and an SM2 point off the curve. */
    expect_refused(
        doc(ED, "1",
            "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"01000000000000000000000000000000"
            "00000000000000000000000000000000\",\"endpoint\":\"https://a.example:1\"}",
            T_OPEN),
        TB_ECONFIG, "g.json: members[0].node_key: not a valid ed25519-sha256 public key");
    snprintf(text, sizeof(text), "%s",
             doc("sm2-sm3", "1",
                 "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"04d97469d6531cb0f5acbf520953f1a3"
                 "adea4e9966ba4ffa1edb86bd329cccb56647937a29097ab32638cbc6a7a14f400f16607f9100dfc"
                 "fbad867db51a1df0fc7\",\"endpoint\":\"https://a.example:1\"}",
                 T_OPEN));
    expect_refused(text, TB_ECONFIG, "g.json: members[0].node_key: not a valid sm2-sm3 public key");
}

static void genesis_errors_members(void **state)
{
    (void)state;
    expect_refused(doc(ED, "1",
                       M_LC ",{\"city\":\"LC\",\"name\":\"x\",\"node_key\":\"" ED_KEY2
                            "\",\"endpoint\":\"https://c.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[1].city: duplicate city \"LC\" (also members[0])");
    expect_refused(doc(ED, "1",
                       M_LC ",{\"city\":\"DZ\",\"name\":\"x\",\"node_key\":\"" ED_KEY1
                            "\",\"endpoint\":\"https://c.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[1].node_key: duplicate node key (also members[0])");
    expect_refused(doc(ED, "1",
                       "{\"city\":\"L C\",\"name\":\"n\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"https://a.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG,
                   "g.json: members[0].city: city code may contain only 0-9 A-Z a-z _ -, found "
                   "byte 0x20 at 1");
    expect_refused(doc(ED, "1",
                       "{\"city\":\"ABCDEFGHIJKLMNOPQ\",\"name\":\"n\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"https://a.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[0].city: longer than 16 bytes");
    expect_refused(doc(ED, "1",
                       "{\"city\":\"LC\",\"name\":\"a\\u0001\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"https://a.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[0].name: control character 0x01 at byte 1");
    expect_refused(doc(ED, "1",
                       "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"ftp://a.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG,
                   "g.json: members[0].endpoint: endpoint must start with http:// or https://");
    expect_refused(
        doc(ED, "1",
            "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"" ED_KEY1
            "\",\"endpoint\":\"https://a.example/x\"}",
            T_OPEN),
        TB_ECONFIG,
        "g.json: members[0].endpoint: endpoint needs host and port (expected HOST:PORT)");
    expect_refused(doc(ED, "1",
                       "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"https://a.example:1\",\"region\":\"x\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[0].region: unknown key");
    expect_refused(
        doc(ED, "1", "{\"city\":\"LC\",\"name\":\"n\",\"node_key\":\"" ED_KEY1 "\"}", T_OPEN),
        TB_ECONFIG, "g.json: members[0].endpoint: missing");
    expect_refused(doc(ED, "1",
                       "{\"city\":5,\"name\":\"n\",\"node_key\":\"" ED_KEY1
                       "\",\"endpoint\":\"https://a.example:1\"}",
                       T_OPEN),
                   TB_ECONFIG, "g.json: members[0].city: expected a string");
    expect_refused(doc(ED, "1", "", T_OPEN), TB_ECONFIG,
                   "g.json: members: must have 1..64 entries, got 0");
    expect_refused(doc(ED, "1", "[]", T_OPEN), TB_ECONFIG,
                   "g.json: members[0]: expected an object");
}

static void genesis_errors_types_and_header(void **state)
{
    (void)state;
    expect_refused(doc(ED, "1", M_LC, "{\"type\":\"t\",\"sharing\":\"secret\"}"), TB_ECONFIG,
                   "g.json: record_types[0].sharing: expected open, consent or closed");
    expect_refused(doc(ED, "1", M_LC, T_OPEN ",{\"type\":\"u\",\"sharing\":\"open\"}," T_OPEN),
                   TB_ECONFIG,
                   "g.json: record_types[2].type: duplicate type \"t\" (also record_types[0])");
    expect_refused(doc(ED, "1", M_LC, "{\"type\":\"Fund\",\"sharing\":\"open\"}"), TB_ECONFIG,
                   "g.json: record_types[0].type: record type may contain only a-z 0-9 . _ -, "
                   "found byte 0x46 at 0");
    expect_refused(doc(ED, "1", M_LC, ""), TB_ECONFIG,
                   "g.json: record_types: must have 1..256 entries, got 0");
    expect_refused(doc("ed448", "1", M_LC, T_OPEN), TB_ECONFIG,
                   "g.json: suite: expected ed25519-sha256 or sm2-sm3");
    expect_refused(doc(ED, "-1", M_LC, T_OPEN), TB_ECONFIG,
                   "g.json: created_at: expected a non-negative integer (unix seconds)");
    expect_refused(doc(ED, "1.5", M_LC, T_OPEN), TB_ECONFIG,
                   "g.json: created_at: expected a non-negative integer (unix seconds)");
    expect_refused(doc(ED, "\"1\"", M_LC, T_OPEN), TB_ECONFIG,
                   "g.json: created_at: expected a non-negative integer (unix seconds)");
    expect_refused("{\"suite\":\"" ED "\",\"extra\":1}", TB_ECONFIG, "g.json: extra: unknown key");
    expect_refused("{\"suite\":\"" ED "\"}", TB_ECONFIG, "g.json: federation: missing");
    expect_refused("[1]", TB_ECONFIG, "g.json: expected a JSON object");
}

static void genesis_errors_json_syntax(void **state)
{
    (void)state;
    expect_refused("{\"suite\":\"" ED "\",\"suite\":\"" ED "\"}", TB_EMALFORMED,
                   "g.json:1:33: duplicate object key near '\"suite\"'");
    expect_refused("{\"suite\":\"" ED "\"} x", TB_EMALFORMED,
                   "g.json:1:28: end of file expected near 'x'");
    expect_refused("{\"suite\":\n  \"\xff\"}", TB_EMALFORMED,
                   "g.json:2:3: unable to decode byte 0xff near '\"'");
    expect_refused("", TB_EMALFORMED, "g.json:1:0: '[' or '{' expected near end of file");
    /* Over the size limit: refused before jansson sees it. */
    size_t n = CFG_GENESIS_FILE_MAX + 1;
    char *big = tb_malloc(n);
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "";
    assert_non_null(big);
    memset(big, ' ', n);
    assert_int_equal(cfg_genesis_parse(big, n, "g.json", &g, err), TB_ELIMIT);
    assert_string_equal(err, "g.json: larger than 1048576 bytes");
    tb_free(big);
}

/* Every member count from 1 to 64 is accepted, 65 is not. */
static void member_count_limits(void **state)
{
    struct cfg_member *m = tb_calloc(CFG_MEMBERS_MAX + 1, sizeof(*m));
    struct cfg_record_type t = {"t", CFG_SHARING_OPEN};
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_non_null(m);
    for (int i = 0; i <= CFG_MEMBERS_MAX; i++) {
        struct cr_key *key = NULL;
        assert_int_equal(cr_key_generate(CR_SUITE_ED25519_SHA256, &key), TB_OK);
        m[i].node_key_len = cr_key_public(key, m[i].node_key);
        cr_key_free(key);
        snprintf(m[i].city, sizeof(m[i].city), "C%02d", CFG_MEMBERS_MAX - i);
        snprintf(m[i].name, sizeof(m[i].name), "城市%d", i);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://c%d.example:7480", i);
    }
    assert_int_equal(
        cfg_genesis_build(CR_SUITE_ED25519_SHA256, "F", 1, m, CFG_MEMBERS_MAX, &t, 1, &g, err),
        TB_OK);
    assert_int_equal(g.member_count, CFG_MEMBERS_MAX);
    for (size_t i = 1; i < g.member_count; i++)
        assert_true(strcmp(g.members[i - 1].city, g.members[i].city) < 0);
    /* Through JSON too: the written file parses back to the same chain id. */
    struct tb_buf json;
    struct cfg_genesis back;
    uint8_t id1[32], id2[32];
    tb_buf_init(&json, 1 << 20);
    assert_int_equal(cfg_genesis_to_json(&g, &json), TB_OK);
    assert_int_equal(cfg_genesis_parse((const char *)json.data, json.len, "64.json", &back, err),
                     TB_OK);
    assert_int_equal(cfg_genesis_chain_id(&g, id1), TB_OK);
    assert_int_equal(cfg_genesis_chain_id(&back, id2), TB_OK);
    assert_memory_equal(id1, id2, 32);
    cfg_genesis_release(&back);
    cfg_genesis_release(&g);
    tb_buf_release(&json);
    assert_int_equal(
        cfg_genesis_build(CR_SUITE_ED25519_SHA256, "F", 1, m, CFG_MEMBERS_MAX + 1, &t, 1, &g, err),
        TB_ECONFIG);
    assert_string_equal(err, "genesis: need 1..64 members and 1..256 record types");
    /* A duplicate city in built input is named by its position in the input. */
    memcpy(m[5].city, m[2].city, sizeof(m[2].city));
    assert_int_equal(cfg_genesis_build(CR_SUITE_ED25519_SHA256, "F", 1, m, 8, &t, 1, &g, err),
                     TB_ECONFIG);
    assert_string_equal(err, "genesis: members[5].city: duplicate city \"C62\" (also members[2])");
    tb_free(m);
}

static void build_matches_parse(void **state)
{
    struct cfg_genesis a, b;
    struct cfg_member rev[4];
    struct cfg_record_type types[4];
    char err[TB_ERRMSG_SIZE] = "", ha[65], hb[65];
    (void)state;
    assert_int_equal(cfg_genesis_load(ED_PATH, &a, err), TB_OK);
    for (size_t i = 0; i < 4; i++) {
        rev[i] = a.members[3 - i];
        types[i] = a.types[(i + 2) % 4];
    }
    assert_int_equal(
        cfg_genesis_build(a.suite, a.federation, a.created_at, rev, 4, types, 4, &b, err), TB_OK);
    chain_id_hex(&a, ha);
    chain_id_hex(&b, hb);
    assert_string_equal(ha, hb);
    cfg_genesis_release(&a);
    cfg_genesis_release(&b);
}

static void member_descriptor_round_trip(void **state)
{
    struct cfg_member m, back;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(
        cfg_member_parse(M_LC, strlen(M_LC), "lc.json", CR_SUITE_ED25519_SHA256, &m, err), TB_OK);
    assert_string_equal(m.name, "聊城");
    tb_buf_init(&out, 4096);
    assert_int_equal(cfg_member_to_json(&m, &out), TB_OK);
    assert_int_equal(cfg_member_parse((const char *)out.data, out.len, "lc.json",
                                      CR_SUITE_ED25519_SHA256, &back, err),
                     TB_OK);
    assert_memory_equal(&m, &back, sizeof(m));
    /* The same descriptor under the other suite has the wrong key length. */
    assert_int_equal(
        cfg_member_parse((const char *)out.data, out.len, "lc.json", CR_SUITE_SM2_SM3, &back, err),
        TB_ECONFIG);
    assert_string_equal(err, "lc.json: node_key: expected 130 hex digits for sm2-sm3, got 64");
    assert_int_equal(
        cfg_member_parse("{\"city\":\"LC\"} {", 15, "lc.json", CR_SUITE_ED25519_SHA256, &back, err),
        TB_EMALFORMED);
    tb_buf_release(&out);
}

static void load_errors(void **state)
{
    struct cfg_genesis g;
    struct cfg_member m;
    char err[TB_ERRMSG_SIZE] = "", path[512];
    (void)state;
    char *dir = t_tmpdir("cfg-genesis");
    assert_int_equal(cfg_genesis_load("/nonexistent/genesis.json", &g, err), TB_EIO);
    assert_string_equal(err, "/nonexistent/genesis.json: cannot open: No such file or directory");
    assert_int_equal(cfg_genesis_load(dir, &g, err), TB_EIO);
    snprintf(path, sizeof(path), "%s/big.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < CFG_GENESIS_FILE_MAX / 64 + 1; i++)
        fputs("                                                               \n", f);
    fclose(f);
    assert_int_equal(cfg_genesis_load(path, &g, err), TB_ELIMIT);
    char want[600];
    snprintf(want, sizeof(want), "%s: file larger than 1048576 bytes", path);
    assert_string_equal(err, want);
    snprintf(path, sizeof(path), "%s/m.json", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(M_LC, f);
    fclose(f);
    assert_int_equal(cfg_member_load(path, CR_SUITE_ED25519_SHA256, &m, err), TB_OK);
    assert_string_equal(m.city, "LC");
    t_rmtree(dir);
}

/* Fails each allocation in turn: every failure is clean (ASan checks for leaks). */
static void allocation_failures_are_clean(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *text = t_read_file(ED_PATH, &len);
    for (long n = 0; n < 100; n++) {
        struct cfg_genesis g;
        char err[TB_ERRMSG_SIZE] = "";
        uint8_t id[32];
        tb_alloc_fault_set(n, 1);
        int rc = cfg_genesis_parse((const char *)text, len, "g.json", &g, err);
        if (rc == TB_OK)
            rc = cfg_genesis_chain_id(&g, id);
        tb_alloc_fault_reset();
        cfg_genesis_release(&g);
        if (rc == TB_OK)
            break;
        if (rc != TB_ENOMEM)
            fail_msg("allocation %ld failed: %d %s", n, rc, err);
        assert_true(n < 99);
    }
    /* The writer too: a failed append frees the buffer and reports TB_ENOMEM. */
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "";
    assert_int_equal(cfg_genesis_parse((const char *)text, len, "g.json", &g, err), TB_OK);
    for (long n = 0; n < 100; n++) {
        struct tb_buf out;
        tb_buf_init(&out, 1 << 20);
        tb_alloc_fault_set(n, 1);
        int rc = cfg_genesis_to_json(&g, &out);
        tb_alloc_fault_reset();
        tb_buf_release(&out);
        if (rc == TB_OK)
            break;
        assert_int_equal(rc, TB_ENOMEM);
        assert_true(n < 99);
    }
    cfg_genesis_release(&g);
    tb_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ed25519_vector_loads_and_pins_chain_id),
        cmocka_unit_test(sm2_vector_loads_and_pins_chain_id),
        cmocka_unit_test(order_in_file_does_not_change_chain_id),
        cmocka_unit_test(json_round_trip_is_identical),
        cmocka_unit_test(stable_layout_of_written_file),
        cmocka_unit_test(genesis_errors_name_file_and_path),
        cmocka_unit_test(genesis_errors_members),
        cmocka_unit_test(genesis_errors_types_and_header),
        cmocka_unit_test(genesis_errors_json_syntax),
        cmocka_unit_test(member_count_limits),
        cmocka_unit_test(build_matches_parse),
        cmocka_unit_test(member_descriptor_round_trip),
        cmocka_unit_test(load_errors),
        cmocka_unit_test(allocation_failures_are_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
