/*
 * The peer API's MessagePack messages (wire_peer.h, docs/peer.md). Each one is a fixed-shape
 * array whose variable parts are bin; the encoder is the single description of the format and
 * the decoder re-encodes in compare mode, so accepted input is exactly canonical.
 * Must never: interpret the bin payloads (other decoders do that) or accept trailing bytes.
 */
#include <string.h>

#include "tb_assert.h"
#include "wire_int.h"
#include "wire_peer.h"

/* ---- consensus ---- */

static void wire_enc_peer_consensus(struct wire_enc *e, const void *in)
{
    const struct wire_peer_consensus *m = in;

    wire_put_array(e, 5);
    wire_enc_field(e, 1, "type");
    if ((unsigned)m->type > WIRE_PEER_PRECOMMIT)
        wire_enc_fail(e, TB_EINVAL, "must be 0, 1 or 2, got %u", (unsigned)m->type);
    wire_put_uint(e, (uint64_t)m->type);
    wire_enc_field(e, 2, "from");
    if (m->from >= WIRE_VALIDATORS_MAX)
        wire_enc_fail(e, TB_EINVAL, "must be below %u, got %u", WIRE_VALIDATORS_MAX, m->from);
    wire_put_uint(e, m->from);
    wire_enc_field(e, 3, "body");
    wire_put_bin(e, m->body, 1, WIRE_SMALL_BYTES_MAX);
    wire_enc_field(e, 4, "sig");
    wire_put_bin(e, m->sig, 1, WIRE_SIG_BYTES_MAX);
    wire_enc_field(e, 5, "block");
    if (m->has_block != (m->type == WIRE_PEER_PROPOSAL))
        wire_enc_fail(e, TB_EINVAL, "a proposal carries a block and a vote none");
    if (m->has_block)
        wire_put_bin(e, m->block, 1, WIRE_BLOCK_BYTES_MAX);
    else
        wire_put_nil(e);
}

static void wire_conv_peer_consensus(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_consensus *m = out;
    const msgpack_object *f = wire_get_array(d, root, 5, 0, NULL);
    uint64_t type = 0;

    memset(m, 0, sizeof(*m));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "type", &type);
    if (d->err == TB_OK && type > WIRE_PEER_PRECOMMIT)
        wire_dec_fail(d, TB_EMALFORMED, 1, "type", "must be 0, 1 or 2");
    m->type = (enum wire_peer_msg_type)(type <= WIRE_PEER_PRECOMMIT ? type : 0);
    wire_get_u32(d, &f[1], 2, "from", &m->from);
    wire_get_bin(d, &f[2], 3, "body", &m->body);
    wire_get_bin(d, &f[3], 4, "sig", &m->sig);
    m->has_block = !wire_is_nil(&f[4]);
    if (m->has_block)
        wire_get_bin(d, &f[4], 5, "block", &m->block);
}

int wire_peer_consensus_encode(const struct wire_peer_consensus *m, struct tb_buf *out,
                               char *errmsg)
{
    TB_ASSERT(m != NULL);
    TB_ASSERT(out != NULL);
    return wire_encode_with("peer.consensus", WIRE_PEER_CONSENSUS_BYTES_MAX,
                            wire_enc_peer_consensus, m, out, errmsg);
}

int wire_peer_consensus_decode(const uint8_t *data, size_t len, struct wire_peer_consensus *out,
                               char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.consensus", data, len, WIRE_PEER_CONSENSUS_BYTES_MAX,
                            WIRE_FIELDS_MAX, wire_conv_peer_consensus, wire_enc_peer_consensus, out,
                            errmsg);
}

/* ---- tx gossip ---- */

static void wire_enc_peer_txs(struct wire_enc *e, const void *in)
{
    const struct wire_peer_txs *m = in;

    wire_enc_field(e, 0, "txs");
    if (m->count < 1 || m->count > WIRE_PEER_TXS_MAX) {
        wire_enc_fail(e, m->count == 0 ? TB_EINVAL : TB_ELIMIT, "1..%u envelopes, got %zu",
                      WIRE_PEER_TXS_MAX, m->count);
        return;
    }
    wire_put_array(e, m->count);
    for (size_t i = 0; i < m->count; i++) {
        wire_enc_field(e, (unsigned)i + 1, "envelope");
        wire_put_bin(e, m->txs[i], 1, WIRE_TX_BYTES_MAX);
    }
}

static void wire_conv_peer_txs(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_txs *m = out;
    size_t n = 0;

    memset(m, 0, sizeof(*m));
    const msgpack_object *f = wire_get_list(d, root, WIRE_PEER_TXS_MAX, &n, 0, "txs");
    if (f == NULL)
        return;
    TB_ASSERT(n <= WIRE_PEER_TXS_MAX);
    for (size_t i = 0; i < n; i++)
        wire_get_bin(d, &f[i], (unsigned)i + 1, "envelope", &m->txs[i]);
    m->count = n;
}

int wire_peer_txs_encode(const struct wire_peer_txs *m, struct tb_buf *out, char *errmsg)
{
    TB_ASSERT(m != NULL);
    return wire_encode_with("peer.txs", WIRE_PEER_TXS_BYTES_MAX, wire_enc_peer_txs, m, out, errmsg);
}

int wire_peer_txs_decode(const uint8_t *data, size_t len, struct wire_peer_txs *out, char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.txs", data, len, WIRE_PEER_TXS_BYTES_MAX, WIRE_PEER_TXS_MAX,
                            wire_conv_peer_txs, wire_enc_peer_txs, out, errmsg);
}

/* ---- status ---- */

static void wire_enc_peer_status(struct wire_enc *e, const void *in)
{
    const struct wire_peer_status *m = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "chain_id");
    wire_put_hash(e, m->chain_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "height");
    wire_put_uint(e, m->height);
    wire_enc_field(e, 3, "block_hash");
    wire_put_hash(e, m->block_hash, WIRE_HASH_BYTES);
    wire_enc_field(e, 4, "round");
    wire_put_uint(e, m->round);
}

static void wire_conv_peer_status(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_status *m = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);

    memset(m, 0, sizeof(*m));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "chain_id", m->chain_id, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[1], 2, "height", &m->height);
    wire_get_hash(d, &f[2], 3, "block_hash", m->block_hash, WIRE_HASH_BYTES);
    wire_get_u32(d, &f[3], 4, "round", &m->round);
}

int wire_peer_status_encode(const struct wire_peer_status *m, struct tb_buf *out, char *errmsg)
{
    TB_ASSERT(m != NULL);
    return wire_encode_with("peer.status", WIRE_SMALL_BYTES_MAX, wire_enc_peer_status, m, out,
                            errmsg);
}

int wire_peer_status_decode(const uint8_t *data, size_t len, struct wire_peer_status *out,
                            char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.status", data, len, WIRE_SMALL_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_peer_status, wire_enc_peer_status, out, errmsg);
}

/* ---- block sync ---- */

static void wire_enc_peer_block(struct wire_enc *e, const void *in)
{
    const struct wire_peer_block *m = in;

    wire_put_array(e, 2);
    wire_enc_field(e, 1, "block");
    wire_put_bin(e, m->block, 1, WIRE_BLOCK_BYTES_MAX);
    wire_enc_field(e, 2, "cert");
    wire_put_bin(e, m->cert, 1, WIRE_CERT_BYTES_MAX);
}

static void wire_conv_peer_block(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_block *m = out;
    const msgpack_object *f = wire_get_array(d, root, 2, 0, NULL);

    memset(m, 0, sizeof(*m));
    if (f == NULL)
        return;
    wire_get_bin(d, &f[0], 1, "block", &m->block);
    wire_get_bin(d, &f[1], 2, "cert", &m->cert);
}

int wire_peer_block_encode(const struct wire_peer_block *m, struct tb_buf *out, char *errmsg)
{
    TB_ASSERT(m != NULL);
    return wire_encode_with("peer.block", WIRE_PEER_BLOCK_BYTES_MAX, wire_enc_peer_block, m, out,
                            errmsg);
}

int wire_peer_block_decode(const uint8_t *data, size_t len, struct wire_peer_block *out,
                           char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.block", data, len, WIRE_PEER_BLOCK_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_peer_block, wire_enc_peer_block, out, errmsg);
}

/* ---- documents with consent ---- */

static void wire_enc_peer_doc_request(struct wire_enc *e, const void *in)
{
    const struct wire_peer_doc_request *m = in;

    wire_put_array(e, 3);
    wire_enc_field(e, 1, "record_id");
    wire_put_hash(e, m->record_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "consent");
    wire_put_bin(e, m->consent, 1, WIRE_PEER_SIGNED_CONSENT_BYTES_MAX);
    wire_enc_field(e, 3, "audit");
    wire_put_bin(e, m->audit, 1, WIRE_TX_BYTES_MAX);
}

static void wire_conv_peer_doc_request(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_doc_request *m = out;
    const msgpack_object *f = wire_get_array(d, root, 3, 0, NULL);

    memset(m, 0, sizeof(*m));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "record_id", m->record_id, WIRE_HASH_BYTES);
    wire_get_bin(d, &f[1], 2, "consent", &m->consent);
    wire_get_bin(d, &f[2], 3, "audit", &m->audit);
}

int wire_peer_doc_request_encode(const struct wire_peer_doc_request *m, struct tb_buf *out,
                                 char *errmsg)
{
    TB_ASSERT(m != NULL);
    return wire_encode_with("peer.doc_request", WIRE_TX_BYTES_MAX + WIRE_CONSENT_BYTES_MAX + 1024u,
                            wire_enc_peer_doc_request, m, out, errmsg);
}

int wire_peer_doc_request_decode(const uint8_t *data, size_t len, struct wire_peer_doc_request *out,
                                 char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.doc_request", data, len,
                            WIRE_TX_BYTES_MAX + WIRE_CONSENT_BYTES_MAX + 1024u, WIRE_FIELDS_MAX,
                            wire_conv_peer_doc_request, wire_enc_peer_doc_request, out, errmsg);
}

static void wire_enc_peer_doc_answer(struct wire_enc *e, const void *in)
{
    const struct wire_peer_doc_answer *m = in;

    wire_put_array(e, 3);
    wire_enc_field(e, 1, "audit_id");
    wire_put_hash(e, m->audit_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 2, "height");
    wire_put_uint(e, m->height);
    wire_enc_field(e, 3, "document");
    wire_put_bin(e, m->document, 0, WIRE_PEER_DOCUMENT_BYTES_MAX);
}

static void wire_conv_peer_doc_answer(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_peer_doc_answer *m = out;
    const msgpack_object *f = wire_get_array(d, root, 3, 0, NULL);

    memset(m, 0, sizeof(*m));
    if (f == NULL)
        return;
    wire_get_hash(d, &f[0], 1, "audit_id", m->audit_id, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[1], 2, "height", &m->height);
    wire_get_bin(d, &f[2], 3, "document", &m->document);
}

int wire_peer_doc_answer_encode(const struct wire_peer_doc_answer *m, struct tb_buf *out,
                                char *errmsg)
{
    TB_ASSERT(m != NULL);
    return wire_encode_with("peer.doc_answer", WIRE_PEER_DOC_ANSWER_BYTES_MAX,
                            wire_enc_peer_doc_answer, m, out, errmsg);
}

int wire_peer_doc_answer_decode(const uint8_t *data, size_t len, struct wire_peer_doc_answer *out,
                                char *errmsg)
{
    TB_ASSERT(out != NULL);
    return wire_decode_with("peer.doc_answer", data, len, WIRE_PEER_DOC_ANSWER_BYTES_MAX,
                            WIRE_FIELDS_MAX, wire_conv_peer_doc_answer, wire_enc_peer_doc_answer,
                            out, errmsg);
}
