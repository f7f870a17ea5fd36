/*
 * libFuzzer target: blocks, headers and commit certificates. Whatever decodes must re-encode
 * to exactly the input; a decoded block's views must lie inside the input and each tx view
 * must itself decode.
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

static void check_block(const uint8_t *data, size_t size)
{
    struct wire_block b;
    static struct wire_tx tx;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    if (wire_block_decode(data, size, &b, msg) != TB_OK)
        return;
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
