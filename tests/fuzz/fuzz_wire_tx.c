/*
 * libFuzzer target: tx envelopes and the six bodies. Whatever decodes must re-encode to exactly
 * the input (one encoding per value); nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tb_assert.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(int kind, const uint8_t *data, size_t size)
{
    static struct wire_tx_body body;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    if (wire_tx_body_decode(kind, data, size, &body, msg) != TB_OK)
        return;
    tb_buf_init(&out, 1u << 20);
    TB_ASSERT(wire_tx_body_encode(&body, &out, msg) == TB_OK);
    TB_ASSERT(out.len == size);
    TB_ASSERT(memcmp(out.data, data, size) == 0);
    tb_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wire_tx tx;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    if (wire_tx_decode(data, size, &tx, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 20);
        TB_ASSERT(wire_tx_encode(&tx, &out, msg) == TB_OK);
        TB_ASSERT(out.len == size);
        TB_ASSERT(memcmp(out.data, data, size) == 0);
        tb_buf_release(&out);
        check_body(tx.kind, tx.body.ptr, tx.body.len);
    }
    /* The input as a body of every kind, the invalid 0 and 7 included. */
    for (int kind = 0; kind <= 7; kind++)
        check_body(kind, data, size);
    return 0;
}
