/*
 * wire/peer_msg.c: the peer API messages. Round trips of every message; strictness: every
 * truncation, an appended byte, and every single-byte change of a valid encoding either fails
 * to decode or decodes to a value whose encoding is exactly the changed input (no second
 * encoding of one value is ever accepted); hand-made non-canonical and out-of-range inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "t_util.h"
#include "wire_peer.h"

static char errmsg[TB_ERRMSG_SIZE];

typedef int (*codec_fn)(const uint8_t *data, size_t len, struct tb_buf *reencoded);

static int consensus_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    struct wire_peer_consensus m;
    int rc = wire_peer_consensus_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_consensus_encode(&m, out, errmsg) : rc;
}

static int txs_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    static struct wire_peer_txs m;
    int rc = wire_peer_txs_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_txs_encode(&m, out, errmsg) : rc;
}

static int status_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    struct wire_peer_status m;
    int rc = wire_peer_status_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_status_encode(&m, out, errmsg) : rc;
}

static int block_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    struct wire_peer_block m;
    int rc = wire_peer_block_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_block_encode(&m, out, errmsg) : rc;
}

static int doc_request_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    struct wire_peer_doc_request m;
    int rc = wire_peer_doc_request_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_doc_request_encode(&m, out, errmsg) : rc;
}

static int doc_answer_codec(const uint8_t *data, size_t len, struct tb_buf *out)
{
    struct wire_peer_doc_answer m;
    int rc = wire_peer_doc_answer_decode(data, len, &m, errmsg);
    return rc == TB_OK ? wire_peer_doc_answer_encode(&m, out, errmsg) : rc;
}

/* The strictness property over one valid encoding. */
static void check_strict(codec_fn codec, const uint8_t *enc, size_t len)
{
    struct tb_buf re;
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    tb_buf_init(&re, 16u << 20);
    assert_int_equal(codec(enc, len, &re), TB_OK);
    assert_int_equal(re.len, len);
    assert_memory_equal(re.data, enc, len);
    for (size_t cut = 0; cut < len; cut++) {
        tb_buf_reset(&re);
        assert_int_not_equal(codec(enc, cut, &re), TB_OK);
    }
    memcpy(copy, enc, len);
    copy[len] = 0xc0;
    tb_buf_reset(&re);
    assert_int_not_equal(codec(copy, len + 1, &re), TB_OK);
    static const uint8_t deltas[] = {0x01, 0x10, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t d = 0; d < sizeof(deltas); d++) {
            memcpy(copy, enc, len);
            copy[i] ^= deltas[d];
            tb_buf_reset(&re);
            if (codec(copy, len, &re) == TB_OK) {
                assert_int_equal(re.len, len);
                assert_memory_equal(re.data, copy, len);
            }
        }
    }
    tb_buf_release(&re);
    free(copy);
}

static void consensus_round_trip_and_strict(void **state)
{
    (void)state;
    uint8_t body[20], sig[64], block[100];
    memset(body, 0x11, sizeof(body));
    memset(sig, 0x22, sizeof(sig));
    memset(block, 0x33, sizeof(block));
    struct wire_peer_consensus m = {.type = WIRE_PEER_PROPOSAL,
                                    .from = 3,
                                    .body = {body, sizeof(body)},
                                    .sig = {sig, sizeof(sig)},
                                    .has_block = true,
                                    .block = {block, sizeof(block)}};
    struct tb_buf out;
    tb_buf_init(&out, WIRE_PEER_CONSENSUS_BYTES_MAX);
    assert_int_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_OK);
    struct wire_peer_consensus d;
    assert_int_equal(wire_peer_consensus_decode(out.data, out.len, &d, errmsg), TB_OK);
    assert_int_equal(d.type, WIRE_PEER_PROPOSAL);
    assert_int_equal(d.from, 3);
    assert_true(d.has_block);
    assert_int_equal(d.block.len, sizeof(block));
    assert_memory_equal(d.sig.ptr, sig, sizeof(sig));
    check_strict(consensus_codec, out.data, out.len);

    /* A vote carries no block; a proposal must. */
    m.type = WIRE_PEER_PRECOMMIT;
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_EINVAL);
    m.has_block = false;
    assert_int_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_OK);
    check_strict(consensus_codec, out.data, out.len);
    /* Hand-made: the same vote with a block appended as field 5 is refused. */
    size_t n = out.len;
    uint8_t bad[200];
    memcpy(bad, out.data, n);
    bad[n - 1] = 0xc4; /* nil -> bin8 of one byte */
    bad[n] = 1;
    bad[n + 1] = 0x33;
    assert_int_equal(wire_peer_consensus_decode(bad, n + 2, &d, errmsg), TB_EMALFORMED);
    /* Out of range: type 3, from 64, an empty sig. */
    m.type = (enum wire_peer_msg_type)3;
    assert_int_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_EINVAL);
    m.type = WIRE_PEER_PREVOTE;
    m.from = WIRE_VALIDATORS_MAX;
    assert_int_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_EINVAL);
    m.from = 0;
    m.sig.len = 0;
    assert_int_not_equal(wire_peer_consensus_encode(&m, &out, errmsg), TB_OK);
    tb_buf_release(&out);
}

static void txs_round_trip_and_bounds(void **state)
{
    (void)state;
    static struct wire_peer_txs m, d;
    static uint8_t env[WIRE_PEER_TXS_MAX][40];
    struct t_rng rng;
    t_rng_seed(&rng, 7);
    for (size_t i = 0; i < 3; i++) {
        t_rng_bytes(&rng, env[i], sizeof(env[i]));
        m.txs[i] = (struct tb_bytes){env[i], 10 + i};
    }
    m.count = 3;
    struct tb_buf out;
    tb_buf_init(&out, WIRE_PEER_TXS_BYTES_MAX);
    assert_int_equal(wire_peer_txs_encode(&m, &out, errmsg), TB_OK);
    assert_int_equal(wire_peer_txs_decode(out.data, out.len, &d, errmsg), TB_OK);
    assert_int_equal(d.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(d.txs[i].len, 10 + i);
        assert_memory_equal(d.txs[i].ptr, env[i], 10 + i);
    }
    check_strict(txs_codec, out.data, out.len);
    /* Empty list: refused both ways. */
    m.count = 0;
    assert_int_equal(wire_peer_txs_encode(&m, &out, errmsg), TB_EINVAL);
    static const uint8_t empty[] = {0x90};
    assert_int_not_equal(wire_peer_txs_decode(empty, sizeof(empty), &d, errmsg), TB_OK);
    /* One too many: TB_ELIMIT. */
    for (size_t i = 0; i <= WIRE_PEER_TXS_MAX && i < WIRE_PEER_TXS_MAX; i++)
        m.txs[i] = (struct tb_bytes){env[0], 1};
    m.count = WIRE_PEER_TXS_MAX + 1;
    assert_int_equal(wire_peer_txs_encode(&m, &out, errmsg), TB_ELIMIT);
    /* 65 one-byte bins by hand: array16 header, then c4 01 xx each. */
    uint8_t many[3 + 3 * (WIRE_PEER_TXS_MAX + 1)];
    many[0] = 0xdc;
    many[1] = 0;
    many[2] = WIRE_PEER_TXS_MAX + 1;
    for (size_t i = 0; i <= WIRE_PEER_TXS_MAX; i++) {
        many[3 + 3 * i] = 0xc4;
        many[4 + 3 * i] = 1;
        many[5 + 3 * i] = 0x5a;
    }
    assert_int_equal(wire_peer_txs_decode(many, sizeof(many), &d, errmsg), TB_ELIMIT);
    tb_buf_release(&out);
}

static void status_and_block_round_trip(void **state)
{
    (void)state;
    struct wire_peer_status st = {.height = 123456789, .round = 7};
    memset(st.chain_id, 0xab, sizeof(st.chain_id));
    memset(st.block_hash, 0xcd, sizeof(st.block_hash));
    struct tb_buf out;
    tb_buf_init(&out, WIRE_PEER_BLOCK_BYTES_MAX);
    assert_int_equal(wire_peer_status_encode(&st, &out, errmsg), TB_OK);
    struct wire_peer_status sd;
    assert_int_equal(wire_peer_status_decode(out.data, out.len, &sd, errmsg), TB_OK);
    assert_memory_equal(&sd, &st, sizeof(st));
    check_strict(status_codec, out.data, out.len);
    /* Non-canonical: height 1 as uint8 (cc 01) instead of a fixint. */
    st.height = 1;
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_status_encode(&st, &out, errmsg), TB_OK);
    uint8_t longer[128];
    assert_true(out.len + 1 <= sizeof(longer));
    memcpy(longer, out.data, 35);
    assert_int_equal(out.data[35], 0x01);
    longer[35] = 0xcc;
    longer[36] = 0x01;
    memcpy(longer + 37, out.data + 36, out.len - 36);
    assert_int_equal(wire_peer_status_decode(longer, out.len + 1, &sd, errmsg), TB_EMALFORMED);

    uint8_t block[300], cert[90];
    memset(block, 1, sizeof(block));
    memset(cert, 2, sizeof(cert));
    struct wire_peer_block pb = {.block = {block, sizeof(block)}, .cert = {cert, sizeof(cert)}};
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_block_encode(&pb, &out, errmsg), TB_OK);
    struct wire_peer_block bd;
    assert_int_equal(wire_peer_block_decode(out.data, out.len, &bd, errmsg), TB_OK);
    assert_int_equal(bd.block.len, sizeof(block));
    assert_int_equal(bd.cert.len, sizeof(cert));
    check_strict(block_codec, out.data, out.len);
    pb.cert.len = WIRE_CERT_BYTES_MAX + 1;
    static uint8_t big[WIRE_CERT_BYTES_MAX + 1];
    pb.cert.ptr = big;
    assert_int_equal(wire_peer_block_encode(&pb, &out, errmsg), TB_ELIMIT);
    tb_buf_release(&out);
}

/* POST /v1/peer/documents and its answer (issue 6): round trips, strictness, bounds. */
static void documents_round_trip_and_strict(void **state)
{
    (void)state;
    uint8_t consent[90], audit[120], doc[200];
    memset(consent, 0x44, sizeof(consent));
    memset(audit, 0x55, sizeof(audit));
    memset(doc, 0x66, sizeof(doc));
    struct wire_peer_doc_request rq = {.consent = {consent, sizeof(consent)},
                                       .audit = {audit, sizeof(audit)}};
    memset(rq.record_id, 0x77, sizeof(rq.record_id));
    struct tb_buf out;
    tb_buf_init(&out, WIRE_PEER_DOC_ANSWER_BYTES_MAX + 16);
    assert_int_equal(wire_peer_doc_request_encode(&rq, &out, errmsg), TB_OK);
    struct wire_peer_doc_request rd;
    assert_int_equal(wire_peer_doc_request_decode(out.data, out.len, &rd, errmsg), TB_OK);
    assert_memory_equal(rd.record_id, rq.record_id, WIRE_HASH_BYTES);
    assert_int_equal(rd.consent.len, sizeof(consent));
    assert_int_equal(rd.audit.len, sizeof(audit));
    check_strict(doc_request_codec, out.data, out.len);
    rq.consent.len = 0; /* a request without a token is not a request */
    assert_int_not_equal(wire_peer_doc_request_encode(&rq, &out, errmsg), TB_OK);

    struct wire_peer_doc_answer an = {.height = 4242, .document = {doc, sizeof(doc)}};
    memset(an.audit_id, 0x88, sizeof(an.audit_id));
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_doc_answer_encode(&an, &out, errmsg), TB_OK);
    struct wire_peer_doc_answer ad;
    assert_int_equal(wire_peer_doc_answer_decode(out.data, out.len, &ad, errmsg), TB_OK);
    assert_int_equal(ad.height, 4242);
    assert_int_equal(ad.document.len, sizeof(doc));
    assert_memory_equal(ad.document.ptr, doc, sizeof(doc));
    check_strict(doc_answer_codec, out.data, out.len);
    an.document.len = 0; /* an empty document is a document (its digest is H("")) */
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_doc_answer_encode(&an, &out, errmsg), TB_OK);
    check_strict(doc_answer_codec, out.data, out.len);
    static uint8_t big[WIRE_PEER_DOCUMENT_BYTES_MAX + 1];
    an.document = (struct tb_bytes){big, sizeof(big)};
    tb_buf_reset(&out);
    assert_int_equal(wire_peer_doc_answer_encode(&an, &out, errmsg), TB_ELIMIT);
    tb_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consensus_round_trip_and_strict),
        cmocka_unit_test(txs_round_trip_and_bounds),
        cmocka_unit_test(status_and_block_round_trip),
        cmocka_unit_test(documents_round_trip_and_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
