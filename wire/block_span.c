/*
 * wire/block_span.c: where the header and one tx envelope sit inside a block's bytes, without
 * decoding the block. A node keeps blocks it has checked in full (wire_block_decode and the
 * ledger) and then reads single txs out of them for queries and proofs; a whole-block decode
 * with its canonical re-encode costs milliseconds per 1,000 txs, a walk to one tx costs
 * microseconds.
 *
 * The walk measures spans of the msgpack subset a block is made of (uints, bins, strs, arrays,
 * nil) with every length checked against the bytes left and a depth bound. It does not judge
 * canonical form: callers decode what they take (wire_header_decode, wire_tx_decode), strictly.
 *
 * Must never: read past len, recurse deeper than WIRE_SPAN_DEPTH_MAX, or assert on the bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "tb_assert.h"
#include "wire.h"

#define WIRE_SPAN_DEPTH_MAX 8u

static int wire_span_len(const uint8_t *p, size_t len, size_t hdr, size_t *n)
{
    if (len < hdr)
        return TB_EMALFORMED;
    *n = 0;
    for (size_t i = 1; i < hdr; i++)
        *n = (*n << 8) | p[i];
    return TB_OK;
}

/* The number of elements of the array at p and its header size. */
static int wire_span_array(const uint8_t *p, size_t len, size_t *count, size_t *hdr)
{
    if (len < 1)
        return TB_EMALFORMED;
    if ((p[0] & 0xf0u) == 0x90u) {
        *count = p[0] & 0x0fu;
        *hdr = 1;
        return TB_OK;
    }
    *hdr = p[0] == 0xdcu ? 3 : p[0] == 0xddu ? 5 : 0;
    if (*hdr == 0)
        return TB_EMALFORMED;
    return wire_span_len(p, len, *hdr, count);
}

/* The size of the one element at p. */
static int wire_span_skip(const uint8_t *p, size_t len, size_t *used, unsigned depth)
{
    size_t hdr = 0, n = 0;
    if (len < 1 || depth > WIRE_SPAN_DEPTH_MAX)
        return TB_EMALFORMED;
    uint8_t t = p[0];
    if (t <= 0x7fu || t == 0xc0u) {
        *used = 1;
        return TB_OK;
    }
    if (t >= 0xccu && t <= 0xcfu) { /* uint 8..64 */
        *used = 1 + ((size_t)1 << (t - 0xccu));
        return len >= *used ? TB_OK : TB_EMALFORMED;
    }
    if ((t & 0xe0u) == 0xa0u) { /* fixstr */
        *used = 1 + (t & 0x1fu);
        return len >= *used ? TB_OK : TB_EMALFORMED;
    }
    if (t == 0xc4u || t == 0xd9u || t == 0xc5u || t == 0xdau || t == 0xc6u || t == 0xdbu) {
        hdr = (t == 0xc4u || t == 0xd9u) ? 2 : (t == 0xc5u || t == 0xdau) ? 3 : 5;
        if (wire_span_len(p, len, hdr, &n) != TB_OK || n > len - hdr)
            return TB_EMALFORMED;
        *used = hdr + n;
        return TB_OK;
    }
    if (wire_span_array(p, len, &n, &hdr) != TB_OK)
        return TB_EMALFORMED; /* maps and anything else never appear in a block's structure */
    size_t off = hdr;
    for (size_t i = 0; i < n; i++) {
        size_t u = 0;
        if (off > len || wire_span_skip(p + off, len - off, &u, depth + 1) != TB_OK)
            return TB_EMALFORMED;
        off += u;
    }
    *used = off;
    return off <= len ? TB_OK : TB_EMALFORMED;
}

int wire_block_spans(const uint8_t *data, size_t len, size_t index, struct tb_bytes *header,
                     struct tb_bytes *tx, size_t *tx_count)
{
    size_t hlen = 0, hdr = 0, count = 0;
    TB_ASSERT(data != NULL || len == 0);
    TB_ASSERT(tx_count != NULL);
    if (len < 1 || data[0] != 0x92u || wire_span_skip(data + 1, len - 1, &hlen, 1) != TB_OK)
        return TB_EMALFORMED;
    size_t off = 1 + hlen;
    if (wire_span_array(data + off, len - off, &count, &hdr) != TB_OK)
        return TB_EMALFORMED;
    if (header != NULL)
        *header = (struct tb_bytes){data + 1, hlen};
    *tx_count = count;
    if (tx == NULL || index == SIZE_MAX)
        return TB_OK;
    if (index >= count)
        return TB_ENOTFOUND;
    off += hdr;
    for (size_t i = 0; i <= index; i++) {
        size_t u = 0;
        if (off > len || wire_span_skip(data + off, len - off, &u, 1) != TB_OK)
            return TB_EMALFORMED;
        if (i == index)
            *tx = (struct tb_bytes){data + off, u};
        off += u;
    }
    return TB_OK;
}
