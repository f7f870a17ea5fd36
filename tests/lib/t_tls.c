/*
 * Test-only TLS fixtures (t_tls.h): plain OpenSSL, abort on failure. Never for the product.
 */
#include "t_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "http.h"

#define T_TLS_CHECK(x)                                                                    \
    do {                                                                                  \
        if (!(x)) {                                                                       \
            fprintf(stderr, "%s:%d: t_tls fixture failed: %s\n", __FILE__, __LINE__, #x); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static char *t_tls_pem(int (*write)(BIO *, void *), void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    T_TLS_CHECK(b != NULL);
    T_TLS_CHECK(write(b, obj) == 1);
    long n = BIO_get_mem_data(b, &data);
    T_TLS_CHECK(n > 0);
    char *out = strndup(data, (size_t)n);
    T_TLS_CHECK(out != NULL);
    BIO_free(b);
    return out;
}

static int t_tls_write_cert(BIO *b, void *x)
{
    return PEM_write_bio_X509(b, x);
}

static int t_tls_write_key(BIO *b, void *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

void t_tls_cert(const char *cn, EVP_PKEY **key, X509 **cert, char **cert_pem, char **key_pem)
{
    static long serial = 1;
    *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    T_TLS_CHECK(*key != NULL);
    X509 *x = X509_new();
    T_TLS_CHECK(x != NULL);
    T_TLS_CHECK(X509_set_version(x, 2) == 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    T_TLS_CHECK(X509_set_issuer_name(x, name) == 1);
    T_TLS_CHECK(X509_set_pubkey(x, *key) == 1);
    T_TLS_CHECK(X509_sign(x, *key, NULL) > 0); /* Ed25519: no separate digest */
    *cert = x;
    if (cert_pem != NULL)
        *cert_pem = t_tls_pem(t_tls_write_cert, x);
    if (key_pem != NULL)
        *key_pem = t_tls_pem(t_tls_write_key, *key);
}

void t_tls_raw_public(EVP_PKEY *key, uint8_t out[32])
{
    size_t len = 32;
    T_TLS_CHECK(EVP_PKEY_get_raw_public_key(key, out, &len) == 1 && len == 32);
}

/* Self-signed peer certificates are expected: the test pins the key instead. */
static int t_tls_accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1;
}

SSL_CTX *t_tls_ctx(bool server, EVP_PKEY *key, X509 *cert, bool client_cert_optional)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    T_TLS_CHECK(ctx != NULL);
    T_TLS_CHECK(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1);
    if (cert != NULL) {
        T_TLS_CHECK(SSL_CTX_use_certificate(ctx, cert) == 1);
        T_TLS_CHECK(SSL_CTX_use_PrivateKey(ctx, key) == 1);
    }
    if (server)
        SSL_CTX_set_verify(ctx,
                           client_cert_optional ? SSL_VERIFY_PEER
                                                : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           t_tls_accept_any);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* The TLS hooks of http.c, as crypto/ implements them for the node, here with OpenSSL. */
static struct ssl_st *t_tls_ssl_new(void *ctx)
{
    return SSL_new(ctx);
}

static void t_tls_ssl_free(struct ssl_st *ssl, void *ctx)
{
    (void)ctx;
    SSL_free(ssl);
}

static int t_tls_peer_key(struct ssl_st *ssl, uint8_t out[HTTP_PEER_KEY_BYTES], void *ctx)
{
    (void)ctx;
    X509 *cert = SSL_get0_peer_certificate(ssl);
    EVP_PKEY *pk = cert != NULL ? X509_get0_pubkey(cert) : NULL;
    size_t len = HTTP_PEER_KEY_BYTES;
    if (pk == NULL)
        return TB_ENOTFOUND;
    if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(pk, out, &len) != 1 || len != HTTP_PEER_KEY_BYTES)
        return TB_EINVAL;
    return TB_OK;
}

void t_tls_server(struct http_server *srv, SSL_CTX *sctx)
{
    struct http_tls_ops ops = {.ssl_new = t_tls_ssl_new,
                               .ssl_free = t_tls_ssl_free,
                               .peer_key = t_tls_peer_key,
                               .ctx = sctx};
    http_server_set_tls(srv, &ops);
}
