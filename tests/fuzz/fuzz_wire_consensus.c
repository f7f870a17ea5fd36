/*
 * libFuzzer target: votes and proposals. Whatever decodes must re-encode to exactly the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tb_assert.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_vote v;
    struct wire_proposal p;
    char msg[TB_ERRMSG_SIZE];
    struct tb_buf out;

    if (wire_vote_decode(data, size, &v, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 16);
        TB_ASSERT(wire_vote_encode(&v, &out, msg) == TB_OK);
        TB_ASSERT(out.len == size);
        TB_ASSERT(memcmp(out.data, data, size) == 0);
        tb_buf_release(&out);
    }
    if (wire_proposal_decode(data, size, &p, msg) == TB_OK) {
        tb_buf_init(&out, 1u << 16);
        TB_ASSERT(wire_proposal_encode(&p, &out, msg) == TB_OK);
        TB_ASSERT(out.len == size);
        TB_ASSERT(memcmp(out.data, data, size) == 0);
        tb_buf_release(&out);
    }
    return 0;
}
