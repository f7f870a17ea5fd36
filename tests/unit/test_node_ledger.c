/*
 * node/ledger on real LMDB stores in t_tmpdir() directories, for both suites: a four-city
 * genesis with real keys; agencies registered, records issued and revoked, statuses and
 * indexes read back; the authority matrix, each refusal with its machine code; blocks with
 * a bad tx, a repeated tx, bad headers and wrong roots refused with nothing written;
 * determinism (two stores byte-identical in every database) and the roots recomputed
 * independently with the in-memory trees; built blocks accepted on a second store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cr_log.h"
#include "cr_sign.h"
#include "cr_smt.h"
#include "genesis.h"
#include "ledger.h"
#include "store.h"
#include "t_chain.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "wire.h"

#define H 32
#define MAP_BYTES (64u << 20)
#define ENVS_MAX 256
#define EXP_MAX 160
#define IDS_MAX 160
#define T0_S UINT64_C(1700000000)

static char errmsg[TB_ERRMSG_SIZE];

#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

enum { C370100 = 0, C370200 = 1, C371500 = 2, C371600 = 3 };
static const char *const cities[4] = {"370100", "370200", "371500", "371600"};

struct env
{
    struct tb_buf buf;
    uint8_t id[H];
};

struct expect
{
    uint8_t key[H];
    struct wire_status st;
};

struct fx
{
    enum cr_suite suite;
    struct cfg_genesis g;
    uint8_t chain[H];
    struct cr_key *node[4];
    struct cr_key *pf, *police, *ss, *brief, *stranger;
    char *dir[2];
    struct store *st[2];
    struct ledger *l[2];
    uint64_t now_ms; /* the latest block's time */
    uint64_t height;
    struct env envs[ENVS_MAX];
    size_t env_count;
    uint8_t ids[IDS_MAX][H]; /* committed tx ids, in order */
    size_t id_count;
    struct expect exp[EXP_MAX]; /* status-tree leaves, as the test expects them */
    size_t exp_count;
    struct t_rng rng;
    struct store_txn *rtxn; /* a read txn a test holds open; teardown ends it */
};

static struct tb_bytes env_bytes(const struct fx *f, size_t i)
{
    return t_bytes(f->envs[i].buf.data, f->envs[i].buf.len);
}

/* ------------------------------------------------------------ genesis, keys */

static struct cr_key *key_new(struct fx *f)
{
    struct cr_key *k = NULL;
    assert_int_equal(t_key_new(f->suite, &f->rng, &k), TB_OK);
    return k;
}

static void genesis_build(struct fx *f, const char *federation, struct cfg_genesis *g)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"edu.degree", CFG_SHARING_OPEN},
                                  {"hukou.residence", CFG_SHARING_CONSENT},
                                  {"pf.deposit", CFG_SHARING_CONSENT},
                                  {"pf.loan", CFG_SHARING_CLOSED},
                                  {"ss.pension", CFG_SHARING_CONSENT}};
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        snprintf(m[i].city, sizeof(m[i].city), "%s", cities[i]);
        snprintf(m[i].name, sizeof(m[i].name), "city %s", cities[i]);
        m[i].node_key_len = cr_key_public(f->node[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    OK(cfg_genesis_build(f->suite, federation, T0_S, m, 4, t, 5, g, errmsg));
}

static void fx_open_store(struct fx *f, int i)
{
    f->dir[i] = tb_strdup(t_tmpdir("ledger"));
    OK(store_open(&f->st[i], f->dir[i], MAP_BYTES, errmsg));
    OK(ledger_open(&f->l[i], f->st[i], &f->g, errmsg));
}

static int fx_setup(void **state)
{
    struct fx *f = tb_calloc(1, sizeof(*f));
    assert_non_null(f);
    f->suite = *(enum cr_suite *)*state;
    t_rng_seed(&f->rng, 42 + (uint64_t)f->suite);
    for (int i = 0; i < 4; i++)
        f->node[i] = key_new(f);
    f->pf = key_new(f);
    f->police = key_new(f);
    f->ss = key_new(f);
    f->brief = key_new(f);
    f->stranger = key_new(f);
    genesis_build(f, "Shandong", &f->g);
    OK(cfg_genesis_chain_id(&f->g, f->chain));
    fx_open_store(f, 0);
    fx_open_store(f, 1);
    f->now_ms = T0_S * 1000u;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_abort(f->rtxn);
    for (int i = 0; i < 2; i++) {
        ledger_close(f->l[i]);
        store_close(f->st[i]);
        t_rmtree(f->dir[i]);
        tb_free(f->dir[i]);
    }
    for (size_t i = 0; i < f->env_count; i++)
        tb_buf_release(&f->envs[i].buf);
    for (int i = 0; i < 4; i++)
        cr_key_free(f->node[i]);
    cr_key_free(f->pf);
    cr_key_free(f->police);
    cr_key_free(f->ss);
    cr_key_free(f->brief);
    cr_key_free(f->stranger);
    cfg_genesis_release(&f->g);
    tb_free(f);
    return 0;
}

/* ------------------------------------------------------------------ txs */

/* Encodes body, signs it with signers over chain, and keeps the envelope: its index. */
static size_t env_make(struct fx *f, const struct wire_tx_body *body, struct cr_key **signers,
                       size_t n, const uint8_t chain[H])
{
    struct wire_tx tx;
    assert_true(f->env_count < ENVS_MAX);
    struct env *e = &f->envs[f->env_count];
    OK(t_envelope(f->suite, chain, body, signers, n, &e->buf, NULL, errmsg));
    /* The id under this federation's chain, also for an envelope signed for another. */
    OK(wire_tx_decode(e->buf.data, e->buf.len, &tx, errmsg));
    wire_tx_id(f->suite, f->chain, tx.kind, tx.body.ptr, tx.body.len, e->id);
    return f->env_count++;
}

static size_t tx_register(struct fx *f, int signer, const char *city, const char *agency,
                          struct cr_key *key, const char *const *types, size_t type_count,
                          uint64_t not_after)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_REGISTER;
    b.u.reg.city = t_str(city);
    b.u.reg.agency = t_str(agency);
    b.u.reg.name = t_str("an agency");
    b.u.reg.public_key = t_bytes(pub, cr_key_public(key, pub));
    for (size_t i = 0; i < type_count; i++)
        b.u.reg.types[i] = t_str(types[i]);
    b.u.reg.type_count = type_count;
    b.u.reg.not_after = not_after;
    struct cr_key *s = f->node[signer];
    return env_make(f, &b, &s, 1, f->chain);
}

static size_t tx_retire(struct fx *f, int signer, const char *city, const char *agency,
                        struct cr_key *key)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_RETIRE;
    b.u.retire.city = t_str(city);
    b.u.retire.agency = t_str(agency);
    b.u.retire.public_key = t_bytes(pub, cr_key_public(key, pub));
    b.u.retire.reason = t_str("key rotated");
    struct cr_key *s = f->node[signer];
    return env_make(f, &b, &s, 1, f->chain);
}

static void issue_body(struct wire_tx_body *b, const char *type, const char *city,
                       const char *agency, const uint8_t subject[H], uint64_t issued_at,
                       uint64_t expires_at, uint8_t nonce)
{
    memset(b, 0, sizeof(*b));
    b->kind = WIRE_KIND_RECORD_ISSUE;
    b->u.issue.type = t_str(type);
    b->u.issue.city = t_str(city);
    b->u.issue.agency = t_str(agency);
    memcpy(b->u.issue.subject, subject, H);
    b->u.issue.issued_at = issued_at;
    b->u.issue.expires_at = expires_at;
    b->u.issue.claims[0].key = t_str("amount");
    b->u.issue.claims[0].is_uint = true;
    b->u.issue.claims[0].uint_value = 1000u + nonce;
    b->u.issue.claim_count = 1;
    memset(b->u.issue.doc_digest, 0xd0, H);
    memset(b->u.issue.nonce, nonce, WIRE_NONCE_BYTES);
}

static size_t tx_issue(struct fx *f, struct cr_key *signer, const char *type, const char *city,
                       const char *agency, const uint8_t subject[H], uint64_t expires_at,
                       uint8_t nonce)
{
    struct wire_tx_body b;
    issue_body(&b, type, city, agency, subject, f->now_ms / 1000u, expires_at, nonce);
    return env_make(f, &b, &signer, 1, f->chain);
}

static size_t tx_revoke(struct fx *f, struct cr_key *signer, const uint8_t record_id[H])
{
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_RECORD_REVOKE;
    memcpy(b.u.revoke.record_id, record_id, H);
    b.u.revoke.reason = t_str("issued in error");
    b.u.revoke.revoked_at = f->now_ms / 1000u;
    return env_make(f, &b, &signer, 1, f->chain);
}

static size_t tx_audit(struct fx *f, struct cr_key *signer, const uint8_t record_id[H],
                       const char *city, const char *agency)
{
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_ACCESS_AUDIT;
    memcpy(b.u.audit.record_id, record_id, H);
    b.u.audit.requester_city = t_str(city);
    b.u.audit.requester_agency = t_str(agency);
    b.u.audit.purpose = t_str("loan application");
    memset(b.u.audit.consent_id, 0xc0, H);
    b.u.audit.at = f->now_ms / 1000u;
    return env_make(f, &b, &signer, 1, f->chain);
}

/* ------------------------------------------------------------ expectations */

static void expect_set(struct fx *f, const uint8_t key[H], uint8_t state, uint64_t a, uint64_t b,
                       uint64_t t)
{
    size_t i = 0;
    while (i < f->exp_count && memcmp(f->exp[i].key, key, H) != 0)
        i++;
    if (i == f->exp_count) {
        assert_true(f->exp_count < EXP_MAX);
        f->exp_count++;
    }
    memcpy(f->exp[i].key, key, H);
    struct wire_status st = {.state = state, .height_a = a, .height_b = b, .time_s = t};
    f->exp[i].st = st;
}

static void agency_tree_key(struct fx *f, struct cr_key *k, uint8_t out[H])
{
    uint8_t pub[CR_PUBKEY_MAX];
    wire_agency_key_id(f->suite, pub, cr_key_public(k, pub), out);
}

/* ------------------------------------------------------------------ blocks */

static void tip(struct fx *f, int i, struct ledger_tip *out)
{
    struct store_txn *txn = NULL;
    OK(store_begin_read(f->st[i], &txn, errmsg));
    OK(ledger_tip_get(f->l[i], txn, out, errmsg));
    store_abort(txn);
}

/* Builds a block of exactly these txs on store 0 (all must be valid), or NULL on error. */
static void build(struct fx *f, int s, const size_t *envs, size_t n, uint64_t time_ms,
                  struct tb_buf *out)
{
    struct tb_bytes cand[64];
    struct ledger_verdict skipped[64];
    struct ledger_build_limits lim = {.txs_max = 1000, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct store_txn *txn = NULL;
    size_t taken = 0, nskip = 0;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        cand[i] = env_bytes(f, envs[i]);
    OK(store_begin_write(f->st[s], &txn, errmsg));
    OK(ledger_build_block(f->l[s], txn, cand, n, time_ms, (uint32_t)(f->height % 4), &lim, out,
                          &taken, skipped, &nskip, errmsg));
    store_abort(txn);
    if (nskip > 0)
        fail_msg("candidate %zu skipped: %s: %s", skipped[0].index,
                 ledger_code_name(skipped[0].code), skipped[0].message);
    assert_int_equal(taken, n);
}

static void apply_commit(struct fx *f, int s, struct tb_bytes block)
{
    struct store_txn *txn = NULL;
    struct ledger_verdict v;
    OK(store_begin_write(f->st[s], &txn, errmsg));
    int rv = ledger_apply_block(f->l[s], txn, block, &v);
    if (rv != TB_OK)
        fail_msg("apply on store %d: %s: %s", s, ledger_code_name(v.code), v.message);
    assert_int_equal(v.code, LEDGER_OK);
    OK(store_commit(txn, errmsg));
}

/* Commits a block of these txs on both stores (built on store 0). */
static void commit(struct fx *f, const size_t *envs, size_t n)
{
    struct tb_buf blk;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    uint64_t t = f->now_ms + 5000u;
    build(f, 0, envs, n, t, &blk);
    apply_commit(f, 0, t_bytes(blk.data, blk.len));
    apply_commit(f, 1, t_bytes(blk.data, blk.len));
    tb_buf_release(&blk);
    f->now_ms = t;
    f->height++;
    for (size_t i = 0; i < n; i++) {
        assert_true(f->id_count < IDS_MAX);
        memcpy(f->ids[f->id_count++], f->envs[envs[i]].id, H);
    }
}

/* Checks one envelope on store 0 at the next block's time; returns the verdict code. */
static enum ledger_code check(struct fx *f, size_t e, uint64_t time_ms)
{
    struct store_txn *txn = NULL;
    struct ledger_verdict v;
    OK(store_begin_read(f->st[0], &txn, errmsg));
    int rv = ledger_check_tx(f->l[0], txn, env_bytes(f, e), time_ms, &v);
    store_abort(txn);
    assert_true((rv == TB_OK) == (v.code == LEDGER_OK));
    assert_true(v.code != LEDGER_INTERNAL);
    if (v.code != LEDGER_OK)
        assert_true(strlen(v.message) > 0);
    return v.code;
}

#define EXPECT_CODE(f, e, code)                                                                  \
    do {                                                                                         \
        enum ledger_code got_ = check((f), (e), (f)->now_ms + 1000u);                            \
        if (got_ != (code))                                                                      \
            fail_msg("%s: got %s, want %s", #e, ledger_code_name(got_), ledger_code_name(code)); \
    } while (0)

/* ------------------------------------------------------- store comparisons */

struct digest_arg
{
    struct cr_hasher *h;
    uint8_t last[STORE_KEY_BYTES_MAX];
    size_t last_len;
    uint64_t n;
};

static int digest_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *err)
{
    struct digest_arg *d = arg;
    uint8_t lens[8] = {(uint8_t)(key.len >> 8),    (uint8_t)key.len,
                       (uint8_t)(value.len >> 24), (uint8_t)(value.len >> 16),
                       (uint8_t)(value.len >> 8),  (uint8_t)value.len};
    (void)err;
    cr_hasher_update(d->h, lens, sizeof(lens));
    cr_hasher_update(d->h, key.ptr, key.len);
    cr_hasher_update(d->h, value.ptr, value.len);
    memcpy(d->last, key.ptr, key.len);
    d->last_len = key.len;
    d->n++;
    return 0;
}

/* A digest of every key and value of db, scanned in pages. */
static void db_digest(struct store *s, enum store_db db, uint8_t out[H], uint64_t *entries)
{
    struct cr_hasher h;
    struct store_txn *txn = NULL;
    struct digest_arg d = {.h = &h};
    OK(cr_hasher_init(&h, CR_SUITE_ED25519_SHA256));
    cr_hasher_begin(&h);
    OK(store_begin_read(s, &txn, errmsg));
    for (;;) {
        uint32_t visited = 0;
        struct tb_bytes after = t_bytes(d.last, d.last_len);
        struct store_visitor vis = {.arg = &d, .visit = digest_visit};
        OK(store_scan(txn, db, t_bytes(NULL, 0), d.n > 0 ? &after : NULL, 100, &vis, &visited,
                      errmsg));
        if (visited < 100)
            break;
    }
    store_abort(txn);
    cr_hasher_final(&h, out);
    cr_hasher_release(&h);
    *entries = d.n;
}

static void stores_digest(struct store *s, uint8_t out[STORE_DB_COUNT][H],
                          uint64_t entries[STORE_DB_COUNT])
{
    for (int db = 0; db < STORE_DB_COUNT; db++)
        db_digest(s, (enum store_db)db, out[db], &entries[db]);
}

static void assert_stores_equal(struct fx *f)
{
    uint8_t a[STORE_DB_COUNT][H], b[STORE_DB_COUNT][H];
    uint64_t na[STORE_DB_COUNT], nb[STORE_DB_COUNT];
    stores_digest(f->st[0], a, na);
    stores_digest(f->st[1], b, nb);
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        if (na[db] != nb[db] || memcmp(a[db], b[db], H) != 0)
            fail_msg("database %s differs between the stores (%llu vs %llu entries)",
                     store_db_name((enum store_db)db), (unsigned long long)na[db],
                     (unsigned long long)nb[db]);
    }
}

/* The roots recomputed with the in-memory trees from what the test expects. */
static void assert_roots_independent(struct fx *f)
{
    struct cr_log_mem lm;
    struct cr_log log;
    struct cr_smt_mem sm;
    struct cr_smt smt;
    struct ledger_tip t;
    uint8_t log_root[H], state_root[H] = {0};
    cr_log_mem_init(&lm);
    cr_smt_mem_init(&sm);
    struct cr_log_store ls = cr_log_mem_store(&lm);
    struct cr_smt_store ss = cr_smt_mem_store(&sm);
    OK(cr_log_init(&log, f->suite, &ls, NULL, 0));
    OK(cr_smt_init(&smt, f->suite, &ss));
    for (size_t i = 0; i < f->id_count; i++) {
        uint8_t leaf[H];
        cr_log_leaf_hash(f->suite, f->ids[i], H, leaf);
        OK(cr_log_append(&log, NULL, leaf));
    }
    OK(cr_log_root(&log, NULL, log.size, log_root));
    for (size_t i = 0; i < f->exp_count; i++) {
        struct cr_smt_op op = {.remove = 0};
        struct tb_buf v;
        tb_buf_init(&v, 64);
        OK(wire_status_encode(&f->exp[i].st, &v, errmsg));
        memcpy(op.key, f->exp[i].key, H);
        cr_hash(f->suite, v.data, v.len, op.value_hash);
        tb_buf_release(&v);
        OK(cr_smt_update(&smt, NULL, state_root, &op, 1, state_root));
    }
    tip(f, 0, &t);
    assert_int_equal(t.state.height, f->height);
    assert_int_equal(t.state.log_size, f->id_count);
    assert_memory_equal(t.state.log_root, log_root, H);
    assert_memory_equal(t.state.state_root, state_root, H);
    cr_log_release(&log);
    cr_smt_release(&smt);
    cr_log_mem_release(&lm);
    cr_smt_mem_release(&sm);
}

/* ------------------------------------------------------------------ tests */

static int memcmp32(const void *a, const void *b)
{
    return memcmp(a, b, H);
}

static const char *const pf_types[] = {"pf.deposit", "pf.loan"};
static const char *const police_types[] = {"hukou.residence"};
static const char *const ss_types[] = {"ss.pension"};
static const char *const edu_types[] = {"edu.degree"};
#define LONG_S (T0_S + 10u * 365u * 86400u)

/* Block 1: the provident fund centre and social security of 371500, the police of 370100,
 * and a short-lived education key of 370200 (not_after one minute after genesis). */
static void setup_agencies(struct fx *f)
{
    size_t e[4];
    uint8_t k[H];
    e[0] = tx_register(f, C371500, "371500", "pf-centre", f->pf, pf_types, 2, LONG_S);
    e[1] = tx_register(f, C370100, "370100", "police", f->police, police_types, 1, LONG_S);
    e[2] = tx_register(f, C371500, "371500", "social-security", f->ss, ss_types, 1, LONG_S);
    e[3] = tx_register(f, C370200, "370200", "edu", f->brief, edu_types, 1, T0_S + 60u);
    commit(f, e, 4);
    agency_tree_key(f, f->pf, k);
    expect_set(f, k, 1, 1, 0, LONG_S);
    agency_tree_key(f, f->police, k);
    expect_set(f, k, 1, 1, 0, LONG_S);
    agency_tree_key(f, f->ss, k);
    expect_set(f, k, 1, 1, 0, LONG_S);
    agency_tree_key(f, f->brief, k);
    expect_set(f, k, 1, 1, 0, T0_S + 60u);
}

static enum ledger_record_status record_status(struct fx *f, int s, const uint8_t id[H],
                                               struct ledger_record *rec, struct tb_buf *env)
{
    struct store_txn *txn = NULL;
    OK(store_begin_read(f->st[s], &txn, errmsg));
    OK(ledger_record_get(f->l[s], txn, id, rec, env, errmsg));
    store_abort(txn);
    return rec->status;
}

static void fresh_store_state(void **state)
{
    struct fx *f = *state;
    struct ledger_tip t;
    uint8_t empty[H], zero[H] = {0}, vsh[H];
    tip(f, 0, &t);
    cr_log_empty_root(f->suite, empty);
    assert_int_equal(t.state.height, 0);
    assert_int_equal(t.state.log_size, 0);
    assert_memory_equal(t.state.log_root, empty, H);
    assert_memory_equal(t.state.state_root, zero, H);
    assert_int_equal(t.time_ms, T0_S * 1000u);
    /* The validator set hash is the tagged hash of the sorted node key ids. */
    uint8_t ids[4][H];
    struct tb_bytes parts[4];
    for (int i = 0; i < 4; i++)
        cr_key_id(f->node[i], ids[i]);
    qsort(ids, 4, H, memcmp32);
    for (int i = 0; i < 4; i++)
        parts[i] = t_bytes(ids[i], H);
    cr_hash_tagged(f->suite, "tongban/validators/v1", parts, 4, vsh);
    ledger_validator_set_hash(f->l[0], empty);
    assert_memory_equal(empty, vsh, H);
    assert_int_equal(ledger_validator_count(f->l[0]), 4);
    for (size_t i = 0; i < 4; i++) {
        uint8_t kid[H], want_kid[H];
        const struct cfg_member *m = ledger_validator(f->l[0], i, kid);
        assert_memory_equal(kid, ids[i], H);
        cr_hash(f->suite, m->node_key, m->node_key_len, want_kid);
        assert_memory_equal(kid, want_kid, H);
    }
    /* Reopening finds the same chain; another genesis is refused. */
    ledger_close(f->l[0]);
    OK(ledger_open(&f->l[0], f->st[0], &f->g, errmsg));
    struct cfg_genesis other;
    struct ledger *l2 = NULL;
    genesis_build(f, "Another federation", &other);
    assert_int_equal(ledger_open(&l2, f->st[0], &other, errmsg), TB_ECONFIG);
    assert_null(l2);
    assert_non_null(strstr(errmsg, "the store belongs to chain"));
    cfg_genesis_release(&other);
    /* A store whose chain id an init step wrote, without a state yet: height 0 is added. */
    ledger_close(f->l[1]);
    store_close(f->st[1]);
    t_rmtree(f->dir[1]);
    OK(store_open(&f->st[1], f->dir[1], MAP_BYTES, errmsg));
    struct store_txn *txn = NULL;
    OK(store_begin_write(f->st[1], &txn, errmsg));
    OK(store_chain_put(txn, f->chain, f->suite, errmsg));
    OK(store_commit(txn, errmsg));
    OK(ledger_open(&f->l[1], f->st[1], &f->g, errmsg));
    tip(f, 1, &t);
    assert_int_equal(t.state.height, 0);
    assert_int_equal(t.time_ms, T0_S * 1000u);
    assert_stores_equal(f);
}

static size_t count_prefix(struct store *s, enum store_db db, struct tb_bytes prefix)
{
    struct store_txn *txn = NULL;
    struct digest_arg d;
    struct cr_hasher h;
    uint32_t visited = 0;
    memset(&d, 0, sizeof(d));
    OK(cr_hasher_init(&h, CR_SUITE_ED25519_SHA256));
    cr_hasher_begin(&h);
    d.h = &h;
    struct store_visitor vis = {.arg = &d, .visit = digest_visit};
    OK(store_begin_read(s, &txn, errmsg));
    OK(store_scan(txn, db, prefix, NULL, 1000, &vis, &visited, errmsg));
    store_abort(txn);
    cr_hasher_release(&h);
    return visited;
}

/* Agencies, records issued and revoked, an audit, expiry, pending: statuses, indexes,
 * roots (recomputed independently) and two stores byte-identical. */
static void lifecycle(void **state)
{
    struct fx *f = *state;
    struct ledger_record rec;
    struct tb_buf env;
    uint8_t s1[H], s2[H], unknown[H];
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    t_rng_bytes(&f->rng, s1, H);
    t_rng_bytes(&f->rng, s2, H);
    t_rng_bytes(&f->rng, unknown, H);
    setup_agencies(f);
    /* Block 2: four records; one expires 20 s after its issue. */
    uint64_t exp2 = f->now_ms / 1000u + 20u;
    size_t r[4];
    r[0] = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    r[1] = tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s1, exp2, 2);
    r[2] = tx_issue(f, f->police, "hukou.residence", "370100", "police", s1, 0, 3);
    r[3] = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s2, 0, 4);
    commit(f, r, 4);
    expect_set(f, f->envs[r[0]].id, 1, 2, 0, 0);
    expect_set(f, f->envs[r[1]].id, 1, 2, 0, exp2);
    expect_set(f, f->envs[r[2]].id, 1, 2, 0, 0);
    expect_set(f, f->envs[r[3]].id, 1, 2, 0, 0);
    /* Block 3: revoke the first; the police log an access to the pf record of s2. */
    size_t b3[2] = {tx_revoke(f, f->pf, f->envs[r[0]].id),
                    tx_audit(f, f->police, f->envs[r[3]].id, "370100", "police")};
    commit(f, b3, 2);
    expect_set(f, f->envs[r[0]].id, 2, 2, 3, 0);
    assert_int_equal(record_status(f, 0, f->envs[r[0]].id, &rec, &env), LEDGER_RECORD_REVOKED);
    assert_int_equal(rec.issued_height, 2);
    assert_int_equal(rec.revoked_height, 3);
    assert_int_equal(rec.loc.height, 2);
    assert_int_equal(rec.loc.index, 0);
    assert_memory_equal(rec.body.u.issue.subject, s1, H);
    assert_int_equal(record_status(f, 1, f->envs[r[1]].id, &rec, &env), LEDGER_RECORD_VALID);
    assert_int_equal(rec.expires_at, exp2);
    assert_int_equal(rec.body.u.issue.expires_at, exp2);
    assert_int_equal(record_status(f, 0, f->envs[r[2]].id, &rec, &env), LEDGER_RECORD_VALID);
    assert_int_equal(rec.body.u.issue.type.len, strlen("hukou.residence"));
    assert_int_equal(record_status(f, 0, unknown, &rec, &env), LEDGER_RECORD_UNKNOWN);
    /* A pending issue (acknowledged on both nodes) is pending until its block commits. */
    size_t r5 = tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s2, 0, 5);
    for (int s = 0; s < 2; s++) {
        struct store_txn *txn = NULL;
        OK(store_begin_write(f->st[s], &txn, errmsg));
        OK(store_pending_put(txn, f->envs[r5].id, env_bytes(f, r5), errmsg));
        OK(store_commit(txn, errmsg));
    }
    assert_int_equal(record_status(f, 0, f->envs[r5].id, &rec, &env), LEDGER_RECORD_PENDING);
    commit(f, &r5, 1); /* block 4, 20 s after block 2 */
    expect_set(f, f->envs[r5].id, 1, 4, 0, 0);
    assert_int_equal(record_status(f, 0, f->envs[r5].id, &rec, &env), LEDGER_RECORD_VALID);
    assert_int_equal(count_prefix(f->st[0], STORE_DB_PENDING, t_bytes(NULL, 0)), 0);
    /* Expiry is judged against the latest block's time: 15 s after issue still valid,
     * block 5 at 20 s after block 2's time makes it expired. */
    assert_int_equal(record_status(f, 0, f->envs[r[1]].id, &rec, &env), LEDGER_RECORD_VALID);
    commit(f, NULL, 0);
    assert_int_equal(record_status(f, 0, f->envs[r[1]].id, &rec, &env), LEDGER_RECORD_EXPIRED);

    /* Indexes. */
    struct ledger_subject_entry se[8];
    size_t n = 0;
    OK(store_begin_read(f->st[0], &f->rtxn, errmsg));
    struct store_txn *txn = f->rtxn;
    OK(ledger_subject_records(f->l[0], txn, s1, NULL, NULL, se, 8, &n, errmsg));
    /* Store key order: the type's length byte first, then its bytes. */
    assert_int_equal(n, 3);
    assert_string_equal(se[0].type, "pf.loan");
    assert_string_equal(se[1].type, "pf.deposit");
    assert_memory_equal(se[1].record_id, f->envs[r[0]].id, H);
    assert_string_equal(se[2].type, "hukou.residence");
    OK(ledger_subject_records(f->l[0], txn, s1, "pf.loan", NULL, se, 8, &n, errmsg));
    assert_int_equal(n, 1);
    assert_memory_equal(se[0].record_id, f->envs[r[1]].id, H);
    /* Paging: one at a time gives the same order. */
    struct ledger_subject_entry page[1];
    OK(ledger_subject_records(f->l[0], txn, s2, NULL, NULL, page, 1, &n, errmsg));
    assert_int_equal(n, 1);
    assert_string_equal(page[0].type, "pf.loan");
    OK(ledger_subject_records(f->l[0], txn, s2, NULL, &page[0], page, 1, &n, errmsg));
    assert_int_equal(n, 1);
    assert_string_equal(page[0].type, "pf.deposit");
    OK(ledger_subject_records(f->l[0], txn, s2, NULL, &page[0], page, 1, &n, errmsg));
    assert_int_equal(n, 0);
    assert_int_equal(ledger_subject_records(f->l[0], txn, s2, NULL, NULL, page, 0, &n, errmsg),
                     TB_EINVAL);
    struct ledger_agency *ag = tb_calloc(8, sizeof(*ag));
    assert_non_null(ag);
    OK(ledger_agencies_list(f->l[0], txn, NULL, ag, 8, &n, errmsg));
    assert_int_equal(n, 4);
    uint8_t pub[CR_PUBKEY_MAX];
    size_t pub_len = cr_key_public(f->pf, pub);
    OK(ledger_agency_get(f->l[0], txn, t_bytes(pub, pub_len), &ag[0], errmsg));
    assert_string_equal(ag[0].city, "371500");
    assert_string_equal(ag[0].agency, "pf-centre");
    assert_int_equal(ag[0].state, 1);
    assert_int_equal(ag[0].registered_height, 1);
    assert_int_equal(ag[0].type_count, 2);
    assert_string_equal(ag[0].types[1], "pf.loan");
    pub_len = cr_key_public(f->stranger, pub);
    assert_int_equal(ledger_agency_get(f->l[0], txn, t_bytes(pub, pub_len), &ag[0], errmsg),
                     TB_ENOTFOUND);
    tb_free(ag);
    /* Block 2 holds the four issues, in order. */
    struct tb_buf blk;
    struct wire_block wb;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    OK(ledger_block_get(f->l[0], txn, 2, &blk, errmsg));
    OK(wire_block_decode(blk.data, blk.len, &wb, errmsg));
    assert_int_equal(wb.tx_count, 4);
    assert_int_equal(wb.header.height, 2);
    assert_memory_equal(wb.txs[3].ptr, f->envs[r[3]].buf.data, wb.txs[3].len);
    wire_block_release(&wb);
    tb_buf_release(&blk);
    store_abort(txn);
    f->rtxn = NULL;
    struct store_key ik;
    OK(store_key_issuer(&ik, "371500", "pf-centre", NULL));
    assert_int_equal(count_prefix(f->st[0], STORE_DB_BY_ISSUER, store_key_bytes(&ik)), 4);
    OK(store_key_issuer(&ik, "370100", NULL, NULL));
    assert_int_equal(count_prefix(f->st[0], STORE_DB_BY_ISSUER, store_key_bytes(&ik)), 1);
    assert_int_equal(count_prefix(f->st[0], STORE_DB_AUDIT, t_bytes(s2, H)), 1);
    assert_int_equal(count_prefix(f->st[0], STORE_DB_AUDIT, t_bytes(s1, H)), 0);
    assert_int_equal(count_prefix(f->st[0], STORE_DB_TXLOC, t_bytes(NULL, 0)), f->id_count);

    assert_roots_independent(f);
    assert_stores_equal(f);
    /* Everything survives closing and reopening the store. */
    ledger_close(f->l[0]);
    store_close(f->st[0]);
    OK(store_open(&f->st[0], f->dir[0], MAP_BYTES, errmsg));
    OK(ledger_open(&f->l[0], f->st[0], &f->g, errmsg));
    assert_int_equal(record_status(f, 0, f->envs[r[0]].id, &rec, &env), LEDGER_RECORD_REVOKED);
    assert_int_equal(record_status(f, 0, f->envs[r[1]].id, &rec, &env), LEDGER_RECORD_EXPIRED);
    assert_roots_independent(f);
    tb_buf_release(&env);
}

/* Flips one byte of an envelope's signature (the last byte of the envelope is in it). */
static size_t env_tampered(struct fx *f, size_t e)
{
    assert_true(f->env_count < ENVS_MAX);
    struct env *n = &f->envs[f->env_count];
    tb_buf_init(&n->buf, WIRE_TX_BYTES_MAX);
    OK(tb_buf_append(&n->buf, f->envs[e].buf.data, f->envs[e].buf.len));
    memcpy(n->id, f->envs[e].id, H);
    if (f->suite == CR_SUITE_ED25519_SHA256)
        n->buf.data[n->buf.len - 10] ^= 0x01; /* inside R || S: still canonical bytes */
    else
        n->buf.data[n->buf.len - 3] ^= 0x01; /* inside s of the DER signature */
    return f->env_count++;
}

/* Every refusal of the authority matrix, each with its code. */
static void authority_matrix(void **state)
{
    struct fx *f = *state;
    uint8_t s1[H], unknown[H];
    t_rng_bytes(&f->rng, s1, H);
    t_rng_bytes(&f->rng, unknown, H);
    setup_agencies(f);
    size_t rec = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    commit(f, &rec, 1);

    /* A node key registering for another city; a city outside the federation. */
    size_t e = tx_register(f, C370100, "371500", "fake", f->stranger, pf_types, 1, LONG_S);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_register(f, C370100, "999999", "fake", f->stranger, pf_types, 1, LONG_S);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    /* The same key twice; a type outside the genesis; not_after already passed. */
    e = tx_register(f, C371500, "371500", "pf-centre", f->pf, pf_types, 2, LONG_S + 1u);
    EXPECT_CODE(f, e, LEDGER_ALREADY_REGISTERED);
    static const char *const bad_types[] = {"car.licence"};
    e = tx_register(f, C371500, "371500", "dmv", f->stranger, bad_types, 1, LONG_S);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_TYPE);
    e = tx_register(f, C371500, "371500", "dmv", f->stranger, pf_types, 1, T0_S);
    EXPECT_CODE(f, e, LEDGER_EXPIRED_KEY);
    /* Issues: another city's code; a registered agency's unregistered type; a type not in
     * the genesis; a key nobody registered. */
    e = tx_issue(f, f->pf, "pf.deposit", "370100", "pf-centre", s1, 0, 2);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_issue(f, f->pf, "pf.deposit", "371500", "social-security", s1, 0, 2);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_issue(f, f->pf, "ss.pension", "371500", "pf-centre", s1, 0, 3);
    EXPECT_CODE(f, e, LEDGER_WRONG_TYPE);
    e = tx_issue(f, f->pf, "car.licence", "371500", "pf-centre", s1, 0, 4);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_TYPE);
    e = tx_issue(f, f->stranger, "pf.deposit", "371500", "pf-centre", s1, 0, 5);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_AGENCY);
    /* A node key is no agency key. */
    e = tx_issue(f, f->node[C371500], "pf.deposit", "371500", "pf-centre", s1, 0, 5);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_AGENCY);
    /* Times: issued far in the future, expiring before it was issued. */
    struct wire_tx_body b;
    struct cr_key *k = f->pf;
    issue_body(&b, "pf.deposit", "371500", "pf-centre", s1, f->now_ms / 1000u + 3600u, 0, 6);
    e = env_make(f, &b, &k, 1, f->chain);
    EXPECT_CODE(f, e, LEDGER_BAD_TIME);
    issue_body(&b, "pf.deposit", "371500", "pf-centre", s1, f->now_ms / 1000u, f->now_ms / 1000u,
               7);
    e = env_make(f, &b, &k, 1, f->chain);
    EXPECT_CODE(f, e, LEDGER_BAD_TIME);
    /* Two signatures where one is required. */
    struct cr_key *two[2] = {f->pf, f->ss};
    issue_body(&b, "pf.deposit", "371500", "pf-centre", s1, f->now_ms / 1000u, 0, 8);
    e = env_make(f, &b, two, 2, f->chain);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    /* A bad signature; a good signature over another federation's chain id. */
    size_t good = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 9);
    EXPECT_CODE(f, good, LEDGER_OK);
    EXPECT_CODE(f, env_tampered(f, good), LEDGER_BAD_SIGNATURE);
    uint8_t other_chain[H];
    struct cfg_genesis other; /* the same members in another federation */
    genesis_build(f, "Another federation", &other);
    OK(cfg_genesis_chain_id(&other, other_chain));
    cfg_genesis_release(&other);
    assert_memory_not_equal(other_chain, f->chain, H);
    issue_body(&b, "pf.deposit", "371500", "pf-centre", s1, f->now_ms / 1000u, 0, 9);
    e = env_make(f, &b, &k, 1, other_chain);
    EXPECT_CODE(f, e, LEDGER_BAD_SIGNATURE);
    /* Replay of a committed tx. */
    EXPECT_CODE(f, rec, LEDGER_REPLAY);
    /* Revokes: another agency of the same city; the police of another city; unknown. */
    e = tx_revoke(f, f->ss, f->envs[rec].id);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_revoke(f, f->police, f->envs[rec].id);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_revoke(f, f->pf, unknown);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_RECORD);
    e = tx_audit(f, f->police, unknown, "370100", "police");
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_RECORD);
    e = tx_audit(f, f->police, f->envs[rec].id, "371500", "pf-centre");
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    /* An audit of a `closed` record (pf.loan): its document never leaves, no access is logged. */
    size_t closed = tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s1, 0, 10);
    commit(f, &closed, 1);
    e = tx_audit(f, f->police, f->envs[closed].id, "370100", "police");
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_audit(f, f->police, f->envs[rec].id, "370100", "police"); /* consent class: fine */
    EXPECT_CODE(f, e, LEDGER_OK);
    /* Retire: another city's node key; an unknown key; the wrong agency name. */
    e = tx_retire(f, C370200, "370100", "police", f->police);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = tx_retire(f, C370100, "370100", "police", f->stranger);
    EXPECT_CODE(f, e, LEDGER_UNKNOWN_AGENCY);
    e = tx_retire(f, C371500, "371500", "pf-centre", f->ss);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    /* member.change is refused as unsupported; garbage as malformed. */
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_MEMBER_CHANGE;
    b.u.member.action = WIRE_MEMBER_ADD;
    b.u.member.city = t_str("371700");
    b.u.member.name = t_str("city 371700");
    uint8_t pub[CR_PUBKEY_MAX];
    b.u.member.node_key = t_bytes(pub, cr_key_public(f->stranger, pub));
    b.u.member.endpoint = t_str("https://n5.example:7480");
    b.u.member.effective_height = 10;
    struct cr_key *quorum[3] = {f->node[0], f->node[1], f->node[2]};
    e = env_make(f, &b, quorum, 3, f->chain);
    EXPECT_CODE(f, e, LEDGER_UNSUPPORTED);
    e = env_make(f, &b, quorum, 2, f->chain); /* two of four is not more than 2/3 */
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    struct cr_key *outsider[3] = {f->node[0], f->node[1], f->stranger};
    e = env_make(f, &b, outsider, 3, f->chain);
    EXPECT_CODE(f, e, LEDGER_NOT_AUTHORISED);
    e = env_make(f, &b, quorum, 3, other_chain);
    EXPECT_CODE(f, e, LEDGER_BAD_SIGNATURE);
    b.u.member.city = t_str("370200"); /* adding a city that is a member */
    e = env_make(f, &b, quorum, 3, f->chain);
    EXPECT_CODE(f, e, LEDGER_MALFORMED);
    assert_true(f->env_count < ENVS_MAX);
    tb_buf_init(&f->envs[f->env_count].buf, 64);
    OK(tb_buf_append(&f->envs[f->env_count].buf, "\x93\x01\xc4", 3));
    EXPECT_CODE(f, f->env_count++, LEDGER_MALFORMED);

    /* Block 3: revoke the record, retire the police key. Block 4 then sees both. */
    size_t revoke = tx_revoke(f, f->pf, f->envs[rec].id);
    size_t retire = tx_retire(f, C370100, "370100", "police", f->police);
    size_t b3[2] = {revoke, retire};
    commit(f, b3, 2);
    f->now_ms += 1000u; /* a new tx (later revoked_at), same record */
    e = tx_revoke(f, f->pf, f->envs[rec].id);
    f->now_ms -= 1000u;
    EXPECT_CODE(f, e, LEDGER_ALREADY_REVOKED);
    e = tx_issue(f, f->police, "hukou.residence", "370100", "police", s1, 0, 10);
    EXPECT_CODE(f, e, LEDGER_RETIRED_KEY);
    e = tx_retire(f, C370100, "370100", "police", f->police); /* the same body again */
    EXPECT_CODE(f, e, LEDGER_REPLAY);
    /* The short-lived key of 370200 is past its not_after 60 s after genesis. */
    e = tx_issue(f, f->brief, "edu.degree", "370200", "edu", s1, 0, 11);
    assert_int_equal(check(f, e, T0_S * 1000u + 30000u), LEDGER_OK);
    assert_int_equal(check(f, e, T0_S * 1000u + 60000u), LEDGER_EXPIRED_KEY);
    assert_int_equal(check(f, e, T0_S * 1000u + 61000u), LEDGER_EXPIRED_KEY);
}

enum hdr_field {
    HF_NONE,
    HF_HEIGHT_UP,
    HF_HEIGHT_SAME,
    HF_PREV,
    HF_TIME_SAME,
    HF_TIME_BACK,
    HF_CHAIN,
    HF_VSET,
    HF_PROPOSER,
    HF_LOG_ROOT,
    HF_STATE_ROOT,
    HF_LOG_SIZE,
};

static void header_mutate(struct fx *f, struct wire_header *h, enum hdr_field which)
{
    switch (which) {
    case HF_NONE:
        break;
    case HF_HEIGHT_UP:
        h->height++;
        break;
    case HF_HEIGHT_SAME:
        h->height--;
        break;
    case HF_PREV:
        h->prev_block_hash[5] ^= 1;
        break;
    case HF_TIME_SAME:
        h->time_ms = f->now_ms;
        break;
    case HF_TIME_BACK:
        h->time_ms = f->now_ms - 1;
        break;
    case HF_CHAIN:
        h->chain_id[31] ^= 1;
        break;
    case HF_VSET:
        h->validator_set_hash[0] ^= 1;
        break;
    case HF_PROPOSER:
        h->proposer_index = 4;
        break;
    case HF_LOG_ROOT:
        h->log_root[7] ^= 1;
        break;
    case HF_STATE_ROOT:
        h->state_root[9] ^= 1;
        break;
    case HF_LOG_SIZE:
        h->log_size++;
        break;
    }
}

/* Re-encodes `valid` with a mutated header and/or other txs; applying it must be refused
 * with `code` (and the tx index when want_index >= 0), and the aborted transaction must
 * leave every database of the store as it was. */
static void expect_refused(struct fx *f, struct tb_bytes valid, enum hdr_field which,
                           const size_t *envs, size_t n, enum ledger_code code, int want_index)
{
    uint8_t before[STORE_DB_COUNT][H], after[STORE_DB_COUNT][H];
    uint64_t nb[STORE_DB_COUNT], na[STORE_DB_COUNT];
    struct wire_block b;
    struct tb_buf out;
    struct tb_bytes txs[8];
    struct store_txn *txn = NULL;
    struct ledger_verdict v;
    stores_digest(f->st[0], before, nb);
    OK(wire_block_decode(valid.ptr, valid.len, &b, errmsg));
    header_mutate(f, &b.header, which);
    for (size_t i = 0; i < n; i++)
        txs[i] = env_bytes(f, envs[i]);
    tb_buf_init(&out, WIRE_BLOCK_BYTES_MAX);
    OK(wire_block_encode(&b.header, envs != NULL ? txs : b.txs, envs != NULL ? n : b.tx_count, &out,
                         errmsg));
    wire_block_release(&b);
    OK(store_begin_write(f->st[0], &txn, errmsg));
    int rv = ledger_apply_block(f->l[0], txn, t_bytes(out.data, out.len), &v);
    store_abort(txn);
    assert_int_not_equal(rv, TB_OK);
    if (v.code != code)
        fail_msg("field %d: got %s (%s), want %s", which, ledger_code_name(v.code), v.message,
                 ledger_code_name(code));
    assert_true(strlen(v.message) > 0);
    assert_int_equal(v.has_index, want_index >= 0);
    if (want_index >= 0)
        assert_int_equal(v.index, (size_t)want_index);
    tb_buf_release(&out);
    stores_digest(f->st[0], after, na);
    assert_memory_equal(before, after, sizeof(before));
    assert_memory_equal(nb, na, sizeof(nb));
}

static void block_refusals(void **state)
{
    struct fx *f = *state;
    uint8_t s1[H];
    t_rng_bytes(&f->rng, s1, H);
    setup_agencies(f);
    size_t a = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    size_t bad = tx_issue(f, f->pf, "hukou.residence", "371500", "pf-centre", s1, 0, 2);
    struct tb_buf valid;
    tb_buf_init(&valid, WIRE_BLOCK_BYTES_MAX);
    build(f, 0, &a, 1, f->now_ms + 5000u, &valid);
    struct tb_bytes vb = t_bytes(valid.data, valid.len);
    expect_refused(f, vb, HF_HEIGHT_UP, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_HEIGHT_SAME, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_PREV, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_TIME_SAME, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_TIME_BACK, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_CHAIN, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_VSET, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_PROPOSER, NULL, 0, LEDGER_BAD_HEADER, -1);
    expect_refused(f, vb, HF_LOG_ROOT, NULL, 0, LEDGER_BAD_ROOTS, -1);
    expect_refused(f, vb, HF_STATE_ROOT, NULL, 0, LEDGER_BAD_ROOTS, -1);
    expect_refused(f, vb, HF_LOG_SIZE, NULL, 0, LEDGER_BAD_ROOTS, -1);
    /* A tx repeated inside one block; an invalid tx after a valid one; no txs at all
     * under a header that promised one (roots). */
    size_t twice[2] = {a, a};
    expect_refused(f, vb, HF_NONE, twice, 2, LEDGER_REPLAY, 1);
    size_t with_bad[2] = {a, bad};
    expect_refused(f, vb, HF_NONE, with_bad, 2, LEDGER_WRONG_TYPE, 1);
    expect_refused(f, vb, HF_NONE, &a, 0, LEDGER_BAD_ROOTS, -1);
    /* Not a block at all. */
    {
        struct store_txn *txn = NULL;
        struct ledger_verdict v;
        OK(store_begin_write(f->st[0], &txn, errmsg));
        assert_int_equal(ledger_apply_block(f->l[0], txn, t_bytes(valid.data, valid.len - 1), &v),
                         TB_EMALFORMED);
        assert_int_equal(v.code, LEDGER_MALFORMED);
        store_abort(txn);
    }
    /* The untouched block still applies, on both stores. */
    apply_commit(f, 0, vb);
    apply_commit(f, 1, vb);
    f->now_ms += 5000u;
    f->height++;
    memcpy(f->ids[f->id_count++], f->envs[a].id, H);
    expect_set(f, f->envs[a].id, 1, 2, 0, 0);
    /* Issue and revoke in one block: the revoke sees the issue before it. */
    size_t c = tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s1, 0, 3);
    size_t pair[2] = {c, tx_revoke(f, f->pf, f->envs[c].id)};
    commit(f, pair, 2);
    expect_set(f, f->envs[c].id, 2, 3, 3, 0);
    struct ledger_record rec;
    struct tb_buf env;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    assert_int_equal(record_status(f, 1, f->envs[c].id, &rec, &env), LEDGER_RECORD_REVOKED);
    assert_int_equal(rec.issued_height, 3);
    assert_int_equal(rec.revoked_height, 3);
    tb_buf_release(&env);
    tb_buf_release(&valid);
    assert_roots_independent(f);
    assert_stores_equal(f);
}

static int build_with(struct fx *f, const size_t *envs, size_t n, size_t txs_max, size_t bytes_max,
                      uint64_t time_ms, uint32_t proposer, struct tb_buf *out, size_t *taken,
                      struct ledger_verdict *skipped, size_t *nskip)
{
    struct tb_bytes cand[16];
    struct ledger_build_limits lim = {.txs_max = txs_max, .block_bytes_max = bytes_max};
    struct store_txn *txn = NULL;
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        cand[i] = env_bytes(f, envs[i]);
    OK(store_begin_write(f->st[0], &txn, errmsg));
    int rv = ledger_build_block(f->l[0], txn, cand, n, time_ms, proposer, &lim, out, taken, skipped,
                                nskip, errmsg);
    store_abort(txn);
    return rv;
}

/* The proposer's side: invalid candidates skipped and reported, limits respected, and the
 * block accepted by apply on another store. */
static void build_block(void **state)
{
    struct fx *f = *state;
    uint8_t s1[H];
    struct tb_buf out;
    struct ledger_verdict sk[16];
    size_t taken = 0, nskip = 0;
    t_rng_bytes(&f->rng, s1, H);
    setup_agencies(f);
    tb_buf_init(&out, WIRE_BLOCK_BYTES_MAX);
    size_t v1 = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    size_t v2 = tx_issue(f, f->police, "hukou.residence", "370100", "police", s1, 0, 2);
    size_t v3 = tx_issue(f, f->ss, "ss.pension", "371500", "social-security", s1, 0, 3);
    size_t c[5] = {v1, env_tampered(f, v2), v2, v1, v3};
    uint64_t t = f->now_ms + 5000u;
    OK(build_with(f, c, 5, 2, WIRE_BLOCK_BYTES_MAX, t, 1, &out, &taken, sk, &nskip));
    assert_int_equal(taken, 2);
    assert_int_equal(nskip, 1);
    assert_int_equal(sk[0].index, 1);
    assert_int_equal(sk[0].code, LEDGER_BAD_SIGNATURE);
    OK(build_with(f, c, 5, 10, WIRE_BLOCK_BYTES_MAX, t, 1, &out, &taken, sk, &nskip));
    assert_int_equal(taken, 3);
    assert_int_equal(nskip, 2);
    assert_int_equal(sk[1].index, 3);
    assert_int_equal(sk[1].code, LEDGER_REPLAY);
    /* The byte limit stops before the candidate that would not fit. */
    size_t tight = LEDGER_BLOCK_OVERHEAD_BYTES + f->envs[v1].buf.len + f->envs[v2].buf.len - 1;
    size_t c2[3] = {c[1], v1, v2};
    OK(build_with(f, c2, 3, 10, tight, t, 1, &out, &taken, NULL, &nskip));
    assert_int_equal(taken, 1);
    assert_int_equal(nskip, 1); /* counted even without a report array */
    /* Bad arguments. */
    assert_int_equal(
        build_with(f, c, 5, 10, WIRE_BLOCK_BYTES_MAX, f->now_ms, 1, &out, &taken, sk, &nskip),
        TB_EINVAL);
    assert_int_equal(build_with(f, c, 5, 10, WIRE_BLOCK_BYTES_MAX, t, 4, &out, &taken, sk, &nskip),
                     TB_EINVAL);
    assert_int_equal(build_with(f, c, 5, 0, WIRE_BLOCK_BYTES_MAX, t, 0, &out, &taken, sk, &nskip),
                     TB_EINVAL);
    /* The full build, applied on the other store first, then on its own. */
    OK(build_with(f, c, 5, 10, WIRE_BLOCK_BYTES_MAX, t, 1, &out, &taken, sk, &nskip));
    struct wire_block b;
    OK(wire_block_decode(out.data, out.len, &b, errmsg));
    assert_int_equal(b.header.height, 2);
    assert_int_equal(b.header.proposer_index, 1);
    assert_int_equal(b.header.time_ms, t);
    assert_int_equal(b.header.log_size, 4 + 3);
    wire_block_release(&b);
    apply_commit(f, 1, t_bytes(out.data, out.len));
    apply_commit(f, 0, t_bytes(out.data, out.len));
    f->now_ms = t;
    f->height++;
    size_t in[3] = {v1, v2, v3};
    for (size_t i = 0; i < 3; i++) {
        memcpy(f->ids[f->id_count++], f->envs[in[i]].id, H);
        expect_set(f, f->envs[in[i]].id, 1, 2, 0, 0);
    }
    assert_roots_independent(f);
    assert_stores_equal(f);
    tb_buf_release(&out);
}

/* Applies vb with a fault armed (a store write or an allocation): either it succeeds (the
 * fault came too late) or it fails as an internal error and, aborted, leaves every database
 * as it was. Returns whether it succeeded (then it is committed). */
static bool apply_with_fault(struct fx *f, struct tb_bytes vb, long k, bool store_fault)
{
    uint8_t before[STORE_DB_COUNT][H], after[STORE_DB_COUNT][H];
    uint64_t nb[STORE_DB_COUNT], na[STORE_DB_COUNT];
    struct store_txn *txn = NULL;
    struct ledger_verdict v;
    stores_digest(f->st[0], before, nb);
    OK(store_begin_write(f->st[0], &txn, errmsg));
    if (store_fault) {
        struct store_fault sf = {.ops = STORE_FAULT_WRITE, .after = (uint64_t)k, .code = TB_EIO};
        store_fault_set(f->st[0], &sf);
    } else {
        tb_alloc_fault_set(k, 1);
    }
    int rv = ledger_apply_block(f->l[0], txn, vb, &v);
    tb_alloc_fault_reset();
    struct store_fault off = {.ops = 0};
    store_fault_set(f->st[0], &off);
    if (rv == TB_OK) {
        OK(store_commit(txn, errmsg));
        return true;
    }
    store_abort(txn);
    if (v.code != LEDGER_INTERNAL)
        fail_msg("fault %ld: got %s (%s)", k, ledger_code_name(v.code), v.message);
    assert_true(rv == (store_fault ? TB_EIO : TB_ENOMEM));
    stores_digest(f->st[0], after, na);
    assert_memory_equal(before, after, sizeof(before));
    assert_memory_equal(nb, na, sizeof(nb));
    return false;
}

/* Every store write and every allocation of a block's application failed in turn. */
static void block_faults(void **state)
{
    struct fx *f = *state;
    uint8_t s1[H];
    t_rng_bytes(&f->rng, s1, H);
    setup_agencies(f);
    size_t a = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    commit(f, &a, 1);
    size_t b[3] = {tx_issue(f, f->police, "hukou.residence", "370100", "police", s1, 0, 2),
                   tx_revoke(f, f->pf, f->envs[a].id),
                   tx_retire(f, C371500, "371500", "social-security", f->ss)};
    struct tb_buf valid;
    tb_buf_init(&valid, WIRE_BLOCK_BYTES_MAX);
    build(f, 0, b, 3, f->now_ms + 5000u, &valid);
    struct tb_bytes vb = t_bytes(valid.data, valid.len);
    long k = 0;
    for (; k < 200 && !apply_with_fault(f, vb, k, false); k++)
        ;
    assert_true(k > 0 && k < 200);
    /* The allocation loop ended with the block committed on store 0; the store-write loop
     * runs on store 1, still at the parent. */
    struct store *s0 = f->st[0];
    struct ledger *l0 = f->l[0];
    f->st[0] = f->st[1];
    f->l[0] = f->l[1];
    for (k = 0; k < 200 && !apply_with_fault(f, vb, k, true); k++)
        ;
    assert_true(k > 10 && k < 200); /* a block of three txs writes more than ten times */
    f->st[0] = s0;
    f->l[0] = l0;
    tb_buf_release(&valid);
    f->now_ms += 5000u;
    f->height++;
    for (int i = 0; i < 3; i++)
        memcpy(f->ids[f->id_count++], f->envs[b[i]].id, H);
    assert_stores_equal(f);
}

/* Mutates bytes in place: flips a bit, or truncates, or changes a length byte. */
static size_t mutate(struct t_rng *rng, uint8_t *p, size_t len)
{
    uint64_t how = t_rng_below(rng, 3);
    size_t at = (size_t)t_rng_below(rng, len);
    if (how == 0) {
        p[at] ^= (uint8_t)(1u << t_rng_below(rng, 8));
        return len;
    }
    if (how == 1)
        return at; /* truncated */
    p[at] = (uint8_t)t_rng_next(rng);
    return len;
}

/* Bad input: mutated envelopes are never accepted and never an internal error; mutated
 * blocks never crash, are refused with a reason or accepted, and a refusal writes nothing. */
static void mutations(void **state)
{
    struct fx *f = *state;
    uint8_t s1[H];
    t_rng_bytes(&f->rng, s1, H);
    setup_agencies(f);
    size_t a = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, 1);
    commit(f, &a, 1);
    size_t e[4] = {tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s1, 0, 2),
                   tx_revoke(f, f->pf, f->envs[a].id),
                   tx_audit(f, f->police, f->envs[a].id, "370100", "police"),
                   tx_retire(f, C371500, "371500", "social-security", f->ss)};
    uint8_t buf[1024];
    for (int round = 0; round < 400; round++) {
        const struct env *src = &f->envs[e[round % 4]];
        assert_true(src->buf.len <= sizeof(buf));
        memcpy(buf, src->buf.data, src->buf.len);
        size_t len = mutate(&f->rng, buf, src->buf.len);
        if (len == src->buf.len && memcmp(buf, src->buf.data, len) == 0)
            continue;
        struct store_txn *txn = NULL;
        struct ledger_verdict v;
        OK(store_begin_read(f->st[0], &txn, errmsg));
        int rv = ledger_check_tx(f->l[0], txn, t_bytes(buf, len), f->now_ms + 1000u, &v);
        store_abort(txn);
        if (rv == TB_OK || v.code == LEDGER_OK || v.code == LEDGER_INTERNAL)
            fail_msg("round %d: mutated envelope gave %s (%s)", round, ledger_code_name(v.code),
                     v.message);
    }
    struct tb_buf blk;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    build(f, 0, e, 4, f->now_ms + 5000u, &blk);
    uint8_t *copy = tb_malloc(blk.len);
    assert_non_null(copy);
    for (int round = 0; round < 60; round++) {
        memcpy(copy, blk.data, blk.len);
        size_t len = mutate(&f->rng, copy, blk.len);
        struct store_txn *txn = NULL;
        struct ledger_verdict v;
        struct ledger_tip before, after;
        tip(f, 0, &before);
        OK(store_begin_write(f->st[0], &txn, errmsg));
        int rv = ledger_apply_block(f->l[0], txn, t_bytes(copy, len), &v);
        store_abort(txn); /* accepted or not: the next round starts from the same parent */
        assert_true(v.code != LEDGER_INTERNAL);
        assert_true((rv == TB_OK) == (v.code == LEDGER_OK));
        tip(f, 0, &after);
        assert_memory_equal(&before, &after, sizeof(before));
    }
    tb_free(copy);
    tb_buf_release(&blk);
}

/* A naive model of what the random blocks do, predicted before the ledger sees them. */
struct model_rec
{
    uint8_t id[H];
    int agency;
    int state; /* 1 valid, 2 revoked */
    uint64_t issued, revoked;
};

struct model_agency
{
    struct cr_key *key;
    const char *city, *agency;
    const char *const *types;
    size_t type_count;
};

static size_t tx_revoke_n(struct fx *f, struct cr_key *signer, const uint8_t record_id[H],
                          unsigned n)
{
    char reason[32];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    snprintf(reason, sizeof(reason), "reason %u", n);
    b.kind = WIRE_KIND_RECORD_REVOKE;
    memcpy(b.u.revoke.record_id, record_id, H);
    b.u.revoke.reason = t_str(reason);
    b.u.revoke.revoked_at = f->now_ms / 1000u;
    return env_make(f, &b, &signer, 1, f->chain);
}

/* Property: random blocks of valid and invalid candidates; every verdict, every taken tx,
 * the roots and both stores agree with a naive model. */
static void random_blocks(void **state)
{
    struct fx *f = *state;
    struct model_rec *recs = tb_calloc(IDS_MAX, sizeof(*recs));
    size_t nrec = 0;
    unsigned counter = 100;
    uint8_t subjects[3][H];
    assert_non_null(recs);
    for (int i = 0; i < 3; i++)
        t_rng_bytes(&f->rng, subjects[i], H);
    setup_agencies(f);
    struct model_agency ag[3] = {{f->pf, "371500", "pf-centre", pf_types, 2},
                                 {f->police, "370100", "police", police_types, 1},
                                 {f->ss, "371500", "social-security", ss_types, 1}};
    struct tb_buf out;
    tb_buf_init(&out, WIRE_BLOCK_BYTES_MAX);
    for (int blk = 0; blk < 8; blk++) {
        size_t cand[12], ncand = 0, want_taken[12], ntaken = 0;
        enum ledger_code want[12];
        uint64_t h = f->height + 1;
        for (int c = 0; c < 12; c++) {
            uint64_t r = t_rng_below(&f->rng, 6);
            int a = (int)t_rng_below(&f->rng, 3);
            if (r == 3 || r == 4 || r == 5) {
                if ((r == 5 && ntaken == 0) || ((r == 3 || r == 4) && nrec == 0))
                    r = 0;
            }
            if (r <= 1) { /* a valid issue */
                const char *type = ag[a].types[t_rng_below(&f->rng, ag[a].type_count)];
                const uint8_t *subject = subjects[t_rng_below(&f->rng, 3)];
                cand[ncand] = tx_issue(f, ag[a].key, type, ag[a].city, ag[a].agency, subject, 0,
                                       (uint8_t)counter++);
                want[ncand] = LEDGER_OK;
                assert_true(nrec < IDS_MAX);
                memcpy(recs[nrec].id, f->envs[cand[ncand]].id, H);
                recs[nrec].agency = a;
                recs[nrec].state = 1;
                recs[nrec].issued = h;
                nrec++;
            } else if (r == 2) { /* a type of another agency */
                const char *type = ag[(a + 1) % 3].types[0];
                cand[ncand] = tx_issue(f, ag[a].key, type, ag[a].city, ag[a].agency, subjects[0], 0,
                                       (uint8_t)counter++);
                want[ncand] = LEDGER_WRONG_TYPE;
            } else if (r == 3 || r == 4) { /* a revoke by the issuer or by another agency */
                struct model_rec *m = &recs[t_rng_below(&f->rng, nrec)];
                int signer =
                    r == 3 ? m->agency : (m->agency + 1 + (int)t_rng_below(&f->rng, 2)) % 3;
                cand[ncand] = tx_revoke_n(f, ag[signer].key, m->id, counter++);
                if (m->state == 2)
                    want[ncand] = LEDGER_ALREADY_REVOKED;
                else if (r == 4)
                    want[ncand] = LEDGER_NOT_AUTHORISED;
                else {
                    want[ncand] = LEDGER_OK;
                    m->state = 2;
                    m->revoked = h;
                }
            } else { /* an earlier valid candidate again */
                cand[ncand] = want_taken[t_rng_below(&f->rng, ntaken)];
                want[ncand] = LEDGER_REPLAY;
            }
            if (want[ncand] == LEDGER_OK)
                want_taken[ntaken++] = cand[ncand];
            ncand++;
        }
        struct ledger_verdict sk[12];
        size_t taken = 0, nskip = 0;
        uint64_t t = f->now_ms + 5000u;
        OK(build_with(f, cand, ncand, 1000, WIRE_BLOCK_BYTES_MAX, t, (uint32_t)(h % 4), &out,
                      &taken, sk, &nskip));
        assert_int_equal(taken, ntaken);
        size_t k = 0;
        for (size_t c = 0; c < ncand; c++) {
            if (want[c] == LEDGER_OK)
                continue;
            assert_true(k < nskip);
            if (sk[k].index != c || sk[k].code != want[c])
                fail_msg("block %d candidate %zu: got #%zu %s (%s), want %s", blk, c, sk[k].index,
                         ledger_code_name(sk[k].code), sk[k].message, ledger_code_name(want[c]));
            k++;
        }
        assert_int_equal(k, nskip);
        apply_commit(f, 1, t_bytes(out.data, out.len));
        apply_commit(f, 0, t_bytes(out.data, out.len));
        f->now_ms = t;
        f->height = h;
        for (size_t i = 0; i < ntaken; i++)
            memcpy(f->ids[f->id_count++], f->envs[want_taken[i]].id, H);
    }
    for (size_t i = 0; i < nrec; i++)
        expect_set(f, recs[i].id, (uint8_t)recs[i].state, recs[i].issued, recs[i].revoked, 0);
    assert_roots_independent(f);
    assert_stores_equal(f);
    tb_buf_release(&out);
    tb_free(recs);
}

/* ------------------------------------------------------- write log replay */

/* A scratch transaction on store s recording into log; *parent gets the state it sees. */
static struct store_txn *scratch_recording(struct fx *f, int s, struct store_writelog *log,
                                           struct store_state *parent)
{
    struct store_txn *txn = NULL;
    OK(store_begin_write(f->st[s], &txn, errmsg));
    OK(store_state_get(txn, parent, errmsg));
    store_txn_record(txn, log);
    return txn;
}

static void replay_commit(struct fx *f, int s, const struct store_writelog *log)
{
    struct store_txn *txn = NULL;
    OK(store_begin_write(f->st[s], &txn, errmsg));
    OK(store_writelog_replay(txn, log, errmsg));
    OK(store_commit(txn, errmsg));
}

static void issue_four(struct fx *f, size_t e[4], uint8_t nonce)
{
    uint8_t s1[H], s2[H];
    t_rng_bytes(&f->rng, s1, H);
    t_rng_bytes(&f->rng, s2, H);
    e[0] = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", s1, 0, nonce);
    e[1] = tx_issue(f, f->pf, "pf.loan", "371500", "pf-centre", s2, 0, (uint8_t)(nonce + 1));
    e[2] =
        tx_issue(f, f->police, "hukou.residence", "370100", "police", s1, 0, (uint8_t)(nonce + 2));
    e[3] =
        tx_issue(f, f->ss, "ss.pension", "371500", "social-security", s2, 0, (uint8_t)(nonce + 3));
}

static void block_done(struct fx *f, const size_t *e, size_t n, uint64_t t)
{
    f->now_ms = t;
    f->height++;
    for (size_t i = 0; i < n; i++) {
        memcpy(f->ids[f->id_count++], f->envs[e[i]].id, H);
        expect_set(f, f->envs[e[i]].id, 1, f->height, 0, 0); /* record.issue txs only */
    }
}

/*
 * The node commits a block by replaying the writes its check made (node/driver.c): the
 * result must be byte for byte what applying the block gives, for the proposer's log
 * (build + ledger_store_built) and a validator's (ledger_apply_block), and a log must not
 * apply on another state.
 */
static void writelog_replay(void **state)
{
    struct fx *f = *state;
    struct store_writelog log;
    struct store_state parent;
    struct ledger_verdict v;
    struct tb_buf blk;
    size_t e[4];
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    store_writelog_init(&log);
    setup_agencies(f);

    /* Proposer: store 0 builds with recording, stores the built block, replays it. A pending
     * entry that arrives after the build (gossip) is deleted by the replay all the same. */
    issue_four(f, e, 10);
    uint64_t t = f->now_ms + 5000u;
    struct tb_bytes cand[4];
    for (int i = 0; i < 4; i++)
        cand[i] = env_bytes(f, e[i]);
    struct ledger_build_limits lim = {.txs_max = 100, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    size_t taken = 0, nskip = 0;
    struct ledger_verdict skipped[4];
    struct store_txn *txn = scratch_recording(f, 0, &log, &parent);
    OK(ledger_build_block(f->l[0], txn, cand, 4, t, (uint32_t)(f->height % 4), &lim, &blk, &taken,
                          skipped, &nskip, errmsg));
    assert_int_equal(taken, 4);
    OK(ledger_store_built(f->l[0], txn, t_bytes(blk.data, blk.len), errmsg));
    store_abort(txn);
    assert_int_equal(parent.height, f->height);
    assert_false(log.broken);
    assert_true(log.count > 4);
    OK(store_begin_write(f->st[0], &txn, errmsg));
    OK(store_pending_put(txn, f->envs[e[0]].id, cand[0], errmsg));
    OK(store_commit(txn, errmsg));
    replay_commit(f, 0, &log);
    apply_commit(f, 1, t_bytes(blk.data, blk.len));
    block_done(f, e, 4, t);
    assert_stores_equal(f);

    /* Validator: store 1 checks the next block with recording, aborts, replays. */
    issue_four(f, e, 20);
    t = f->now_ms + 5000u;
    build(f, 0, e, 4, t, &blk);
    tb_buf_reset(&log.buf);
    log.count = 0;
    txn = scratch_recording(f, 1, &log, &parent);
    int rv = ledger_apply_block(f->l[1], txn, t_bytes(blk.data, blk.len), &v);
    store_abort(txn);
    OK(rv);
    /* A replay that fails at any write (here the first, a middle one, the last) and whose
     * transaction is then committed anyway leaves store 1 as it was. */
    uint8_t before[STORE_DB_COUNT][H], after[STORE_DB_COUNT][H];
    uint64_t nbefore[STORE_DB_COUNT], nafter[STORE_DB_COUNT];
    stores_digest(f->st[1], before, nbefore);
    const uint64_t at[] = {0, log.count / 2, log.count - 1};
    for (size_t i = 0; i < 3; i++) {
        struct store_fault sf = {.ops = STORE_FAULT_WRITE, .after = at[i], .code = TB_EIO};
        store_fault_set(f->st[1], &sf);
        OK(store_begin_write(f->st[1], &txn, errmsg));
        assert_int_equal(store_writelog_replay(txn, &log, errmsg), TB_EIO);
        assert_int_equal(store_commit(txn, errmsg), TB_EIO);
        store_fault_set(f->st[1], NULL);
        stores_digest(f->st[1], after, nafter);
        assert_memory_equal(after, before, sizeof(before));
        assert_memory_equal(nafter, nbefore, sizeof(nbefore));
    }
    apply_commit(f, 0, t_bytes(blk.data, blk.len));
    replay_commit(f, 1, &log);
    block_done(f, e, 4, t);
    assert_stores_equal(f);
    assert_roots_independent(f);

    /* The same log once more, on the state after its block: the block is already there. */
    OK(store_begin_write(f->st[1], &txn, errmsg));
    assert_int_not_equal(store_writelog_replay(txn, &log, errmsg), TB_OK);
    store_abort(txn);
    /* A broken log (too big, or out of memory while recording) is never replayed. */
    log.broken = true;
    OK(store_begin_write(f->st[1], &txn, errmsg));
    assert_int_equal(store_writelog_replay(txn, &log, errmsg), TB_EINVAL);
    store_abort(txn);
    assert_stores_equal(f);
    store_writelog_release(&log);
    tb_buf_release(&blk);
}

/*
 * D15: a tx checked at admission is not verified again when a block with it is built or
 * applied, even after a full mempool's worth of other txs went through the cache (5,000
 * here; the old direct-mapped cache of 16,384 had forgotten about a quarter of them).
 */
static void sig_cache_remembers(void **state)
{
    struct fx *f = *state;
    size_t n = f->suite == CR_SUITE_ED25519_SHA256 ? 5000 : 200;
    size_t k = n < 1000 ? n : 1000;
    struct env *envs = tb_calloc(n, sizeof(*envs));
    struct tb_bytes *cand = tb_calloc(k, sizeof(*cand));
    struct ledger_verdict *skipped = tb_calloc(k, sizeof(*skipped));
    uint64_t v0, h0, v1, h1, v2, h2;
    assert_true(envs != NULL && cand != NULL && skipped != NULL);
    setup_agencies(f);
    for (size_t i = 0; i < n; i++) {
        uint8_t subject[H];
        t_rng_bytes(&f->rng, subject, H);
        size_t e = tx_issue(f, f->pf, "pf.deposit", "371500", "pf-centre", subject, 0, (uint8_t)i);
        envs[i] = f->envs[e]; /* the fixture holds 256: keep the buffer here instead */
        f->env_count--;
    }
    uint64_t t = f->now_ms + 5000u;
    ledger_sig_stats(f->l[0], &v0, &h0);
    struct store_txn *txn = NULL;
    OK(store_begin_read(f->st[0], &txn, errmsg));
    for (size_t i = 0; i < n; i++) {
        struct ledger_verdict v;
        OK(ledger_check_tx(f->l[0], txn, t_bytes(envs[i].buf.data, envs[i].buf.len), t, &v));
    }
    store_abort(txn);
    ledger_sig_stats(f->l[0], &v1, &h1);
    assert_int_equal(v1 - v0, n);
    /* The proposer's build of the first k, checked first and longest ago. */
    for (size_t i = 0; i < k; i++)
        cand[i] = t_bytes(envs[i].buf.data, envs[i].buf.len);
    struct ledger_build_limits lim = {.txs_max = k, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct tb_buf blk;
    size_t taken = 0, nskip = 0;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    OK(store_begin_write(f->st[0], &txn, errmsg));
    OK(ledger_build_block(f->l[0], txn, cand, k, t, (uint32_t)(f->height % 4), &lim, &blk, &taken,
                          skipped, &nskip, errmsg));
    store_abort(txn);
    assert_int_equal(taken, k);
    ledger_sig_stats(f->l[0], &v2, &h2);
    assert_int_equal(v2, v1); /* not one verified again */
    assert_int_equal(h2 - h1, k);
    tb_buf_release(&blk);
    for (size_t i = 0; i < n; i++)
        tb_buf_release(&envs[i].buf);
    tb_free(envs);
    tb_free(cand);
    tb_free(skipped);
}

static enum cr_suite suite_ed = CR_SUITE_ED25519_SHA256;
static enum cr_suite suite_sm = CR_SUITE_SM2_SM3;

#define BOTH(fn)                                                                    \
    cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &suite_ed), \
        cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &suite_sm)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(fresh_store_state),   BOTH(lifecycle),   BOTH(authority_matrix),
        BOTH(block_refusals),      BOTH(build_block), BOTH(random_blocks),
        BOTH(block_faults),        BOTH(mutations),   BOTH(writelog_replay),
        BOTH(sig_cache_remembers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
