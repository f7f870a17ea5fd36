/*
 * libFuzzer target: status values, consent tokens (plain and signed) and genesis bodies. Whatever
 * decodes must re-encode to exactly the input; the genesis lists must be released without a leak.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_status s;
    static struct wire_consent c;
    struct wire_genesis g;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    if (wire_status_decode(data, size, &s, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 16);
        TB_ASSERT(wire_status_encode(&s, &out, msg) == TB_OK);
        check_same(&out, data, size);
    }
    if (wire_consent_decode(data, size, &c, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 16);
        TB_ASSERT(wire_consent_encode(&c, &out, msg) == TB_OK);
        check_same(&out, data, size);
    }
    struct wire_consent_signed cs;
    if (wire_consent_signed_decode(data, size, &cs, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 16);
        TB_ASSERT(wire_consent_signed_encode(&cs, &out, msg) == TB_OK);
        check_same(&out, data, size);
    }
    if (wire_genesis_body_decode(data, size, &g, msg) == TB_OK) {
        tb_buf_init(&out, WIRE_GENESIS_BYTES_MAX);
        TB_ASSERT(wire_genesis_body_encode(&g, &out, msg) == TB_OK);
        check_same(&out, data, size);
        wire_genesis_release(&g);
    }
    return 0;
}
