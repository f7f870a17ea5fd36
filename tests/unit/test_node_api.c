/*
 * node/api over real HTTP on 127.0.0.1, against a real LMDB store and a real ledger in a
 * t_tmpdir(): every endpoint of docs/api.md with its exact JSON shape, idempotent
 * resubmission, every error path (bad JSON, duplicate keys, bad base64/hex, wrong content
 * type, oversized bodies, unknown ids, bad tokens, bad ID numbers that must never appear in a
 * response, a log line or the LMDB file), and custodial issuing end to end.
 *
 * TEST DOUBLE: struct node and the node.h functions below are a minimal stand-in for the
 * node core (node/node.c), which is written in parallel: node_submit_tx does what node.h
 * promises (decode, dedupe by id, ledger_check_tx, a synced store_pending_put) without a
 * mempool or gossip. Store and ledger are the real ones; blocks are built and applied with
 * ledger_build_block / ledger_apply_block, as the consensus driver would.
 */
#define _GNU_SOURCE /* strcasestr, memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "api_int.h"
#include "api_auth.h"
#include "cr_httpsig.h"
#include "config.h"
#include "cr_sign.h"
#include "docstore.h"
#include "genesis.h"
#include "http.h"
#include "ledger.h"
#include "node.h"
#include "store.h"
#include "t_chain.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"
#include "wire.h"

#define H 32
#define MAP_BYTES (64u << 20)
#define ENVS_MAX 64
#define CITY "370100"
#define TOKEN "hpf-token-0123456789abcdef"
#define ID_GOOD "11010519491231002X"
#define ID_BAD "110105194912310021" /* last digit is not the GB 11643 check character */

static char errmsg[TB_ERRMSG_SIZE];

#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

/* ------------------------------------------------------------ test double */

struct node
{
    struct cfg_config cfg;
    struct cfg_genesis genesis;
    struct store *store;
    struct ledger *ledger;
    bool writable;
    bool mempool_full; /* node_submit_tx answers TB_ELIMIT, as node.c does when full */
    unsigned submits;
    struct api_auth *auth; /* the agency request gate (node/api_auth.h) */
};

struct api_auth *node_api_auth(struct node *n)
{
    return n->auth;
}

struct store *node_store(struct node *n)
{
    return n->store;
}

struct ledger *node_ledger(struct node *n)
{
    return n->ledger;
}

const struct cfg_genesis *node_genesis(const struct node *n)
{
    return &n->genesis;
}

const struct cfg_config *node_config(const struct node *n)
{
    return &n->cfg;
}

bool node_writable(const struct node *n)
{
    return n->writable;
}

static uint64_t t_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Where id is: committed (with kind from its block), pending, or unknown. */
static int fake_lookup(struct node *n, struct store_txn *txn, const uint8_t id[H],
                       struct node_tx_result *out, char *em)
{
    struct tb_buf buf;
    struct wire_tx tx;
    memcpy(out->id, id, H);
    int rv = store_txloc_get(txn, id, &out->loc, em);
    tb_buf_init(&buf, WIRE_BLOCK_BYTES_MAX);
    if (rv == TB_OK) {
        struct wire_block b;
        OK(ledger_block_get(n->ledger, txn, out->loc.height, &buf, em));
        OK(wire_block_decode(buf.data, buf.len, &b, em));
        OK(wire_tx_decode(b.txs[out->loc.index].ptr, b.txs[out->loc.index].len, &tx, em));
        wire_block_release(&b);
        out->kind = tx.kind;
        out->state = NODE_TX_COMMITTED;
    } else if (rv == TB_ENOTFOUND && (rv = store_pending_get(txn, id, &buf, em)) == TB_OK) {
        OK(wire_tx_decode(buf.data, buf.len, &tx, em));
        out->kind = tx.kind;
        out->state = NODE_TX_PENDING;
    } else if (rv == TB_ENOTFOUND) {
        out->state = NODE_TX_UNKNOWN;
        rv = TB_OK;
    }
    tb_buf_release(&buf);
    return rv;
}

int node_tx_lookup(struct node *n, const uint8_t id[WIRE_HASH_BYTES], struct node_tx_result *out,
                   char *em)
{
    struct store_txn *txn = NULL;
    memset(out, 0, sizeof(*out));
    OK(store_begin_read(n->store, &txn, em));
    int rv = fake_lookup(n, txn, id, out, em);
    store_abort(txn);
    return rv;
}

int node_submit_tx(struct node *n, struct tb_bytes envelope, struct node_tx_result *out, char *em)
{
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    struct wire_tx tx;
    memset(out, 0, sizeof(*out));
    n->submits++;
    if (n->mempool_full)
        return tb_fail(em, TB_ELIMIT, "the mempool is full; retry later");
    OK(store_begin_read(n->store, &txn, em));
    if (wire_tx_decode(envelope.ptr, envelope.len, &tx, NULL) == TB_OK) {
        uint8_t chain[H];
        ledger_chain_id(n->ledger, chain);
        wire_tx_id(ledger_suite(n->ledger), chain, tx.kind, tx.body.ptr, tx.body.len, out->id);
        OK(fake_lookup(n, txn, out->id, out, em));
        if (out->state != NODE_TX_UNKNOWN) {
            store_abort(txn);
            return TB_OK;
        }
    }
    OK(ledger_tip_get(n->ledger, txn, &tip, em));
    uint64_t t = t_real_ms() > tip.time_ms ? t_real_ms() : tip.time_ms + 1;
    int rv = ledger_check_tx(n->ledger, txn, envelope, t, &out->verdict);
    store_abort(txn);
    if (rv != TB_OK)
        return rv;
    OK(store_begin_write(n->store, &txn, em));
    OK(store_pending_put(txn, out->verdict.tx_id, envelope, em));
    OK(store_commit(txn, em));
    memcpy(out->id, out->verdict.tx_id, H);
    out->kind = out->verdict.kind;
    out->state = NODE_TX_NEW;
    return TB_OK;
}

/* The double answers at once (never NODE_TX_QUEUED): the deferred path is the real node's,
 * exercised by the e2e clusters. */
int node_submit_tx_async(struct node *n, struct tb_bytes envelope, node_submit_fn done, void *arg,
                         struct node_tx_result *out, char *em)
{
    (void)done;
    (void)arg;
    return node_submit_tx(n, envelope, out, em);
}

int node_status_get(struct node *n, struct node_status *out, char *em)
{
    struct store_txn *txn = NULL;
    memset(out, 0, sizeof(*out));
    out->city = n->cfg.node.city;
    out->name = n->cfg.node.name;
    out->suite = ledger_suite(n->ledger);
    ledger_chain_id(n->ledger, out->chain_id);
    OK(store_begin_read(n->store, &txn, em));
    OK(ledger_tip_get(n->ledger, txn, &out->tip, em));
    uint64_t pending = 0;
    OK(store_count(txn, STORE_DB_PENDING, &pending, em));
    store_abort(txn);
    out->pending = pending;
    for (size_t i = 0; i < n->genesis.member_count; i++) {
        const struct cfg_member *m = &n->genesis.members[i];
        if (strcmp(m->city, n->cfg.node.city) == 0) {
            out->validator_index = (uint32_t)i; /* checked against /v1/members below */
            continue;
        }
        struct node_peer_info *p = &out->peers[out->peer_count++];
        snprintf(p->city, sizeof(p->city), "%s", m->city);
        snprintf(p->endpoint, sizeof(p->endpoint), "%s", m->endpoint);
        p->height = 7 + i;
        p->last_seen_ms = i == 3 ? 0 : 1700000000000u + i;
        p->state = i == 3 ? NODE_PEER_DOWN : NODE_PEER_UP;
    }
    return TB_OK;
}

/* ------------------------------------------------------------ fixture */

struct env
{
    struct tb_buf buf;
    uint8_t id[H];
};

struct fx
{
    enum cr_suite suite;
    struct node node;
    uint8_t chain[H];
    struct cr_key *node_key[4];
    struct cr_key *pf, *police, *custodial;
    char *root;
    uint8_t subject_key[32];
    uint64_t now_ms; /* the latest block's time */
    uint64_t height;
    struct env envs[ENVS_MAX];
    size_t env_count;
    struct t_rng rng;
    struct event_base *base;
    struct http_server *srv;
};

static const char *const cities[4] = {"370100", "370200", "371500", "371600"};

static struct cr_key *key_new(struct fx *f)
{
    struct cr_key *k = NULL;
    assert_int_equal(t_key_new(f->suite, &f->rng, &k), TB_OK);
    return k;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* The custodial agency "hpf" of 370100: its key and the SHA-256 of its token. */
static void fx_agency_dir(struct fx *f)
{
    char dir[600], path[700], hex[2 * H + 2];
    uint8_t hash[H];
    snprintf(dir, sizeof(dir), "%s/agencies", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/" CITY "-hpf.key", dir);
    OK(cr_key_save_pem(f->custodial, path, NULL, errmsg));
    cr_hash(CR_SUITE_ED25519_SHA256, TOKEN, strlen(TOKEN), hash);
    tb_hex_encode(hash, H, hex);
    hex[2 * H] = '\n';
    snprintf(path, sizeof(path), "%s/" CITY "-hpf.token", dir);
    write_file(path, hex, 2 * H + 1);
    /* Noise the scan must skip: another city's token with the same hash, a bad file. */
    snprintf(path, sizeof(path), "%s/370200-hpf.token", dir);
    write_file(path, hex, 2 * H + 1);
    snprintf(path, sizeof(path), "%s/" CITY "-junk.token", dir);
    write_file(path, "not hex", 7);
}

static void fx_genesis(struct fx *f)
{
    struct cfg_member m[4];
    struct cfg_record_type t[] = {{"edu.degree", CFG_SHARING_OPEN},
                                  {"pf.deposit", CFG_SHARING_CONSENT},
                                  {"pf.loan", CFG_SHARING_CLOSED}};
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 4; i++) {
        snprintf(m[i].city, sizeof(m[i].city), "%s", cities[i]);
        snprintf(m[i].name, sizeof(m[i].name), "city %s", cities[i]);
        m[i].node_key_len = cr_key_public(f->node_key[i], m[i].node_key);
        snprintf(m[i].endpoint, sizeof(m[i].endpoint), "https://n%d.example:7480", i);
    }
    uint64_t created = t_real_ms() / 1000u - 3600u;
    OK(cfg_genesis_build(f->suite, "Shandong", created, m, 4, t, 3, &f->node.genesis, errmsg));
    OK(cfg_genesis_chain_id(&f->node.genesis, f->chain));
    f->now_ms = created * 1000u;
}

static int fx_setup(void **state)
{
    struct fx *f = tb_calloc(1, sizeof(*f));
    char path[700];
    assert_non_null(f);
    f->suite = *(enum cr_suite *)*state;
    t_rng_seed(&f->rng, 7 + (uint64_t)f->suite);
    for (int i = 0; i < 4; i++)
        f->node_key[i] = key_new(f);
    f->pf = key_new(f);
    f->police = key_new(f);
    f->custodial = key_new(f);
    fx_genesis(f);
    f->root = tb_strdup(t_tmpdir("api"));
    cfg_config_defaults(&f->node.cfg);
    snprintf(f->node.cfg.node.city, sizeof(f->node.cfg.node.city), CITY);
    snprintf(f->node.cfg.node.name, sizeof(f->node.cfg.node.name), "Jinan");
    snprintf(f->node.cfg.node.data_dir, sizeof(f->node.cfg.node.data_dir), "%s/data", f->root);
    snprintf(f->node.cfg.node.subject_key_file, CFG_PATH_MAX, "%s/subject.key", f->root);
    snprintf(f->node.cfg.node.agency_dir, CFG_PATH_MAX, "%s/agencies", f->root);
    t_rng_bytes(&f->rng, f->subject_key, sizeof(f->subject_key));
    write_file(f->node.cfg.node.subject_key_file, f->subject_key, 32);
    /* The document key (docs/consent.md): custodial issuing with "document" stores it sealed. */
    snprintf(f->node.cfg.node.document_key_file, CFG_PATH_MAX, "%s/document.key", f->root);
    write_file(f->node.cfg.node.document_key_file, f->subject_key, 32);
    fx_agency_dir(f);
    snprintf(path, sizeof(path), "%s/data", f->root);
    OK(store_open(&f->node.store, path, MAP_BYTES, errmsg));
    OK(ledger_open(&f->node.ledger, f->node.store, &f->node.genesis, errmsg));
    f->node.writable = true;
    f->base = event_base_new();
    assert_non_null(f->base);
    OK(http_server_start(f->base, "127.0.0.1:0", NULL, &f->srv, errmsg));
    OK(api_auth_new(f->suite, 1024, 0, &f->node.auth, errmsg));
    OK(api_register(f->srv, &f->node, errmsg));
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    http_server_free(f->srv);
    api_auth_free(f->node.auth);
    event_base_free(f->base);
    ledger_close(f->node.ledger);
    store_close(f->node.store);
    cfg_genesis_release(&f->node.genesis);
    t_rmtree(f->root);
    tb_free(f->root);
    for (size_t i = 0; i < f->env_count; i++)
        tb_buf_release(&f->envs[i].buf);
    for (int i = 0; i < 4; i++)
        cr_key_free(f->node_key[i]);
    cr_key_free(f->pf);
    cr_key_free(f->police);
    cr_key_free(f->custodial);
    tb_free(f);
    return 0;
}

/* ------------------------------------------------------------------ txs */

static size_t env_make(struct fx *f, const struct wire_tx_body *body, struct cr_key *signer)
{
    assert_true(f->env_count < ENVS_MAX);
    struct env *e = &f->envs[f->env_count];
    OK(t_envelope(f->suite, f->chain, body, &signer, 1, &e->buf, e->id, errmsg));
    return f->env_count++;
}

static size_t tx_register(struct fx *f, int city, const char *agency, struct cr_key *key,
                          const char *type)
{
    uint8_t pub[CR_PUBKEY_MAX];
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_AGENCY_REGISTER;
    b.u.reg.city = t_str(cities[city]);
    b.u.reg.agency = t_str(agency);
    b.u.reg.name = t_str("住房公积金管理中心");
    b.u.reg.public_key = t_bytes(pub, cr_key_public(key, pub));
    b.u.reg.types[0] = t_str(type);
    b.u.reg.type_count = 1;
    b.u.reg.not_after = t_real_ms() / 1000u + 86400u * 365u;
    return env_make(f, &b, f->node_key[city]);
}

static size_t tx_issue(struct fx *f, struct cr_key *signer, int city, const char *agency,
                       const char *type, const uint8_t subject[H], uint64_t expires_at,
                       uint8_t nonce)
{
    struct wire_tx_body b;
    memset(&b, 0, sizeof(b));
    b.kind = WIRE_KIND_RECORD_ISSUE;
    b.u.issue.type = t_str(type);
    b.u.issue.city = t_str(cities[city]);
    b.u.issue.agency = t_str(agency);
    memcpy(b.u.issue.subject, subject, H);
    b.u.issue.issued_at = f->now_ms / 1000u;
    b.u.issue.expires_at = expires_at;
    b.u.issue.claims[0].key = t_str("balance_fen");
    b.u.issue.claims[0].is_uint = true;
    b.u.issue.claims[0].uint_value = UINT64_MAX; /* rendered as a decimal string */
    b.u.issue.claims[1].key = t_str("employer");
    b.u.issue.claims[1].str_value = t_str("聊城市某公司");
    b.u.issue.claim_count = 2;
    memset(b.u.issue.doc_digest, 0xd0, H);
    memset(b.u.issue.nonce, nonce, WIRE_NONCE_BYTES);
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

/* Builds, applies and commits a block of exactly these envelopes at time_ms (0: now). */
static void commit_bytes(struct fx *f, const struct tb_bytes *cand, size_t n, uint64_t time_ms,
                         bool with_cert)
{
    struct ledger_verdict skipped[16], v;
    struct ledger_build_limits lim = {.txs_max = 100, .block_bytes_max = WIRE_BLOCK_BYTES_MAX};
    struct store_txn *txn = NULL;
    struct tb_buf blk;
    size_t taken = 0, nskip = 0;
    assert_true(n <= 16);
    uint64_t t = time_ms != 0 ? time_ms : t_real_ms();
    if (t <= f->now_ms)
        t = f->now_ms + 1000u;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    OK(store_begin_write(f->node.store, &txn, errmsg));
    OK(ledger_build_block(f->node.ledger, txn, cand, n, t, 1, &lim, &blk, &taken, skipped, &nskip,
                          errmsg));
    store_abort(txn);
    if (nskip > 0)
        fail_msg("skipped: %s: %s", ledger_code_name(skipped[0].code), skipped[0].message);
    assert_int_equal(taken, n);
    OK(store_begin_write(f->node.store, &txn, errmsg));
    if (ledger_apply_block(f->node.ledger, txn, t_bytes(blk.data, blk.len), &v) != TB_OK)
        fail_msg("apply: %s", v.message);
    f->height++;
    if (with_cert) {
        /* The API renders a certificate; it does not check one (block sync does). */
        struct wire_cert c = {.height = f->height, .round = 2, .sig_count = 3};
        struct wire_block b;
        struct tb_buf cb;
        uint8_t sigs[3][64];
        OK(wire_block_decode(blk.data, blk.len, &b, errmsg));
        wire_block_hash(f->suite, b.header_bytes.ptr, b.header_bytes.len, c.block_hash);
        wire_block_release(&b);
        for (uint32_t i = 0; i < 3; i++) {
            memset(sigs[i], 0x40 + (int)i, 64);
            c.sigs[i].validator_index = i + 1;
            c.sigs[i].sig = t_bytes(sigs[i], 64);
        }
        tb_buf_init(&cb, WIRE_CERT_BYTES_MAX);
        OK(wire_cert_encode(&c, &cb, errmsg));
        OK(store_cert_put(txn, f->height, t_bytes(cb.data, cb.len), errmsg));
        tb_buf_release(&cb);
    }
    OK(store_commit(txn, errmsg));
    tb_buf_release(&blk);
    f->now_ms = t;
}

static void commit(struct fx *f, const size_t *envs, size_t n)
{
    struct tb_bytes cand[16];
    for (size_t i = 0; i < n; i++)
        cand[i] = t_bytes(f->envs[envs[i]].buf.data, f->envs[envs[i]].buf.len);
    commit_bytes(f, cand, n, 0, false);
}

/* Commits what is pending under this id (a tx the API built itself). */
static void commit_pending(struct fx *f, const uint8_t id[H])
{
    struct store_txn *txn = NULL;
    struct tb_buf env;
    tb_buf_init(&env, WIRE_TX_BYTES_MAX);
    OK(store_begin_read(f->node.store, &txn, errmsg));
    OK(store_pending_get(txn, id, &env, errmsg));
    store_abort(txn);
    struct tb_bytes b = t_bytes(env.data, env.len);
    commit_bytes(f, &b, 1, 0, false);
    tb_buf_release(&env);
}

/* ------------------------------------------------------------ HTTP client */

static uint64_t t_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct t_resp
{
    char raw[1 << 18];
    size_t len;
    int status;
    const char *body;
    size_t body_len;
    json_t *json; /* parsed body (strict), or NULL */
};

static bool t_resp_complete(struct t_resp *r)
{
    r->raw[r->len] = '\0';
    char *end = strstr(r->raw, "\r\n\r\n");
    if (end == NULL)
        return false;
    sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
    r->body = end + 4;
    size_t have = r->len - (size_t)(r->body - r->raw);
    char *cl = strcasestr(r->raw, "\r\nContent-Length:");
    size_t want = (cl != NULL && cl < end) ? strtoul(cl + 17, NULL, 10) : 0;
    r->body_len = have < want ? have : want;
    return have >= want;
}

static int t_connect(uint16_t port)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

/* Sends all of data while pumping the server loop (the server must read for us to go on). */
static void t_send(struct fx *f, int fd, const void *data, size_t len)
{
    size_t off = 0;
    uint64_t end = t_mono_ms() + 5000u;
    while (off < len && t_mono_ms() < end) {
        ssize_t n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server closed on us; the reply says why */
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 1);
    }
}

/* One request on a fresh connection; the answer's body is parsed when it is JSON. */
static void t_http(struct fx *f, const char *method, const char *path, const char *headers,
                   const char *ctype, const void *body, size_t body_len, struct t_resp *r)
{
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, headers != NULL ? headers : "", ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "", body_len);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    int fd = t_connect(http_server_port(f->srv));
    r->len = 0;
    r->status = 0;
    r->body = NULL;
    r->body_len = 0;
    r->json = NULL;
    t_send(f, fd, head, (size_t)n);
    t_send(f, fd, body, body_len);
    uint64_t end = t_mono_ms() + 5000u;
    while (t_mono_ms() < end) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        ssize_t got = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
        if (got > 0) {
            r->len += (size_t)got;
            if (t_resp_complete(r))
                break;
            continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            break;
        usleep(200);
    }
    close(fd);
    assert_true(t_resp_complete(r));
    json_error_t jerr;
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
}

static void t_get(struct fx *f, const char *path, const char *headers, struct t_resp *r)
{
    t_http(f, "GET", path, headers, NULL, "", 0, r);
}

static void t_post(struct fx *f, const char *path, const char *headers, const char *ctype,
                   const void *body, size_t len, struct t_resp *r)
{
    t_http(f, "POST", path, headers, ctype, body, len, r);
}

static void t_done(struct t_resp *r)
{
    json_decref(r->json);
    r->json = NULL;
}

/* The submit answer is written without jansson (api.c): the same bytes as jansson's. */
static void assert_jansson_text(const struct t_resp *r, json_t *want)
{
    assert_non_null(want);
    char *text = json_dumps(want, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    json_decref(want);
    assert_non_null(text);
    assert_int_equal(r->body_len, strlen(text));
    assert_memory_equal(r->body, text, strlen(text));
    free(text);
}

/* The object has exactly these keys (comma-separated). */
static void t_keys(json_t *obj, const char *keys)
{
    char buf[512];
    size_t count = 0;
    assert_true(json_is_object(obj));
    snprintf(buf, sizeof(buf), "%s", keys);
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k != NULL;
         k = strtok_r(NULL, ",", &save)) {
        if (json_object_get(obj, k) == NULL)
            fail_msg("missing key %s", k);
        count++;
    }
    if (json_object_size(obj) != count) {
        char *dump = json_dumps(obj, JSON_COMPACT);
        fail_msg("keys: want %s, got %s", keys, dump);
    }
}

/* A 4xx/5xx with exactly {"error": {"code", "message"}}. */
static void t_error(struct t_resp *r, int status, const char *code)
{
    if (r->status != status || r->json == NULL)
        fail_msg("want %d %s, got %d: %.*s", status, code, r->status, (int)r->body_len, r->body);
    t_keys(r->json, "error");
    json_t *e = json_object_get(r->json, "error");
    t_keys(e, "code,message");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(json_string_length(json_object_get(e, "message")) > 0);
    t_done(r);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("%s: not a string", k);
    return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("%s: not an integer", k);
    return json_integer_value(v);
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    tb_hex_encode(p, n, out);
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

/* The four header lines of a GET of target ("/path?query") signed now by agency
 * cities[0]/agency with key (docs/authentication.md); a fresh nonce each call. */
static const char *t_signed(struct cr_key *key, const char *agency, const char *target)
{
    static char out[2048];
    struct cr_httpsig_signed s;
    char path[512];
    snprintf(path, sizeof(path), "%s", target);
    char *q = strchr(path, '?');
    if (q != NULL)
        *q++ = '\0';
    struct cr_httpsig_request hreq = {.method = "GET", .path = path, .query = q};
    int64_t now = (int64_t)(t_real_ms() / 1000u);
    OK(cr_httpsig_sign(key, &hreq, cities[0], agency, now, now + 60, NULL, 0, &s, errmsg));
    snprintf(out, sizeof(out),
             "Content-Digest: %s\r\nTongban-Agency: %s/%s\r\nSignature-Input: %s\r\n"
             "Signature: %s\r\n",
             s.content_digest, cities[0], agency, s.signature_input, s.signature);
    return out;
}
#define SIGNED(target) t_signed(f->pf, "hpf", (target))
#define MSGPACK "application/msgpack"
#define JSON_T "application/json"

/* ------------------------------------------------------------------ tests */

/* POST /v1/tx in both forms, idempotent resubmission, GET /v1/tx/{id}, and every refusal. */
static void test_tx(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char path[128], hex[2 * H + 1], body[TB_BASE64_ENCODED_SIZE(WIRE_TX_BYTES_MAX) + 64];
    size_t reg = tx_register(f, 0, "hpf", f->pf, "pf.deposit");
    struct tb_buf *e = &f->envs[reg].buf;
    hex_of(f->envs[reg].id, H, hex);

    t_post(f, "/v1/tx", NULL, MSGPACK, e->data, e->len, &r);
    assert_int_equal(r.status, 202);
    assert_jansson_text(
        &r, api_json_tx_status(f->envs[reg].id, WIRE_KIND_AGENCY_REGISTER, false, 0, 0));
    t_keys(r.json, "id,kind,status");
    assert_string_equal(jstr(r.json, "id"), hex);
    assert_string_equal(jstr(r.json, "kind"), "agency.register");
    assert_string_equal(jstr(r.json, "status"), "pending");
    t_done(&r);
    /* Again, in the JSON form: the same tx, 200, nothing new stored. */
    int n = snprintf(body, sizeof(body), "{\"envelope\": \"");
    tb_base64_encode(e->data, e->len, body + n);
    size_t used = strlen(body);
    assert_true(used + 3 <= sizeof(body));
    memcpy(body + used, "\"}", 3);
    t_post(f, "/v1/tx", NULL, "application/json; charset=utf-8", body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "id,kind,status");
    assert_string_equal(jstr(r.json, "status"), "pending");
    t_done(&r);
    snprintf(path, sizeof(path), "/v1/tx/%s", hex);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "id,kind,status");
    assert_string_equal(jstr(r.json, "status"), "pending");
    t_done(&r);

    size_t envs[] = {reg};
    commit(f, envs, 1);
    t_post(f, "/v1/tx", NULL, MSGPACK, e->data, e->len, &r);
    assert_int_equal(r.status, 200);
    assert_jansson_text(&r,
                        api_json_tx_status(f->envs[reg].id, WIRE_KIND_AGENCY_REGISTER, true, 1, 0));
    t_keys(r.json, "id,kind,status,height,index");
    assert_string_equal(jstr(r.json, "status"), "committed");
    assert_int_equal(jint(r.json, "height"), 1);
    assert_int_equal(jint(r.json, "index"), 0);
    t_done(&r);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "id,kind,status,height,index");
    assert_string_equal(jstr(r.json, "kind"), "agency.register");
    t_done(&r);

    /* Never seen, bad hex (uppercase, short, non-hex). */
    memset(hex, 'a', 2 * H);
    snprintf(path, sizeof(path), "/v1/tx/%s", hex);
    t_get(f, path, NULL, &r);
    t_error(&r, 404, "not_found");
    hex_of(f->envs[reg].id, H, hex);
    hex[0] = 'A';
    hex[1] = 'B';
    snprintf(path, sizeof(path), "/v1/tx/%s", hex);
    t_get(f, path, NULL, &r);
    t_error(&r, 400, "bad_request");
    t_get(f, "/v1/tx/abcd", NULL, &r);
    t_error(&r, 400, "bad_request");
}

static void test_tx_refused(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    uint8_t subject[H];
    memset(subject, 0x5a, H);
    size_t reg = tx_register(f, 0, "hpf", f->pf, "pf.deposit");
    size_t envs[] = {reg};
    commit(f, envs, 1);
    unsigned submits = f->node.submits;

    /* Ledger verdicts: a record of an unknown agency (422), a tampered signature (422), a
     * truncated envelope (400 malformed). Nothing is stored for any of them. */
    size_t stray = tx_issue(f, f->police, 0, "psb", "pf.deposit", subject, 0, 1);
    t_post(f, "/v1/tx", NULL, MSGPACK, f->envs[stray].buf.data, f->envs[stray].buf.len, &r);
    t_error(&r, 422, "unknown_agency");
    size_t good = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 2);
    struct tb_buf *g = &f->envs[good].buf;
    g->data[g->len - 3] ^= 0x01; /* inside the signature */
    t_post(f, "/v1/tx", NULL, MSGPACK, g->data, g->len, &r);
    t_error(&r, 422, "bad_signature");
    g->data[g->len - 3] ^= 0x01;
    t_post(f, "/v1/tx", NULL, MSGPACK, g->data, g->len - 1, &r);
    t_error(&r, 400, "malformed");
    size_t wrong = tx_issue(f, f->pf, 0, "hpf", "pf.loan", subject, 0, 3);
    t_post(f, "/v1/tx", NULL, MSGPACK, f->envs[wrong].buf.data, f->envs[wrong].buf.len, &r);
    t_error(&r, 422, "wrong_type");

    /* Transport-level refusals never reach the node. */
    unsigned before = f->node.submits;
    t_post(f, "/v1/tx", NULL, "text/plain", "x", 1, &r);
    t_error(&r, 415, "unsupported_media_type");
    t_post(f, "/v1/tx", NULL, NULL, "x", 1, &r);
    t_error(&r, 415, "unsupported_media_type");
    static const char *const bad_json[] = {
        "{\"envelope\": \"AAAA\", \"envelope\": \"AAAA\"}", /* duplicate key */
        "{\"envelope\": \"AAA\"}",                          /* unpadded base64 */
        "{\"envelope\": \"AA==\", \"x\": 1}",               /* extra field */
        "{\"envelope\": 5}",                                /* wrong type */
        "{\"envelope\": \"AAAA\"",                          /* truncated */
        "[\"AAAA\"]",                                       /* not an object */
        "{\"envelope\": \"\xff\"}",                         /* not UTF-8 */
        "{\"a\":[[[[[1]]]]]}",                              /* too deep */
        "",
    };
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        t_post(f, "/v1/tx", NULL, JSON_T, bad_json[i], strlen(bad_json[i]), &r);
        t_error(&r, 400, "bad_request");
    }
    assert_int_equal(f->node.submits, before);
    /* A JSON body past what a largest envelope needs in base64. */
    size_t jl = TB_BASE64_ENCODED_SIZE(WIRE_TX_BYTES_MAX) + 1024u;
    char *bigj = tb_malloc(jl + 1);
    memset(bigj, ' ', jl);
    memcpy(bigj, "{\"envelope\": \"\"}", 16);
    t_post(f, "/v1/tx", NULL, JSON_T, bigj, jl, &r);
    t_error(&r, 413, "too_large");
    tb_free(bigj);
    uint8_t *big = tb_calloc(1, WIRE_TX_BYTES_MAX + 1);
    t_post(f, "/v1/tx", NULL, MSGPACK, big, WIRE_TX_BYTES_MAX + 1, &r);
    t_error(&r, 413, "too_large");
    tb_free(big);
    /* Empty envelopes, as msgpack and as base64: 400, never an abort (a regression). */
    t_post(f, "/v1/tx", NULL, MSGPACK, "", 0, &r);
    t_error(&r, 400, "malformed");
    t_post(f, "/v1/tx", NULL, JSON_T, "{\"envelope\": \"\"}", 16, &r);
    t_error(&r, 400, "malformed");
    assert_int_equal(f->node.submits, before);

    assert_int_equal(f->node.submits, submits + 4);
}

/* A node whose storage refuses writes, or whose mempool is full, answers 503. */
static void test_tx_unavailable(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    size_t reg = tx_register(f, 0, "hpf", f->pf, "pf.deposit");
    struct tb_buf *g = &f->envs[reg].buf;
    f->node.writable = false;
    t_post(f, "/v1/tx", NULL, MSGPACK, g->data, g->len, &r);
    t_error(&r, 503, "unavailable");
    assert_int_equal(f->node.submits, 0);
    f->node.writable = true;
    f->node.mempool_full = true;
    t_post(f, "/v1/tx", NULL, MSGPACK, g->data, g->len, &r);
    t_error(&r, 503, "unavailable");
    f->node.mempool_full = false;
    t_post(f, "/v1/tx", NULL, MSGPACK, g->data, g->len, &r);
    assert_int_equal(r.status, 202);
    t_done(&r);
    assert_int_equal(f->node.submits, 2);
}

/* Issues, revokes and lets expire records through the ledger; reads them over HTTP. */
/* Records a, b, c of one subject at height 2; b revoked and c expired at height 3. */
struct rec_ids
{
    size_t a, b, c, rv;
    uint64_t exp_at;
};

static void records_prepare(struct fx *f, struct rec_ids *x)
{
    uint8_t subject[H];
    memset(subject, 0x11, H);
    size_t reg = tx_register(f, 0, "hpf", f->pf, "pf.deposit");
    commit(f, &reg, 1);
    x->exp_at = f->now_ms / 1000u + 3u;
    x->a = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 1);
    x->b = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 2);
    x->c = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, x->exp_at, 3);
    size_t e2[] = {x->a, x->b, x->c};
    commit(f, e2, 3);
    x->rv = tx_revoke(f, f->pf, f->envs[x->b].id);
    struct tb_bytes rvb = t_bytes(f->envs[x->rv].buf.data, f->envs[x->rv].buf.len);
    commit_bytes(f, &rvb, 1, (x->exp_at + 5u) * 1000u, false); /* c has expired by then */
}

static void test_record_valid(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    struct rec_ids x;
    char path[160], hex[2 * H + 1], subj_hex[2 * H + 1];
    uint8_t subject[H];
    memset(subject, 0x11, H);
    hex_of(subject, H, subj_hex);
    records_prepare(f, &x);
    size_t a = x.a;

    /* valid: the full shape, the record's fields, claims (a uint past INT64_MAX as text). */
    hex_of(f->envs[a].id, H, hex);
    snprintf(path, sizeof(path), "/v1/records/%s", hex);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "id,status,record,height,index,revoked_height,envelope");
    assert_string_equal(jstr(r.json, "id"), hex);
    assert_string_equal(jstr(r.json, "status"), "valid");
    assert_int_equal(jint(r.json, "height"), 2);
    assert_int_equal(jint(r.json, "index"), 0);
    assert_int_equal(jint(r.json, "revoked_height"), 0);
    json_t *rec = json_object_get(r.json, "record");
    t_keys(rec, "type,city,agency,subject,issued_at,expires_at,claims,doc_digest");
    assert_string_equal(jstr(rec, "type"), "pf.deposit");
    assert_string_equal(jstr(rec, "city"), CITY);
    assert_string_equal(jstr(rec, "agency"), "hpf");
    assert_string_equal(jstr(rec, "subject"), subj_hex);
    assert_int_equal(jint(rec, "expires_at"), 0);
    json_t *claims = json_object_get(rec, "claims");
    t_keys(claims, "balance_fen,employer");
    assert_string_equal(jstr(claims, "balance_fen"), "18446744073709551615");
    assert_string_equal(jstr(claims, "employer"), "聊城市某公司");
    char digest[2 * H + 1];
    uint8_t d0[H];
    memset(d0, 0xd0, H);
    hex_of(d0, H, digest);
    assert_string_equal(jstr(rec, "doc_digest"), digest);
    /* The envelope is the exact bytes, in padded base64. */
    char *b64 = tb_malloc(TB_BASE64_ENCODED_SIZE(f->envs[a].buf.len));
    tb_base64_encode(f->envs[a].buf.data, f->envs[a].buf.len, b64);
    assert_string_equal(jstr(r.json, "envelope"), b64);
    tb_free(b64);
    t_done(&r);
}

/* revoked, expired, pending, unknown */
static void test_record_states(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    struct rec_ids x;
    char path[160], hex[2 * H + 1];
    uint8_t subject[H];
    memset(subject, 0x11, H);
    records_prepare(f, &x);
    size_t b = x.b, c = x.c, rv = x.rv;
    uint64_t exp_at = x.exp_at;

    hex_of(f->envs[b].id, H, hex);
    snprintf(path, sizeof(path), "/v1/records/%s", hex);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "status"), "revoked");
    assert_int_equal(jint(r.json, "revoked_height"), 3);
    assert_int_equal(jint(r.json, "index"), 1);
    t_done(&r);
    hex_of(f->envs[c].id, H, hex);
    snprintf(path, sizeof(path), "/v1/records/%s", hex);
    t_get(f, path, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "expired");
    assert_int_equal(jint(json_object_get(r.json, "record"), "expires_at"), (json_int_t)exp_at);
    t_done(&r);

    /* pending: no height or index yet */
    size_t p = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 9);
    t_post(f, "/v1/tx", NULL, MSGPACK, f->envs[p].buf.data, f->envs[p].buf.len, &r);
    assert_int_equal(r.status, 202);
    t_done(&r);
    hex_of(f->envs[p].id, H, hex);
    snprintf(path, sizeof(path), "/v1/records/%s", hex);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "id,status,record,revoked_height,envelope");
    assert_string_equal(jstr(r.json, "status"), "pending");
    t_done(&r);

    /* unknown: 404 with id and status beside the error; a revoke's id is no record */
    hex_of(f->envs[rv].id, H, hex);
    snprintf(path, sizeof(path), "/v1/records/%s", hex);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 404);
    t_keys(r.json, "id,status,error");
    assert_string_equal(jstr(r.json, "id"), hex);
    assert_string_equal(jstr(r.json, "status"), "unknown");
    t_keys(json_object_get(r.json, "error"), "code,message");
    assert_string_equal(jstr(json_object_get(r.json, "error"), "code"), "not_found");
    t_done(&r);
    t_get(f, "/v1/records/xyz", NULL, &r);
    t_error(&r, 400, "bad_request");
    t_get(f, "/v1/records/", NULL, &r);
    t_error(&r, 404, "not_found");
}

/* GET /v1/subjects/{subject}/records: token, paging, type filter, bad parameters. */
/* Four records of subject 0x22.. (two types, two agencies) and one of another subject. */
static void subjects_prepare(struct fx *f, size_t ids[5])
{
    uint8_t subject[H], other[H];
    memset(subject, 0x22, H);
    memset(other, 0x33, H);
    size_t e1[] = {tx_register(f, 0, "hpf", f->pf, "pf.deposit"),
                   tx_register(f, 0, "psb", f->police, "edu.degree")};
    commit(f, e1, 2);
    ids[0] = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 1);
    ids[1] = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 2);
    ids[2] = tx_issue(f, f->police, 0, "psb", "edu.degree", subject, 0, 3);
    ids[3] = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", other, 0, 4);
    ids[4] = tx_issue(f, f->pf, 0, "hpf", "pf.deposit", subject, 0, 5);
    commit(f, ids, 5);
}

static void test_subjects(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char path[256], subj_hex[2 * H + 1];
    uint8_t subject[H];
    size_t ids[5];
    memset(subject, 0x22, H);
    hex_of(subject, H, subj_hex);
    subjects_prepare(f, ids);

    snprintf(path, sizeof(path), "/v1/subjects/%s/records", subj_hex);
    t_get(f, path, NULL, &r);
    t_error(&r, 401, "unauthorised");
    t_get(f, path, "Authorization: Bearer wrong-token-0123456789\r\n", &r);
    t_error(&r, 401, "unauthorised");
    t_get(f, path, "Authorization: Basic " TOKEN "\r\n", &r);
    t_error(&r, 401, "unauthorised");
    /* The custodial token is for POST /v1/records only: reads need a signature. */
    t_get(f, path, AUTH, &r);
    t_error(&r, 401, "unauthorised");

    /* All of the subject's records, in the ledger's (type length, type, id) order. */
    t_get(f, path, SIGNED(path), &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "subject,records,next");
    assert_string_equal(jstr(r.json, "subject"), subj_hex);
    assert_true(json_is_null(json_object_get(r.json, "next")));
    json_t *list = json_object_get(r.json, "records");
    assert_int_equal(json_array_size(list), 4);
    /* Both type names have 10 bytes: "edu.degree" sorts first. */
    assert_string_equal(jstr(json_array_get(list, 0), "type"), "edu.degree");
    assert_string_equal(jstr(json_array_get(list, 3), "type"), "pf.deposit");
    t_keys(json_array_get(list, 0), "id,type,status,issued_at");
    assert_string_equal(jstr(json_array_get(list, 0), "status"), "valid");
    /* Exactly this subject's four records, each once (the other subject's is not there). */
    static const size_t mine[] = {0, 1, 2, 4};
    for (size_t k = 0; k < 4; k++) {
        char want[2 * H + 1];
        size_t hits = 0;
        hex_of(f->envs[ids[mine[k]]].id, H, want);
        for (size_t i = 0; i < 4; i++)
            hits += strcmp(jstr(json_array_get(list, i), "id"), want) == 0;
        assert_int_equal(hits, 1);
    }
    t_done(&r);
}

static void test_subjects_paging(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char path[256], subj_hex[2 * H + 1], next[2 * H + 1], all[4][2 * H + 1];
    uint8_t subject[H];
    size_t ids[5];
    memset(subject, 0x22, H);
    hex_of(subject, H, subj_hex);
    subjects_prepare(f, ids);
    snprintf(path, sizeof(path), "/v1/subjects/%s/records", subj_hex);
    t_get(f, path, SIGNED(path), &r);
    json_t *list = json_object_get(r.json, "records");
    assert_int_equal(json_array_size(list), 4);
    for (size_t i = 0; i < 4; i++)
        snprintf(all[i], sizeof(all[i]), "%s", jstr(json_array_get(list, i), "id"));
    t_done(&r);

    /* Pages of one follow the same order through `next`. */
    next[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/v1/subjects/%s/records?limit=1%s%s", subj_hex,
                 next[0] ? "&after=" : "", next);
        t_get(f, path, SIGNED(path), &r);
        assert_int_equal(r.status, 200);
        list = json_object_get(r.json, "records");
        assert_int_equal(json_array_size(list), 1);
        assert_string_equal(jstr(json_array_get(list, 0), "id"), all[i]);
        json_t *nx = json_object_get(r.json, "next");
        if (i < 3)
            snprintf(next, sizeof(next), "%s", json_string_value(nx));
        else
            assert_true(json_is_null(nx));
        t_done(&r);
    }
    snprintf(path, sizeof(path), "/v1/subjects/%s/records?type=edu.degree", subj_hex);
    t_get(f, path, SIGNED(path), &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "records")), 1);
    t_done(&r);

    static const char *const bad[] = {
        "?limit=0",  "?limit=101",
        "?limit=01", "?limit=-1",
        "?limit=x",  "?after=00",
        "?type=",    "?after=0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/subjects/%s/records%s", subj_hex, bad[i]);
        t_get(f, path, SIGNED(path), &r);
        t_error(&r, 400, "bad_request");
    }
    /* A cursor from another subject is refused, not silently used. */
    char other_id[2 * H + 1];
    hex_of(f->envs[ids[3]].id, H, other_id);
    snprintf(path, sizeof(path), "/v1/subjects/%s/records?after=%s", subj_hex, other_id);
    t_get(f, path, SIGNED(path), &r);
    t_error(&r, 400, "bad_request");
    t_get(f, "/v1/subjects/zz/records", SIGNED("/v1/subjects/zz/records"), &r);
    t_error(&r, 400, "bad_request");
}

/* True when needle occurs in the file (the LMDB data file, a captured log). */
static bool file_contains(const char *path, const char *needle)
{
    size_t len = 0;
    uint8_t *data = t_read_file(path, &len);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    tb_free(data);
    return found;
}

/* stderr into a file while a test runs: no log line may carry an ID number. */
struct capture
{
    char path[700];
    int saved, fd;
};

static void capture_begin(struct fx *f, struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "%s/stderr.log", f->root);
    fflush(stderr);
    c->saved = dup(2);
    c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(c->saved >= 0 && c->fd >= 0);
    assert_int_equal(dup2(c->fd, 2), 2);
}

/* Ends the capture; neither the log nor the LMDB file holds the ID number's digits. */
static void capture_end_check(struct fx *f, struct capture *c)
{
    char path[700];
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    close(c->fd);
    assert_false(file_contains(c->path, "11010519491231002"));
    snprintf(path, sizeof(path), "%s/data/data.mdb", f->root);
    assert_false(file_contains(path, "11010519491231002"));
}

/* Registers the custodial agency hpf of 370100 (its key is in the agency directory). */
static void custodial_prepare(struct fx *f)
{
    size_t reg = tx_register(f, 0, "hpf", f->custodial, "pf.deposit");
    commit(f, &reg, 1);
}

/* Custodial issuing end to end: token -> signed record -> pending -> block -> valid. */
static void test_custodial(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char path[700], hex[2 * H + 1], body[1024];
    uint8_t want_subject[H], doc_digest[H];
    struct capture cap;
    custodial_prepare(f);
    OK(cr_subject(f->suite, f->subject_key, ID_GOOD, want_subject, errmsg));
    cr_hash(f->suite, "scan", 4, doc_digest);
    capture_begin(f, &cap);
    snprintf(body, sizeof(body),
             "{\"type\": \"pf.deposit\", \"id_number\": \"%s\", \"expires_at\": 0, "
             "\"claims\": {\"employer\": \"某公司\", \"balance_fen\": 12345600}, "
             "\"document\": \"c2Nhbg==\"}",
             ID_GOOD);
    t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
    if (r.status != 202)
        fail_msg("custodial: %d %.*s", r.status, (int)r.body_len, r.body);
    t_keys(r.json, "id,kind,status,subject");
    assert_string_equal(jstr(r.json, "kind"), "record.issue");
    assert_string_equal(jstr(r.json, "status"), "pending");
    hex_of(want_subject, H, hex);
    assert_string_equal(jstr(r.json, "subject"), hex);
    uint8_t id[H];
    OK(tb_hex_decode(jstr(r.json, "id"), 2 * H, id, H));
    assert_null(strstr(r.body, ID_GOOD));
    t_done(&r);
    /* The document is kept, sealed, under the record id (node/docstore.h). */
    struct tb_buf doc;
    tb_buf_init(&doc, 1024);
    OK(docstore_get(f->node.store, f->suite, f->node.cfg.node.document_key_file, id, &doc, errmsg));
    assert_int_equal(doc.len, 4);
    assert_memory_equal(doc.data, "scan", 4);
    tb_buf_release(&doc);

    char idhex[2 * H + 1];
    hex_of(id, H, idhex);
    snprintf(path, sizeof(path), "/v1/records/%s", idhex);
    t_get(f, path, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "pending");
    t_done(&r);
    commit_pending(f, id);
    t_get(f, path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "status"), "valid");
    json_t *rec = json_object_get(r.json, "record");
    assert_string_equal(jstr(rec, "city"), CITY);
    assert_string_equal(jstr(rec, "agency"), "hpf");
    assert_string_equal(jstr(rec, "subject"), hex);
    hex_of(doc_digest, H, hex);
    assert_string_equal(jstr(rec, "doc_digest"), hex);
    assert_int_equal(jint(json_object_get(rec, "claims"), "balance_fen"), 12345600);
    assert_string_equal(jstr(json_object_get(rec, "claims"), "employer"), "某公司");
    /* Signed by the agency key from the directory: the envelope's signer is its key id. */
    uint8_t env[1024], kid[H];
    size_t env_len = 0;
    struct wire_tx tx;
    const char *b64 = jstr(r.json, "envelope");
    OK(tb_base64_decode(b64, strlen(b64), env, sizeof(env), &env_len));
    OK(wire_tx_decode(env, env_len, &tx, errmsg));
    cr_key_id(f->custodial, kid);
    assert_memory_equal(tx.sigs[0].key_id, kid, H);
    t_done(&r);

    /* Given a subject and a digest instead; the same request twice gives two records
     * (a fresh nonce each time): custodial issuing is not idempotent, POST /v1/tx is. */
    char subj[2 * H + 1];
    hex_of(want_subject, H, subj);
    snprintf(body, sizeof(body),
             "{\"type\": \"pf.deposit\", \"subject\": \"%s\", \"doc_digest\": \"%s\"}", subj, hex);
    t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
    assert_int_equal(r.status, 202);
    t_done(&r);

    capture_end_check(f, &cap);
}

static void test_custodial_refused(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char body[1024];
    struct capture cap;
    custodial_prepare(f);
    capture_begin(f, &cap);
    /* Refusals: a bad check digit (400, the number nowhere in the answer), both or neither
     * subject forms, an unknown field, a type the agency is not registered for (422), no or
     * a wrong token (401). */
    snprintf(body, sizeof(body), "{\"type\": \"pf.deposit\", \"id_number\": \"%s\"}", ID_BAD);
    t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
    assert_null(memmem(r.raw, r.len, ID_BAD, strlen(ID_BAD)));
    assert_null(memmem(r.raw, r.len, "11010519491231002", 17));
    t_error(&r, 400, "bad_request");
    static const char *const bad[] = {
        "{\"type\": \"pf.deposit\"}",
        "{\"type\": \"pf.deposit\", \"subject\": \"00\"}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD
        "\", \"subject\": \""
        "00"
        "\"}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD "\", \"nonce\": 1}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD "\", \"claims\": {\"a\": -1}}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD "\", \"claims\": {\"a\": 1.5}}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD "\", \"document\": \"!!\"}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD "\", \"expires_at\": -5}",
        "{\"type\": 7, \"id_number\": \"" ID_GOOD "\"}",
        "{\"type\": \"pf.deposit\", \"id_number\": \"" ID_GOOD
        "\", \"document\": \"AA==\","
        " \"doc_digest\": \"00\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_post(f, "/v1/records", AUTH, JSON_T, bad[i], strlen(bad[i]), &r);
        t_error(&r, 400, "bad_request");
    }
    snprintf(body, sizeof(body), "{\"type\": \"pf.loan\", \"id_number\": \"%s\"}", ID_GOOD);
    t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
    t_error(&r, 422, "wrong_type");
    t_post(f, "/v1/records", NULL, JSON_T, body, strlen(body), &r);
    t_error(&r, 401, "unauthorised");
    t_post(f, "/v1/records", "Authorization: Bearer 0123456789abcdef0123\r\n", JSON_T, body,
           strlen(body), &r);
    t_error(&r, 401, "unauthorised");
    t_post(f, "/v1/records", AUTH, "text/plain", body, strlen(body), &r);
    t_error(&r, 415, "unsupported_media_type");

    capture_end_check(f, &cap);
}

/* Figures (printed, not asserted): custodial issuing reads the token files, the subject key
 * and the PEM key per request and syncs `pending`; a record read is one read transaction. */
static void test_custodial_figures(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char path[160], body[256];
    custodial_prepare(f);
    snprintf(body, sizeof(body), "{\"type\": \"pf.deposit\", \"id_number\": \"%s\"}", ID_GOOD);
    t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
    assert_int_equal(r.status, 202);
    snprintf(path, sizeof(path), "/v1/records/%s", jstr(r.json, "id"));
    t_done(&r);
    uint64_t t0 = t_mono_ms();
    for (int i = 0; i < 20; i++) {
        snprintf(body, sizeof(body), "{\"type\": \"pf.deposit\", \"id_number\": \"%s\"}", ID_GOOD);
        t_post(f, "/v1/records", AUTH, JSON_T, body, strlen(body), &r);
        assert_int_equal(r.status, 202);
        t_done(&r);
    }
    uint64_t t1 = t_mono_ms();
    for (int i = 0; i < 100; i++) {
        t_get(f, path, NULL, &r);
        assert_int_equal(r.status, 200);
        t_done(&r);
    }
    uint64_t t2 = t_mono_ms();
    /* The same path for envelopes signed here: the difference is what custodial adds. */
    uint8_t subject[H];
    memset(subject, 0x44, H);
    size_t first = f->env_count;
    for (int i = 0; i < 20; i++)
        tx_issue(f, f->custodial, 0, "hpf", "pf.deposit", subject, 0, (uint8_t)(100 + i));
    uint64_t t3 = t_mono_ms();
    for (size_t i = first; i < first + 20; i++) {
        t_post(f, "/v1/tx", NULL, MSGPACK, f->envs[i].buf.data, f->envs[i].buf.len, &r);
        assert_int_equal(r.status, 202);
        t_done(&r);
    }
    uint64_t t4 = t_mono_ms();
    print_message(
        "%s: POST /v1/records %.2f ms, POST /v1/tx %.2f ms, GET /v1/records/{id} "
        "%.3f ms per request (a connection each; both POSTs sync `pending`)\n",
        cr_suite_name(f->suite), (double)(t1 - t0) / 20.0, (double)(t4 - t3) / 20.0,
        (double)(t2 - t1) / 100.0);
}

/* Two blocks: agencies of 370100 and 370200 at height 1, one more (with a certificate) at 2. */
static size_t fed_prepare(struct fx *f)
{
    size_t e1[] = {tx_register(f, 0, "hpf", f->pf, "pf.deposit"),
                   tx_register(f, 1, "psb", f->police, "edu.degree")};
    commit(f, e1, 2);
    size_t r3 = tx_register(f, 0, "ss", f->custodial, "pf.loan");
    struct tb_bytes r3b = t_bytes(f->envs[r3].buf.data, f->envs[r3].buf.len);
    commit_bytes(f, &r3b, 1, 0, true);
    return e1[0];
}

static void test_status(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char hex[2 * H + 1];
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    fed_prepare(f);
    OK(store_begin_read(f->node.store, &txn, errmsg));
    OK(ledger_tip_get(f->node.ledger, txn, &tip, errmsg));
    store_abort(txn);
    t_get(f, "/v1/status", NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json,
           "city,name,suite,chain_id,version,height,block_hash,time_ms,log_size,log_root,"
           "state_root,pending,validator_index,peers");
    assert_string_equal(jstr(r.json, "city"), CITY);
    assert_string_equal(jstr(r.json, "suite"), cr_suite_name(f->suite));
    hex_of(f->chain, H, hex);
    assert_string_equal(jstr(r.json, "chain_id"), hex);
    assert_int_equal(jint(r.json, "height"), 2);
    assert_int_equal(jint(r.json, "log_size"), 3);
    assert_int_equal(jint(r.json, "time_ms"), (json_int_t)f->now_ms);
    assert_int_equal(jint(r.json, "pending"), 0);
    json_t *peers = json_object_get(r.json, "peers");
    assert_int_equal(json_array_size(peers), 3);
    t_keys(json_array_get(peers, 0), "city,endpoint,height,last_seen_ms,state");
    assert_string_equal(jstr(json_array_get(peers, 2), "state"), "down");
    hex_of(tip.state.block_hash, H, hex);
    assert_string_equal(jstr(r.json, "block_hash"), hex);
    hex_of(tip.state.log_root, H, hex);
    assert_string_equal(jstr(r.json, "log_root"), hex);
    hex_of(tip.state.state_root, H, hex);
    assert_string_equal(jstr(r.json, "state_root"), hex);
    t_done(&r);
}

static void test_members(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char hex[2 * H + 1];

    /* members: validator order, which is key-id order */
    t_get(f, "/v1/members", NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "members");
    json_t *m = json_object_get(r.json, "members");
    assert_int_equal(json_array_size(m), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(m, i);
        t_keys(e, "city,name,node_key,key_id,endpoint,validator_index");
        assert_int_equal(jint(e, "validator_index"), (json_int_t)i);
        uint8_t key[CR_PUBKEY_MAX], kid[H];
        size_t klen = 0;
        OK(tb_hex_decode_var(jstr(e, "node_key"), strlen(jstr(e, "node_key")), key, sizeof(key),
                             &klen));
        cr_hash(f->suite, key, klen, kid);
        hex_of(kid, H, hex);
        assert_string_equal(jstr(e, "key_id"), hex);
        if (i > 0)
            assert_true(strcmp(jstr(json_array_get(m, i - 1), "key_id"), hex) < 0);
    }
    t_done(&r);
}

/* blocks: height 1 has no certificate, height 2 has one; hashes and ids recomputed */
static void test_blocks(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    char hex[2 * H + 1], block_hash[2 * H + 1];
    struct store_txn *txn = NULL;
    struct ledger_tip tip;
    size_t r1 = fed_prepare(f);
    OK(store_begin_read(f->node.store, &txn, errmsg));
    OK(ledger_tip_get(f->node.ledger, txn, &tip, errmsg));
    store_abort(txn);
    hex_of(tip.state.block_hash, H, block_hash);
    t_get(f, "/v1/blocks/1", NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "height,hash,header,txs,certificate");
    assert_true(json_is_null(json_object_get(r.json, "certificate")));
    t_keys(json_object_get(r.json, "header"),
           "version,chain_id,height,time_ms,prev_block_hash,log_size,log_root,state_root,"
           "validator_set_hash,proposer_index");
    json_t *txs = json_object_get(r.json, "txs");
    assert_int_equal(json_array_size(txs), 2);
    t_keys(json_array_get(txs, 0), "id,kind,envelope");
    hex_of(f->envs[r1].id, H, hex);
    assert_string_equal(jstr(json_array_get(txs, 0), "id"), hex);
    assert_string_equal(jstr(json_array_get(txs, 1), "kind"), "agency.register");
    t_done(&r);
    t_get(f, "/v1/blocks/2", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "hash"), block_hash);
    json_t *cert = json_object_get(r.json, "certificate");
    t_keys(cert, "round,block_hash,signatures");
    assert_string_equal(jstr(cert, "block_hash"), block_hash);
    assert_int_equal(jint(cert, "round"), 2);
    json_t *sigs = json_object_get(cert, "signatures");
    assert_int_equal(json_array_size(sigs), 3);
    t_keys(json_array_get(sigs, 0), "validator,sig");
    assert_int_equal(jint(json_array_get(sigs, 2), "validator"), 3);
    assert_int_equal(jint(json_object_get(r.json, "header"), "height"), 2);
    t_done(&r);
    t_get(f, "/v1/blocks/3", NULL, &r);
    t_error(&r, 404, "not_found");
    t_get(f, "/v1/blocks/0", NULL, &r);
    t_error(&r, 404, "not_found");
    static const char *const bad_heights[] = {"/v1/blocks/01",
                                              "/v1/blocks/-1",
                                              "/v1/blocks/+1",
                                              "/v1/blocks/1x",
                                              "/v1/blocks/99999999999999999999",
                                              "/v1/blocks/18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad_heights) / sizeof(bad_heights[0]); i++) {
        t_get(f, bad_heights[i], NULL, &r);
        t_error(&r, 400, "bad_request");
    }
}

/* agencies: all, by city, paged */
static void test_agencies(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    fed_prepare(f);
    t_get(f, "/v1/agencies", NULL, &r);
    assert_int_equal(r.status, 200);
    t_keys(r.json, "agencies,next");
    json_t *ag = json_object_get(r.json, "agencies");
    assert_int_equal(json_array_size(ag), 3);
    assert_true(json_is_null(json_object_get(r.json, "next")));
    t_keys(json_array_get(ag, 0),
           "city,agency,name,public_key,key_id,types,not_after,state,"
           "registered_height,retired_height");
    t_done(&r);
    t_get(f, "/v1/agencies?city=370200", NULL, &r);
    ag = json_object_get(r.json, "agencies");
    assert_int_equal(json_array_size(ag), 1);
    assert_string_equal(jstr(json_array_get(ag, 0), "agency"), "psb");
    assert_string_equal(jstr(json_array_get(ag, 0), "state"), "active");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(ag, 0), "types"), 0)),
        "edu.degree");
    assert_int_equal(jint(json_array_get(ag, 0), "registered_height"), 1);
    t_done(&r);
    char after[2 * CR_PUBKEY_MAX + 1] = "", pathb[300];
    size_t seen = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(pathb, sizeof(pathb), "/v1/agencies?limit=2%s%s", after[0] ? "&after=" : "",
                 after);
        t_get(f, pathb, NULL, &r);
        assert_int_equal(r.status, 200);
        seen += json_array_size(json_object_get(r.json, "agencies"));
        json_t *nx = json_object_get(r.json, "next");
        bool end = json_is_null(nx);
        if (!end)
            snprintf(after, sizeof(after), "%s", json_string_value(nx));
        t_done(&r);
        if (end)
            break;
    }
    assert_int_equal(seen, 3);
    static const char *const bad_ag[] = {"/v1/agencies?city=a%20b", "/v1/agencies?limit=1001",
                                         "/v1/agencies?after=abc", "/v1/agencies?after=AB"};
    for (size_t i = 0; i < sizeof(bad_ag) / sizeof(bad_ag[0]); i++) {
        t_get(f, bad_ag[i], NULL, &r);
        t_error(&r, 400, "bad_request");
    }
}

/* The OpenAPI document describes every route the API registered; routing errors. */
static void test_openapi_routing(void **state)
{
    struct fx *f = *state;
    struct t_resp r;
    t_get(f, "/v1/openapi.json", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(jstr(r.json, "openapi"), "3.0.3");
    json_t *paths = json_object_get(r.json, "paths");
    static const char *const routes[] = {"/v1/tx",
                                         "/v1/tx/{id}",
                                         "/v1/records",
                                         "/v1/records/{id}",
                                         "/v1/subjects/{subject}/records",
                                         "/v1/subjects/{subject}/access-log",
                                         "/v1/consents",
                                         "/v1/consents/withdraw",
                                         "/v1/documents/fetch",
                                         "/v1/status",
                                         "/v1/blocks/{height}",
                                         "/v1/members",
                                         "/v1/agencies",
                                         "/v1/openapi.json",
                                         "/v1/records/{id}/proof",
                                         "/v1/records/{id}/credential",
                                         "/v1/records/{id}/qr.png",
                                         "/v1/resolve",
                                         "/v1/verify",
                                         "/v1/headers/{height}",
                                         "/v1/log/consistency"};
    assert_int_equal(json_object_size(paths), sizeof(routes) / sizeof(routes[0]));
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_non_null(json_object_get(paths, routes[i]));
    t_done(&r);

    /* routing: unknown paths 404, wrong methods 405 */
    t_get(f, "/v1/nothing", NULL, &r);
    t_error(&r, 404, "not_found");
    t_post(f, "/v1/status", NULL, JSON_T, "{}", 2, &r);
    t_error(&r, 405, "method_not_allowed");
    t_get(f, "/v1/records", NULL, &r);
    t_error(&r, 405, "method_not_allowed");
}

int main(void)
{
    static enum cr_suite ed = CR_SUITE_ED25519_SHA256, sm = CR_SUITE_SM2_SM3;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_tx, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_tx_refused, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_tx_unavailable, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_record_valid, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_record_states, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_subjects, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_subjects_paging, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_custodial, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_custodial, fx_setup, fx_teardown, &sm),
        cmocka_unit_test_prestate_setup_teardown(test_custodial_refused, fx_setup, fx_teardown,
                                                 &ed),
        cmocka_unit_test_prestate_setup_teardown(test_custodial_figures, fx_setup, fx_teardown,
                                                 &ed),
        cmocka_unit_test_prestate_setup_teardown(test_custodial_figures, fx_setup, fx_teardown,
                                                 &sm),
        cmocka_unit_test_prestate_setup_teardown(test_status, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_members, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_members, fx_setup, fx_teardown, &sm),
        cmocka_unit_test_prestate_setup_teardown(test_blocks, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_blocks, fx_setup, fx_teardown, &sm),
        cmocka_unit_test_prestate_setup_teardown(test_agencies, fx_setup, fx_teardown, &ed),
        cmocka_unit_test_prestate_setup_teardown(test_openapi_routing, fx_setup, fx_teardown, &ed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
