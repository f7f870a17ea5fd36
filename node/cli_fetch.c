/*
 * `tongban fetch`: an agency fetches a document another city holds, with the citizen's
 * consent token (docs/consent.md). It signs an access.audit tx here with its own key (record,
 * itself as requester, the token's purpose and consent id, now), and asks its own city's node
 * (POST /v1/documents/fetch, a signed agency request, D9). That node forwards to the holding
 * node, which commits the audit before it answers; the document is written to --out only
 * after the node checked it against the ledger's doc_digest (and this command checks again).
 *
 * Must never: print the document, or write it anywhere but --out (0600).
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
#include "tb_buf.h"
#include "tb_hex.h"
#include "wire.h"

#define FETCH_TIMEOUT_MS 40000u /* the holding node waits up to 20 s for the audit's commit */
#define FETCH_DOCUMENT_BYTES_MAX (4u * 1024u * 1024u)

static void fetch_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban fetch --agency-key FILE --city C --agency A --node URL\n"
            "                     --consent FILE RECORD_ID --out FILE [--passphrase-file F]\n"
            "\n"
            "Fetches a record's document from the city that holds it, through this agency's\n"
            "own node, with a consent token (from `tongban consent --out` or the base64 token\n"
            "of POST /v1/consents). The access is committed to the ledger before the document\n"
            "is returned. Prints the audit tx id and height; writes the document to --out.\n"
            "\n"
            "  --audit FILE        send this signed access.audit envelope instead of signing one\n"
            "                      (an agency whose key signs elsewhere)\n"
            "  --audit-out FILE    keep the signed access.audit envelope that was sent\n");
}

struct fetch_args
{
    const char *key, *pass, *city, *agency, *node, *consent, *out, *record;
    const char *audit_in, *audit_out; /* a pre-signed audit to send / where to keep ours */
};

static int fetch_parse(int argc, char **argv, struct fetch_args *a)
{
    static const struct option options[] = {
        {"agency-key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"city", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"node", required_argument, NULL, 'n'},
        {"consent", required_argument, NULL, 'C'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"audit", required_argument, NULL, 'A'},
        {"audit-out", required_argument, NULL, 'O'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_str_opt strings[] = {
        {'k', &a->key},    {'p', &a->pass},     {'c', &a->city},
        {'a', &a->agency}, {'n', &a->node},     {'C', &a->consent},
        {'o', &a->out},    {'A', &a->audit_in}, {'O', &a->audit_out},
    };
    int rv = cli_str_opts_parse(argc, argv, options, strings, sizeof(strings) / sizeof(strings[0]),
                                "fetch", fetch_usage);
    if (rv != CLI_EXIT_OK)
        return rv;
    if (optind + 1 != argc)
        return cli_usage_error("fetch", "expected one RECORD_ID");
    a->record = argv[optind];
    if (!a->key || !a->city || !a->agency || !a->node || !a->consent || !a->out)
        return cli_usage_error("fetch",
                               "--agency-key, --city, --agency, --node, --consent and "
                               "--out are required");
    return CLI_EXIT_OK;
}

/* The access.audit for record_id under the token, signed into envelope. */
static int fetch_audit(const struct fetch_args *a, const struct cli_chain *chain,
                       struct cr_key *key, const struct tb_buf *consent,
                       const uint8_t record_id[CR_HASH_BYTES], struct tb_buf *envelope,
                       uint8_t audit_id[CR_HASH_BYTES], char *errmsg)
{
    struct wire_consent_signed sc;
    struct wire_consent c;
    struct wire_tx_body body = {.kind = WIRE_KIND_ACCESS_AUDIT};
    struct tb_buf bb;
    int rv = wire_consent_signed_decode(consent->data, consent->len, &sc, errmsg);
    if (rv == TB_OK)
        rv = wire_consent_decode(sc.token.ptr, sc.token.len, &c, errmsg);
    if (rv != TB_OK)
        return rv;
    struct wire_access_audit *au = &body.u.audit;
    memcpy(au->record_id, record_id, CR_HASH_BYTES);
    au->requester_city = (struct tb_bytes){(const uint8_t *)a->city, strlen(a->city)};
    au->requester_agency = (struct tb_bytes){(const uint8_t *)a->agency, strlen(a->agency)};
    au->purpose = c.purpose;
    wire_consent_id(chain->suite, chain->chain_id, sc.token.ptr, sc.token.len, au->consent_id);
    au->at = (uint64_t)time(NULL);
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    rv = wire_tx_body_encode(&body, &bb, errmsg);
    if (rv == TB_OK)
        rv = cli_tx_sign(chain, key, WIRE_KIND_ACCESS_AUDIT, &bb, envelope, audit_id, errmsg);
    tb_buf_release(&bb);
    return rv;
}

/* Base64 of n bytes (malloc'd; NULL when out of memory). */
static char *fetch_b64(const uint8_t *p, size_t n)
{
    char *s = malloc(TB_BASE64_ENCODED_SIZE(n));
    if (s != NULL)
        tb_base64_encode(p, n, s);
    return s;
}

/* POST /v1/documents/fetch, signed; the answer's document into doc. */
static int fetch_request(const struct fetch_args *a, struct cr_key *key,
                         const struct tb_buf *consent, const struct tb_buf *envelope,
                         json_t **answer, char *errmsg)
{
    struct cli_agency_signer signer = {.key = key, .city = a->city, .agency = a->agency};
    char url[CLI_URL_MAX];
    long status = 0;
    char *cb = fetch_b64(consent->data, consent->len),
         *eb = fetch_b64(envelope->data, envelope->len);
    json_t *req = cb != NULL && eb != NULL ? json_pack("{s:s,s:s,s:s}", "record_id", a->record,
                                                       "consent", cb, "audit", eb)
                                           : NULL;
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    int rv = text != NULL ? TB_OK : tb_fail(errmsg, TB_ENOMEM, "out of memory");
    if (rv == TB_OK &&
        snprintf(url, sizeof(url), "%s/v1/documents/fetch", a->node) >= (int)sizeof(url))
        rv = tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    if (rv == TB_OK)
        rv = cli_http_signed_json(&signer, "POST", url, "application/json", text, strlen(text),
                                  FETCH_TIMEOUT_MS, &status, answer, errmsg);
    if (rv == TB_OK && status != 200)
        rv = status >= 500 ? TB_EIO : TB_EAUTH; /* errmsg: "HTTP 403: code: message" */
    free(text);
    json_decref(req);
    free(cb);
    free(eb);
    return rv;
}

/* The record's doc_digest (hex) as the node's ledger has it: GET /v1/records/{id}. */
static int fetch_digest(const struct fetch_args *a, char hex[2 * CR_HASH_BYTES + 1], char *errmsg)
{
    char url[CLI_URL_MAX];
    json_t *doc = NULL;
    long status = 0;
    if (snprintf(url, sizeof(url), "%s/v1/records/%s", a->node, a->record) >= (int)sizeof(url))
        return tb_fail(errmsg, TB_ELIMIT, "node URL too long");
    int rv = cli_http_json("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    const char *d =
        json_string_value(json_object_get(json_object_get(doc, "record"), "doc_digest"));
    if (rv == TB_OK && (status != 200 || d == NULL || strlen(d) != 2 * CR_HASH_BYTES))
        rv = tb_fail(errmsg, TB_EIO, "GET %s: no doc_digest (HTTP %ld)", url, status);
    if (rv == TB_OK)
        memcpy(hex, d, 2 * CR_HASH_BYTES + 1);
    json_decref(doc);
    return rv;
}

/* Decodes the answer's document, checks H(document) against the record (the node did too). */
static int fetch_write(const struct fetch_args *a, const struct cli_chain *chain, json_t *answer,
                       char *errmsg)
{
    char want[2 * CR_HASH_BYTES + 1];
    const char *b64 = json_string_value(json_object_get(answer, "document"));
    struct tb_buf doc;
    size_t len = 0;
    if (b64 == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "the node's answer has no document");
    tb_buf_init(&doc, FETCH_DOCUMENT_BYTES_MAX);
    int rv = tb_buf_reserve(&doc, FETCH_DOCUMENT_BYTES_MAX);
    if (rv == TB_OK &&
        tb_base64_decode(b64, strlen(b64), doc.data, FETCH_DOCUMENT_BYTES_MAX, &len) != TB_OK)
        rv = tb_fail(errmsg, TB_EMALFORMED, "the node's document is not base64");
    uint8_t digest[CR_HASH_BYTES];
    char hex[2 * CR_HASH_BYTES + 1];
    cr_hash(chain->suite, len > 0 ? doc.data : (const uint8_t *)"", len, digest);
    tb_hex_encode(digest, CR_HASH_BYTES, hex);
    if (rv == TB_OK)
        rv = fetch_digest(a, want, errmsg);
    if (rv == TB_OK && strcmp(want, hex) != 0)
        rv = tb_fail(errmsg, TB_EBADSIG, "the document's digest %s is not the record's %s", hex,
                     want);
    if (rv == TB_OK)
        rv = cli_write_file(a->out, doc.data, len, 0600, errmsg);
    if (rv == TB_OK) {
        printf("audit id   %s\nheight     %" PRId64
               "\nholder     %s\ndocument   %s (%zu bytes, "
               "H = %s)\n",
               json_string_value(json_object_get(answer, "audit_id")),
               (int64_t)json_integer_value(json_object_get(answer, "audit_height")),
               json_string_value(json_object_get(answer, "holder")), a->out, len, hex);
    }
    tb_wipe(doc.data, len);
    tb_buf_release(&doc);
    return rv;
}

int cli_fetch(int argc, char **argv)
{
    struct fetch_args a = {0};
    struct cli_chain chain;
    struct cr_key *key = NULL;
    struct tb_buf consent, envelope;
    uint8_t record_id[CR_HASH_BYTES], audit_id[CR_HASH_BYTES];
    json_t *answer = NULL;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = fetch_parse(argc, argv, &a);
    if (rv != CLI_EXIT_OK)
        return rv < 0 ? CLI_EXIT_OK : rv;
    if (strlen(a.record) != 2 * CR_HASH_BYTES ||
        tb_hex_decode(a.record, strlen(a.record), record_id, CR_HASH_BYTES) != TB_OK)
        return cli_usage_error("fetch", "RECORD_ID: expected 64 hex digits");
    tb_buf_init(&consent, CLI_CONSENT_TOKEN_BYTES_MAX);
    tb_buf_init(&envelope, WIRE_TX_BYTES_MAX);
    rv = cli_consent_token_load(a.consent, &consent, errmsg);
    if (rv == TB_OK)
        rv = cli_load_key(a.key, a.pass, &key, errmsg);
    if (rv == TB_OK)
        rv = cli_chain_from_node(a.node, &chain, errmsg);
    if (rv == TB_OK && a.audit_in != NULL)
        rv = cli_read_file_max(a.audit_in, WIRE_TX_BYTES_MAX, &envelope, errmsg);
    else if (rv == TB_OK)
        rv = fetch_audit(&a, &chain, key, &consent, record_id, &envelope, audit_id, errmsg);
    if (rv == TB_OK && a.audit_out != NULL)
        rv = cli_write_file(a.audit_out, envelope.data, envelope.len, 0600, errmsg);
    if (rv == TB_OK)
        rv = fetch_request(&a, key, &consent, &envelope, &answer, errmsg);
    if (rv == TB_OK)
        rv = fetch_write(&a, &chain, answer, errmsg);
    json_decref(answer);
    tb_buf_release(&consent);
    tb_buf_release(&envelope);
    cr_key_free(key);
    if (rv != TB_OK)
        return cli_fail("fetch", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    return CLI_EXIT_OK;
}
