/*
 * wire/wire_peer.h: the MessagePack messages of the peer API (/v1/peer/..., docs/peer.md),
 * exchanged only between member nodes.
 *
 * Same contract as wire.h: encoders validate and append, decoders are strict (exactly the
 * bytes the encoder produces, no trailing bytes) and bounded, views point into the input.
 * The messages only carry other wire structures as bin (votes, proposals, blocks, certs,
 * tx envelopes): checking those, and every signature, is the node's job, never this file's.
 */
#ifndef WIRE_PEER_H
#define WIRE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WIRE_PEER_TXS_MAX 64u                        /* envelopes per gossip message */
#define WIRE_PEER_TXS_BYTES_MAX (4u * 1024u * 1024u) /* a whole gossip message */
/* A consensus message: a proposal carries its whole block. */
#define WIRE_PEER_CONSENSUS_BYTES_MAX (WIRE_BLOCK_BYTES_MAX + WIRE_SMALL_BYTES_MAX + 256u)
#define WIRE_PEER_BLOCK_BYTES_MAX (WIRE_BLOCK_BYTES_MAX + WIRE_CERT_BYTES_MAX + 64u)

enum wire_peer_msg_type {
    WIRE_PEER_PROPOSAL = 0,  /* body: a wire proposal; block: the proposed block */
    WIRE_PEER_PREVOTE = 1,   /* body: a wire vote of type 1; no block */
    WIRE_PEER_PRECOMMIT = 2, /* body: a wire vote of type 2; no block */
};

/* [type, from, body(bin), sig(bin), block(bin) or nil]: POST /v1/peer/consensus. */
struct wire_peer_consensus
{
    enum wire_peer_msg_type type;
    uint32_t from;         /* signer's validator index, < WIRE_VALIDATORS_MAX */
    struct tb_bytes body;  /* 1..WIRE_SMALL_BYTES_MAX: the signed wire proposal or vote */
    struct tb_bytes sig;   /* 1..WIRE_SIG_BYTES_MAX */
    bool has_block;        /* exactly when type == WIRE_PEER_PROPOSAL */
    struct tb_bytes block; /* 1..WIRE_BLOCK_BYTES_MAX */
};

TB_MUST_CHECK int wire_peer_consensus_encode(const struct wire_peer_consensus *m,
                                             struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_peer_consensus_decode(const uint8_t *data, size_t len,
                                             struct wire_peer_consensus *out, char *errmsg);

/* [envelope(bin), ...], 1..WIRE_PEER_TXS_MAX: POST /v1/peer/txs. */
struct wire_peer_txs
{
    struct tb_bytes txs[WIRE_PEER_TXS_MAX]; /* each 1..WIRE_TX_BYTES_MAX */
    size_t count;
};

TB_MUST_CHECK int wire_peer_txs_encode(const struct wire_peer_txs *m, struct tb_buf *out,
                                       char *errmsg);
TB_MUST_CHECK int wire_peer_txs_decode(const uint8_t *data, size_t len, struct wire_peer_txs *out,
                                       char *errmsg);

/* [chain_id(bin32), height, block_hash(bin32), round]: GET /v1/peer/status. */
struct wire_peer_status
{
    uint8_t chain_id[WIRE_HASH_BYTES];
    uint64_t height; /* latest committed height, 0 before the first block */
    uint8_t block_hash[WIRE_HASH_BYTES];
    uint32_t round; /* current consensus round, for operators */
};

TB_MUST_CHECK int wire_peer_status_encode(const struct wire_peer_status *m, struct tb_buf *out,
                                          char *errmsg);
TB_MUST_CHECK int wire_peer_status_decode(const uint8_t *data, size_t len,
                                          struct wire_peer_status *out, char *errmsg);

/* [block(bin), cert(bin)]: the answer of GET /v1/peer/blocks/{height}. */
struct wire_peer_block
{
    struct tb_bytes block; /* 1..WIRE_BLOCK_BYTES_MAX */
    struct tb_bytes cert;  /* 1..WIRE_CERT_BYTES_MAX */
};

TB_MUST_CHECK int wire_peer_block_encode(const struct wire_peer_block *m, struct tb_buf *out,
                                         char *errmsg);
TB_MUST_CHECK int wire_peer_block_decode(const uint8_t *data, size_t len,
                                         struct wire_peer_block *out, char *errmsg);

/* ---- documents with consent (issue 6, docs/consent.md) ---- */

#define WIRE_PEER_DOCUMENT_BYTES_MAX (4u * 1024u * 1024u) /* a document */
#define WIRE_PEER_SIGNED_CONSENT_BYTES_MAX (WIRE_CONSENT_BYTES_MAX + 256u)

/* [record_id(bin32), consent(bin), audit(bin)]: POST /v1/peer/documents, from the requesting
 * agency's node to the node that holds the document. consent is a wire_consent_signed
 * (1..WIRE_PEER_SIGNED_CONSENT_BYTES_MAX), audit an access.audit envelope
 * (1..WIRE_TX_BYTES_MAX); neither is interpreted here. */
struct wire_peer_doc_request
{
    uint8_t record_id[WIRE_HASH_BYTES];
    struct tb_bytes consent;
    struct tb_bytes audit;
};

TB_MUST_CHECK int wire_peer_doc_request_encode(const struct wire_peer_doc_request *m,
                                               struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_peer_doc_request_decode(const uint8_t *data, size_t len,
                                               struct wire_peer_doc_request *out, char *errmsg);

/* [audit_id(bin32), height, document(bin, 0..WIRE_PEER_DOCUMENT_BYTES_MAX)]: the 200 answer,
 * sent only once the audit tx is committed at `height`. */
struct wire_peer_doc_answer
{
    uint8_t audit_id[WIRE_HASH_BYTES];
    uint64_t height;
    struct tb_bytes document;
};

#define WIRE_PEER_DOC_ANSWER_BYTES_MAX (WIRE_PEER_DOCUMENT_BYTES_MAX + 64u)

TB_MUST_CHECK int wire_peer_doc_answer_encode(const struct wire_peer_doc_answer *m,
                                              struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int wire_peer_doc_answer_decode(const uint8_t *data, size_t len,
                                              struct wire_peer_doc_answer *out, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
