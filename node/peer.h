/*
 * The peer client: asynchronous HTTP requests to other nodes, libcurl's multi interface
 * driven by the caller's libevent event_base (curl's hiperfifo pattern), no threads.
 *
 * node/peer.c is the only file that includes curl/curl.h. It never blocks, never
 * follows redirects, speaks only http and https, and never invokes a callback twice:
 * each accepted request gets exactly one callback, a "cancelled" one at the latest when
 * the client is freed. https is TLS 1.3 only: peer_request() checks the server against
 * the system CAs and its host name; peer_request_pinned() checks its key instead (how
 * members' self-signed certificates are trusted).
 *
 * Lifetimes: everything passed to peer_request() is copied before it returns. The
 * struct peer_result handed to a callback, and the bytes it points to, are borrowed
 * until the callback returns.
 */
#ifndef NODE_PEER_H
#define NODE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct peer_client;

#define PEER_PIN_BYTES 32           /* an Ed25519 public key */
#define PEER_BINDING_HEADER_MAX 512 /* bytes of a response's Tongban-Binding value */

/*
 * Judges an https response as soon as its headers are complete, before its body is read
 * (docs/peer.md): binding is the response's Tongban-Binding value (NULL when absent or
 * repeated), key the Ed25519 key of the server certificate this very connection showed
 * (key_rc TB_OK; TB_EAUTH when there is none or it is not Ed25519). TB_OK accepts; any
 * other return drops the response: the callback gets rc TB_EAUTH and why as its error.
 */
typedef int (*peer_tls_check_fn)(void *ctx, const char *url, const char *binding, int key_rc,
                                 const uint8_t key[PEER_PIN_BYTES], char *why, size_t why_size);

/*
 * Asked before an https request that carries a body goes out: TB_OK with pin filled pins
 * the server key (libcurl refuses any other before it sends a byte); TB_ENOTFOUND sends
 * it unpinned; anything else refuses the request (peer_request returns TB_EAUTH, why in
 * peer_client_errmsg). Bodiless requests are never pinned: their answers are judged by
 * tls_check, which is how a peer's new key is learned.
 */
typedef int (*peer_tls_pin_fn)(void *ctx, const char *url, uint8_t pin[PEER_PIN_BYTES], char *why,
                               size_t why_size);

/* Client-wide settings; peer_options_default() fills the defaults named here. */
struct peer_options
{
    size_t response_bytes_max;   /* larger responses fail with TB_ELIMIT; default 4 MiB */
    uint32_t connect_timeout_ms; /* default 3000; capped by each request's timeout */
    uint32_t connections_max;    /* cached keep-alive connections; default 64 */
    uint64_t jitter_seed;        /* 0: seeded from getrandom() */
    const char *tls_cert_pem;    /* client certificate for https peers (PEM, copied), or NULL */
    const char *tls_key_pem;     /* its private key (PEM, copied, wiped at free), or NULL */
    const char *tls_binding;     /* Tongban-Binding sent with every request (copied), or NULL */
    peer_tls_check_fn tls_check; /* set: https servers are trusted by this, not by CAs */
    peer_tls_pin_fn tls_pin;     /* optional, with tls_check */
    void *tls_ctx;               /* for both; must outlive the client */
};

/* Retry policy for one request; NULL means a single attempt. */
struct peer_retry
{
    uint32_t attempts_max;  /* total attempts, first included; 1 means no retry */
    uint32_t delay_base_ms; /* first backoff; doubles per attempt */
    uint32_t delay_max_ms;  /* cap on one backoff */
    bool non_idempotent;    /* also retry POST; only when the server dedups requests */
};

/* What a callback learns; rc is TB_OK when an HTTP status arrived, whatever it is. */
struct peer_result
{
    int rc;              /* TB_OK, TB_EIO (network), TB_ELIMIT (too large), TB_ESTATE */
    bool cancelled;      /* the client was freed first (rc TB_ESTATE) */
    long status;         /* HTTP status, 0 when none arrived */
    const uint8_t *body; /* response body, borrowed */
    size_t body_len;
    const char *error; /* human-readable reason when rc != TB_OK, else "" */
    uint32_t attempts; /* attempts made */
};

typedef void (*peer_done_fn)(const struct peer_result *result, void *arg);

void peer_options_default(struct peer_options *options);

/*
 * Creates a client on the caller's event loop; options NULL means the defaults.
 * Errors: TB_EINVAL (bad options), TB_ENOMEM, TB_EIO (libcurl initialisation).
 */
TB_MUST_CHECK int peer_client_new(struct event_base *base, const struct peer_options *options,
                                  struct peer_client **out, char *errmsg);

/*
 * Cancels every request in flight or waiting to retry, calling each callback once with
 * cancelled set, then frees the client. Not from inside a callback.
 * peer_client_free(NULL) is a no-op.
 */
void peer_client_free(struct peer_client *client);

/*
 * Starts a request. method is "GET", "HEAD", "POST" or "OPTIONS"; url must be http:// or
 * https://; headers is a NULL-terminated array of "Name: value" lines (or NULL); body
 * is sent for POST (copied). timeout_ms bounds each attempt from connect to last byte.
 * Retries (with retry != NULL) happen on connection failures, timeouts and 502/503/504,
 * after an exponential backoff with jitter, for GET/HEAD/OPTIONS, and for POST only
 * with non_idempotent set. The callback runs later from the event loop, never from
 * inside this call. Errors (no callback then, details in peer_client_errmsg()):
 * TB_EINVAL, TB_ENOMEM, TB_ESTATE (client shutting down).
 */
TB_MUST_CHECK int peer_request(struct peer_client *client, const char *method, const char *url,
                               const char *const *headers, const void *body, size_t len,
                               uint32_t timeout_ms, const struct peer_retry *retry,
                               peer_done_fn callback, void *arg);

/*
 * peer_request() for an https:// peer whose TLS key is pinned: the connection is used
 * only if the server certificate's key is exactly pin (an Ed25519 public key); no CA or
 * host name is checked, the pin replaces them. The client certificate from
 * peer_options, if any, is presented. Errors as peer_request(); a pin mismatch or a
 * refused client certificate reaches the callback as TB_EIO.
 */
TB_MUST_CHECK int peer_request_pinned(struct peer_client *client, const uint8_t pin[PEER_PIN_BYTES],
                                      const char *method, const char *url,
                                      const char *const *headers, const void *body, size_t len,
                                      uint32_t timeout_ms, const struct peer_retry *retry,
                                      peer_done_fn callback, void *arg);

/* Why the last peer_request() or peer_request_pinned() returned an error. */
const char *peer_client_errmsg(const struct peer_client *client);

/* Requests accepted and not yet called back. */
uint32_t peer_client_pending(const struct peer_client *client);

#ifdef __cplusplus
}
#endif
#endif
