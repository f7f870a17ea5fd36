/*
 * `tongban issue` and `tongban revoke`: an agency builds and signs a record.issue or
 * record.revoke transaction on its own machine, with its own key, and submits the envelope
 * to its city's node (POST /v1/tx). Also the helpers every transaction-making command shares
 * (chain id, signing, submitting, waiting for commit).
 *
 * A citizen's ID number only ever becomes the keyed subject (DESIGN 3.3) in memory: it is
 * never sent, stored, printed or logged, and the copies this process holds (its argv string,
 * a line read from stdin) are wiped as soon as the subject is computed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cr_sign.h"
#include "genesis.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "wire.h"

/* ---- shared helpers ---- */

int cli_parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return TB_EINVAL;
    errno = 0;
    *out = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return TB_EINVAL;
    return TB_OK;
}

bool cli_str_opt_set(const struct cli_str_opt *map, size_t count, int opt, const char *arg)
{
    for (size_t i = 0; i < count; i++) {
        if (map[i].opt == opt) {
            TB_ASSERT(map[i].dest != NULL);
            *map[i].dest = arg;
            return true;
        }
    }
    return false;
}

int cli_str_opts_parse(int argc, char **argv, const struct option *options,
                       const struct cli_str_opt *strings, size_t count, const char *cmd,
                       void (*usage)(FILE *))
{
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_str_opt_set(strings, count, opt, optarg))
            continue;
        if (opt == 'h') {
            usage(stdout);
            return CLI_HELP_SHOWN;
        }
        return cli_usage_error(cmd, "unknown option");
    }
    return CLI_EXIT_OK;
}

int cli_chain_from_genesis(const char *path, struct cli_chain *out, char *errmsg)
{
    struct cfg_genesis g = {0};
    int rv = cfg_genesis_load(path, &g, errmsg);
    if (rv != TB_OK)
        return rv;
    out->suite = g.suite;
    rv = cfg_genesis_chain_id(&g, out->chain_id);
    cfg_genesis_release(&g);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "cannot compute the chain id of '%s'", path);
    return TB_OK;
}

int cli_chain_from_node(const char *node_url, struct cli_chain *out, char *errmsg)
{
    char url[CLI_URL_MAX];
    json_t *doc = NULL;
    long status = 0;
    const char *suite, *chain_id;
    int rv;

    if (snprintf(url, sizeof(url), "%s/v1/status", node_url) >= (int)sizeof(url))
        return tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    rv = cli_http_json("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    if (rv != TB_OK)
        return rv;
    suite = json_string_value(json_object_get(doc, "suite"));
    chain_id = json_string_value(json_object_get(doc, "chain_id"));
    if (status != 200)
        rv = tb_fail(errmsg, TB_EIO, "GET %s: HTTP %ld", url, status);
    else if (suite == NULL || cr_suite_parse(suite, &out->suite) != TB_OK)
        rv = tb_fail(errmsg, TB_EMALFORMED, "GET %s: no known \"suite\" in the answer", url);
    else if (chain_id == NULL ||
             tb_hex_decode(chain_id, strlen(chain_id), out->chain_id, CR_HASH_BYTES) != TB_OK)
        rv = tb_fail(errmsg, TB_EMALFORMED, "GET %s: \"chain_id\" is not 64 hex digits", url);
    json_decref(doc);
    return rv;
}

int cli_tx_sign(const struct cli_chain *chain, struct cr_key *key, uint8_t kind,
                const struct tb_buf *body, struct tb_buf *envelope, uint8_t tx_id[CR_HASH_BYTES],
                char *errmsg)
{
    struct tb_buf input;
    struct wire_tx tx = {0};
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    int rv;

    TB_ASSERT(cr_key_has_private(key));
    TB_ASSERT(body->len > 0);
    if (cr_key_suite(key) != chain->suite)
        return tb_fail(errmsg, TB_EINVAL, "the key is a %s key but the federation uses %s",
                       cr_suite_name(cr_key_suite(key)), cr_suite_name(chain->suite));
    tb_buf_init(&input, WIRE_TX_BYTES_MAX + 128);
    rv = wire_tx_sign_input(chain->chain_id, kind, body->data, body->len, &input);
    if (rv == TB_OK)
        rv = cr_sign(key, input.data, input.len, sig, &sig_len);
    tb_buf_release(&input);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "cannot sign the transaction");
    tx.kind = kind;
    tx.body = (struct tb_bytes){body->data, body->len};
    tx.sig_count = 1;
    cr_key_id(key, tx.sigs[0].key_id);
    tx.sigs[0].sig = (struct tb_bytes){sig, sig_len};
    rv = wire_tx_encode(&tx, envelope, errmsg);
    if (rv == TB_OK)
        wire_tx_id(chain->suite, chain->chain_id, kind, body->data, body->len, tx_id);
    return rv;
}

int cli_tx_submit(const char *node_url, const struct tb_buf *envelope,
                  const uint8_t tx_id[CR_HASH_BYTES], char *status_out, size_t status_size,
                  char *errmsg)
{
    char url[CLI_URL_MAX];
    char want[2 * CR_HASH_BYTES + 1];
    json_t *doc = NULL;
    long status = 0;
    const char *id, *state;
    int rv;

    TB_ASSERT(envelope->len > 0);
    TB_ASSERT(status_size > 0);
    if (snprintf(url, sizeof(url), "%s/v1/tx", node_url) >= (int)sizeof(url))
        return tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    rv = cli_http_json("POST", url, "application/msgpack", envelope->data, envelope->len,
                       CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    if (rv != TB_OK)
        return rv;
    if (status != 200 && status != 202) {
        json_decref(doc);
        return status >= 500 ? TB_EIO : TB_EAUTH; /* errmsg holds the node's verdict */
    }
    tb_hex_encode(tx_id, CR_HASH_BYTES, want);
    id = json_string_value(json_object_get(doc, "id"));
    state = json_string_value(json_object_get(doc, "status"));
    if (id == NULL || strcmp(id, want) != 0)
        rv = tb_fail(errmsg, TB_EMALFORMED, "the node answered id %s, but the envelope's id is %s",
                     id != NULL ? id : "(none)", want);
    else
        snprintf(status_out, status_size, "%s", state != NULL ? state : "?");
    json_decref(doc);
    return rv;
}

int cli_tx_wait(const char *node_url, const uint8_t tx_id[CR_HASH_BYTES], uint32_t timeout_ms,
                uint64_t *height, char *errmsg)
{
    char url[CLI_URL_MAX];
    char hex[2 * CR_HASH_BYTES + 1];
    struct timespec start, now;

    TB_ASSERT(timeout_ms > 0);
    tb_hex_encode(tx_id, CR_HASH_BYTES, hex);
    if (snprintf(url, sizeof(url), "%s/v1/tx/%s", node_url, hex) >= (int)sizeof(url))
        return tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        json_t *doc = NULL;
        long status = 0;
        int rv =
            cli_http_json("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
        if (rv == TB_OK && status == 200) {
            const char *state = json_string_value(json_object_get(doc, "status"));
            json_t *h = json_object_get(doc, "height");
            if (state != NULL && strcmp(state, "committed") == 0) {
                *height = json_is_integer(h) ? (uint64_t)json_integer_value(h) : 0;
                json_decref(doc);
                return TB_OK;
            }
        }
        json_decref(doc);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
            (long)timeout_ms)
            return tb_fail(errmsg, TB_ESTATE, "transaction %s not committed after %u ms", hex,
                           timeout_ms);
        usleep(200 * 1000);
    }
}

int cli_read_exact(const char *path, uint8_t *out, size_t len, char *errmsg)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    int extra;
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot open '%s': %s", path, strerror(errno));
    n = fread(out, 1, len, f);
    extra = fgetc(f);
    fclose(f);
    if (n != len || extra != EOF)
        return tb_fail(errmsg, TB_EINVAL, "'%s' must hold exactly %zu bytes", path, len);
    return TB_OK;
}

/* ---- issue ---- */

static void issue_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tongban issue --key AGENCY_KEY --city CITY --agency AGENCY --type TYPE\n"
        "                     (--id-number N --subject-key FILE | --subject HEX)\n"
        "                     (--node URL | --genesis FILE --out FILE)\n"
        "                     [--claim KEY=TEXT ...] [--uint-claim KEY=N ...]\n"
        "                     [--expires-at SECS] [--document FILE] [--wait] [--passphrase-file "
        "F]\n"
        "\n"
        "Builds a record.issue transaction, signs it here with the agency's key and submits it\n"
        "to the city's node. Prints the record id. The citizen's ID number is turned into the\n"
        "keyed subject (HMAC with the federation's subject key) in memory and wiped: it never\n"
        "leaves this process.\n"
        "\n"
        "  --node URL          the city's node, e.g. http://127.0.0.1:7480\n"
        "  --key FILE          the agency's private key (PEM; from `tongban agency add`)\n"
        "  --passphrase-file F the key's passphrase, if it is encrypted\n"
        "  --city, --agency    the issuing city and agency codes the key is registered for\n"
        "  --type TYPE         the record type (one of the genesis's types)\n"
        "  --id-number N       the citizen's ID number ('-' reads it from standard input)\n"
        "  --subject-key FILE  the federation's subject key (32 bytes, from `tongban genesis`)\n"
        "  --subject HEX       an already keyed subject (64 hex digits) instead of an ID number\n"
        "  --claim KEY=TEXT    a text claim (repeat); --uint-claim KEY=N for a number\n"
        "  --expires-at SECS   expiry, unix seconds (default 0: never)\n"
        "  --document FILE     the full document: its digest goes on the ledger, the file to\n"
        "                      the node, which keeps it sealed and shares it only with consent\n"
        "  --genesis FILE      take the chain id from this genesis instead of the node\n"
        "  --out FILE          write the signed envelope to FILE instead of submitting it\n"
        "  --wait              wait (up to --wait-ms, default 30000) until it is committed\n");
}

struct issue_args
{
    const char *node, *key_path, *pass_path, *city, *agency, *type;
    char *id_number; /* argv string: wiped once used */
    const char *subject_key_path, *subject_hex, *document, *genesis, *out;
    const char *claims[WIRE_CLAIMS_MAX];
    bool claim_is_uint[WIRE_CLAIMS_MAX];
    size_t claim_count;
    uint64_t expires_at;
    bool wait;
    uint32_t wait_ms;
};

/* The options that take something more than a plain string. */
static int issue_option(int opt, struct issue_args *a)
{
    uint64_t v;
    switch (opt) {
    case 'i':
        a->id_number = optarg;
        return CLI_EXIT_OK;
    case 'w':
        a->wait = true;
        return CLI_EXIT_OK;
    case 'C':
    case 'U':
        if (a->claim_count == WIRE_CLAIMS_MAX)
            return cli_usage_error("issue", "at most %u claims", WIRE_CLAIMS_MAX);
        if (strchr(optarg, '=') == NULL || optarg[0] == '=')
            return cli_usage_error("issue", "claim '%s': expected KEY=VALUE", optarg);
        a->claim_is_uint[a->claim_count] = opt == 'U';
        a->claims[a->claim_count++] = optarg;
        return CLI_EXIT_OK;
    case 'e':
        if (cli_parse_u64(optarg, &a->expires_at) != TB_OK)
            return cli_usage_error("issue", "--expires-at '%s': expected unix seconds", optarg);
        return CLI_EXIT_OK;
    case 'W':
        if (cli_parse_u64(optarg, &v) != TB_OK || v == 0 || v > 3600000)
            return cli_usage_error("issue", "--wait-ms '%s': expected 1..3600000", optarg);
        a->wait_ms = (uint32_t)v;
        return CLI_EXIT_OK;
    case 'h':
        issue_usage(stdout);
        return -1;
    default:
        return cli_usage_error("issue", "unknown option");
    }
}

static int issue_check_args(const struct issue_args *a)
{
    if (!a->key_path || !a->city || !a->agency || !a->type)
        return cli_usage_error("issue", "--key, --city, --agency and --type are required");
    if ((a->id_number != NULL) == (a->subject_hex != NULL))
        return cli_usage_error("issue", "give exactly one of --id-number and --subject");
    if (a->id_number != NULL && a->subject_key_path == NULL)
        return cli_usage_error("issue", "--id-number needs --subject-key FILE");
    if (a->out == NULL && a->node == NULL)
        return cli_usage_error("issue", "--node URL is required (or --out FILE to only sign)");
    if (a->out != NULL && a->node == NULL && a->genesis == NULL)
        return cli_usage_error("issue", "--out without --node needs --genesis FILE");
    return CLI_EXIT_OK;
}

static int issue_parse_args(int argc, char **argv, struct issue_args *a)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"type", required_argument, NULL, 't'},
        {"id-number", required_argument, NULL, 'i'},
        {"subject-key", required_argument, NULL, 'K'},
        {"subject", required_argument, NULL, 's'},
        {"claim", required_argument, NULL, 'C'},
        {"uint-claim", required_argument, NULL, 'U'},
        {"expires-at", required_argument, NULL, 'e'},
        {"document", required_argument, NULL, 'd'},
        {"genesis", required_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"wait", no_argument, NULL, 'w'},
        {"wait-ms", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'n', &a->node},
        {'k', &a->key_path},
        {'p', &a->pass_path},
        {'c', &a->city},
        {'a', &a->agency},
        {'t', &a->type},
        {'K', &a->subject_key_path},
        {'s', &a->subject_hex},
        {'d', &a->document},
        {'g', &a->genesis},
        {'o', &a->out},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int rv;
        if (cli_str_opt_set(strings, sizeof(strings) / sizeof(strings[0]), opt, optarg))
            continue;
        rv = issue_option(opt, a);
        if (rv != CLI_EXIT_OK)
            return rv;
    }
    if (optind != argc)
        return cli_usage_error("issue", "unexpected argument '%s'", argv[optind]);
    return issue_check_args(a);
}

/* The keyed subject from --subject HEX, or from the ID number (then wiped everywhere). */
static int issue_subject(struct issue_args *a, enum cr_suite suite, uint8_t out[CR_HASH_BYTES],
                         char *errmsg)
{
    uint8_t key[32];
    char line[64];
    const char *id = a->id_number;
    int rv;

    if (a->subject_hex != NULL) {
        if (tb_hex_decode(a->subject_hex, strlen(a->subject_hex), out, CR_HASH_BYTES) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "--subject: expected 64 hex digits");
        return TB_OK;
    }
    TB_ASSERT(a->id_number != NULL);
    rv = cli_read_exact(a->subject_key_path, key, sizeof(key), errmsg);
    if (rv != TB_OK)
        return rv;
    if (strcmp(a->id_number, "-") == 0) {
        if (fgets(line, sizeof(line), stdin) == NULL) {
            tb_wipe(key, sizeof(key));
            return tb_fail(errmsg, TB_EINVAL, "--id-number -: nothing on standard input");
        }
        line[strcspn(line, "\r\n")] = '\0';
        id = line;
    }
    rv = cr_subject(suite, key, id, out, errmsg);
    tb_wipe(key, sizeof(key));
    tb_wipe(line, sizeof(line));
    /* The argv copy too, so that the number is not left in /proc/PID/cmdline or memory. */
    tb_wipe(a->id_number, strlen(a->id_number));
    return rv;
}

static int claim_cmp(const void *x, const void *y)
{
    const struct wire_claim *a = x, *b = y;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = memcmp(a->key.ptr, b->key.ptr, n);
    if (c != 0)
        return c;
    return a->key.len < b->key.len ? -1 : a->key.len > b->key.len;
}

/* Claims as wire views into argv, sorted by key (the codec checks order and uniqueness). */
static int issue_claims(const struct issue_args *a, struct wire_record_issue *r, char *errmsg)
{
    for (size_t i = 0; i < a->claim_count; i++) {
        const char *text = a->claims[i];
        const char *eq = strchr(text, '=');
        struct wire_claim *c = &r->claims[i];
        TB_ASSERT(eq != NULL);
        c->key = (struct tb_bytes){(const uint8_t *)text, (size_t)(eq - text)};
        c->is_uint = a->claim_is_uint[i];
        if (c->is_uint && cli_parse_u64(eq + 1, &c->uint_value) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "--uint-claim '%s': not an unsigned number", text);
        if (!c->is_uint)
            c->str_value = (struct tb_bytes){(const uint8_t *)eq + 1, strlen(eq + 1)};
    }
    r->claim_count = a->claim_count;
    qsort(r->claims, r->claim_count, sizeof(r->claims[0]), claim_cmp);
    for (size_t i = 1; i < r->claim_count; i++) {
        if (claim_cmp(&r->claims[i - 1], &r->claims[i]) == 0)
            return tb_fail(errmsg, TB_EINVAL, "claim '%.*s' given twice", (int)r->claims[i].key.len,
                           (const char *)r->claims[i].key.ptr);
    }
    return TB_OK;
}

/* doc_digest = H(document bytes); no document: the digest of the empty document. */
static int issue_doc_digest(const char *path, enum cr_suite suite, uint8_t out[CR_HASH_BYTES],
                            char *errmsg)
{
    struct cr_hasher h;
    uint8_t chunk[16384];
    FILE *f;
    size_t n;
    int rv;

    if (path == NULL) {
        cr_hash(suite, "", 0, out);
        return TB_OK;
    }
    f = fopen(path, "rb");
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot open document '%s': %s", path, strerror(errno));
    rv = cr_hasher_init(&h, suite);
    if (rv != TB_OK) {
        fclose(f);
        return tb_fail(errmsg, rv, "cannot hash the document");
    }
    cr_hasher_begin(&h);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cr_hasher_update(&h, chunk, n);
    rv = ferror(f) ? tb_fail(errmsg, TB_EIO, "cannot read document '%s'", path) : TB_OK;
    cr_hasher_final(&h, out);
    cr_hasher_release(&h);
    fclose(f);
    return rv;
}

static int issue_body(struct issue_args *a, enum cr_suite suite, struct tb_buf *body, char *errmsg)
{
    struct wire_tx_body *tb = calloc(1, sizeof(*tb));
    struct wire_record_issue *r;
    int rv;

    if (tb == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    tb->kind = WIRE_KIND_RECORD_ISSUE;
    r = &tb->u.issue;
    r->type = (struct tb_bytes){(const uint8_t *)a->type, strlen(a->type)};
    r->city = (struct tb_bytes){(const uint8_t *)a->city, strlen(a->city)};
    r->agency = (struct tb_bytes){(const uint8_t *)a->agency, strlen(a->agency)};
    r->issued_at = (uint64_t)time(NULL);
    r->expires_at = a->expires_at;
    rv = issue_subject(a, suite, r->subject, errmsg);
    if (rv == TB_OK)
        rv = issue_claims(a, r, errmsg);
    if (rv == TB_OK)
        rv = issue_doc_digest(a->document, suite, r->doc_digest, errmsg);
    if (rv == TB_OK)
        rv = cr_random(r->nonce, sizeof(r->nonce));
    if (rv == TB_OK)
        rv = wire_tx_body_encode(tb, body, errmsg);
    tb_wipe(r->subject, sizeof(r->subject));
    free(tb);
    return rv;
}

int cli_load_key(const char *path, const char *pass_path, struct cr_key **out, char *errmsg)
{
    char passphrase[1024] = "";
    int rv = TB_OK;
    if (pass_path != NULL)
        rv = cli_read_passphrase(pass_path, passphrase, sizeof(passphrase), errmsg);
    if (rv == TB_OK)
        rv = cr_key_load_pem(path, pass_path != NULL ? passphrase : NULL, out, errmsg);
    tb_wipe(passphrase, sizeof(passphrase));
    if (rv == TB_OK && !cr_key_has_private(*out)) {
        cr_key_free(*out);
        *out = NULL;
        rv = tb_fail(errmsg, TB_EINVAL, "'%s' holds no private key", path);
    }
    return rv;
}

int cli_read_file_max(const char *path, size_t max, struct tb_buf *out, char *errmsg)
{
    uint8_t chunk[16384];
    size_t n;
    FILE *f = fopen(path, "rb");
    int rv = TB_OK;
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot open '%s': %s", path, strerror(errno));
    tb_buf_reset(out);
    while (rv == TB_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rv = out->len + n > max ? TB_ELIMIT : tb_buf_append(out, chunk, n);
    if (rv == TB_OK && ferror(f))
        rv = TB_EIO;
    fclose(f);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "cannot read '%s' (at most %zu bytes)", path, max);
    return TB_OK;
}

#define ISSUE_DOCUMENT_BYTES_MAX (4u * 1024u * 1024u) /* the node's API_DOCUMENT_BYTES_MAX */

/*
 * POST /v1/tx as JSON {"envelope", "document"}: the issuing node checks H(document) against
 * the record's doc_digest and keeps the document sealed (docs/consent.md). Same answers as
 * cli_tx_submit.
 */
static int issue_submit_document(const char *node_url, const struct tb_buf *envelope,
                                 const char *doc_path, const uint8_t tx_id[CR_HASH_BYTES],
                                 char *status_out, size_t status_size, char *errmsg)
{
    struct tb_buf doc;
    char url[CLI_URL_MAX], want[2 * CR_HASH_BYTES + 1];
    json_t *doc_json = NULL, *req = NULL;
    long status = 0;
    tb_buf_init(&doc, ISSUE_DOCUMENT_BYTES_MAX);
    int rv = cli_read_file_max(doc_path, ISSUE_DOCUMENT_BYTES_MAX, &doc, errmsg);
    char *eb = malloc(TB_BASE64_ENCODED_SIZE(envelope->len));
    char *db = malloc(TB_BASE64_ENCODED_SIZE(doc.len));
    if (rv == TB_OK && (eb == NULL || db == NULL))
        rv = tb_fail(errmsg, TB_ENOMEM, "out of memory");
    if (rv == TB_OK && snprintf(url, sizeof(url), "%s/v1/tx", node_url) >= (int)sizeof(url))
        rv = tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    char *text = NULL;
    if (rv == TB_OK) {
        tb_base64_encode(envelope->data, envelope->len, eb);
        tb_base64_encode(doc.data, doc.len, db);
        req = json_pack("{s:s,s:s}", "envelope", eb, "document", db);
        text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
        if (text == NULL)
            rv = tb_fail(errmsg, TB_ENOMEM, "out of memory");
    }
    if (rv == TB_OK)
        rv = cli_http_json("POST", url, "application/json", text, strlen(text), CLI_HTTP_TIMEOUT_MS,
                           &status, &doc_json, errmsg);
    if (rv == TB_OK && status != 200 && status != 202)
        rv = status >= 500 ? TB_EIO : TB_EAUTH; /* errmsg holds the node's verdict */
    if (rv == TB_OK) {
        const char *id = json_string_value(json_object_get(doc_json, "id"));
        const char *state = json_string_value(json_object_get(doc_json, "status"));
        tb_hex_encode(tx_id, CR_HASH_BYTES, want);
        if (id == NULL || strcmp(id, want) != 0)
            rv = tb_fail(errmsg, TB_EMALFORMED, "the node answered another id than %s", want);
        else
            snprintf(status_out, status_size, "%s", state != NULL ? state : "?");
    }
    free(text);
    json_decref(req);
    json_decref(doc_json);
    free(eb);
    free(db);
    tb_buf_release(&doc);
    return rv;
}

int cli_tx_deliver(const struct cli_tx_job *job, const struct cli_chain *chain, struct cr_key *key,
                   const struct tb_buf *body)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    char hex[2 * CR_HASH_BYTES + 1];
    char state[32] = "";
    uint8_t id[CR_HASH_BYTES];
    uint64_t height = 0;
    struct tb_buf envelope;
    int rv;

    TB_ASSERT(job->cmd != NULL);
    TB_ASSERT(job->node != NULL || job->out != NULL);
    tb_buf_init(&envelope, WIRE_TX_BYTES_MAX);
    rv = cli_tx_sign(chain, key, job->kind, body, &envelope, id, errmsg);
    if (rv != TB_OK)
        goto done;
    tb_hex_encode(id, sizeof(id), hex);
    if (job->out != NULL) {
        rv = cli_write_file(job->out, envelope.data, envelope.len, 0644, errmsg);
        if (rv == TB_OK)
            printf("%-10s %s\nenvelope   %s (%zu bytes, not submitted)\n", job->id_label, hex,
                   job->out, envelope.len);
        goto done;
    }
    if (job->document != NULL)
        rv = issue_submit_document(job->node, &envelope, job->document, id, state, sizeof(state),
                                   errmsg);
    else
        rv = cli_tx_submit(job->node, &envelope, id, state, sizeof(state), errmsg);
    if (rv != TB_OK)
        goto done;
    printf("%-10s %s\nstatus     %s at %s\n", job->id_label, hex, state, job->node);
    if (job->wait && strcmp(state, "committed") != 0) {
        fflush(stdout);
        rv = cli_tx_wait(job->node, id, job->wait_ms, &height, errmsg);
        if (rv == TB_OK)
            printf("committed  at height %" PRIu64 "\n", height);
    }
done:
    tb_buf_release(&envelope);
    if (rv != TB_OK)
        return cli_fail(job->cmd, "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}

/* The chain id and suite: from --genesis when given, else from the node. */
static int issue_chain(const char *genesis, const char *node, struct cli_chain *chain, char *errmsg)
{
    if (genesis != NULL)
        return cli_chain_from_genesis(genesis, chain, errmsg);
    return cli_chain_from_node(node, chain, errmsg);
}

int cli_issue(int argc, char **argv)
{
    struct issue_args a = {.wait_ms = 30000};
    struct cli_chain chain;
    struct cr_key *key = NULL;
    struct tb_buf body;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = issue_parse_args(argc, argv, &a);

    if (rv != CLI_EXIT_OK) {
        if (a.id_number != NULL)
            tb_wipe(a.id_number, strlen(a.id_number));
        return rv < 0 ? CLI_EXIT_OK : rv;
    }
    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    rv = cli_load_key(a.key_path, a.pass_path, &key, errmsg);
    if (rv == TB_OK)
        rv = issue_chain(a.genesis, a.node, &chain, errmsg);
    if (rv == TB_OK)
        rv = issue_body(&a, chain.suite, &body, errmsg);
    if (a.id_number != NULL)
        tb_wipe(a.id_number, strlen(a.id_number));
    if (rv == TB_OK) {
        struct cli_tx_job job = {.cmd = "issue",
                                 .node = a.node,
                                 .out = a.out,
                                 .kind = WIRE_KIND_RECORD_ISSUE,
                                 .id_label = "record id",
                                 .wait = a.wait,
                                 .wait_ms = a.wait_ms,
                                 .document = a.document};
        rv = cli_tx_deliver(&job, &chain, key, &body);
    } else {
        rv = cli_fail("issue", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    }
    tb_buf_release(&body);
    cr_key_free(key);
    return rv;
}

/* ---- revoke ---- */

static void revoke_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban revoke --key AGENCY_KEY --record ID --reason TEXT\n"
            "                      (--node URL | --genesis FILE --out FILE)\n"
            "                      [--wait] [--wait-ms MS] [--passphrase-file F]\n"
            "\n"
            "Revokes a record the agency issued: builds a record.revoke transaction, signs it\n"
            "here with the agency's key, submits it to the node and prints its id.\n"
            "\n"
            "  --node URL          the city's node\n"
            "  --key FILE          the key of the agency that issued the record\n"
            "  --record ID         the record id (64 hex digits)\n"
            "  --reason TEXT       why (kept on the ledger, may be empty)\n"
            "  --genesis, --out    sign only, write the envelope to a file\n"
            "  --wait              wait until the revocation is committed\n");
}

struct revoke_args
{
    struct cli_tx_job job;
    const char *key_path, *pass_path, *record, *reason, *genesis, *wait_ms;
};

static int revoke_parse_args(int argc, char **argv, struct revoke_args *a)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"record", required_argument, NULL, 'r'},
        {"reason", required_argument, NULL, 'R'},
        {"genesis", required_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"wait", no_argument, NULL, 'w'},
        {"wait-ms", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'n', &a->job.node}, {'k', &a->key_path}, {'p', &a->pass_path}, {'r', &a->record},
        {'R', &a->reason},   {'g', &a->genesis},  {'o', &a->job.out},   {'W', &a->wait_ms},
    };
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_str_opt_set(strings, sizeof(strings) / sizeof(strings[0]), opt, optarg))
            continue;
        if (opt == 'w') {
            a->job.wait = true;
        } else if (opt == 'h') {
            revoke_usage(stdout);
            return -1;
        } else {
            return cli_usage_error("revoke", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("revoke", "unexpected argument '%s'", argv[optind]);
    if (a->wait_ms != NULL) {
        if (cli_parse_u64(a->wait_ms, &v) != TB_OK || v == 0 || v > 3600000)
            return cli_usage_error("revoke", "--wait-ms '%s': expected 1..3600000", a->wait_ms);
        a->job.wait_ms = (uint32_t)v;
    }
    if (a->key_path == NULL || a->record == NULL || a->reason == NULL)
        return cli_usage_error("revoke", "--key, --record and --reason are required");
    if (a->job.node == NULL && (a->job.out == NULL || a->genesis == NULL))
        return cli_usage_error("revoke", "--node URL is required (or --genesis and --out)");
    return CLI_EXIT_OK;
}

int cli_revoke(int argc, char **argv)
{
    struct revoke_args a = {.job = {.cmd = "revoke",
                                    .kind = WIRE_KIND_RECORD_REVOKE,
                                    .id_label = "revocation",
                                    .wait_ms = 30000}};
    struct wire_tx_body tb = {.kind = WIRE_KIND_RECORD_REVOKE};
    struct cli_chain chain;
    struct cr_key *key = NULL;
    struct tb_buf body;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = revoke_parse_args(argc, argv, &a);

    if (rv != CLI_EXIT_OK)
        return rv < 0 ? CLI_EXIT_OK : rv;
    TB_ASSERT(a.record != NULL);
    if (tb_hex_decode(a.record, strlen(a.record), tb.u.revoke.record_id, CR_HASH_BYTES) != TB_OK)
        return cli_usage_error("revoke", "--record: expected 64 hex digits");
    tb.u.revoke.reason = (struct tb_bytes){(const uint8_t *)a.reason, strlen(a.reason)};
    tb.u.revoke.revoked_at = (uint64_t)time(NULL);
    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    rv = cli_load_key(a.key_path, a.pass_path, &key, errmsg);
    if (rv == TB_OK)
        rv = issue_chain(a.genesis, a.job.node, &chain, errmsg);
    if (rv == TB_OK)
        rv = wire_tx_body_encode(&tb, &body, errmsg);
    if (rv == TB_OK)
        rv = cli_tx_deliver(&a.job, &chain, key, &body);
    else
        rv = cli_fail("revoke", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    tb_buf_release(&body);
    cr_key_free(key);
    return rv;
}
