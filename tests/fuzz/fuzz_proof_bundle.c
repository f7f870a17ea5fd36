/*
 * libFuzzer target: proof bundles (node/proof.h) from arbitrary bytes, verified offline.
 *
 * Input: either "GENESIS-JSON \0 BUNDLE-JSON" (when the part before the first zero byte is a
 * valid genesis, the bundle is checked against it: the committed corpus holds real bundles
 * with their genesis, so every check up to "valid" is reached), or the whole input as a
 * bundle checked against a fixed built-in genesis.
 *
 * Oracle: no crash, no sanitizer report; a verdict inside the enum with a reason; a kept
 * verifier (proof_verifier_check_json) gives the same verdict and reason; a bundle that
 * decodes re-encodes to JSON that decodes again to the same JSON (a fixed point) and gets
 * the same verdict.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cr_sign.h"
#include "genesis.h"
#include "proof.h"
#include "tb_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Four members with fixed Ed25519 keys (seeds 1..4). */
static void fuzz_fixed_genesis(struct cfg_genesis *g)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"pf.deposit", CFG_SHARING_CONSENT}};
    char err[TB_ERRMSG_SIZE] = "";
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        uint8_t seed[CR_ED25519_SEED_BYTES];
        struct cr_key *k = NULL;
        memset(seed, i + 1, sizeof(seed));
        TB_ASSERT(cr_key_from_ed25519_seed(seed, &k) == TB_OK);
        snprintf(m[i].city, sizeof(m[i].city), "37%02d00", i + 1);
        snprintf(m[i].name, sizeof(m[i].name), "city %d", i);
        m[i].node_key_len = cr_key_public(k, m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
        cr_key_free(k);
    }
    TB_ASSERT(cfg_genesis_build(CR_SUITE_ED25519_SHA256, "fuzz", 1700000000u, m, 4, t, 1, g, err) ==
              TB_OK);
}

static void fuzz_check(const struct cfg_genesis *g, const char *text, size_t len)
{
    struct proof_result r1, r2;
    struct proof_verify_opts o = {
        .now_ms = UINT64_C(1800000000000), .has_max_age = true, .max_age_s = UINT64_C(1) << 40};
    char err[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(proof_verify_json(g, text, len, &o, &r1) == TB_OK);
    TB_ASSERT(r1.verdict < PROOF_VERDICT_COUNT);
    TB_ASSERT(r1.reason_count >= 1 && r1.reasons[0][0] != '\0');
    struct proof_verifier *v = NULL;
    TB_ASSERT(proof_verifier_new(g, &v, err) == TB_OK);
    TB_ASSERT(proof_verifier_check_json(v, text, len, &o, &r2) == TB_OK);
    TB_ASSERT(r2.verdict == r1.verdict && strcmp(r2.reasons[0], r1.reasons[0]) == 0);
    proof_verifier_free(v);
    struct proof_bundle *b = proof_bundle_new(), *back = proof_bundle_new();
    TB_ASSERT(b != NULL && back != NULL);
    if (proof_bundle_from_json(text, len, b, err) == TB_OK) {
        struct tb_buf a, c;
        tb_buf_init(&a, PROOF_JSON_MAX);
        tb_buf_init(&c, PROOF_JSON_MAX);
        TB_ASSERT(proof_bundle_to_json(b, 0, &a, err) == TB_OK);
        TB_ASSERT(proof_bundle_from_json((const char *)a.data, a.len, back, err) == TB_OK);
        TB_ASSERT(proof_bundle_to_json(back, 0, &c, err) == TB_OK);
        TB_ASSERT(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
        TB_ASSERT(proof_verify_bundle(g, back, &o, &r2) == TB_OK);
        TB_ASSERT(r2.verdict == r1.verdict);
        tb_buf_release(&a);
        tb_buf_release(&c);
    } else {
        TB_ASSERT(err[0] != '\0');
        TB_ASSERT(r1.verdict == PROOF_MALFORMED);
    }
    proof_bundle_free(b);
    proof_bundle_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg_genesis fixed;
    static int have_fixed;
    struct cfg_genesis g;
    char err[TB_ERRMSG_SIZE] = "";
    if (!have_fixed) {
        fuzz_fixed_genesis(&fixed);
        have_fixed = 1;
    }
    const uint8_t *zero = memchr(data, 0, size);
    if (zero != NULL &&
        cfg_genesis_parse((const char *)data, (size_t)(zero - data), "g.json", &g, err) == TB_OK) {
        size_t off = (size_t)(zero - data) + 1;
        fuzz_check(&g, (const char *)data + off, size - off);
        cfg_genesis_release(&g);
        return 0;
    }
    fuzz_check(&fixed, (const char *)data, size);
    return 0;
}
