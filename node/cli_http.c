/*
 * A small synchronous HTTP client for the CLI (`tongban agency add`, `issue`, `revoke`,
 * `status`): one request at a time on a private libevent base that runs only until that
 * request completes, on top of the node's asynchronous peer client (node/peer.c stays the
 * only libcurl user).
 *
 * It must never retry a POST on its own (the caller decides: resubmitting an envelope is
 * idempotent, but the caller should know it happened), never follow redirects, and never
 * wait without a bound: every request has a timeout.
 *
 * https nodes (docs/operators.md "TLS"): a node's certificate is self-signed, so the CLI
 * pins its key, read from the node's tls.crt: TONGBAN_NODE_CERT=DIR/tls.crt, or the
 * [peer] tls_cert_file of the config a command was given (cli_http_set_node_cert). Without
 * either, https is checked against the system CAs and host name (a node behind a proxy
 * with a real certificate). It never turns certificate checks off.
 *
 * Signed agency requests (cli_http_signed_json, docs/authentication.md): the request is
 * signed here with the agency key under the RFC 9421 profile "tb"; the key never leaves the
 * process and a signature is good for one request (fresh nonce, 60 s lifetime).
 */
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include <jansson.h>

#include "cr_httpsig.h"
#include "cr_tls.h"
#include "peer.h"
#include "tb_assert.h"

#define CLI_HTTP_EXTRA_MAX 4 /* extra header lines: the signature fields */
#define CLI_HTTP_SIG_LIFETIME_S 60

#define CLI_HTTP_CERT_MAX (64u * 1024u)

static const char *cli_http_node_cert; /* cli_http_set_node_cert; else TONGBAN_NODE_CERT */

void cli_http_set_node_cert(const char *path)
{
    cli_http_node_cert = path;
}

/* For an https URL: the pin from the node's certificate file, or TB_ENOTFOUND (no file). */
static int cli_http_pin(const char *url, uint8_t pin[PEER_PIN_BYTES], char *errmsg)
{
    uint8_t pem[CLI_HTTP_CERT_MAX];
    const char *path = cli_http_node_cert;
    if (strncmp(url, "https://", 8) != 0)
        return TB_ENOTFOUND;
    if (path == NULL || path[0] == '\0')
        path = getenv("TONGBAN_NODE_CERT");
    if (path == NULL || path[0] == '\0')
        return TB_ENOTFOUND;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot read the node certificate %s", path);
    size_t n = fread(pem, 1, sizeof(pem), f);
    fclose(f);
    _Static_assert(PEER_PIN_BYTES == CR_TLS_PUBKEY_BYTES, "Ed25519 pins");
    int rv = cr_tls_cert_pem_ed25519_public(pem, n, pin, errmsg);
    if (rv != TB_OK)
        tb_errmsg_wrapf(errmsg, "node certificate %s", path);
    return rv;
}

struct cli_http_wait
{
    bool done;
    int rc;
    long status;
    struct tb_buf *out;
    int append_rc;
    char error[TB_ERRMSG_SIZE];
};

static void cli_http_done(const struct peer_result *result, void *arg)
{
    struct cli_http_wait *w = arg;
    TB_ASSERT(!w->done);
    w->done = true;
    w->rc = result->rc;
    w->status = result->status;
    snprintf(w->error, sizeof(w->error), "%s", result->error != NULL ? result->error : "");
    if (result->rc == TB_OK && result->body_len > 0)
        w->append_rc = tb_buf_append(w->out, result->body, result->body_len);
}

/* Starts the request, pinned to the node's certificate key when pin is not NULL. */
static int cli_http_start(struct peer_client *client, const uint8_t *pin, const char *method,
                          const char *url, const char *const *headers, const void *body, size_t len,
                          uint32_t timeout_ms, struct cli_http_wait *w)
{
    if (pin != NULL)
        return peer_request_pinned(client, pin, method, url, headers, body, len, timeout_ms, NULL,
                                   cli_http_done, w);
    return peer_request(client, method, url, headers, body, len, timeout_ms, NULL, cli_http_done,
                        w);
}

/* cli_http_request with up to CLI_HTTP_EXTRA_MAX more header lines (NULL-terminated). */
static int cli_http_request_h(const char *method, const char *url, const char *content_type,
                              const char *const *extra, const void *body, size_t len,
                              uint32_t timeout_ms, long *status, struct tb_buf *out, char *errmsg)
{
    struct cli_http_wait w = {.out = out};
    struct event_base *base = NULL;
    struct peer_client *client = NULL;
    struct peer_options options;
    char ct_header[128];
    const char *headers[3 + CLI_HTTP_EXTRA_MAX] = {"Accept: application/json", NULL};
    size_t h = 1;
    int rv;

    TB_ASSERT(method != NULL);
    TB_ASSERT(url != NULL);
    TB_ASSERT(timeout_ms > 0);
    *status = 0;
    if (content_type != NULL) {
        snprintf(ct_header, sizeof(ct_header), "Content-Type: %s", content_type);
        headers[h++] = ct_header;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        TB_ASSERT(i < CLI_HTTP_EXTRA_MAX);
        headers[h++] = extra[i];
    }
    headers[h] = NULL;
    base = event_base_new();
    if (base == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "cannot create an event loop");
    peer_options_default(&options);
    options.response_bytes_max = out->max;
    rv = peer_client_new(base, &options, &client, errmsg);
    if (rv != TB_OK)
        goto done;
    uint8_t pin[PEER_PIN_BYTES];
    rv = cli_http_pin(url, pin, errmsg);
    if (rv != TB_OK && rv != TB_ENOTFOUND)
        goto done;
    rv = cli_http_start(client, rv == TB_OK ? pin : NULL, method, url, headers, body, len,
                        timeout_ms, &w);
    if (rv != TB_OK) {
        rv = tb_fail(errmsg, rv, "%s %s: %s", method, url, peer_client_errmsg(client));
        goto done;
    }
    /* The request has its own timeout, so this loop ends; each turn waits for one event. */
    while (!w.done) {
        if (event_base_loop(base, EVLOOP_ONCE) < 0) {
            rv = tb_fail(errmsg, TB_EIO, "%s %s: event loop failed", method, url);
            goto done;
        }
    }
    if (w.rc != TB_OK && strncmp(url, "https://", 8) == 0 &&
        cli_http_pin(url, pin, NULL) != TB_OK) {
        rv = tb_fail(errmsg, w.rc,
                     "%s %s: %s (a node's self-signed certificate: set "
                     "TONGBAN_NODE_CERT=DIR/tls.crt, or use its [api] local_port)",
                     method, url, w.error[0] ? w.error : tb_strerror(w.rc));
    } else if (w.rc != TB_OK) {
        rv = tb_fail(errmsg, w.rc, "%s %s: %s", method, url,
                     w.error[0] ? w.error : tb_strerror(w.rc));
    } else if (w.append_rc != TB_OK) {
        rv = tb_fail(errmsg, w.append_rc, "%s %s: response larger than %zu bytes", method, url,
                     out->max);
    } else {
        *status = w.status;
        rv = TB_OK;
    }
done:
    peer_client_free(client); /* a request still in flight gets its "cancelled" callback */
    event_base_free(base);
    return rv;
}

int cli_http_request(const char *method, const char *url, const char *content_type,
                     const void *body, size_t len, uint32_t timeout_ms, long *status,
                     struct tb_buf *out, char *errmsg)
{
    return cli_http_request_h(method, url, content_type, NULL, body, len, timeout_ms, status, out,
                              errmsg);
}

/* The "message" of a JSON error answer, or a short excerpt of a non-JSON body. */
static void cli_http_error_text(const json_t *doc, const struct tb_buf *raw, char *out,
                                size_t out_size)
{
    const json_t *err = json_object_get(doc, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *message = json_string_value(json_object_get(err, "message"));
    if (code != NULL || message != NULL) {
        snprintf(out, out_size, "%s%s%s", code != NULL ? code : "", code && message ? ": " : "",
                 message != NULL ? message : "");
        return;
    }
    snprintf(out, out_size, "%.*s", (int)(raw->len < 200 ? raw->len : 200),
             raw->data != NULL ? (const char *)raw->data : "");
}

static int cli_http_json_h(const char *method, const char *url, const char *content_type,
                           const char *const *extra, const void *body, size_t len,
                           uint32_t timeout_ms, long *status, json_t **out, char *errmsg)
{
    struct tb_buf raw;
    json_error_t jerr;
    json_t *doc = NULL;
    int rv;

    TB_ASSERT(out != NULL);
    *out = NULL;
    tb_buf_init(&raw, CLI_HTTP_RESPONSE_MAX);
    rv = cli_http_request_h(method, url, content_type, extra, body, len, timeout_ms, status, &raw,
                            errmsg);
    if (rv != TB_OK) {
        tb_buf_release(&raw);
        return rv;
    }
    if (raw.len > 0)
        doc = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        rv = tb_fail(errmsg, TB_EMALFORMED, "%s %s: HTTP %ld with a body that is not JSON: %.*s",
                     method, url, *status, (int)(raw.len < 200 ? raw.len : 200),
                     raw.data != NULL ? (const char *)raw.data : "");
        tb_buf_release(&raw);
        return rv;
    }
    if (*status >= 400) {
        char text[TB_ERRMSG_SIZE];
        cli_http_error_text(doc, &raw, text, sizeof(text));
        tb_errmsg_setf(errmsg, "HTTP %ld: %s", *status, text);
    }
    tb_buf_release(&raw);
    *out = doc;
    return TB_OK;
}

int cli_http_json(const char *method, const char *url, const char *content_type, const void *body,
                  size_t len, uint32_t timeout_ms, long *status, json_t **out, char *errmsg)
{
    return cli_http_json_h(method, url, content_type, NULL, body, len, timeout_ms, status, out,
                           errmsg);
}

/* ---------------------------------------------------- signed agency requests */

/*
 * Splits an http(s) URL into the path (from the first '/' after the authority, "/" when
 * there is none) and the query (after '?', "" when none), without any fragment.
 */
static int cli_http_url_split(const char *url, char *path, size_t path_size, char *query,
                              size_t query_size, char *errmsg)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return tb_fail(errmsg, TB_EINVAL, "'%s' is not an http(s) URL", url);
    p += 3;
    size_t auth = strcspn(p, "/?#");
    p += auth;
    size_t plen = strcspn(p, "?#");
    const char *q = p[plen] == '?' ? p + plen + 1 : p + plen;
    size_t qlen = strcspn(q, "#");
    if (plen + 2 > path_size || qlen + 1 > query_size)
        return tb_fail(errmsg, TB_EINVAL, "URL too long to sign");
    if (plen == 0)
        snprintf(path, path_size, "/");
    else
        snprintf(path, path_size, "%.*s", (int)plen, p);
    snprintf(query, query_size, "%.*s", (int)qlen, q);
    return TB_OK;
}

/* The four header lines of the signed request (docs/authentication.md 1.1). */
struct cli_http_sig_lines
{
    char digest[sizeof("Content-Digest: ") + CR_HTTPSIG_DIGEST_TEXT_SIZE];
    char agency[sizeof("Tongban-Agency: /") + CR_HTTPSIG_CITY_MAX + CR_HTTPSIG_AGENCY_MAX];
    char input[sizeof("Signature-Input: ") + CR_HTTPSIG_INPUT_TEXT_SIZE];
    char sig[sizeof("Signature: ") + CR_HTTPSIG_SIG_TEXT_SIZE];
};

static int cli_http_sign(const struct cli_agency_signer *signer, const char *method,
                         const char *url, const void *body, size_t len,
                         struct cli_http_sig_lines *lines, char *errmsg)
{
    char path[CR_HTTPSIG_PATH_MAX + 2], query[CR_HTTPSIG_QUERY_MAX + 1];
    struct cr_httpsig_signed s;
    struct timespec now;
    int rv = cli_http_url_split(url, path, sizeof(path), query, sizeof(query), errmsg);
    if (rv != TB_OK)
        return rv;
    struct cr_httpsig_request req = {
        .method = method, .path = path, .query = query, .body = body, .body_len = len};
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t created = (int64_t)now.tv_sec;
    rv = cr_httpsig_sign(signer->key, &req, signer->city, signer->agency, created,
                         created + CLI_HTTP_SIG_LIFETIME_S, NULL, 0, &s, errmsg);
    if (rv != TB_OK)
        return rv;
    snprintf(lines->digest, sizeof(lines->digest), "Content-Digest: %s", s.content_digest);
    snprintf(lines->agency, sizeof(lines->agency), "Tongban-Agency: %s/%s", signer->city,
             signer->agency);
    snprintf(lines->input, sizeof(lines->input), "Signature-Input: %s", s.signature_input);
    snprintf(lines->sig, sizeof(lines->sig), "Signature: %s", s.signature);
    return TB_OK;
}

int cli_http_signed_json(const struct cli_agency_signer *signer, const char *method,
                         const char *url, const char *content_type, const void *body, size_t len,
                         uint32_t timeout_ms, long *status, json_t **out, char *errmsg)
{
    struct cli_http_sig_lines lines;
    TB_ASSERT(signer != NULL && signer->key != NULL);
    TB_ASSERT(signer->city != NULL && signer->agency != NULL);
    TB_ASSERT(method != NULL && url != NULL && out != NULL);
    *out = NULL;
    *status = 0;
    /* curl sends no body with GET: sign what goes out. */
    size_t sent = strcmp(method, "POST") == 0 ? len : 0;
    int rv = cli_http_sign(signer, method, url, body, sent, &lines, errmsg);
    if (rv != TB_OK)
        return rv;
    const char *extra[CLI_HTTP_EXTRA_MAX + 1] = {lines.digest, lines.agency, lines.input, lines.sig,
                                                 NULL};
    return cli_http_json_h(method, url, content_type, extra, body, len, timeout_ms, status, out,
                           errmsg);
}
