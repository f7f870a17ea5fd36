/*
 * node/http.c over real sockets on 127.0.0.1: routing, JSON error shape, limits,
 * slowloris, connection cap, malformed requests, strict JSON bodies, deferred replies
 * and clients that leave before them. Raw non-blocking sockets play the client while
 * the test pumps the server's event loop; every wait is bounded by a deadline.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http.h"
#include "t_tls.h"
#include "t_util.h"
#include "tb_alloc.h"

/* ---- harness ---- */

struct t_srv
{
    struct event_base *base;
    struct http_server *srv;
    struct http_req *held; /* a deferred request the test answers later */
    int gone_calls;
    int hits;
};

static uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs ready events for about ms milliseconds. */
static void t_pump(struct event_base *base, int ms)
{
    uint64_t end = t_now_ms() + (uint64_t)ms;
    do {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    } while (t_now_ms() < end);
}

static int t_connect(uint16_t port)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The kernel completes the handshake from the backlog; no loop needed. */
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

/* Copies a string with its NUL (the tests' bounded strcpy). */
static void t_put(char *dst, const char *src)
{
    memcpy(dst, src, strlen(src) + 1);
}

static void t_send(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 5);
            continue;
        }
        if (n < 0)
            return; /* the server closed on us; the reply tells the rest */
        off += (size_t)n;
    }
}

struct t_resp
{
    char raw[1 << 17];
    size_t len;
    bool eof;
    int status;
    const char *body;
    size_t body_len;
};

/* True when raw holds a full response (by Content-Length) or the peer closed. */
static bool t_resp_complete(struct t_resp *r, bool head)
{
    r->raw[r->len] = '\0';
    char *end = strstr(r->raw, "\r\n\r\n");
    if (end == NULL)
        return false;
    sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
    r->body = end + 4;
    size_t have = r->len - (size_t)(r->body - r->raw);
    char *cl = strcasestr(r->raw, "\r\nContent-Length:");
    size_t want = (cl != NULL && cl < end && !head) ? strtoul(cl + 17, NULL, 10) : 0;
    r->body_len = have < want ? have : want;
    return have >= want;
}

/* Pumps the loop and reads fd until a full response, EOF or the deadline. */
static void t_read_resp(struct t_srv *t, int fd, struct t_resp *r, int ms, bool head)
{
    uint64_t end = t_now_ms() + (uint64_t)ms;
    memset(r, 0, sizeof(*r));
    while (t_now_ms() < end) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            if (t_resp_complete(r, head))
                return;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            r->eof = true;
            t_resp_complete(r, head);
            return;
        }
        usleep(500);
    }
}

static void t_exchange(struct t_srv *t, const char *req, struct t_resp *r)
{
    int fd = t_connect(http_server_port(t->srv));
    t_send(fd, req, strlen(req));
    t_read_resp(t, fd, r, 3000, strncmp(req, "HEAD ", 5) == 0);
    close(fd);
}

/* Asserts DESIGN 6's exact shape {"error": {"code": code, "message": "..."}}. */
static void t_assert_error_shape(const struct t_resp *r, const char *code)
{
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 1);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 2);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    json_decref(j);
}

/* ---- handlers ---- */

static void h_record(struct http_req *req, void *arg)
{
    struct t_srv *t = arg;
    const char *v = http_req_query(req, "v");
    t->hits++;
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:s?}", "id", http_req_param(req, "id"), "path",
                              http_req_path(req), "v", v));
}

static void h_proof(struct http_req *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s}", "proof_of", http_req_param(req, "id"), "h",
                              http_req_param(req, "h")));
}

static void h_echo_json(struct http_req *req, void *arg)
{
    json_t *j = NULL;
    (void)arg;
    if (http_body_json(req, &j) != TB_OK)
        return; /* already answered */
    http_reply_json(req, 200, j);
}

static void h_bytes(struct http_req *req, void *arg)
{
    (void)arg;
    struct tb_bytes b = http_req_body(req);
    http_reply_bytes(req, 200, "application/octet-stream", b.ptr, b.len);
}

static void h_typed(struct http_req *req, void *arg)
{
    (void)arg;
    if (http_body_type_check(req) != TB_OK)
        return; /* answered 415 */
    http_reply_json_text(req, 200, "{}");
}

static void t_gone(struct http_req *req, void *arg)
{
    struct t_srv *t = arg;
    assert_ptr_equal(req, t->held);
    assert_true(http_req_gone(req));
    t->gone_calls++;
}

static void h_defer(struct http_req *req, void *arg)
{
    struct t_srv *t = arg;
    assert_null(t->held);
    t->held = req;
    http_req_defer(req, t_gone, t);
}

static void t_setup(struct t_srv *t, const struct http_limits *limits)
{
    char err[TB_ERRMSG_SIZE] = "";
    memset(t, 0, sizeof(*t));
    t->base = event_base_new();
    assert_non_null(t->base);
    assert_int_equal(http_server_start(t->base, "127.0.0.1:0", limits, &t->srv, err), TB_OK);
    assert_true(http_server_port(t->srv) > 0);
    assert_int_equal(http_server_route(t->srv, HTTP_GET, "/v1/records/{id}", h_record, t, err),
                     TB_OK);
    assert_int_equal(
        http_server_route(t->srv, HTTP_GET, "/v1/records/{id}/proof/{h}", h_proof, t, err), TB_OK);
    assert_int_equal(http_server_route(t->srv, HTTP_POST, "/v1/echo", h_echo_json, t, err), TB_OK);
    assert_int_equal(http_server_route(t->srv, HTTP_POST, "/v1/bytes", h_bytes, t, err), TB_OK);
    assert_int_equal(http_server_route(t->srv, HTTP_POST, "/v1/typed", h_typed, t, err), TB_OK);
    assert_int_equal(http_server_route(t->srv, HTTP_GET | HTTP_POST, "/v1/defer", h_defer, t, err),
                     TB_OK);
}

static void t_teardown(struct t_srv *t)
{
    struct http_server_stats st;
    /* Every test closes its clients: the close callbacks must have balanced the books. */
    uint64_t end = t_now_ms() + 1000;
    do {
        t_pump(t->base, 5);
        http_server_stats_get(t->srv, &st);
    } while (st.connections_open > (t->held != NULL ? 1u : 0u) && t_now_ms() < end);
    assert_int_equal(st.connections_open, t->held != NULL ? 1 : 0);
    http_server_free(t->srv);
    if (t->held != NULL)
        http_reply_error(t->held, 503, "shutdown", "server stopped");
    event_base_free(t->base);
}

/* ---- tests ---- */

static void routing_params_404_405(void **state)
{
    struct t_srv t;
    struct t_resp r;
    (void)state;
    t_setup(&t, NULL);

    t_exchange(&t, "GET /v1/records/a%20b?v=x%2By+z HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "a b");
    assert_string_equal(json_string_value(json_object_get(j, "v")), "x+y z");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/v1/records/a%20b");
    json_decref(j);
    assert_non_null(strcasestr(r.raw, "Content-Type: application/json"));

    t_exchange(&t, "GET /v1/records/7/proof/9 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"proof_of\":\"7\""));
    assert_non_null(strstr(r.body, "\"h\":\"9\""));

    /* Exact matching: no trailing-slash folding, no empty params, no prefix matches. */
    const char *missing[] = {"/v1/records/",
                             "/v1/records/7/",
                             "/v1/records",
                             "/v1/records/7/proof",
                             "/v1",
                             "/",
                             "/v1/records/7/proof/9/x",
                             "/V1/records/7"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", missing[i]);
        t_exchange(&t, req, &r);
        assert_int_equal(r.status, 404);
        t_assert_error_shape(&r, "not_found");
    }

    t_exchange(&t, "POST /v1/records/7 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    t_assert_error_shape(&r, "method_not_allowed");
    assert_non_null(strstr(r.raw, "Allow: GET, HEAD, OPTIONS"));

    t_exchange(&t, "HEAD /v1/records/7 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);

    /* HTTP/1.0 and Connection: close: the server closes after the answer. */
    int fd = t_connect(http_server_port(t.srv));
    t_send(fd, "GET /v1/records/10 HTTP/1.0\r\n\r\n", 31);
    t_read_resp(&t, fd, &r, 2000, false);
    assert_int_equal(r.status, 200);
    t_read_resp(&t, fd, &r, 2000, false);
    assert_true(r.eof); /* closed by the server, not by us */
    close(fd);
    fd = t_connect(http_server_port(t.srv));
    const char *cl = "GET /v1/records/11 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    t_send(fd, cl, strlen(cl));
    t_read_resp(&t, fd, &r, 2000, false);
    assert_int_equal(r.status, 200);
    t_read_resp(&t, fd, &r, 2000, false);
    assert_true(r.eof);
    close(fd);
    t.hits -= 2;

    t_exchange(&t, "OPTIONS /v1/echo HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.raw, "Allow: POST, OPTIONS"));

    /* A method evhttp does not allow at all. */
    t_exchange(&t, "PUT /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r);
    assert_true(r.status == 405 || r.status == 501);
    assert_int_equal(t.hits, 2); /* the GET and the HEAD */
    t_teardown(&t);
}

static void strict_path_and_query(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    (void)state;
    http_limits_default(&l);
    l.query_params_max = 3;
    t_setup(&t, &l);
    static const struct
    {
        const char *target;
        int status;
        const char *code;
    } cases[] = {
        {"/v1/records/%zz", 400, "bad_path"},
        {"/v1/records/a%2Fb", 400, "bad_path"},      /* no decoded '/' in a segment */
        {"/v1/records/a%00b", 400, "bad_path"},      /* no NUL */
        {"/v1/records/%C3%28", 400, "bad_path"},     /* invalid UTF-8 */
        {"/v1/records/%C3%A9", 200, NULL},           /* valid UTF-8 */
        {"/v1/records/1?v=1&v=2", 400, "bad_query"}, /* duplicate key */
        {"/v1/records/1?a=1&&b=2", 400, "bad_query"},
        {"/v1/records/1?=1", 400, "bad_query"},
        {"/v1/records/1?a=1&", 400, "bad_query"},
        {"/v1/records/1?a=%4", 400, "bad_query"},
        {"/v1/records/1?a=1&b=2&c=3&d=4", 400, "bad_query"}, /* over query_params_max */
        {"/v1/records/1?a=1&b=2&c", 200, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char req[512];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", cases[i].target);
        t_exchange(&t, req, &r);
        if (r.status != cases[i].status)
            fail_msg("%s: got %d want %d", cases[i].target, r.status, cases[i].status);
        if (cases[i].code != NULL)
            t_assert_error_shape(&r, cases[i].code);
    }
    t_teardown(&t);
}

static void body_limits(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    char *req = malloc(64 * 1024);
    (void)state;
    assert_non_null(req);
    http_limits_default(&l);
    l.body_bytes_max = 4096;
    l.json_bytes_max = 1024;
    l.headers_bytes_max = 1024;
    t_setup(&t, &l);

    /* At the body limit: served, and the bytes come back intact. */
    int n =
        snprintf(req, 1024, "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
    memset(req + n, 'b', 4096);
    req[n + 4096] = '\0';
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 4096);

    /* One byte over: 413 without reading it. */
    n = snprintf(req, 1024, "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n");
    memset(req + n, 'b', 4097);
    req[n + 4097] = '\0';
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 413);

    /* Chunked bodies are bounded too. */
    t_exchange(&t,
               "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2000\r\n",
               &r);
    assert_int_equal(r.status, 413);
    free(req);
    t_teardown(&t);
}

static void header_limits(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    struct http_server_stats st;
    char *req = malloc(64 * 1024);
    int n;
    (void)state;
    assert_non_null(req);
    http_limits_default(&l);
    l.headers_bytes_max = 1024;
    t_setup(&t, &l);

    /* Headers over the limit: 431, and the request never reaches a handler. */
    n = snprintf(req, 64 * 1024, "GET /v1/records/1 HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'h', 2000);
    t_put(req + n + 2000, "\r\n\r\n");
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 431);
    t_assert_error_shape(&r, "headers_too_large");
    assert_int_equal(t.hits, 0);

    /* Exactly at the limit is fine; one byte more is not. */
    for (int extra = 0; extra < 2; extra++) {
        const char *head = "GET /v1/records/1 HTTP/1.1\r\nHost: t\r\nX-Pad: ";
        size_t fixed = strlen(head) + 4; /* + "\r\n\r\n" */
        n = snprintf(req, 64 * 1024, "%s", head);
        memset(req + n, 'p', 1024 - fixed + (size_t)extra);
        t_put(req + n + 1024 - fixed + (size_t)extra, "\r\n\r\n");
        assert_int_equal(strlen(req), 1024 + (size_t)extra);
        t_exchange(&t, req, &r);
        assert_int_equal(r.status, extra == 0 ? 200 : 431);
    }
    t.hits = 0;

    /* Keep-alive: each head is counted on its own, so two heads of 600 bytes pass. */
    {
        int fd = t_connect(http_server_port(t.srv));
        for (int i = 0; i < 2; i++) {
            n = snprintf(req, 64 * 1024, "GET /v1/records/1 HTTP/1.1\r\nHost: t\r\nX-Pad: ");
            memset(req + n, 'q', 550);
            t_put(req + n + 550, "\r\n\r\n");
            t_send(fd, req, strlen(req));
            t_read_resp(&t, fd, &r, 2000, false);
            assert_int_equal(r.status, 200);
        }
        close(fd);
        t.hits = 0;
    }

    /* Many small headers add up the same way. */
    n = snprintf(req, 64 * 1024, "GET /v1/records/1 HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 100; i++)
        n += snprintf(req + n, 64 * 1024 - (size_t)n, "X-H%d: v\r\n", i);
    t_put(req + n, "\r\n");
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 431);
    assert_int_equal(t.hits, 0);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.requests_headers_too_large, 3);

    /* The server still serves afterwards. */
    t_exchange(&t, "GET /v1/records/ok HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    free(req);
    t_teardown(&t);
}

static void json_body_limit(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    char req[4096];
    (void)state;
    http_limits_default(&l);
    l.body_bytes_max = 4096;
    l.json_bytes_max = 1024;
    t_setup(&t, &l);
    int n;

    /* JSON over json_bytes_max (but under the body limit). */
    n = snprintf(req, 1024,
                 "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Content-Length: 2000\r\n\r\n[");
    memset(req + n, ' ', 1998);
    t_put(req + n + 1998, "]");
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 413);
    t_assert_error_shape(&r, "too_large");
    t_teardown(&t);
}

static void t_post_json(struct t_srv *t, const char *ctype, const char *body, struct t_resp *r)
{
    char req[4096];
    snprintf(
        req, sizeof(req),
        "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
        ctype, strlen(body), body);
    t_exchange(t, req, r);
}

static void json_bodies_strict(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    char deep[200];
    (void)state;
    http_limits_default(&l);
    l.json_depth_max = 8;
    t_setup(&t, &l);

    t_post_json(&t, "application/json; charset=utf-8", "{\"a\":1,\"b\":[true,null]}", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, strlen("{\"a\":1,\"b\":[true,null]}"));

    t_post_json(&t, "application/json", "{\"a\":1,\"a\":2}", &r);
    assert_int_equal(r.status, 400);
    t_assert_error_shape(&r, "bad_json");

    t_post_json(&t, "text/plain", "{\"a\":1}", &r);
    assert_int_equal(r.status, 415);
    t_assert_error_shape(&r, "unsupported_media_type");

    /* The POST body type gate: JSON or MessagePack only. */
    static const struct
    {
        const char *header;
        int status;
    } types[] = {{"Content-Type: application/json\r\n", 200},
                 {"Content-Type: application/msgpack\r\n", 200},
                 {"Content-Type: Application/MsgPack; x=1\r\n", 200},
                 {"Content-Type: application/jsonx\r\n", 415},
                 {"Content-Type: text/plain\r\n", 415},
                 {"", 415}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "POST /v1/typed HTTP/1.1\r\nHost: t\r\n%sContent-Length: 2\r\n\r\n{}",
                 types[i].header);
        t_exchange(&t, req, &r);
        assert_int_equal(r.status, types[i].status);
    }

    t_post_json(&t, "application/json", "{\"a\":\"\xc3\x28\"}", &r);
    assert_int_equal(r.status, 400);

    t_post_json(&t, "application/json", "{\"a\":\"\\u0000\"}", &r);
    assert_int_equal(r.status, 400);

    t_post_json(&t, "application/json", "{\"a\":1} trailing", &r);
    assert_int_equal(r.status, 400);

    /* Depth: 8 levels pass, 9 fail; brackets inside strings do not count. */
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 8);
    memset(deep + 8, ']', 8);
    t_post_json(&t, "application/json", deep, &r);
    assert_int_equal(r.status, 200);
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 9);
    memset(deep + 9, ']', 9);
    t_post_json(&t, "application/json", deep, &r);
    assert_int_equal(r.status, 400);
    t_post_json(&t, "application/json", "{\"s\":\"[[[[[[[[[[[[[[[[\"}", &r);
    assert_int_equal(r.status, 200);
    t_teardown(&t);
}

static void malformed_requests(void **state)
{
    struct t_srv t;
    struct t_resp r;
    (void)state;
    t_setup(&t, NULL);
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /v1/records/1 HTTP/9.9\r\n\r\n",
        "GET /v1/records/1 XTTP/1.1\r\n\r\n",
        "GET v1/records/1 HTTP/1.1\r\nHost: t\r\n\r\n",
        "BREW /v1/records/1 HTTP/1.1\r\n\r\n",
        "GET /v1/records/1 HTTP/1.1\r\nNoColonHeader\r\n\r\n",
        "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /v1/bytes HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\x00\x01\x02\x03\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = t_connect(http_server_port(t.srv));
        size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 8 : strlen(bad[i]);
        t_send(fd, bad[i], len);
        t_read_resp(&t, fd, &r, 3000, false);
        close(fd);
        /* Either an error status or a closed connection, never a 2xx or a hang. */
        if (!(r.eof || (r.status >= 400 && r.status < 600)))
            fail_msg("case %zu: status %d eof %d", i, r.status, (int)r.eof);
        assert_false(r.status >= 200 && r.status < 300);
    }
    assert_int_equal(t.hits, 0);
    t_exchange(&t, "GET /v1/records/ok HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    t_teardown(&t);
}

/* Waits (pumping) until fd reads EOF; returns the milliseconds it took, or -1. */
static int t_wait_eof(struct t_srv *t, int fd, int ms, const char *drip)
{
    uint64_t start = t_now_ms(), last_drip = start;
    size_t dripped = 0;
    char buf[512];
    while (t_now_ms() < start + (uint64_t)ms) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return (int)(t_now_ms() - start);
        if (drip != NULL && dripped < strlen(drip) && t_now_ms() - last_drip >= 50) {
            t_send(fd, drip + dripped, 1); /* one byte every 50 ms: never idle long */
            dripped++;
            last_drip = t_now_ms();
        }
        usleep(1000);
    }
    return -1;
}

static void slowloris_closed_others_served(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    struct http_server_stats st;
    (void)state;
    http_limits_default(&l);
    l.io_timeout_ms = 600;
    l.request_timeout_ms = 1200;
    t_setup(&t, &l);

    /* Half a request line, then silence: the idle timeout closes it. */
    int idle = t_connect(http_server_port(t.srv));
    t_send(idle, "GET /v1/rec", 11);
    /* Dripping a header one byte at a time resets the idle timer on every byte; only
     * the whole-request deadline catches it. */
    int drip = t_connect(http_server_port(t.srv));
    t_send(drip, "GET /v1/records/1 HTTP/1.1\r\n", 28);

    /* Meanwhile a normal client is served at once. */
    uint64_t t0 = t_now_ms();
    t_exchange(&t, "GET /v1/records/fast HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_true(t_now_ms() - t0 < 500); /* well before any slow client is closed */

    int drip_ms = t_wait_eof(&t, drip, 3000,
                             "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_true(drip_ms >= 800); /* the drip kept it past the 600 ms idle timeout... */
    assert_true(drip_ms < 2500); /* ...but not much past the 1200 ms request deadline */
    int idle_ms = t_wait_eof(&t, idle, 3000, NULL);
    assert_true(idle_ms >= 0);
    close(idle);
    close(drip);
    t_pump(t.base, 20);
    http_server_stats_get(t.srv, &st);
    assert_true(st.connections_timed_out >= 1);
    assert_int_equal(st.connections_open, 0);
    t_teardown(&t);
}

static void connection_cap(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_limits l;
    struct http_server_stats st;
    int fds[3];
    (void)state;
    http_limits_default(&l);
    l.connections_max = 3;
    t_setup(&t, &l);
    for (int i = 0; i < 3; i++)
        fds[i] = t_connect(http_server_port(t.srv));
    t_pump(t.base, 30);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.connections_open, 3);

    /* The fourth is refused with 503 (or at least closed) without a handler running. */
    int extra = t_connect(http_server_port(t.srv));
    t_send(extra, "GET /v1/records/x HTTP/1.1\r\nHost: t\r\n\r\n", 39);
    t_read_resp(&t, extra, &r, 2000, false);
    assert_true(r.status == 503 || (r.eof && r.len == 0));
    if (r.status == 503)
        t_assert_error_shape(&r, "overloaded");
    close(extra);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.connections_refused, 1);
    assert_int_equal(st.connections_open, 3);
    assert_int_equal(t.hits, 0);

    /* The admitted ones still work, and closing one frees a slot. */
    t_send(fds[0], "GET /v1/records/a HTTP/1.1\r\nHost: t\r\n\r\n", 39);
    t_read_resp(&t, fds[0], &r, 2000, false);
    assert_int_equal(r.status, 200);
    close(fds[0]);
    t_pump(t.base, 30);
    t_exchange(&t, "GET /v1/records/b HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    close(fds[1]);
    close(fds[2]);
    t_pump(t.base, 30);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.connections_open, 0);
    t_teardown(&t);
}

static void keep_alive_and_pipelining(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_server_stats st;
    (void)state;
    t_setup(&t, NULL);
    int fd = t_connect(http_server_port(t.srv));
    for (int i = 0; i < 5; i++) {
        char req[128];
        int n = snprintf(req, sizeof(req), "GET /v1/records/k%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        t_send(fd, req, (size_t)n);
        t_read_resp(&t, fd, &r, 2000, false);
        assert_int_equal(r.status, 200);
        assert_false(r.eof);
    }
    /* Pipelined: three requests in one write, three answers in order. */
    const char *three =
        "GET /v1/records/p1 HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /v1/records/p2 HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /v1/records/p3 HTTP/1.1\r\nHost: t\r\n\r\n";
    t_send(fd, three, strlen(three));
    uint64_t end = t_now_ms() + 2000;
    struct t_resp all;
    memset(&all, 0, sizeof(all));
    while (t_now_ms() < end && strstr(all.raw, "\"p3\"") == NULL) {
        event_base_loop(t.base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, all.raw + all.len, sizeof(all.raw) - 1 - all.len, 0);
        if (n > 0)
            all.len += (size_t)n;
        all.raw[all.len] = '\0';
        usleep(500);
    }
    char *p1 = strstr(all.raw, "\"p1\""), *p2 = strstr(all.raw, "\"p2\""),
         *p3 = strstr(all.raw, "\"p3\"");
    assert_non_null(p1);
    assert_true(p1 < p2 && p2 < p3);
    close(fd);
    t_pump(t.base, 20);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.connections_accepted, 1);
    assert_int_equal(st.requests, 8);
    t_teardown(&t);
}

static void t_reply_held(evutil_socket_t fd, short what, void *arg)
{
    struct t_srv *t = arg;
    (void)fd;
    (void)what;
    assert_non_null(t->held);
    assert_false(http_req_gone(t->held));
    assert_int_equal(http_reply_header(t->held, "X-Late", "yes"), TB_OK);
    assert_int_equal(http_reply_header(t->held, "X-Bad", "a\r\nSet-Cookie: x"), TB_EINVAL);
    assert_int_equal(http_reply_header(t->held, "X Bad", "v"), TB_EINVAL);
    http_reply_json(t->held, 201, json_pack("{s:b}", "committed", 1));
    t->held = NULL;
}

static void deferred_reply(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_server_stats st;
    (void)state;
    t_setup(&t, NULL);
    struct event *ev = evtimer_new(t.base, t_reply_held, &t);
    struct timeval tv = {0, 50000};
    int fd = t_connect(http_server_port(t.srv));
    t_send(fd, "GET /v1/defer HTTP/1.1\r\nHost: t\r\n\r\n", 35);
    t_pump(t.base, 20);
    assert_non_null(t.held);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.requests_deferred, 1);
    evtimer_add(ev, &tv);
    t_read_resp(&t, fd, &r, 2000, false);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.raw, "X-Late: yes"));
    assert_null(strstr(r.raw, "Set-Cookie"));
    assert_non_null(strstr(r.body, "\"committed\":true"));
    assert_null(t.held);
    assert_int_equal(t.gone_calls, 0);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.requests_deferred, 0);
    close(fd);
    event_free(ev);
    t_teardown(&t);
}

static void client_leaves_before_deferred_reply(void **state)
{
    struct t_srv t;
    struct http_server_stats st;
    (void)state;
    t_setup(&t, NULL);
    for (int round = 0; round < 2; round++) {
        int fd = t_connect(http_server_port(t.srv));
        /* Round 1 also sends a body, so that libevent has buffers to free. */
        const char *req =
            round == 0 ? "GET /v1/defer HTTP/1.1\r\nHost: t\r\n\r\n"
                       : "POST /v1/defer HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
        t_send(fd, req, strlen(req));
        t_pump(t.base, 20);
        assert_non_null(t.held);
        if (round == 0) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* a reset */
        }
        close(fd); /* round 1: an orderly FIN */
        uint64_t end = t_now_ms() + 2000;
        while (t.gone_calls == round && t_now_ms() < end)
            t_pump(t.base, 5);
        assert_int_equal(t.gone_calls, round + 1);
        assert_true(http_req_gone(t.held));
        assert_null(http_req_header(t.held, "Host"));
        /* The late reply only frees the handle (ASan checks that nothing else is touched). */
        http_reply_json(t.held, 200, json_pack("{s:b}", "late", 1));
        t.held = NULL;
        t_pump(t.base, 10);
        http_server_stats_get(t.srv, &st);
        assert_int_equal(st.requests_deferred, 0);
        assert_int_equal(st.connections_open, 0);
    }
    t_teardown(&t);
}

static void free_with_open_and_deferred(void **state)
{
    struct t_srv t;
    struct t_resp r;
    (void)state;
    t_setup(&t, NULL);
    int idle = t_connect(http_server_port(t.srv));
    int held = t_connect(http_server_port(t.srv));
    t_send(held, "GET /v1/defer HTTP/1.1\r\nHost: t\r\n\r\n", 35);
    int pending = t_connect(http_server_port(t.srv)); /* accepted, setup not yet run */
    t_pump(t.base, 20);
    assert_non_null(t.held);
    http_server_free(t.srv);
    assert_int_equal(t.gone_calls, 1);
    assert_true(http_req_gone(t.held));
    http_reply_error(t.held, 503, "shutdown", "late"); /* frees only */
    t.held = NULL;
    /* Every client sees its connection closed. */
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? idle : i == 1 ? held : pending;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 1000), 1);
        memset(&r, 0, sizeof(r));
        ssize_t n = recv(fd, r.raw, sizeof(r.raw), 0);
        assert_true(n <= 0);
        close(fd);
    }
    event_base_free(t.base);
}

/* Fails the Nth allocation of a request in turn (SQLite's OOM loop, curl's torture). */
static void allocation_failures_answered(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct http_server_stats st;
    (void)state;
    t_setup(&t, NULL);
    int ok = 0, failed = 0;
    for (long delay = 0; delay < 24; delay++) {
        /* First half: the request's allocations; second: the connection's as well. */
        if (delay >= 12)
            tb_alloc_fault_set(delay - 12, 1);
        int fd = t_connect(http_server_port(t.srv));
        t_pump(t.base, 5);
        if (delay < 12)
            tb_alloc_fault_set(delay, 1);
        const char *req = "GET /v1/records/x%41?v=1 HTTP/1.1\r\nHost: t\r\n\r\n";
        t_send(fd, req, strlen(req));
        t_read_resp(&t, fd, &r, 2000, false);
        tb_alloc_fault_reset();
        close(fd);
        if (r.status == 200) {
            ok++;
            assert_non_null(strstr(r.body, "\"xA\""));
        } else {
            failed++;
            assert_int_equal(r.status, 503); /* never a crash, a hang or a wrong answer */
        }
    }
    assert_true(failed >= 2); /* the request and its strings were both hit */
    assert_true(ok >= 1);     /* and past the last allocation it succeeds */
    t_pump(t.base, 20);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.connections_open, 0);
    t_exchange(&t, "GET /v1/records/ok HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    t_teardown(&t);
}

static void start_and_route_errors(void **state)
{
    char err[TB_ERRMSG_SIZE] = "";
    struct event_base *base = event_base_new();
    struct http_server *srv = NULL;
    struct http_limits l;
    (void)state;
    const char *bad_listen[] = {"127.0.0.1",    ":80",     "127.0.0.1:",      "127.0.0.1:65536",
                                "127.0.0.1:8x", "[::1:80", "127.0.0.1:123456"};
    for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
        assert_int_equal(http_server_start(base, bad_listen[i], NULL, &srv, err), TB_EINVAL);
        assert_null(srv);
        assert_true(strlen(err) > 0);
    }
    http_limits_default(&l);
    l.body_bytes_max = 0;
    assert_int_equal(http_server_start(base, "127.0.0.1:0", &l, &srv, err), TB_EINVAL);
    http_limits_default(&l);
    l.io_timeout_ms = 0;
    assert_int_equal(http_server_start(base, "127.0.0.1:0", &l, &srv, err), TB_EINVAL);
    assert_int_equal(http_server_start(base, "203.0.113.1:0", NULL, &srv, err), TB_EIO);

    assert_int_equal(http_server_start(base, "127.0.0.1:0", NULL, &srv, err), TB_OK);
    /* The same port twice fails to bind. */
    char listen[64];
    struct http_server *dup = NULL;
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", http_server_port(srv));
    assert_int_equal(http_server_start(base, listen, NULL, &dup, err), TB_EIO);
    assert_null(dup);

    const char *bad_routes[] = {"v1/x",    "/v1//x",    "/v1/x/", "/v1/{}",
                                "/v1/{id", "/v1/a{id}", "/v1/x}"};
    for (size_t i = 0; i < sizeof(bad_routes) / sizeof(bad_routes[0]); i++)
        assert_int_equal(http_server_route(srv, HTTP_GET, bad_routes[i], h_proof, NULL, err),
                         TB_EINVAL);
    assert_int_equal(http_server_route(srv, HTTP_GET, "/v1/{id}", h_proof, NULL, err), TB_OK);
    assert_int_equal(http_server_route(srv, HTTP_GET, "/v1/{id}", h_proof, NULL, err), TB_EINVAL);
    assert_int_equal(http_server_route(srv, HTTP_POST, "/v1/{id}", h_proof, NULL, err), TB_OK);
    assert_int_equal(http_server_route(srv, 1u << 9, "/v1/y", h_proof, NULL, err), TB_EINVAL);
    int rc = TB_OK;
    for (int i = 0; i < 100 && rc == TB_OK; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/r%d", i);
        rc = http_server_route(srv, HTTP_GET, p, h_proof, NULL, err);
    }
    assert_int_equal(rc, TB_ELIMIT);
    http_server_free(srv);
    http_server_free(NULL);
    event_base_free(base);
}

/*
 * Naive model of the path parameter decoder: %XX of ASCII only here, so the result is
 * valid exactly when every escape is well formed and no control byte or '/' appears.
 * Returns false for "must be rejected".
 */
static bool t_naive_decode(const char *in, char *out)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0'; i++) {
        unsigned v = (unsigned char)in[i];
        if (in[i] == '%') {
            if (!isxdigit((unsigned char)in[i + 1]) || !isxdigit((unsigned char)in[i + 2]))
                return false;
            char hex[3] = {in[i + 1], in[i + 2], 0};
            v = (unsigned)strtoul(hex, NULL, 16);
            i += 2;
        }
        if (v < 0x20 || v == 0x7f || v == '/')
            return false;
        out[o++] = (char)v;
    }
    out[o] = '\0';
    return true;
}

static void path_decoding_matches_naive_model(void **state)
{
    static const char alphabet[] = "ABCxyz019-._~+";
    struct t_srv t;
    struct t_resp r;
    struct t_rng rng;
    char seg[64], want[64], req[256];
    (void)state;
    t_rng_seed(&rng, 20261127);
    t_setup(&t, NULL);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + (size_t)t_rng_below(&rng, 12), o = 0;
        for (size_t i = 0; i < n && o + 4 < sizeof(seg); i++) {
            uint64_t kind = t_rng_below(&rng, 10);
            if (kind < 6) {
                seg[o++] = alphabet[t_rng_below(&rng, sizeof(alphabet) - 1)];
            } else if (kind < 9) {
                o += (size_t)snprintf(seg + o, 4, "%%%02X", (unsigned)t_rng_below(&rng, 128));
            } else { /* a broken escape that no following byte can complete */
                static const char *broken[] = {"%G1", "%4G", "%Z", "%-1"};
                const char *b = broken[t_rng_below(&rng, 4)];
                memcpy(seg + o, b, strlen(b));
                o += strlen(b);
            }
        }
        seg[o] = '\0';
        bool ok = t_naive_decode(seg, want);
        snprintf(req, sizeof(req), "GET /v1/records/%s HTTP/1.1\r\nHost: t\r\n\r\n", seg);
        t_exchange(&t, req, &r);
        if (ok) {
            if (r.status != 200)
                fail_msg("'%s': got %d, model says 200", seg, r.status);
            json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
            assert_non_null(j);
            assert_string_equal(json_string_value(json_object_get(j, "id")), want);
            json_decref(j);
            accepted++;
        } else {
            if (r.status != 400)
                fail_msg("'%s': got %d, model says 400", seg, r.status);
            rejected++;
        }
    }
    /* Both sides of the model were exercised. */
    assert_true(accepted > 50);
    assert_true(rejected > 50);
    t_teardown(&t);
}

/* ---- TLS ---- */

static void h_whoami(struct http_req *req, void *arg)
{
    uint8_t key[HTTP_PEER_KEY_BYTES];
    char hex[2 * HTTP_PEER_KEY_BYTES + 1];
    struct t_srv *t = arg;
    t->hits++;
    if (http_req_peer_key(req, key) != TB_OK) {
        http_reply_error(req, 401, "no_peer_key", "a client certificate is required");
        return;
    }
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    http_reply_json(req, 200, json_pack("{s:s}", "key", hex));
}

/* Handshake and one request over TLS, pumping the server loop; returns the status. */
static int t_tls_exchange(struct t_srv *t, SSL_CTX *cctx, const char *req, struct t_resp *r)
{
    int fd = t_connect(http_server_port(t->srv));
    SSL *ssl = SSL_new(cctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    memset(r, 0, sizeof(*r));
    uint64_t end = t_now_ms() + 3000;
    int rc = 0;
    bool sent = false;
    while (t_now_ms() < end) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        if (!sent) {
            rc = SSL_connect(ssl);
            if (rc == 1) {
                assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
                sent = true;
            } else if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ &&
                       SSL_get_error(ssl, rc) != SSL_ERROR_WANT_WRITE) {
                r->eof = true;
                break;
            }
        } else {
            rc = SSL_read(ssl, r->raw + r->len, (int)(sizeof(r->raw) - 1 - r->len));
            if (rc > 0) {
                r->len += (size_t)rc;
                if (t_resp_complete(r, false))
                    break;
            } else if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
                r->eof = true; /* TLS 1.3 reports a refused client certificate here */
                break;
            }
        }
        usleep(500);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    return r->status;
}

static void tls_client_certificate_key(void **state)
{
    struct t_srv t;
    struct t_resp r;
    EVP_PKEY *skey, *ckey;
    X509 *scert, *ccert;
    char err[TB_ERRMSG_SIZE];
    uint8_t raw[HTTP_PEER_KEY_BYTES];
    size_t raw_len = sizeof(raw);
    char want[2 * HTTP_PEER_KEY_BYTES + 1];
    (void)state;
    t_tls_cert("node-a", &skey, &scert, NULL, NULL);
    t_tls_cert("node-b", &ckey, &ccert, NULL, NULL);
    SSL_CTX *sctx = t_tls_ctx(true, skey, scert, false);
    SSL_CTX *cctx = t_tls_ctx(false, ckey, ccert, false);
    SSL_CTX *anon = t_tls_ctx(false, NULL, NULL, false);
    t_setup(&t, NULL);
    t_tls_server(t.srv, sctx);
    assert_int_equal(http_server_route(t.srv, HTTP_GET, "/v1/peer/whoami", h_whoami, &t, err),
                     TB_OK);
    const char *req = "GET /v1/peer/whoami HTTP/1.1\r\nHost: t\r\n\r\n";

    /* With a certificate: the handler sees exactly the client's Ed25519 key. */
    assert_int_equal(t_tls_exchange(&t, cctx, req, &r), 200);
    assert_int_equal(EVP_PKEY_get_raw_public_key(ckey, raw, &raw_len), 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(want + 2 * i, 3, "%02x", raw[i]);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "key")), want);
    json_decref(j);
    assert_int_equal(t.hits, 1);

    /* Without one the handshake fails and no handler runs. */
    assert_int_not_equal(t_tls_exchange(&t, anon, req, &r), 200);
    assert_true(r.eof);
    /* Plain HTTP on the TLS port gets no answer either. */
    t_exchange(&t, req, &r);
    assert_int_not_equal(r.status, 200);
    assert_int_equal(t.hits, 1);

    /* Still serving TLS afterwards; a plain-HTTP server reports no key. */
    assert_int_equal(t_tls_exchange(&t, cctx, req, &r), 200);
    t_teardown(&t);
    t_setup(&t, NULL);
    assert_int_equal(http_server_route(t.srv, HTTP_GET, "/v1/peer/whoami", h_whoami, &t, err),
                     TB_OK);
    t_exchange(&t, req, &r);
    assert_int_equal(r.status, 401);
    t_assert_error_shape(&r, "no_peer_key");
    t_teardown(&t);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(anon);
    X509_free(scert);
    X509_free(ccert);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
}

static void tls_handshake_drip_closed(void **state)
{
    struct t_srv t;
    struct http_limits l;
    EVP_PKEY *key;
    X509 *cert;
    char drip[64];
    (void)state;
    t_tls_cert("node-a", &key, &cert, NULL, NULL);
    SSL_CTX *sctx = t_tls_ctx(true, key, cert, false);
    http_limits_default(&l);
    l.io_timeout_ms = 600;
    l.request_timeout_ms = 1200;
    t_setup(&t, &l);
    t_tls_server(t.srv, sctx);
    /* A TLS record header (257 bytes follow) and the start of its body, one byte per
     * 50 ms: never idle for 600 ms, never a complete record to reject. */
    memset(drip, 'x', sizeof(drip) - 1);
    drip[sizeof(drip) - 1] = '\0';
    memcpy(drip, "\x16\x03\x01\x01\x01", 5); /* no NUL: dripped as a C string */
    int fd = t_connect(http_server_port(t.srv));
    int ms = t_wait_eof(&t, fd, 3000, drip);
    close(fd);
    assert_true(ms >= 800); /* past the io timeout... */
    assert_true(ms < 2500); /* ...closed by the deadline */
    t_teardown(&t);
    SSL_CTX_free(sctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* ---- header-phase peer check (http_server_set_peer_auth) ---- */

/* One TLS client connection kept open across requests (keep-alive). */
struct t_tls_conn
{
    int fd;
    SSL *ssl;
};

static bool t_tls_open(struct t_srv *t, SSL_CTX *cctx, struct t_tls_conn *c)
{
    c->fd = t_connect(http_server_port(t->srv));
    c->ssl = SSL_new(cctx);
    assert_non_null(c->ssl);
    SSL_set_fd(c->ssl, c->fd);
    uint64_t end = t_now_ms() + 3000;
    while (t_now_ms() < end) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        int rc = SSL_connect(c->ssl);
        if (rc == 1)
            return true;
        int e = SSL_get_error(c->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return false;
        usleep(500);
    }
    return false;
}

static void t_tls_close(struct t_tls_conn *c)
{
    ERR_clear_error();
    SSL_free(c->ssl);
    close(c->fd);
}

/* Sends req on the open connection and reads one response; returns its status (0: none). */
static int t_tls_send(struct t_srv *t, struct t_tls_conn *c, const char *req, struct t_resp *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(SSL_write(c->ssl, req, (int)strlen(req)), (int)strlen(req));
    uint64_t end = t_now_ms() + 3000;
    while (t_now_ms() < end) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        int rc = SSL_read(c->ssl, r->raw + r->len, (int)(sizeof(r->raw) - 1 - r->len));
        if (rc > 0) {
            r->len += (size_t)rc;
            if (t_resp_complete(r, false))
                break;
        } else if (SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ) {
            r->eof = true;
            t_resp_complete(r, false);
            break;
        }
        usleep(500);
    }
    return r->status;
}

struct t_auth
{
    uint8_t key[HTTP_PEER_KEY_BYTES]; /* the only client key accepted */
    int calls;
    int last_key_rc;
    int64_t until_s;
};

/* Accepts "good" from the expected key; 401 without a certificate or value, 403 else. */
static void t_auth_check(int key_rc, const uint8_t key[HTTP_PEER_KEY_BYTES], const char *value,
                         void *ctx, struct http_peer_verdict *v)
{
    struct t_auth *a = ctx;
    a->calls++;
    a->last_key_rc = key_rc;
    if (key_rc != TB_OK || value == NULL) {
        v->status = 401;
        snprintf(v->code, sizeof(v->code), "%s", key_rc != TB_OK ? "no_cert" : "no_binding");
        snprintf(v->message, sizeof(v->message), "who are you");
        return;
    }
    if (strcmp(value, "good") != 0 || memcmp(key, a->key, HTTP_PEER_KEY_BYTES) != 0) {
        v->status = 403;
        snprintf(v->code, sizeof(v->code), "bad_binding");
        snprintf(v->message, sizeof(v->message), "binding \"%s\" refused", value);
        return;
    }
    snprintf(v->name, sizeof(v->name), "370100");
    v->until_s = a->until_s;
}

static int t_peer_hits; /* handler runs under /v1/peer/ */

static void h_peer_echo(struct http_req *req, void *arg)
{
    const char *name = http_req_peer_name(req);
    (void)arg;
    t_peer_hits++;
    http_reply_json(req, 200,
                    json_pack("{s:s,s:i}", "peer", name != NULL ? name : "", "body",
                              (int)http_req_body(req).len));
}

/* A server with optional client certificates, peer auth on /v1/peer/ and one JSON route. */
static SSL_CTX *t_peer_server(struct t_srv *t, struct t_auth *a, EVP_PKEY *skey, X509 *scert)
{
    char err[TB_ERRMSG_SIZE];
    SSL_CTX *sctx = t_tls_ctx(true, skey, scert, true);
    t_setup(t, NULL);
    t_tls_server(t->srv, sctx);
    struct http_peer_auth auth = {.prefix = "/v1/peer/",
                                  .header = "Tongban-Binding",
                                  .check = t_auth_check,
                                  .ctx = a,
                                  .reply_value = "server-binding"};
    assert_int_equal(http_server_set_peer_auth(t->srv, &auth, err), TB_OK);
    assert_int_equal(
        http_server_route(t->srv, HTTP_GET | HTTP_POST, "/v1/peer/echo", h_peer_echo, t, err),
        TB_OK);
    return sctx;
}

static void peer_auth_refused_before_body(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct t_auth a = {.until_s = (int64_t)time(NULL) + 3600};
    struct t_tls_conn c;
    struct http_server_stats st;
    EVP_PKEY *skey, *ckey;
    X509 *scert, *ccert;
    (void)state;
    t_peer_hits = 0;
    t_tls_cert("server", &skey, &scert, NULL, NULL);
    t_tls_cert("370100", &ckey, &ccert, NULL, NULL);
    t_tls_raw_public(ckey, a.key);
    SSL_CTX *sctx = t_peer_server(&t, &a, skey, scert);
    SSL_CTX *cctx = t_tls_ctx(false, ckey, ccert, false);
    SSL_CTX *anon = t_tls_ctx(false, NULL, NULL, false);
    /* 100 kB promised, none sent: only a head-phase verdict can answer this. */
#define BIG                                                                \
    "POST /v1/peer/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n" \
    "Content-Type: application/msgpack\r\n%s\r\n"
    char req[512];

    /* No client certificate: 401 from the check (TB_ENOTFOUND), no handler, no body read. */
    assert_true(t_tls_open(&t, anon, &c));
    snprintf(req, sizeof(req), BIG, "Tongban-Binding: good\r\n");
    uint64_t t0 = t_now_ms();
    assert_int_equal(t_tls_send(&t, &c, req, &r), 401);
    assert_true(t_now_ms() - t0 < 2000);
    t_assert_error_shape(&r, "no_cert");
    assert_int_equal(a.last_key_rc, TB_ENOTFOUND);
    assert_non_null(strstr(r.raw, "\r\nTongban-Binding: server-binding\r\n"));
    assert_non_null(strstr(r.raw, "\r\nConnection: close\r\n"));
    t_tls_close(&c);

    /* A certificate and a wrong binding: 403 with the reason; a repeated header: 400
     * without asking the check. */
    assert_true(t_tls_open(&t, cctx, &c));
    snprintf(req, sizeof(req), BIG, "Tongban-Binding: forged\r\n");
    assert_int_equal(t_tls_send(&t, &c, req, &r), 403);
    t_assert_error_shape(&r, "bad_binding");
    t_tls_close(&c);
    int calls = a.calls;
    assert_true(t_tls_open(&t, cctx, &c));
    snprintf(req, sizeof(req), BIG, "Tongban-Binding: good\r\ntongban-binding: good\r\n");
    assert_int_equal(t_tls_send(&t, &c, req, &r), 400);
    t_assert_error_shape(&r, "bad_peer_header");
    assert_int_equal(a.calls, calls);
    t_tls_close(&c);
    /* A folded binding header is refused too (evhttp would join the lines). */
    assert_true(t_tls_open(&t, cctx, &c));
    snprintf(req, sizeof(req), BIG, "Tongban-Binding: go\r\n od\r\n");
    assert_int_equal(t_tls_send(&t, &c, req, &r), 400);
    t_tls_close(&c);

#undef BIG
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.peer_refused_head, 4);
    assert_int_equal(st.requests, 0); /* none reached the router */
    assert_int_equal(t_peer_hits, 0);
    t_teardown(&t);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(anon);
    X509_free(scert);
    X509_free(ccert);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
}

static void peer_auth_cached_per_connection(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct t_auth a = {.until_s = (int64_t)time(NULL) + 2};
    struct t_tls_conn c;
    int calls;
    struct http_server_stats st;
    EVP_PKEY *skey, *ckey;
    X509 *scert, *ccert;
    (void)state;
    t_peer_hits = 0;
    t_tls_cert("server", &skey, &scert, NULL, NULL);
    t_tls_cert("370100", &ckey, &ccert, NULL, NULL);
    t_tls_raw_public(ckey, a.key);
    SSL_CTX *sctx = t_peer_server(&t, &a, skey, scert);
    SSL_CTX *cctx = t_tls_ctx(false, ckey, ccert, false);
    SSL_CTX *anon = t_tls_ctx(false, NULL, NULL, false);
    const char *get = "GET /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: good\r\n\r\n";

    /* Three requests on one connection: one check, the peer named, the reply header set. */
    assert_true(t_tls_open(&t, cctx, &c));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t_tls_send(&t, &c, get, &r), 200);
        assert_non_null(strstr(r.body, "\"peer\":\"370100\""));
        assert_non_null(strstr(r.raw, "\r\nTongban-Binding: server-binding\r\n"));
    }
    assert_int_equal(a.calls, 1);
    /* A POST with its body on the same connection: served, still no new check. */
    const char *post =
        "POST /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: good\r\n"
        "Content-Type: application/msgpack\r\nContent-Length: 3\r\n\r\nabc";
    assert_int_equal(t_tls_send(&t, &c, post, &r), 200);
    assert_non_null(strstr(r.body, "\"body\":3"));
    assert_int_equal(a.calls, 1);
    /* Another value on the same connection is judged afresh (and refused). */
    const char *other = "GET /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: bad\r\n\r\n";
    assert_int_equal(t_tls_send(&t, &c, other, &r), 403);
    assert_int_equal(a.calls, 2);
    t_tls_close(&c);

    /* Pipelined behind an accepted request, a head is not scanned on its own: the dispatch
     * check still refuses a value that differs from the judged one. */
    assert_true(t_tls_open(&t, cctx, &c));
    const char *two =
        "GET /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: good\r\n\r\n"
        "GET /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: bad\r\n\r\n";
    assert_int_equal(t_tls_send(&t, &c, two, &r), 200);
    char *second = strstr(r.raw + 1, "HTTP/1.1 ");
    if (second == NULL) { /* the second answer had not arrived with the first */
        struct t_resp r2;
        assert_int_equal(t_tls_send(&t, &c, "", &r2), 403);
        t_assert_error_shape(&r2, "peer_unauthenticated");
    } else {
        assert_non_null(strstr(second, "403"));
    }
    t_tls_close(&c);
    calls = a.calls;

    /* The cached verdict ends at until_s: the next request is judged again. */
    assert_true(t_tls_open(&t, cctx, &c));
    assert_int_equal(t_tls_send(&t, &c, get, &r), 200);
    assert_int_equal(a.calls, calls + 1);
    int64_t until = a.until_s;
    a.until_s = (int64_t)time(NULL) + 3600;
    for (int i = 0; i < 40 && (int64_t)time(NULL) <= until; i++)
        usleep(100 * 1000); /* whole seconds: at most ~3 s */
    assert_true((int64_t)time(NULL) > until);
    assert_int_equal(t_tls_send(&t, &c, get, &r), 200);
    assert_int_equal(a.calls, calls + 2);
    t_tls_close(&c);

    /* The JSON API needs no certificate; its replies carry no peer header. */
    assert_true(t_tls_open(&t, anon, &c));
    assert_int_equal(t_tls_send(&t, &c, "GET /v1/records/x HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_null(strstr(r.raw, "Tongban-Binding"));
    t_tls_close(&c);
    http_server_stats_get(t.srv, &st);
    assert_int_equal(st.peer_checks, (uint64_t)a.calls);
    assert_int_equal(st.peer_refused_late, 1);
    t_teardown(&t);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(anon);
    X509_free(scert);
    X509_free(ccert);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
}

static void peer_auth_plain_listener(void **state)
{
    struct t_srv t;
    struct t_resp r;
    struct t_auth a = {.until_s = (int64_t)time(NULL) + 3600};
    EVP_PKEY *skey;
    X509 *scert;
    char err[TB_ERRMSG_SIZE];
    (void)state;
    t_peer_hits = 0;
    t_tls_cert("server", &skey, &scert, NULL, NULL);
    SSL_CTX *sctx = t_peer_server(&t, &a, skey, scert);
    assert_int_equal(http_server_listen_plain(t.srv, "10.1.2.3:0", err), TB_EINVAL);
    assert_int_equal(http_server_listen_plain(t.srv, "127.0.0.1:0", err), TB_OK);
    uint16_t port = http_server_port_plain(t.srv);
    assert_true(port != 0 && port != http_server_port(t.srv));
    /* The JSON API over plain HTTP on loopback; the peer API refused there. */
    int fd = t_connect(port);
    const char *req = "GET /v1/records/x HTTP/1.1\r\nHost: t\r\n\r\n";
    t_send(fd, req, strlen(req));
    t_read_resp(&t, fd, &r, 3000, false);
    close(fd);
    assert_int_equal(r.status, 200);
    fd = t_connect(port);
    req =
        "POST /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: good\r\n"
        "Content-Length: 50000\r\n\r\n";
    t_send(fd, req, strlen(req));
    t_read_resp(&t, fd, &r, 3000, false);
    close(fd);
    assert_int_equal(r.status, 401);
    t_assert_error_shape(&r, "no_cert");
    assert_int_equal(a.last_key_rc, TB_ENOTFOUND);
    /* A head dripped a few bytes at a time is judged all the same, before its body. */
    fd = t_connect(port);
    req =
        "POST /v1/peer/echo HTTP/1.1\r\nHost: t\r\nTongban-Binding: good\r\n"
        "Content-Length: 50000\r\n\r\n";
    for (size_t off = 0; off < strlen(req); off += 7) {
        size_t n = strlen(req) - off < 7 ? strlen(req) - off : 7;
        t_send(fd, req + off, n);
        t_pump(t.base, 2);
    }
    t_read_resp(&t, fd, &r, 3000, false);
    close(fd);
    assert_int_equal(r.status, 401);
    /* An absolute-form target is judged as its path. */
    fd = t_connect(port);
    req = "GET http://t/v1/peer/echo HTTP/1.1\r\nHost: t\r\n\r\n";
    t_send(fd, req, strlen(req));
    t_read_resp(&t, fd, &r, 3000, false);
    close(fd);
    assert_int_equal(r.status, 401);
    assert_int_equal(t_peer_hits, 0);
    t_teardown(&t);
    SSL_CTX_free(sctx);
    X509_free(scert);
    EVP_PKEY_free(skey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routing_params_404_405),
        cmocka_unit_test(strict_path_and_query),
        cmocka_unit_test(path_decoding_matches_naive_model),
        cmocka_unit_test(body_limits),
        cmocka_unit_test(header_limits),
        cmocka_unit_test(json_body_limit),
        cmocka_unit_test(json_bodies_strict),
        cmocka_unit_test(malformed_requests),
        cmocka_unit_test(slowloris_closed_others_served),
        cmocka_unit_test(connection_cap),
        cmocka_unit_test(keep_alive_and_pipelining),
        cmocka_unit_test(deferred_reply),
        cmocka_unit_test(client_leaves_before_deferred_reply),
        cmocka_unit_test(free_with_open_and_deferred),
        cmocka_unit_test(allocation_failures_answered),
        cmocka_unit_test(start_and_route_errors),
        cmocka_unit_test(tls_client_certificate_key),
        cmocka_unit_test(tls_handshake_drip_closed),
        cmocka_unit_test(peer_auth_refused_before_body),
        cmocka_unit_test(peer_auth_cached_per_connection),
        cmocka_unit_test(peer_auth_plain_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
