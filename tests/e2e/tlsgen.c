/*
 * tests/e2e/tlsgen.c: TEST-ONLY tool for cluster_tls.sh. Makes the TLS identities and
 * Tongban-Binding values a hostile or broken peer would show, so that the test can check
 * each one is refused:
 *   tlsgen identity CITY NOT_AFTER CERT_OUT KEY_OUT
 *       a fresh Ed25519 key and self-signed certificate (CN = CITY) valid until NOT_AFTER
 *   tlsgen binding GENESIS NODE_KEY CITY CERT NOT_AFTER
 *       prints the binding of CERT's key for CITY, signed by NODE_KEY (any key: a member's,
 *       a stranger's), with the chain id of GENESIS and the given not_after (Unix seconds)
 * Not part of the product: a node signs its own binding at start (node/node_tls.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_sign.h"
#include "cr_tls.h"
#include "genesis.h"
#include "tb_buf.h"

static int tlsgen_write(const char *path, const struct tb_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 1;
    size_t n = fwrite(b->data, 1, b->len, f);
    return (fclose(f) != 0 || n != b->len) ? 1 : 0;
}

static int tlsgen_identity(const char *city, const char *not_after, const char *cert_out,
                           const char *key_out)
{
    struct cr_tls_identity *id = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    struct tb_buf cert, key;
    long long na = strtoll(not_after, NULL, 10);
    long long nb = na - 3600 < 0 ? 0 : na - 3600;
    tb_buf_init(&cert, 65536);
    tb_buf_init(&key, 65536);
    int rc = cr_tls_identity_new(city, nb, na, &id, err);
    if (rc == TB_OK)
        rc = cr_tls_identity_pem(id, &cert, &key);
    if (rc == TB_OK && (tlsgen_write(cert_out, &cert) != 0 || tlsgen_write(key_out, &key) != 0))
        rc = TB_EIO;
    if (rc != TB_OK)
        fprintf(stderr, "tlsgen identity: %s %s\n", tb_strerror(rc), err);
    cr_tls_identity_free(id);
    tb_buf_release(&cert);
    tb_buf_release(&key);
    return rc == TB_OK ? 0 : 1;
}

static int tlsgen_binding(const char *genesis, const char *key_file, const char *city,
                          const char *cert_file, const char *not_after)
{
    struct cfg_genesis g;
    struct cr_key *key = NULL;
    struct cr_tls_binding b;
    char err[TB_ERRMSG_SIZE] = "", text[CR_TLS_BINDING_TEXT_SIZE];
    uint8_t chain_id[CR_HASH_BYTES], pub[CR_TLS_PUBKEY_BYTES], pem[65536];
    int rc = cfg_genesis_load(genesis, &g, err);
    if (rc != TB_OK) {
        fprintf(stderr, "tlsgen binding: %s\n", err);
        return 1;
    }
    rc = cfg_genesis_chain_id(&g, chain_id);
    FILE *f = fopen(cert_file, "rb");
    size_t n = f != NULL ? fread(pem, 1, sizeof(pem), f) : 0;
    if (f != NULL)
        fclose(f);
    if (rc == TB_OK)
        rc = cr_tls_cert_pem_ed25519_public(pem, n, pub, err);
    if (rc == TB_OK)
        rc = cr_key_load_pem(key_file, NULL, &key, err);
    if (rc == TB_OK)
        rc = cr_tls_binding_sign(key, chain_id, city, pub, strtoull(not_after, NULL, 10), &b);
    if (rc == TB_OK) {
        cr_tls_binding_encode(&b, text);
        printf("%s\n", text);
    } else {
        fprintf(stderr, "tlsgen binding: %s %s\n", tb_strerror(rc), err);
    }
    cr_key_free(key);
    cfg_genesis_release(&g);
    return rc == TB_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "identity") == 0)
        return tlsgen_identity(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 7 && strcmp(argv[1], "binding") == 0)
        return tlsgen_binding(argv[2], argv[3], argv[4], argv[5], argv[6]);
    fprintf(stderr,
            "usage: tlsgen identity CITY NOT_AFTER CERT_OUT KEY_OUT\n"
            "       tlsgen binding GENESIS NODE_KEY CITY CERT NOT_AFTER\n");
    return 2;
}
