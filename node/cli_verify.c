/*
 * `tongban verify`: checks a record's proof bundle (node/proof.h, docs/proofs.md) against a
 * genesis the user trusts, and says what it is in one line: "verdict: reason".
 *
 *   tongban verify --offline BUNDLE --genesis GENESIS [--max-age S]
 *   tongban verify --node URL ID [--genesis GENESIS] [--max-age S]
 *
 * --offline never touches the network. --node fetches URL/v1/records/ID/proof and checks the
 * answer exactly as --offline checks a file: the node is not trusted, only the genesis is.
 * The exit status is 0 only for valid, and distinct for every other verdict (the table is in
 * --help and docs/proofs.md); 1 is an operational failure, 2 a usage error.
 *
 * Must never: trust the node it asks (everything goes through proof_verify_json), or read a
 * bundle or answer without a bound.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "genesis.h"
#include "proof.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define VERIFY_MAX_AGE_S_MAX UINT64_C(3153600000) /* 100 years */

static void verify_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tongban verify --offline BUNDLE --genesis GENESIS [--max-age S] [--json]\n"
        "       tongban verify --node URL ID [--genesis GENESIS] [--max-age S] [--json]\n"
        "\n"
        "Checks a record's proof bundle against the federation's genesis file, which is the\n"
        "only thing trusted: the header's commit certificate (more than two thirds of the\n"
        "genesis validators), the record's log inclusion path and status proof, the agency\n"
        "key's registration by the city's node key and its status, and the record's signature.\n"
        "Prints one line, \"verdict: reason\" (docs/proofs.md).\n"
        "\n"
        "  --offline BUNDLE   a bundle file (GET /v1/records/ID/proof or /credential); no network\n"
        "  --node URL ID      fetch URL/v1/records/ID/proof and check the answer the same way\n"
        "  --genesis GENESIS  the genesis file (default: ./genesis.json, or the genesis named by\n"
        "                     ./node.ini, as `tongban init` leaves them in a node's directory)\n"
        "  --max-age S        also refuse (stale) a bundle whose header is more than S seconds\n"
        "                     older than this machine's clock\n"
        "  --json             print the full result as JSON instead of the one line\n"
        "\n"
        "exit status:\n"
        "  0  valid            the record is on the ledger, valid at the bundle's header\n"
        "  3  revoked          its status at the header is revoked\n"
        "  4  expired          expires_at is at or before the header's time\n"
        "  5  unknown_issuer   the signer is not a registered agency of the record's city\n"
        "  6  bad_signature    a signature does not verify (or another federation's bundle)\n"
        "  7  not_on_ledger    the proofs show the record absent (or the node does not know it)\n"
        "  8  stale            the header is older than --max-age\n"
        "  9  malformed        the bundle does not decode\n"
        "  1  failure          an unreadable file, an unreachable node\n"
        "  2  usage error\n");
}

struct verify_args
{
    const char *offline, *node, *id, *genesis;
    bool has_max_age, json;
    uint64_t max_age_s;
};

static int verify_parse(int argc, char **argv, struct verify_args *a)
{
    static const struct option options[] = {
        {"offline", required_argument, NULL, 'o'},
        {"node", required_argument, NULL, 'n'},
        {"genesis", required_argument, NULL, 'g'},
        {"max-age", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            a->offline = optarg;
            break;
        case 'n':
            a->node = optarg;
            break;
        case 'g':
            a->genesis = optarg;
            break;
        case 'm':
            if (cli_parse_u64(optarg, &a->max_age_s) != TB_OK ||
                a->max_age_s > VERIFY_MAX_AGE_S_MAX)
                return cli_usage_error("verify", "--max-age takes seconds, 0..%" PRIu64,
                                       VERIFY_MAX_AGE_S_MAX);
            a->has_max_age = true;
            break;
        case 'j':
            a->json = true;
            break;
        case 'h':
            verify_usage(stdout);
            return -1;
        default:
            return cli_usage_error("verify", "unknown option");
        }
    }
    if (a->node != NULL && optind < argc)
        a->id = argv[optind++];
    if (optind != argc)
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
    if ((a->offline == NULL) == (a->node == NULL))
        return cli_usage_error("verify", "give exactly one of --offline BUNDLE and --node URL ID");
    if (a->node != NULL &&
        (a->id == NULL || strlen(a->id) != 64 || strspn(a->id, "0123456789abcdef") != 64))
        return cli_usage_error("verify", "--node URL needs a record ID (64 lowercase hex digits)");
    return CLI_EXIT_OK;
}

/* The genesis path: --genesis, else ./genesis.json, else node.genesis of ./node.ini. */
static int verify_genesis_path(const char *given, char *out, size_t size, char *errmsg)
{
    struct stat sb;
    if (given != NULL) {
        snprintf(out, size, "%s", given);
        return TB_OK;
    }
    if (stat("genesis.json", &sb) == 0) {
        snprintf(out, size, "genesis.json");
        return TB_OK;
    }
    if (stat("node.ini", &sb) != 0)
        return tb_fail(errmsg, TB_EINVAL, "no --genesis, and no genesis.json or node.ini here");
    struct cfg_config *cfg = tb_calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    int rv = cfg_config_load("node.ini", cfg, errmsg);
    if (rv == TB_OK && snprintf(out, size, "%s", cfg->node.genesis) >= (int)size)
        rv = tb_fail(errmsg, TB_ELIMIT, "node.ini: genesis path too long");
    tb_free(cfg);
    return rv;
}

/* The whole file, at most PROOF_JSON_MAX bytes. */
static int verify_read_file(const char *path, struct tb_buf *out, char *errmsg)
{
    uint8_t chunk[4096];
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return tb_fail(errmsg, TB_EIO, "%s: %s", path, strerror(errno));
    int rv = TB_OK;
    size_t n;
    while (rv == TB_OK && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        rv = tb_buf_append(out, chunk, n);
    if (rv == TB_OK && ferror(fp))
        rv = tb_fail(errmsg, TB_EIO, "%s: read error", path);
    else if (rv == TB_ELIMIT)
        rv = tb_fail(errmsg, rv, "%s: larger than %u bytes: not a bundle", path, PROOF_JSON_MAX);
    else if (rv != TB_OK)
        rv = tb_fail(errmsg, rv, "%s: out of memory", path);
    fclose(fp);
    return rv;
}

/* GET URL/v1/records/ID/proof into out. *verdict_only is set for the node's 404 / 409. */
static int verify_fetch(const struct verify_args *a, struct tb_buf *out, const char **node_says,
                        char *errmsg)
{
    char url[CLI_URL_MAX];
    long status = 0;
    *node_says = NULL;
    if (snprintf(url, sizeof(url), "%s/v1/records/%s/proof", a->node, a->id) >= (int)sizeof(url))
        return tb_fail(errmsg, TB_EINVAL, "node URL too long");
    int rv = cli_http_request("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, out, errmsg);
    if (rv != TB_OK)
        return rv;
    if (status == 404)
        *node_says = "the node knows no committed record with this id (HTTP 404; unverified)";
    else if (status == 409)
        *node_says = "the record is pending at the node, not committed yet (HTTP 409)";
    else if (status != 200)
        return tb_fail(errmsg, TB_EIO, "%s: HTTP %ld", url, status);
    return TB_OK;
}

static void verify_print(const struct verify_args *a, const struct proof_result *r)
{
    if (a->json) {
        struct tb_buf text;
        tb_buf_init(&text, 64u * 1024u);
        if (proof_result_to_json(r, &text) == TB_OK)
            printf("%.*s\n", (int)text.len, (const char *)text.data);
        tb_buf_release(&text);
        return;
    }
    printf("%s: %s\n", proof_verdict_name(r->verdict), r->reasons[0]);
}

static uint64_t verify_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int verify_run(const struct verify_args *a, struct tb_buf *text, struct proof_result *r)
{
    char errmsg[TB_ERRMSG_SIZE] = "", path[CFG_PATH_MAX];
    struct cfg_genesis g = {0};
    const char *node_says = NULL;
    int rv = verify_genesis_path(a->genesis, path, sizeof(path), errmsg);
    if (rv == TB_OK)
        rv = cfg_genesis_load(path, &g, errmsg);
    if (rv != TB_OK)
        return cli_fail("verify", "genesis: %s", errmsg);
    if (a->offline != NULL)
        rv = verify_read_file(a->offline, text, errmsg);
    else
        rv = verify_fetch(a, text, &node_says, errmsg);
    if (rv != TB_OK) {
        cfg_genesis_release(&g);
        return cli_fail("verify", "%s", errmsg);
    }
    struct proof_verify_opts o = {
        .now_ms = verify_now_ms(), .has_max_age = a->has_max_age, .max_age_s = a->max_age_s};
    if (node_says != NULL) {
        memset(r, 0, sizeof(*r));
        r->verdict = PROOF_NOT_ON_LEDGER;
        r->reason_count = 1;
        snprintf(r->reasons[0], sizeof(r->reasons[0]), "%s", node_says);
    } else {
        rv = proof_verify_json(&g, (const char *)text->data, text->len, &o, r);
    }
    cfg_genesis_release(&g);
    if (rv != TB_OK)
        return cli_fail("verify", "%s: %s", tb_strerror(rv), r->reasons[0]);
    verify_print(a, r);
    return proof_verdict_exit_status(r->verdict);
}

int cli_verify(int argc, char **argv)
{
    struct verify_args a;
    int rv = verify_parse(argc, argv, &a);
    if (rv < 0)
        return CLI_EXIT_OK; /* --help */
    if (rv != CLI_EXIT_OK)
        return rv;
    struct tb_buf text;
    struct proof_result *r = tb_calloc(1, sizeof(*r));
    if (r == NULL)
        return cli_fail("verify", "out of memory");
    tb_buf_init(&text, a.offline != NULL ? PROOF_JSON_MAX : CLI_HTTP_RESPONSE_MAX);
    rv = verify_run(&a, &text, r);
    tb_buf_release(&text);
    tb_free(r);
    return rv;
}
