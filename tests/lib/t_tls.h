/*
 * Test-only TLS helpers shared by the unit tests of node/http.c and node/peer.c: Ed25519
 * self-signed certificates, TLS 1.3 contexts and http.c's TLS hooks, all on plain OpenSSL
 * so that the tests do not depend on the crypto/ code they help to check. Failures abort
 * (these are fixtures, not code under test). Never for the product.
 */
#ifndef T_TLS_H
#define T_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct http_server;

/*
 * A fresh Ed25519 key and a self-signed certificate with CN = cn, valid from a minute ago
 * for an hour. cert_pem and key_pem (each may be NULL) get malloc'd PEM copies: free().
 */
void t_tls_cert(const char *cn, EVP_PKEY **key, X509 **cert, char **cert_pem, char **key_pem);

/* The raw Ed25519 public key of key. */
void t_tls_raw_public(EVP_PKEY *key, uint8_t out[32]);

/*
 * A TLS 1.3 context. With a certificate, it is presented. A server requires a client
 * certificate unless client_cert_optional, and accepts any issuer (the pin or the binding
 * is the test's check); a client does not check the server.
 */
SSL_CTX *t_tls_ctx(bool server, EVP_PKEY *key, X509 *cert, bool client_cert_optional);

/* Serves TLS on srv with sctx through http.c's hooks (SSL_new, the client key). */
void t_tls_server(struct http_server *srv, SSL_CTX *sctx);

#endif
