/*
 * config/config.c: the node's INI file. Good files, every error message (file, line,
 * key), path resolution, the writer's round trip, and the number parser against a naive
 * reference on random input.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "genesis.h"
#include "t_util.h"
#include "tb_alloc.h"

#define REQUIRED                 \
    "[node]\n"                   \
    "city = LC\n"                \
    "data_dir = data\n"          \
    "key_file = keys/node.key\n" \
    "genesis = genesis.json\n"   \
    "subject_key_file = /etc/tongban/subject.key\n"

static int parse(const char *text, struct cfg_config *cfg, char *err)
{
    return cfg_config_parse(text, strlen(text), "node.ini", "/srv/tb", cfg, err);
}

static void minimal_file_gets_defaults_and_resolved_paths(void **state)
{
    struct cfg_config cfg;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(parse(REQUIRED, &cfg, err), TB_OK);
    assert_string_equal(cfg.node.city, "LC");
    assert_string_equal(cfg.node.name, "LC"); /* default: the city code */
    assert_string_equal(cfg.node.data_dir, "/srv/tb/data");
    assert_string_equal(cfg.node.key_file, "/srv/tb/keys/node.key");
    assert_string_equal(cfg.node.genesis, "/srv/tb/genesis.json");
    assert_string_equal(cfg.node.subject_key_file, "/etc/tongban/subject.key");
    assert_string_equal(cfg.node.document_key_file, "/srv/tb/document.key");
    assert_string_equal(cfg.node.key_passphrase_file, "");
    assert_int_equal(cfg.node.log_format, CFG_LOG_LOGFMT);
    assert_int_equal(cfg.node.log_level, CFG_LOG_INFO);
    assert_string_equal(cfg.api.listen_host, "127.0.0.1");
    assert_int_equal(cfg.api.listen_port, 7480);
    assert_int_equal(cfg.api.max_body_bytes, 8u << 20);
    assert_int_equal(cfg.api.max_header_bytes, 16384);
    assert_int_equal(cfg.api.timeout_ms, 30000);
    assert_int_equal(cfg.api.max_connections, 256);
    assert_true(cfg.peer.tls);
    assert_string_equal(cfg.peer.tls_key_file, "/srv/tb/tls.key");
    assert_string_equal(cfg.peer.tls_cert_file, "/srv/tb/tls.crt");
    assert_int_equal(cfg.peer.request_timeout_ms, 5000);
    assert_int_equal(cfg.consensus.timeout_propose_ms, 3000);
    assert_int_equal(cfg.consensus.timeout_prevote_ms, 1000);
    assert_int_equal(cfg.consensus.timeout_precommit_ms, 1000);
    assert_int_equal(cfg.consensus.timeout_delta_ms, 500);
    assert_int_equal(cfg.consensus.block_txs_max, 2000);
    assert_int_equal(cfg.consensus.block_bytes_max, 4u << 20);
    assert_int_equal(cfg.consensus.block_interval_ms, 1000);
    assert_int_equal(cfg.consensus.clock_skew_max_ms, 5000);
    assert_int_equal(cfg.storage.map_size_mb, 10240);
}

static void full_file_sets_every_key(void **state)
{
    static const char text[] =
        "; a comment\n"
        "# another\n"
        "[node]\r\n"
        "city = QD\n"
        "  name = 青岛 ; indented lines are keys, not continuations\n"
        "data_dir = /var/lib/tongban/./qd/\n"
        "key_file = ../keys//node.key\n"
        "key_passphrase_file = pass.txt\n"
        "genesis = a/b/../../genesis.json\n"
        "subject_key_file = subject.key\n"
        "document_key_file = /var/lib/tongban/document.key\n"
        "log_format = json\n"
        "log_level = debug\n"
        "[api]\n"
        "listen = [::1]:8080\n"
        "max_body_bytes = 67108864\n"
        "max_header_bytes = 1024\n"
        "timeout_ms = 100\n"
        "max_connections = 1\n"
        "[peer]\n"
        "tls = off\n"
        "tls_key_file = /k\n"
        "tls_cert_file = /c\n"
        "request_timeout_ms = 600000\n"
        "[consensus]\n"
        "timeout_propose_ms = 10\n"
        "timeout_prevote_ms = 20\n"
        "timeout_precommit_ms = 30\n"
        "timeout_delta_ms = 0\n"
        "block_txs_max = 1\n"
        "block_bytes_max = 8388608\n"
        "block_interval_ms = 10\n"
        "clock_skew_max_ms = 100\n"
        "[storage]\n"
        "map_size_mb = 16777216\n";
    struct cfg_config cfg;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(parse(text, &cfg, err), TB_OK);
    assert_string_equal(cfg.node.name, "青岛");
    assert_string_equal(cfg.node.data_dir, "/var/lib/tongban/qd");
    assert_string_equal(cfg.node.key_file, "/srv/keys/node.key");
    assert_string_equal(cfg.node.key_passphrase_file, "/srv/tb/pass.txt");
    assert_string_equal(cfg.node.genesis, "/srv/tb/genesis.json");
    assert_string_equal(cfg.node.document_key_file, "/var/lib/tongban/document.key");
    assert_int_equal(cfg.node.log_format, CFG_LOG_JSON);
    assert_int_equal(cfg.node.log_level, CFG_LOG_DEBUG);
    assert_string_equal(cfg.api.listen_host, "::1");
    assert_int_equal(cfg.api.listen_port, 8080);
    assert_int_equal(cfg.api.max_body_bytes, 64u << 20);
    assert_false(cfg.peer.tls);
    assert_int_equal(cfg.peer.request_timeout_ms, 600000);
    assert_int_equal(cfg.consensus.timeout_precommit_ms, 30);
    assert_int_equal(cfg.consensus.block_bytes_max, 8u << 20);
    assert_int_equal(cfg.storage.map_size_mb, 16u << 20);
}

struct bad_case
{
    const char *text;
    const char *msg;
};

static void expect_refused(const char *text, int want_rc, const char *want)
{
    struct cfg_config cfg;
    char err[TB_ERRMSG_SIZE] = "";
    int rc = parse(text, &cfg, err);
    if (rc != want_rc || strcmp(err, want) != 0)
        fail_msg("input:\n%s\n  got %d \"%s\"\n want %d \"%s\"", text, rc, err, want_rc, want);
}

static void errors_name_file_line_and_key(void **state)
{
    static const struct bad_case cases[] = {
        {REQUIRED "[api]\nmax_body = 5\n", "node.ini:8: [api] max_body: unknown key"},
        {REQUIRED "[apii]\nlisten = 127.0.0.1:1\n", "node.ini:8: [apii]: unknown section"},
        {"city = LC\n", "node.ini:1: city: key outside any [section]"},
        {REQUIRED "city = JN\n", "node.ini:7: [node] city: duplicate key (first set on line 2)"},
        {REQUIRED "[api]\nmax_body_bytes = 12x\n",
         "node.ini:8: [api] max_body_bytes: expected a decimal number, found 'x'"},
        {REQUIRED "[api]\nmax_body_bytes = -1\n",
         "node.ini:8: [api] max_body_bytes: expected a decimal number, found '-'"},
        {REQUIRED "[api]\nmax_body_bytes = +2048\n",
         "node.ini:8: [api] max_body_bytes: expected a decimal number, found '+'"},
        {REQUIRED "[api]\nmax_body_bytes = 0x400\n",
         "node.ini:8: [api] max_body_bytes: leading zero in number"},
        {REQUIRED "[api]\nmax_body_bytes = 2 048\n",
         "node.ini:8: [api] max_body_bytes: expected a decimal number, found '?'"},
        {REQUIRED "[api]\nmax_body_bytes = 18446744073709551616\n",
         "node.ini:8: [api] max_body_bytes: number too large"},
        {REQUIRED "[api]\nmax_body_bytes = 10\n",
         "node.ini:8: [api] max_body_bytes: 10 is out of range 1024..67108864"},
        {REQUIRED "[api]\ntimeout_ms = 4294967296\n",
         "node.ini:8: [api] timeout_ms: 4294967296 is out of range 100..600000"},
        {REQUIRED "[api]\nmax_connections =\n",
         "node.ini:8: [api] max_connections: expected a number"},
        {REQUIRED "log_format = xml\n", "node.ini:7: [node] log_format: expected logfmt or json"},
        {REQUIRED "log_level = trace\n",
         "node.ini:7: [node] log_level: expected debug, info, warn or error"},
        {REQUIRED "[api]\nlisten = localhost\n", "node.ini:8: [api] listen: expected HOST:PORT"},
        {REQUIRED "[api]\nlisten = localhost:0\n",
         "node.ini:8: [api] listen: port must be 1..65535"},
        {REQUIRED "[api]\nlisten = localhost:65536\n",
         "node.ini:8: [api] listen: port must be 1..65535"},
        {REQUIRED "[api]\nlisten = ::1:80\n", "node.ini:8: [api] listen: bad host"},
        {REQUIRED "[peer]\ntls = yes\n", "node.ini:8: [peer] tls: expected on or off"},
        {REQUIRED "[api]\nlisten = 0.0.0.0:7480\n[peer]\ntls = off\n",
         "node.ini:10: [peer] tls: off is allowed only when [api] listen is a loopback address, "
         "not 0.0.0.0"},
        {REQUIRED "[api]\nlisten = 127.0.0.01:7480\n[peer]\ntls = off\n",
         "node.ini:10: [peer] tls: off is allowed only when [api] listen is a loopback address, "
         "not 127.0.0.01"},
        {REQUIRED "document_key_file = data/keys/doc.key\n",
         "node.ini:7: [node] document_key_file: must not be inside data_dir: a copy of the data "
         "directory must not carry the key that opens its documents"},
        {"[node]\ncity = LC\ndata_dir = .\nkey_file = k\ngenesis = g\nsubject_key_file = s\n",
         "node.ini:3: [node] document_key_file: must not be inside data_dir: a copy of the data "
         "directory must not carry the key that opens its documents"},
        {REQUIRED "[consensus]\nblock_bytes_max = 8388608\n",
         "node.ini:8: [consensus] block_bytes_max: 8388608 must be below [api] max_body_bytes "
         "(8388608): a proposal carries a whole block"},
        {"[node]\ncity = LC\nkey_file = k\ngenesis = g\nsubject_key_file = s\n",
         "node.ini: [node] data_dir: required key missing"},
        {"", "node.ini: [node] city: required key missing"},
        {REQUIRED "[api\n", "node.ini:7: syntax error: expected [section] or key = value"},
        {REQUIRED "[api] listen = 0.0.0.0:1\n", "node.ini:7: text after ] in a section header"},
        {REQUIRED "just some words\n",
         "node.ini:7: syntax error: expected [section] or key = value"},
        {REQUIRED "city = L C\n[api]\n",
         "node.ini:7: [node] city: duplicate key (first set on line 2)"},
        {"[node]\ncity = L C\n",
         "node.ini:2: [node] city: city code may contain only 0-9 A-Z a-z _ -, found byte 0x20 "
         "at 1"},
        {"[node]\ncity =\n", "node.ini:2: [node] city: city code must be 1..16 characters, got 0"},
        {"[node]\nname = \xff\xfe\n", "node.ini:2: [node] name: not valid UTF-8"},
        {"[node]\nkey_file = a\tb\n", "node.ini:2: [node] key_file: control character in path"},
        {"[node]\ncity = LC\n[api]\nmax_body_bytes = 1024 ; inline comments are fine\n"
         "bogus = 1\n",
         "node.ini:5: [api] bogus: unknown key"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refused(cases[i].text, TB_ECONFIG, cases[i].msg);
}

static void bounded_lines_and_bytes(void **state)
{
    char text[CFG_CONFIG_FILE_MAX + 2];
    struct cfg_config cfg;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    /* A line of exactly CFG_LINE_MAX bytes is fine, one more is not. */
    int n = snprintf(text, sizeof(text), REQUIRED "name = ");
    memset(text + n, 'a', (size_t)(CFG_LINE_MAX - 7));
    text[n + CFG_LINE_MAX - 7] = '\0';
    expect_refused(text, TB_ECONFIG, "node.ini:7: [node] name: must be 1..64 bytes, got 183");
    memset(text + n, 'a', (size_t)(CFG_LINE_MAX - 6));
    text[n + CFG_LINE_MAX - 6] = '\0';
    expect_refused(text, TB_ECONFIG, "node.ini:7: line longer than 190 bytes");
    /* NUL bytes are refused with their line, not taken for the end of the text. */
    static const char nul[] = REQUIRED "log_level = info\0junk\n";
    assert_int_equal(cfg_config_parse(nul, sizeof(nul) - 1, "node.ini", "/srv", &cfg, err),
                     TB_ECONFIG);
    assert_string_equal(err, "node.ini:7: NUL byte in line");
    /* Whole-file limit. */
    memset(text, '#', sizeof(text));
    assert_int_equal(cfg_config_parse(text, CFG_CONFIG_FILE_MAX + 1, "node.ini", "/srv", &cfg, err),
                     TB_ELIMIT);
    assert_string_equal(err, "node.ini: larger than 65536 bytes");
    assert_int_equal(cfg_config_parse(REQUIRED, strlen(REQUIRED), "node.ini", "srv", &cfg, err),
                     TB_EINVAL);
}

static void loopback_tls_off_is_allowed(void **state)
{
    const char *hosts[] = {"127.0.0.1:1", "127.255.0.9:7480", "[::1]:7480", "localhost:80"};
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        char text[512];
        struct cfg_config cfg;
        char err[TB_ERRMSG_SIZE] = "";
        snprintf(text, sizeof(text), REQUIRED "[api]\nlisten = %s\n[peer]\ntls = off\n", hosts[i]);
        if (parse(text, &cfg, err) != TB_OK)
            fail_msg("%s: %s", hosts[i], err);
        assert_false(cfg.peer.tls);
    }
}

static void write_then_parse_round_trips(void **state)
{
    struct cfg_config a, b;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(
        parse(REQUIRED "name = 聊城\n[api]\nlisten = [fd00::1]:9000\n[peer]\ntls = on\n", &a, err),
        TB_OK);
    a.consensus.timeout_delta_ms = 0;
    a.storage.map_size_mb = 16;
    a.node.log_level = CFG_LOG_ERROR;
    tb_buf_init(&out, 1 << 16);
    assert_int_equal(cfg_config_write(&a, &out), TB_OK);
    assert_int_equal(
        cfg_config_parse((const char *)out.data, out.len, "w.ini", "/elsewhere", &b, err), TB_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* The defaults file (required keys commented out) is complete but not yet usable. */
    cfg_config_defaults(&a);
    tb_buf_reset(&out);
    assert_int_equal(cfg_config_write(&a, &out), TB_OK);
    assert_non_null(memmem(out.data, out.len, "\n# city =\n", 10));
    assert_non_null(memmem(out.data, out.len, "\nlisten = 127.0.0.1:7480\n", 25));
    assert_int_equal(cfg_config_parse((const char *)out.data, out.len, "w.ini", "/x", &b, err),
                     TB_ECONFIG);
    assert_string_equal(err, "w.ini: [node] city: required key missing");
    /* A value inih could not read back is refused rather than written wrong. */
    snprintf(a.node.data_dir, sizeof(a.node.data_dir), "/data ; x");
    tb_buf_reset(&out);
    assert_int_equal(cfg_config_write(&a, &out), TB_EINVAL);
    tb_buf_release(&out);
}

static void load_resolves_against_file_directory(void **state)
{
    char path[512], want[600], err[TB_ERRMSG_SIZE] = "";
    struct cfg_config cfg;
    (void)state;
    char *dir = t_tmpdir("cfg-ini");
    snprintf(path, sizeof(path), "%s/node.ini", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(REQUIRED, f);
    fclose(f);
    assert_int_equal(cfg_config_load(path, &cfg, err), TB_OK);
    snprintf(want, sizeof(want), "%s/data", dir);
    assert_string_equal(cfg.node.data_dir, want);
    f = fopen(path, "ab");
    assert_non_null(f);
    fputs("[storage]\nmap_size_mb = 1\n", f);
    fclose(f);
    assert_int_equal(cfg_config_load(path, &cfg, err), TB_ECONFIG);
    snprintf(want, sizeof(want), "%s:8: [storage] map_size_mb: 1 is out of range 16..16777216",
             path);
    assert_string_equal(err, want);
    assert_int_equal(cfg_config_load("/nonexistent/node.ini", &cfg, err), TB_EIO);
    t_rmtree(dir);
    /* The checked-in examples parse and agree (ctest runs from the source tree). */
    struct cfg_genesis g;
    assert_int_equal(cfg_config_load("config/examples/node.ini", &cfg, err), TB_OK);
    assert_string_equal(cfg.node.city, "LC");
    assert_string_equal(cfg.node.name, "聊城");
    assert_int_equal(cfg_genesis_load(cfg.node.genesis, &g, err), TB_OK);
    assert_int_equal(cfg_config_check_genesis(&cfg, &g, err), TB_OK);
    cfg_genesis_release(&g);
}

static void config_agrees_with_genesis(void **state)
{
    static const char loop[] =
        "{\"suite\":\"ed25519-sha256\",\"federation\":\"demo\",\"created_at\":0,\"members\":["
        "{\"city\":\"LC\",\"name\":\"聊城\",\"node_key\":"
        "\"e34382abb4e1a9ff6dafbf247f07d1d7f861ff7a74f0861fa2364a8480f5dc71\","
        "\"endpoint\":\"http://127.0.0.1:7481\"},"
        "{\"city\":\"JN\",\"name\":\"济南\",\"node_key\":"
        "\"7b752494ed498aad50aa3fa973154cb3c3655aaa51f0fae9d11a4ee8dcea0893\","
        "\"endpoint\":\"http://[::1]:7482/tb\"}],"
        "\"record_types\":[{\"type\":\"t\",\"sharing\":\"open\"}]}";
    struct cfg_config cfg;
    struct cfg_genesis ed, sm, demo;
    char err[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_int_equal(cfg_genesis_load("tests/vectors/genesis-ed25519.json", &ed, err), TB_OK);
    assert_int_equal(cfg_genesis_load("tests/vectors/genesis-sm2.json", &sm, err), TB_OK);
    assert_int_equal(cfg_genesis_parse(loop, strlen(loop), "demo.json", &demo, err), TB_OK);
    assert_int_equal(parse(REQUIRED, &cfg, err), TB_OK);
    assert_int_equal(cfg_config_check_genesis(&cfg, &sm, err), TB_OK);
    /* The ed25519 vector has one plain http:// member, which TLS peers cannot reach. */
    assert_int_equal(cfg_config_check_genesis(&cfg, &ed, err), TB_ECONFIG);
    assert_string_equal(err,
                        "[peer] tls: on, but member LC has a plain http:// endpoint in "
                        "/srv/tb/genesis.json");
    snprintf(cfg.node.city, sizeof(cfg.node.city), "DZ");
    assert_int_equal(cfg_config_check_genesis(&cfg, &ed, err), TB_ECONFIG);
    assert_string_equal(err,
                        "[node] city: \"DZ\" is not a member of federation \"山东通办联盟\" "
                        "in /srv/tb/genesis.json");
    /* TLS off: every endpoint must be loopback http://. */
    assert_int_equal(parse(REQUIRED "[peer]\ntls = off\n", &cfg, err), TB_OK);
    assert_int_equal(cfg_config_check_genesis(&cfg, &demo, err), TB_OK);
    assert_int_equal(cfg_config_check_genesis(&cfg, &sm, err), TB_ECONFIG);
    assert_int_equal(cfg_config_check_genesis(&cfg, &ed, err), TB_ECONFIG);
    assert_string_equal(err,
                        "[peer] tls: off is allowed only when every member endpoint is "
                        "loopback http://, not JN's in /srv/tb/genesis.json");
    cfg.peer.tls = true;
    assert_int_equal(cfg_config_check_genesis(&cfg, &demo, err), TB_ECONFIG);
    cfg_genesis_release(&ed);
    cfg_genesis_release(&sm);
    cfg_genesis_release(&demo);
}

/* Naive reference: strtoull on digit-only text, with errno for overflow. */
static int naive_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || (len > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    if (len > 20)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static void numbers_agree_with_naive_parser(void **state)
{
    static const char alphabet[] = "0123456789000999 -+x.";
    struct t_rng rng;
    (void)state;
    t_rng_seed(&rng, 7480);
    for (int i = 0; i < 3000; i++) {
        char value[32], text[256];
        size_t len = 1 + (size_t)t_rng_below(&rng, 22);
        for (size_t k = 0; k < len; k++)
            value[k] = alphabet[t_rng_below(&rng, sizeof(alphabet) - 1)];
        value[len] = '\0';
        if (i % 3 == 0) /* plenty of plain numbers near the limits too */
            snprintf(value, sizeof(value), "%llu",
                     (unsigned long long)(t_rng_next(&rng) >> t_rng_below(&rng, 64)));
        snprintf(text, sizeof(text), REQUIRED "[storage]\nmap_size_mb = %s\n", value);
        struct cfg_config cfg;
        char err[TB_ERRMSG_SIZE] = "";
        uint64_t want = 0;
        /* inih trims outer blanks and cuts at " ;": give the reference the same view. */
        char trimmed[32];
        size_t a = 0, b = strlen(value);
        while (a < b && value[a] == ' ')
            a++;
        while (b > a && value[b - 1] == ' ')
            b--;
        memcpy(trimmed, value + a, b - a);
        trimmed[b - a] = '\0';
        int ok = naive_number(trimmed, 16, 16u << 20, &want);
        int rc = parse(text, &cfg, err);
        assert_int_equal(rc == TB_OK, ok);
        if (ok)
            assert_int_equal(cfg.storage.map_size_mb, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_file_gets_defaults_and_resolved_paths),
        cmocka_unit_test(full_file_sets_every_key),
        cmocka_unit_test(errors_name_file_line_and_key),
        cmocka_unit_test(bounded_lines_and_bytes),
        cmocka_unit_test(loopback_tls_off_is_allowed),
        cmocka_unit_test(write_then_parse_round_trips),
        cmocka_unit_test(load_resolves_against_file_directory),
        cmocka_unit_test(config_agrees_with_genesis),
        cmocka_unit_test(numbers_agree_with_naive_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
