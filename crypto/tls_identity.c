/*
 * Node TLS identities (cr_tls.h): the Ed25519 TLS key and its self-signed certificate, the
 * TLS 1.3 contexts built from it, the binding of that key to the node key (DESIGN 6), its
 * Tongban-Binding header encoding, and the pin check a peer runs on the certificate the
 * handshake showed.
 *
 * It must never accept a certificate key other than Ed25519 for pinning, never decode a
 * binding that would not re-encode to the same bytes, never read a clock (times are
 * arguments) and never write the TLS private key anywhere but the caller's buffer.
 */
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "cr_ossl.h"
#include "cr_tls.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define BINDING_TAG_BYTES (sizeof(CR_TLS_BINDING_TAG)) /* with the zero byte */
#define BINDING_MSG_MAX \
    (BINDING_TAG_BYTES + CR_HASH_BYTES + 1 + CR_TLS_CITY_MAX + CR_TLS_PUBKEY_BYTES + 8)
#define SERIAL_BYTES 16
#define PEM_INPUT_MAX (64 * 1024)

struct cr_tls_identity
{
    struct cr_key *key; /* Ed25519, with its private half */
    X509 *cert;
    int64_t not_after_s;
    char city[CR_TLS_CITY_MAX + 1];
    uint8_t pub[CR_TLS_PUBKEY_BYTES];
};

static int city_ok(const char *s, size_t n)
{
    if (n == 0 || n > CR_TLS_CITY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int alnum =
            (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && ch != '_' && ch != '-')
            return 0;
    }
    return 1;
}

/* ---- The identity ---- */

static int cert_set_serial(X509 *x)
{
    uint8_t serial[SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    TB_ASSERT(x != NULL);
    if (cr_random(serial, sizeof(serial)) != TB_OK)
        return 0;
    /* Positive (RFC 5280 4.1.2.2) and never zero: the top bit clear, the next one set. */
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(serial, (int)sizeof(serial), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static X509 *cert_build(EVP_PKEY *pkey, const char *city, int64_t not_before_s, int64_t not_after_s)
{
    X509 *x = X509_new();
    X509_NAME *name;
    int ok;

    TB_ASSERT(pkey != NULL);
    TB_ASSERT(not_after_s > not_before_s);
    if (x == NULL)
        return NULL;
    ok = X509_set_version(x, X509_VERSION_3) == 1 && cert_set_serial(x);
    ok = ok && ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before_s) != NULL;
    ok = ok && ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after_s) != NULL;
    name = X509_get_subject_name(x);
    ok = ok && name != NULL &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)city, -1, -1,
                                    0) == 1;
    ok = ok && X509_set_issuer_name(x, name) == 1;
    ok = ok && X509_set_pubkey(x, pkey) == 1;
    /* Ed25519 signs the TBS bytes directly: no digest (NULL), as RFC 8410 requires. */
    ok = ok && X509_sign(x, pkey, NULL) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int cr_tls_identity_new(const char *city, int64_t not_before_s, int64_t not_after_s,
                        struct cr_tls_identity **out, char *errmsg)
{
    struct cr_tls_identity *id;
    size_t city_len;
    int rv;

    TB_ASSERT(city != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    city_len = strnlen(city, CR_TLS_CITY_MAX + 1);
    if (!city_ok(city, city_len))
        return tb_fail(errmsg, TB_EINVAL, "city code must be 1..16 of [0-9A-Za-z_-]");
    if (not_after_s <= not_before_s || not_before_s < 0)
        return tb_fail(errmsg, TB_EINVAL, "certificate validity must end after it starts");
    id = tb_calloc(1, sizeof(*id));
    if (id == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    rv = cr_key_generate(CR_SUITE_ED25519_SHA256, &id->key);
    if (rv != TB_OK) {
        tb_free(id);
        return tb_fail(errmsg, rv, "TLS key generation failed");
    }
    id->cert = cert_build(id->key->pkey, city, not_before_s, not_after_s);
    if (id->cert == NULL) {
        cr_tls_identity_free(id);
        return cr_ossl_fail(errmsg, TB_ECRYPTO, "self-signed certificate");
    }
    memcpy(id->city, city, city_len + 1);
    id->not_after_s = not_after_s;
    TB_ASSERT(id->key->pub_len == CR_TLS_PUBKEY_BYTES);
    memcpy(id->pub, id->key->pub, CR_TLS_PUBKEY_BYTES);
    *out = id;
    return TB_OK;
}

void cr_tls_identity_free(struct cr_tls_identity *id)
{
    if (id == NULL)
        return;
    X509_free(id->cert);
    cr_key_free(id->key);
    tb_free(id);
}

static int bio_to_buf(BIO *bio, struct tb_buf *out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);

    TB_ASSERT(out != NULL);
    if (n <= 0 || data == NULL)
        return TB_ECRYPTO;
    return tb_buf_append(out, data, (size_t)n);
}

int cr_tls_identity_pem(const struct cr_tls_identity *id, struct tb_buf *cert_pem,
                        struct tb_buf *key_pem)
{
    int rv = TB_OK;
    BIO *bio;

    TB_ASSERT(id != NULL && id->cert != NULL);
    TB_ASSERT(id->key != NULL);
    if (cert_pem != NULL) {
        bio = BIO_new(BIO_s_mem());
        if (bio == NULL)
            return TB_ENOMEM;
        rv = PEM_write_bio_X509(bio, id->cert) == 1 ? bio_to_buf(bio, cert_pem) : TB_ECRYPTO;
        BIO_free(bio);
    }
    if (rv == TB_OK && key_pem != NULL) {
        /* Secure-heap BIO: the key's PEM text is cleansed when the BIO is freed. */
        bio = BIO_new(BIO_s_secmem());
        if (bio == NULL)
            return TB_ENOMEM;
        rv = PEM_write_bio_PrivateKey(bio, id->key->pkey, NULL, NULL, 0, NULL, NULL) == 1
                 ? bio_to_buf(bio, key_pem)
                 : TB_ECRYPTO;
        BIO_free(bio);
    }
    if (rv == TB_ECRYPTO)
        (void)cr_ossl_fail(NULL, rv, "TLS identity PEM");
    return rv;
}

/* Never prompt on a terminal: a certificate has no passphrase. */
static int no_pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int cert_read_city(X509 *x, char city[CR_TLS_CITY_MAX + 1])
{
    char text[64];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, text,
                                      (int)sizeof(text));

    if (n <= 0 || (size_t)n >= sizeof(text) || !city_ok(text, (size_t)n) ||
        strlen(text) != (size_t)n)
        return TB_EINVAL;
    memcpy(city, text, (size_t)n + 1);
    return TB_OK;
}

static int cert_read_not_after(X509 *x, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return TB_EINVAL;
    *out = (int64_t)timegm(&tm);
    return TB_OK;
}

/* The loaded certificate must carry the loaded key and be signed by it. */
static int identity_check(struct cr_tls_identity *id, char *errmsg)
{
    uint8_t cert_pub[CR_TLS_PUBKEY_BYTES];
    int rv = cr_tls_cert_ed25519_public(id->cert, cert_pub, errmsg);

    if (rv != TB_OK)
        return TB_EINVAL;
    if (cr_key_suite(id->key) != CR_SUITE_ED25519_SHA256)
        return tb_fail(errmsg, TB_EINVAL, "TLS private key is not Ed25519");
    TB_ASSERT(id->key->pub_len == CR_TLS_PUBKEY_BYTES);
    if (memcmp(cert_pub, id->key->pub, CR_TLS_PUBKEY_BYTES) != 0)
        return tb_fail(errmsg, TB_EINVAL, "TLS private key does not match the certificate");
    if (X509_verify(id->cert, id->key->pkey) != 1)
        return cr_ossl_fail(errmsg, TB_EINVAL, "certificate is not self-signed by its key");
    if (cert_read_city(id->cert, id->city) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "certificate subject CN is not a city code");
    if (cert_read_not_after(id->cert, &id->not_after_s) != TB_OK)
        return cr_ossl_fail(errmsg, TB_EINVAL, "certificate notAfter");
    memcpy(id->pub, cert_pub, sizeof(cert_pub));
    return TB_OK;
}

int cr_tls_identity_from_pem(const uint8_t *cert_pem, size_t cert_len, const uint8_t *key_pem,
                             size_t key_len, struct cr_tls_identity **out, char *errmsg)
{
    struct cr_tls_identity *id;
    BIO *bio;
    int rv;

    TB_ASSERT(cert_pem != NULL && key_pem != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    if (cert_len == 0 || cert_len > PEM_INPUT_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "certificate PEM of %zu bytes", cert_len);
    id = tb_calloc(1, sizeof(*id));
    if (id == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    id->cert = bio == NULL ? NULL : PEM_read_bio_X509(bio, NULL, no_pass_cb, NULL);
    BIO_free(bio);
    if (id->cert == NULL) {
        tb_free(id);
        return cr_ossl_fail(errmsg, TB_EMALFORMED, "certificate PEM");
    }
    rv = cr_key_from_pem(key_pem, key_len, NULL, &id->key, errmsg);
    if (rv == TB_OK && !id->key->has_private)
        rv = tb_fail(errmsg, TB_EINVAL, "TLS key PEM holds no private key");
    if (rv == TB_OK)
        rv = identity_check(id, errmsg);
    if (rv != TB_OK) {
        cr_tls_identity_free(id);
        return rv;
    }
    *out = id;
    return TB_OK;
}

void cr_tls_identity_public(const struct cr_tls_identity *id, uint8_t out[CR_TLS_PUBKEY_BYTES])
{
    TB_ASSERT(id != NULL);
    memcpy(out, id->pub, CR_TLS_PUBKEY_BYTES);
}

const char *cr_tls_identity_city(const struct cr_tls_identity *id)
{
    TB_ASSERT(id != NULL);
    return id->city;
}

int64_t cr_tls_identity_not_after(const struct cr_tls_identity *id)
{
    TB_ASSERT(id != NULL);
    return id->not_after_s;
}

struct x509_st *cr_tls_identity_cert(const struct cr_tls_identity *id)
{
    TB_ASSERT(id != NULL);
    return id->cert;
}

struct evp_pkey_st *cr_tls_identity_pkey(const struct cr_tls_identity *id)
{
    TB_ASSERT(id != NULL);
    return id->key->pkey;
}

int cr_tls_cert_ed25519_public(const struct x509_st *cert, uint8_t out[CR_TLS_PUBKEY_BYTES],
                               char *errmsg)
{
    EVP_PKEY *pkey;
    size_t n = CR_TLS_PUBKEY_BYTES;

    TB_ASSERT(out != NULL);
    if (cert == NULL)
        return tb_fail(errmsg, TB_EAUTH, "no peer certificate");
    pkey = X509_get0_pubkey(cert);
    if (pkey == NULL)
        return cr_ossl_fail(errmsg, TB_EAUTH, "peer certificate key");
    if (!EVP_PKEY_is_a(pkey, "ED25519")) {
        const char *type = EVP_PKEY_get0_type_name(pkey);
        return tb_fail(errmsg, TB_EAUTH, "peer certificate key is %s, not Ed25519",
                       type != NULL ? type : "of an unknown type");
    }
    if (EVP_PKEY_get_raw_public_key(pkey, out, &n) != 1 || n != CR_TLS_PUBKEY_BYTES)
        return cr_ossl_fail(errmsg, TB_EAUTH, "peer certificate Ed25519 key");
    return TB_OK;
}

/* ---- TLS contexts ---- */

/*
 * Accepts whatever certificate the peer shows. Safe only because every peer message is
 * refused until cr_tls_binding_check has pinned that certificate's key to a member.
 */
static int verify_accept_self_signed(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1;
}

int cr_tls_ctx_new(const struct cr_tls_identity *id, int server, struct ssl_ctx_st **out,
                   char *errmsg)
{
    SSL_CTX *ctx;
    int ok;

    TB_ASSERT(id != NULL && id->cert != NULL);
    TB_ASSERT(out != NULL);
    *out = NULL;
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL)
        return cr_ossl_fail(errmsg, TB_ENOMEM, "TLS context");
    ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1;
    ok = ok && SSL_CTX_use_certificate(ctx, id->cert) == 1;
    ok = ok && SSL_CTX_use_PrivateKey(ctx, id->key->pkey) == 1;
    ok = ok && SSL_CTX_check_private_key(ctx) == 1;
    if (!ok) {
        SSL_CTX_free(ctx);
        return cr_ossl_fail(errmsg, TB_ECRYPTO, "TLS context");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       verify_accept_self_signed);
    *out = ctx;
    return TB_OK;
}

void cr_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

void cr_tls_ctx_client_cert_optional(struct ssl_ctx_st *ctx)
{
    TB_ASSERT(ctx != NULL);
    TB_ASSERT(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_accept_self_signed);
}

int cr_tls_cert_pem_ed25519_public(const uint8_t *pem, size_t len, uint8_t out[CR_TLS_PUBKEY_BYTES],
                                   char *errmsg)
{
    TB_ASSERT(pem != NULL || len == 0);
    TB_ASSERT(out != NULL);
    if (len == 0 || len > PEM_INPUT_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "certificate PEM of %zu bytes", len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x = bio == NULL ? NULL : PEM_read_bio_X509(bio, NULL, no_pass_cb, NULL);
    BIO_free(bio);
    if (x == NULL)
        return cr_ossl_fail(errmsg, TB_EMALFORMED, "certificate PEM");
    int rv = cr_tls_cert_ed25519_public(x, out, errmsg);
    X509_free(x);
    return rv;
}

int cr_tls_ssl_new(struct ssl_ctx_st *ctx, struct ssl_st **out)
{
    TB_ASSERT(ctx != NULL);
    TB_ASSERT(out != NULL);
    *out = SSL_new(ctx);
    if (*out == NULL)
        return cr_ossl_fail(NULL, TB_ENOMEM, "TLS connection");
    return TB_OK;
}

void cr_tls_ssl_free(struct ssl_st *ssl)
{
    SSL_free(ssl);
}

int cr_tls_peer_ed25519_public(const struct ssl_st *ssl, uint8_t out[CR_TLS_PUBKEY_BYTES],
                               char *errmsg)
{
    X509 *peer;
    int rv;

    TB_ASSERT(ssl != NULL);
    TB_ASSERT(out != NULL);
    peer = SSL_get1_peer_certificate(ssl);
    rv = cr_tls_cert_ed25519_public(peer, out, errmsg);
    X509_free(peer);
    return rv;
}

int cr_tls_peer_cert_present(const struct ssl_st *ssl)
{
    TB_ASSERT(ssl != NULL);
    return SSL_get0_peer_certificate(ssl) != NULL;
}

/* ---- The binding ---- */

static void put_u64_be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_u64_be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* "tongban/tls/v1\0" ‖ chain_id ‖ len(city) ‖ city ‖ tls_pub ‖ not_after (u64 BE). */
static size_t binding_message(const uint8_t chain_id[CR_HASH_BYTES], const char *city,
                              size_t city_len, const uint8_t tls_pub[CR_TLS_PUBKEY_BYTES],
                              uint64_t not_after_s, uint8_t out[BINDING_MSG_MAX])
{
    size_t n = 0;

    TB_ASSERT(city_len > 0 && city_len <= CR_TLS_CITY_MAX);
    memcpy(out, CR_TLS_BINDING_TAG, BINDING_TAG_BYTES); /* the tag and its zero byte */
    n += BINDING_TAG_BYTES;
    memcpy(out + n, chain_id, CR_HASH_BYTES);
    n += CR_HASH_BYTES;
    out[n++] = (uint8_t)city_len;
    memcpy(out + n, city, city_len);
    n += city_len;
    memcpy(out + n, tls_pub, CR_TLS_PUBKEY_BYTES);
    n += CR_TLS_PUBKEY_BYTES;
    put_u64_be(out + n, not_after_s);
    n += 8;
    TB_ASSERT(n <= BINDING_MSG_MAX);
    return n;
}

int cr_tls_binding_sign(struct cr_key *node_key, const uint8_t chain_id[CR_HASH_BYTES],
                        const char *city, const uint8_t tls_pub[CR_TLS_PUBKEY_BYTES],
                        uint64_t not_after_s, struct cr_tls_binding *out)
{
    uint8_t msg[BINDING_MSG_MAX];
    size_t city_len, n;
    int rv;

    TB_ASSERT(node_key != NULL && chain_id != NULL && tls_pub != NULL);
    TB_ASSERT(city != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    city_len = strnlen(city, CR_TLS_CITY_MAX + 1);
    if (!city_ok(city, city_len))
        return TB_EINVAL;
    n = binding_message(chain_id, city, city_len, tls_pub, not_after_s, msg);
    rv = cr_sign(node_key, msg, n, out->sig, &out->sig_len);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(out->sig_len > 0 && out->sig_len <= CR_SIG_MAX);
    memcpy(out->city, city, city_len + 1);
    out->not_after_s = not_after_s;
    memcpy(out->tls_pub, tls_pub, CR_TLS_PUBKEY_BYTES);
    return TB_OK;
}

int cr_tls_binding_verify(enum cr_suite suite, const uint8_t *node_pub, size_t node_pub_len,
                          const uint8_t chain_id[CR_HASH_BYTES], const char *city,
                          const uint8_t tls_pub[CR_TLS_PUBKEY_BYTES], uint64_t not_after_s,
                          uint64_t now_s, const uint8_t *sig, size_t sig_len, char *errmsg)
{
    uint8_t msg[BINDING_MSG_MAX];
    size_t city_len, n;
    int rv;

    TB_ASSERT(cr_suite_valid((int)suite));
    TB_ASSERT(node_pub != NULL && chain_id != NULL && tls_pub != NULL && city != NULL);
    city_len = strnlen(city, CR_TLS_CITY_MAX + 1);
    if (!city_ok(city, city_len))
        return tb_fail(errmsg, TB_EINVAL, "binding city is not a city code");
    if (now_s > not_after_s)
        return tb_fail(errmsg, TB_EAUTH, "TLS binding expired at %llu (now %llu)",
                       (unsigned long long)not_after_s, (unsigned long long)now_s);
    n = binding_message(chain_id, city, city_len, tls_pub, not_after_s, msg);
    rv = cr_verify_public(suite, node_pub, node_pub_len, msg, n, sig, sig_len);
    if (rv == TB_EBADSIG)
        return tb_fail(errmsg, rv, "TLS binding signature does not verify under %s's node key",
                       city);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "TLS binding: %s", tb_strerror(rv));
    return TB_OK;
}

int cr_tls_binding_check(enum cr_suite suite, const uint8_t *node_pub, size_t node_pub_len,
                         const uint8_t chain_id[CR_HASH_BYTES], const char *member_city,
                         const struct cr_tls_binding *b,
                         const uint8_t cert_pub[CR_TLS_PUBKEY_BYTES], uint64_t now_s, char *errmsg)
{
    TB_ASSERT(b != NULL && member_city != NULL && cert_pub != NULL);
    TB_ASSERT(b->sig_len <= CR_SIG_MAX);
    if (strcmp(b->city, member_city) != 0)
        return tb_fail(errmsg, TB_EAUTH, "binding is for city %s, the peer is %s", b->city,
                       member_city);
    /* Not secret, but constant time costs nothing here. */
    if (!tb_memeq_ct(b->tls_pub, cert_pub, CR_TLS_PUBKEY_BYTES))
        return tb_fail(errmsg, TB_EAUTH, "peer certificate key is not the bound TLS key");
    return cr_tls_binding_verify(suite, node_pub, node_pub_len, chain_id, b->city, b->tls_pub,
                                 b->not_after_s, now_s, b->sig, b->sig_len, errmsg);
}

void cr_tls_binding_encode(const struct cr_tls_binding *b, char out[CR_TLS_BINDING_TEXT_SIZE])
{
    uint8_t raw[CR_TLS_BINDING_BYTES_MAX];
    size_t city_len = strlen(b->city), n = 0;

    TB_ASSERT(city_ok(b->city, city_len));
    TB_ASSERT(b->sig_len > 0 && b->sig_len <= CR_SIG_MAX);
    raw[n++] = CR_TLS_BINDING_VERSION;
    raw[n++] = (uint8_t)city_len;
    memcpy(raw + n, b->city, city_len);
    n += city_len;
    put_u64_be(raw + n, b->not_after_s);
    n += 8;
    memcpy(raw + n, b->tls_pub, CR_TLS_PUBKEY_BYTES);
    n += CR_TLS_PUBKEY_BYTES;
    raw[n++] = (uint8_t)b->sig_len;
    memcpy(raw + n, b->sig, b->sig_len);
    n += b->sig_len;
    TB_ASSERT(n <= sizeof(raw));
    tb_base64_encode(raw, n, out);
}

int cr_tls_binding_decode(const char *text, size_t len, struct cr_tls_binding *out, char *errmsg)
{
    uint8_t raw[CR_TLS_BINDING_BYTES_MAX];
    size_t n = 0, city_len, pos;

    TB_ASSERT(text != NULL || len == 0);
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (len >= CR_TLS_BINDING_TEXT_SIZE)
        return tb_fail(errmsg, TB_EMALFORMED, "Tongban-Binding longer than %d characters",
                       (int)CR_TLS_BINDING_TEXT_SIZE - 1);
    if (tb_base64_decode(text, len, raw, sizeof(raw), &n) != TB_OK)
        return tb_fail(errmsg, TB_EMALFORMED, "Tongban-Binding is not canonical padded base64");
    if (n < 2 || raw[0] != CR_TLS_BINDING_VERSION)
        return tb_fail(errmsg, TB_EMALFORMED, "Tongban-Binding version is not %d",
                       CR_TLS_BINDING_VERSION);
    city_len = raw[1];
    if (city_len == 0 || city_len > CR_TLS_CITY_MAX || n < 2 + city_len + 8 + 32 + 1 ||
        !city_ok((const char *)raw + 2, city_len))
        return tb_fail(errmsg, TB_EMALFORMED, "Tongban-Binding city is not a city code");
    memcpy(out->city, raw + 2, city_len);
    pos = 2 + city_len;
    out->not_after_s = get_u64_be(raw + pos);
    pos += 8;
    memcpy(out->tls_pub, raw + pos, CR_TLS_PUBKEY_BYTES);
    pos += CR_TLS_PUBKEY_BYTES;
    out->sig_len = raw[pos++];
    if (out->sig_len == 0 || out->sig_len > CR_SIG_MAX || n != pos + out->sig_len) {
        memset(out, 0, sizeof(*out));
        return tb_fail(errmsg, TB_EMALFORMED, "Tongban-Binding signature length is wrong");
    }
    memcpy(out->sig, raw + pos, out->sig_len);
    TB_ASSERT(pos + out->sig_len <= sizeof(raw));
    return TB_OK;
}
