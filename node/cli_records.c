/*
 * `tongban records`: lists a subject's records (GET /v1/subjects/{subject}/records) as an
 * agency, with the request signed by the agency's key (docs/authentication.md), and the
 * subject helper every agency command shares (cli_subject_from_args, cli.h).
 *
 * A citizen's ID number only ever becomes the keyed subject (DESIGN 3.3) here, in memory,
 * exactly as `tongban issue` does: the number is wiped (argv included) once the subject is
 * computed, and only the subject's hex goes over the wire.
 *
 * Must never: send, print or log an ID number, or send a request unsigned.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cr_sign.h"
#include "tb_assert.h"
#include "tb_buf.h"
#include "tb_hex.h"

/* ---- the keyed subject ---- */

int cli_subject_from_args(char *id_number, const char *subject_key_path, const char *subject_hex,
                          enum cr_suite suite, uint8_t out[CR_HASH_BYTES], char *errmsg)
{
    uint8_t key[32];
    char line[64] = "";
    const char *id = id_number;
    if (subject_hex != NULL) {
        if (strlen(subject_hex) != 2 * CR_HASH_BYTES ||
            tb_hex_decode(subject_hex, strlen(subject_hex), out, CR_HASH_BYTES) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "--subject: expected 64 hex digits");
        return TB_OK;
    }
    TB_ASSERT(id_number != NULL);
    if (subject_key_path == NULL) {
        tb_wipe(id_number, strlen(id_number));
        return tb_fail(errmsg, TB_EINVAL, "--id-number needs --subject-key FILE");
    }
    int rv = cli_read_exact(subject_key_path, key, sizeof(key), errmsg);
    if (rv == TB_OK && strcmp(id_number, "-") == 0) {
        if (fgets(line, sizeof(line), stdin) == NULL)
            rv = tb_fail(errmsg, TB_EINVAL, "--id-number -: nothing on standard input");
        line[strcspn(line, "\r\n")] = '\0';
        id = line;
    }
    if (rv == TB_OK)
        rv = cr_subject(suite, key, id, out, errmsg);
    tb_wipe(key, sizeof(key));
    tb_wipe(line, sizeof(line));
    /* The argv copy too, so that the number is not left in /proc/PID/cmdline or memory. */
    tb_wipe(id_number, strlen(id_number));
    return rv;
}

/* ---- records ---- */

static void records_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban records --node URL --key AGENCY_KEY --city CITY --agency AGENCY\n"
            "                       (--id-number N --subject-key FILE | --subject HEX)\n"
            "                       [--type TYPE] [--limit N] [--after RECORD_ID]\n"
            "                       [--passphrase-file F]\n"
            "\n"
            "Lists a subject's records on the city's node (GET /v1/subjects/{subject}/records)\n"
            "as an agency: the request is signed here with the agency's key (RFC 9421, see\n"
            "docs/authentication.md). Prints the node's JSON answer (ids, types, statuses;\n"
            "`next` pages on with --after). The ID number is turned into the keyed subject in\n"
            "memory and wiped: it never leaves this process.\n"
            "\n"
            "  --node URL          the city's node, e.g. http://127.0.0.1:7480\n"
            "  --key FILE          the agency's private key (PEM; alias --agency-key)\n"
            "  --passphrase-file F the key's passphrase, if it is encrypted\n"
            "  --city, --agency    the city and agency codes the key is registered to\n"
            "  --id-number N       the citizen's ID number ('-' reads it from standard input)\n"
            "  --subject-key FILE  the federation's subject key (32 bytes)\n"
            "  --subject HEX       an already keyed subject (64 hex digits)\n"
            "  --type TYPE         only records of this type\n"
            "  --limit N           records per page, 1..100 (the node's default: 50)\n"
            "  --after RECORD_ID   the page after this record (the previous page's `next`)\n");
}

struct records_args
{
    const char *node, *key_path, *pass_path, *city, *agency;
    char *id_number; /* argv string: wiped once used */
    const char *subject_key_path, *subject_hex, *type, *limit, *after;
};

static int records_parse_args(int argc, char **argv, struct records_args *a)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},
        {"agency-key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"id-number", required_argument, NULL, 'i'},
        {"subject-key", required_argument, NULL, 'K'},
        {"subject", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'l'},
        {"after", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'n', &a->node},        {'k', &a->key_path}, {'p', &a->pass_path},
        {'c', &a->city},        {'a', &a->agency},   {'K', &a->subject_key_path},
        {'s', &a->subject_hex}, {'t', &a->type},     {'l', &a->limit},
        {'A', &a->after},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_str_opt_set(strings, sizeof(strings) / sizeof(strings[0]), opt, optarg))
            continue;
        if (opt == 'i') {
            a->id_number = optarg;
        } else if (opt == 'h') {
            records_usage(stdout);
            return -1;
        } else {
            return cli_usage_error("records", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("records", "unexpected argument '%s'", argv[optind]);
    if (!a->node || !a->key_path || !a->city || !a->agency)
        return cli_usage_error("records", "--node, --key, --city and --agency are required");
    if ((a->id_number != NULL) == (a->subject_hex != NULL))
        return cli_usage_error("records", "give exactly one of --id-number and --subject");
    if (a->id_number != NULL && a->subject_key_path == NULL)
        return cli_usage_error("records", "--id-number needs --subject-key FILE");
    return CLI_EXIT_OK;
}

/* Appends "&name=value" (or "?name=value" first) for a value of safe characters only. */
static int records_query_add(char *url, size_t size, const char *name, const char *value,
                             char *errmsg)
{
    if (value == NULL)
        return TB_OK;
    for (const char *p = value; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              strchr("._-", *p) != NULL))
            return tb_fail(errmsg, TB_EINVAL, "--%s '%s': unexpected character", name, value);
    }
    size_t n = strlen(url);
    int w = snprintf(url + n, size - n, "%c%s=%s", strchr(url, '?') ? '&' : '?', name, value);
    if (w < 0 || (size_t)w >= size - n)
        return tb_fail(errmsg, TB_EINVAL, "request URL too long");
    return TB_OK;
}

static int records_url(const struct records_args *a, const uint8_t subject[CR_HASH_BYTES],
                       char url[CLI_URL_MAX], char *errmsg)
{
    char hex[2 * CR_HASH_BYTES + 1];
    size_t nl = strlen(a->node);
    while (nl > 0 && a->node[nl - 1] == '/')
        nl--;
    tb_hex_encode(subject, CR_HASH_BYTES, hex);
    int w = snprintf(url, CLI_URL_MAX, "%.*s/v1/subjects/%s/records", (int)nl, a->node, hex);
    if (w < 0 || w >= CLI_URL_MAX)
        return tb_fail(errmsg, TB_EINVAL, "--node URL too long");
    int rv = records_query_add(url, CLI_URL_MAX, "type", a->type, errmsg);
    if (rv == TB_OK)
        rv = records_query_add(url, CLI_URL_MAX, "limit", a->limit, errmsg);
    if (rv == TB_OK)
        rv = records_query_add(url, CLI_URL_MAX, "after", a->after, errmsg);
    return rv;
}

/* Signs and sends the request; prints the answer. */
static int records_run(struct records_args *a, struct cr_key *key, char *errmsg)
{
    struct cli_chain chain;
    uint8_t subject[CR_HASH_BYTES];
    char url[CLI_URL_MAX];
    json_t *doc = NULL;
    long status = 0;
    int rv = cli_chain_from_node(a->node, &chain, errmsg);
    if (rv == TB_OK)
        rv = cli_subject_from_args(a->id_number, a->subject_key_path, a->subject_hex, chain.suite,
                                   subject, errmsg);
    if (rv == TB_OK)
        rv = records_url(a, subject, url, errmsg);
    tb_wipe(subject, sizeof(subject));
    if (rv != TB_OK)
        return rv;
    struct cli_agency_signer signer = {.key = key, .city = a->city, .agency = a->agency};
    rv = cli_http_signed_json(&signer, "GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status,
                              &doc, errmsg);
    if (rv == TB_OK && status != 200)
        rv = TB_EAUTH; /* errmsg holds "HTTP 401: code: message" */
    if (rv == TB_OK) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (text == NULL)
            rv = tb_fail(errmsg, TB_ENOMEM, "cannot print the answer");
        else
            printf("%s\n", text);
        free(text);
    }
    json_decref(doc);
    return rv;
}

int cli_records(int argc, char **argv)
{
    struct records_args a = {0};
    struct cr_key *key = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = records_parse_args(argc, argv, &a);
    if (rv != CLI_EXIT_OK) {
        if (a.id_number != NULL)
            tb_wipe(a.id_number, strlen(a.id_number));
        return rv < 0 ? CLI_EXIT_OK : rv;
    }
    rv = cli_load_key(a.key_path, a.pass_path, &key, errmsg);
    if (rv == TB_OK)
        rv = records_run(&a, key, errmsg);
    if (a.id_number != NULL)
        tb_wipe(a.id_number, strlen(a.id_number));
    cr_key_free(key);
    if (rv != TB_OK)
        return cli_fail("records", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}
