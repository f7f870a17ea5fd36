/*
 * The agency request gate (node/api_auth.h) against a real LMDB store and a real ledger in a
 * t_tmpdir(): agencies registered, retired and expired by real blocks (ledger_build_block /
 * ledger_apply_block), requests signed with cr_httpsig_sign and then tampered with. Every
 * refusal must come with the right status (401 / 403 / 503) and a reason naming what failed;
 * nothing is stubbed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_auth.h"
#include "config.h"
#include "cr_httpsig.h"
#include "cr_sign.h"
#include "genesis.h"
#include "ledger.h"
#include "store.h"
#include "t_chain.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "wire.h"

#define H 32
#define MAP_BYTES (32u << 20)
#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

static char errmsg[TB_ERRMSG_SIZE];
static const char *const cities[4] = {"370100", "370200", "371500", "371600"};

struct fx
{
    enum cr_suite suite;
    struct cfg_genesis genesis;
    uint8_t chain[H];
    struct cr_key *node_key[4];
    struct cr_key *a1, *a2, *old, *brief, *late, *stranger; /* agency keys */
    char *root;
    struct store *store;
    struct ledger *ledger;
    struct api_auth *auth;
    uint64_t created_s; /* genesis */
    uint64_t block_ms;  /* latest block time */
};

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static struct cr_key *key_new(enum cr_suite suite)
{
    struct cr_key *k = NULL;
    OK(t_key_new(suite, NULL, &k));
    return k;
}

/* A signed envelope of body (kind) into out. */
static void env_make(struct fx *f, const struct wire_tx_body *body, struct cr_key *signer,
                     struct tb_buf *out)
{
    OK(t_envelope(f->suite, f->chain, body, &signer, 1, out, NULL, errmsg));
}

static void env_register(struct fx *f, int city, const char *agency, struct cr_key *key,
                         uint64_t not_after, struct tb_buf *out)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_REGISTER;
    b.u.reg.city = t_str(cities[city]);
    b.u.reg.agency = t_str(agency);
    b.u.reg.name = t_str("公积金中心");
    b.u.reg.public_key.ptr = pub;
    b.u.reg.public_key.len = cr_key_public(key, pub);
    b.u.reg.types[0] = t_str("pf.deposit");
    b.u.reg.types[1] = t_str("pf.loan");
    b.u.reg.type_count = 2;
    b.u.reg.not_after = not_after;
    env_make(f, &b, f->node_key[city], out);
}

static void env_retire(struct fx *f, int city, const char *agency, struct cr_key *key,
                       struct tb_buf *out)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_RETIRE;
    b.u.retire.city = t_str(cities[city]);
    b.u.retire.agency = t_str(agency);
    b.u.retire.public_key.ptr = pub;
    b.u.retire.public_key.len = cr_key_public(key, pub);
    b.u.retire.reason = t_str("key rotated");
    env_make(f, &b, f->node_key[city], out);
}

/* Builds and applies a block of envs at time_ms (seconds after the latest). */
static void commit(struct fx *f, struct tb_buf *envs, size_t n, uint64_t time_ms)
{
    struct ledger_verdict skipped[8], v;
    struct ledger_build_limits lim = {.txs_max = 100, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct tb_bytes cand[8];
    struct store_txn *txn = NULL;
    struct tb_buf blk;
    size_t taken = 0, nskip = 0;
    assert_true(n <= 8 && time_ms > f->block_ms);
    for (size_t i = 0; i < n; i++) {
        cand[i].ptr = envs[i].data;
        cand[i].len = envs[i].len;
    }
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    OK(store_begin_write(f->store, &txn, errmsg));
    OK(ledger_build_block(f->ledger, txn, cand, n, time_ms, 0, &lim, &blk, &taken, skipped, &nskip,
                          errmsg));
    store_abort(txn);
    if (nskip > 0)
        fail_msg("skipped: %s: %s", ledger_code_name(skipped[0].code), skipped[0].message);
    assert_int_equal(taken, n);
    OK(store_begin_write(f->store, &txn, errmsg));
    struct tb_bytes bb = {.ptr = blk.data, .len = blk.len};
    if (ledger_apply_block(f->ledger, txn, bb, &v) != TB_OK)
        fail_msg("apply: %s", v.message);
    OK(store_commit(txn, errmsg));
    tb_buf_release(&blk);
    for (size_t i = 0; i < n; i++)
        tb_buf_release(&envs[i]);
    f->block_ms = time_ms;
}

static void fx_genesis(struct fx *f)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"pf.deposit", CFG_SHARING_CONSENT},
                                  {"pf.loan", CFG_SHARING_CLOSED}};
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        snprintf(m[i].city, sizeof(m[i].city), "%s", cities[i]);
        snprintf(m[i].name, sizeof(m[i].name), "city %s", cities[i]);
        m[i].node_key_len = cr_key_public(f->node_key[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    f->created_s = (uint64_t)now_s() - 3600u;
    OK(cfg_genesis_build(f->suite, "Shandong", f->created_s, m, 4, t, 2, &f->genesis, errmsg));
    OK(cfg_genesis_chain_id(&f->genesis, f->chain));
    f->block_ms = f->created_s * 1000u;
}

/*
 * Ledger state: a1 and a2 of 370100 (active), `old` of 370100 retired, `brief` of 370200
 * expired at the latest block time, `late` of 371500 expired by the local clock but not at
 * the latest block time, `stranger` never registered.
 */
static int fx_setup(void **state)
{
    struct fx *f = tb_calloc(1, sizeof(*f));
    struct tb_buf e[4];
    assert_non_null(f);
    f->suite = *(enum cr_suite *)*state;
    for (int i = 0; i < 4; i++)
        f->node_key[i] = key_new(f->suite);
    f->a1 = key_new(f->suite);
    f->a2 = key_new(f->suite);
    f->old = key_new(f->suite);
    f->brief = key_new(f->suite);
    f->late = key_new(f->suite);
    f->stranger = key_new(f->suite);
    fx_genesis(f);
    f->root = tb_strdup(t_tmpdir("apiauth"));
    OK(store_open(&f->store, f->root, MAP_BYTES, errmsg));
    OK(ledger_open(&f->ledger, f->store, &f->genesis, errmsg));
    uint64_t year = f->created_s + 86400u * 365u * 2u;
    env_register(f, 0, "hpf", f->a1, year, &e[0]);
    env_register(f, 0, "psb", f->a2, year, &e[1]);
    env_register(f, 0, "old", f->old, year, &e[2]);
    env_register(f, 1, "brief", f->brief, f->created_s + 100u, &e[3]);
    commit(f, e, 4, (f->created_s + 10u) * 1000u);
    env_retire(f, 0, "old", f->old, &e[0]);
    env_register(f, 2, "late", f->late, f->created_s + 1000u, &e[1]);
    commit(f, e, 2, (f->created_s + 200u) * 1000u); /* also: brief's key is expired now */
    OK(api_auth_new(f->suite, 1024, 0, &f->auth, errmsg));
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    api_auth_free(f->auth);
    ledger_close(f->ledger);
    store_close(f->store);
    cfg_genesis_release(&f->genesis);
    t_rmtree(f->root);
    tb_free(f->root);
    for (int i = 0; i < 4; i++)
        cr_key_free(f->node_key[i]);
    cr_key_free(f->a1);
    cr_key_free(f->a2);
    cr_key_free(f->old);
    cr_key_free(f->brief);
    cr_key_free(f->late);
    cr_key_free(f->stranger);
    tb_free(f);
    return 0;
}

/* ------------------------------------------------------------ a request */

#define T_FIELDS 6

/* A request with its header fields (names lower case, as the verifier asks). */
struct t_req
{
    struct cr_httpsig_request r;
    char path[128], query[128], method[8];
    uint8_t body[64];
    const char *names[T_FIELDS];
    char values[T_FIELDS][CR_HTTPSIG_FIELD_MAX + 1];
    size_t count;
};

static const char *t_header(void *ctx, const char *name, size_t index)
{
    struct t_req *t = ctx;
    size_t seen = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (strcasecmp(t->names[i], name) == 0 && seen++ == index)
            return t->values[i];
    }
    return NULL;
}

static void t_field(struct t_req *t, const char *name, const char *value)
{
    assert_true(t->count < T_FIELDS);
    t->names[t->count] = name;
    snprintf(t->values[t->count], sizeof(t->values[0]), "%s", value);
    t->count++;
}

static char *t_value(struct t_req *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0)
            return t->values[i];
    }
    fail_msg("no field %s", name);
    return NULL;
}

/* Renames a field so that the verifier no longer finds it. */
static void t_drop(struct t_req *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0) {
            t->names[i] = "x-removed";
            return;
        }
    }
    fail_msg("no field %s", name);
}

/* GET /v1/subjects/<..>/records?limit=5 with body (may be ""), signed at created by key for
 * city/agency (the Tongban-Agency it names). */
static void t_sign(struct t_req *t, struct cr_key *key, const char *city, const char *agency,
                   const char *body, int64_t created)
{
    struct cr_httpsig_signed s;
    char who[96];
    memset(t, 0, sizeof(*t));
    snprintf(t->method, sizeof(t->method), "GET");
    snprintf(t->path, sizeof(t->path), "/v1/subjects/%064d/records", 7);
    snprintf(t->query, sizeof(t->query), "limit=5");
    size_t n = strlen(body);
    assert_true(n <= sizeof(t->body));
    memcpy(t->body, body, n);
    t->r = (struct cr_httpsig_request){.method = t->method,
                                       .path = t->path,
                                       .query = t->query,
                                       .body = t->body,
                                       .body_len = n,
                                       .header = t_header,
                                       .header_ctx = t};
    OK(cr_httpsig_sign(key, &t->r, city, agency, created, created + 60, NULL, 0, &s, errmsg));
    snprintf(who, sizeof(who), "%s/%s", city, agency);
    t_field(t, "content-digest", s.content_digest);
    t_field(t, "tongban-agency", who);
    t_field(t, "signature-input", s.signature_input);
    t_field(t, "signature", s.signature);
}

/* Runs the gate; expects a refusal of status whose message contains `why`. */
static void t_refused(struct fx *f, struct t_req *t, int64_t at, int status, const char *why)
{
    struct api_agency who;
    struct api_auth_refusal r;
    int rv = api_auth_check(f->auth, f->ledger, f->store, &t->r, at, &who, &r);
    if (rv == TB_OK)
        fail_msg("accepted; wanted %d (%s)", status, why);
    if (r.status != status || strstr(r.message, why) == NULL)
        fail_msg("want %d with \"%s\", got %d %s: %s", status, why, r.status, r.code, r.message);
    assert_non_null(r.code);
}

static void t_accepted(struct fx *f, struct t_req *t, int64_t at, struct api_agency *who)
{
    struct api_auth_refusal r;
    int rv = api_auth_check(f->auth, f->ledger, f->store, &t->r, at, who, &r);
    if (rv != TB_OK)
        fail_msg("refused %d %s: %s", r.status, r.code, r.message);
}

/* ------------------------------------------------------------------ tests */

static void test_accept_and_replay(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    struct api_agency who;
    int64_t now = now_s();
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    t_accepted(f, &t, now, &who);
    assert_string_equal(who.city, cities[0]);
    assert_string_equal(who.agency, "hpf");
    assert_int_equal(who.type_count, 2);
    assert_true(api_agency_has_type(&who, "pf.loan"));
    assert_false(api_agency_has_type(&who, "edu.degree"));
    assert_int_equal(who.created_s, now);
    uint8_t id[H];
    cr_key_id(f->a1, id);
    assert_memory_equal(who.key_id, id, H);
    /* The very same request again: a replay, however exact. */
    t_refused(f, &t, now, 401, "replay");
    /* A request with a body is signed over its digest. */
    t_sign(&t, f->a2, cities[0], "psb", "{\"purpose\":\"audit\"}", now);
    t_accepted(f, &t, now + 30, &who);
    assert_string_equal(who.agency, "psb");
}

static void test_malformed_and_tampered(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    int64_t now = now_s();
    /* No signature at all: only the agency name. */
    memset(&t, 0, sizeof(t));
    t.r = (struct cr_httpsig_request){
        .method = "GET", .path = "/v1/x", .query = "", .header = t_header, .header_ctx = &t};
    t_field(&t, "tongban-agency", "370100/hpf");
    t_refused(f, &t, now, 401, "missing signature-input");
    /* Each field missing in turn. */
    static const char *const fields[] = {"content-digest", "tongban-agency", "signature"};
    for (size_t i = 0; i < 3; i++) {
        t_sign(&t, f->a1, cities[0], "hpf", "", now);
        t_drop(&t, fields[i]);
        t_refused(f, &t, now, 401, fields[i]);
    }
    /* A field sent twice. */
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    t_field(&t, "signature", t_value(&t, "signature"));
    t_refused(f, &t, now, 401, "more than one signature");
    /* The signature altered (one base64 character). */
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    char *sig = t_value(&t, "signature");
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    t_refused(f, &t, now, 401, "signature does not verify");
    /* The path, the query, the method changed after signing. */
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    t.path[strlen(t.path) - 9] ^= 1;
    t_refused(f, &t, now, 401, "signature does not verify");
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    snprintf(t.query, sizeof(t.query), "limit=50");
    t_refused(f, &t, now, 401, "signature does not verify");
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    snprintf(t.method, sizeof(t.method), "POST");
    t_refused(f, &t, now, 401, "signature does not verify");
    /* The body changed: its digest no longer matches. */
    t_sign(&t, f->a1, cities[0], "hpf", "{}", now);
    t.body[0] = '[';
    t_refused(f, &t, now, 401, "content-digest does not match");
}

static void test_window(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    int64_t now = now_s();
    t_sign(&t, f->a1, cities[0], "hpf", "", now - 120);
    t_refused(f, &t, now, 401, "too old");
    t_sign(&t, f->a1, cities[0], "hpf", "", now + 120);
    t_refused(f, &t, now, 401, "in the future");
    t_sign(&t, f->a1, cities[0], "hpf", "", now - 59); /* inside the skew, not yet expired */
    struct api_agency who;
    t_accepted(f, &t, now, &who);
}

static void test_keys(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    int64_t now = now_s();
    t_sign(&t, f->stranger, cities[0], "hpf", "", now);
    t_refused(f, &t, now, 401, "unknown agency key");
    /* a2's key, but the request says it is hpf (another agency of the same city). */
    t_sign(&t, f->a2, cities[0], "hpf", "", now);
    t_refused(f, &t, now, 401, "is registered to 370100/psb");
    /* hpf's key claiming another city's agency. */
    t_sign(&t, f->a1, cities[1], "hpf", "", now);
    t_refused(f, &t, now, 401, "is registered to 370100/hpf");
    /* Retired and expired keys are known and sign correctly, but may not act: 403. */
    t_sign(&t, f->old, cities[0], "old", "", now);
    t_refused(f, &t, now, 403, "retired");
    t_sign(&t, f->brief, cities[1], "brief", "", now);
    t_refused(f, &t, now, 403, "expired");
    /* Expiry is judged at the latest block time, not the local clock: `late` expired an
     * hour ago by the clock but not yet at the latest block, so it may still act. */
    struct api_agency who;
    t_sign(&t, f->late, cities[2], "late", "", now);
    t_accepted(f, &t, now, &who);
    assert_true(who.not_after < (uint64_t)now);
}

static void test_start_rule(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    struct api_agency who;
    int64_t now = now_s();
    api_auth_free(f->auth);
    OK(api_auth_new(f->suite, 1024, now, &f->auth, errmsg));
    t_sign(&t, f->a1, cities[0], "hpf", "", now - 5);
    t_refused(f, &t, now, 401, "before this node started");
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    t_accepted(f, &t, now, &who);
}

static void test_replay_cache_full(void **state)
{
    struct fx *f = *state;
    struct t_req t;
    struct api_agency who;
    int64_t now = now_s();
    size_t accepted = 0;
    api_auth_free(f->auth);
    OK(api_auth_new(f->suite, 1, 0, &f->auth, errmsg)); /* one set of 8 entries */
    for (size_t i = 0; i < CR_HTTPSIG_REPLAY_WAYS; i++) {
        t_sign(&t, f->a1, cities[0], "hpf", "", now);
        t_accepted(f, &t, now, &who);
        accepted++;
    }
    assert_int_equal(accepted, CR_HTTPSIG_REPLAY_WAYS);
    t_sign(&t, f->a1, cities[0], "hpf", "", now);
    t_refused(f, &t, now, 503, "replay cache full");
    /* Once the entries are past their last acceptable second, the cache takes new ones. */
    t_sign(&t, f->a1, cities[0], "hpf", "", now + 61);
    t_accepted(f, &t, now + 61, &who);
}

/* Figures: the gate's cost per request, signing excluded (requests signed beforehand). */
static void test_figures(void **state)
{
    struct fx *f = *state;
    enum { N = 200 };
    struct t_req *t = tb_calloc(N, sizeof(*t));
    struct api_agency who;
    struct timespec a, b;
    int64_t now = now_s();
    assert_non_null(t);
    for (size_t i = 0; i < N; i++)
        t_sign(&t[i], f->a1, cities[0], "hpf", "{\"purpose\":\"audit\"}", now);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < N; i++)
        t_accepted(f, &t[i], now, &who);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / N;
    printf(
        "%s: api_auth_check %.0f us per signed request (read txn, key lookup, verify, "
        "replay cache; %d requests)\n",
        cr_suite_name(f->suite), us, N);
    tb_free(t);
}

int main(void)
{
    static enum cr_suite ed = CR_SUITE_ED25519_SHA256, sm = CR_SUITE_SM2_SM3;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_accept_and_replay, fx_setup, fx_teardown,
                                                 &ed),
        cmocka_unit_test_prestate_setup_teardown(test_accept_and_replay, fx_setup, fx_teardown,
                                                 &sm),
        cmocka_unit_test_prestate_setup_teardown(test_malformed_and_tampered, fx_setup, fx_teardown,
                                                 &ed),
        cmocka_unit_test_prestate_setup_teardown(test_malformed_and_tampered, fx_setup, fx_teardown,
                                                 &sm),
        cmocka_unit_test_prestate_setup_teardown(test_window, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_keys, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_keys, fx_setup, fx_teardown, &sm),
        cmocka_unit_test_prestate_setup_teardown(test_start_rule, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_replay_cache_full, fx_setup, fx_teardown,
                                                 &ed),
        cmocka_unit_test_prestate_setup_teardown(test_figures, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_figures, fx_setup, fx_teardown, &sm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
