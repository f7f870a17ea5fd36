/*
 * tests/lib/t_chain.h: what the ledger-level unit tests (test_node_ledger, test_node_proof,
 * test_node_api, test_node_api_auth) and nothing else build the same way: keys of a suite and
 * signed tx envelopes, through the product's own wire/ and crypto/ code.
 *
 * Must never: assert (callers check the codes with their own OK()), or keep state.
 */
#ifndef T_CHAIN_H
#define T_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "cr_sign.h"
#include "t_util.h"
#include "tb_buf.h"
#include "wire.h"

/* Ed25519 keys from rng (reproducible; rng NULL: random), SM2 keys generated. */
int t_key_new(enum cr_suite suite, struct t_rng *rng, struct cr_key **out);

/*
 * Signs body with signers[0..n) over chain's sign input and writes the envelope into out
 * (initialised here, WIRE_TX_BYTES_MAX; the caller releases it); id (if not NULL) gets the
 * tx id under suite. TB_OK or the failing call's code, with errmsg.
 */
int t_envelope(enum cr_suite suite, const uint8_t chain[WIRE_HASH_BYTES],
               const struct wire_tx_body *body, struct cr_key *const *signers, size_t n,
               struct tb_buf *out, uint8_t *id, char *errmsg);

#endif
