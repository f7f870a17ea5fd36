/*
 * node/node_tls.c: mutual TLS between member nodes (DESIGN 6, D10, docs/peer.md).
 *
 * The node's TLS identity (Ed25519 key, self-signed certificate) comes from the files
 * `tongban init` wrote; its binding is signed with the node key at every start. On the
 * server side, http.c runs node_tls_check_peer at the header phase of every /v1/peer/
 * request: the client certificate's key, the requester's Tongban-Binding, and the member's
 * node key from the ledger's validator set must agree, or the request is refused before
 * its body is read. On the client side, peer.c runs node_tls_check_server on the head of
 * every https response with the key of the certificate that connection showed, and a
 * request with a body goes out only pinned to a key learned that way.
 *
 * It must never trust a certificate because of its issuer or subject, never send a body to
 * a server whose key it has not verified, never log a binding's signature or a key file,
 * and never accept a binding past its not_after.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cr_tls.h"
#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define NODE_TLS_FILE_MAX (64u * 1024u)
#define NODE_TLS_PREFIX "/v1/peer/"
#define NODE_TLS_HEADER "Tongban-Binding"
#define NODE_TLS_LOG_MS 1000u        /* refusals: NODE_TLS_LOG_MAX warn lines per second, */
#define NODE_TLS_LOG_MAX 10u         /* the rest at debug (a flood must not fill the disk) */
#define NODE_TLS_WARN_S (30 * 86400) /* warn at start when the certificate ends sooner */

struct node_tls
{
    struct cr_tls_identity *id;
    struct ssl_ctx_st *server_ctx;
    char *cert_pem; /* NUL-terminated file contents, for the peer client */
    char *key_pem;  /* wiped at close */
    char binding[CR_TLS_BINDING_TEXT_SIZE];
    bool learned[NODE_PEERS_MAX]; /* by validator index: a verified server key */
    uint8_t learned_key[NODE_PEERS_MAX][CR_TLS_PUBKEY_BYTES];
    uint64_t refused_window_ms; /* start of the current log window (monotonic) */
    uint32_t refused_window_lines;
    uint64_t refused;
};

static uint64_t node_tls_now_s(void)
{
    return (uint64_t)time(NULL);
}

/* Reads a whole small file as a NUL-terminated string. */
static int node_tls_read(const char *path, char **out, size_t *len, char *errmsg)
{
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot read %s: %s", path, strerror(errno));
    char *buf = tb_malloc(NODE_TLS_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, NODE_TLS_FILE_MAX + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (buf == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    if (err || n == 0 || n > NODE_TLS_FILE_MAX) {
        tb_wipe(buf, n);
        tb_free(buf);
        return tb_fail(errmsg, TB_EIO, "%s: empty, unreadable or larger than %u bytes", path,
                       NODE_TLS_FILE_MAX);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TB_OK;
}

static int node_tls_load(struct node *n, struct node_tls *t, char *errmsg)
{
    const struct cfg_peer_section *pc = &n->cfg.peer;
    size_t clen = 0, klen = 0;
    int rc = node_tls_read(pc->tls_cert_file, &t->cert_pem, &clen, errmsg);
    if (rc == TB_OK)
        rc = node_tls_read(pc->tls_key_file, &t->key_pem, &klen, errmsg);
    if (rc == TB_OK)
        rc = cr_tls_identity_from_pem((const uint8_t *)t->cert_pem, clen,
                                      (const uint8_t *)t->key_pem, klen, &t->id, errmsg);
    if (rc != TB_OK) {
        tb_errmsg_wrapf(errmsg, "[peer] tls_cert_file/tls_key_file");
        return rc;
    }
    if (strcmp(cr_tls_identity_city(t->id), n->cfg.node.city) != 0)
        return tb_fail(errmsg, TB_ECONFIG, "%s is the TLS certificate of %s, not of %s",
                       pc->tls_cert_file, cr_tls_identity_city(t->id), n->cfg.node.city);
    int64_t not_after = cr_tls_identity_not_after(t->id);
    if (not_after <= (int64_t)node_tls_now_s())
        return tb_fail(errmsg, TB_ECONFIG,
                       "%s expired at %" PRId64 ": make a new TLS identity (docs/operators.md)",
                       pc->tls_cert_file, not_after);
    return TB_OK;
}

int node_tls_open(struct node *n, char *errmsg)
{
    TB_ASSERT(n->tls == NULL);
    TB_ASSERT(n->key != NULL);
    struct node_tls *t = tb_calloc(1, sizeof(*t));
    if (t == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    n->tls = t;
    int rc = node_tls_load(n, t, errmsg);
    if (rc != TB_OK)
        return rc;
    uint8_t pub[CR_TLS_PUBKEY_BYTES];
    struct cr_tls_binding b;
    cr_tls_identity_public(t->id, pub);
    /* The certificate's notAfter is the binding's (D10). */
    rc = cr_tls_binding_sign(n->key, n->chain_id, n->cfg.node.city, pub,
                             (uint64_t)cr_tls_identity_not_after(t->id), &b);
    if (rc != TB_OK)
        return tb_fail(errmsg, rc, "signing the TLS binding with the node key failed");
    cr_tls_binding_encode(&b, t->binding);
    rc = cr_tls_ctx_new(t->id, 1, &t->server_ctx, errmsg);
    if (rc != TB_OK)
        return rc;
    /* One listener serves browsers and agencies too: the certificate is optional at the
     * handshake and required by every peer route (node_tls_check_peer). */
    cr_tls_ctx_client_cert_optional(t->server_ctx);
    int64_t left_s = cr_tls_identity_not_after(t->id) - (int64_t)node_tls_now_s();
    node_log(left_s < NODE_TLS_WARN_S ? NODE_LOG_WARN : NODE_LOG_INFO, "tls_ready",
             left_s < NODE_TLS_WARN_S ? "the TLS certificate expires in less than 30 days" : NULL,
             "city=%s not_after=%" PRId64, cr_tls_identity_city(t->id),
             cr_tls_identity_not_after(t->id));
    return TB_OK;
}

void node_tls_close(struct node *n)
{
    struct node_tls *t = n->tls;
    if (t == NULL)
        return;
    cr_tls_ctx_free(t->server_ctx);
    cr_tls_identity_free(t->id);
    tb_free(t->cert_pem);
    if (t->key_pem != NULL)
        tb_wipe(t->key_pem, strlen(t->key_pem));
    tb_free(t->key_pem);
    tb_free(t);
    n->tls = NULL;
}

/* ---- server side: the header-phase check (http.c) ---- */

static struct ssl_st *node_tls_ssl_new(void *ctx)
{
    struct ssl_st *ssl = NULL;
    return cr_tls_ssl_new(ctx, &ssl) == TB_OK ? ssl : NULL;
}

static void node_tls_ssl_free(struct ssl_st *ssl, void *ctx)
{
    (void)ctx;
    cr_tls_ssl_free(ssl);
}

static int node_tls_peer_key(struct ssl_st *ssl, uint8_t out[HTTP_PEER_KEY_BYTES], void *ctx)
{
    (void)ctx;
    _Static_assert(HTTP_PEER_KEY_BYTES == CR_TLS_PUBKEY_BYTES, "Ed25519 keys");
    if (!cr_tls_peer_cert_present(ssl))
        return TB_ENOTFOUND;
    return cr_tls_peer_ed25519_public(ssl, out, NULL) == TB_OK ? TB_OK : TB_EINVAL;
}

static const struct node_peer *node_tls_member(const struct node *n, const char *city)
{
    for (uint32_t i = 0; i < n->validator_count; i++) {
        if (strcmp(n->peers[i].member->city, city) == 0)
            return &n->peers[i];
    }
    return NULL;
}

static void node_tls_refuse(struct http_peer_verdict *v, int status, const char *code,
                            const char *fmt, ...) TB_PRINTF(4, 5);

static void node_tls_refuse(struct http_peer_verdict *v, int status, const char *code,
                            const char *fmt, ...)
{
    va_list ap;
    v->status = status;
    snprintf(v->code, sizeof(v->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
}

/* Fills v for a requester: certificate, binding, member, signature, expiry. */
static void node_tls_judge(struct node *n, int key_rc, const uint8_t key[HTTP_PEER_KEY_BYTES],
                           const char *value, struct http_peer_verdict *v)
{
    char why[TB_ERRMSG_SIZE] = "";
    struct cr_tls_binding b;
    if (key_rc == TB_ENOTFOUND) {
        node_tls_refuse(v, 401, "client_certificate_required",
                        "the peer API needs mutual TLS: no client certificate");
        return;
    }
    if (key_rc != TB_OK) {
        node_tls_refuse(v, 401, "bad_client_certificate",
                        "the client certificate's key is not Ed25519");
        return;
    }
    if (value == NULL) {
        node_tls_refuse(v, 401, "binding_required", "no %s header", NODE_TLS_HEADER);
        return;
    }
    if (cr_tls_binding_decode(value, strlen(value), &b, why) != TB_OK) {
        node_tls_refuse(v, 400, "bad_binding", "%s", why);
        return;
    }
    const struct node_peer *p = node_tls_member(n, b.city);
    if (p == NULL) {
        node_tls_refuse(v, 403, "not_a_member", "city %s is not a member of this federation",
                        b.city);
        return;
    }
    uint64_t now = node_tls_now_s();
    if (now > b.not_after_s) {
        node_tls_refuse(v, 403, "binding_expired", "the TLS binding of %s has expired", b.city);
        return;
    }
    int rc = cr_tls_binding_check(n->suite, p->member->node_key, p->member->node_key_len,
                                  n->chain_id, p->member->city, &b, key, now, why);
    if (rc != TB_OK) {
        node_tls_refuse(v, 403, "binding_refused", "%s", why);
        return;
    }
    snprintf(v->name, sizeof(v->name), "%s", b.city);
    v->until_s = (int64_t)b.not_after_s;
}

static void node_tls_check_peer(int key_rc, const uint8_t key[HTTP_PEER_KEY_BYTES],
                                const char *value, void *ctx, struct http_peer_verdict *v)
{
    struct node *n = ctx;
    node_tls_judge(n, key_rc, key, value, v);
    if (v->status == 0)
        return;
    struct node_tls *t = n->tls;
    uint64_t now = node_mono_ms();
    if (t->refused_window_ms == 0 || now - t->refused_window_ms >= NODE_TLS_LOG_MS) {
        t->refused_window_ms = now;
        t->refused_window_lines = 0;
    }
    bool loud = t->refused_window_lines++ < NODE_TLS_LOG_MAX;
    t->refused++;
    /* Judged on the head alone: the body was never read. */
    node_log(loud ? NODE_LOG_WARN : NODE_LOG_DEBUG, "peer_refused", v->message,
             "status=%d code=%s phase=headers refused=%" PRIu64, v->status, v->code, t->refused);
}

int node_tls_server(struct node *n, char *errmsg)
{
    struct node_tls *t = n->tls;
    TB_ASSERT(t != NULL && t->server_ctx != NULL);
    struct http_tls_ops ops = {.ssl_new = node_tls_ssl_new,
                               .ssl_free = node_tls_ssl_free,
                               .peer_key = node_tls_peer_key,
                               .ctx = t->server_ctx};
    http_server_set_tls(n->http, &ops);
    struct http_peer_auth auth = {.prefix = NODE_TLS_PREFIX,
                                  .header = NODE_TLS_HEADER,
                                  .check = node_tls_check_peer,
                                  .ctx = n,
                                  .reply_value = t->binding};
    return http_server_set_peer_auth(n->http, &auth, errmsg);
}

/* ---- client side: every https response is judged at its head (peer.c) ---- */

/* The member whose genesis endpoint the URL is under. */
static struct node_peer *node_tls_peer_by_url(struct node *n, const char *url)
{
    for (uint32_t i = 0; i < n->validator_count; i++) {
        const char *ep = n->peers[i].member->endpoint;
        size_t len = strlen(ep);
        while (len > 0 && ep[len - 1] == '/')
            len--;
        if (len > 0 && strncmp(url, ep, len) == 0 && (url[len] == '/' || url[len] == '\0'))
            return &n->peers[i];
    }
    return NULL;
}

static int node_tls_check_server(void *ctx, const char *url, const char *binding, int key_rc,
                                 const uint8_t key[PEER_PIN_BYTES], char *why, size_t why_size)
{
    struct node *n = ctx;
    char err[TB_ERRMSG_SIZE] = "";
    struct cr_tls_binding b;
    struct node_peer *p = node_tls_peer_by_url(n, url);
    int rc = TB_EAUTH;
    if (p == NULL)
        snprintf(err, sizeof(err), "no member's endpoint covers %s", url);
    else if (key_rc != TB_OK)
        snprintf(err, sizeof(err), "%s showed no Ed25519 certificate", p->member->city);
    else if (binding == NULL)
        snprintf(err, sizeof(err), "%s answered without one %s", p->member->city, NODE_TLS_HEADER);
    else if (cr_tls_binding_decode(binding, strlen(binding), &b, err) == TB_OK)
        rc = cr_tls_binding_check(n->suite, p->member->node_key, p->member->node_key_len,
                                  n->chain_id, p->member->city, &b, key, node_tls_now_s(), err);
    if (rc != TB_OK) {
        snprintf(why, why_size, "peer TLS: %s", err);
        node_log(NODE_LOG_DEBUG, "peer_tls_refused", err, "peer=%s",
                 p != NULL ? p->member->city : "?");
        return TB_EAUTH;
    }
    TB_ASSERT(p->index < NODE_PEERS_MAX);
    if (!n->tls->learned[p->index] ||
        memcmp(n->tls->learned_key[p->index], key, PEER_PIN_BYTES) != 0)
        node_log(NODE_LOG_INFO, "peer_tls_key", NULL, "peer=%s", p->member->city);
    memcpy(n->tls->learned_key[p->index], key, PEER_PIN_BYTES);
    n->tls->learned[p->index] = true;
    return TB_OK;
}

static int node_tls_pin(void *ctx, const char *url, uint8_t pin[PEER_PIN_BYTES], char *why,
                        size_t why_size)
{
    struct node *n = ctx;
    struct node_peer *p = node_tls_peer_by_url(n, url);
    if (p == NULL || !n->tls->learned[p->index]) {
        snprintf(why, why_size, "TLS key of %s not verified yet (its status answer verifies it)",
                 p != NULL ? p->member->city : url);
        return TB_EAUTH;
    }
    memcpy(pin, n->tls->learned_key[p->index], PEER_PIN_BYTES);
    return TB_OK;
}

void node_tls_client_options(struct node *n, struct peer_options *po)
{
    struct node_tls *t = n->tls;
    TB_ASSERT(t != NULL);
    po->tls_cert_pem = t->cert_pem;
    po->tls_key_pem = t->key_pem;
    po->tls_binding = t->binding;
    po->tls_check = node_tls_check_server;
    po->tls_pin = node_tls_pin;
    po->tls_ctx = n;
}
