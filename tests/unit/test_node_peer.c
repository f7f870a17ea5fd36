/*
 * node/peer.c against node/http.c in the same event loop on 127.0.0.1: round trips,
 * timeouts, retries with backoff, response bounds, keep-alive reuse and cancellation.
 * Every wait is bounded by a deadline.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http.h"
#include "peer.h"
#include "t_tls.h"
#include "tb_alloc.h"

struct t_env
{
    struct event_base *base;
    struct http_server *srv;
    struct peer_client *client;
    char url[128];
    int fail_first; /* /v1/flaky answers 503 this many times */
    int flaky_hits;
    int post_hits;
    struct http_req *held[8]; /* requests /v1/hang never answers */
    int held_count;
};

struct t_call
{
    int calls;
    struct peer_result res;
    char body[8192];
    char error[512];
    uint64_t at_ms;
};

static uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void t_done(const struct peer_result *res, void *arg)
{
    struct t_call *c = arg;
    c->calls++;
    c->res = *res;
    c->at_ms = t_now_ms();
    size_t n = res->body_len < sizeof(c->body) - 1 ? res->body_len : sizeof(c->body) - 1;
    if (n > 0)
        memcpy(c->body, res->body, n);
    c->body[n] = '\0';
    snprintf(c->error, sizeof(c->error), "%s", res->error);
    c->res.body = NULL; /* borrowed: gone after the callback */
    c->res.error = c->error;
}

/* Runs the loop until *calls reaches want or ms pass. */
static void t_run(struct t_env *e, const int *calls, int want, int ms)
{
    uint64_t end = t_now_ms() + (uint64_t)ms;
    while (*calls < want && t_now_ms() < end) {
        struct timeval tv = {0, 2000};
        event_base_loopexit(e->base, &tv);
        event_base_dispatch(e->base);
    }
}

static void h_hello(struct http_req *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200, json_pack("{s:s}", "hello", http_req_param(req, "name")));
}

static void h_post(struct http_req *req, void *arg)
{
    struct t_env *e = arg;
    json_t *j = NULL;
    e->post_hits++;
    if (http_body_json(req, &j) != TB_OK)
        return;
    json_object_set_new(j, "seen", json_true());
    http_reply_json(req, 201, j);
}

static void h_flaky(struct http_req *req, void *arg)
{
    struct t_env *e = arg;
    e->flaky_hits++;
    if (e->flaky_hits <= e->fail_first) {
        http_reply_error(req, 503, "unavailable", "try again");
        return;
    }
    http_reply_json_text(req, 200, "{\"ok\":true}");
}

static void h_big(struct http_req *req, void *arg)
{
    static uint8_t blob[20000];
    (void)arg;
    size_t n = strtoul(http_req_param(req, "n"), NULL, 10);
    assert_true(n <= sizeof(blob));
    memset(blob, 'z', n);
    http_reply_bytes(req, 200, "application/octet-stream", blob, n);
}

static void h_redirect(struct http_req *req, void *arg)
{
    struct t_env *e = arg;
    char where[256];
    e->post_hits++;
    snprintf(where, sizeof(where), "%s/v1/hello/redirected", e->url);
    assert_int_equal(http_reply_header(req, "Location", where), TB_OK);
    http_reply_json_text(req, 302, "{}");
}

static void h_hang(struct http_req *req, void *arg)
{
    struct t_env *e = arg;
    assert_true(e->held_count < 8);
    e->held[e->held_count++] = req;
    http_req_defer(req, NULL, NULL);
}

static void t_env_up(struct t_env *e, const struct peer_options *po)
{
    char err[TB_ERRMSG_SIZE] = "";
    memset(e, 0, sizeof(*e));
    e->base = event_base_new();
    assert_non_null(e->base);
    assert_int_equal(http_server_start(e->base, "127.0.0.1:0", NULL, &e->srv, err), TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_GET, "/v1/hello/{name}", h_hello, e, err),
                     TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_POST, "/v1/post", h_post, e, err), TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_GET | HTTP_POST, "/v1/flaky", h_flaky, e, err),
                     TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_GET, "/v1/big/{n}", h_big, e, err), TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_GET, "/v1/hang", h_hang, e, err), TB_OK);
    assert_int_equal(http_server_route(e->srv, HTTP_GET, "/v1/redirect", h_redirect, e, err),
                     TB_OK);
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u", http_server_port(e->srv));
    assert_int_equal(peer_client_new(e->base, po, &e->client, err), TB_OK);
}

static void t_env_down(struct t_env *e)
{
    peer_client_free(e->client);
    http_server_free(e->srv);
    for (int i = 0; i < e->held_count; i++)
        http_reply_error(e->held[i], 503, "shutdown", "bye"); /* frees the gone handles */
    event_base_free(e->base);
}

static void t_url(const struct t_env *e, const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", e->url, path);
}

/* ---- tests ---- */

static void get_and_post_round_trips(void **state)
{
    struct t_env e;
    struct t_call a = {0}, b = {0}, c = {0};
    char url[256];
    const char *hdrs[] = {"Content-Type: application/json", "X-Trace: 1", NULL};
    const char *body = "{\"k\":\"v\"}";
    (void)state;
    t_env_up(&e, NULL);
    t_url(&e, "/v1/hello/world", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 2000, NULL, t_done, &a),
                     TB_OK);
    assert_int_equal(a.calls, 0); /* never called back from inside peer_request */
    t_url(&e, "/v1/post", url, sizeof(url));
    assert_int_equal(
        peer_request(e.client, "POST", url, hdrs, body, strlen(body), 2000, NULL, t_done, &b),
        TB_OK);
    t_url(&e, "/v1/nothing", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 2000, NULL, t_done, &c),
                     TB_OK);
    assert_int_equal(peer_client_pending(e.client), 3);
    t_run(&e, &a.calls, 1, 3000);
    t_run(&e, &b.calls, 1, 3000);
    t_run(&e, &c.calls, 1, 3000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.res.rc, TB_OK);
    assert_int_equal(a.res.status, 200);
    assert_string_equal(a.body, "{\"hello\":\"world\"}");
    assert_int_equal(a.res.attempts, 1);
    assert_int_equal(b.res.status, 201);
    json_t *j = json_loads(b.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "k")), "v");
    assert_true(json_is_true(json_object_get(j, "seen")));
    json_decref(j);
    /* An HTTP error status is a successful exchange: rc OK, status and body given. */
    assert_int_equal(c.res.rc, TB_OK);
    assert_int_equal(c.res.status, 404);
    assert_non_null(strstr(c.body, "\"not_found\""));
    assert_int_equal(peer_client_pending(e.client), 0);
    t_env_down(&e);
}

static void timeout_on_silent_handler(void **state)
{
    struct t_env e;
    struct t_call a = {0};
    char url[256];
    (void)state;
    t_env_up(&e, NULL);
    t_url(&e, "/v1/hang", url, sizeof(url));
    uint64_t t0 = t_now_ms();
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 200, NULL, t_done, &a),
                     TB_OK);
    t_run(&e, &a.calls, 1, 3000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.res.rc, TB_EIO);
    assert_int_equal(a.res.status, 0);
    assert_non_null(strcasestr(a.error, "timeout"));
    assert_true(a.at_ms - t0 >= 190);
    assert_true(a.at_ms - t0 < 1500);
    t_env_down(&e);
}

static void refused_with_retries_and_backoff(void **state)
{
    struct t_env e;
    struct t_call a = {0}, b = {0};
    struct peer_retry retry = {.attempts_max = 4, .delay_base_ms = 40, .delay_max_ms = 1000};
    char url[128];
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    (void)state;
    t_env_up(&e, NULL);
    /* A port that was free a moment ago: bind, read it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/x", ntohs(sin.sin_port));

    uint64_t t0 = t_now_ms();
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 1000, &retry, t_done, &a),
                     TB_OK);
    /* POST is not idempotent: one attempt only, whatever the policy says. */
    assert_int_equal(peer_request(e.client, "POST", url, NULL, "x", 1, 1000, &retry, t_done, &b),
                     TB_OK);
    t_run(&e, &a.calls, 1, 5000);
    t_run(&e, &b.calls, 1, 5000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.res.rc, TB_EIO);
    assert_int_equal(a.res.attempts, 4);
    assert_non_null(strstr(a.error, "onnect"));
    /* Backoffs are at least half of 40, 80, 160 ms (equal jitter) and at most all of it. */
    uint64_t took = a.at_ms - t0;
    assert_true(took >= (40 + 80 + 160) / 2);
    assert_true(took < 2000);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.res.attempts, 1);
    assert_int_equal(b.res.rc, TB_EIO);
    t_env_down(&e);
}

static void retries_503_then_succeeds(void **state)
{
    struct t_env e;
    struct t_call a = {0}, b = {0};
    struct peer_retry retry = {.attempts_max = 5, .delay_base_ms = 5, .delay_max_ms = 20};
    struct peer_retry post_retry = retry;
    char url[256];
    (void)state;
    t_env_up(&e, NULL);
    e.fail_first = 2;
    t_url(&e, "/v1/flaky", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 1000, &retry, t_done, &a),
                     TB_OK);
    t_run(&e, &a.calls, 1, 3000);
    assert_int_equal(a.res.status, 200);
    assert_int_equal(a.res.attempts, 3);
    assert_int_equal(e.flaky_hits, 3);

    /* POST retries only when the caller says the server deduplicates. */
    e.flaky_hits = 0;
    e.fail_first = 1;
    post_retry.non_idempotent = true;
    assert_int_equal(
        peer_request(e.client, "POST", url, NULL, "{}", 2, 1000, &post_retry, t_done, &b), TB_OK);
    t_run(&e, &b.calls, 1, 3000);
    assert_int_equal(b.res.status, 200);
    assert_int_equal(b.res.attempts, 2);

    /* Out of attempts: the last answer (503) is what the caller gets. */
    struct t_call c = {0};
    e.flaky_hits = 0;
    e.fail_first = 10;
    retry.attempts_max = 2;
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 1000, &retry, t_done, &c),
                     TB_OK);
    t_run(&e, &c.calls, 1, 3000);
    assert_int_equal(c.res.rc, TB_OK);
    assert_int_equal(c.res.status, 503);
    assert_int_equal(c.res.attempts, 2);
    t_env_down(&e);
}

static void oversized_response_refused(void **state)
{
    struct t_env e;
    struct t_call a = {0}, b = {0};
    struct peer_options po;
    char url[256];
    (void)state;
    peer_options_default(&po);
    po.response_bytes_max = 1000;
    t_env_up(&e, &po);
    t_url(&e, "/v1/big/1000", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 2000, NULL, t_done, &a),
                     TB_OK);
    t_url(&e, "/v1/big/1001", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 2000, NULL, t_done, &b),
                     TB_OK);
    t_run(&e, &a.calls, 1, 3000);
    t_run(&e, &b.calls, 1, 3000);
    assert_int_equal(a.res.rc, TB_OK);
    assert_int_equal(a.res.body_len, 1000);
    assert_int_equal(b.res.rc, TB_ELIMIT);
    assert_non_null(strstr(b.error, "larger than 1000"));
    t_env_down(&e);
}

struct t_chain
{
    struct t_env *e;
    int done;
    int ok;
    char url[256];
};

static void t_chain_next(const struct peer_result *res, void *arg)
{
    struct t_chain *ch = arg;
    ch->done++;
    if (res->rc == TB_OK && res->status == 200)
        ch->ok++;
    if (ch->done < 10) {
        /* Issuing the next request from inside a callback is allowed. */
        assert_int_equal(peer_request(ch->e->client, "GET", ch->url, NULL, NULL, 0, 2000, NULL,
                                      t_chain_next, ch),
                         TB_OK);
    }
}

static void keep_alive_reuses_connection(void **state)
{
    struct t_env e;
    struct t_chain ch = {0};
    struct http_server_stats st;
    (void)state;
    t_env_up(&e, NULL);
    ch.e = &e;
    t_url(&e, "/v1/hello/again", ch.url, sizeof(ch.url));
    assert_int_equal(
        peer_request(e.client, "GET", ch.url, NULL, NULL, 0, 2000, NULL, t_chain_next, &ch), TB_OK);
    t_run(&e, &ch.done, 10, 5000);
    assert_int_equal(ch.done, 10);
    assert_int_equal(ch.ok, 10);
    http_server_stats_get(e.srv, &st);
    assert_int_equal(st.requests, 10);
    assert_int_equal(st.connections_accepted, 1);
    t_env_down(&e);
}

static void cancel_at_shutdown_calls_once(void **state)
{
    struct t_env e;
    struct t_call calls[6];
    struct peer_retry retry = {.attempts_max = 3, .delay_base_ms = 5000, .delay_max_ms = 5000};
    char url[256];
    char err[TB_ERRMSG_SIZE];
    (void)state;
    memset(calls, 0, sizeof(calls));
    t_env_up(&e, NULL);
    t_url(&e, "/v1/hang", url, sizeof(url));
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            peer_request(e.client, "GET", url, NULL, NULL, 0, 10000, NULL, t_done, &calls[i]),
            TB_OK);
    /* One waiting in backoff (503 then a 5 s delay) and one not yet started. */
    e.fail_first = 100;
    t_url(&e, "/v1/flaky", url, sizeof(url));
    assert_int_equal(
        peer_request(e.client, "GET", url, NULL, NULL, 0, 10000, &retry, t_done, &calls[4]), TB_OK);
    uint64_t end = t_now_ms() + 2000;
    while ((e.held_count < 4 || e.flaky_hits < 1) && t_now_ms() < end)
        t_run(&e, &calls[5].calls, 1, 5);
    assert_int_equal(e.held_count, 4);
    assert_int_equal(e.flaky_hits, 1);
    t_url(&e, "/v1/hello/late", url, sizeof(url));
    assert_int_equal(
        peer_request(e.client, "GET", url, NULL, NULL, 0, 10000, NULL, t_done, &calls[5]), TB_OK);
    assert_int_equal(peer_client_pending(e.client), 6);
    peer_client_free(e.client);
    e.client = NULL;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(calls[i].calls, 1);
        assert_true(calls[i].res.cancelled);
        assert_int_equal(calls[i].res.rc, TB_ESTATE);
        assert_string_equal(calls[i].error, "cancelled");
    }
    /* Nothing fires later either. */
    struct event_base *base = e.base;
    struct timeval tv = {0, 50000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    for (int i = 0; i < 6; i++)
        assert_int_equal(calls[i].calls, 1);
    /* A fresh client works on the same loop. */
    assert_int_equal(peer_client_new(e.base, NULL, &e.client, err), TB_OK);
    t_env_down(&e);
}

static void redirects_not_followed(void **state)
{
    struct t_env e;
    struct t_call a = {0};
    char url[256];
    (void)state;
    t_env_up(&e, NULL);
    t_url(&e, "/v1/redirect", url, sizeof(url));
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 2000, NULL, t_done, &a),
                     TB_OK);
    t_run(&e, &a.calls, 1, 3000);
    assert_int_equal(a.res.rc, TB_OK);
    assert_int_equal(a.res.status, 302);
    assert_string_equal(a.body, "{}"); /* the redirect itself, not the target */
    assert_int_equal(e.post_hits, 1);
    t_env_down(&e);
}

/* Fails the Nth of our allocations for one request in turn: an error, never a crash. */
static void allocation_failures(void **state)
{
    struct t_env e;
    char url[256];
    (void)state;
    t_env_up(&e, NULL);
    t_url(&e, "/v1/hello/oom", url, sizeof(url));
    int refused = 0, answered = 0;
    for (long delay = 0; delay < 12; delay++) {
        struct t_call a = {0};
        tb_alloc_fault_set(delay, 1);
        int rc = peer_request(e.client, "POST", url, NULL, "x", 1, 2000, NULL, t_done, &a);
        if (rc != TB_OK) {
            tb_alloc_fault_reset();
            assert_int_equal(rc, TB_ENOMEM);
            refused++;
            continue;
        }
        t_run(&e, &a.calls, 1, 3000); /* the response buffer may be the one that fails */
        tb_alloc_fault_reset();
        assert_int_equal(a.calls, 1);
        assert_true(a.res.rc == TB_OK || a.res.rc == TB_ENOMEM);
        answered++;
    }
    assert_true(refused >= 2);
    assert_true(answered >= 1);
    assert_int_equal(peer_client_pending(e.client), 0);
    t_env_down(&e);
}

static void bad_arguments(void **state)
{
    struct t_env e;
    struct t_call a = {0};
    struct peer_retry bad = {.attempts_max = 0};
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    const char *nocolon[] = {"NoColon", NULL};
    char url[256];
    (void)state;
    t_env_up(&e, NULL);
    t_url(&e, "/v1/hello/x", url, sizeof(url));
    assert_int_equal(
        peer_request(e.client, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, 1000, NULL, t_done, &a),
        TB_EINVAL);
    assert_non_null(strstr(peer_client_errmsg(e.client), "http:// or https://"));
    assert_int_equal(
        peer_request(e.client, "GET", "file:///etc/passwd", NULL, NULL, 0, 1000, NULL, t_done, &a),
        TB_EINVAL);
    assert_int_equal(peer_request(e.client, "DELETE", url, NULL, NULL, 0, 1000, NULL, t_done, &a),
                     TB_EINVAL);
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 0, NULL, t_done, &a),
                     TB_EINVAL);
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 1000, &bad, t_done, &a),
                     TB_EINVAL);
    assert_int_equal(peer_request(e.client, "GET", url, crlf, NULL, 0, 1000, NULL, t_done, &a),
                     TB_EINVAL);
    assert_non_null(strstr(peer_client_errmsg(e.client), "header 0"));
    assert_int_equal(peer_request(e.client, "GET", url, nocolon, NULL, 0, 1000, NULL, t_done, &a),
                     TB_EINVAL);
    assert_int_equal(peer_client_pending(e.client), 0);
    struct event_base *base = e.base;
    struct timeval tv = {0, 20000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(a.calls, 0); /* a refused request never calls back */
    t_env_down(&e);
}

/* ---- mutual TLS with a pinned server key ---- */

static void h_whoami(struct http_req *req, void *arg)
{
    uint8_t key[HTTP_PEER_KEY_BYTES];
    char hex[2 * HTTP_PEER_KEY_BYTES + 1];
    struct t_env *e = arg;
    e->post_hits++;
    if (http_req_peer_key(req, key) != TB_OK) {
        http_reply_error(req, 401, "no_peer_key", "client certificate required");
        return;
    }
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    http_reply_json(req, 200, json_pack("{s:s}", "key", hex));
}

static void tls_pinned_mutual(void **state)
{
    struct t_env e;
    struct peer_options po;
    struct peer_client *anon = NULL;
    EVP_PKEY *skey, *ckey, *okey;
    X509 *scert, *ccert, *ocert;
    char *spem, *skpem, *cpem, *ckpem, *opem, *okpem;
    char err[TB_ERRMSG_SIZE], url[256], want[2 * PEER_PIN_BYTES + 1];
    uint8_t pin[PEER_PIN_BYTES], wrong[PEER_PIN_BYTES], craw[PEER_PIN_BYTES];
    size_t len = PEER_PIN_BYTES;
    struct t_call a = {0}, b = {0}, c = {0}, d = {0};
    (void)state;
    t_tls_cert("server", &skey, &scert, &spem, &skpem);
    t_tls_cert("client", &ckey, &ccert, &cpem, &ckpem);
    t_tls_cert("other", &okey, &ocert, &opem, &okpem);
    assert_int_equal(EVP_PKEY_get_raw_public_key(skey, pin, &len), 1);
    len = PEER_PIN_BYTES;
    assert_int_equal(EVP_PKEY_get_raw_public_key(okey, wrong, &len), 1);
    len = PEER_PIN_BYTES;
    assert_int_equal(EVP_PKEY_get_raw_public_key(ckey, craw, &len), 1);
    for (size_t i = 0; i < sizeof(craw); i++)
        snprintf(want + 2 * i, 3, "%02x", craw[i]);

    SSL_CTX *sctx = t_tls_ctx(true, skey, scert, false);

    peer_options_default(&po);
    po.tls_cert_pem = cpem;
    po.tls_key_pem = ckpem;
    t_env_up(&e, &po);
    t_tls_server(e.srv, sctx);
    assert_int_equal(http_server_route(e.srv, HTTP_GET, "/v1/peer/whoami", h_whoami, &e, err),
                     TB_OK);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/peer/whoami", http_server_port(e.srv));

    /* Right pin and a client certificate: the server sees the client's key. */
    assert_int_equal(
        peer_request_pinned(e.client, pin, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &a),
        TB_OK);
    t_run(&e, &a.calls, 1, 5000);
    assert_int_equal(a.res.rc, TB_OK);
    assert_int_equal(a.res.status, 200);
    assert_non_null(strstr(a.body, want));

    /* Wrong pin: refused before any request is sent. */
    assert_int_equal(
        peer_request_pinned(e.client, wrong, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &b),
        TB_OK);
    t_run(&e, &b.calls, 1, 5000);
    assert_int_equal(b.res.rc, TB_EIO);
    assert_non_null(strstr(b.error, "pinned public key"));

    /* No pin: the self-signed certificate is not trusted. */
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &c),
                     TB_OK);
    t_run(&e, &c.calls, 1, 5000);
    assert_int_equal(c.res.rc, TB_EIO);
    assert_non_null(strstr(c.error, "self-signed"));

    /* A client without a certificate is refused by the server. */
    assert_int_equal(peer_client_new(e.base, NULL, &anon, err), TB_OK);
    assert_int_equal(
        peer_request_pinned(anon, pin, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &d), TB_OK);
    t_run(&e, &d.calls, 1, 5000);
    assert_int_equal(d.res.rc, TB_EIO);
    assert_non_null(strstr(d.error, "certificate required"));
    assert_int_equal(e.post_hits, 1); /* only the first request reached the handler */

    /* A pin over plain HTTP is refused outright. */
    assert_int_equal(
        peer_request_pinned(e.client, pin, "GET", e.url, NULL, NULL, 0, 3000, NULL, t_done, &d),
        TB_EINVAL);
    peer_client_free(anon);
    t_env_down(&e);
    SSL_CTX_free(sctx);
    X509_free(scert);
    X509_free(ccert);
    X509_free(ocert);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
    EVP_PKEY_free(okey);
    free(spem);
    free(skpem);
    free(cpem);
    free(ckpem);
    free(opem);
    free(okpem);
}

/* ---- the binding checks of a member's client: tls_check at the head, tls_pin for bodies ---- */

struct t_judge
{
    const char *want_binding;         /* the server binding accepted */
    uint8_t want_key[PEER_PIN_BYTES]; /* the server key accepted */
    int calls;
    char seen_binding[128];
    int pin_mode; /* TB_OK (give pin), TB_ENOTFOUND or TB_EAUTH */
    uint8_t pin[PEER_PIN_BYTES];
};

static int t_judge_check(void *ctx, const char *url, const char *binding, int key_rc,
                         const uint8_t key[PEER_PIN_BYTES], char *why, size_t why_size)
{
    struct t_judge *j = ctx;
    j->calls++;
    assert_non_null(strstr(url, "/v1/peer/whoami"));
    snprintf(j->seen_binding, sizeof(j->seen_binding), "%s", binding != NULL ? binding : "");
    if (key_rc != TB_OK || binding == NULL || strcmp(binding, j->want_binding) != 0 ||
        memcmp(key, j->want_key, PEER_PIN_BYTES) != 0) {
        snprintf(why, why_size, "judge: refused");
        return TB_EAUTH;
    }
    return TB_OK;
}

static int t_judge_pin(void *ctx, const char *url, uint8_t pin[PEER_PIN_BYTES], char *why,
                       size_t why_size)
{
    struct t_judge *j = ctx;
    (void)url;
    if (j->pin_mode == TB_OK)
        memcpy(pin, j->pin, PEER_PIN_BYTES);
    else
        snprintf(why, why_size, "judge: key not verified yet");
    return j->pin_mode;
}

static char t_seen_client_binding[128];

/* The server side: any client key, the client's binding value recorded and accepted. */
static void t_server_check(int key_rc, const uint8_t key[HTTP_PEER_KEY_BYTES], const char *value,
                           void *ctx, struct http_peer_verdict *v)
{
    (void)key;
    (void)ctx;
    snprintf(t_seen_client_binding, sizeof(t_seen_client_binding), "%s", value ? value : "");
    if (key_rc != TB_OK || value == NULL) {
        v->status = 401;
        snprintf(v->code, sizeof(v->code), "no_binding");
        return;
    }
    snprintf(v->name, sizeof(v->name), "client");
    v->until_s = (int64_t)time(NULL) + 60;
}

static void tls_binding_judged(void **state)
{
    struct t_env e;
    struct peer_options po;
    struct t_judge j = {.want_binding = "server-binding", .pin_mode = TB_OK};
    EVP_PKEY *skey, *ckey;
    X509 *scert, *ccert;
    char *spem, *skpem, *cpem, *ckpem, err[TB_ERRMSG_SIZE], url[256];
    struct t_call a = {0}, b = {0}, c = {0}, d = {0};
    (void)state;
    t_tls_cert("server", &skey, &scert, &spem, &skpem);
    t_tls_cert("client", &ckey, &ccert, &cpem, &ckpem);
    t_tls_raw_public(skey, j.want_key);
    memcpy(j.pin, j.want_key, PEER_PIN_BYTES);
    SSL_CTX *sctx = t_tls_ctx(true, skey, scert, true);
    peer_options_default(&po);
    po.tls_cert_pem = cpem;
    po.tls_key_pem = ckpem;
    po.tls_binding = "client-binding";
    po.tls_check = t_judge_check;
    po.tls_pin = t_judge_pin;
    po.tls_ctx = &j;
    t_env_up(&e, &po);
    t_tls_server(e.srv, sctx);
    struct http_peer_auth auth = {.prefix = "/v1/peer/",
                                  .header = "Tongban-Binding",
                                  .check = t_server_check,
                                  .reply_value = "server-binding"};
    assert_int_equal(http_server_set_peer_auth(e.srv, &auth, err), TB_OK);
    assert_int_equal(
        http_server_route(e.srv, HTTP_GET | HTTP_POST, "/v1/peer/whoami", h_whoami, &e, err),
        TB_OK);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/peer/whoami", http_server_port(e.srv));

    /* GET: unpinned, the server's binding and key judged at the head; ours sent. */
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &a),
                     TB_OK);
    t_run(&e, &a.calls, 1, 5000);
    assert_int_equal(a.res.rc, TB_OK);
    assert_int_equal(a.res.status, 200);
    assert_int_equal(j.calls, 1);
    assert_string_equal(j.seen_binding, "server-binding");
    assert_string_equal(t_seen_client_binding, "client-binding");

    /* A binding the judge refuses: the response is dropped, rc TB_EAUTH with the reason. */
    j.want_binding = "another-binding";
    assert_int_equal(peer_request(e.client, "GET", url, NULL, NULL, 0, 3000, NULL, t_done, &b),
                     TB_OK);
    t_run(&e, &b.calls, 1, 5000);
    assert_int_equal(b.res.rc, TB_EAUTH);
    assert_int_equal(b.res.status, 0);
    assert_string_equal(b.error, "judge: refused");
    assert_string_equal(b.body, "");
    j.want_binding = "server-binding";

    /* A body goes only pinned: refused when the key is not known, sent when it is. */
    j.pin_mode = TB_EAUTH;
    assert_int_equal(peer_request(e.client, "POST", url, NULL, "x", 1, 3000, NULL, t_done, &c),
                     TB_EAUTH);
    assert_non_null(strstr(peer_client_errmsg(e.client), "judge: key not verified yet"));
    j.pin_mode = TB_OK;
    assert_int_equal(peer_request(e.client, "POST", url, NULL, "x", 1, 3000, NULL, t_done, &c),
                     TB_OK);
    t_run(&e, &c.calls, 1, 5000);
    assert_int_equal(c.res.rc, TB_OK);
    assert_int_equal(c.res.status, 200);
    /* A wrong pin: libcurl refuses the server before the body goes out. */
    int hits = e.post_hits;
    j.pin[0] ^= 1;
    assert_int_equal(peer_request(e.client, "POST", url, NULL, "x", 1, 3000, NULL, t_done, &d),
                     TB_OK);
    t_run(&e, &d.calls, 1, 5000);
    assert_int_equal(d.res.rc, TB_EIO);
    assert_int_equal(e.post_hits, hits);
    t_env_down(&e);
    SSL_CTX_free(sctx);
    X509_free(scert);
    X509_free(ccert);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
    free(spem);
    free(skpem);
    free(cpem);
    free(ckpem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_and_post_round_trips),
        cmocka_unit_test(timeout_on_silent_handler),
        cmocka_unit_test(refused_with_retries_and_backoff),
        cmocka_unit_test(retries_503_then_succeeds),
        cmocka_unit_test(oversized_response_refused),
        cmocka_unit_test(keep_alive_reuses_connection),
        cmocka_unit_test(cancel_at_shutdown_calls_once),
        cmocka_unit_test(redirects_not_followed),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(tls_pinned_mutual),
        cmocka_unit_test(tls_binding_judged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
