/*
 * tests/e2e/txgen.c: TEST-ONLY tool for the cluster test. Prints (to stdout, raw bytes) an
 * agency.register envelope for a fresh agency key, signed by a city's node key:
 *   txgen GENESIS NODE_KEY CITY AGENCY TYPE
 * Not part of the product: real agencies sign with `tongban agency`.
 */
#include <stdio.h>
#include <string.h>

#include "cr_sign.h"
#include "genesis.h"
#include "tb_buf.h"
#include "wire.h"

static int txgen(const char *genesis, const char *key_file, const char *city, const char *agency,
                 const char *type)
{
    struct cfg_genesis g;
    struct cr_key *node_key = NULL, *agency_key = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    uint8_t chain_id[WIRE_HASH_BYTES], pub[CR_PUBKEY_MAX], sig[CR_SIG_MAX];
    size_t sig_len = 0;
    struct tb_buf body, input, env;
    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    tb_buf_init(&input, WIRE_TX_BYTES_MAX + 64);
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    int rc = cfg_genesis_load(genesis, &g, err);
    if (rc != TB_OK) {
        fprintf(stderr, "txgen: %s\n", err);
        return 1;
    }
    rc = cfg_genesis_chain_id(&g, chain_id);
    if (rc == TB_OK)
        rc = cr_key_load_pem(key_file, NULL, &node_key, err);
    if (rc == TB_OK)
        rc = cr_key_generate(g.suite, &agency_key);
    struct wire_tx_body b = {.kind = WIRE_KIND_AGENCY_REGISTER};
    size_t pub_len = agency_key != NULL ? cr_key_public(agency_key, pub) : 0;
    b.u.reg = (struct wire_agency_register){.city = {(const uint8_t *)city, strlen(city)},
                                            .agency = {(const uint8_t *)agency, strlen(agency)},
                                            .name = {(const uint8_t *)agency, strlen(agency)},
                                            .public_key = {pub, pub_len},
                                            .type_count = 1,
                                            .not_after = 4102444800u};
    b.u.reg.types[0] = (struct tb_bytes){(const uint8_t *)type, strlen(type)};
    if (rc == TB_OK)
        rc = wire_tx_body_encode(&b, &body, err);
    if (rc == TB_OK)
        rc = wire_tx_sign_input(chain_id, WIRE_KIND_AGENCY_REGISTER, body.data, body.len, &input);
    if (rc == TB_OK)
        rc = cr_sign(node_key, input.data, input.len, sig, &sig_len);
    struct wire_tx tx = {
        .kind = WIRE_KIND_AGENCY_REGISTER, .body = {body.data, body.len}, .sig_count = 1};
    if (node_key != NULL)
        cr_key_id(node_key, tx.sigs[0].key_id);
    tx.sigs[0].sig = (struct tb_bytes){sig, sig_len};
    if (rc == TB_OK)
        rc = wire_tx_encode(&tx, &env, err);
    if (rc == TB_OK && fwrite(env.data, 1, env.len, stdout) != env.len)
        rc = TB_EIO;
    if (rc != TB_OK)
        fprintf(stderr, "txgen: %s (%s)\n", err, tb_strerror(rc));
    cr_key_free(node_key);
    cr_key_free(agency_key);
    cfg_genesis_release(&g);
    tb_buf_release(&body);
    tb_buf_release(&input);
    tb_buf_release(&env);
    return rc == TB_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: txgen GENESIS NODE_KEY CITY AGENCY TYPE\n");
        return 2;
    }
    return txgen(argv[1], argv[2], argv[3], argv[4], argv[5]);
}
