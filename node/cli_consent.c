/*
 * `tongban consent`: an agency of the citizen's home city signs a consent token (DESIGN 3.8,
 * D13) on its own machine with its own key: subject, grantee city/agency, record types,
 * purpose, expiry and a use limit. The token goes to the grantee, who presents it to fetch a
 * document (`tongban fetch`); nothing is sent to a node here except, without --genesis, one
 * GET /v1/status for the chain id.
 *
 * `tongban consent withdraw`: an agency of the token's city withdraws it at its city's node
 * (POST /v1/consents/withdraw, D24).
 *
 * Must never: take an ID number (the subject is already the keyed HMAC), or write the token
 * anywhere but --out.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cr_sign.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "wire.h"

#define CONSENT_EXPIRES_MAX_S (366u * 24u * 3600u)

static void consent_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban consent --agency-key FILE --city CITY --agency AGENCY\n"
            "                       (--node URL | --genesis FILE) --subject-id HEX\n"
            "                       --grantee CITY/AGENCY --types T,... --purpose TEXT\n"
            "                       --expires-in SECS --uses N [--out FILE] "
            "[--passphrase-file F]\n"
            "\n"
            "Signs a consent token as an agency of the citizen's home city: the grantee agency\n"
            "may fetch the subject's documents of these types, for this purpose, at most N\n"
            "times, until the token expires. Prints the consent id and the token (base64).\n"
            "\n"
            "  --agency-key FILE   the signing agency's private key (PEM)\n"
            "  --city, --agency    the codes it is registered to (for the message only)\n"
            "  --node URL          a node, for the chain id (or --genesis FILE)\n"
            "  --subject-id HEX    the citizen's keyed subject (64 hex digits)\n"
            "  --grantee C/A       the city and agency that may fetch\n"
            "  --types T,...       record types covered (comma separated)\n"
            "  --purpose TEXT      why (kept on the ledger with every access)\n"
            "  --expires-in SECS   lifetime from now, 1..%u\n"
            "  --uses N            how many fetches, 1..%u\n"
            "  --out FILE          also write the signed token (binary) to FILE\n"
            "\n"
            "tongban consent withdraw --token FILE ... withdraws a token (see its --help).\n",
            CONSENT_EXPIRES_MAX_S, WIRE_CONSENT_USES_MAX);
}

struct consent_args
{
    const char *key, *pass, *city, *agency, *node, *genesis, *subject, *grantee, *types, *purpose,
        *expires_in, *uses, *out;
};

static int consent_parse(int argc, char **argv, struct consent_args *a)
{
    static const struct option options[] = {
        {"agency-key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"node", required_argument, NULL, 'n'},
        {"genesis", required_argument, NULL, 'g'},
        {"subject-id", required_argument, NULL, 's'},
        {"grantee", required_argument, NULL, 'G'},
        {"types", required_argument, NULL, 't'},
        {"purpose", required_argument, NULL, 'P'},
        {"expires-in", required_argument, NULL, 'e'},
        {"uses", required_argument, NULL, 'u'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'k', &a->key},   {'p', &a->pass},    {'c', &a->city},       {'a', &a->agency},
        {'n', &a->node},  {'g', &a->genesis}, {'s', &a->subject},    {'G', &a->grantee},
        {'t', &a->types}, {'P', &a->purpose}, {'e', &a->expires_in}, {'u', &a->uses},
        {'o', &a->out},
    };
    int rv = cli_str_opts_parse(argc, argv, options, strings, sizeof(strings) / sizeof(strings[0]),
                                "consent", consent_usage);
    if (rv != CLI_EXIT_OK)
        return rv;
    if (optind != argc)
        return cli_usage_error("consent", "unexpected argument '%s'", argv[optind]);
    if (!a->key || !a->subject || !a->grantee || !a->types || !a->purpose || !a->expires_in ||
        !a->uses)
        return cli_usage_error("consent",
                               "--agency-key, --subject-id, --grantee, --types, "
                               "--purpose, --expires-in and --uses are required");
    if ((a->node == NULL) == (a->genesis == NULL))
        return cli_usage_error("consent", "give one of --node URL and --genesis FILE");
    return CLI_EXIT_OK;
}

static int consent_bytes_cmp(const void *x, const void *y)
{
    const struct tb_bytes *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->ptr, b->ptr, n);
    return c != 0 ? c : (a->len < b->len ? -1 : a->len > b->len);
}

/* The token's fields from the arguments (views into argv). */
static int consent_build(const struct consent_args *a, struct wire_consent *c, char *errmsg)
{
    uint64_t expires_in = 0;
    const char *slash = strchr(a->grantee, '/');
    if (tb_hex_decode(a->subject, strlen(a->subject), c->subject, CR_HASH_BYTES) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "--subject-id: expected 64 hex digits");
    if (slash == NULL || slash == a->grantee || slash[1] == '\0')
        return tb_fail(errmsg, TB_EINVAL, "--grantee: expected CITY/AGENCY");
    c->grantee_city = (struct tb_bytes){(const uint8_t *)a->grantee, (size_t)(slash - a->grantee)};
    c->grantee_agency = (struct tb_bytes){(const uint8_t *)slash + 1, strlen(slash + 1)};
    for (const char *t = a->types; *t != '\0';) {
        size_t n = strcspn(t, ",");
        if (c->type_count == WIRE_CONSENT_TYPES_MAX)
            return tb_fail(errmsg, TB_EINVAL, "--types: at most %u", WIRE_CONSENT_TYPES_MAX);
        c->types[c->type_count++] = (struct tb_bytes){(const uint8_t *)t, n};
        t += n + (t[n] == ',');
    }
    qsort(c->types, c->type_count, sizeof(c->types[0]), consent_bytes_cmp);
    c->purpose = (struct tb_bytes){(const uint8_t *)a->purpose, strlen(a->purpose)};
    if (cli_parse_u64(a->expires_in, &expires_in) != TB_OK || expires_in == 0 ||
        expires_in > CONSENT_EXPIRES_MAX_S)
        return tb_fail(errmsg, TB_EINVAL, "--expires-in: 1..%u seconds", CONSENT_EXPIRES_MAX_S);
    if (cli_parse_u64(a->uses, &c->uses_max) != TB_OK || c->uses_max == 0 ||
        c->uses_max > WIRE_CONSENT_USES_MAX)
        return tb_fail(errmsg, TB_EINVAL, "--uses: 1..%u", WIRE_CONSENT_USES_MAX);
    c->not_after = (uint64_t)time(NULL) + expires_in;
    return cr_random(c->nonce, sizeof(c->nonce));
}

/* Encodes, signs and wraps the token (wire_consent_signed) into out; id gets its id. */
static int consent_sign(const struct cli_chain *chain, struct cr_key *key,
                        const struct wire_consent *c, struct tb_buf *out, uint8_t id[CR_HASH_BYTES],
                        char *errmsg)
{
    struct tb_buf tok, in;
    uint8_t sig[CR_SIG_MAX], pub[CR_PUBKEY_MAX];
    size_t sig_len = 0;
    if (cr_key_suite(key) != chain->suite)
        return tb_fail(errmsg, TB_EINVAL, "the key is a %s key but the federation uses %s",
                       cr_suite_name(cr_key_suite(key)), cr_suite_name(chain->suite));
    tb_buf_init(&tok, WIRE_CONSENT_BYTES_MAX);
    tb_buf_init(&in, WIRE_CONSENT_BYTES_MAX + 64u);
    int rv = wire_consent_encode(c, &tok, errmsg);
    if (rv == TB_OK)
        rv = wire_consent_sign_input(chain->chain_id, tok.data, tok.len, &in);
    if (rv == TB_OK)
        rv = cr_sign(key, in.data, in.len, sig, &sig_len);
    if (rv == TB_OK) {
        struct wire_consent_signed sc = {.token = {tok.data, tok.len},
                                         .public_key = {pub, cr_key_public(key, pub)},
                                         .sig = {sig, sig_len}};
        wire_consent_id(chain->suite, chain->chain_id, tok.data, tok.len, id);
        rv = wire_consent_signed_encode(&sc, out, errmsg);
    }
    tb_buf_release(&tok);
    tb_buf_release(&in);
    return rv;
}

static int cli_consent_withdraw(int argc, char **argv);

int cli_consent(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "withdraw") == 0)
        return cli_consent_withdraw(argc - 1, argv + 1);
    struct consent_args a = {0};
    struct wire_consent c;
    struct cli_chain chain;
    struct cr_key *key = NULL;
    struct tb_buf out;
    uint8_t id[CR_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = consent_parse(argc, argv, &a);
    if (rv != CLI_EXIT_OK)
        return rv < 0 ? CLI_EXIT_OK : rv;
    memset(&c, 0, sizeof(c));
    tb_buf_init(&out, WIRE_CONSENT_BYTES_MAX + 256u);
    rv = consent_build(&a, &c, errmsg);
    if (rv == TB_OK)
        rv = cli_load_key(a.key, a.pass, &key, errmsg);
    if (rv == TB_OK)
        rv = a.genesis != NULL ? cli_chain_from_genesis(a.genesis, &chain, errmsg)
                               : cli_chain_from_node(a.node, &chain, errmsg);
    if (rv == TB_OK)
        rv = consent_sign(&chain, key, &c, &out, id, errmsg);
    if (rv == TB_OK && a.out != NULL)
        rv = cli_write_file(a.out, out.data, out.len, 0600, errmsg);
    if (rv == TB_OK) {
        char hex[2 * CR_HASH_BYTES + 1];
        char *b64 = malloc(TB_BASE64_ENCODED_SIZE(out.len));
        tb_hex_encode(id, CR_HASH_BYTES, hex);
        if (b64 != NULL)
            tb_base64_encode(out.data, out.len, b64);
        printf("consent id %s\nnot_after  %" PRIu64 "\nuses_max   %" PRIu64 "\ntoken      %s\n",
               hex, c.not_after, c.uses_max, b64 != NULL ? b64 : "(out of memory)");
        free(b64);
    }
    tb_buf_release(&out);
    cr_key_free(key);
    if (rv != TB_OK)
        return cli_fail("consent", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}

/* ---- consent withdraw ---- */

static void withdraw_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban consent withdraw --token FILE --agency-key FILE --city CITY\n"
            "                                --agency AGENCY --node URL [--passphrase-file F]\n"
            "\n"
            "Withdraws a consent the citizen gave (PIPL art. 15): POST /v1/consents/withdraw\n"
            "at the node of the city whose agency signed the token (it holds the documents),\n"
            "signed by any agency of that city. From then on every fetch with the token is\n"
            "refused (403 consent_withdrawn). Withdrawing again is harmless: the first time\n"
            "is kept. Prints the consent id and the withdrawal time.\n"
            "\n"
            "  --token FILE        the token (`tongban consent --out`), or its base64 text\n"
            "  --agency-key FILE   the asking agency's private key (PEM)\n"
            "  --city, --agency    the codes it is registered to\n"
            "  --node URL          the city's node, e.g. http://127.0.0.1:7480\n");
}

int cli_consent_token_load(const char *path, struct tb_buf *out, char *errmsg)
{
    struct wire_consent_signed sc;
    struct tb_buf raw;
    char why[TB_ERRMSG_SIZE];
    size_t len = 0;
    tb_buf_init(&raw, TB_BASE64_ENCODED_SIZE(CLI_CONSENT_TOKEN_BYTES_MAX) + 2u);
    int rv = cli_read_file_max(path, TB_BASE64_ENCODED_SIZE(CLI_CONSENT_TOKEN_BYTES_MAX) + 2u, &raw,
                               errmsg);
    if (rv == TB_OK && raw.len <= CLI_CONSENT_TOKEN_BYTES_MAX &&
        wire_consent_signed_decode(raw.data, raw.len, &sc, why) == TB_OK) {
        rv = tb_buf_append(out, raw.data, raw.len);
    } else if (rv == TB_OK) {
        while (raw.len > 0 && (raw.data[raw.len - 1] == '\n' || raw.data[raw.len - 1] == '\r'))
            raw.len--;
        rv = tb_buf_reserve(out, CLI_CONSENT_TOKEN_BYTES_MAX);
        if (rv == TB_OK && (tb_base64_decode((const char *)raw.data, raw.len, out->data,
                                             CLI_CONSENT_TOKEN_BYTES_MAX, &len) != TB_OK ||
                            wire_consent_signed_decode(out->data, len, &sc, why) != TB_OK))
            rv = tb_fail(errmsg, TB_EMALFORMED, "'%s' holds no signed consent token", path);
        if (rv == TB_OK)
            out->len = len;
    }
    tb_buf_release(&raw);
    return rv;
}

struct withdraw_args
{
    const char *token, *key, *pass, *city, *agency, *node;
};

static int withdraw_parse(int argc, char **argv, struct withdraw_args *a)
{
    static const struct option options[] = {
        {"token", required_argument, NULL, 'T'},
        {"agency-key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"node", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'T', &a->token}, {'k', &a->key},    {'p', &a->pass},
        {'c', &a->city},  {'a', &a->agency}, {'n', &a->node},
    };
    int rv = cli_str_opts_parse(argc, argv, options, strings, sizeof(strings) / sizeof(strings[0]),
                                "consent withdraw", withdraw_usage);
    if (rv != CLI_EXIT_OK)
        return rv;
    if (optind != argc)
        return cli_usage_error("consent withdraw", "unexpected argument '%s'", argv[optind]);
    if (!a->token || !a->key || !a->city || !a->agency || !a->node)
        return cli_usage_error("consent withdraw",
                               "--token, --agency-key, --city, --agency and --node are required");
    return CLI_EXIT_OK;
}

/* The 200 answer: {"consent_id", "withdrawn_at"}, printed. */
static int withdraw_print(json_t *doc, char *errmsg)
{
    const char *id = json_string_value(json_object_get(doc, "consent_id"));
    json_t *at = json_object_get(doc, "withdrawn_at");
    if (id == NULL || strlen(id) != 2 * CR_HASH_BYTES || !json_is_integer(at) ||
        json_integer_value(at) < 0)
        return tb_fail(errmsg, TB_EMALFORMED, "the node's answer lacks consent_id/withdrawn_at");
    printf("consent id   %s\nwithdrawn at %" PRIu64 "\n", id, (uint64_t)json_integer_value(at));
    return TB_OK;
}

static int cli_consent_withdraw(int argc, char **argv)
{
    struct withdraw_args a = {0};
    struct cr_key *key = NULL;
    struct tb_buf tok;
    char errmsg[TB_ERRMSG_SIZE] = "", url[CLI_URL_MAX];
    json_t *doc = NULL;
    char *body = NULL, *b64 = NULL;
    long status = 0;
    int rv = withdraw_parse(argc, argv, &a);
    if (rv != CLI_EXIT_OK)
        return rv < 0 ? CLI_EXIT_OK : rv;
    tb_buf_init(&tok, CLI_CONSENT_TOKEN_BYTES_MAX);
    rv = cli_consent_token_load(a.token, &tok, errmsg);
    if (rv == TB_OK)
        rv = cli_load_key(a.key, a.pass, &key, errmsg);
    if (rv == TB_OK &&
        snprintf(url, sizeof(url), "%s/v1/consents/withdraw", a.node) >= (int)sizeof(url))
        rv = tb_fail(errmsg, TB_ELIMIT, "URL too long");
    if (rv == TB_OK && (b64 = malloc(TB_BASE64_ENCODED_SIZE(tok.len))) == NULL)
        rv = tb_fail(errmsg, TB_ENOMEM, "out of memory");
    if (rv == TB_OK) {
        tb_base64_encode(tok.data, tok.len, b64);
        json_t *j = json_pack("{s:s}", "token", b64);
        body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (body == NULL)
            rv = tb_fail(errmsg, TB_ENOMEM, "out of memory");
    }
    struct cli_agency_signer signer = {.key = key, .city = a.city, .agency = a.agency};
    if (rv == TB_OK)
        rv = cli_http_signed_json(&signer, "POST", url, "application/json", body, strlen(body),
                                  CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    if (rv == TB_OK && status != 200)
        rv = TB_EAUTH; /* errmsg: "HTTP 403: code: message" */
    if (rv == TB_OK)
        rv = withdraw_print(doc, errmsg);
    json_decref(doc);
    free(body);
    free(b64);
    tb_buf_release(&tok);
    cr_key_free(key);
    if (rv != TB_OK)
        return cli_fail("consent withdraw", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}

/* ---- access-log ---- */

static void access_log_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban access-log --agency-key FILE --city C --agency A --node URL\n"
            "                          [--limit N] [--passphrase-file F] SUBJECT\n"
            "\n"
            "Prints (JSON) every committed access to the subject's documents and the refused\n"
            "attempts this city's node kept: GET /v1/subjects/SUBJECT/access-log, signed by\n"
            "an agency of the subject's home city.\n");
}

int cli_access_log(int argc, char **argv)
{
    static const struct option options[] = {
        {"agency-key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"node", required_argument, NULL, 'n'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL, *pass = NULL, *city = NULL, *agency = NULL, *node = NULL,
               *limit = "100";
    const struct cli_str_opt strings[] = {
        {'k', &key_path}, {'p', &pass}, {'c', &city}, {'a', &agency}, {'n', &node}, {'l', &limit},
    };
    int prv = cli_str_opts_parse(argc, argv, options, strings, sizeof(strings) / sizeof(strings[0]),
                                 "access-log", access_log_usage);
    if (prv != CLI_EXIT_OK)
        return prv == CLI_HELP_SHOWN ? CLI_EXIT_OK : prv;
    if (optind + 1 != argc || !key_path || !city || !agency || !node)
        return cli_usage_error("access-log",
                               "--agency-key, --city, --agency, --node and one "
                               "SUBJECT are required");
    struct cr_key *key = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "", url[CLI_URL_MAX];
    json_t *doc = NULL;
    long status = 0;
    int rv = cli_load_key(key_path, pass, &key, errmsg);
    if (rv == TB_OK && snprintf(url, sizeof(url), "%s/v1/subjects/%s/access-log?limit=%s", node,
                                argv[optind], limit) >= (int)sizeof(url))
        rv = tb_fail(errmsg, TB_ELIMIT, "URL too long");
    struct cli_agency_signer signer = {.key = key, .city = city, .agency = agency};
    if (rv == TB_OK)
        rv = cli_http_signed_json(&signer, "GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status,
                                  &doc, errmsg);
    if (rv == TB_OK && status != 200)
        rv = TB_EAUTH; /* errmsg: "HTTP 403: code: message" */
    if (rv == TB_OK) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
    }
    json_decref(doc);
    cr_key_free(key);
    if (rv != TB_OK)
        return cli_fail("access-log", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}
