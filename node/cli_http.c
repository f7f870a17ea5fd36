/*
 * A small synchronous HTTP client for the CLI (`tongban agency add`, `issue`, `revoke`,
 * `status`): one request at a time on a private libevent base that runs only until that
 * request completes, on top of the node's asynchronous peer client (node/peer.c stays the
 * only libcurl user).
 *
 * It must never retry a POST on its own (the caller decides: resubmitting an envelope is
 * idempotent, but the caller should know it happened), never follow redirects, and never
 * wait without a bound: every request has a timeout.
 */
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include <jansson.h>

#include "peer.h"
#include "tb_assert.h"

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

int cli_http_request(const char *method, const char *url, const char *content_type,
                     const void *body, size_t len, uint32_t timeout_ms, long *status,
                     struct tb_buf *out, char *errmsg)
{
    struct cli_http_wait w = {.out = out};
    struct event_base *base = NULL;
    struct peer_client *client = NULL;
    struct peer_options options;
    char ct_header[128];
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    int rv;

    TB_ASSERT(method != NULL);
    TB_ASSERT(url != NULL);
    TB_ASSERT(timeout_ms > 0);
    *status = 0;
    if (content_type != NULL) {
        snprintf(ct_header, sizeof(ct_header), "Content-Type: %s", content_type);
        headers[1] = ct_header;
    }
    base = event_base_new();
    if (base == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "cannot create an event loop");
    peer_options_default(&options);
    options.response_bytes_max = out->max;
    rv = peer_client_new(base, &options, &client, errmsg);
    if (rv != TB_OK)
        goto done;
    rv = peer_request(client, method, url, headers, body, len, timeout_ms, NULL, cli_http_done, &w);
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
    if (w.rc != TB_OK) {
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

int cli_http_json(const char *method, const char *url, const char *content_type, const void *body,
                  size_t len, uint32_t timeout_ms, long *status, json_t **out, char *errmsg)
{
    struct tb_buf raw;
    json_error_t jerr;
    json_t *doc = NULL;
    int rv;

    TB_ASSERT(out != NULL);
    *out = NULL;
    tb_buf_init(&raw, CLI_HTTP_RESPONSE_MAX);
    rv = cli_http_request(method, url, content_type, body, len, timeout_ms, status, &raw, errmsg);
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
