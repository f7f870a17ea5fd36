/*
 * Peer client: libcurl multi on the caller's libevent loop (curl's hiperfifo.c pattern).
 *
 * The only file that includes curl/curl.h. It must never block, never start threads,
 * never follow redirects or leave http/https, never let a response grow past the
 * configured maximum, and never call a user callback twice or from inside libcurl:
 * callbacks run from peer_check_done() after curl_multi_socket_action() returned.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it next
 * needs a timeout (CURLMOPT_TIMERFUNCTION); we turn both into libevent events and feed
 * their firing back through curl_multi_socket_action(). Connection reuse comes from
 * the multi handle's connection cache, shared by every easy handle.
 */
#include "peer.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "cr_hash.h"
#include "cr_tls.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_buf.h"
#include "tb_hex.h"

#define PEER_HEADERS_MAX 32
#define PEER_ATTEMPTS_MAX 16
#define PEER_DELAY_MAX_MS 60000u
#define PEER_TIMEOUT_MAX_MS 600000u

enum peer_req_state {
    PEER_REQ_RUNNING = 1, /* added to the multi handle */
    PEER_REQ_WAITING = 2, /* backing off before the next attempt */
};

struct peer_sock
{
    struct peer_client *client;
    curl_socket_t fd;
    struct event ev;
    struct peer_sock *prev, *next;
};

struct peer_req
{
    struct peer_client *client;
    enum peer_req_state state;
    CURL *easy;
    struct curl_slist *headers;
    uint8_t *body;
    size_t body_len;
    struct tb_buf resp;
    int write_rc;       /* why the write callback refused data, else TB_OK */
    bool sock_failed;   /* its socket could not be watched (out of memory) */
    bool retry_allowed; /* method and policy permit another attempt */
    struct peer_retry retry;
    uint32_t attempts;
    struct event retry_ev;
    char errbuf[CURL_ERROR_SIZE];
    char pin[80];     /* "sha256//" + base64 of the pinned key's SPKI hash, or "" */
    bool tls_judge;   /* https with tls_check: every response is judged at its head */
    bool binding_bad; /* the response repeated Tongban-Binding */
    char *binding;    /* the response's Tongban-Binding, or NULL */
    int auth_rc;      /* TB_EAUTH once tls_check refused the response */
    char auth_why[TB_ERRMSG_SIZE];
    peer_done_fn cb;
    void *arg;
    struct peer_req *prev, *next;
};

struct peer_client
{
    struct event_base *base;
    CURLM *multi;
    struct event timer;
    struct peer_options options; /* the PEM pointers point at the copies below */
    char *cert_pem;
    char *key_pem;
    char *binding_hdr; /* "Tongban-Binding: ..." */
    struct peer_req *reqs;
    struct peer_sock *socks;
    uint32_t pending;
    uint64_t rng;
    bool closing;
    bool in_callback;
    bool sock_failed;            /* some request has sock_failed set */
    char errmsg[TB_ERRMSG_SIZE]; /* why the last peer_request() was refused */
};

static int peer_global_users;

void peer_options_default(struct peer_options *options)
{
    TB_ASSERT(options != NULL);
    memset(options, 0, sizeof(*options));
    options->response_bytes_max = 4u << 20;
    options->connect_timeout_ms = 3000;
    options->connections_max = 64;
    options->jitter_seed = 0;
}

/* splitmix64: jitter only needs to decorrelate peers, not to be secret. */
static uint64_t peer_rng_next(struct peer_client *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void peer_timeval(uint32_t ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* ---- libcurl <-> libevent glue ---- */

static void peer_check_done(struct peer_client *c);

static void peer_sock_event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct peer_client *c = arg;
    int running = 0;
    int action =
        ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    TB_ASSERT(c->multi != NULL);
    TB_ASSERT(!c->in_callback);
    /* An error here (out of memory) surfaces as failed transfers in peer_check_done. */
    (void)curl_multi_socket_action(c->multi, fd, action, &running);
    peer_check_done(c);
}

static void peer_timer_event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct peer_client *c = arg;
    int running = 0;
    (void)fd;
    (void)kind;
    TB_ASSERT(!c->in_callback);
    (void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    peer_check_done(c);
}

/* CURLMOPT_TIMERFUNCTION: arm or disarm our single timer; never act from here. */
static int peer_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct peer_client *c = userp;
    TB_ASSERT(c->multi == multi);
    if (timeout_ms < 0) {
        evtimer_del(&c->timer);
        return 0;
    }
    struct timeval tv;
    peer_timeval(
        timeout_ms > (long)PEER_TIMEOUT_MAX_MS ? PEER_TIMEOUT_MAX_MS : (uint32_t)timeout_ms, &tv);
    evtimer_add(&c->timer, &tv);
    return 0;
}

static void peer_sock_free(struct peer_client *c, struct peer_sock *s)
{
    TB_ASSERT(s->client == c);
    event_del(&s->ev);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    tb_free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl asks, or forget it. */
static int peer_curl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct peer_client *c = userp;
    struct peer_sock *s = socketp;
    (void)easy;
    TB_ASSERT(c != NULL);
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL)
            peer_sock_free(c, s);
        return 0;
    }
    if (s == NULL) {
        s = tb_calloc(1, sizeof(*s));
        if (s == NULL) {
            /* Unwatched, the transfer would stall: peer_check_done fails it instead.
             * (Returning -1 would abort libcurl's whole socket_action call.) */
            struct peer_req *r = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
            if (r != NULL) {
                r->sock_failed = true;
                c->sock_failed = true;
            }
            return 0;
        }
        s->client = c;
        s->fd = fd;
        s->next = c->socks;
        if (c->socks != NULL)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    } else {
        event_del(&s->ev);
    }
    TB_ASSERT(s->fd == fd);
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    event_assign(&s->ev, c->base, fd, kind, peer_sock_event_cb, c);
    event_add(&s->ev, NULL);
    return 0;
}

static size_t peer_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct peer_req *r = userp;
    size_t n = size * nmemb; /* libcurl guarantees size == 1 */
    TB_ASSERT(size == 1);
    int rc = tb_buf_append(&r->resp, data, n);
    if (rc != TB_OK) {
        r->write_rc = rc; /* TB_ELIMIT or TB_ENOMEM; the buffer already freed itself */
        return 0;         /* a short count makes libcurl abort with CURLE_WRITE_ERROR */
    }
    return n;
}

/* ---- request lifecycle ---- */

static void peer_req_unlink_free(struct peer_req *r)
{
    struct peer_client *c = r->client;
    TB_ASSERT(c->pending > 0);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    c->pending--;
    event_del(&r->retry_ev);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    tb_buf_release(&r->resp);
    tb_free(r->body);
    tb_free(r->binding);
    tb_free(r);
}

/* Calls the user back exactly once, then frees r. */
static void peer_deliver(struct peer_req *r, struct peer_result *res)
{
    struct peer_client *c = r->client;
    peer_done_fn cb = r->cb;
    void *arg = r->arg;
    TB_ASSERT(cb != NULL);
    TB_ASSERT(!c->in_callback);
    res->attempts = r->attempts;
    if (res->error == NULL)
        res->error = "";
    r->cb = NULL;
    c->in_callback = true;
    cb(res, arg);
    c->in_callback = false;
    peer_req_unlink_free(r);
}

static bool peer_code_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return true;
    default:
        return false;
    }
}

/* Backoff before attempt number `attempts + 1`: base * 2^(attempts-1), capped, with
 * "equal jitter" (half fixed, half random) so that peers retrying together spread out. */
static uint32_t peer_backoff_ms(struct peer_client *c, const struct peer_req *r)
{
    uint64_t d = r->retry.delay_base_ms;
    TB_ASSERT(r->attempts >= 1);
    for (uint32_t i = 1; i < r->attempts && d < r->retry.delay_max_ms; i++)
        d *= 2;
    if (d > r->retry.delay_max_ms)
        d = r->retry.delay_max_ms;
    uint64_t half = d / 2;
    uint64_t ms = half + peer_rng_next(c) % (d - half + 1);
    TB_ASSERT(ms <= r->retry.delay_max_ms);
    return (uint32_t)ms;
}

static void peer_retry_event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct peer_req *r = arg;
    (void)fd;
    (void)kind;
    TB_ASSERT(r->state == PEER_REQ_WAITING);
    TB_ASSERT(!r->client->closing);
    tb_buf_release(&r->resp);
    r->write_rc = TB_OK;
    r->errbuf[0] = '\0';
    r->auth_rc = TB_OK;
    r->binding_bad = false;
    tb_free(r->binding);
    r->binding = NULL;
    r->attempts++;
    r->state = PEER_REQ_RUNNING;
    if (curl_multi_add_handle(r->client->multi, r->easy) != CURLM_OK) {
        struct peer_result res = {.rc = TB_ENOMEM, .error = "cannot restart the transfer"};
        r->state = PEER_REQ_WAITING;
        peer_deliver(r, &res);
    }
}

/* A transfer ended: retry it, or call back with what happened. */
static void peer_finish(struct peer_req *r, CURLcode code)
{
    struct peer_result res = {.rc = TB_OK};
    char why[CURL_ERROR_SIZE + 64];
    long status = 0;
    TB_ASSERT(r->state == PEER_REQ_RUNNING);
    curl_multi_remove_handle(r->client->multi, r->easy);
    r->state = PEER_REQ_WAITING;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    bool retry = r->retry_allowed && r->auth_rc == TB_OK && r->attempts < r->retry.attempts_max &&
                 ((code != CURLE_OK && peer_code_retryable(code)) ||
                  (code == CURLE_OK && (status == 502 || status == 503 || status == 504)));
    if (retry) {
        struct timeval tv;
        peer_timeval(peer_backoff_ms(r->client, r), &tv);
        evtimer_add(&r->retry_ev, &tv);
        return;
    }
    if (r->auth_rc != TB_OK) {
        res.rc = TB_EAUTH; /* the response was dropped at its head */
        res.error = r->auth_why;
    } else if (code == CURLE_OK) {
        res.status = status;
        res.body = r->resp.data;
        res.body_len = r->resp.len;
    } else if (r->write_rc == TB_ELIMIT || code == CURLE_FILESIZE_EXCEEDED) {
        res.rc = TB_ELIMIT;
        snprintf(why, sizeof(why), "response larger than %zu bytes",
                 r->client->options.response_bytes_max);
        res.error = why;
    } else {
        res.rc = r->write_rc == TB_ENOMEM ? TB_ENOMEM : TB_EIO;
        snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(code), r->errbuf[0] ? ": " : "",
                 r->errbuf);
        res.error = why;
    }
    peer_deliver(r, &res);
}

static void peer_check_done(struct peer_client *c)
{
    CURLMsg *msg;
    int left = 0;
    TB_ASSERT(c != NULL);
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct peer_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        TB_ASSERT(r != NULL && r->easy == msg->easy_handle);
        peer_finish(r, msg->data.result);
    }
    /* Transfers whose socket could not be watched; each pass frees one, so restart. */
    while (c->sock_failed) {
        c->sock_failed = false;
        for (struct peer_req *r = c->reqs; r != NULL; r = r->next) {
            if (r->sock_failed && r->state == PEER_REQ_RUNNING) {
                r->write_rc = TB_ENOMEM;
                c->sock_failed = true;
                peer_finish(r, CURLE_OUT_OF_MEMORY); /* never retried */
                break;
            }
        }
    }
}

/* ---- public API ---- */

int peer_client_new(struct event_base *base, const struct peer_options *options,
                    struct peer_client **out, char *errmsg)
{
    struct peer_options o;
    TB_ASSERT(base != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    if (options != NULL)
        o = *options;
    else
        peer_options_default(&o);
    if (o.response_bytes_max == 0 || o.connect_timeout_ms == 0 || o.connections_max == 0)
        return tb_fail(errmsg, TB_EINVAL, "peer client: limits must be positive");
    if ((o.tls_cert_pem == NULL) != (o.tls_key_pem == NULL))
        return tb_fail(errmsg, TB_EINVAL, "peer client: TLS certificate and key go together");
    if ((o.tls_pin != NULL && o.tls_check == NULL) ||
        (o.tls_binding != NULL && (strlen(o.tls_binding) > PEER_BINDING_HEADER_MAX ||
                                   strpbrk(o.tls_binding, "\r\n") != NULL)))
        return tb_fail(errmsg, TB_EINVAL, "peer client: bad TLS binding options");
    if (peer_global_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return tb_fail(errmsg, TB_EIO, "peer client: curl_global_init failed");
    peer_global_users++;
    struct peer_client *c = tb_calloc(1, sizeof(*c));
    if (c == NULL) {
        if (--peer_global_users == 0)
            curl_global_cleanup();
        return tb_fail(errmsg, TB_ENOMEM, "peer client: out of memory");
    }
    c->base = base;
    c->options = o;
    c->options.tls_cert_pem = c->options.tls_key_pem = NULL;
    if (o.tls_cert_pem != NULL && o.tls_key_pem != NULL) {
        c->cert_pem = tb_strdup(o.tls_cert_pem);
        c->key_pem = tb_strdup(o.tls_key_pem);
        if (c->cert_pem == NULL || c->key_pem == NULL) {
            peer_client_free(c);
            return tb_fail(errmsg, TB_ENOMEM, "peer client: out of memory");
        }
        c->options.tls_cert_pem = c->cert_pem;
        c->options.tls_key_pem = c->key_pem;
    }
    c->options.tls_binding = NULL;
    if (o.tls_binding != NULL) {
        size_t blen = strlen(o.tls_binding) + sizeof("Tongban-Binding: ");
        c->binding_hdr = tb_malloc(blen);
        if (c->binding_hdr == NULL) {
            peer_client_free(c);
            return tb_fail(errmsg, TB_ENOMEM, "peer client: out of memory");
        }
        snprintf(c->binding_hdr, blen, "Tongban-Binding: %s", o.tls_binding);
    }
    c->rng = o.jitter_seed;
    if (c->rng == 0 && getrandom(&c->rng, sizeof(c->rng), 0) != (ssize_t)sizeof(c->rng))
        c->rng = (uint64_t)(uintptr_t)c; /* jitter needs variety, not secrecy */
    evtimer_assign(&c->timer, base, peer_timer_event_cb, c);
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        peer_client_free(c);
        return tb_fail(errmsg, TB_EIO, "peer client: curl_multi_init failed");
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, peer_curl_sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, peer_curl_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)o.connections_max);
    *out = c;
    return TB_OK;
}

void peer_client_free(struct peer_client *c)
{
    if (c == NULL)
        return;
    TB_ASSERT(!c->in_callback);
    TB_ASSERT(!c->closing);
    c->closing = true;
    while (c->reqs != NULL) {
        struct peer_req *r = c->reqs;
        struct peer_result res = {.rc = TB_ESTATE, .cancelled = true, .error = "cancelled"};
        if (r->state == PEER_REQ_RUNNING) {
            curl_multi_remove_handle(c->multi, r->easy);
            r->state = PEER_REQ_WAITING;
        }
        peer_deliver(r, &res);
    }
    TB_ASSERT(c->pending == 0);
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi); /* closes cached connections */
    while (c->socks != NULL)
        peer_sock_free(c, c->socks);
    evtimer_del(&c->timer);
    tb_free(c->cert_pem);
    tb_free(c->binding_hdr);
    if (c->key_pem != NULL)
        tb_wipe(c->key_pem, strlen(c->key_pem));
    tb_free(c->key_pem);
    tb_free(c);
    TB_ASSERT(peer_global_users > 0);
    if (--peer_global_users == 0)
        curl_global_cleanup();
}

const char *peer_client_errmsg(const struct peer_client *c)
{
    TB_ASSERT(c != NULL);
    return c->errmsg;
}

uint32_t peer_client_pending(const struct peer_client *c)
{
    TB_ASSERT(c != NULL);
    return c->pending;
}

/* Sets the method, body and headers of a fresh easy handle. */
static int peer_req_method(struct peer_req *r, const char *method, const char *const *headers,
                           char *why, size_t why_size)
{
    CURL *e = r->easy;
    bool idempotent = true;
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "OPTIONS") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "OPTIONS");
    } else if (strcmp(method, "POST") == 0) {
        idempotent = false;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_len > 0 ? (char *)r->body : "");
    } else {
        snprintf(why, why_size, "method '%s' not supported", method);
        return TB_EINVAL;
    }
    r->retry_allowed = r->retry.attempts_max > 1 && (idempotent || r->retry.non_idempotent);
    size_t n = 0;
    for (; headers != NULL && headers[n] != NULL; n++) {
        if (n >= PEER_HEADERS_MAX || strchr(headers[n], ':') == NULL ||
            strpbrk(headers[n], "\r\n") != NULL) {
            snprintf(why, why_size, "header %zu is malformed or one too many", n);
            return TB_EINVAL;
        }
        struct curl_slist *l = curl_slist_append(r->headers, headers[n]);
        if (l == NULL)
            return TB_ENOMEM;
        r->headers = l;
    }
    if (r->client->binding_hdr != NULL) {
        struct curl_slist *b = curl_slist_append(r->headers, r->client->binding_hdr);
        if (b == NULL)
            return TB_ENOMEM;
        r->headers = b;
    }
    /* No "Expect: 100-continue" round trip for larger POST bodies. */
    struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
    if (l == NULL)
        return TB_ENOMEM;
    r->headers = l;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    return TB_OK;
}

/* tls_check on the response head, with the key of the server certificate on this very
 * connection (libcurl hands out the OpenSSL connection while the transfer runs). */
static bool peer_head_judge(struct peer_req *r)
{
    struct peer_client *c = r->client;
    uint8_t key[PEER_PIN_BYTES] = {0};
    struct curl_tlssessioninfo *info = NULL;
    const char *url = NULL;
    int key_rc = TB_EAUTH;
    if (curl_easy_getinfo(r->easy, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals != NULL)
        key_rc = cr_tls_peer_ed25519_public(info->internals, key, NULL) == TB_OK ? TB_OK : TB_EAUTH;
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
    int rc = c->options.tls_check(c->options.tls_ctx, url != NULL ? url : "",
                                  r->binding_bad ? NULL : r->binding, key_rc, key, r->auth_why,
                                  sizeof(r->auth_why));
    if (rc == TB_OK)
        return true;
    r->auth_rc = TB_EAUTH;
    if (r->auth_why[0] == '\0')
        snprintf(r->auth_why, sizeof(r->auth_why), "peer TLS binding refused");
    return false;
}

/* CURLOPT_HEADERFUNCTION (https with tls_check): collects Tongban-Binding, judges at the
 * blank line that ends a final (non-1xx) head; returning 0 aborts before the body. */
static size_t peer_header_cb(char *data, size_t size, size_t nitems, void *userp)
{
    struct peer_req *r = userp;
    size_t n = size * nitems;
    static const char name[] = "Tongban-Binding:";
    TB_ASSERT(size == 1);
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a new head (after a 1xx one) */
        tb_free(r->binding);
        r->binding = NULL;
        r->binding_bad = false;
        return n;
    }
    if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !peer_head_judge(r))
            return 0;
        return n;
    }
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        size_t vlen = n - (sizeof(name) - 1);
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (r->binding != NULL || vlen > PEER_BINDING_HEADER_MAX) {
            r->binding_bad = true;
            return n;
        }
        r->binding = tb_malloc(vlen + 1);
        if (r->binding == NULL) {
            r->binding_bad = true; /* judged as absent: refused */
            return n;
        }
        memcpy(r->binding, v, vlen);
        r->binding[vlen] = '\0';
    }
    return n;
}

/* Every option set explicitly: libcurl's defaults follow no redirects today, but the
 * protocols, signals and sizes must not depend on a build's defaults. */
static int peer_req_options(struct peer_req *r, const char *url, uint32_t timeout_ms)
{
    struct peer_client *c = r->client;
    CURL *e = r->easy;
    uint32_t connect_ms = c->options.connect_timeout_ms;
    if (connect_ms > timeout_ms)
        connect_ms = timeout_ms;
    CURLcode cc = curl_easy_setopt(e, CURLOPT_URL, url);
    cc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
    cc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    cc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    cc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    cc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->options.response_bytes_max);
    cc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    cc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, peer_write_cb);
    cc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    cc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    cc |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (c->options.tls_cert_pem != NULL) {
        /* CURL_BLOB_COPY: libcurl keeps its own copies of the PEM text. */
        struct curl_blob cert = {.data = (void *)c->options.tls_cert_pem,
                                 .len = strlen(c->options.tls_cert_pem),
                                 .flags = CURL_BLOB_COPY};
        struct curl_blob key = {.data = (void *)c->options.tls_key_pem,
                                .len = strlen(c->options.tls_key_pem),
                                .flags = CURL_BLOB_COPY};
        cc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
        cc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        cc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
        cc |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    r->tls_judge = c->options.tls_check != NULL && strncmp(url, "https://", 8) == 0;
    if (r->tls_judge) {
        cc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, peer_header_cb);
        cc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    }
    if (r->pin[0] != '\0') {
        /* Members use self-signed certificates: the pin is the whole check. */
        cc |= curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, r->pin);
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (r->tls_judge) {
        /* Self-signed members: tls_check pins the key this connection showed to the
         * binding in the response, at its head, before a byte of the body is read. */
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        cc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    cc |= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    return cc == CURLE_OK ? TB_OK : TB_EINVAL;
}

static int peer_args_check(const char *url, uint32_t timeout_ms, const struct peer_retry *retry,
                           char *why, size_t why_size)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(why, why_size, "url must be http:// or https://");
        return TB_EINVAL;
    }
    if (timeout_ms == 0 || timeout_ms > PEER_TIMEOUT_MAX_MS) {
        snprintf(why, why_size, "timeout must be in [1, %u] ms", PEER_TIMEOUT_MAX_MS);
        return TB_EINVAL;
    }
    if (retry != NULL &&
        (retry->attempts_max == 0 || retry->attempts_max > PEER_ATTEMPTS_MAX ||
         retry->delay_max_ms > PEER_DELAY_MAX_MS || retry->delay_base_ms > retry->delay_max_ms)) {
        snprintf(why, why_size, "bad retry policy");
        return TB_EINVAL;
    }
    return TB_OK;
}

/*
 * libcurl's pin format: "sha256//" + base64(SHA-256(SubjectPublicKeyInfo DER)). An
 * Ed25519 SPKI is a fixed 12-byte prefix (RFC 8410) followed by the 32-byte key.
 */
static void peer_pin_format(const uint8_t key[PEER_PIN_BYTES], char out[80])
{
    static const uint8_t prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                       0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    uint8_t spki[sizeof(prefix) + PEER_PIN_BYTES];
    uint8_t digest[CR_HASH_BYTES];
    _Static_assert(CR_HASH_BYTES == 32, "SHA-256 pins");
    _Static_assert(8 + TB_BASE64_ENCODED_SIZE(CR_HASH_BYTES) <= 80, "pin buffer size");
    memcpy(spki, prefix, sizeof(prefix));
    memcpy(spki + sizeof(prefix), key, PEER_PIN_BYTES);
    cr_hash(CR_SUITE_ED25519_SHA256, spki, sizeof(spki), digest); /* suite 1 hashes with SHA-256 */
    char b64[TB_BASE64_ENCODED_SIZE(CR_HASH_BYTES)];
    tb_base64_encode(digest, sizeof(digest), b64);
    int n = snprintf(out, 80, "sha256//%s", b64);
    TB_ASSERT(n == 8 + 44);
}

static int peer_request_impl(struct peer_client *c, const uint8_t *pin, const char *method,
                             const char *url, const char *const *headers, const void *body,
                             size_t len, uint32_t timeout_ms, const struct peer_retry *retry,
                             peer_done_fn callback, void *arg)
{
    char why[128] = "";
    TB_ASSERT(c != NULL);
    TB_ASSERT(method != NULL && url != NULL && callback != NULL);
    TB_ASSERT(body != NULL || len == 0);
    if (c->closing)
        return tb_fail(c->errmsg, TB_ESTATE, "peer request: client is shutting down");
    int rc = peer_args_check(url, timeout_ms, retry, why, sizeof(why));
    if (rc != TB_OK)
        return tb_fail(c->errmsg, rc, "peer request: %s", why);
    struct peer_req *r = tb_calloc(1, sizeof(*r));
    if (r == NULL)
        return tb_fail(c->errmsg, TB_ENOMEM, "peer request: out of memory");
    r->client = c;
    r->cb = callback;
    r->arg = arg;
    uint8_t learned[PEER_PIN_BYTES];
    if (pin == NULL && c->options.tls_pin != NULL && len > 0 && strncmp(url, "https://", 8) == 0) {
        /* A body goes to a member only once its key is known. */
        rc = c->options.tls_pin(c->options.tls_ctx, url, learned, why, sizeof(why));
        if (rc == TB_OK) {
            pin = learned;
        } else if (rc != TB_ENOTFOUND) {
            tb_free(r);
            return tb_fail(c->errmsg, TB_EAUTH, "peer request %s %s: %s", method, url,
                           why[0] != '\0' ? why : "server key not verified");
        }
        rc = TB_OK;
    }
    if (pin != NULL)
        peer_pin_format(pin, r->pin);
    r->attempts = 1;
    r->state = PEER_REQ_WAITING;
    r->retry.attempts_max = 1;
    if (retry != NULL)
        r->retry = *retry;
    tb_buf_init(&r->resp, c->options.response_bytes_max);
    evtimer_assign(&r->retry_ev, c->base, peer_retry_event_cb, r);
    r->next = c->reqs;
    if (c->reqs != NULL)
        c->reqs->prev = r;
    c->reqs = r;
    c->pending++;
    r->easy = curl_easy_init();
    if (r->easy == NULL || (len > 0 && (r->body = tb_malloc(len)) == NULL))
        rc = TB_ENOMEM;
    if (rc == TB_OK && len > 0)
        memcpy(r->body, body, len);
    r->body_len = len;
    if (rc == TB_OK)
        rc = peer_req_method(r, method, headers, why, sizeof(why));
    if (rc == TB_OK)
        rc = peer_req_options(r, url, timeout_ms);
    if (rc == TB_OK && curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
        rc = TB_ENOMEM;
    if (rc != TB_OK) {
        r->cb = NULL;
        peer_req_unlink_free(r); /* no callback: the caller sees the error now */
        return tb_fail(c->errmsg, rc, "peer request %s %s: %s", method, url,
                       why[0] != '\0' ? why : tb_strerror(rc));
    }
    r->state = PEER_REQ_RUNNING;
    return TB_OK;
}

int peer_request(struct peer_client *c, const char *method, const char *url,
                 const char *const *headers, const void *body, size_t len, uint32_t timeout_ms,
                 const struct peer_retry *retry, peer_done_fn callback, void *arg)
{
    return peer_request_impl(c, NULL, method, url, headers, body, len, timeout_ms, retry, callback,
                             arg);
}

int peer_request_pinned(struct peer_client *c, const uint8_t pin[PEER_PIN_BYTES],
                        const char *method, const char *url, const char *const *headers,
                        const void *body, size_t len, uint32_t timeout_ms,
                        const struct peer_retry *retry, peer_done_fn callback, void *arg)
{
    TB_ASSERT(pin != NULL);
    if (strncmp(url, "https://", 8) != 0) /* a pin over plain HTTP would protect nothing */
        return tb_fail(c->errmsg, TB_EINVAL, "peer request: a pinned url must be https://");
    return peer_request_impl(c, pin, method, url, headers, body, len, timeout_ms, retry, callback,
                             arg);
}
