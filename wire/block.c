/*
 * Blocks, headers, votes, proposals and commit certificates (DESIGN 3.5).
 *
 * A block is decoded in two layers: its two outer array headers are read here, and the header
 * and every envelope go through their own strict decoders, so that each tx keeps a view of its
 * exact bytes (tx ids are hashes of those bytes) and msgpack-c never builds one object tree for
 * a whole 8 MiB block. The block as a whole is still re-encoded and compared with the input.
 * Structure only: no signature, quorum or chain-linkage check belongs here.
 */
#include <string.h>

#include "tb_alloc.h"
#include "tb_assert.h"
#include "wire_int.h"

/* ---- Header ---- */

static void wire_enc_header(struct wire_enc *e, const void *in)
{
    const struct wire_header *h = in;

    wire_put_array(e, 10);
    wire_enc_field(e, 1, "version");
    if (h->version != WIRE_HEADER_VERSION)
        wire_enc_fail(e, TB_EINVAL, "must be %u, got %llu", WIRE_HEADER_VERSION,
                      (unsigned long long)h->version);
    wire_put_uint(e, h->version);
    wire_enc_field(e, 2, "chain_id");
    wire_put_hash(e, h->chain_id, WIRE_HASH_BYTES);
    wire_enc_field(e, 3, "height");
    wire_put_uint(e, h->height);
    wire_enc_field(e, 4, "time_ms");
    wire_put_uint(e, h->time_ms);
    wire_enc_field(e, 5, "prev_block_hash");
    wire_put_hash(e, h->prev_block_hash, WIRE_HASH_BYTES);
    wire_enc_field(e, 6, "log_size");
    wire_put_uint(e, h->log_size);
    wire_enc_field(e, 7, "log_root");
    wire_put_hash(e, h->log_root, WIRE_HASH_BYTES);
    wire_enc_field(e, 8, "state_root");
    wire_put_hash(e, h->state_root, WIRE_HASH_BYTES);
    wire_enc_field(e, 9, "validator_set_hash");
    wire_put_hash(e, h->validator_set_hash, WIRE_HASH_BYTES);
    wire_enc_field(e, 10, "proposer_index");
    if (h->proposer_index >= WIRE_VALIDATORS_MAX)
        wire_enc_fail(e, TB_EINVAL, "must be below %u, got %u", WIRE_VALIDATORS_MAX,
                      h->proposer_index);
    wire_put_uint(e, h->proposer_index);
}

static void wire_conv_header(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_header *h = out;
    const msgpack_object *f = wire_get_array(d, root, 10, 0, NULL);

    memset(h, 0, sizeof(*h));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "version", &h->version);
    wire_get_hash(d, &f[1], 2, "chain_id", h->chain_id, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[2], 3, "height", &h->height);
    wire_get_uint(d, &f[3], 4, "time_ms", &h->time_ms);
    wire_get_hash(d, &f[4], 5, "prev_block_hash", h->prev_block_hash, WIRE_HASH_BYTES);
    wire_get_uint(d, &f[5], 6, "log_size", &h->log_size);
    wire_get_hash(d, &f[6], 7, "log_root", h->log_root, WIRE_HASH_BYTES);
    wire_get_hash(d, &f[7], 8, "state_root", h->state_root, WIRE_HASH_BYTES);
    wire_get_hash(d, &f[8], 9, "validator_set_hash", h->validator_set_hash, WIRE_HASH_BYTES);
    wire_get_u32(d, &f[9], 10, "proposer_index", &h->proposer_index);
}

int wire_header_encode(const struct wire_header *h, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("header", WIRE_SMALL_BYTES_MAX, wire_enc_header, h, out, errmsg);
}

int wire_header_decode(const uint8_t *data, size_t len, struct wire_header *out, char *errmsg)
{
    return wire_decode_with("header", data, len, WIRE_SMALL_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_header, wire_enc_header, out, errmsg);
}

/* ---- Block ---- */

struct wire_block_in
{
    const struct wire_header *header;
    const struct tb_bytes *txs;
    size_t tx_count;
    bool check_txs; /* false when the decoder has already checked each envelope */
};

static void wire_enc_block(struct wire_enc *e, const void *in)
{
    const struct wire_block_in *b = in;
    char sub[TB_ERRMSG_SIZE];

    TB_ASSERT(b->header != NULL);
    TB_ASSERT(b->txs != NULL || b->tx_count == 0);
    wire_put_array(e, 2);
    wire_enc_field(e, 1, "header");
    e->what = "block header";
    wire_enc_header(e, b->header);
    e->what = "block";
    wire_enc_field(e, 2, "txs");
    if (b->tx_count > WIRE_BLOCK_TXS_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu txs, limit %u", b->tx_count, WIRE_BLOCK_TXS_MAX);
    wire_put_array(e, b->tx_count);
    for (size_t i = 0; e->err == TB_OK && i < b->tx_count; i++) {
        if (b->check_txs) {
            struct wire_tx tx;
            int rv = wire_tx_decode(b->txs[i].ptr, b->txs[i].len, &tx, sub);
            if (rv != TB_OK)
                wire_enc_fail(e, rv == TB_ELIMIT ? TB_ELIMIT : TB_EINVAL, "tx %zu: %s", i, sub);
        }
        wire_put_raw(e, b->txs[i].ptr, b->txs[i].len);
    }
}

int wire_block_encode(const struct wire_header *h, const struct tb_bytes *txs, size_t tx_count,
                      struct tb_buf *out, char *errmsg)
{
    struct wire_block_in in = {h, txs, tx_count, true};
    return wire_encode_with("block", WIRE_BLOCK_BYTES_MAX, wire_enc_block, &in, out, errmsg);
}

/* Reads an array header at data[*pos] (any length form: the final comparison rejects a longer
 * form than needed). False if the item there is not an array. */
static bool wire_read_array_header(const uint8_t *data, size_t len, size_t *pos, uint32_t *count)
{
    uint8_t b;
    TB_ASSERT(*pos <= len);
    if (*pos >= len)
        return false;
    b = data[*pos];
    if (b >= 0x90 && b <= 0x9f) {
        *count = b & 0x0fu;
        *pos += 1;
        return true;
    }
    if (b == 0xdc && len - *pos >= 3) {
        *count = (uint32_t)data[*pos + 1] << 8 | data[*pos + 2];
        *pos += 3;
        return true;
    }
    if (b == 0xdd && len - *pos >= 5) {
        *count = (uint32_t)data[*pos + 1] << 24 | (uint32_t)data[*pos + 2] << 16 |
                 (uint32_t)data[*pos + 3] << 8 | data[*pos + 4];
        *pos += 5;
        return true;
    }
    return false;
}

static void wire_wrap(char *errmsg, const char *what, size_t index, bool indexed)
{
    if (errmsg == NULL)
        return;
    if (indexed)
        tb_errmsg_wrapf(errmsg, "%s %zu", what, index);
    else
        tb_errmsg_wrapf(errmsg, "%s", what);
}

/* The txs of a block, from data[*pos]: each envelope scanned, decoded and kept as a view. */
static int wire_block_decode_txs(const uint8_t *data, size_t len, size_t *pos,
                                 struct wire_block *out, char *errmsg)
{
    uint32_t n = 0;
    int rv;

    if (!wire_read_array_header(data, len, pos, &n))
        return tb_fail(errmsg, TB_EMALFORMED, "block field 2 (txs): expected array");
    if (n > WIRE_BLOCK_TXS_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "block field 2 (txs): %u txs, limit %u", n,
                       WIRE_BLOCK_TXS_MAX);
    if (n > 0) {
        out->txs = tb_calloc(n, sizeof(*out->txs));
        if (out->txs == NULL)
            return tb_fail(errmsg, TB_ENOMEM, "block: cannot allocate %u tx views", n);
    }
    for (uint32_t i = 0; i < n; i++) {
        struct wire_tx tx;
        size_t end = 0;
        rv = wire_scan(data, len, *pos, WIRE_DEPTH_MAX, WIRE_TX_SIGS_MAX, &end, "tx", errmsg);
        if (rv == TB_OK)
            rv = wire_tx_decode(data + *pos, end - *pos, &tx, errmsg);
        if (rv != TB_OK) {
            wire_wrap(errmsg, "block tx", i, true);
            return rv;
        }
        out->txs[i].ptr = data + *pos;
        out->txs[i].len = end - *pos;
        out->tx_count = i + 1;
        *pos = end;
    }
    TB_ASSERT(out->tx_count == n);
    return TB_OK;
}

static int wire_block_decode_layers(const uint8_t *data, size_t len, struct wire_block *out,
                                    char *errmsg)
{
    size_t pos = 0;
    size_t end = 0;
    uint32_t n = 0;
    int rv;

    rv = wire_scan(data, len, 0, WIRE_DEPTH_MAX, WIRE_BLOCK_TXS_MAX, &end, "block", errmsg);
    if (rv != TB_OK)
        return rv;
    if (end != len)
        return tb_fail(errmsg, TB_EMALFORMED, "block: %zu trailing bytes", len - end);
    if (!wire_read_array_header(data, len, &pos, &n) || n != 2)
        return tb_fail(errmsg, TB_EMALFORMED, "block: expected array of 2 (header, txs)");
    rv = wire_scan(data, len, pos, WIRE_DEPTH_MAX, WIRE_FIELDS_MAX, &end, "block header", errmsg);
    if (rv == TB_OK)
        rv = wire_header_decode(data + pos, end - pos, &out->header, errmsg);
    if (rv != TB_OK) {
        wire_wrap(errmsg, "block", 0, false);
        return rv;
    }
    out->header_bytes.ptr = data + pos;
    out->header_bytes.len = end - pos;
    pos = end;
    rv = wire_block_decode_txs(data, len, &pos, out, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(pos == len); /* the pre-scan ended the block exactly at len */
    return TB_OK;
}

int wire_block_decode(const uint8_t *data, size_t len, struct wire_block *out, char *errmsg)
{
    struct wire_enc cmp;
    struct wire_block_in in;
    int rv;

    TB_ASSERT(out != NULL);
    TB_ASSERT(data != NULL || len == 0);
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return tb_fail(errmsg, TB_EMALFORMED, "block: empty input");
    if (len > WIRE_BLOCK_BYTES_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "block: %zu bytes, limit %u", len, WIRE_BLOCK_BYTES_MAX);
    rv = wire_block_decode_layers(data, len, out, errmsg);
    if (rv == TB_OK) {
        in.header = &out->header;
        in.txs = out->txs;
        in.tx_count = out->tx_count;
        in.check_txs = false;
        wire_enc_init_cmp(&cmp, "block", data, len, errmsg);
        wire_enc_block(&cmp, &in);
        rv = wire_enc_finish(&cmp);
    }
    if (rv != TB_OK)
        wire_block_release(out);
    return rv;
}

void wire_block_release(struct wire_block *b)
{
    if (b == NULL)
        return;
    tb_free(b->txs);
    b->txs = NULL;
    b->tx_count = 0;
}

/* ---- Vote ---- */

static void wire_enc_vote(struct wire_enc *e, const void *in)
{
    const struct wire_vote *v = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "type");
    if (v->type != WIRE_VOTE_PREVOTE && v->type != WIRE_VOTE_PRECOMMIT)
        wire_enc_fail(e, TB_EINVAL, "must be 1 (prevote) or 2 (precommit), got %d", (int)v->type);
    wire_put_uint(e, (uint64_t)v->type);
    wire_enc_field(e, 2, "height");
    wire_put_uint(e, v->height);
    wire_enc_field(e, 3, "round");
    wire_put_uint(e, v->round);
    wire_enc_field(e, 4, "block_hash");
    if (v->has_block_hash)
        wire_put_hash(e, v->block_hash, WIRE_HASH_BYTES);
    else
        wire_put_nil(e);
}

static void wire_conv_vote(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_vote *v = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);
    uint64_t type = 0;

    memset(v, 0, sizeof(*v));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "type", &type);
    if (d->err == TB_OK && type != WIRE_VOTE_PREVOTE && type != WIRE_VOTE_PRECOMMIT)
        wire_dec_fail(d, TB_EMALFORMED, 1, "type", "must be 1 (prevote) or 2 (precommit)");
    v->type = (enum wire_vote_type)(type <= 2 ? type : 0);
    wire_get_uint(d, &f[1], 2, "height", &v->height);
    wire_get_u32(d, &f[2], 3, "round", &v->round);
    v->has_block_hash = !wire_is_nil(&f[3]);
    if (v->has_block_hash)
        wire_get_hash(d, &f[3], 4, "block_hash", v->block_hash, WIRE_HASH_BYTES);
}

int wire_vote_encode(const struct wire_vote *v, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("vote", WIRE_SMALL_BYTES_MAX, wire_enc_vote, v, out, errmsg);
}

int wire_vote_decode(const uint8_t *data, size_t len, struct wire_vote *out, char *errmsg)
{
    return wire_decode_with("vote", data, len, WIRE_SMALL_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_vote, wire_enc_vote, out, errmsg);
}

/* ---- Proposal ---- */

static void wire_enc_proposal(struct wire_enc *e, const void *in)
{
    const struct wire_proposal *p = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "height");
    wire_put_uint(e, p->height);
    wire_enc_field(e, 2, "round");
    wire_put_uint(e, p->round);
    wire_enc_field(e, 3, "pol_round");
    if (p->has_pol_round) {
        /* Tendermint's valid round is always an earlier round of the same height. */
        if (p->pol_round >= p->round)
            wire_enc_fail(e, TB_EINVAL, "%u is not below round %u", p->pol_round, p->round);
        wire_put_uint(e, p->pol_round);
    } else {
        wire_put_nil(e);
    }
    wire_enc_field(e, 4, "block_hash");
    wire_put_hash(e, p->block_hash, WIRE_HASH_BYTES);
}

static void wire_conv_proposal(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_proposal *p = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);

    memset(p, 0, sizeof(*p));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "height", &p->height);
    wire_get_u32(d, &f[1], 2, "round", &p->round);
    p->has_pol_round = !wire_is_nil(&f[2]);
    if (p->has_pol_round)
        wire_get_u32(d, &f[2], 3, "pol_round", &p->pol_round);
    wire_get_hash(d, &f[3], 4, "block_hash", p->block_hash, WIRE_HASH_BYTES);
}

int wire_proposal_encode(const struct wire_proposal *p, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("proposal", WIRE_SMALL_BYTES_MAX, wire_enc_proposal, p, out, errmsg);
}

int wire_proposal_decode(const uint8_t *data, size_t len, struct wire_proposal *out, char *errmsg)
{
    return wire_decode_with("proposal", data, len, WIRE_SMALL_BYTES_MAX, WIRE_FIELDS_MAX,
                            wire_conv_proposal, wire_enc_proposal, out, errmsg);
}

/* ---- Commit certificate ---- */

static void wire_enc_cert(struct wire_enc *e, const void *in)
{
    const struct wire_cert *c = in;

    wire_put_array(e, 4);
    wire_enc_field(e, 1, "height");
    wire_put_uint(e, c->height);
    wire_enc_field(e, 2, "round");
    wire_put_uint(e, c->round);
    wire_enc_field(e, 3, "block_hash");
    wire_put_hash(e, c->block_hash, WIRE_HASH_BYTES);
    wire_enc_field(e, 4, "signatures");
    if (c->sig_count > WIRE_VALIDATORS_MAX)
        wire_enc_fail(e, TB_ELIMIT, "%zu signatures, limit %u", c->sig_count, WIRE_VALIDATORS_MAX);
    if (c->sig_count == 0)
        wire_enc_fail(e, TB_EINVAL, "needs at least one signature");
    if (e->err != TB_OK)
        return;
    wire_put_array(e, c->sig_count);
    for (size_t i = 0; i < c->sig_count; i++) {
        uint32_t idx = c->sigs[i].validator_index;
        if (idx >= WIRE_VALIDATORS_MAX)
            wire_enc_fail(e, TB_EINVAL, "validator index %u not below %u", idx,
                          WIRE_VALIDATORS_MAX);
        /* Strictly increasing: one encoding per set, and no validator counted twice. */
        if (i > 0 && c->sigs[i - 1].validator_index >= idx)
            wire_enc_fail(e, TB_EINVAL, "validator index %u not above %u (sorted, unique)", idx,
                          c->sigs[i - 1].validator_index);
        wire_put_array(e, 2);
        wire_put_uint(e, idx);
        wire_put_bin(e, c->sigs[i].sig, 1, WIRE_SIG_BYTES_MAX);
    }
}

static void wire_conv_cert(struct wire_dec *d, const msgpack_object *root, void *out)
{
    struct wire_cert *c = out;
    const msgpack_object *f = wire_get_array(d, root, 4, 0, NULL);
    const msgpack_object *s;
    size_t n = 0;

    memset(c, 0, sizeof(*c));
    if (f == NULL)
        return;
    wire_get_uint(d, &f[0], 1, "height", &c->height);
    wire_get_u32(d, &f[1], 2, "round", &c->round);
    wire_get_hash(d, &f[2], 3, "block_hash", c->block_hash, WIRE_HASH_BYTES);
    s = wire_get_list(d, &f[3], WIRE_VALIDATORS_MAX, &n, 4, "signatures");
    for (size_t i = 0; s != NULL && i < n; i++) {
        const msgpack_object *p = wire_get_array(d, &s[i], 2, 4, "signatures");
        if (p == NULL)
            return;
        wire_get_u32(d, &p[0], 4, "signatures", &c->sigs[i].validator_index);
        wire_get_bin(d, &p[1], 4, "signatures", &c->sigs[i].sig);
    }
    TB_ASSERT(n <= WIRE_VALIDATORS_MAX);
    c->sig_count = n;
}

int wire_cert_encode(const struct wire_cert *c, struct tb_buf *out, char *errmsg)
{
    return wire_encode_with("cert", WIRE_CERT_BYTES_MAX, wire_enc_cert, c, out, errmsg);
}

int wire_cert_decode(const uint8_t *data, size_t len, struct wire_cert *out, char *errmsg)
{
    return wire_decode_with("cert", data, len, WIRE_CERT_BYTES_MAX, WIRE_VALIDATORS_MAX,
                            wire_conv_cert, wire_enc_cert, out, errmsg);
}
