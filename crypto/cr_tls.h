/*
 * Node TLS identities (DESIGN 6): each node has its own Ed25519 TLS key, whatever the
 * federation's suite (OpenSSL 3.0 cannot put an SM2 certificate in TLS), a self-signed
 * X.509 certificate for it, and a binding signed by its node key:
 *
 *   sign("tongban/tls/v1\0" ‖ chain_id(32) ‖ len(city)(1) ‖ city ‖ TLS public key(32) ‖
 *        not_after(u64 big-endian, Unix seconds))
 *
 * The binding travels base64-encoded in the Tongban-Binding header (layout in
 * docs/authentication.md). A peer pins the certificate the handshake showed to the binding's
 * key (cr_tls_cert_ed25519_public + cr_tls_binding_check), never to a CA.
 *
 * OpenSSL types appear only as incomplete structs, so a caller that does not link OpenSSL
 * itself can still include this header. Nothing here reads a clock: times are arguments.
 */
#ifndef CR_TLS_H
#define CR_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "cr_sign.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "tb_hex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_TLS_PUBKEY_BYTES 32 /* raw Ed25519 */
#define CR_TLS_CITY_MAX 16     /* [0-9A-Za-z_-], as in the genesis file */
#define CR_TLS_BINDING_TAG "tongban/tls/v1"
#define CR_TLS_BINDING_VERSION 1
/* version, city length, city, not_after, TLS key, signature length, signature */
#define CR_TLS_BINDING_BYTES_MAX \
    (1 + 1 + CR_TLS_CITY_MAX + 8 + CR_TLS_PUBKEY_BYTES + 1 + CR_SIG_MAX)
#define CR_TLS_BINDING_TEXT_SIZE TB_BASE64_ENCODED_SIZE(CR_TLS_BINDING_BYTES_MAX)

struct x509_st;     /* OpenSSL's X509 */
struct evp_pkey_st; /* OpenSSL's EVP_PKEY */
struct ssl_ctx_st;  /* OpenSSL's SSL_CTX */
struct ssl_st;      /* OpenSSL's SSL (what libevent's bufferevent_openssl takes) */
struct cr_tls_identity;

/*
 * A fresh Ed25519 key and a self-signed X.509 v3 certificate: subject and issuer CN = city,
 * a random positive 127-bit serial, valid from not_before_s to not_after_s (Unix seconds).
 * TB_EINVAL (city not 1..16 of [0-9A-Za-z_-], or not_after_s <= not_before_s), TB_ECRYPTO,
 * TB_ENOMEM; errmsg (may be NULL) gets the reason.
 */
TB_MUST_CHECK int cr_tls_identity_new(const char *city, int64_t not_before_s, int64_t not_after_s,
                                      struct cr_tls_identity **out, char *errmsg);

/*
 * Appends the certificate ("CERTIFICATE") and the private key (unencrypted PKCS#8 "PRIVATE
 * KEY": the TLS stack must read it unattended; file permissions protect it) as PEM.
 * Either buffer may be NULL. TB_ECRYPTO, TB_ENOMEM, TB_ELIMIT.
 */
TB_MUST_CHECK int cr_tls_identity_pem(const struct cr_tls_identity *id, struct tb_buf *cert_pem,
                                      struct tb_buf *key_pem);

/*
 * Loads an identity written by cr_tls_identity_pem. Refused with TB_EINVAL: a certificate
 * whose key is not Ed25519, a private key that is not Ed25519 or does not match the
 * certificate, a certificate that is not self-signed by that key, or a subject CN that is
 * not a city code. TB_EMALFORMED for PEM that does not parse, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_tls_identity_from_pem(const uint8_t *cert_pem, size_t cert_len,
                                           const uint8_t *key_pem, size_t key_len,
                                           struct cr_tls_identity **out, char *errmsg);

void cr_tls_identity_free(struct cr_tls_identity *id); /* NULL ok; wipes the key */

void cr_tls_identity_public(const struct cr_tls_identity *id, uint8_t out[CR_TLS_PUBKEY_BYTES]);
const char *cr_tls_identity_city(const struct cr_tls_identity *id);
int64_t cr_tls_identity_not_after(const struct cr_tls_identity *id);
/* Borrowed for the identity's lifetime, for SSL_CTX_use_certificate / _use_PrivateKey. */
struct x509_st *cr_tls_identity_cert(const struct cr_tls_identity *id);
struct evp_pkey_st *cr_tls_identity_pkey(const struct cr_tls_identity *id);

/*
 * The raw Ed25519 public key of a (peer) certificate, for pinning. TB_EAUTH when the
 * certificate's key is anything else (RSA, P-256, SM2, ...), with its type in errmsg.
 */
TB_MUST_CHECK int cr_tls_cert_ed25519_public(const struct x509_st *cert,
                                             uint8_t out[CR_TLS_PUBKEY_BYTES], char *errmsg);

/*
 * A TLS context for peer connections with this identity, so that node/ never includes
 * OpenSSL: TLS 1.3 only, the identity's certificate and key, a peer certificate required on
 * both sides (server: SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and accepted whatever its issuer,
 * because trust comes from the binding check that follows, not from a CA. The context
 * holds its own references; the identity may be freed after. TB_ENOMEM, TB_ECRYPTO.
 */
TB_MUST_CHECK int cr_tls_ctx_new(const struct cr_tls_identity *id, int server,
                                 struct ssl_ctx_st **out, char *errmsg);
void cr_tls_ctx_free(struct ssl_ctx_st *ctx); /* NULL ok */

/*
 * For a server context from cr_tls_ctx_new: asks for a client certificate but lets the
 * handshake finish without one, so that one listener serves the JSON API (browsers,
 * agencies) and the peer API; the HTTP layer then refuses every peer route to a client
 * that showed no certificate (docs/peer.md). Certificates shown are still accepted
 * whatever their issuer, as above.
 */
void cr_tls_ctx_client_cert_optional(struct ssl_ctx_st *ctx);

/*
 * The raw Ed25519 key of a PEM certificate (the first in the text), e.g. a node's tls.crt
 * that the CLI pins. TB_EMALFORMED (no certificate parses), TB_EAUTH (not Ed25519).
 */
TB_MUST_CHECK int cr_tls_cert_pem_ed25519_public(const uint8_t *pem, size_t len,
                                                 uint8_t out[CR_TLS_PUBKEY_BYTES], char *errmsg);

/* A connection object from the context (for bufferevent_openssl_*_new). TB_ENOMEM. */
TB_MUST_CHECK int cr_tls_ssl_new(struct ssl_ctx_st *ctx, struct ssl_st **out);
void cr_tls_ssl_free(struct ssl_st *ssl); /* NULL ok; only if libevent does not own it */

/*
 * After the handshake: the raw Ed25519 key of the certificate the peer showed, for
 * cr_tls_binding_check. TB_EAUTH when there is no peer certificate or its key is not
 * Ed25519.
 */
TB_MUST_CHECK int cr_tls_peer_ed25519_public(const struct ssl_st *ssl,
                                             uint8_t out[CR_TLS_PUBKEY_BYTES], char *errmsg);

/* Whether the peer showed a certificate at all (to tell "none" from "not Ed25519"). */
int cr_tls_peer_cert_present(const struct ssl_st *ssl);

/* A binding as it travels. */
struct cr_tls_binding
{
    char city[CR_TLS_CITY_MAX + 1];
    uint64_t not_after_s;
    uint8_t tls_pub[CR_TLS_PUBKEY_BYTES];
    size_t sig_len;
    uint8_t sig[CR_SIG_MAX];
};

/*
 * Signs a binding with the node key and fills out (city, not_after, key, signature).
 * TB_EINVAL for a bad city code, TB_ECRYPTO, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_tls_binding_sign(struct cr_key *node_key,
                                      const uint8_t chain_id[CR_HASH_BYTES], const char *city,
                                      const uint8_t tls_pub[CR_TLS_PUBKEY_BYTES],
                                      uint64_t not_after_s, struct cr_tls_binding *out);

/*
 * Verifies a binding signature made by the member node key (suite, node_pub). TB_EAUTH
 * when now_s > not_after_s, TB_EINVAL for a bad city code, TB_EBADSIG when the signature
 * (or the node key bytes) do not verify, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_tls_binding_verify(enum cr_suite suite, const uint8_t *node_pub,
                                        size_t node_pub_len, const uint8_t chain_id[CR_HASH_BYTES],
                                        const char *city,
                                        const uint8_t tls_pub[CR_TLS_PUBKEY_BYTES],
                                        uint64_t not_after_s, uint64_t now_s, const uint8_t *sig,
                                        size_t sig_len, char *errmsg);

/*
 * What a peer does with a decoded Tongban-Binding: the binding names the expected member
 * city, its key is the one the TLS handshake showed (cert_pub, from
 * cr_tls_cert_ed25519_public), and it verifies under that member's node key at now_s.
 * TB_EAUTH (wrong city, key not pinned, expired), TB_EBADSIG, TB_EINVAL, TB_ENOMEM.
 */
TB_MUST_CHECK int cr_tls_binding_check(enum cr_suite suite, const uint8_t *node_pub,
                                       size_t node_pub_len, const uint8_t chain_id[CR_HASH_BYTES],
                                       const char *member_city, const struct cr_tls_binding *b,
                                       const uint8_t cert_pub[CR_TLS_PUBKEY_BYTES], uint64_t now_s,
                                       char *errmsg);

/* The header value: padded base64 of the layout above, NUL-terminated. */
void cr_tls_binding_encode(const struct cr_tls_binding *b, char out[CR_TLS_BINDING_TEXT_SIZE]);

/*
 * Strict inverse of cr_tls_binding_encode: canonical padded base64, version 1, a valid city,
 * a signature of 1..CR_SIG_MAX bytes, nothing after it. TB_EMALFORMED with a reason.
 */
TB_MUST_CHECK int cr_tls_binding_decode(const char *text, size_t len, struct cr_tls_binding *out,
                                        char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
