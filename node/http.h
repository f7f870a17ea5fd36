/*
 * The node's HTTP server: libevent's evhttp on a caller-owned event_base, with every
 * limit set explicitly, a small exact-match router with {param} segments, and reply
 * helpers that produce DESIGN 6's JSON error shape.
 *
 * node/http.c is the only file that includes libevent's evhttp headers; nothing here
 * exposes them. This module never blocks, never spawns threads and never logs request
 * bodies (they may carry personal data).
 *
 * Lifetimes: a struct http_req is valid from the handler call until the handler replies
 * (http_reply_*), which frees it. A handler that cannot answer at once calls
 * http_req_defer() and replies later from the same event loop; if the client goes away
 * meanwhile the handle stays valid, http_req_gone() turns true, the optional gone
 * callback runs, and the late reply only frees the handle. Views returned by the
 * http_req_* getters (strings, body bytes) are borrowed: path and query values live as
 * long as the handle, header values and body bytes only until the handler returns.
 *
 * Answers that libevent 2.1.12 produces itself, before any handler, carry its own
 * small HTML body rather than the JSON error shape: 413 (body over the limit), 400
 * (unparsable request line or header) and 501 (methods outside enum http_method).
 * Over TLS, the connection cap and the header limit close the connection without the
 * canned 503/431 (raw bytes cannot go into a TLS stream). Requests refused by the peer
 * check (http_server_set_peer_auth) are answered before their body is read, with the JSON
 * error shape, over TLS too.
 */
#ifndef NODE_HTTP_H
#define NODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct http_server;
struct http_req;

/* Methods the server accepts at all; anything else gets 501 from libevent. */
enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_POST = 1 << 1,
    HTTP_HEAD = 1 << 2,
    HTTP_OPTIONS = 1 << 3,
};

/*
 * Every limit the server enforces. http_limits_default() fills the defaults named on
 * each field; a zero field passed to http_server_start() is an error, never "unlimited".
 */
struct http_limits
{
    size_t headers_bytes_max;    /* request line + headers; default 8192 (431 past it) */
    size_t body_bytes_max;       /* default 1 MiB (413 past it) */
    uint32_t io_timeout_ms;      /* idle read/write gap before close; default 10000 */
    uint32_t request_timeout_ms; /* whole head+body from its first byte; default 15000 */
    uint32_t connections_max;    /* open connections; more get 503 and close; default 256 */
    uint32_t query_params_max;   /* distinct query parameters; default 16 */
    size_t query_bytes_max;      /* raw query string; default 2048 */
    size_t json_bytes_max;       /* http_body_json() input bound; default 256 KiB */
    size_t json_depth_max;       /* http_body_json() nesting bound; default 32 */
};

/* Counters for tests, /metrics and the bench. */
struct http_server_stats
{
    uint64_t connections_accepted;       /* ever accepted, refused ones included */
    uint64_t connections_refused;        /* refused at the connection cap */
    uint64_t connections_timed_out;      /* closed by request_timeout_ms */
    uint64_t requests_headers_too_large; /* answered 431 */
    uint32_t connections_open;           /* open now */
    uint32_t requests_deferred;          /* deferred and not yet replied */
    uint64_t requests;                   /* requests that reached the router */
    uint64_t peer_checks;                /* http_peer_auth check() calls (cache misses) */
    uint64_t peer_refused_head;          /* peer requests refused before their body */
    uint64_t peer_refused_late;          /* refused at dispatch (the head check missed) */
};

typedef void (*http_handler_fn)(struct http_req *req, void *arg);
typedef void (*http_gone_fn)(struct http_req *req, void *arg);

void http_limits_default(struct http_limits *limits);

/*
 * Binds "HOST:PORT" ("127.0.0.1:0", "[::1]:8080") on the caller's base and starts
 * serving. Port 0 picks a free port; http_server_port() tells which. limits may be
 * NULL for the defaults. Sets SIGPIPE to ignored if it still has its default action (a
 * client leaving mid-reply must not kill the process). Errors: TB_EINVAL (bad listen
 * string or limits), TB_EIO (bind failed), TB_ENOMEM.
 */
TB_MUST_CHECK int http_server_start(struct event_base *base, const char *listen,
                                    const struct http_limits *limits, struct http_server **out,
                                    char *errmsg);

/* The bound TCP port (useful after port 0). */
uint16_t http_server_port(const struct http_server *srv);

void http_server_stats_get(const struct http_server *srv, struct http_server_stats *out);

/*
 * Adds a route: methods is a mask of enum http_method, pattern is an absolute path
 * whose segments are literals or "{name}" (a whole non-empty segment), e.g.
 * "/v1/records/{id}/proof". Matching is exact (no trailing-slash folding). A GET route
 * also answers HEAD. The pattern is copied. Errors: TB_EINVAL (bad pattern, duplicate
 * pattern and method), TB_ELIMIT (too many routes), TB_ENOMEM.
 */
TB_MUST_CHECK int http_server_route(struct http_server *srv, unsigned methods, const char *pattern,
                                    http_handler_fn handler, void *arg, char *errmsg);

/*
 * Closes the listener and every connection. Deferred requests are detached first: their
 * gone callbacks run and their owners must still reply (which then only frees them).
 * http_server_free(NULL) is a no-op.
 */
void http_server_free(struct http_server *srv);

#define HTTP_PEER_KEY_BYTES 32 /* an Ed25519 public key */

struct ssl_st; /* OpenSSL's SSL, opaque here: OpenSSL calls stay in crypto/ */

/*
 * TLS hooks, implemented with OpenSSL by the caller (crypto/ owns TLS policy:
 * certificate, key, TLS 1.3, client certificate required). ssl_new makes a server-side
 * SSL for one connection (NULL on failure); libevent owns it from then on. ssl_free is
 * for an SSL that never got to libevent. peer_key copies the Ed25519 key of the
 * client's certificate: TB_OK, TB_ENOTFOUND (none) or TB_EINVAL (not Ed25519).
 */
struct http_tls_ops
{
    struct ssl_st *(*ssl_new)(void *ctx);
    void (*ssl_free)(struct ssl_st *ssl, void *ctx);
    int (*peer_key)(struct ssl_st *ssl, uint8_t out[HTTP_PEER_KEY_BYTES], void *ctx);
    void *ctx; /* must outlive the server */
};

/*
 * Serves TLS on every connection from now on (ops copied). Call before the loop runs.
 * The server authenticates nobody itself: handlers read the client certificate's key
 * with http_req_peer_key() and pin it against the member list.
 */
void http_server_set_tls(struct http_server *srv, const struct http_tls_ops *ops);

/*
 * Peer authentication at the header phase (DESIGN 6, docs/peer.md). Once set, every
 * request whose path starts with `prefix` is judged as soon as its head has arrived,
 * before evhttp reads a byte of its body: check() gets the key of the connection's client
 * certificate (key_rc TB_OK, TB_ENOTFOUND or TB_EINVAL as for http_req_peer_key) and the
 * value of the `header` field (NULL when absent; a repeated field is refused before
 * check() runs). A refusal is answered with the verdict's status and the JSON error
 * shape, and the connection is closed without reading the body. An accepted verdict is
 * cached on the connection until until_s (Unix seconds) for that exact header value, so
 * keep-alive requests cost no signature check; the handler then sees the same value and
 * http_req_peer_name() names the peer. Every response to a request under the prefix
 * carries `header: reply_value` when reply_value is not NULL (copied).
 */
#define HTTP_PEER_NAME_MAX 32
#define HTTP_PEER_HEADER_MAX 512 /* bytes of the header value the check sees */

struct http_peer_verdict
{
    int status;                        /* 0 accepts; otherwise 400, 401 or 403 */
    char code[32];                     /* the error code of the refusal, e.g. "not_a_member" */
    char message[256];                 /* why, for the client */
    char name[HTTP_PEER_NAME_MAX + 1]; /* who was accepted (a city code) */
    int64_t until_s; /* the accepted verdict holds until then (the binding's not_after) */
};

typedef void (*http_peer_check_fn)(int key_rc, const uint8_t key[HTTP_PEER_KEY_BYTES],
                                   const char *value, void *ctx, struct http_peer_verdict *out);

struct http_peer_auth
{
    const char *prefix; /* e.g. "/v1/peer/" */
    const char *header; /* e.g. "Tongban-Binding" */
    http_peer_check_fn check;
    void *ctx;               /* must outlive the server */
    const char *reply_value; /* added to every response under the prefix, or NULL */
};

/* Sets the peer check (copied); call before the loop runs. TB_EINVAL, TB_ENOMEM. */
TB_MUST_CHECK int http_server_set_peer_auth(struct http_server *srv,
                                            const struct http_peer_auth *auth, char *errmsg);

/*
 * Also serves plain HTTP on "HOST:PORT" (loopback only: 127.0.0.0/8 or [::1]), with the
 * same routes and limits, for operators' curl and scripts on the node's own host when the
 * main listener is TLS. No client certificate can arrive there, so peer routes are
 * refused. TB_EINVAL (not loopback, bad address), TB_EIO (bind failed), TB_ENOMEM.
 */
TB_MUST_CHECK int http_server_listen_plain(struct http_server *srv, const char *listen,
                                           char *errmsg);
uint16_t http_server_port_plain(const struct http_server *srv); /* 0 when none */

/* The peer the request's connection was accepted as (http_peer_verdict.name), or NULL. */
const char *http_req_peer_name(const struct http_req *req);

/* Request view. */
enum http_method http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);                     /* raw path */
const char *http_req_param(const struct http_req *req, const char *name);  /* {name} */
const char *http_req_query(const struct http_req *req, const char *name);  /* decoded */
const char *http_req_header(const struct http_req *req, const char *name); /* or NULL */
struct tb_bytes http_req_body(const struct http_req *req);
/* The raw (still percent-encoded) query string without '?', "" when there is none; lives as
 * long as the handle. For signature checks (node/api_auth.c). */
const char *http_req_raw_query(const struct http_req *req);
/* The index-th (0-based) header line named name (case-insensitive), or NULL: lets a caller
 * refuse a field sent twice. Borrowed until the handler returns. */
const char *http_req_header_at(const struct http_req *req, const char *name, size_t index);
/* The body is wiped (zeroed) when the request is answered or its client goes away: it may
 * carry personal data. */

/*
 * The Ed25519 public key of the client's TLS certificate, copied into out. Errors:
 * TB_ENOTFOUND (plain HTTP or no client certificate), TB_EINVAL (not an Ed25519 key).
 */
TB_MUST_CHECK int http_req_peer_key(const struct http_req *req, uint8_t out[HTTP_PEER_KEY_BYTES]);

/*
 * Parses the body as strict JSON: Content-Type must be application/json, the body
 * valid UTF-8 without NUL, at most json_bytes_max bytes and json_depth_max deep,
 * duplicate object keys rejected. On failure it has already replied with a 4xx
 * (415 wrong type, 413 too large, 400 malformed) and returns the error; the handler
 * must then just return. The caller owns *out (json_decref).
 */
/*
 * The deepest bracket nesting of JSON text (brackets inside strings ignored), scanning no
 * further once it passes max: a cheap guard to run before handing text to jansson, whose
 * parser recurses.
 */
size_t http_json_depth(const uint8_t *p, size_t len, size_t max);

TB_MUST_CHECK int http_body_json(struct http_req *req, json_t **out);

/* Checks that a POST body is application/json or application/msgpack; replies 415 if not. */
TB_MUST_CHECK int http_body_type_check(struct http_req *req);

/*
 * Keeps the request open after the handler returns; reply later on the same loop. No
 * timeout applies while deferred: the owner must reply eventually (or at shutdown). A
 * client that closes, resets or half-closes its connection meanwhile makes the request
 * gone and runs gone(req, arg) (gone may be NULL).
 */
void http_req_defer(struct http_req *req, http_gone_fn gone, void *arg);

/* True once the client disconnected or the server shut down; a reply only frees. */
bool http_req_gone(const struct http_req *req);

/*
 * Sets a response header (copied) for the coming reply. The name must be a token of at
 * most 64 bytes, the value at most 1024 bytes without control characters, so that a
 * value taken from a client cannot split the response. Errors: TB_EINVAL, TB_ENOMEM.
 */
TB_MUST_CHECK int http_reply_header(struct http_req *req, const char *name, const char *value);

/*
 * Replies and frees req. json: the value is serialised compactly (reference stolen, so
 * http_reply_json(req, 200, json_pack(...)) needs no decref; NULL answers 500).
 * text: a string sent as-is with Content-Type application/json (already JSON text).
 */
void http_reply_json(struct http_req *req, int status, json_t *json);
void http_reply_json_text(struct http_req *req, int status, const char *text);
void http_reply_bytes(struct http_req *req, int status, const char *content_type, const void *bytes,
                      size_t len);

/* {"error": {"code": code, "message": formatted}} with the given 4xx/5xx status. */
void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
    TB_PRINTF(4, 5);

#ifdef __cplusplus
}
#endif
#endif
