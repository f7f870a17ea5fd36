/*
 * HTTP server on libevent's evhttp: limits, connection tracking, router, replies.
 *
 * The only file that includes libevent's evhttp headers. It must never block, never
 * run handlers outside the caller's event loop, never keep a pointer to an
 * evhttp_request past the moment libevent frees it, and never log request bodies.
 *
 * libevent 2.1.12 has no evhttp_set_max_connections and no hook when an incoming
 * connection is created, so connections are tracked like this: the bufferevent
 * callback (evhttp_set_bevcb) makes each connection's bufferevent and queues a
 * "setup" event; by the time it runs, evhttp has installed its callbacks on that
 * bufferevent with the evhttp_connection as their argument, which gives us the
 * connection to attach a close callback to (counting, deferred replies) and a
 * per-connection deadline timer (slowloris: evhttp's own timeout restarts on every
 * byte, so a client dripping one byte per second would otherwise never be closed).
 *
 * TLS (http_server_set_tls) wraps each connection in bufferevent_openssl. This file
 * never calls OpenSSL (that stays in crypto/): the caller's hooks create each SSL
 * object and read the client certificate's key; libevent drives the handshake.
 *
 * Peer authentication (http_server_set_peer_auth) happens at the header phase: libevent
 * 2.1.12 has no server-side hook between a request's head and its body (no
 * evhttp_set_newreqcb), so the same input callback that counts head bytes also keeps the
 * request line and the peer header; at the blank line it runs the caller's check, and a
 * refused request's bytes are dropped before evhttp's read callback sees them. The refusal
 * is then written through the connection's own bufferevent (TLS included), which this file
 * takes over from evhttp, and the connection closes once it has drained. A second evhttp
 * may serve plain HTTP on loopback (http_server_listen_plain) with the same routes.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "tb_text.h"

#define HTTP_ROUTES_MAX 64
#define HTTP_SEGMENTS_MAX 16
#define HTTP_QUERY_PARAMS_CAP 64
#define HTTP_PATH_BYTES_MAX 2048
#define HTTP_FD_MAX (1 << 20) /* bound on the fd-indexed connection table */
#define HTTP_ALLOWED_METHODS \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS)

_Static_assert(HTTP_SEGMENTS_MAX <= 255, "segment counts are stored in a uint8_t");

struct http_route
{
    unsigned methods;
    char *pattern; /* owned copy; segments point into it */
    uint8_t segments_count;
    struct
    {
        const char *text; /* literal text, or the parameter name for {name} */
        uint16_t len;
        bool param;
    } segments[HTTP_SEGMENTS_MAX];
    http_handler_fn handler;
    void *arg;
};

enum http_conn_state {
    HTTP_CONN_PENDING = 1, /* bevcb ran; setup event queued */
    HTTP_CONN_ACTIVE = 2,  /* counted, close callback installed */
};

struct http_conn
{
    struct http_server *srv;
    enum http_conn_state state;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL while pending */
    evutil_socket_t fd;
    struct event ev;       /* setup event while pending, then the request deadline */
    struct event close_ev; /* EV_CLOSED watch while a request is deferred */
    struct evbuffer_cb_entry *input_cb;
    size_t head_bytes;           /* bytes of the request head received so far */
    uint32_t line_len;           /* non-CR bytes since the last LF in the head */
    bool in_body;                /* head complete; counting resumes at the next request */
    bool overflowed;             /* head too large: 431 sent, input discarded, closing */
    struct http_req *req;        /* the request being handled or deferred, if any */
    struct http_conn_peer *peer; /* header-phase peer check state; NULL without peer auth */
    struct http_conn *prev, *next;
};

/* What the header-phase peer check keeps per connection (http_server_set_peer_auth). */
enum http_refuse_state {
    HTTP_REFUSE_NONE = 0,
    HTTP_REFUSE_PENDING = 1, /* verdict made, input dropped, reply queued on conn->ev */
    HTTP_REFUSE_SENDING = 2, /* we own the bufferevent: the reply drains, then close */
};

#define HTTP_PEER_LINE_CAP (HTTP_PEER_HEADER_MAX + 64)

struct http_conn_peer
{
    char line[HTTP_PEER_LINE_CAP]; /* the head line being received (truncated past the cap) */
    size_t line_fill;
    bool line_long;
    uint32_t head_lines;  /* complete lines of the current head */
    bool head_peer;       /* its target is under the peer prefix */
    bool head_bad;        /* the peer header repeated, folded or too long */
    bool last_was_header; /* the previous line was the peer header (folding check) */
    char *head_value;     /* the peer header's value in this head, or NULL */
    bool auth_ok;         /* a verdict accepted auth_value on this connection */
    char *auth_value;     /* the accepted header value */
    int64_t auth_until_s; /* the cached verdict holds until then */
    char auth_name[HTTP_PEER_NAME_MAX + 1];
    enum http_refuse_state refuse;
    char *refuse_resp; /* the raw refusal, sent through the (TLS) bufferevent */
    size_t refuse_len;
};

struct http_kv
{
    const char *key;
    const char *value;
};

struct http_req
{
    int peer_key_rc; /* TB_OK when peer_key holds the client's TLS key */
    uint8_t peer_key[HTTP_PEER_KEY_BYTES];
    struct http_server *srv;         /* NULL once the server is freed */
    struct evhttp_request *evreq;    /* NULL once libevent may have freed it */
    struct http_conn *conn;          /* NULL once the connection closed */
    struct evkeyvalq *reply_headers; /* borrowed from evreq */
    enum http_method method;
    bool deferred;
    bool gone;
    http_gone_fn gone_cb;
    void *gone_arg;
    const uint8_t *body;
    size_t body_len;
    char *path;      /* raw copy */
    char *raw_query; /* raw copy of the query ("" when none), for signature checks */
    char *strings;   /* decoded parameter and query text */
    uint32_t params_count;
    uint32_t query_count;
    struct http_kv params[HTTP_SEGMENTS_MAX];
    struct http_kv query[HTTP_QUERY_PARAMS_CAP];
    char peer_name[HTTP_PEER_NAME_MAX + 1]; /* the accepted peer, "" if none */
    struct http_req *prev, *next;           /* srv->deferred list */
};

struct http_server
{
    struct event_base *base;
    struct evhttp *evh;
    struct http_limits limits;
    uint16_t port;
    uint32_t routes_count;
    struct http_route routes[HTTP_ROUTES_MAX];
    struct http_conn *conns; /* every tracked connection, pending or active */
    struct http_conn **by_fd;
    size_t by_fd_len;
    struct http_req *deferred;
    struct http_req *dispatching; /* request inside its handler call, if any */
    bool dispatch_done;           /* it replied or deferred */
    bool freeing;
    bool tls; /* tls_ops are set: every connection is TLS */
    struct http_tls_ops tls_ops;
    struct evhttp *evh_plain; /* http_server_listen_plain: loopback plain HTTP, or NULL */
    uint16_t port_plain;
    bool peer_auth_set;
    struct http_peer_auth peer_auth; /* strings point at the copies below */
    char *peer_prefix, *peer_header, *peer_reply;
    struct http_server_stats stats;
};

/* ---- limits and listen address ---- */

void http_limits_default(struct http_limits *limits)
{
    TB_ASSERT(limits != NULL);
    memset(limits, 0, sizeof(*limits));
    limits->headers_bytes_max = 8192;
    limits->body_bytes_max = (size_t)1024 * 1024;
    limits->io_timeout_ms = 10000;
    limits->request_timeout_ms = 15000;
    limits->connections_max = 256;
    limits->query_params_max = 16;
    limits->query_bytes_max = 2048;
    limits->json_bytes_max = (size_t)256 * 1024;
    limits->json_depth_max = 32;
}

static int http_limits_check(const struct http_limits *l, char *errmsg)
{
    TB_ASSERT(l != NULL);
    if (l->headers_bytes_max < 256 || l->headers_bytes_max > (1u << 20))
        return tb_fail(errmsg, TB_EINVAL, "headers_bytes_max must be in [256, 1 MiB]");
    if (l->body_bytes_max == 0 || l->body_bytes_max > (64u << 20))
        return tb_fail(errmsg, TB_EINVAL, "body_bytes_max must be in [1, 64 MiB]");
    if (l->io_timeout_ms == 0 || l->request_timeout_ms == 0)
        return tb_fail(errmsg, TB_EINVAL, "timeouts must be positive");
    if (l->connections_max == 0)
        return tb_fail(errmsg, TB_EINVAL, "connections_max must be positive");
    if (l->query_params_max == 0 || l->query_params_max > HTTP_QUERY_PARAMS_CAP)
        return tb_fail(errmsg, TB_EINVAL, "query_params_max must be in [1, %d]",
                       HTTP_QUERY_PARAMS_CAP);
    if (l->query_bytes_max == 0 || l->json_bytes_max == 0 || l->json_depth_max == 0)
        return tb_fail(errmsg, TB_EINVAL, "query and json bounds must be positive");
    if (l->json_bytes_max > l->body_bytes_max)
        return tb_fail(errmsg, TB_EINVAL, "json_bytes_max exceeds body_bytes_max");
    return TB_OK;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated copy) and port. */
static int http_listen_parse(const char *listen, char *host, size_t host_size, uint16_t *port,
                             char *errmsg)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;
    TB_ASSERT(listen != NULL);
    TB_ASSERT(host_size > 1);
    colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen)
        return tb_fail(errmsg, TB_EINVAL, "listen '%s': want HOST:PORT", listen);
    hlen = (size_t)(colon - listen);
    if (listen[0] == '[') {
        if (hlen < 3 || listen[hlen - 1] != ']')
            return tb_fail(errmsg, TB_EINVAL, "listen '%s': bad IPv6 brackets", listen);
        h = listen + 1;
        hlen -= 2;
    }
    if (hlen >= host_size)
        return tb_fail(errmsg, TB_EINVAL, "listen '%s': host too long", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    const char *p = colon + 1;
    unsigned long v = 0;
    if (*p == '\0' || strlen(p) > 5)
        return tb_fail(errmsg, TB_EINVAL, "listen '%s': bad port", listen);
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return tb_fail(errmsg, TB_EINVAL, "listen '%s': bad port", listen);
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return tb_fail(errmsg, TB_EINVAL, "listen '%s': port out of range", listen);
    *port = (uint16_t)v;
    return TB_OK;
}

/* ---- connection tracking ---- */

/* Frees a connection record and its peer-check state (never libevent objects). */
static void http_conn_free(struct http_conn *conn)
{
    TB_ASSERT(conn != NULL);
    if (conn->peer != NULL) {
        tb_free(conn->peer->head_value);
        tb_free(conn->peer->auth_value);
        tb_free(conn->peer->refuse_resp);
        tb_free(conn->peer);
    }
    tb_free(conn);
}

static void http_conn_unlink(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;
    TB_ASSERT(srv != NULL);
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    if (conn->fd >= 0 && (size_t)conn->fd < srv->by_fd_len && srv->by_fd[conn->fd] == conn)
        srv->by_fd[conn->fd] = NULL;
    event_del(&conn->ev);
}

static void http_conn_drop_stale(struct http_conn *old);

static int http_conn_index(struct http_server *srv, struct http_conn *conn)
{
    size_t fd = (size_t)conn->fd;
    TB_ASSERT(conn->fd >= 0);
    if (fd >= HTTP_FD_MAX)
        return TB_ELIMIT;
    if (fd >= srv->by_fd_len) {
        size_t len = srv->by_fd_len == 0 ? 64 : srv->by_fd_len;
        while (len <= fd)
            len *= 2;
        struct http_conn **t = tb_realloc(srv->by_fd, len * sizeof(struct http_conn *));
        if (t == NULL)
            return TB_ENOMEM;
        memset(t + srv->by_fd_len, 0, (len - srv->by_fd_len) * sizeof(struct http_conn *));
        srv->by_fd = t;
        srv->by_fd_len = len;
    }
    if (srv->by_fd[fd] != NULL)
        http_conn_drop_stale(srv->by_fd[fd]);
    TB_ASSERT(srv->by_fd[fd] == NULL);
    srv->by_fd[fd] = conn;
    return TB_OK;
}

static struct http_conn *http_conn_find(struct http_server *srv, struct evhttp_request *evreq)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    if (evcon == NULL)
        return NULL;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= srv->by_fd_len)
        return NULL;
    struct http_conn *conn = srv->by_fd[fd];
    if (conn != NULL && conn->evcon != evcon)
        return NULL;
    return conn;
}

static void http_conn_arm(struct http_conn *conn)
{
    uint32_t ms = conn->srv->limits.request_timeout_ms;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    TB_ASSERT(conn->state == HTTP_CONN_ACTIVE);
    event_add(&conn->ev, &tv);
}

/* The client went away or the server is closing: the deferred request becomes gone. */
static void http_req_detach(struct http_req *req)
{
    TB_ASSERT(req != NULL);
    if (req->gone)
        return;
    if (req->body != NULL) /* may hold personal data: wiped before libevent frees it */
        tb_wipe((void *)(uintptr_t)req->body, req->body_len);
    if (req->evreq != NULL && evhttp_request_get_connection(req->evreq) == NULL) {
        /* libevent detached it from the dying connection and left it to us. */
        evhttp_request_free(req->evreq);
    }
    req->evreq = NULL;
    req->reply_headers = NULL;
    req->conn = NULL;
    req->body = NULL;
    req->body_len = 0;
    req->gone = true;
    if (req->gone_cb != NULL)
        req->gone_cb(req, req->gone_arg);
}

/*
 * Defensive: the descriptor came back from accept() while its old connection is still
 * indexed, so libevent closed that one without calling our close callback (no such
 * path is known in 2.1.12). None of its libevent objects may be touched any more.
 */
static void http_conn_drop_stale(struct http_conn *old)
{
    struct http_server *srv = old->srv;
    TB_ASSERT(old->state == HTTP_CONN_ACTIVE);
    TB_ASSERT(srv->stats.connections_open > 0);
    srv->stats.connections_open--;
    http_conn_unlink(old);
    event_del(&old->close_ev);
    struct http_req *req = old->req;
    http_conn_free(old);
    if (req != NULL) {
        req->evreq = NULL; /* possibly freed: leaking beats touching it */
        http_req_detach(req);
    }
}

static void http_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct http_conn *conn = arg;
    struct http_server *srv = conn->srv;
    TB_ASSERT(conn->evcon == evcon);
    TB_ASSERT(conn->state == HTTP_CONN_ACTIVE);
    TB_ASSERT(srv->stats.connections_open > 0);
    srv->stats.connections_open--;
    http_conn_unlink(conn);
    event_del(&conn->close_ev);
    if (conn->input_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(conn->bev), conn->input_cb);
    struct http_req *req = conn->req;
    http_conn_free(conn);
    if (req != NULL) {
        /* Only a deferred request can be outstanding here: handlers run synchronously. */
        TB_ASSERT(req->deferred);
        http_req_detach(req);
    }
}

/* Over the connection cap: a best-effort canned 503, then close. */
static void http_conn_refuse(struct http_conn *conn)
{
    static const char resp[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: 70\r\n\r\n"
        "{\"error\":{\"code\":\"overloaded\",\"message\":\"too many open connections\"}}\n";
    _Static_assert(sizeof("{\"error\":{\"code\":\"overloaded\",\"message\":\"too many open "
                          "connections\"}}\n") -
                           1 ==
                       70,
                   "Content-Length must match the body");
    char sink[4096];
    conn->srv->stats.connections_refused++;
    /* A fresh socket's send buffer always takes 200 bytes; a short write just loses
     * the courtesy reply, the close is what matters. Reading what already arrived
     * makes the close a FIN rather than a reset that could discard the reply. */
    if (!conn->srv->tls &&
        send(conn->fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing to do: the client sees a closed connection */
    }
    shutdown(conn->fd, SHUT_WR);
    for (int i = 0; i < 4; i++) {
        if (recv(conn->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    }
    evhttp_connection_free(conn->evcon);
}

static void http_head_line(struct http_conn *conn);
static const char *http_reason(int status);

/* Scans new head bytes; returns true once the head is over the limit. */
static bool http_head_scan(struct http_conn *conn, const uint8_t *p, size_t n)
{
    size_t max = conn->srv->limits.headers_bytes_max;
    struct http_conn_peer *cp = conn->peer;
    for (size_t i = 0; i < n && !conn->in_body; i++) {
        if (++conn->head_bytes > max)
            return true;
        if (p[i] == '\n') {
            /* A blank line after at least one non-blank line ends the head. */
            conn->in_body = conn->line_len == 0 && conn->head_bytes > 2;
            if (cp != NULL && conn->line_len > 0)
                http_head_line(conn);
            conn->line_len = 0;
        } else if (p[i] != '\r') {
            conn->line_len++;
            if (cp != NULL && cp->line_fill < sizeof(cp->line) - 1)
                cp->line[cp->line_fill++] = (char)p[i];
            else if (cp != NULL)
                cp->line_long = true;
        }
    }
    return false;
}

/* ---- header-phase peer check ---- */

static bool http_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* The request line: is its target (origin or absolute form) under the peer prefix? */
static bool http_line_is_peer(const struct http_server *srv, const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL)
        return false;
    const char *t = sp + 1, *end = line + len;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 != NULL)
        end = sp2;
    if (t < end && *t != '/') {
        /* "scheme://authority/path": the path starts at the first '/' after "//". */
        const char *dslash = NULL;
        for (const char *q = t; q + 1 < end && dslash == NULL; q++)
            if (q[0] == '/' && q[1] == '/')
                dslash = q;
        if (dslash == NULL)
            return false;
        t = memchr(dslash + 2, '/', (size_t)(end - dslash - 2));
        if (t == NULL)
            return false;
    }
    return http_has_prefix(t, (size_t)(end - t), srv->peer_auth.prefix);
}

/* One complete line of a head (without CR LF), judged only as far as the check needs. */
static void http_head_line(struct http_conn *conn)
{
    struct http_conn_peer *cp = conn->peer;
    const char *name = conn->srv->peer_auth.header;
    size_t nlen = strlen(name);
    cp->line[cp->line_fill] = '\0';
    if (cp->head_lines++ == 0) {
        cp->head_peer = http_line_is_peer(conn->srv, cp->line, cp->line_fill);
    } else if (cp->line[0] == ' ' || cp->line[0] == '\t') {
        if (cp->last_was_header)
            cp->head_bad = true; /* obs-fold would change the value evhttp hands on */
    } else if (cp->line_fill > nlen && cp->line[nlen] == ':' &&
               strncasecmp(cp->line, name, nlen) == 0) {
        const char *v = cp->line + nlen + 1;
        size_t vlen = cp->line_fill - nlen - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (cp->head_value != NULL || cp->line_long || vlen > HTTP_PEER_HEADER_MAX) {
            cp->head_bad = true;
        } else {
            cp->head_value = tb_malloc(vlen + 1);
            if (cp->head_value == NULL) {
                cp->head_bad = true; /* out of memory: refused, never let through */
            } else {
                memcpy(cp->head_value, v, vlen);
                cp->head_value[vlen] = '\0';
            }
        }
        cp->last_was_header = true;
        cp->line_fill = 0;
        cp->line_long = false;
        return;
    }
    cp->last_was_header = false;
    cp->line_fill = 0;
    cp->line_long = false;
}

static void http_head_reset(struct http_conn_peer *cp)
{
    tb_free(cp->head_value);
    cp->head_value = NULL;
    cp->head_lines = 0;
    cp->head_peer = false;
    cp->head_bad = false;
    cp->last_was_header = false;
    cp->line_fill = 0;
    cp->line_long = false;
}

/* The key of the connection's client certificate, as http_req_peer_key reports it. */
static int http_conn_peer_key(struct http_conn *conn, uint8_t out[HTTP_PEER_KEY_BYTES])
{
    struct http_server *srv = conn->srv;
    if (!srv->tls || conn->bev == NULL)
        return TB_ENOTFOUND;
    struct ssl_st *ssl = bufferevent_openssl_get_ssl(conn->bev);
    if (ssl == NULL)
        return TB_ENOTFOUND; /* the plain listener, or a plain fallback connection */
    int rc = srv->tls_ops.peer_key(ssl, out, srv->tls_ops.ctx);
    TB_ASSERT(rc == TB_OK || rc == TB_ENOTFOUND || rc == TB_EINVAL);
    return rc;
}

/* True when the connection's cached verdict covers this header value now. */
static bool http_conn_peer_cached(const struct http_conn_peer *cp, const char *value)
{
    return cp->auth_ok && cp->auth_value != NULL && value != NULL &&
           strcmp(cp->auth_value, value) == 0 && (int64_t)time(NULL) <= cp->auth_until_s;
}

/* Runs the check (or the cache) for the head just completed; fills v. */
static void http_conn_peer_judge(struct http_conn *conn, struct http_peer_verdict *v)
{
    struct http_server *srv = conn->srv;
    struct http_conn_peer *cp = conn->peer;
    uint8_t key[HTTP_PEER_KEY_BYTES] = {0};
    memset(v, 0, sizeof(*v));
    if (cp->head_bad) {
        v->status = 400;
        snprintf(v->code, sizeof(v->code), "bad_peer_header");
        snprintf(v->message, sizeof(v->message), "%s repeated, folded or longer than %d bytes",
                 srv->peer_auth.header, HTTP_PEER_HEADER_MAX);
        return;
    }
    if (http_conn_peer_cached(cp, cp->head_value)) {
        snprintf(v->name, sizeof(v->name), "%s", cp->auth_name);
        v->until_s = cp->auth_until_s;
        return;
    }
    int key_rc = http_conn_peer_key(conn, key);
    srv->stats.peer_checks++;
    srv->peer_auth.check(key_rc, key, cp->head_value, srv->peer_auth.ctx, v);
    TB_ASSERT(v->status == 0 || (v->status >= 400 && v->status <= 499));
    cp->auth_ok = v->status == 0;
    tb_free(cp->auth_value);
    cp->auth_value = NULL;
    if (cp->auth_ok) {
        cp->auth_value = cp->head_value; /* moved */
        cp->head_value = NULL;
        cp->auth_until_s = v->until_s;
        snprintf(cp->auth_name, sizeof(cp->auth_name), "%s", v->name);
    }
}

/* The raw refusal: status line, JSON error, our own peer header, Connection: close. */
static int http_refusal_build(struct http_conn *conn, const struct http_peer_verdict *v)
{
    struct http_server *srv = conn->srv;
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", v->code, "message", v->message);
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (body == NULL)
        return TB_ENOMEM;
    size_t blen = strlen(body) + 1;
    size_t size = blen + 512 + (srv->peer_reply != NULL ? strlen(srv->peer_reply) : 0);
    char *out = tb_malloc(size);
    if (out != NULL) {
        int n = snprintf(out, size,
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                         "Connection: close\r\nContent-Length: %zu\r\n%s%s%s%s\r\n%s\n",
                         v->status, http_reason(v->status), blen,
                         srv->peer_reply != NULL ? srv->peer_auth.header : "",
                         srv->peer_reply != NULL ? ": " : "",
                         srv->peer_reply != NULL ? srv->peer_reply : "",
                         srv->peer_reply != NULL ? "\r\n" : "", body);
        TB_ASSERT(n > 0 && (size_t)n < size);
        conn->peer->refuse_resp = out;
        conn->peer->refuse_len = (size_t)n;
    }
    free(body); /* jansson allocates with malloc */
    return out != NULL ? TB_OK : TB_ENOMEM;
}

/*
 * The head of a request under the peer prefix is complete and nothing of its body has
 * reached evhttp: judge it; on refusal drop every byte read so far (evhttp then never
 * sees the blank line, let alone the body), stop reading and queue the reply.
 */
static void http_conn_peer_head_done(struct http_conn *conn, struct evbuffer *buf)
{
    struct http_conn_peer *cp = conn->peer;
    struct http_peer_verdict v;
    if (!cp->head_peer || conn->req != NULL) {
        /* Not a peer request, or pipelined behind a running one: dispatch checks it. */
        http_head_reset(cp);
        return;
    }
    http_conn_peer_judge(conn, &v);
    http_head_reset(cp);
    if (v.status == 0)
        return;
    conn->srv->stats.peer_refused_head++;
    evbuffer_drain(buf, evbuffer_get_length(buf));
    bufferevent_disable(conn->bev, EV_READ);
    if (http_refusal_build(conn, &v) == TB_OK)
        cp->refuse = HTTP_REFUSE_PENDING; /* else out of memory: the close alone answers */
    conn->overflowed = true;              /* discard anything that still arrives */
    event_active(&conn->ev, EV_TIMEOUT, 0);
}

static void http_refuse_write_cb(struct bufferevent *bev, void *arg)
{
    struct http_conn *conn = arg;
    TB_ASSERT(conn->bev == bev);
    TB_ASSERT(conn->peer->refuse == HTTP_REFUSE_SENDING);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        evhttp_connection_free(conn->evcon); /* runs http_conn_close_cb */
}

static void http_refuse_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct http_conn *conn = arg;
    (void)what;
    TB_ASSERT(conn->bev == bev);
    evhttp_connection_free(conn->evcon); /* error, EOF or timeout: just close */
}

/* Takes the bufferevent from evhttp and sends the refusal; the close follows its drain. */
static void http_conn_refuse_send(struct http_conn *conn)
{
    struct http_conn_peer *cp = conn->peer;
    TB_ASSERT(cp->refuse == HTTP_REFUSE_PENDING);
    TB_ASSERT(conn->req == NULL);
    cp->refuse = HTTP_REFUSE_SENDING;
    bufferevent_setcb(conn->bev, NULL, http_refuse_write_cb, http_refuse_event_cb, conn);
    if (bufferevent_write(conn->bev, cp->refuse_resp, cp->refuse_len) != 0 ||
        bufferevent_enable(conn->bev, EV_WRITE) != 0) {
        evhttp_connection_free(conn->evcon);
        return;
    }
    http_conn_arm(conn); /* a client that never reads is closed by the deadline */
}

/*
 * Input buffer callback: runs as bytes arrive, before evhttp parses them. It counts
 * the bytes of each request head so that an oversized head gets 431 (libevent 2.1.12
 * would answer 400 as for a malformed header), and discards input after that.
 */
static void http_conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct http_conn *conn = arg;
    static const char resp[] =
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: 74\r\n\r\n"
        "{\"error\":{\"code\":\"headers_too_large\",\"message\":\"request head too large\"}}\n";
    TB_ASSERT(conn->state == HTTP_CONN_ACTIVE);
    if (info->n_added == 0 || (conn->in_body && !conn->overflowed))
        return;
    size_t len = evbuffer_get_length(buf);
    if (conn->overflowed) {
        evbuffer_drain(buf, len); /* re-enters with n_added == 0 */
        return;
    }
    TB_ASSERT(info->n_added <= len);
    if (conn->head_bytes == 0)
        http_conn_arm(conn); /* a new head: the whole of it must arrive in time */
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v[8];
    size_t done = 0;
    evbuffer_ptr_set(buf, &pos, len - info->n_added, EVBUFFER_PTR_SET);
    while (done < info->n_added && !conn->in_body) {
        int k = evbuffer_peek(buf, (ev_ssize_t)(info->n_added - done), &pos, v, 8);
        TB_ASSERT(k > 0);
        size_t step = 0;
        for (int i = 0; i < k && i < 8 && done + step < info->n_added; i++) {
            size_t n = v[i].iov_len;
            if (n > info->n_added - done - step)
                n = info->n_added - done - step;
            if (http_head_scan(conn, v[i].iov_base, n)) {
                conn->overflowed = true;
                conn->srv->stats.requests_headers_too_large++;
                /* evhttp is still reading, so its output is empty: nothing interleaves. */
                /* Over TLS the close alone answers: raw bytes would break the record. */
                if (!conn->srv->tls &&
                    send(conn->fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                    /* the client sees the close alone */
                }
                shutdown(conn->fd, SHUT_WR);
                evbuffer_drain(buf, len);
                event_active(&conn->ev, EV_TIMEOUT, 0); /* frees the connection next */
                return;
            }
            step += n;
        }
        done += step;
        evbuffer_ptr_set(buf, &pos, step, EVBUFFER_PTR_ADD);
    }
    if (conn->in_body && conn->peer != NULL)
        http_conn_peer_head_done(conn, buf);
}

/*
 * Watches a connection whose request is deferred (evhttp stops reading then, so it
 * would not notice). A reset reports as readable, a FIN as EV_CLOSED; bytes waiting
 * (a pipelined request) end the watch, since only evhttp may consume them.
 */
static void http_conn_closed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *conn = arg;
    char byte;
    TB_ASSERT(conn->state == HTTP_CONN_ACTIVE);
    TB_ASSERT(conn->req != NULL && conn->req->deferred);
    if (!(what & EV_CLOSED)) {
        ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
            return; /* not closed; one-shot event, so the watch ends here */
    }
    evhttp_connection_free(conn->evcon); /* runs http_conn_close_cb: req becomes gone */
}

/* Runs once per connection just after evhttp set it up; see the file comment. */
static void http_conn_setup(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;
    void *evcon = NULL;
    bufferevent_data_cb readcb = NULL;
    TB_ASSERT(conn->state == HTTP_CONN_PENDING);
    bufferevent_getcb(conn->bev, &readcb, NULL, NULL, &evcon);
    conn->fd = bufferevent_getfd(conn->bev);
    bool alive = readcb != NULL && evcon != NULL && conn->fd >= 0;
    http_conn_unlink(conn); /* re-linked below if it is kept */
    if (!alive) {
        /* evhttp failed to set the connection up and already freed it. */
        bufferevent_decref(conn->bev);
        http_conn_free(conn);
        return;
    }
    conn->evcon = evcon;
    srv->stats.connections_accepted++;
    /* A reply leaves in more than one write (head, body; over TLS one record each): without
     * TCP_NODELAY the second waits for the client's delayed ACK, ~40 ms a request. */
    int one = 1;
    if (setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        /* not a TCP socket (tests) or a transient error: only latency suffers */
    }
    bool over = srv->stats.connections_open >= srv->limits.connections_max;
    if (over || http_conn_index(srv, conn) != TB_OK) {
        bufferevent_decref(conn->bev); /* evhttp still holds its reference */
        http_conn_refuse(conn);
        http_conn_free(conn);
        return;
    }
    conn->next = srv->conns;
    conn->prev = NULL;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    conn->state = HTTP_CONN_ACTIVE;
    srv->stats.connections_open++;
    evhttp_connection_set_closecb(conn->evcon, http_conn_close_cb, conn);
    event_assign(&conn->close_ev, srv->base, conn->fd, EV_READ | EV_CLOSED, http_conn_closed_cb,
                 conn);
    bufferevent_decref(conn->bev); /* evhttp's reference keeps it past our close callback */
    conn->input_cb = evbuffer_add_cb(bufferevent_get_input(conn->bev), http_conn_input_cb, conn);
    if (conn->input_cb == NULL) {
        evhttp_connection_free(conn->evcon); /* out of memory: runs http_conn_close_cb */
        return;
    }
    /* Plain HTTP: no deadline yet, evhttp's io timeout closes a silent connection and
     * the request deadline starts with the first byte of a head (http_conn_input_cb).
     * TLS: a handshake dripped byte by byte would dodge the io timeout, so the deadline
     * runs from the start too (and restarts with the first decrypted byte). */
    if (srv->tls)
        http_conn_arm(conn);
}

static void http_conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *conn = arg;
    (void)fd;
    (void)what;
    if (conn->state == HTTP_CONN_PENDING) {
        http_conn_setup(conn);
        return;
    }
    TB_ASSERT(conn->state == HTTP_CONN_ACTIVE);
    if (conn->peer != NULL && conn->peer->refuse == HTTP_REFUSE_PENDING) {
        http_conn_refuse_send(conn);
        return;
    }
    if (conn->req != NULL)
        return; /* a handler owns the connection; the release re-arms the deadline */
    if (!conn->overflowed)
        conn->srv->stats.connections_timed_out++;
    evhttp_connection_free(conn->evcon); /* runs http_conn_close_cb, which frees conn */
}

/*
 * A socket bufferevent, or a TLS one in server mode. NULL only when out of memory;
 * evhttp then makes a plain one itself, which on a TLS port can only produce a garbled
 * exchange without a client certificate, so handlers that check http_req_peer_key()
 * still refuse it.
 */
static struct bufferevent *http_bev_new(struct http_server *srv, struct event_base *base,
                                        bool plain)
{
    if (!srv->tls || plain)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct ssl_st *ssl = srv->tls_ops.ssl_new(srv->tls_ops.ctx);
    if (ssl == NULL)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        srv->tls_ops.ssl_free(ssl, srv->tls_ops.ctx);
    return bev;
}

static struct bufferevent *http_bev_track(struct http_server *srv, struct event_base *base,
                                          bool plain)
{
    struct bufferevent *bev = http_bev_new(srv, base, plain);
    TB_ASSERT(srv->base == base);
    if (bev == NULL)
        return NULL; /* see http_bev_new */
    struct http_conn *conn = tb_calloc(1, sizeof(*conn));
    if (conn != NULL && srv->peer_auth_set) {
        conn->peer = tb_calloc(1, sizeof(*conn->peer));
        if (conn->peer == NULL) {
            tb_free(conn);
            conn = NULL;
        }
    }
    if (conn == NULL)
        return bev; /* untracked but served (peer routes refused); only out of memory */
    conn->srv = srv;
    conn->state = HTTP_CONN_PENDING;
    conn->bev = bev;
    conn->fd = -1;
    bufferevent_incref(bev); /* keeps it valid until setup, even if evhttp fails */
    event_assign(&conn->ev, base, -1, 0, http_conn_event_cb, conn);
    event_active(&conn->ev, EV_TIMEOUT, 0);
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    return bev;
}

static struct bufferevent *http_bev_cb(struct event_base *base, void *arg)
{
    return http_bev_track(arg, base, false);
}

static struct bufferevent *http_bev_cb_plain(struct event_base *base, void *arg)
{
    return http_bev_track(arg, base, true);
}

/* ---- strict percent-decoding and query parsing ---- */

/*
 * Decodes src[0..len) into dst (NUL-terminated; dst has len + 1 bytes). Strict: every
 * '%' needs two hex digits, control bytes and invalid UTF-8 are rejected, and '/' may
 * not appear decoded in a path segment. plus_is_space is for query strings.
 */
static int http_pct_decode(const char *src, size_t len, char *dst, bool plus_is_space,
                           bool is_segment)
{
    size_t o = 0;
    TB_ASSERT(src != NULL);
    TB_ASSERT(dst != NULL);
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (len - i < 3)
                return TB_EMALFORMED;
            int hi = tb_hex_digit(src[i + 1]);
            int lo = tb_hex_digit(src[i + 2]);
            if (hi < 0 || lo < 0)
                return TB_EMALFORMED;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f || (is_segment && c == '/'))
            return TB_EMALFORMED;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return tb_utf8_valid((const uint8_t *)dst, o) ? TB_OK : TB_EMALFORMED;
}

/* Parses the raw query into req->query; out is a scratch area of query length + 1. */
static int http_query_parse(struct http_req *req, const char *q, char *out, char *why,
                            size_t why_size)
{
    const struct http_limits *l = &req->srv->limits;
    size_t qlen = strlen(q);
    TB_ASSERT(req->query_count == 0);
    if (qlen > l->query_bytes_max) {
        snprintf(why, why_size, "query longer than %zu bytes", l->query_bytes_max);
        return TB_ELIMIT;
    }
    const char *p = q;
    while (qlen > 0) {
        const char *amp = memchr(p, '&', (size_t)(q + qlen - p));
        size_t plen = amp != NULL ? (size_t)(amp - p) : (size_t)(q + qlen - p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
        if (klen == 0) {
            snprintf(why, why_size, "empty query parameter name");
            return TB_EMALFORMED;
        }
        if (req->query_count >= l->query_params_max) {
            snprintf(why, why_size, "more than %u query parameters", l->query_params_max);
            return TB_ELIMIT;
        }
        char *key = out;
        if (http_pct_decode(p, klen, key, true, false) != TB_OK)
            goto bad;
        out += strlen(key) + 1;
        char *value = out;
        size_t vlen = eq != NULL ? plen - klen - 1 : 0;
        if (http_pct_decode(eq != NULL ? eq + 1 : "", vlen, value, true, false) != TB_OK)
            goto bad;
        out += strlen(value) + 1;
        for (uint32_t i = 0; i < req->query_count; i++) {
            if (strcmp(req->query[i].key, key) == 0) {
                snprintf(why, why_size, "duplicate query parameter");
                return TB_EMALFORMED;
            }
        }
        req->query[req->query_count].key = key;
        req->query[req->query_count].value = value;
        req->query_count++;
        if (amp == NULL)
            break;
        p = amp + 1;
        if (*p == '\0') {
            snprintf(why, why_size, "query ends with '&'");
            return TB_EMALFORMED;
        }
    }
    return TB_OK;
bad:
    snprintf(why, why_size, "bad percent-encoding or characters in query");
    return TB_EMALFORMED;
}

/* ---- router ---- */

static int http_route_compile(struct http_route *r, char *errmsg)
{
    char *p = r->pattern;
    TB_ASSERT(p != NULL);
    if (p[0] != '/')
        return tb_fail(errmsg, TB_EINVAL, "route '%s': must start with '/'", p);
    r->segments_count = 0;
    if (p[1] == '\0')
        return TB_OK; /* "/" has no segments */
    p++;
    for (;;) {
        char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > 255 || r->segments_count >= HTTP_SEGMENTS_MAX)
            return tb_fail(errmsg, TB_EINVAL, "route '%s': bad segment", r->pattern);
        bool param = p[0] == '{';
        if (param && (len < 3 || p[len - 1] != '}'))
            return tb_fail(errmsg, TB_EINVAL, "route '%s': bad {param}", r->pattern);
        if (!param && (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL))
            return tb_fail(errmsg, TB_EINVAL, "route '%s': stray brace", r->pattern);
        r->segments[r->segments_count].text = param ? p + 1 : p;
        r->segments[r->segments_count].len = (uint16_t)(param ? len - 2 : len);
        r->segments[r->segments_count].param = param;
        r->segments_count++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    TB_ASSERT(r->segments_count > 0);
    return TB_OK;
}

int http_server_route(struct http_server *srv, unsigned methods, const char *pattern,
                      http_handler_fn handler, void *arg, char *errmsg)
{
    TB_ASSERT(srv != NULL);
    TB_ASSERT(handler != NULL);
    if (methods == 0 || (methods & ~(unsigned)(HTTP_GET | HTTP_POST | HTTP_HEAD | HTTP_OPTIONS)))
        return tb_fail(errmsg, TB_EINVAL, "route '%s': bad method mask", pattern);
    if (srv->routes_count >= HTTP_ROUTES_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "more than %d routes", HTTP_ROUTES_MAX);
    for (uint32_t i = 0; i < srv->routes_count; i++) {
        if (strcmp(srv->routes[i].pattern, pattern) == 0 && (srv->routes[i].methods & methods))
            return tb_fail(errmsg, TB_EINVAL, "route '%s': method already routed", pattern);
    }
    struct http_route *r = &srv->routes[srv->routes_count];
    memset(r, 0, sizeof(*r));
    r->pattern = tb_strdup(pattern);
    if (r->pattern == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "route '%s': out of memory", pattern);
    int rc = http_route_compile(r, errmsg);
    if (rc != TB_OK) {
        tb_free(r->pattern);
        r->pattern = NULL;
        return rc;
    }
    r->methods = methods;
    r->handler = handler;
    r->arg = arg;
    srv->routes_count++;
    return TB_OK;
}

/* Splits the raw path into at most HTTP_SEGMENTS_MAX segments; -1 if it has more. */
static int http_path_split(const char *path, const char **seg, size_t *len)
{
    int n = 0;
    TB_ASSERT(path[0] == '/');
    if (path[1] == '\0')
        return 0;
    const char *p = path + 1;
    for (;;) {
        if (n >= HTTP_SEGMENTS_MAX)
            return -1;
        const char *slash = strchr(p, '/');
        seg[n] = p;
        len[n] = slash != NULL ? (size_t)(slash - p) : strlen(p);
        n++;
        if (slash == NULL)
            return n;
        p = slash + 1;
    }
}

static bool http_route_match(const struct http_route *r, const char **seg, const size_t *len, int n)
{
    if (n != (int)r->segments_count)
        return false;
    for (int i = 0; i < n; i++) {
        if (r->segments[i].param) {
            if (len[i] == 0)
                return false;
        } else if (len[i] != r->segments[i].len ||
                   memcmp(seg[i], r->segments[i].text, len[i]) != 0) {
            return false;
        }
    }
    return true;
}

static unsigned http_route_allows(const struct http_route *r)
{
    unsigned m = r->methods | HTTP_OPTIONS;
    if (m & HTTP_GET)
        m |= HTTP_HEAD;
    return m;
}

static void http_allow_header(unsigned m, char *out, size_t size)
{
    static const struct
    {
        unsigned bit;
        const char *name;
    } names[] = {
        {HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"}, {HTTP_POST, "POST"}, {HTTP_OPTIONS, "OPTIONS"}};
    size_t o = 0;
    TB_ASSERT(size >= 32);
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (m & names[i].bit)
            o += (size_t)snprintf(out + o, size - o, "%s%s", o ? ", " : "", names[i].name);
    }
    TB_ASSERT(o < size);
}

/* Fills req->params from a matched route, decoding each segment strictly. */
static int http_params_fill(struct http_req *req, const struct http_route *r, const char **seg,
                            const size_t *len, char **out)
{
    TB_ASSERT(req->params_count == 0);
    for (uint32_t i = 0; i < r->segments_count; i++) {
        if (!r->segments[i].param)
            continue;
        char *name = *out;
        memcpy(name, r->segments[i].text, r->segments[i].len);
        name[r->segments[i].len] = '\0';
        *out += r->segments[i].len + 1;
        if (http_pct_decode(seg[i], len[i], *out, false, true) != TB_OK)
            return TB_EMALFORMED;
        req->params[req->params_count].key = name;
        req->params[req->params_count].value = *out;
        req->params_count++;
        *out += strlen(*out) + 1;
    }
    return TB_OK;
}

/* ---- replies ---- */

static const char *http_reason(int status)
{
    static const struct
    {
        int status;
        const char *text;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].text;
    }
    return "Status";
}

/* Unlinks req from the server's bookkeeping and frees it; never touches libevent. */
static void http_req_release(struct http_req *req)
{
    struct http_server *srv = req->srv;
    TB_ASSERT(req != NULL);
    if (srv != NULL && srv->dispatching == req)
        srv->dispatch_done = true;
    if (req->deferred && srv != NULL) {
        if (req->prev != NULL)
            req->prev->next = req->next;
        else
            srv->deferred = req->next;
        if (req->next != NULL)
            req->next->prev = req->prev;
        TB_ASSERT(srv->stats.requests_deferred > 0);
        srv->stats.requests_deferred--;
    }
    if (req->conn != NULL) {
        TB_ASSERT(req->conn->req == req);
        req->conn->req = NULL;
        event_del(&req->conn->close_ev);
        if (req->conn->head_bytes > 0 && !req->conn->in_body)
            http_conn_arm(req->conn); /* a head began meanwhile: its deadline runs now */
    }
    if (req->body != NULL) /* may hold personal data (an ID number): not left in memory */
        tb_wipe((void *)(uintptr_t)req->body, req->body_len);
    tb_free(req->path);
    tb_free(req->raw_query);
    tb_free(req->strings);
    tb_free(req);
}

/* Sends status + body (moved out of buf) unless the client is gone, then frees req. */
static void http_reply_send(struct http_req *req, int status, struct evbuffer *buf)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(status >= 100 && status <= 599);
    if (req->evreq != NULL && !req->gone) {
        struct evhttp_request *evreq = req->evreq;
        http_req_release(req); /* first: a close during the send must not see req */
        evhttp_send_reply(evreq, status, http_reason(status), buf);
    } else {
        http_req_release(req);
    }
    if (buf != NULL)
        evbuffer_free(buf);
}

/* Sets a header whose name and value are known to be clean. */
static int http_header_set(struct http_req *req, const char *name, const char *value)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(name != NULL && value != NULL);
    if (req->reply_headers == NULL)
        return TB_OK; /* gone: nothing will be sent */
    evhttp_remove_header(req->reply_headers, name);
    return evhttp_add_header(req->reply_headers, name, value) == 0 ? TB_OK : TB_ENOMEM;
}

int http_reply_header(struct http_req *req, const char *name, const char *value)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(name != NULL && value != NULL);
    /* Values may come from clients: refuse anything that could split the header. */
    if (name[0] == '\0' || strlen(name) > 64 || strlen(value) > 1024)
        return TB_EINVAL;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == ':')
            return TB_EINVAL;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return TB_EINVAL;
    }
    return http_header_set(req, name, value);
}

void http_reply_bytes(struct http_req *req, int status, const char *content_type, const void *bytes,
                      size_t len)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(bytes != NULL || len == 0);
    if (req->evreq == NULL || req->gone) {
        http_reply_send(req, status, NULL);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL || (len > 0 && evbuffer_add(buf, bytes, len) != 0)) {
        if (buf != NULL)
            evbuffer_free(buf);
        http_reply_send(req, 500, NULL);
        return;
    }
    if (content_type != NULL && http_header_set(req, "Content-Type", content_type) != TB_OK) {
        evbuffer_free(buf);
        http_reply_send(req, 503, NULL);
        return;
    }
    http_reply_send(req, status, buf);
}

void http_reply_json_text(struct http_req *req, int status, const char *text)
{
    TB_ASSERT(text != NULL);
    http_reply_bytes(req, status, "application/json", text, strlen(text));
}

void http_reply_json(struct http_req *req, int status, json_t *json)
{
    TB_ASSERT(req != NULL);
    if (json == NULL) {
        http_reply_error(req, 500, "internal", "response could not be built");
        return;
    }
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    json_decref(json);
    if (text == NULL) {
        http_reply_error(req, 500, "internal", "response could not be serialised");
        return;
    }
    http_reply_json_text(req, status, text);
    free(text); /* jansson allocates with malloc */
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
    char message[TB_ERRMSG_SIZE];
    va_list ap;
    TB_ASSERT(req != NULL);
    TB_ASSERT(status >= 400 && status <= 599);
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    /* json_pack copies both strings; a message that is not UTF-8 makes it fail. */
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (body == NULL)
        body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", "(unprintable)");
    if (body == NULL) {
        http_reply_json_text(req, status, "{\"error\":{\"code\":\"internal\",\"message\":\"\"}}");
        return;
    }
    http_reply_json(req, status, body);
}

void http_req_defer(struct http_req *req, http_gone_fn gone, void *arg)
{
    struct http_server *srv = req->srv;
    TB_ASSERT(srv != NULL);
    TB_ASSERT(!req->deferred);
    TB_ASSERT(srv->dispatching == req); /* only from inside the handler */
    req->deferred = true;
    req->gone_cb = gone;
    req->gone_arg = arg;
    req->next = srv->deferred;
    req->prev = NULL;
    if (srv->deferred != NULL)
        srv->deferred->prev = req;
    srv->deferred = req;
    srv->stats.requests_deferred++;
    srv->dispatch_done = true;
    if (req->conn != NULL)
        event_add(&req->conn->close_ev, NULL);
}

bool http_req_gone(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    return req->gone;
}

/* ---- request view ---- */

enum http_method http_req_method(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    return req->method;
}

const char *http_req_path(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    return req->path;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(name != NULL);
    for (uint32_t i = 0; i < req->params_count; i++) {
        if (strcmp(req->params[i].key, name) == 0)
            return req->params[i].value;
    }
    return NULL;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(name != NULL);
    for (uint32_t i = 0; i < req->query_count; i++) {
        if (strcmp(req->query[i].key, name) == 0)
            return req->query[i].value;
    }
    return NULL;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    TB_ASSERT(req != NULL);
    if (req->evreq == NULL || req->gone)
        return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(req->evreq), name);
}

const char *http_req_raw_query(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    return req->raw_query;
}

const char *http_req_header_at(const struct http_req *req, const char *name, size_t index)
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(name != NULL);
    if (req->evreq == NULL || req->gone)
        return NULL;
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req->evreq);
    const struct evkeyval *kv;
    size_t seen = 0;
    for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) { /* TAILQ_FOREACH */
        if (strcasecmp(kv->key, name) == 0 && seen++ == index)
            return kv->value;
    }
    return NULL;
}

struct tb_bytes http_req_body(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    struct tb_bytes b = {.ptr = req->body, .len = req->body_len};
    return b;
}

/* Compares a Content-Type value's media type (before any ';') case-insensitively. */
static bool http_media_type_is(const char *value, const char *want)
{
    size_t n = strlen(want);
    if (value == NULL || strncasecmp(value, want, n) != 0)
        return false;
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}

int http_body_type_check(struct http_req *req)
{
    const char *ct = http_req_header(req, "Content-Type");
    if (http_media_type_is(ct, "application/json") || http_media_type_is(ct, "application/msgpack"))
        return TB_OK;
    http_reply_error(req, 415, "unsupported_media_type",
                     "Content-Type must be application/json or application/msgpack");
    return TB_EINVAL;
}

/* Nesting depth of JSON text, ignoring brackets inside strings; stops past max. */
size_t http_json_depth(const uint8_t *p, size_t len, size_t max)
{
    size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len && deepest <= max; i++) {
        uint8_t c = p[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > deepest)
                deepest = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

int http_body_json(struct http_req *req, json_t **out)
{
    const struct http_limits *l;
    json_error_t jerr;
    TB_ASSERT(req != NULL && req->srv != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    l = &req->srv->limits;
    if (!http_media_type_is(http_req_header(req, "Content-Type"), "application/json")) {
        http_reply_error(req, 415, "unsupported_media_type",
                         "Content-Type must be application/json");
        return TB_EINVAL;
    }
    if (req->body_len > l->json_bytes_max) {
        http_reply_error(req, 413, "too_large", "JSON body larger than %zu bytes",
                         l->json_bytes_max);
        return TB_ELIMIT;
    }
    if (memchr(req->body, 0, req->body_len) != NULL || !tb_utf8_valid(req->body, req->body_len)) {
        http_reply_error(req, 400, "bad_json", "body is not valid UTF-8 text");
        return TB_EMALFORMED;
    }
    if (http_json_depth(req->body, req->body_len, l->json_depth_max) > l->json_depth_max) {
        http_reply_error(req, 400, "bad_json", "JSON nested deeper than %zu", l->json_depth_max);
        return TB_ELIMIT;
    }
    json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        http_reply_error(req, 400, "bad_json", "JSON: %s at line %d column %d", jerr.text,
                         jerr.line, jerr.column);
        return TB_EMALFORMED;
    }
    *out = j;
    return TB_OK;
}

/* ---- dispatch ---- */

static enum http_method http_method_of(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return HTTP_GET;
    case EVHTTP_REQ_POST:
        return HTTP_POST;
    case EVHTTP_REQ_HEAD:
        return HTTP_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return HTTP_OPTIONS;
    default:
        return 0; /* evhttp_set_allowed_methods keeps the rest out */
    }
}

/* Finds the route for path and method; *allow gets the methods of routes matching path. */
static const struct http_route *http_route_find(struct http_server *srv, enum http_method m,
                                                const char **seg, const size_t *len, int n,
                                                unsigned *allow)
{
    *allow = 0;
    if (n < 0)
        return NULL;
    unsigned want = m == HTTP_HEAD ? (unsigned)(HTTP_HEAD | HTTP_GET) : (unsigned)m;
    for (uint32_t i = 0; i < srv->routes_count; i++) {
        const struct http_route *r = &srv->routes[i];
        if (!http_route_match(r, seg, len, n))
            continue;
        *allow |= http_route_allows(r);
        if (r->methods & want)
            return r;
    }
    return NULL;
}

/* Copies the Ed25519 key of the client's TLS certificate; the handshake is complete
 * once evhttp has a request, so the certificate is final. */
static int http_peer_key_read(struct http_server *srv, struct evhttp_request *evreq,
                              uint8_t out[HTTP_PEER_KEY_BYTES])
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    TB_ASSERT(out != NULL);
    if (!srv->tls || evcon == NULL)
        return TB_ENOTFOUND;
    struct ssl_st *ssl = bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(evcon));
    if (ssl == NULL)
        return TB_ENOTFOUND; /* a plain connection made by evhttp after a failed ssl_new */
    int rc = srv->tls_ops.peer_key(ssl, out, srv->tls_ops.ctx);
    TB_ASSERT(rc == TB_OK || rc == TB_ENOTFOUND || rc == TB_EINVAL);
    return rc;
}

/*
 * A request under the peer prefix that reached dispatch: its connection's verdict must
 * cover exactly the header value evhttp parsed (the head check normally refused it
 * already; pipelined heads and untracked connections are only checked here). Sets the
 * reply header and req->peer_name; otherwise replies 403 and returns false.
 */
static bool http_req_peer_allowed(struct http_server *srv, struct http_req *req)
{
    const char *value = http_req_header(req, srv->peer_auth.header);
    if (srv->peer_reply != NULL &&
        http_header_set(req, srv->peer_auth.header, srv->peer_reply) != TB_OK) {
        /* out of memory: the reply goes out without it and the client drops it */
    }
    struct http_conn_peer *cp = req->conn != NULL ? req->conn->peer : NULL;
    if (cp == NULL || !http_conn_peer_cached(cp, value)) {
        srv->stats.peer_refused_late++;
        http_reply_error(req, 403, "peer_unauthenticated",
                         "%s was not verified for this connection", srv->peer_auth.header);
        return false;
    }
    snprintf(req->peer_name, sizeof(req->peer_name), "%s", cp->auth_name);
    return true;
}

static struct http_req *http_req_new(struct http_server *srv, struct evhttp_request *evreq,
                                     struct http_conn *conn)
{
    struct http_req *req = tb_calloc(1, sizeof(*req));
    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->evreq = evreq;
    req->reply_headers = evhttp_request_get_output_headers(evreq);
    req->method = http_method_of(evhttp_request_get_command(evreq));
    if (conn != NULL) {
        TB_ASSERT(conn->req == NULL);
        req->conn = conn;
        conn->req = req;
    }
    req->peer_key_rc = http_peer_key_read(srv, evreq, req->peer_key);
    struct evbuffer *in = evhttp_request_get_input_buffer(evreq);
    req->body_len = evbuffer_get_length(in);
    TB_ASSERT(req->body_len <= srv->limits.body_bytes_max);
    req->body = req->body_len > 0 ? evbuffer_pullup(in, -1) : NULL;
    if (req->body_len > 0 && req->body == NULL)
        req->body_len = 0; /* pullup failed on memory: handlers see an empty body */
    return req;
}

/* Parses path and query, routes, and runs the handler; every failure is replied here. */
static void http_dispatch(struct http_server *srv, struct http_req *req, const char *path,
                          const char *query)
{
    const char *seg[HTTP_SEGMENTS_MAX] = {NULL};
    size_t len[HTTP_SEGMENTS_MAX] = {0};
    unsigned allow = 0;
    char why[128];
    size_t plen = strlen(path), qlen = query != NULL ? strlen(query) : 0;

    if (plen > HTTP_PATH_BYTES_MAX || qlen > srv->limits.query_bytes_max) {
        http_reply_error(req, 414, "uri_too_long", "path or query too long");
        return;
    }
    int n = http_path_split(path, seg, len);
    const struct http_route *r = http_route_find(srv, req->method, seg, len, n, &allow);
    if (r == NULL && allow == 0) {
        http_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    if (r == NULL) {
        char allow_text[64];
        http_allow_header(allow, allow_text, sizeof(allow_text));
        if (http_header_set(req, "Allow", allow_text) != TB_OK) {
            /* out of memory: the answer goes out without Allow */
        }
        if (req->method == HTTP_OPTIONS) {
            http_reply_bytes(req, 204, NULL, NULL, 0);
            return;
        }
        http_reply_error(req, 405, "method_not_allowed", "method not allowed here");
        return;
    }
    /* Parameter names come from the pattern, decoded values are never longer than the
     * raw path, and decoded query text at most triples with its NULs. */
    size_t names = strlen(r->pattern) + HTTP_SEGMENTS_MAX;
    size_t size = names + plen + HTTP_SEGMENTS_MAX + 3 * (qlen + 1);
    req->path = tb_strdup(path);
    req->raw_query = tb_strdup(query != NULL ? query : "");
    req->strings = tb_malloc(size);
    if (req->path == NULL || req->raw_query == NULL || req->strings == NULL) {
        http_reply_error(req, 503, "overloaded", "out of memory");
        return;
    }
    char *out = req->strings;
    if (http_params_fill(req, r, seg, len, &out) != TB_OK) {
        http_reply_error(req, 400, "bad_path", "bad percent-encoding or characters in path");
        return;
    }
    TB_ASSERT((size_t)(out - req->strings) <= names + plen + HTTP_SEGMENTS_MAX);
    if (query != NULL && http_query_parse(req, query, out, why, sizeof(why)) != TB_OK) {
        http_reply_error(req, 400, "bad_query", "%s", why);
        return;
    }
    srv->dispatching = req;
    srv->dispatch_done = false;
    r->handler(req, r->arg);
    /* A handler must reply or defer before it returns; otherwise the client hangs. */
    TB_ASSERT(srv->dispatch_done);
    srv->dispatching = NULL;
}

static void http_request_cb(struct evhttp_request *evreq, void *arg)
{
    struct http_server *srv = arg;
    TB_ASSERT(evreq != NULL);
    TB_ASSERT(srv->dispatching == NULL); /* evhttp never nests request callbacks */
    srv->stats.requests++;
    struct http_conn *conn = http_conn_find(srv, evreq);
    if (conn != NULL) {
        event_del(&conn->ev); /* the request arrived in time; the handler owns it now */
        conn->head_bytes = 0; /* the next head on this connection is counted afresh */
        conn->line_len = 0;
        conn->in_body = false;
    }
    struct http_req *req = http_req_new(srv, evreq, conn);
    if (req == NULL) {
        evhttp_send_error(evreq, 503, "Service Unavailable");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL || path[0] != '/') {
        http_reply_error(req, 400, "bad_request", "request target must be an absolute path");
        return;
    }
    if (srv->peer_auth_set && http_has_prefix(path, strlen(path), srv->peer_auth.prefix) &&
        !http_req_peer_allowed(srv, req))
        return;
    http_dispatch(srv, req, path, uri != NULL ? evhttp_uri_get_query(uri) : NULL);
}

/* ---- server lifecycle ---- */

/* Every limit explicitly, on the main listener or the plain loopback one. */
static void http_evh_configure(struct http_server *srv, struct evhttp *evh, bool plain)
{
    const struct http_limits *l = &srv->limits;
    struct timeval tv = {.tv_sec = (time_t)(l->io_timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(l->io_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(evh, &tv);
    evhttp_set_max_headers_size(evh, (ev_ssize_t)l->headers_bytes_max);
    evhttp_set_max_body_size(evh, (ev_ssize_t)l->body_bytes_max);
    evhttp_set_allowed_methods(evh, HTTP_ALLOWED_METHODS);
    evhttp_set_default_content_type(evh, "application/json");
    evhttp_set_bevcb(evh, plain ? http_bev_cb_plain : http_bev_cb, srv);
    evhttp_set_gencb(evh, http_request_cb, srv);
}

/* The port a listener got (after port 0). */
static int http_bound_port(struct evhttp_bound_socket *bound, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return TB_EIO;
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return TB_OK;
}

int http_server_start(struct event_base *base, const char *listen, const struct http_limits *limits,
                      struct http_server **out, char *errmsg)
{
    char host[128];
    uint16_t port = 0;
    TB_ASSERT(base != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    struct http_limits l;
    if (limits != NULL)
        l = *limits;
    else
        http_limits_default(&l);
    int rc = http_limits_check(&l, errmsg);
    if (rc == TB_OK)
        rc = http_listen_parse(listen, host, sizeof(host), &port, errmsg);
    if (rc != TB_OK)
        return rc;
    /* A client that disconnects mid-reply must not kill the process: TLS writes go
     * through write(2) without MSG_NOSIGNAL. Only a default disposition is changed. */
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    struct http_server *srv = tb_calloc(1, sizeof(*srv));
    if (srv == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "http server: out of memory");
    srv->base = base;
    srv->limits = l;
    srv->evh = evhttp_new(base);
    if (srv->evh == NULL) {
        tb_free(srv);
        return tb_fail(errmsg, TB_ENOMEM, "http server: evhttp_new failed");
    }
    http_evh_configure(srv, srv->evh, false);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(srv->evh, host, port);
    if (bound == NULL) {
        rc = tb_fail(errmsg, TB_EIO, "listen '%s': bind failed: %s", listen, strerror(errno));
        http_server_free(srv);
        return rc;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = tb_fail(errmsg, TB_EIO, "listen '%s': getsockname: %s", listen, strerror(errno));
        http_server_free(srv);
        return rc;
    }
    srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    TB_ASSERT(port == 0 || srv->port == port);
    *out = srv;
    return TB_OK;
}

int http_server_listen_plain(struct http_server *srv, const char *listen, char *errmsg)
{
    char host[128];
    uint16_t port = 0;
    struct in_addr a4;
    TB_ASSERT(srv != NULL && listen != NULL);
    TB_ASSERT(srv->evh_plain == NULL);
    int rc = http_listen_parse(listen, host, sizeof(host), &port, errmsg);
    if (rc != TB_OK)
        return rc;
    bool loopback = strcmp(host, "::1") == 0 ||
                    (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
    if (!loopback)
        return tb_fail(errmsg, TB_EINVAL,
                       "plain listen '%s': only a loopback address (127.0.0.0/8, [::1])", listen);
    srv->evh_plain = evhttp_new(srv->base);
    if (srv->evh_plain == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "http server: evhttp_new failed");
    http_evh_configure(srv, srv->evh_plain, true);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(srv->evh_plain, host, port);
    if (bound == NULL)
        return tb_fail(errmsg, TB_EIO, "plain listen '%s': bind failed: %s", listen,
                       strerror(errno));
    if (http_bound_port(bound, &srv->port_plain) != TB_OK)
        return tb_fail(errmsg, TB_EIO, "plain listen '%s': getsockname: %s", listen,
                       strerror(errno));
    return TB_OK;
}

uint16_t http_server_port_plain(const struct http_server *srv)
{
    TB_ASSERT(srv != NULL);
    return srv->port_plain;
}

int http_server_set_peer_auth(struct http_server *srv, const struct http_peer_auth *auth,
                              char *errmsg)
{
    TB_ASSERT(srv != NULL && auth != NULL);
    TB_ASSERT(auth->check != NULL);
    TB_ASSERT(!srv->peer_auth_set);
    TB_ASSERT(srv->stats.connections_accepted == 0); /* before the first connection */
    if (auth->prefix == NULL || auth->prefix[0] != '/' || auth->header == NULL ||
        auth->header[0] == '\0' || strlen(auth->header) > 64 || strchr(auth->header, ':'))
        return tb_fail(errmsg, TB_EINVAL, "peer auth: bad prefix or header name");
    if (auth->reply_value != NULL &&
        (strlen(auth->reply_value) > 1024 || strpbrk(auth->reply_value, "\r\n") != NULL))
        return tb_fail(errmsg, TB_EINVAL, "peer auth: bad reply header value");
    srv->peer_prefix = tb_strdup(auth->prefix);
    srv->peer_header = tb_strdup(auth->header);
    srv->peer_reply = auth->reply_value != NULL ? tb_strdup(auth->reply_value) : NULL;
    if (srv->peer_prefix == NULL || srv->peer_header == NULL ||
        (auth->reply_value != NULL && srv->peer_reply == NULL))
        return tb_fail(errmsg, TB_ENOMEM, "peer auth: out of memory");
    srv->peer_auth = *auth;
    srv->peer_auth.prefix = srv->peer_prefix;
    srv->peer_auth.header = srv->peer_header;
    srv->peer_auth.reply_value = srv->peer_reply;
    srv->peer_auth_set = true;
    return TB_OK;
}

const char *http_req_peer_name(const struct http_req *req)
{
    TB_ASSERT(req != NULL);
    return req->peer_name[0] != '\0' ? req->peer_name : NULL;
}

void http_server_set_tls(struct http_server *srv, const struct http_tls_ops *ops)
{
    TB_ASSERT(srv != NULL);
    TB_ASSERT(ops != NULL);
    TB_ASSERT(ops->ssl_new != NULL && ops->ssl_free != NULL && ops->peer_key != NULL);
    TB_ASSERT(srv->stats.connections_accepted == 0); /* before the first connection */
    srv->tls_ops = *ops;
    srv->tls = true;
}

int http_req_peer_key(const struct http_req *req, uint8_t out[HTTP_PEER_KEY_BYTES])
{
    TB_ASSERT(req != NULL);
    TB_ASSERT(out != NULL);
    if (req->peer_key_rc == TB_OK)
        memcpy(out, req->peer_key, HTTP_PEER_KEY_BYTES);
    return req->peer_key_rc;
}

uint16_t http_server_port(const struct http_server *srv)
{
    TB_ASSERT(srv != NULL);
    return srv->port;
}

void http_server_stats_get(const struct http_server *srv, struct http_server_stats *out)
{
    TB_ASSERT(srv != NULL);
    TB_ASSERT(out != NULL);
    *out = srv->stats;
}

void http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    TB_ASSERT(!srv->freeing);
    TB_ASSERT(srv->dispatching == NULL); /* not from inside a handler */
    srv->freeing = true;
    /* Closes listeners and connections; close callbacks detach deferred requests. */
    evhttp_free(srv->evh);
    if (srv->evh_plain != NULL)
        evhttp_free(srv->evh_plain);
    /* Connections still pending setup: evhttp dropped them, our reference remains. */
    while (srv->conns != NULL) {
        struct http_conn *conn = srv->conns;
        http_conn_unlink(conn);
        if (conn->state == HTTP_CONN_PENDING)
            bufferevent_decref(conn->bev);
        else
            event_del(&conn->close_ev);
        if (conn->req != NULL) {
            conn->req->evreq = NULL; /* evhttp_free already freed it */
            http_req_detach(conn->req);
        }
        http_conn_free(conn);
    }
    while (srv->deferred != NULL) {
        struct http_req *req = srv->deferred;
        srv->deferred = req->next;
        if (req->next != NULL)
            req->next->prev = NULL;
        req->srv = NULL; /* its reply now only frees it */
        req->prev = req->next = NULL;
        if (!req->gone)
            req->evreq = NULL; /* untracked connection: evhttp_free freed it */
        http_req_detach(req);  /* last: the gone callback may reply and free req */
    }
    for (uint32_t i = 0; i < srv->routes_count; i++)
        tb_free(srv->routes[i].pattern);
    tb_free(srv->by_fd);
    tb_free(srv->peer_prefix);
    tb_free(srv->peer_header);
    tb_free(srv->peer_reply);
    tb_free(srv);
}
