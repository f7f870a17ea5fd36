/*
 * libFuzzer target for the peer messages (wire/wire_peer.h): what another node, or anyone
 * who reaches the peer port, sends. The first byte picks the decoder; whatever decodes must
 * re-encode to exactly the input bytes (one encoding per value).
 */
#include <stdint.h>
#include <string.h>

#include "tb_assert.h"
#include "tb_buf.h"
#include "wire_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PEER_ROUND_TRIP(type, decode, encode, max) \
    do {                                                \
        static struct type msg;                         \
        struct tb_buf out;                              \
        if (decode(data, size, &msg, errmsg) != TB_OK)  \
            break;                                      \
        tb_buf_init(&out, (max) + 1);                   \
        TB_ASSERT(encode(&msg, &out, errmsg) == TB_OK); \
        TB_ASSERT(out.len == size);                     \
        TB_ASSERT(memcmp(out.data, data, size) == 0);   \
        tb_buf_release(&out);                           \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errmsg[TB_ERRMSG_SIZE];
    uint8_t which;
    if (size == 0)
        return 0;
    which = data[0] & 7u;
    data++;
    size--;
    switch (which) {
    case 0:
        FUZZ_PEER_ROUND_TRIP(wire_peer_consensus, wire_peer_consensus_decode,
                             wire_peer_consensus_encode, WIRE_PEER_CONSENSUS_BYTES_MAX);
        break;
    case 1:
        FUZZ_PEER_ROUND_TRIP(wire_peer_txs, wire_peer_txs_decode, wire_peer_txs_encode,
                             WIRE_PEER_TXS_BYTES_MAX);
        break;
    case 2:
        FUZZ_PEER_ROUND_TRIP(wire_peer_status, wire_peer_status_decode, wire_peer_status_encode,
                             WIRE_SMALL_BYTES_MAX);
        break;
    case 4:
        FUZZ_PEER_ROUND_TRIP(wire_peer_doc_request, wire_peer_doc_request_decode,
                             wire_peer_doc_request_encode,
                             WIRE_TX_BYTES_MAX + WIRE_CONSENT_BYTES_MAX + 1024u);
        break;
    case 5:
        FUZZ_PEER_ROUND_TRIP(wire_peer_doc_answer, wire_peer_doc_answer_decode,
                             wire_peer_doc_answer_encode, WIRE_PEER_DOC_ANSWER_BYTES_MAX);
        break;
    default:
        FUZZ_PEER_ROUND_TRIP(wire_peer_block, wire_peer_block_decode, wire_peer_block_encode,
                             WIRE_PEER_BLOCK_BYTES_MAX);
        break;
    }
    return 0;
}
