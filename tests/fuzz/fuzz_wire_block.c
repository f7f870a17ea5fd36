/*
 * libFuzzer target: blocks, headers and commit certificates. Whatever decodes must re-encode
 * to exactly the input; a decoded block's views must lie inside the input and each tx view
 * must itself decode. wire_block_spans (the walk used on stored blocks) must stay inside any
 * input, and on a block that decodes must find exactly the decoder's header and txs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tb_assert.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(struct tb_buf *out, const uint8_t *data, size_t size)
{
    TB_ASSERT(out->len == size);
    TB_ASSERT(memcmp(out->data, data, size) == 0);
    tb_buf_release(out);
}

/* The walk on arbitrary bytes: views inside the input, whatever it says. */
static void check_spans_any(const uint8_t *data, size_t size)
{
    struct tb_bytes h = {0}, tx = {0};
    size_t count = 0;
    for (size_t i = 0; i < 4; i++) {
        int rv = wire_block_spans(data, size, i, &h, &tx, &count);
        if (rv != TB_OK)
            continue;
        TB_ASSERT(h.ptr > data && h.ptr + h.len <= data + size);
        TB_ASSERT(tx.ptr > h.ptr && tx.ptr + tx.len <= data + size);
        TB_ASSERT(i < count);
    }
}

/* On a block the strict decoder accepts, the walk agrees with it exactly. */
static void check_spans_agree(const struct wire_block *b, const uint8_t *data, size_t size)
{
    struct tb_bytes h = {0}, tx = {0};
    size_t count = 0;
    TB_ASSERT(wire_block_spans(data, size, SIZE_MAX, &h, NULL, &count) == TB_OK);
    TB_ASSERT(count == b->tx_count);
    TB_ASSERT(h.ptr == b->header_bytes.ptr && h.len == b->header_bytes.len);
    for (size_t i = 0; i < b->tx_count; i++) {
        TB_ASSERT(wire_block_spans(data, size, i, NULL, &tx, &count) == TB_OK);
        TB_ASSERT(tx.ptr == b->txs[i].ptr && tx.len == b->txs[i].len);
    }
    TB_ASSERT(wire_block_spans(data, size, b->tx_count, NULL, &tx, &count) == TB_ENOTFOUND);
}

static void check_block(const uint8_t *data, size_t size)
{
    struct wire_block b;
    static struct wire_tx tx;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    check_spans_any(data, size);
    if (wire_block_decode(data, size, &b, msg) != TB_OK)
        return;
    check_spans_agree(&b, data, size);
    TB_ASSERT(b.header_bytes.ptr > data);
    TB_ASSERT(b.header_bytes.ptr + b.header_bytes.len <= data + size);
    for (size_t i = 0; i < b.tx_count; i++) {
        TB_ASSERT(b.txs[i].ptr >= b.header_bytes.ptr + b.header_bytes.len);
        TB_ASSERT(b.txs[i].ptr + b.txs[i].len <= data + size);
        TB_ASSERT(wire_tx_decode(b.txs[i].ptr, b.txs[i].len, &tx, msg) == TB_OK);
    }
    tb_buf_init(&out, WIRE_BLOCK_BYTES_MAX);
    TB_ASSERT(wire_block_encode(&b.header, b.txs, b.tx_count, &out, msg) == TB_OK);
    check_same(&out, data, size);
    wire_block_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_header h;
    static struct wire_cert c;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    check_block(data, size);
    if (wire_header_decode(data, size, &h, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 20);
        TB_ASSERT(wire_header_encode(&h, &out, msg) == TB_OK);
        check_same(&out, data, size);
    }
    if (wire_cert_decode(data, size, &c, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 20);
        TB_ASSERT(wire_cert_encode(&c, &out, msg) == TB_OK);
        check_same(&out, data, size);
    }
    return 0;
}
