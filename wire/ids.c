/*
 * The domain-separated ids and signature inputs of DESIGN 3.3, built from canonical bytes.
 * Every tag is ASCII text followed by one zero byte (cr_hash_tagged adds it for hashes; the
 * signature inputs here append it themselves). Nothing here signs or verifies.
 */
#include <string.h>

#include "tb_assert.h"
#include "wire_int.h"

void wire_chain_id(enum cr_suite suite, const uint8_t *body, size_t len,
                   uint8_t out[WIRE_HASH_BYTES])
{
    struct tb_bytes part = {body, len};
    TB_ASSERT(body != NULL);
    TB_ASSERT(len > 0);
    cr_hash_tagged(suite, "tongban/genesis/v1", &part, 1, out);
}

void wire_tx_id(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES], uint8_t kind,
                const uint8_t *body, size_t body_len, uint8_t out[WIRE_HASH_BYTES])
{
    struct tb_bytes parts[3] = {{chain_id, WIRE_HASH_BYTES}, {&kind, 1}, {body, body_len}};
    TB_ASSERT(chain_id != NULL);
    TB_ASSERT(body != NULL || body_len == 0);
    cr_hash_tagged(suite, "tongban/tx/v1", parts, 3, out);
}

/* Appends tag || 0x00 || chain_id || [kind] || data. */
static int wire_sign_input(const char *tag, const uint8_t chain_id[WIRE_HASH_BYTES],
                           const uint8_t *kind, const uint8_t *data, size_t len, struct tb_buf *out)
{
    int rv;
    TB_ASSERT(chain_id != NULL);
    TB_ASSERT(data != NULL || len == 0);
    rv = tb_buf_append(out, tag, strlen(tag) + 1); /* with its zero byte */
    if (rv == TB_OK)
        rv = tb_buf_append(out, chain_id, WIRE_HASH_BYTES);
    if (rv == TB_OK && kind != NULL)
        rv = tb_buf_append(out, kind, 1);
    if (rv == TB_OK)
        rv = tb_buf_append(out, data, len);
    return rv;
}

int wire_tx_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], uint8_t kind, const uint8_t *body,
                       size_t body_len, struct tb_buf *out)
{
    return wire_sign_input("tongban/sig/v1", chain_id, &kind, body, body_len, out);
}

void wire_block_hash(enum cr_suite suite, const uint8_t *header, size_t header_len,
                     uint8_t out[WIRE_HASH_BYTES])
{
    struct tb_bytes part = {header, header_len};
    TB_ASSERT(header != NULL);
    TB_ASSERT(header_len > 0);
    cr_hash_tagged(suite, "tongban/block/v1", &part, 1, out);
}

int wire_vote_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], const uint8_t *vote,
                         size_t vote_len, struct tb_buf *out)
{
    return wire_sign_input("tongban/vote/v1", chain_id, NULL, vote, vote_len, out);
}

int wire_proposal_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], const uint8_t *proposal,
                             size_t proposal_len, struct tb_buf *out)
{
    return wire_sign_input("tongban/proposal/v1", chain_id, NULL, proposal, proposal_len, out);
}

int wire_consent_sign_input(const uint8_t chain_id[WIRE_HASH_BYTES], const uint8_t *token,
                            size_t token_len, struct tb_buf *out)
{
    return wire_sign_input("tongban/consent/v1", chain_id, NULL, token, token_len, out);
}

void wire_consent_id(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                     const uint8_t *token, size_t token_len, uint8_t out[WIRE_HASH_BYTES])
{
    struct tb_bytes parts[2] = {{chain_id, WIRE_HASH_BYTES}, {token, token_len}};
    TB_ASSERT(chain_id != NULL);
    TB_ASSERT(token != NULL && token_len > 0);
    cr_hash_tagged(suite, "tongban/consent/v1", parts, 2, out);
}

void wire_agency_key_id(enum cr_suite suite, const uint8_t *public_key, size_t key_len,
                        uint8_t out[WIRE_HASH_BYTES])
{
    struct tb_bytes part = {public_key, key_len};
    TB_ASSERT(public_key != NULL);
    TB_ASSERT(key_len > 0);
    cr_hash_tagged(suite, "tongban/agency-key/v1", &part, 1, out);
}
