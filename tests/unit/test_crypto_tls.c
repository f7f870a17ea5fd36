/*
 * crypto/tls_identity.c: self-signed Ed25519 identities and their PEM round trip, the
 * binding in both node-key suites checked against a message rebuilt by hand from DESIGN 6,
 * every changed byte / another chain / another city / expiry refused, the Tongban-Binding
 * encoding (round trip, strict decoding), pinning (a certificate with another key, RSA and
 * P-256 certificates refused), and a real TLS 1.3 handshake over memory BIOs with two
 * identities, which shows that OpenSSL accepts the certificates and that the pin check
 * sees the key the handshake showed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cr_tls.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

#define T_NOW 1764250000u
#define T_NOT_AFTER (T_NOW + 30u * 86400u)

static struct cr_tls_identity *t_identity(const char *city)
{
    struct cr_tls_identity *id = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    assert_int_equal(cr_tls_identity_new(city, T_NOW - 60, T_NOT_AFTER, &id, err), TB_OK);
    return id;
}

static void identity_pem_round_trip(void **state)
{
    struct cr_tls_identity *id = t_identity("3301"), *back = NULL, *other = t_identity("3302");
    struct tb_buf cert, key, cert2, key2, other_key;
    uint8_t a[32], b[32];
    char err[TB_ERRMSG_SIZE] = "";
    const ASN1_INTEGER *s1, *s2;

    (void)state;
    tb_buf_init(&cert, 1 << 16);
    tb_buf_init(&key, 1 << 16);
    assert_int_equal(cr_tls_identity_pem(id, &cert, &key), TB_OK);
    assert_non_null(strstr((const char *)cert.data, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(cr_tls_identity_from_pem(cert.data, cert.len, key.data, key.len, &back, err),
                     TB_OK);
    cr_tls_identity_public(id, a);
    cr_tls_identity_public(back, b);
    assert_memory_equal(a, b, 32);
    assert_string_equal(cr_tls_identity_city(back), "3301");
    assert_int_equal(cr_tls_identity_not_after(back), T_NOT_AFTER);
    assert_int_equal(cr_tls_identity_not_after(id), T_NOT_AFTER);
    assert_int_equal(X509_cmp(cr_tls_identity_cert(id), cr_tls_identity_cert(back)), 0);
    assert_int_equal(EVP_PKEY_eq(cr_tls_identity_pkey(id), cr_tls_identity_pkey(back)), 1);
    assert_int_equal(cr_tls_cert_ed25519_public(cr_tls_identity_cert(back), b, err), TB_OK);
    assert_memory_equal(a, b, 32);
    /* PEM again from the loaded identity: identical bytes. */
    tb_buf_init(&cert2, 1 << 16);
    tb_buf_init(&key2, 1 << 16);
    assert_int_equal(cr_tls_identity_pem(back, &cert2, &key2), TB_OK);
    assert_int_equal(cert2.len, cert.len);
    assert_memory_equal(cert2.data, cert.data, cert.len);
    assert_int_equal(key2.len, key.len);
    assert_memory_equal(key2.data, key.data, key.len);
    /* The subject, the self-signature, a positive serial that differs between identities. */
    assert_int_equal(X509_check_issued(cr_tls_identity_cert(id), cr_tls_identity_cert(id)),
                     X509_V_OK);
    s1 = X509_get0_serialNumber(cr_tls_identity_cert(id));
    s2 = X509_get0_serialNumber(cr_tls_identity_cert(other));
    assert_int_not_equal(ASN1_INTEGER_cmp(s1, s2), 0);
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(s1, NULL);
        assert_false(BN_is_negative(bn));
        assert_true(BN_num_bits(bn) == 127);
        BN_free(bn);
    }
    /* A key that is not the certificate's, and PEM that is not PEM. */
    tb_buf_init(&other_key, 1 << 16);
    assert_int_equal(cr_tls_identity_pem(other, NULL, &other_key), TB_OK);
    cr_tls_identity_free(back);
    back = NULL;
    assert_int_equal(
        cr_tls_identity_from_pem(cert.data, cert.len, other_key.data, other_key.len, &back, err),
        TB_EINVAL);
    assert_null(back);
    assert_int_equal(
        cr_tls_identity_from_pem((const uint8_t *)"junk", 4, key.data, key.len, &back, err),
        TB_EMALFORMED);
    assert_int_equal(
        cr_tls_identity_from_pem(cert.data, cert.len, (const uint8_t *)"junk", 4, &back, err),
        TB_EMALFORMED);
    /* Creation refuses what a loader would refuse. */
    assert_int_equal(cr_tls_identity_new("33 01", 0, 10, &back, err), TB_EINVAL);
    assert_int_equal(cr_tls_identity_new("3301", 10, 10, &back, err), TB_EINVAL);
    tb_buf_release(&cert);
    tb_buf_release(&key);
    tb_buf_release(&cert2);
    tb_buf_release(&key2);
    tb_buf_release(&other_key);
    cr_tls_identity_free(id);
    cr_tls_identity_free(other);
}

/* DESIGN 6, by hand: "tongban/tls/v1\0" ‖ chain_id ‖ len(city) ‖ city ‖ tls key ‖ u64 BE. */
static size_t naive_message(const uint8_t chain[32], const char *city, const uint8_t tls[32],
                            uint64_t not_after, uint8_t *out)
{
    size_t n = 0, c = strlen(city);
    memcpy(out, "tongban/tls/v1", 14);
    n = 14;
    out[n++] = 0;
    memcpy(out + n, chain, 32);
    n += 32;
    out[n++] = (uint8_t)c;
    memcpy(out + n, city, c);
    n += c;
    memcpy(out + n, tls, 32);
    n += 32;
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)(not_after >> (8 * i));
    return n;
}

static void binding_both_suites(void **state)
{
    struct cr_tls_identity *id = t_identity("3301");
    uint8_t chain[32], tls[32], pub[CR_PUBKEY_MAX], msg[256];
    char err[TB_ERRMSG_SIZE] = "";
    struct t_rng rng;

    (void)state;
    t_rng_seed(&rng, 6);
    t_rng_bytes(&rng, chain, sizeof(chain));
    cr_tls_identity_public(id, tls);
    for (int suite = CR_SUITE_ED25519_SHA256; suite <= CR_SUITE_SM2_SM3; suite++) {
        struct cr_key *node = NULL;
        struct cr_tls_binding b;
        size_t pub_len, n;

        assert_int_equal(cr_key_generate((enum cr_suite)suite, &node), TB_OK);
        pub_len = cr_key_public(node, pub);
        assert_int_equal(cr_tls_binding_sign(node, chain, "3301", tls, T_NOT_AFTER, &b), TB_OK);
        n = naive_message(chain, "3301", tls, T_NOT_AFTER, msg);
        assert_int_equal(n, 15 + 32 + 1 + 4 + 32 + 8);
        assert_int_equal(
            cr_verify_public((enum cr_suite)suite, pub, pub_len, msg, n, b.sig, b.sig_len), TB_OK);
#define T_VERIFY(chain_, city_, tls_, na_, now_)                                              \
    cr_tls_binding_verify((enum cr_suite)suite, pub, pub_len, chain_, city_, tls_, na_, now_, \
                          b.sig, b.sig_len, err)
        assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOW), TB_OK);
        assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOT_AFTER), TB_OK);
        assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOT_AFTER + 1), TB_EAUTH);
        assert_int_equal(T_VERIFY(chain, "3302", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
        assert_int_equal(T_VERIFY(chain, "33010", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
        assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER + 1, T_NOW), TB_EBADSIG);
        assert_int_equal(T_VERIFY(chain, "33/1", tls, T_NOT_AFTER, T_NOW), TB_EINVAL);
        for (size_t i = 0; i < 32 * 8; i++) {
            chain[i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
            chain[i / 8] ^= (uint8_t)(1u << (i % 8));
            tls[i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
            tls[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
        for (size_t i = 0; i < b.sig_len; i++) {
            b.sig[i] ^= 0x01;
            assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
            b.sig[i] ^= 0x01;
        }
        /* Another member's node key. */
        pub[pub_len - 1] ^= 0x01;
        assert_int_equal(T_VERIFY(chain, "3301", tls, T_NOT_AFTER, T_NOW), TB_EBADSIG);
        pub[pub_len - 1] ^= 0x01;
#undef T_VERIFY
        cr_key_free(node);
    }
    cr_tls_identity_free(id);
}

static void binding_encoding(void **state)
{
    struct cr_tls_identity *id = t_identity("hangzhou_01");
    struct cr_tls_binding b, back;
    char text[CR_TLS_BINDING_TEXT_SIZE], again[CR_TLS_BINDING_TEXT_SIZE];
    uint8_t chain[32] = {1}, tls[32];
    char err[TB_ERRMSG_SIZE] = "";
    struct cr_key *node = NULL;
    struct t_rng rng;
    size_t accepted = 0;

    (void)state;
    cr_tls_identity_public(id, tls);
    assert_int_equal(cr_key_generate(CR_SUITE_SM2_SM3, &node), TB_OK);
    assert_int_equal(cr_tls_binding_sign(node, chain, "hangzhou_01", tls, T_NOT_AFTER, &b), TB_OK);
    cr_tls_binding_encode(&b, text);
    assert_int_equal(cr_tls_binding_decode(text, strlen(text), &back, err), TB_OK);
    assert_string_equal(back.city, "hangzhou_01");
    assert_int_equal(back.not_after_s, T_NOT_AFTER);
    assert_memory_equal(back.tls_pub, tls, 32);
    assert_int_equal(back.sig_len, b.sig_len);
    assert_memory_equal(back.sig, b.sig, b.sig_len);
    /* Strict: truncations, an extra byte, version, city, lengths. */
    for (size_t cut = 0; cut < strlen(text); cut += 4)
        assert_int_equal(cr_tls_binding_decode(text, cut, &back, NULL), TB_EMALFORMED);
    {
        uint8_t raw[CR_TLS_BINDING_BYTES_MAX + 4];
        size_t n = 0;
        char t2[CR_TLS_BINDING_TEXT_SIZE + 8];
        assert_int_equal(tb_base64_decode(text, strlen(text), raw, sizeof(raw), &n), TB_OK);
#define T_BAD(stmt, len)                                                                     \
    do {                                                                                     \
        uint8_t keep[sizeof(raw)];                                                           \
        memcpy(keep, raw, sizeof(raw));                                                      \
        stmt;                                                                                \
        tb_base64_encode(raw, len, t2);                                                      \
        assert_int_equal(cr_tls_binding_decode(t2, strlen(t2), &back, NULL), TB_EMALFORMED); \
        memcpy(raw, keep, sizeof(raw));                                                      \
    } while (0)
        T_BAD(raw[0] = 2, n);
        T_BAD(raw[1] = 0, n);
        T_BAD(raw[1] = 17, n);
        T_BAD(raw[2] = '/', n);
        T_BAD(raw[n] = 0, n + 1);
        T_BAD(raw[2 + 11 + 8 + 32] = (uint8_t)(raw[2 + 11 + 8 + 32] + 1), n);
        T_BAD(raw[2 + 11 + 8 + 32] = 0, n);
#undef T_BAD
    }
    /* Random single-character mutations: anything that decodes re-encodes identically. */
    t_rng_seed(&rng, 8941);
    for (int i = 0; i < 3000; i++) {
        char m[CR_TLS_BINDING_TEXT_SIZE];
        memcpy(m, text, sizeof(m));
        m[t_rng_below(&rng, strlen(m))] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[t_rng_below(&rng,
                                                                                            65)];
        if (cr_tls_binding_decode(m, strlen(m), &back, NULL) != TB_OK)
            continue;
        accepted++;
        cr_tls_binding_encode(&back, again);
        assert_string_equal(again, m);
    }
    print_message("  %zu of 3000 mutated bindings decoded (all re-encoded identically)\n",
                  accepted);
    cr_key_free(node);
    cr_tls_identity_free(id);
}

/* The worked example of docs/authentication.md (computed there with Python's cryptography). */
static void docs_worked_binding(void **state)
{
    static const char header[] =
        "AQQzMzAxAAAAAGlVuQAi/Cl3kvC2/8C/z9t+2wwKoU4CWjZewONC6G44Kct0tkA5n5PftUzz/QF7kQukQ86h/"
        "tS62YXzp0terSxaV1TDXhxBThm781aqIPfMd7tMhwNDleZ1JhadphwJP/W8beUA";
    uint8_t seed[32], chain[32], tls[CR_PUBKEY_MAX], node_pub[CR_PUBKEY_MAX];
    char text[CR_TLS_BINDING_TEXT_SIZE];
    struct cr_key *node = NULL, *tls_key = NULL;
    struct cr_tls_binding b, back;
    size_t node_pub_len;

    (void)state;
    memset(seed, 0x44, sizeof(seed));
    assert_int_equal(cr_key_from_ed25519_seed(seed, &node), TB_OK);
    memset(seed, 0x43, sizeof(seed));
    assert_int_equal(cr_key_from_ed25519_seed(seed, &tls_key), TB_OK);
    assert_int_equal(cr_key_public(tls_key, tls), 32);
    memset(chain, 0x11, sizeof(chain));
    assert_int_equal(cr_tls_binding_sign(node, chain, "3301", tls, 1767225600u, &b), TB_OK);
    cr_tls_binding_encode(&b, text);
    assert_string_equal(text, header);
    assert_int_equal(cr_tls_binding_decode(header, strlen(header), &back, NULL), TB_OK);
    node_pub_len = cr_key_public(node, node_pub);
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3301", &back, tls, 1767225600u, NULL),
                     TB_OK);
    cr_key_free(node);
    cr_key_free(tls_key);
}

static X509 *foreign_cert(EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                                (const unsigned char *)"3301", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
    assert_int_equal(X509_set_pubkey(x, pkey), 1);
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    return x;
}

static void pinning(void **state)
{
    struct cr_tls_identity *a = t_identity("3301"), *b = t_identity("3301");
    uint8_t chain[32] = {9}, a_pub[32], b_pub[32], cert_pub[32];
    char err[TB_ERRMSG_SIZE] = "";
    struct cr_key *node = NULL;
    struct cr_tls_binding bind;
    uint8_t node_pub[CR_PUBKEY_MAX];
    size_t node_pub_len;

    (void)state;
    assert_int_equal(cr_key_generate(CR_SUITE_ED25519_SHA256, &node), TB_OK);
    node_pub_len = cr_key_public(node, node_pub);
    cr_tls_identity_public(a, a_pub);
    cr_tls_identity_public(b, b_pub);
    assert_int_equal(cr_tls_binding_sign(node, chain, "3301", a_pub, T_NOT_AFTER, &bind), TB_OK);

    assert_int_equal(cr_tls_cert_ed25519_public(cr_tls_identity_cert(a), cert_pub, err), TB_OK);
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3301", &bind, cert_pub, T_NOW, err),
                     TB_OK);
    /* The handshake showed b's certificate: a valid binding for a's key does not pin it. */
    assert_int_equal(cr_tls_cert_ed25519_public(cr_tls_identity_cert(b), cert_pub, err), TB_OK);
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3301", &bind, cert_pub, T_NOW, err),
                     TB_EAUTH);
    /* Another member's city, another chain, past not_after. */
    memcpy(cert_pub, a_pub, 32);
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3302", &bind, cert_pub, T_NOW, err),
                     TB_EAUTH);
    chain[0] ^= 1;
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3301", &bind, cert_pub, T_NOW, err),
                     TB_EBADSIG);
    chain[0] ^= 1;
    assert_int_equal(cr_tls_binding_check(CR_SUITE_ED25519_SHA256, node_pub, node_pub_len, chain,
                                          "3301", &bind, cert_pub, T_NOT_AFTER + 1, err),
                     TB_EAUTH);
    cr_key_free(node);
    cr_tls_identity_free(a);
    cr_tls_identity_free(b);
}

/* RSA and P-256 certificates are refused by the pin helper and by the loader. */
static void foreign_certs_refused(void **state)
{
    struct cr_tls_identity *a = t_identity("3301");
    char err[TB_ERRMSG_SIZE] = "";
    uint8_t cert_pub[32];

    (void)state;
    {
        EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *rsa_cert, *ec_cert;
        assert_non_null(rsa);
        assert_non_null(ec);
        rsa_cert = foreign_cert(rsa);
        ec_cert = foreign_cert(ec);
        assert_int_equal(cr_tls_cert_ed25519_public(rsa_cert, cert_pub, err), TB_EAUTH);
        assert_non_null(strstr(err, "RSA"));
        assert_int_equal(cr_tls_cert_ed25519_public(ec_cert, cert_pub, err), TB_EAUTH);
        assert_non_null(strstr(err, "EC"));
        assert_int_equal(cr_tls_cert_ed25519_public(NULL, cert_pub, err), TB_EAUTH);
        {
            BIO *bio = BIO_new(BIO_s_mem());
            struct tb_buf key;
            char *data = NULL;
            long n;
            struct cr_tls_identity *x = NULL;
            tb_buf_init(&key, 1 << 16);
            assert_int_equal(cr_tls_identity_pem(a, NULL, &key), TB_OK);
            assert_int_equal(PEM_write_bio_X509(bio, ec_cert), 1);
            n = BIO_get_mem_data(bio, &data);
            assert_int_equal(cr_tls_identity_from_pem((const uint8_t *)data, (size_t)n, key.data,
                                                      key.len, &x, err),
                             TB_EINVAL);
            assert_null(x);
            BIO_free(bio);
            tb_buf_release(&key);
        }
        X509_free(rsa_cert);
        X509_free(ec_cert);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(ec);
    }
    cr_tls_identity_free(a);
}

/* Runs a handshake over a memory BIO pair; returns 1 when both sides finished. */
static int t_handshake(SSL *srv, SSL *cli)
{
    BIO *b1 = NULL, *b2 = NULL;
    int done = 0;

    assert_int_equal(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
    SSL_set_bio(srv, b1, b1);
    SSL_set_bio(cli, b2, b2);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    for (int round = 0; round < 20 && done != 3; round++) {
        if (!(done & 1) && SSL_do_handshake(cli) == 1)
            done |= 1;
        if (!(done & 2) && SSL_do_handshake(srv) == 1)
            done |= 2;
    }
    return done == 3;
}

static void mutual_tls_handshake(void **state)
{
    struct cr_tls_identity *srv_id = t_identity("3301"), *cli_id = t_identity("3302");
    SSL_CTX *srv_ctx = NULL, *cli_ctx = NULL, *bare_ctx = SSL_CTX_new(TLS_client_method());
    SSL *srv = NULL, *cli = NULL;
    uint8_t want[32], got[32];

    (void)state;
    assert_int_equal(cr_tls_ctx_new(srv_id, 1, &srv_ctx, NULL), TB_OK);
    assert_int_equal(cr_tls_ctx_new(cli_id, 0, &cli_ctx, NULL), TB_OK);
    cr_tls_identity_free(cli_id); /* the context keeps its own references */
    cli_id = NULL;
    assert_int_equal(cr_tls_ssl_new(srv_ctx, &srv), TB_OK);
    assert_int_equal(cr_tls_ssl_new(cli_ctx, &cli), TB_OK);
    assert_true(t_handshake(srv, cli));
    assert_int_equal(SSL_version(cli), TLS1_3_VERSION);
    assert_int_equal(cr_tls_peer_ed25519_public(cli, got, NULL), TB_OK);
    cr_tls_identity_public(srv_id, want);
    assert_memory_equal(got, want, 32);
    assert_int_equal(cr_tls_peer_ed25519_public(srv, got, NULL), TB_OK);
    assert_int_not_equal(memcmp(got, want, 32), 0); /* the client's own key */
    cr_tls_ssl_free(srv);
    cr_tls_ssl_free(cli);

    /* A client without a certificate is refused by the server. */
    assert_non_null(bare_ctx);
    SSL_CTX_set_verify(bare_ctx, SSL_VERIFY_NONE, NULL);
    assert_int_equal(cr_tls_ssl_new(srv_ctx, &srv), TB_OK);
    cli = SSL_new(bare_ctx);
    assert_non_null(cli);
    assert_false(t_handshake(srv, cli));
    assert_int_equal(cr_tls_peer_ed25519_public(srv, got, NULL), TB_EAUTH);
    cr_tls_ssl_free(srv);
    SSL_free(cli);
    SSL_CTX_free(bare_ctx);
    cr_tls_ctx_free(srv_ctx);
    cr_tls_ctx_free(cli_ctx);
    cr_tls_identity_free(srv_id);
}

/* The extensions for the node: optional client certificates, the PEM pin helper. */
static void optional_client_cert_and_pem_pin(void **state)
{
    struct cr_tls_identity *srv_id = t_identity("3301");
    SSL_CTX *srv_ctx = NULL, *bare_ctx = SSL_CTX_new(TLS_client_method());
    SSL *srv = NULL, *cli = NULL;
    struct tb_buf pem;
    uint8_t want[32], got[32];
    char err[TB_ERRMSG_SIZE] = "";

    (void)state;
    assert_int_equal(cr_tls_ctx_new(srv_id, 1, &srv_ctx, NULL), TB_OK);
    cr_tls_ctx_client_cert_optional(srv_ctx);
    assert_non_null(bare_ctx);
    SSL_CTX_set_verify(bare_ctx, SSL_VERIFY_NONE, NULL);
    assert_int_equal(cr_tls_ssl_new(srv_ctx, &srv), TB_OK);
    cli = SSL_new(bare_ctx);
    assert_non_null(cli);
    /* No certificate: the handshake completes, and the server can tell there is none. */
    assert_true(t_handshake(srv, cli));
    assert_false(cr_tls_peer_cert_present(srv));
    assert_true(cr_tls_peer_cert_present(cli));
    assert_int_equal(cr_tls_peer_ed25519_public(srv, got, NULL), TB_EAUTH);
    cr_tls_ssl_free(srv);
    SSL_free(cli);

    /* The key of a PEM certificate (what the CLI pins), and refusals. */
    tb_buf_init(&pem, 1 << 16);
    assert_int_equal(cr_tls_identity_pem(srv_id, &pem, NULL), TB_OK);
    assert_int_equal(cr_tls_cert_pem_ed25519_public(pem.data, pem.len, got, err), TB_OK);
    cr_tls_identity_public(srv_id, want);
    assert_memory_equal(got, want, 32);
    assert_int_equal(cr_tls_cert_pem_ed25519_public(pem.data, 20, got, err), TB_EMALFORMED);
    assert_int_equal(cr_tls_cert_pem_ed25519_public(pem.data, 0, got, err), TB_EMALFORMED);
    {
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *ec_cert = foreign_cert(ec);
        BIO *bio = BIO_new(BIO_s_mem());
        char *data = NULL;
        assert_int_equal(PEM_write_bio_X509(bio, ec_cert), 1);
        long n = BIO_get_mem_data(bio, &data);
        assert_int_equal(cr_tls_cert_pem_ed25519_public((const uint8_t *)data, (size_t)n, got, err),
                         TB_EAUTH);
        BIO_free(bio);
        X509_free(ec_cert);
        EVP_PKEY_free(ec);
    }
    tb_buf_release(&pem);
    SSL_CTX_free(bare_ctx);
    cr_tls_ctx_free(srv_ctx);
    cr_tls_identity_free(srv_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identity_pem_round_trip),
        cmocka_unit_test(binding_both_suites),
        cmocka_unit_test(binding_encoding),
        cmocka_unit_test(pinning),
        cmocka_unit_test(foreign_certs_refused),
        cmocka_unit_test(mutual_tls_handshake),
        cmocka_unit_test(docs_worked_binding),
        cmocka_unit_test(optional_client_cert_and_pem_pin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
