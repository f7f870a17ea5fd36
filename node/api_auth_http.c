/*
 * The HTTP side of the agency request gate (node/api_auth.h): builds the request view of
 * crypto/cr_httpsig.h from an http_req (method, raw path, raw query, body, every field line
 * of a name, so that a repeated field is refused) and answers refusals with the JSON error
 * shape. Kept apart from api_auth.c so that the checks link without the node core.
 *
 * Must never: reply on success (the handler does), or read a header value after its return.
 */
#include <string.h>
#include <time.h>

#include "api_auth.h"
#include "api_int.h"
#include "tb_assert.h"

static const char *api_auth_method_name(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "GET";
    case HTTP_POST:
        return "POST";
    case HTTP_HEAD:
        return "HEAD";
    case HTTP_OPTIONS:
        return "OPTIONS";
    }
    return "";
}

static const char *api_auth_header(void *ctx, const char *name, size_t index)
{
    return http_req_header_at(ctx, name, index);
}

int api_auth_agency(struct http_req *req, struct node *n, struct api_agency *out)
{
    struct api_auth_refusal r;
    struct timespec ts;
    TB_ASSERT(req != NULL && n != NULL && out != NULL);
    struct api_auth *a = node_api_auth(n);
    if (a == NULL) {
        http_reply_error(req, 503, "unavailable", "the agency gate is not ready");
        return TB_ESTATE;
    }
    struct tb_bytes body = http_req_body(req);
    const char *query = http_req_raw_query(req);
    struct cr_httpsig_request hreq = {
        .method = api_auth_method_name(http_req_method(req)),
        .path = http_req_path(req),
        .query = query,
        .body = body.ptr,
        .body_len = body.len,
        .header = api_auth_header,
        .header_ctx = req,
    };
    clock_gettime(CLOCK_REALTIME, &ts);
    int rv = api_auth_check(a, node_ledger(n), node_store(n), &hreq, (int64_t)ts.tv_sec, out, &r);
    if (rv == TB_OK)
        return TB_OK;
    if (r.status == 503 && rv == TB_ELIMIT &&
        http_reply_header(req, "Retry-After", "60") != TB_OK) {
        /* out of memory: the 503 goes out without Retry-After */
    }
    http_reply_error(req, r.status, r.code, "%s", r.message);
    return rv;
}
