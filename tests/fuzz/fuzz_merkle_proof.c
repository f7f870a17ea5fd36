/*
 * libFuzzer target for the Merkle proof checkers, which run on untrusted bundles:
 *  - bytes -> cr_smt_proof_decode -> (re-encode must give the same bytes) -> cr_smt_verify
 *    against a root and key taken from the input;
 *  - bytes -> an RFC 9162 path with sizes and indexes taken from the input -> both log
 *    verifiers.
 * The oracle is the absence of crashes and sanitizer reports, plus two facts: decode and
 * encode are inverse, and a forged proof never verifies against a root it was not made for
 * (here: a root that is all 0xA5 bytes and a tree we never built, so acceptance is a bug).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_log.h"
#include "cr_smt.h"
#include "tb_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_smt(const uint8_t *data, size_t size)
{
    static struct cr_smt_proof proof;
    static uint8_t again[2 + 1 + 64 + 32 + 32 * CR_SMT_DEPTH_MAX];
    uint8_t key[CR_SMT_KEY_BYTES], value[CR_HASH_BYTES], root[CR_HASH_BYTES];
    size_t n = 0;

    if (cr_smt_proof_decode(data, size, &proof) != TB_OK)
        return;
    TB_ASSERT(cr_smt_proof_encode(&proof, again, sizeof(again), &n) == TB_OK);
    TB_ASSERT(n == size);
    TB_ASSERT(memcmp(again, data, size) == 0);
    memset(key, 0x5a, sizeof(key));
    memset(value, 0x3c, sizeof(value));
    memset(root, 0xa5, sizeof(root));
    for (int suite = CR_SUITE_ED25519_SHA256; suite <= CR_SUITE_SM2_SM3; suite++) {
        TB_ASSERT(cr_smt_verify((enum cr_suite)suite, root, key, value, &proof) != TB_OK);
        TB_ASSERT(cr_smt_verify((enum cr_suite)suite, root, key, NULL, &proof) != TB_OK);
    }
}

static uint64_t take_u64(const uint8_t **data, size_t *size)
{
    uint64_t v = 0;
    size_t n = *size < 8 ? *size : 8;
    memcpy(&v, *data, n);
    *data += n;
    *size -= n;
    return v;
}

static void fuzz_log(const uint8_t *data, size_t size)
{
    static struct cr_log_path path;
    uint8_t leaf[CR_HASH_BYTES], root1[CR_HASH_BYTES], root2[CR_HASH_BYTES];
    uint64_t a = take_u64(&data, &size);
    uint64_t b = take_u64(&data, &size);
    uint64_t c = take_u64(&data, &size);

    /* Sizes near the bottom and near the top of the range both matter. */
    if (a & 1)
        b >>= (a >> 1) % 64;
    if (a & 2)
        c >>= (a >> 8) % 64;
    path.count = (uint32_t)(size / CR_HASH_BYTES);
    if (path.count > CR_LOG_PATH_MAX + 1)
        path.count = CR_LOG_PATH_MAX + 1; /* one past the limit must be refused, not read */
    memset(path.hashes, 0, sizeof(path.hashes));
    memcpy(path.hashes, data,
           (path.count > CR_LOG_PATH_MAX ? CR_LOG_PATH_MAX : path.count) * CR_HASH_BYTES);
    memset(leaf, 0x11, sizeof(leaf));
    memset(root1, 0xa5, sizeof(root1));
    memset(root2, 0x5a, sizeof(root2));
    TB_ASSERT(cr_log_verify_inclusion(CR_SUITE_ED25519_SHA256, leaf, b, c, &path, root1) != TB_OK);
    /* Equal sizes with an empty path and equal roots is the one valid forgery-free case. */
    if (!(b == c && path.count == 0))
        TB_ASSERT(cr_log_verify_consistency(CR_SUITE_SM2_SM3, b, root1, c, root2, &path) != TB_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_smt(data + 1, size - 1);
    else
        fuzz_log(data + 1, size - 1);
    return 0;
}
