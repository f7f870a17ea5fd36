/*
 * tests/lib/t_chain.c: keys and signed envelopes for the ledger-level unit tests (t_chain.h).
 */
#include <string.h>

#include "t_chain.h"
#include "tb_assert.h"

int t_key_new(enum cr_suite suite, struct t_rng *rng, struct cr_key **out)
{
    *out = NULL;
    if (suite != CR_SUITE_ED25519_SHA256 || rng == NULL)
        return cr_key_generate(suite, out);
    uint8_t seed[CR_ED25519_SEED_BYTES];
    t_rng_bytes(rng, seed, sizeof(seed));
    return cr_key_from_ed25519_seed(seed, out);
}

int t_envelope(enum cr_suite suite, const uint8_t chain[WIRE_HASH_BYTES],
               const struct wire_tx_body *body, struct cr_key *const *signers, size_t n,
               struct tb_buf *out, uint8_t *id, char *errmsg)
{
    struct tb_buf bb, in;
    struct wire_tx tx;
    uint8_t sigs[WIRE_TX_SIGS_MAX][CR_SIG_MAX];
    TB_ASSERT(n >= 1 && n <= WIRE_TX_SIGS_MAX);
    tb_buf_init(&bb, WIRE_TX_BYTES_MAX);
    tb_buf_init(&in, WIRE_TX_BYTES_MAX + 64);
    tb_buf_init(out, WIRE_TX_BYTES_MAX);
    memset(&tx, 0, sizeof(tx));
    int rv = wire_tx_body_encode(body, &bb, errmsg);
    if (rv == TB_OK)
        rv = wire_tx_sign_input(chain, (uint8_t)body->kind, bb.data, bb.len, &in);
    for (size_t i = 0; rv == TB_OK && i < n; i++) {
        size_t len = 0;
        rv = cr_sign(signers[i], in.data, in.len, sigs[i], &len);
        cr_key_id(signers[i], tx.sigs[i].key_id);
        tx.sigs[i].sig = (struct tb_bytes){sigs[i], len};
    }
    if (rv == TB_OK) {
        tx.kind = (uint8_t)body->kind;
        tx.body = (struct tb_bytes){bb.data, bb.len};
        tx.sig_count = n;
        rv = wire_tx_encode(&tx, out, errmsg);
    }
    if (rv == TB_OK && id != NULL)
        wire_tx_id(suite, chain, tx.kind, bb.data, bb.len, id);
    tb_buf_release(&bb);
    tb_buf_release(&in);
    return rv;
}
