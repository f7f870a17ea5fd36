/*
 * libFuzzer target: genesis JSON and member descriptors from arbitrary bytes.
 *
 * Oracle: no crash, no sanitizer report, an error message on every failure; an accepted
 * genesis has a chain id, and its written JSON parses back to the same chain id and
 * the same bytes (the writer is a fixed point).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "genesis.h"
#include "tb_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_round_trip(const struct cfg_genesis *g)
{
    struct cfg_genesis back;
    struct tb_buf a, b;
    uint8_t id1[CR_HASH_BYTES], id2[CR_HASH_BYTES];
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(cfg_genesis_chain_id(g, id1) == TB_OK);
    tb_buf_init(&a, 4u << 20);
    tb_buf_init(&b, 4u << 20);
    TB_ASSERT(cfg_genesis_to_json(g, &a) == TB_OK);
    TB_ASSERT(cfg_genesis_parse((const char *)a.data, a.len, "w.json", &back, err) == TB_OK);
    TB_ASSERT(cfg_genesis_chain_id(&back, id2) == TB_OK);
    TB_ASSERT(memcmp(id1, id2, sizeof(id1)) == 0);
    TB_ASSERT(cfg_genesis_to_json(&back, &b) == TB_OK);
    TB_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    cfg_genesis_release(&back);
    tb_buf_release(&a);
    tb_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_genesis g;
    struct cfg_member m;
    char err[TB_ERRMSG_SIZE] = "";
    int rc = cfg_genesis_parse((const char *)data, size, "fuzz.json", &g, err);
    if (rc == TB_OK) {
        fuzz_round_trip(&g);
        cfg_genesis_release(&g);
    } else {
        TB_ASSERT(err[0] != '\0');
        TB_ASSERT(g.members == NULL && g.types == NULL);
    }
    enum cr_suite suite = size > 0 && (data[0] & 1) ? CR_SUITE_SM2_SM3 : CR_SUITE_ED25519_SHA256;
    rc = cfg_member_parse((const char *)data, size, "fuzz.json", suite, &m, err);
    TB_ASSERT(rc != TB_OK || m.node_key_len > 0);
    return 0;
}
