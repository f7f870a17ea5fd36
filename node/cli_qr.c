/*
 * `tongban qr ID [--node URL | --chain-id HEX | --genesis FILE] [--invert]`: the citizen
 * credential of record ID (docs/credentials.md) drawn as a QR code in the terminal, followed
 * by its URI on a line of its own ("uri TONGBAN:...").
 *
 * The chain id comes from a node's GET /v1/status, from the command line, or from a genesis
 * file; with --node the record must also be known to that node (GET /v1/records/{id}), so a
 * typo in ID is caught before a citizen is handed a code that resolves to nothing. Without
 * --node nothing touches the network. Must never: print anything about the record beyond its
 * id (the code carries no personal data), or draw a code for a malformed id.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "qr.h"
#include "tb_assert.h"
#include "tb_buf.h"
#include "tb_hex.h"

#define QR_CLI_TERM_BYTES_MAX (64u * 1024u) /* a version-10 code is about 12 KiB of UTF-8 */

static void qr_cli_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban qr RECORD_ID (--node URL | --chain-id HEX | --genesis FILE) "
            "[--invert]\n"
            "\n"
            "Draws the citizen credential of a record as a QR code in the terminal and prints\n"
            "its URI (TONGBAN:<chain prefix>:<record id><check>, docs/credentials.md). Any\n"
            "member node resolves the URI: GET /v1/resolve?uri=URI answers the proof bundle.\n"
            "\n"
            "  --node URL      take the chain id from this node, and check that it knows the\n"
            "                  record (exit 1 if not)\n"
            "  --chain-id HEX  the federation's chain id (64 hex digits; `tongban chain-id`)\n"
            "  --genesis FILE  take the chain id from a genesis file\n"
            "  --invert        draw dark modules as blocks (for a light terminal background)\n");
}

/* Exactly 64 lowercase or uppercase hex digits. */
static int qr_cli_hex32(const char *text, uint8_t out[32])
{
    if (text == NULL || strlen(text) != 64)
        return TB_EINVAL;
    return tb_hex_decode(text, 64, out, 32) == TB_OK ? TB_OK : TB_EINVAL;
}

/* GET /v1/records/{id} on the node: TB_OK when the node knows the record (any status). */
static int qr_cli_record_known(const char *node, const char *id_hex, char *errmsg)
{
    char url[CLI_URL_MAX];
    json_t *doc = NULL;
    long status = 0;
    int n = snprintf(url, sizeof(url), "%s/v1/records/%s", node, id_hex);
    if (n < 0 || (size_t)n >= sizeof(url))
        return tb_fail(errmsg, TB_EINVAL, "node URL too long");
    int rv = cli_http_json("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    json_decref(doc);
    if (rv != TB_OK)
        return rv;
    if (status == 404)
        return tb_fail(errmsg, TB_ENOTFOUND, "the node does not know record %.16s...", id_hex);
    if (status != 200)
        return TB_EIO; /* errmsg holds the node's error */
    return TB_OK;
}

struct qr_cli_args
{
    const char *node, *chain_hex, *genesis, *record;
    unsigned flags;
};

static int qr_cli_parse(int argc, char **argv, struct qr_cli_args *a)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'n'},    {"chain-id", required_argument, NULL, 'c'},
        {"genesis", required_argument, NULL, 'g'}, {"invert", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int opt;
    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'n')
            a->node = optarg;
        else if (opt == 'c')
            a->chain_hex = optarg;
        else if (opt == 'g')
            a->genesis = optarg;
        else if (opt == 'i')
            a->flags |= QR_TERM_INVERT;
        else if (opt == 'h')
            return 1;
        else
            return cli_usage_error("qr", "unknown option");
    }
    if (optind + 1 != argc)
        return cli_usage_error("qr", "expected one RECORD_ID");
    a->record = argv[optind];
    int sources = (a->node != NULL) + (a->chain_hex != NULL) + (a->genesis != NULL);
    if (sources != 1)
        return cli_usage_error("qr", "give exactly one of --node, --chain-id and --genesis");
    return 0;
}

/* The chain id from whichever source the arguments name. */
static int qr_cli_chain(const struct qr_cli_args *a, uint8_t chain_id[32], char *errmsg)
{
    struct cli_chain chain;
    int rv;
    if (a->chain_hex != NULL) {
        if (qr_cli_hex32(a->chain_hex, chain_id) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "--chain-id: expected 64 hex digits");
        return TB_OK;
    }
    if (a->genesis != NULL)
        rv = cli_chain_from_genesis(a->genesis, &chain, errmsg);
    else
        rv = cli_chain_from_node(a->node, &chain, errmsg);
    if (rv == TB_OK)
        memcpy(chain_id, chain.chain_id, 32);
    return rv;
}

int cli_qr(int argc, char **argv)
{
    struct qr_cli_args a;
    uint8_t chain_id[QR_CHAIN_ID_BYTES], record_id[QR_RECORD_ID_BYTES];
    char uri[QR_URI_SIZE], id_hex[65];
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct tb_buf term;
    _Static_assert(CR_HASH_BYTES == QR_CHAIN_ID_BYTES, "a chain id is one hash");

    int rv = qr_cli_parse(argc, argv, &a);
    if (rv == 1) {
        qr_cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (rv != 0)
        return rv;
    if (qr_cli_hex32(a.record, record_id) != TB_OK)
        return cli_usage_error("qr", "RECORD_ID: expected 64 hex digits");
    tb_hex_encode(record_id, sizeof(record_id), id_hex);
    if (qr_cli_chain(&a, chain_id, errmsg) != TB_OK)
        return cli_fail("qr", "chain id: %s", errmsg);
    if (a.node != NULL && qr_cli_record_known(a.node, id_hex, errmsg) != TB_OK)
        return cli_fail("qr", "record: %s", errmsg);
    qr_uri_encode(chain_id, record_id, uri);
    TB_ASSERT(strlen(uri) == QR_URI_LEN);
    tb_buf_init(&term, QR_CLI_TERM_BYTES_MAX);
    rv = qr_terminal(uri, a.flags, &term, errmsg);
    if (rv != TB_OK) {
        tb_buf_release(&term);
        return cli_fail("qr", "drawing the code: %s", errmsg);
    }
    fwrite(term.data, 1, term.len, stdout);
    printf("uri %s\n", uri);
    tb_buf_release(&term);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_fail("qr", "writing to stdout failed");
}
