/*
 * node/proof on real LMDB stores built by the real ledger, for both suites: a four-city
 * genesis, agencies registered by their cities' node keys, records issued and revoked over
 * many blocks, each block committed with a commit certificate signed by three of the four
 * validators. Bundles are built for many records at many heights, go through JSON and back,
 * and are verified offline: verdicts and facts as the ledger says; every byte of every binary
 * field flipped (and a sample of JSON bytes) is refused; a revocation after a bundle shows in a
 * fresh one, an old bundle fails a max age; another federation's genesis refuses the bundle;
 * swapped issuers, retired agencies, expired records, absent records and strict JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "cr_sign.h"
#include "genesis.h"
#include "ledger.h"
#include "proof.h"
#include "store.h"
#include "t_chain.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"
#include "wire.h"

#define H 32
#define MAP_BYTES (64u << 20)
#define ENVS_MAX 256
#define T0_S UINT64_C(1700000000)

static char errmsg[TB_ERRMSG_SIZE];

#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

static const char *const cities[4] = {"370100", "370200", "371500", "371600"};

struct env
{
    struct tb_buf buf;
    uint8_t id[H];
    uint64_t height; /* committed at, 0 = not yet */
};

struct fx
{
    enum cr_suite suite;
    struct cfg_genesis g;
    uint8_t chain[H];
    struct cr_key *node[4];
    struct cr_key *pf, *police, *spare;
    char *dir;
    struct store *st;
    struct ledger *l;
    struct proof_verifier *kv; /* a kept verifier for g */
    struct store_txn *txn;     /* a transaction a test holds open; teardown aborts it */
    uint64_t now_ms;
    uint64_t height;
    struct env envs[ENVS_MAX];
    size_t env_count;
    struct t_rng rng;
};

/* ------------------------------------------------------------ genesis, keys */

static struct cr_key *key_new(struct fx *f)
{
    struct cr_key *k = NULL;
    assert_int_equal(t_key_new(f->suite, &f->rng, &k), TB_OK);
    return k;
}

static void genesis_build(struct fx *f, const char *federation, struct cr_key *const *node,
                          struct cfg_genesis *g)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"edu.degree", CFG_SHARING_OPEN},
                                  {"pf.deposit", CFG_SHARING_CONSENT},
                                  {"pf.loan", CFG_SHARING_CLOSED}};
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        snprintf(m[i].city, sizeof(m[i].city), "%s", cities[i]);
        snprintf(m[i].name, sizeof(m[i].name), "city %s", cities[i]);
        m[i].node_key_len = cr_key_public(node[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    OK(cfg_genesis_build(f->suite, federation, T0_S, m, 4, t, 3, g, errmsg));
}

static int fx_setup(void **state)
{
    struct fx *f = tb_calloc(1, sizeof(*f));
    assert_non_null(f);
    f->suite = *(enum cr_suite *)*state;
    t_rng_seed(&f->rng, 7 + (uint64_t)f->suite);
    for (int i = 0; i < 4; i++)
        f->node[i] = key_new(f);
    f->pf = key_new(f);
    f->police = key_new(f);
    f->spare = key_new(f);
    genesis_build(f, "Shandong", f->node, &f->g);
    OK(cfg_genesis_chain_id(&f->g, f->chain));
    OK(proof_verifier_new(&f->g, &f->kv, errmsg));
    f->dir = tb_strdup(t_tmpdir("proof"));
    OK(store_open(&f->st, f->dir, MAP_BYTES, errmsg));
    OK(ledger_open(&f->l, f->st, &f->g, errmsg));
    f->now_ms = T0_S * 1000u;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    proof_verifier_free(f->kv);
    store_abort(f->txn);
    ledger_close(f->l);
    store_close(f->st);
    t_rmtree(f->dir);
    tb_free(f->dir);
    for (size_t i = 0; i < f->env_count; i++)
        tb_buf_release(&f->envs[i].buf);
    for (int i = 0; i < 4; i++)
        cr_key_free(f->node[i]);
    cr_key_free(f->pf);
    cr_key_free(f->police);
    cr_key_free(f->spare);
    cfg_genesis_release(&f->g);
    tb_free(f);
    return 0;
}

/* ------------------------------------------------------------------ txs */

static size_t env_make(struct fx *f, const struct wire_tx_body *body, struct cr_key *signer)
{
    assert_true(f->env_count < ENVS_MAX);
    struct env *e = &f->envs[f->env_count];
    OK(t_envelope(f->suite, f->chain, body, &signer, 1, &e->buf, e->id, errmsg));
    e->height = 0;
    return f->env_count++;
}

static size_t tx_register(struct fx *f, int city, const char *agency, struct cr_key *key,
                          const char *const *types, size_t type_count)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_REGISTER;
    b.u.reg.city = t_str(cities[city]);
    b.u.reg.agency = t_str(agency);
    b.u.reg.name = t_str("Provident Fund Centre");
    b.u.reg.public_key = t_bytes(pub, cr_key_public(key, pub));
    for (size_t i = 0; i < type_count; i++)
        b.u.reg.types[i] = t_str(types[i]);
    b.u.reg.type_count = type_count;
    b.u.reg.not_after = T0_S + 10u * 365u * 86400u;
    return env_make(f, &b, f->node[city]);
}

static size_t tx_retire(struct fx *f, int city, const char *agency, struct cr_key *key)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_RETIRE;
    b.u.retire.city = t_str(cities[city]);
    b.u.retire.agency = t_str(agency);
    b.u.retire.public_key = t_bytes(pub, cr_key_public(key, pub));
    b.u.retire.reason = t_str("key rotated");
    return env_make(f, &b, f->node[city]);
}

static size_t tx_issue(struct fx *f, struct cr_key *signer, const char *type, int city,
                       const char *agency, uint64_t expires_at, uint32_t nonce)
{
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_RECORD_ISSUE;
    b.u.issue.type = t_str(type);
    b.u.issue.city = t_str(cities[city]);
    b.u.issue.agency = t_str(agency);
    memset(b.u.issue.subject, 0x5a, H);
    b.u.issue.issued_at = f->now_ms / 1000u;
    b.u.issue.expires_at = expires_at;
    b.u.issue.claims[0].key = t_str("amount");
    b.u.issue.claims[0].is_uint = true;
    b.u.issue.claims[0].uint_value = 1000u + nonce;
    b.u.issue.claim_count = 1;
    memset(b.u.issue.doc_digest, 0xd0, H);
    memcpy(b.u.issue.nonce, &nonce, sizeof(nonce));
    return env_make(f, &b, signer);
}

static size_t tx_revoke(struct fx *f, struct cr_key *signer, const uint8_t record_id[H])
{
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_RECORD_REVOKE;
    memcpy(b.u.revoke.record_id, record_id, H);
    b.u.revoke.reason = t_str("issued in error");
    b.u.revoke.revoked_at = f->now_ms / 1000u;
    return env_make(f, &b, signer);
}

/* ------------------------------------------------------------------ blocks */

/* The node key of validator index i (the ledger's set order). */
static struct cr_key *validator_key(struct fx *f, size_t i)
{
    const struct cfg_member *m = ledger_validator(f->l, i, NULL);
    for (int j = 0; j < 4; j++) {
        uint8_t pub[CR_PUBKEY_MAX];
        size_t n = cr_key_public(f->node[j], pub);
        if (n == m->node_key_len && memcmp(pub, m->node_key, n) == 0)
            return f->node[j];
    }
    fail_msg("validator %zu has no key", i);
    return NULL;
}

/* A commit certificate for (height, hash) signed by validators 0, 1, 2 at round 0. */
static void cert_make(struct fx *f, uint64_t height, const uint8_t hash[H], struct tb_buf *out)
{
    struct wire_vote v = {.type = WIRE_VOTE_PRECOMMIT, .height = height, .has_block_hash = true};
    struct wire_cert c;
    struct tb_buf vote, in;
    uint8_t sigs[3][CR_SIG_MAX];
    memcpy(v.block_hash, hash, H);
    tb_buf_init(&vote, WIRE_SMALL_BYTES_MAX);
    tb_buf_init(&in, WIRE_SMALL_BYTES_MAX + 64);
    OK(wire_vote_encode(&v, &vote, errmsg));
    OK(wire_vote_sign_input(f->chain, vote.data, vote.len, &in));
    memset(&c, 0, sizeof(c));
    c.height = height;
    memcpy(c.block_hash, hash, H);
    for (uint32_t i = 0; i < 3; i++) {
        size_t n = 0;
        OK(cr_sign(validator_key(f, i), in.data, in.len, sigs[i], &n));
        c.sigs[i].validator_index = i;
        c.sigs[i].sig = t_bytes(sigs[i], n);
    }
    c.sig_count = 3;
    OK(wire_cert_encode(&c, out, errmsg));
    tb_buf_release(&vote);
    tb_buf_release(&in);
}

/* Builds, applies and commits (with a certificate) a block of these txs. */
static void commit(struct fx *f, const size_t *envs, size_t n)
{
    struct tb_bytes cand[64];
    struct ledger_verdict skipped[64], v;
    struct ledger_build_limits lim = {.txs_max = 1000, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct store_txn *txn = NULL;
    struct tb_buf blk, cert;
    size_t taken = 0, nskip = 0;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        cand[i] = t_bytes(f->envs[envs[i]].buf.data, f->envs[envs[i]].buf.len);
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    uint64_t t = f->now_ms + 5000u;
    OK(store_begin_write(f->st, &txn, errmsg));
    OK(ledger_build_block(f->l, txn, cand, n, t, (uint32_t)(f->height % 4), &lim, &blk, &taken,
                          skipped, &nskip, errmsg));
    store_abort(txn);
    if (nskip > 0)
        fail_msg("candidate %zu skipped: %s", skipped[0].index, skipped[0].message);
    assert_int_equal(taken, n);
    struct wire_block wb;
    uint8_t hash[H];
    OK(wire_block_decode(blk.data, blk.len, &wb, errmsg));
    wire_block_hash(f->suite, wb.header_bytes.ptr, wb.header_bytes.len, hash);
    wire_block_release(&wb);
    cert_make(f, f->height + 1, hash, &cert);
    OK(store_begin_write(f->st, &txn, errmsg));
    if (ledger_apply_block(f->l, txn, t_bytes(blk.data, blk.len), &v) != TB_OK)
        fail_msg("apply: %s", v.message);
    OK(store_cert_put(txn, f->height + 1, t_bytes(cert.data, cert.len), errmsg));
    OK(store_commit(txn, errmsg));
    f->now_ms = t;
    f->height++;
    for (size_t i = 0; i < n; i++)
        f->envs[envs[i]].height = f->height;
    tb_buf_release(&blk);
    tb_buf_release(&cert);
}

static void commit1(struct fx *f, size_t e)
{
    commit(f, &e, 1);
}

/* ---------------------------------------------------------------- bundles */

static struct proof_bundle *bundle_at(struct fx *f, const uint8_t id[H], uint64_t height)
{
    struct store_txn *txn = NULL;
    struct proof_bundle *b = proof_bundle_new();
    assert_non_null(b);
    OK(store_begin_read(f->st, &txn, errmsg));
    OK(proof_build(f->l, txn, id, height, b, errmsg));
    store_abort(txn);
    return b;
}

static void bundle_json(const struct proof_bundle *b, struct tb_buf *out)
{
    tb_buf_init(out, PROOF_JSON_MAX);
    OK(proof_bundle_to_json(b, 0, out, errmsg));
    /* The hand-written compact form is exactly jansson's compact dump of the same document. */
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)out->data, out->len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fail_msg("bundle JSON does not parse: %s", jerr.text);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    assert_int_equal(strlen(text), out->len);
    assert_memory_equal(text, out->data, out->len);
    free(text);
    json_decref(doc);
}

/* JSON text -> verdict, also checking that a bundle that decodes re-encodes to the same text. */
static bool verify_compare = true; /* verify_text: check with both entry points and compare */

/* JSON text -> verdict through proof_verify_json and (verify_compare) a kept verifier. */
static enum proof_verdict verify_text(const struct cfg_genesis *g, const uint8_t *text, size_t len,
                                      const struct proof_verify_opts *o, struct proof_result *r)
{
    OK(proof_verify_json(g, (const char *)text, len, o, r));
    assert_true(r->reason_count >= 1);
    assert_true(strlen(r->reasons[0]) > 0);
    if (!verify_compare)
        return r->verdict;
    /* A kept verifier (node keys parsed once) says exactly the same. */
    struct proof_verifier *v = NULL;
    struct proof_result *r2 = tb_calloc(1, sizeof(*r2));
    assert_non_null(r2);
    OK(proof_verifier_new(g, &v, errmsg));
    OK(proof_verifier_check_json(v, (const char *)text, len, o, r2));
    assert_int_equal(r2->verdict, r->verdict);
    assert_int_equal(r2->reason_count, r->reason_count);
    for (size_t i = 0; i < r->reason_count; i++)
        assert_string_equal(r2->reasons[i], r->reasons[i]);
    assert_memory_equal(&r2->facts, &r->facts, sizeof(r->facts));
    proof_verifier_free(v);
    tb_free(r2);
    return r->verdict;
}

static enum proof_verdict verify_b(const struct cfg_genesis *g, const struct proof_bundle *b,
                                   struct proof_result *r)
{
    struct tb_buf js;
    struct proof_verify_opts o = {0};
    bundle_json(b, &js);
    /* The JSON form round-trips exactly. */
    struct proof_bundle *back = proof_bundle_new();
    assert_non_null(back);
    OK(proof_bundle_from_json((const char *)js.data, js.len, back, errmsg));
    struct tb_buf js2;
    bundle_json(back, &js2);
    assert_int_equal(js.len, js2.len);
    assert_memory_equal(js.data, js2.data, js.len);
    proof_bundle_free(back);
    tb_buf_release(&js2);
    enum proof_verdict v = verify_text(g, js.data, js.len, &o, r);
    tb_buf_release(&js);
    return v;
}

#define EXPECT_VERDICT(got, want)                                              \
    do {                                                                       \
        enum proof_verdict g_ = (got);                                         \
        if (g_ != (want))                                                      \
            fail_msg("%s: got %s, want %s (%s)", #got, proof_verdict_name(g_), \
                     proof_verdict_name(want), r.reasons[0]);                  \
    } while (0)

/* ------------------------------------------------------------------ scenes */

static const char *const pf_types[] = {"pf.deposit", "pf.loan"};
static const char *const police_types[] = {"edu.degree"};

/* Height 1: two agencies; then `blocks` blocks of `per` records each. Returns first record. */
static size_t scene(struct fx *f, size_t blocks, size_t per)
{
    size_t regs[2] = {tx_register(f, 0, "pf", f->pf, pf_types, 2),
                      tx_register(f, 1, "edu", f->police, police_types, 1)};
    commit(f, regs, 2);
    size_t first = f->env_count;
    for (size_t b = 0; b < blocks; b++) {
        size_t ids[64];
        assert_true(per <= 64);
        for (size_t i = 0; i < per; i++) {
            uint32_t nonce = (uint32_t)(b * 100 + i);
            if (i % 3 == 2)
                ids[i] = tx_issue(f, f->police, "edu.degree", 1, "edu", 0, nonce);
            else
                ids[i] = tx_issue(f, f->pf, i % 2 ? "pf.loan" : "pf.deposit", 0, "pf", 0, nonce);
        }
        commit(f, ids, per);
    }
    return first;
}

/* Many records at many heights: verdicts and facts as the ledger says. */
static void test_bundles_many(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    size_t first = scene(f, 6, 5);
    size_t last = f->env_count;
    size_t rev = tx_revoke(f, f->pf, f->envs[first].id);
    commit1(f, rev);
    uint64_t rev_height = f->height;
    for (size_t e = first; e < last; e++) {
        /* Every height for half the records, the latest for the others. */
        for (uint64_t h = (e - first) % 2 ? f->height : 1; h <= f->height; h++) {
            struct proof_bundle *b = bundle_at(f, f->envs[e].id, h);
            enum proof_verdict want = PROOF_VALID;
            if (h < f->envs[e].height)
                want = PROOF_NOT_ON_LEDGER;
            else if (e == first && h >= rev_height)
                want = PROOF_REVOKED;
            EXPECT_VERDICT(verify_b(&f->g, b, &r), want);
            assert_true(r.facts.has_record && r.facts.has_header);
            assert_memory_equal(r.facts.record_id, f->envs[e].id, H);
            assert_int_equal(r.facts.height, h);
            if (want != PROOF_NOT_ON_LEDGER) {
                assert_int_equal(r.facts.issued_height, f->envs[e].height);
                assert_int_equal(r.facts.signers, 3);
                assert_true(r.facts.has_issuer);
            }
            proof_bundle_free(b);
        }
    }
    /* Height 0 means the latest. */
    struct proof_bundle *b = bundle_at(f, f->envs[last - 1].id, 0);
    assert_int_equal(b->header_view.height, f->height);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    proof_bundle_free(b);
}

/* The builder's refusals. */
static void test_build_refusals(void **state)
{
    struct fx *f = *state;
    struct store_txn *txn = NULL;
    struct proof_bundle *b = proof_bundle_new();
    uint8_t unknown[H];
    size_t first = scene(f, 1, 2);
    memset(unknown, 0x77, H);
    OK(store_begin_read(f->st, &txn, errmsg));
    assert_int_equal(proof_build(f->l, txn, unknown, 0, b, errmsg), TB_ENOTFOUND);
    assert_int_equal(proof_build(f->l, txn, f->envs[first].id, f->height + 1, b, errmsg),
                     TB_ENOTFOUND);
    OK(proof_build(f->l, txn, f->envs[first].id, f->height, b, errmsg));
    store_abort(txn);
    /* A pending record: acknowledged, not committed. */
    size_t p = tx_issue(f, f->pf, "pf.loan", 0, "pf", 0, 999);
    OK(store_begin_write(f->st, &txn, errmsg));
    OK(store_pending_put(txn, f->envs[p].id, t_bytes(f->envs[p].buf.data, f->envs[p].buf.len),
                         errmsg));
    OK(store_commit(txn, errmsg));
    OK(store_begin_read(f->st, &txn, errmsg));
    assert_int_equal(proof_build(f->l, txn, f->envs[p].id, 0, b, errmsg), TB_ESTATE);
    store_abort(txn);
    proof_bundle_free(b);
}

/* A store that lies is refused by the builder (TB_EIO), never turned into a bundle. */
static void test_build_corrupt(void **state)
{
    struct fx *f = *state;
    struct store_txn *txn = NULL;
    struct proof_bundle *b = proof_bundle_new();
    struct store_key k;
    size_t first = scene(f, 2, 2);
    const uint8_t *id = f->envs[first].id;
    uint8_t wrong[H];
    memset(wrong, 0xee, H);
    /* The stored block hash of the tip differs from its header's hash. */
    OK(store_begin_write(f->st, &txn, errmsg));
    f->txn = txn; /* a failing assertion leaves it to teardown */
    store_key_u64(&k, f->height);
    OK(store_put(txn, STORE_DB_BLOCK_HASHES, store_key_bytes(&k), t_bytes(wrong, H), 0, errmsg));
    assert_int_equal(proof_build(f->l, txn, id, 0, b, errmsg), TB_EIO);
    /* The ledger's entry says revoked where the status tree says valid. */
    uint8_t rk[8 + H];
    struct tb_buf v;
    memcpy(rk, "ledger/r", 8);
    memcpy(rk + 8, id, H);
    tb_buf_init(&v, 1024);
    OK(store_get(txn, STORE_DB_META, t_bytes(rk, sizeof(rk)), &v, errmsg));
    v.data[1] = 2;     /* state revoked */
    v.data[17] = 0x02; /* revoked_height 2: at height 2 it would be revoked */
    OK(store_put(txn, STORE_DB_META, t_bytes(rk, sizeof(rk)), t_bytes(v.data, v.len), 0, errmsg));
    assert_int_equal(proof_build(f->l, txn, id, 2, b, errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, "disagree"));
    tb_buf_release(&v);
    /* No certificate for a height. */
    store_key_u64(&k, 2);
    OK(store_del(txn, STORE_DB_CERTS, store_key_bytes(&k), errmsg));
    assert_int_equal(proof_build(f->l, txn, f->envs[first + 2].id, 2, b, errmsg), TB_ENOTFOUND);
    store_abort(txn);
    f->txn = NULL;
    /* Nothing was committed: the store is intact again. */
    proof_bundle_free(b);
    b = bundle_at(f, id, 0);
    struct proof_result r;
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    proof_bundle_free(b);
}

/* Flips bit `bit` of byte i of buf, verifies, flips it back; the verdict must not be valid. */
static void flip_check(struct fx *f, struct proof_bundle *b, uint8_t *p, size_t len,
                       const char *what, size_t *tried)
{
    struct proof_result r;
    struct proof_verify_opts o = {0};
    for (size_t i = 0; i < len; i++) {
        uint8_t mask = (uint8_t)(1u << (i % 8));
        p[i] ^= mask;
        if (i % 2) /* both entry points: a one-off check and the kept verifier */
            OK(proof_verifier_check(f->kv, b, &o, &r));
        else
            OK(proof_verify_bundle(&f->g, b, &o, &r));
        p[i] ^= mask;
        if (r.verdict == PROOF_VALID)
            fail_msg("%s byte %zu flipped (mask %02x): still valid", what, i, mask);
        assert_true(strlen(r.reasons[0]) > 0);
        (*tried)++;
    }
}

/* Flips inside a status proof's compact encoding (decoded again each time). */
static void flip_status(struct fx *f, struct proof_bundle *b, struct proof_status *st,
                        const char *what, size_t *tried)
{
    uint8_t enc[CR_SMT_PROOF_ENCODED_MAX];
    size_t len = 0;
    struct cr_smt_proof keep = st->proof;
    struct proof_result r;
    struct proof_verify_opts o = {0};
    OK(cr_smt_proof_encode(&st->proof, enc, sizeof(enc), &len));
    for (size_t i = 0; i < len; i++) {
        enc[i] ^= (uint8_t)(1u << (i % 8));
        if (cr_smt_proof_decode(enc, len, &st->proof) == TB_OK) {
            OK(proof_verify_bundle(&f->g, b, &o, &r));
            if (r.verdict == PROOF_VALID)
                fail_msg("%s proof byte %zu flipped: still valid", what, i);
        } /* else: the JSON decoder refuses it (malformed) */
        enc[i] ^= (uint8_t)(1u << (i % 8));
        st->proof = keep;
        (*tried)++;
    }
    flip_check(f, b, st->value, st->value_len, what, tried);
}

static void flip_path(struct fx *f, struct proof_bundle *b, struct proof_inclusion *inc,
                      const char *what, size_t *tried)
{
    for (uint32_t i = 0; i < inc->path.count; i++)
        flip_check(f, b, inc->path.hashes[i], H, what, tried);
    flip_check(f, b, (uint8_t *)&inc->leaf_index, sizeof(inc->leaf_index), what, tried);
    flip_check(f, b, (uint8_t *)&inc->tree_size, sizeof(inc->tree_size), what, tried);
}

/* Every byte of every binary field, then a sample of the JSON text. */
static void test_tamper(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    size_t first = scene(f, 3, 4);
    struct proof_bundle *b = bundle_at(f, f->envs[first + 5].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    size_t tried = 0;
    flip_check(f, b, b->record.data, b->record.len, "record", &tried);
    flip_check(f, b, b->header.data, b->header.len, "header", &tried);
    flip_check(f, b, b->certificate.data, b->certificate.len, "certificate", &tried);
    flip_check(f, b, b->agency_register.data, b->agency_register.len, "register", &tried);
    flip_check(f, b, b->chain_id, H, "chain_id", &tried);
    flip_check(f, b, b->record_id, H, "record_id", &tried);
    for (size_t i = 0; i < b->validator_count; i++)
        flip_check(f, b, b->validators[i].node_key, b->validators[i].node_key_len, "node_key",
                   &tried);
    flip_path(f, b, &b->record_inclusion, "record inclusion", &tried);
    flip_path(f, b, &b->agency_inclusion, "agency inclusion", &tried);
    flip_status(f, b, &b->record_status, "record status", &tried);
    flip_status(f, b, &b->agency_status, "agency status", &tried);
    flip_check(f, b, (uint8_t *)&b->header_view, sizeof(b->header_view), "header_view", &tried);
    assert_true(tried > 1000);
    /* The bundle is intact again. */
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    /* A sample of the JSON text: every 11th byte, two bit positions each (TB_PROOF_FULL=1:
     * every bit of every byte, a minute or more under ASan). */
    struct tb_buf js;
    struct proof_verify_opts o = {0};
    bool full = getenv("TB_PROOF_FULL") != NULL;
    bundle_json(b, &js);
    for (size_t i = 0; i < js.len; i += full ? 1 : 11) {
        for (unsigned bit = full ? 0 : i % 2; bit < 8; bit += full ? 1 : 5) {
            uint8_t keep = js.data[i];
            js.data[i] ^= (uint8_t)(1u << bit);
            enum proof_verdict v;
            if ((i / 11 + bit) % 2) { /* alternate the entry points (both compared elsewhere) */
                OK(proof_verifier_check_json(f->kv, (const char *)js.data, js.len, &o, &r));
                v = r.verdict;
            } else {
                verify_compare = false;
                v = verify_text(&f->g, js.data, js.len, &o, &r);
                verify_compare = true;
            }
            if (v == PROOF_VALID)
                fail_msg("JSON byte %zu ('%c') bit %u flipped: still valid", i, keep, bit);
            js.data[i] = keep;
        }
    }
    tb_buf_release(&js);
    proof_bundle_free(b);
}

/* Both entry points on one bundle: the same verdict, reasons and facts. */
static void check2(struct fx *f, const struct proof_bundle *b, const struct proof_verify_opts *o,
                   struct proof_result *r)
{
    struct proof_result *r2 = tb_calloc(1, sizeof(*r2));
    assert_non_null(r2);
    OK(proof_verify_bundle(&f->g, b, o, r));
    OK(proof_verifier_check(f->kv, b, o, r2));
    assert_int_equal(r2->verdict, r->verdict);
    assert_string_equal(r2->reasons[0], r->reasons[0]);
    assert_memory_equal(&r2->facts, &r->facts, sizeof(r->facts));
    tb_free(r2);
}

/* Precise verdicts for targeted tampering. */
static void test_tamper_verdicts(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    struct proof_verify_opts o = {0};
    size_t first = scene(f, 2, 3);
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    /* A precommit signature. */
    b->certificate.data[b->certificate.len - 1] ^= 1;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_BAD_SIGNATURE);
    b->certificate.data[b->certificate.len - 1] ^= 1;
    /* The record's signature (the envelope's last byte). */
    b->record.data[b->record.len - 1] ^= 1;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_BAD_SIGNATURE);
    b->record.data[b->record.len - 1] ^= 1;
    /* A sibling of the record's log path. */
    b->record_inclusion.path.hashes[0][3] ^= 1;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_NOT_ON_LEDGER);
    b->record_inclusion.path.hashes[0][3] ^= 1;
    /* The record's status value. */
    b->record_status.value[b->record_status.value_len - 1] ^= 1;
    check2(f, b, &o, &r);
    assert_true(r.verdict == PROOF_NOT_ON_LEDGER || r.verdict == PROOF_MALFORMED);
    b->record_status.value[b->record_status.value_len - 1] ^= 1;
    /* The agency's log path and status. */
    b->agency_inclusion.path.hashes[0][0] ^= 1;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_UNKNOWN_ISSUER);
    b->agency_inclusion.path.hashes[0][0] ^= 1;
    b->agency_status.proof.siblings[0][0] ^= 1;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_UNKNOWN_ISSUER);
    b->agency_status.proof.siblings[0][0] ^= 1;
    /* Too few precommits: drop one signature from the certificate. */
    struct wire_cert c;
    struct tb_buf cert;
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    OK(wire_cert_decode(b->certificate.data, b->certificate.len, &c, errmsg));
    c.sig_count = 2;
    OK(wire_cert_encode(&c, &cert, errmsg));
    struct tb_buf keep = b->certificate;
    b->certificate = cert;
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_BAD_SIGNATURE);
    assert_non_null(strstr(r.reasons[0], "2 of 4"));
    b->certificate = keep;
    tb_buf_release(&cert);
    check2(f, b, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_VALID);
    proof_bundle_free(b);
}

/* Another agency's registration in place of the signer's: unknown_issuer. */
static void test_swapped_issuer(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    size_t first = scene(f, 1, 3);
    /* first: pf (city 0), first + 2: edu (city 1). */
    struct proof_bundle *pf = bundle_at(f, f->envs[first].id, 0);
    struct proof_bundle *edu = bundle_at(f, f->envs[first + 2].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, pf, &r), PROOF_VALID);
    EXPECT_VERDICT(verify_b(&f->g, edu, &r), PROOF_VALID);
    struct tb_buf t = pf->agency_register;
    pf->agency_register = edu->agency_register;
    edu->agency_register = t;
    struct proof_inclusion ti = pf->agency_inclusion;
    pf->agency_inclusion = edu->agency_inclusion;
    edu->agency_inclusion = ti;
    struct proof_status ts = pf->agency_status;
    pf->agency_status = edu->agency_status;
    edu->agency_status = ts;
    EXPECT_VERDICT(verify_b(&f->g, pf, &r), PROOF_UNKNOWN_ISSUER);
    EXPECT_VERDICT(verify_b(&f->g, edu, &r), PROOF_UNKNOWN_ISSUER);
    proof_bundle_free(pf);
    proof_bundle_free(edu);
}

/* Revoked after a bundle: a fresh bundle says revoked; the old one goes stale with a max age. */
static void test_revoked_and_stale(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    size_t first = scene(f, 2, 2);
    const uint8_t *id = f->envs[first].id;
    struct proof_bundle *old = bundle_at(f, id, 0);
    uint64_t old_time = old->header_view.time_ms;
    EXPECT_VERDICT(verify_b(&f->g, old, &r), PROOF_VALID);
    commit1(f, tx_revoke(f, f->pf, id));
    struct proof_bundle *fresh = bundle_at(f, id, 0);
    EXPECT_VERDICT(verify_b(&f->g, fresh, &r), PROOF_REVOKED);
    assert_int_equal(r.facts.revoked_height, f->height);
    assert_int_equal(r.facts.state, 2);
    /* The old bundle still proves what was true at its height... */
    struct proof_verify_opts o = {
        .now_ms = old_time + 60000u, .has_max_age = true, .max_age_s = 60};
    check2(f, old, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_VALID); /* exactly 60 s old: still within */
    o.now_ms++;
    check2(f, old, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_STALE);
    /* ...and a now before the header (clock skew) is not stale. */
    o.now_ms = old_time - 5000u;
    check2(f, old, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_VALID);
    /* Revoked wins over stale. */
    o.now_ms = fresh->header_view.time_ms + 3600000u;
    check2(f, fresh, &o, &r);
    EXPECT_VERDICT(r.verdict, PROOF_REVOKED);
    proof_bundle_free(old);
    proof_bundle_free(fresh);
}

/* expires_at <= header time: expired; before: valid. */
static void test_expired(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    scene(f, 1, 1);
    uint64_t exp = f->now_ms / 1000u + 12u; /* two blocks of 5 s later it is past */
    size_t e = tx_issue(f, f->pf, "pf.loan", 0, "pf", exp, 4242);
    commit1(f, e);
    struct proof_bundle *b = bundle_at(f, f->envs[e].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    proof_bundle_free(b);
    commit1(f, tx_issue(f, f->pf, "pf.loan", 0, "pf", 0, 4243));
    commit1(f, tx_issue(f, f->pf, "pf.loan", 0, "pf", 0, 4244));
    b = bundle_at(f, f->envs[e].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_EXPIRED);
    assert_int_equal(r.facts.expires_at, exp);
    proof_bundle_free(b);
}

/* A key retired after issuing: its records stay valid; one registered in the record's block. */
static void test_retired_agency(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    size_t first = scene(f, 1, 1);
    commit1(f, tx_retire(f, 0, "pf", f->pf));
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    assert_int_equal(r.facts.agency_retired_height, f->height);
    proof_bundle_free(b);
    /* Registered and used in the same block (the registration comes first in the block). */
    size_t both[2] = {tx_register(f, 2, "ss", f->spare, pf_types, 2),
                      tx_issue(f, f->spare, "pf.loan", 2, "ss", 0, 777)};
    commit(f, both, 2);
    b = bundle_at(f, f->envs[both[1]].id, 0);
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    assert_int_equal(r.facts.agency_registered_height, r.facts.issued_height);
    proof_bundle_free(b);
}

/* Another federation (same keys, another name: another chain id) refuses the bundle. */
static void test_other_federation(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    struct cfg_genesis other;
    size_t first = scene(f, 1, 2);
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    genesis_build(f, "Jiangsu", f->node, &other);
    EXPECT_VERDICT(verify_b(&other, b, &r), PROOF_BAD_SIGNATURE);
    assert_non_null(strstr(r.reasons[0], "another federation"));
    cfg_genesis_release(&other);
    /* Same name, one member's key replaced: another chain id too. */
    struct cr_key *keys[4] = {f->node[0], f->node[1], f->spare, f->node[3]};
    genesis_build(f, "Shandong", keys, &other);
    EXPECT_VERDICT(verify_b(&other, b, &r), PROOF_BAD_SIGNATURE);
    cfg_genesis_release(&other);
    /* The right genesis. */
    EXPECT_VERDICT(verify_b(&f->g, b, &r), PROOF_VALID);
    proof_bundle_free(b);
}

/* Strict JSON: unknown, missing and duplicate keys, wrong types, bad encodings. */
static void test_json_strict(void **state)
{
    struct fx *f = *state;
    struct proof_result r;
    struct proof_verify_opts o = {0};
    size_t first = scene(f, 1, 1);
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    struct tb_buf js;
    bundle_json(b, &js);
    OK(tb_buf_append_byte(&js, '\0'));
    const char *text = (const char *)js.data;
    static const struct
    {
        const char *from, *to;
    } edits[] = {
        {"{\"version\":1,", "{\"version\":1,\"extra\":1,"},
        {"{\"version\":1,", "{\"version\":1,\"version\":1,"},
        {"{\"version\":1,", "{\"version\":2,"},
        {"{\"version\":1,", "{\"version\":1.0,"},
        {"{\"version\":1,", "{"},
        {"\"suite\":\"", "\"suite\":\"x"},
        {"\"record_inclusion\":{", "\"record_inclusion\":{\"x\":0,"},
        {"\"leaf_index\":", "\"leaf_index\":-"},
        {"\"validators\":[", "\"validators\":[{\"city\":\"370100\",\"node_key\":\"0\"},"},
        {"\"validators\":[{\"city\":\"", "\"validators\":[{\"city\":\";"}, /* fuzz find */
        {"\"value\":\"", "\"value\":\"AA"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        const char *at = strstr(text, edits[i].from);
        assert_non_null(at);
        struct tb_buf t;
        tb_buf_init(&t, PROOF_JSON_MAX);
        OK(tb_buf_append(&t, text, (size_t)(at - text)));
        OK(tb_buf_append(&t, edits[i].to, strlen(edits[i].to)));
        const char *rest = at + strlen(edits[i].from);
        OK(tb_buf_append(&t, rest, strlen(rest)));
        EXPECT_VERDICT(verify_text(&f->g, t.data, t.len, &o, &r), PROOF_MALFORMED);
        tb_buf_release(&t);
    }
    EXPECT_VERDICT(verify_text(&f->g, (const uint8_t *)"[]", 2, &o, &r), PROOF_MALFORMED);
    EXPECT_VERDICT(verify_text(&f->g, (const uint8_t *)"", 0, &o, &r), PROOF_MALFORMED);
    EXPECT_VERDICT(verify_text(&f->g, js.data, js.len - 1, &o, &r), PROOF_VALID);
    /* Values JSON cannot carry are refused, and the buffer keeps what it had. */
    struct tb_buf t;
    tb_buf_init(&t, PROOF_JSON_MAX);
    OK(tb_buf_append(&t, "x", 1));
    uint64_t keep_index = b->record_inclusion.leaf_index;
    b->record_inclusion.leaf_index = UINT64_C(1) << 62;
    assert_int_equal(proof_bundle_to_json(b, 0, &t, errmsg), TB_EINVAL);
    assert_int_equal(proof_bundle_to_json(b, PROOF_JSON_PRETTY, &t, errmsg), TB_EINVAL);
    assert_int_equal(t.len, 1);
    b->record_inclusion.leaf_index = keep_index;
    b->validators[1].city[0] = '"';
    assert_int_equal(proof_bundle_to_json(b, 0, &t, errmsg), TB_EINVAL);
    assert_int_equal(t.len, 1);
    tb_buf_release(&t);
    /* The result as JSON. */
    struct tb_buf rj;
    tb_buf_init(&rj, 64 * 1024);
    OK(proof_result_to_json(&r, &rj));
    OK(tb_buf_append_byte(&rj, '\0'));
    assert_non_null(strstr((const char *)rj.data, "\"verdict\":\"valid\""));
    assert_non_null(strstr((const char *)rj.data, "\"status\":\"valid\""));
    tb_buf_release(&rj);
    tb_buf_release(&js);
    proof_bundle_free(b);
}

static void test_verdict_names(void **state)
{
    (void)state;
    int seen[16] = {0};
    static const char *const names[] = {"valid",          "revoked",       "expired",
                                        "unknown_issuer", "bad_signature", "not_on_ledger",
                                        "stale",          "malformed"};
    for (int v = 0; v < PROOF_VERDICT_COUNT; v++) {
        assert_string_equal(proof_verdict_name((enum proof_verdict)v), names[v]);
        int s = proof_verdict_exit_status((enum proof_verdict)v);
        assert_true(s >= 0 && s < 16);
        assert_int_equal(seen[s], 0);
        seen[s] = 1;
        assert_true((s == 0) == (v == PROOF_VALID));
        assert_true(s != 1 && s != 2);
    }
}

/* ------------------------------------------------------- files and the CLI */

static const char *tongban_bin; /* `test_node_proof --cli TONGBAN`: the CLI tests run */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void write_genesis(const char *dir, const char *name, const struct cfg_genesis *g)
{
    struct tb_buf t;
    tb_buf_init(&t, CFG_GENESIS_FILE_MAX);
    OK(cfg_genesis_to_json(g, &t));
    write_file(dir, name, t.data, t.len);
    tb_buf_release(&t);
}

static void write_bundle(const char *dir, const char *name, const struct proof_bundle *b)
{
    struct tb_buf t;
    tb_buf_init(&t, PROOF_JSON_MAX);
    OK(proof_bundle_to_json(b, PROOF_JSON_PRETTY, &t, errmsg));
    write_file(dir, name, t.data, t.len);
    tb_buf_release(&t);
}

/* Runs `cd dir && tongban args`; returns the exit status, the first stdout line in line. */
static int run_cli(const char *dir, const char *args, char *line, size_t size)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s 2>/dev/null", dir, tongban_bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = '\0';
    if (fgets(line, (int)size, p) == NULL)
        line[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof(rest), p) != NULL) {
    }
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

#define EXPECT_CLI(dir, args, status, prefix)                                             \
    do {                                                                                  \
        char line_[1024];                                                                 \
        int st_ = run_cli((dir), (args), line_, sizeof(line_));                           \
        if (st_ != (status) || strncmp(line_, (prefix), strlen(prefix)) != 0)             \
            fail_msg("tongban %s: exit %d \"%s\", want %d \"%s...\"", (args), st_, line_, \
                     (status), (prefix));                                                 \
    } while (0)

/* `tongban verify --offline` on real files: every verdict's exit status, defaults, errors. */
static void test_cli_offline(void **state)
{
    struct fx *f = *state;
    struct cfg_genesis other;
    if (tongban_bin == NULL)
        skip();
    size_t first = scene(f, 2, 3);
    char *dir = tb_strdup(t_tmpdir("proofcli"));
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    struct proof_bundle *early = bundle_at(f, f->envs[first + 4].id, 2);
    write_genesis(dir, "genesis.json", &f->g);
    write_bundle(dir, "valid.json", b);
    write_bundle(dir, "absent.json", early);
    genesis_build(f, "Jiangsu", f->node, &other);
    write_genesis(dir, "other.json", &other);
    cfg_genesis_release(&other);
    b->record.data[b->record.len - 1] ^= 1; /* the record's signature */
    write_bundle(dir, "badsig.json", b);
    b->record.data[b->record.len - 1] ^= 1;
    write_file(dir, "junk.json", "{\"version\": 1}", 15);
    EXPECT_CLI(dir, "verify --offline valid.json --genesis genesis.json", 0, "valid: ");
    EXPECT_CLI(dir, "verify --offline valid.json", 0, "valid: "); /* ./genesis.json */
    EXPECT_CLI(dir, "verify --offline valid.json --genesis other.json", 6, "bad_signature: ");
    EXPECT_CLI(dir, "verify --offline badsig.json --genesis genesis.json", 6, "bad_signature: ");
    EXPECT_CLI(dir, "verify --offline absent.json --genesis genesis.json", 7, "not_on_ledger: ");
    EXPECT_CLI(dir, "verify --offline junk.json --genesis genesis.json", 9, "malformed: ");
    /* The headers are from 2023 (T0): any small max age makes them stale. */
    EXPECT_CLI(dir, "verify --offline valid.json --genesis genesis.json --max-age 60", 8,
               "stale: ");
    EXPECT_CLI(dir, "verify --offline valid.json --max-age 3153600000", 0, "valid: ");
    EXPECT_CLI(dir, "verify --offline valid.json --genesis genesis.json --json", 0,
               "{\"verdict\":\"valid\"");
    commit1(f, tx_revoke(f, f->pf, f->envs[first].id));
    proof_bundle_free(b);
    b = bundle_at(f, f->envs[first].id, 0);
    write_bundle(dir, "revoked.json", b);
    EXPECT_CLI(dir, "verify --offline revoked.json", 3, "revoked: ");
    EXPECT_CLI(dir, "verify --offline missing.json", 1, "");
    EXPECT_CLI(dir, "verify --offline valid.json --genesis missing.json", 1, "");
    EXPECT_CLI(dir, "verify --offline valid.json --max-age x", 2, "");
    EXPECT_CLI(dir, "verify valid.json", 2, "");
    EXPECT_CLI(dir, "verify --node http://127.0.0.1:1 abc", 2, "");
    EXPECT_CLI(dir, "verify --help", 0, "usage: tongban verify");
    proof_bundle_free(b);
    proof_bundle_free(early);
    t_rmtree(dir);
    tb_free(dir);
}

/*
 * With TB_PROOF_SAMPLE_DIR set, writes a genesis and real bundles (valid, revoked) there for
 * docs/proofs.md and the fuzz corpus; otherwise does nothing.
 */
static void test_sample(void **state)
{
    struct fx *f = *state;
    const char *dir = getenv("TB_PROOF_SAMPLE_DIR");
    char name[64];
    if (dir == NULL)
        skip();
    size_t first = scene(f, 2, 3);
    commit1(f, tx_revoke(f, f->pf, f->envs[first + 1].id));
    const char *suite = cr_suite_name(f->suite);
    snprintf(name, sizeof(name), "genesis-%s.json", suite);
    write_genesis(dir, name, &f->g);
    struct proof_bundle *b = bundle_at(f, f->envs[first].id, 0);
    snprintf(name, sizeof(name), "bundle-%s.json", suite);
    write_bundle(dir, name, b);
    proof_bundle_free(b);
    b = bundle_at(f, f->envs[first + 1].id, 0);
    snprintf(name, sizeof(name), "revoked-%s.json", suite);
    write_bundle(dir, name, b);
    proof_bundle_free(b);
}

static enum cr_suite suite_ed = CR_SUITE_ED25519_SHA256;
static enum cr_suite suite_sm = CR_SUITE_SM2_SM3;

#define BOTH(fn)                                                                    \
    cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &suite_ed), \
        cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &suite_sm)

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--cli") == 0) {
        const struct CMUnitTest cli[] = {BOTH(test_cli_offline)};
        static char abs_bin[4096];
        if (realpath(argv[2], abs_bin) == NULL) {
            fprintf(stderr, "%s: not found\n", argv[2]);
            return 1;
        }
        tongban_bin = abs_bin;
        return cmocka_run_group_tests(cli, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        BOTH(test_sample),
        cmocka_unit_test(test_verdict_names),
        BOTH(test_bundles_many),
        BOTH(test_build_refusals),
        BOTH(test_build_corrupt),
        BOTH(test_tamper),
        BOTH(test_tamper_verdicts),
        BOTH(test_swapped_issuer),
        BOTH(test_revoked_and_stale),
        BOTH(test_expired),
        BOTH(test_retired_agency),
        BOTH(test_other_federation),
        BOTH(test_json_strict),
    };
    if (getenv("TB_TEST_FILTER") != NULL) /* e.g. TB_TEST_FILTER=test_tamper */
        cmocka_set_test_filter(getenv("TB_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
