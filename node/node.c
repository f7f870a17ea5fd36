/*
 * node/node.c: the node process: lifecycle (load, open, start, run, stop, free), tx lookup,
 * status, and the wiring of the loop: signals, the tick that polls
 * peers, re-gossips and retries, the HTTP server with the JSON API (api_register), the peer
 * API and /metrics.
 *
 * Durability: a tx is answered only after store_pending_put committed (synced; admit.c). The store
 * is closed last, after the server, the peer client and the driver are gone. Must never: answer a
 * submission before it is durable, log an envelope or a document.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_auth.h"
#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define NODE_PASSPHRASE_MAX 1024u

uint64_t node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t node_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void node_store_failed(struct node *n, const char *what, int rc, const char *errmsg)
{
    if (rc == TB_OK) {
        if (!n->writable) /* at info unless it flips back and forth (a nearly full map) */
            node_log(node_mono_ms() - n->store_error_logged_ms >= NODE_STORE_LOG_MS
                         ? NODE_LOG_INFO
                         : NODE_LOG_DEBUG,
                     "store_writable", NULL, "after=%s", what);
        n->writable = true;
        return;
    }
    n->metrics.store_errors++;
    if (rc == TB_ENOSPC || rc == TB_EIO)
        n->writable = false; /* writers get 503 until a write succeeds again */
    /* Retries run every tick: one error line per NODE_STORE_LOG_MS, the repeats at debug. */
    uint64_t now = node_mono_ms();
    bool loud =
        n->store_error_logged_ms == 0 || now - n->store_error_logged_ms >= NODE_STORE_LOG_MS;
    if (loud)
        n->store_error_logged_ms = now;
    node_log(loud ? NODE_LOG_ERROR : NODE_LOG_DEBUG, "store_error", errmsg,
             "op=%s rc=%s errors=%" PRIu64, what, tb_strerror(rc), n->metrics.store_errors);
}

/* ------------------------------------------------------------------ loading */

static int node_load_key(struct node *n, char *errmsg)
{
    char pass[NODE_PASSPHRASE_MAX] = "";
    const char *pp = NULL;
    if (n->cfg.node.key_passphrase_file[0] != '\0') {
        FILE *f = fopen(n->cfg.node.key_passphrase_file, "r");
        if (f == NULL)
            return tb_fail(errmsg, TB_EIO, "cannot read %s", n->cfg.node.key_passphrase_file);
        if (fgets(pass, sizeof(pass), f) == NULL)
            pass[0] = '\0';
        fclose(f);
        pass[strcspn(pass, "\r\n")] = '\0';
        pp = pass;
    }
    int rc = cr_key_load_pem(n->cfg.node.key_file, pp, &n->key, errmsg);
    tb_wipe(pass, sizeof(pass));
    if (rc != TB_OK)
        return rc;
    const struct cfg_member *me = cfg_genesis_member_by_city(&n->genesis, n->cfg.node.city);
    uint8_t pub[CR_PUBKEY_MAX];
    size_t len = cr_key_public(n->key, pub);
    if (me == NULL || me->node_key_len != len || memcmp(me->node_key, pub, len) != 0)
        return tb_fail(errmsg, TB_ECONFIG, "%s is not the node key of %s in the genesis",
                       n->cfg.node.key_file, n->cfg.node.city);
    return TB_OK;
}

static int node_load_validators(struct node *n, char *errmsg)
{
    size_t count = ledger_validator_count(n->ledger);
    TB_ASSERT(count >= 1 && count <= NODE_PEERS_MAX);
    n->validator_count = (uint32_t)count;
    n->self_index = CS_INDEX_NONE;
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        p->node = n;
        p->index = i;
        p->member = ledger_validator(n->ledger, i, p->key_id);
        p->self = strcmp(p->member->city, n->cfg.node.city) == 0;
        if (p->self)
            n->self_index = i;
        int rc =
            cr_key_from_public(n->suite, p->member->node_key, p->member->node_key_len, &p->key);
        if (rc != TB_OK)
            return tb_fail(errmsg, rc, "node key of %s does not load", p->member->city);
    }
    if (n->self_index == CS_INDEX_NONE)
        return tb_fail(errmsg, TB_ECONFIG, "%s is not a validator", n->cfg.node.city);
    return TB_OK;
}

struct node_pending_scan
{
    struct node *node;
    size_t loaded;
};

static int node_pending_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct node_pending_scan *s = arg;
    struct wire_tx tx;
    (void)errmsg;
    if (key.len != WIRE_HASH_BYTES || wire_tx_decode(value.ptr, value.len, &tx, NULL) != TB_OK)
        return 0; /* not ours to judge here: the proposer's build drops what does not check */
    if (mempool_add(&s->node->mempool, key.ptr, tx.kind, value) == TB_OK)
        s->loaded++;
    return s->node->mempool.count < s->node->mempool.count_max ? 0 : 1;
}

/* A restarted node proposes and gossips again what it acknowledged before. */
static int node_mempool_rebuild(struct node *n, char *errmsg)
{
    struct store_txn *txn = NULL;
    struct node_pending_scan s = {.node = n};
    struct store_visitor v = {.arg = &s, .visit = node_pending_visit};
    uint32_t visited = 0;
    int rc = store_begin_read(n->store, &txn, errmsg);
    if (rc == TB_OK)
        rc = store_pending_scan(txn, NODE_MEMPOOL_COUNT_MAX, &v, &visited, errmsg);
    store_abort(txn);
    if (rc == TB_OK && s.loaded > 0)
        node_log(NODE_LOG_INFO, "mempool_rebuilt", NULL, "txs=%zu", s.loaded);
    return rc;
}

int node_new(const struct cfg_config *cfg, struct node **out, char *errmsg)
{
    struct node *n = tb_calloc(1, sizeof(*n));
    if (n == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "node");
    n->cfg = *cfg;
    n->writable = true;
    node_log_setup(cfg->node.log_format, cfg->node.log_level);
    int rc = cfg_genesis_load(cfg->node.genesis, &n->genesis, errmsg);
    if (rc == TB_OK)
        rc = cfg_config_check_genesis(cfg, &n->genesis, errmsg);
    if (rc == TB_OK)
        rc = node_load_key(n, errmsg);
    if (rc == TB_OK)
        rc = store_open(&n->store, cfg->node.data_dir, cfg->storage.map_size_mb * 1024u * 1024u,
                        errmsg);
    if (rc == TB_OK)
        rc = ledger_open(&n->ledger, n->store, &n->genesis, errmsg);
    if (rc == TB_OK) {
        n->suite = ledger_suite(n->ledger);
        ledger_chain_id(n->ledger, n->chain_id);
        rc = node_load_validators(n, errmsg);
    }
    if (rc == TB_OK && cfg->peer.tls)
        rc = node_tls_open(n, errmsg); /* after the key, chain id and validators */
    if (rc == TB_OK)
        rc = mempool_init(&n->mempool, NODE_MEMPOOL_COUNT_MAX, NODE_MEMPOOL_BYTES_MAX);
    if (rc == TB_OK)
        rc = node_mempool_rebuild(n, errmsg);
    if (rc == TB_OK) {
        n->base = event_base_new();
        rc = n->base != NULL ? TB_OK : tb_fail(errmsg, TB_ENOMEM, "event base");
    }
    if (rc == TB_OK)
        rc = admit_open(n, errmsg);
    if (rc == TB_OK)
        rc = driver_open(n, errmsg);
    if (rc != TB_OK) {
        node_free(n);
        return rc;
    }
    *out = n;
    return TB_OK;
}

/* -------------------------------------------------------------- the loop */

static void node_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct node *n = arg;
    node_log(NODE_LOG_INFO, "shutdown", NULL, "signal=%d", (int)sig);
    node_stop(n);
}

static void node_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct node *n = arg;
    if (n->stopping)
        return;
    peer_api_poll(n);
    sync_tick(n);
    driver_tick(n);
}

static int node_listen(struct node *n, char *errmsg)
{
    struct http_limits lim;
    char listen[CFG_HOST_MAX + 16];
    const struct cfg_api_section *a = &n->cfg.api;
    http_limits_default(&lim);
    lim.body_bytes_max = (size_t)a->max_body_bytes;
    lim.headers_bytes_max = a->max_header_bytes;
    lim.request_timeout_ms = a->timeout_ms;
    lim.connections_max = a->max_connections;
    /* A proposal carries its whole block: the largest one this federation builds must fit. */
    uint64_t proposal_max = n->cfg.consensus.block_bytes_max + WIRE_SMALL_BYTES_MAX + 256u;
    if (lim.body_bytes_max < proposal_max)
        node_log(NODE_LOG_WARN, "api_body_limit", NULL,
                 "max_body_bytes=%zu proposals_up_to=%" PRIu64, lim.body_bytes_max, proposal_max);
    bool v6 = strchr(a->listen_host, ':') != NULL;
    snprintf(listen, sizeof(listen), v6 ? "[%s]:%u" : "%s:%u", a->listen_host,
             (unsigned)a->listen_port);
    int rc = http_server_start(n->base, listen, &lim, &n->http, errmsg);
    if (rc == TB_OK && n->tls != NULL)
        rc = node_tls_server(n, errmsg);
    if (rc == TB_OK && a->local_port != 0) {
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)a->local_port);
        rc = http_server_listen_plain(n->http, listen, errmsg);
    }
    if (rc == TB_OK) /* signed agency requests: replay cache and start time (D9) */
        rc = api_auth_new(n->suite, API_AUTH_REPLAY_CAPACITY, (int64_t)(node_now_ms() / 1000u),
                          &n->auth, errmsg);
    if (rc == TB_OK)
        rc = api_register(n->http, n, errmsg);
    if (rc == TB_OK)
        rc = peer_api_register(n, errmsg);
    if (rc == TB_OK)
        rc = metrics_register(n, errmsg);
    if (rc == TB_OK)
        node_log(NODE_LOG_INFO, "listening", NULL,
                 "city=%s port=%u tls=%s local_port=%u validator=%u of=%u", n->cfg.node.city,
                 (unsigned)http_server_port(n->http), n->tls != NULL ? "on" : "off",
                 (unsigned)http_server_port_plain(n->http), n->self_index, n->validator_count);
    return rc;
}

int node_start(struct node *n, char *errmsg)
{
    TB_ASSERT(n->base != NULL);
    TB_ASSERT(n->http == NULL);
    struct peer_options po;
    peer_options_default(&po);
    po.response_bytes_max = WIRE_PEER_BLOCK_BYTES_MAX;
    if (n->tls != NULL)
        node_tls_client_options(n, &po); /* copied by peer_client_new */
    int rc = node_listen(n, errmsg);
    if (rc == TB_OK)
        rc = peer_client_new(n->base, &po, &n->client, errmsg);
    if (rc != TB_OK)
        return rc;
    n->sig_int = evsignal_new(n->base, SIGINT, node_on_signal, n);
    n->sig_term = evsignal_new(n->base, SIGTERM, node_on_signal, n);
    n->tick = event_new(n->base, -1, EV_PERSIST, node_on_tick, n);
    if (n->sig_int == NULL || n->sig_term == NULL || n->tick == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "events");
    struct timeval tv = {.tv_sec = 0, .tv_usec = NODE_TICK_MS * 1000};
    if (evsignal_add(n->sig_int, NULL) != 0 || evsignal_add(n->sig_term, NULL) != 0 ||
        event_add(n->tick, &tv) != 0)
        return tb_fail(errmsg, TB_EIO, "cannot arm signals and the tick");
    n->drv.start_ms = node_mono_ms(); /* driver_start runs from the tick, after a poll */
    return TB_OK;
}

int node_run(struct node *n, char *errmsg)
{
    TB_ASSERT(n->base != NULL);
    if (event_base_dispatch(n->base) < 0)
        return tb_fail(errmsg, TB_EIO, "event loop failed");
    return TB_OK;
}

void node_stop(struct node *n)
{
    n->stopping = true;
    event_base_loopexit(n->base, NULL);
}

void node_free(struct node *n)
{
    if (n == NULL)
        return;
    n->stopping = true;
    http_server_free(n->http);   /* no new requests; deferred ones are detached */
    admit_close(n);              /* makes what was queued durable (nobody waits any more) */
    peer_client_free(n->client); /* cancels in-flight calls (callbacks see cancelled) */
    api_auth_free(n->auth);      /* after the server: no request can reach the gate */
    driver_close(n);
    if (n->sig_int != NULL)
        event_free(n->sig_int);
    if (n->sig_term != NULL)
        event_free(n->sig_term);
    if (n->tick != NULL)
        event_free(n->tick);
    mempool_release(&n->mempool);
    peer_api_gossip_release(n);
    for (uint32_t i = 0; i < NODE_PEERS_MAX; i++)
        cr_key_free(n->peers[i].key);
    ledger_close(n->ledger);
    store_close(n->store); /* LMDB last: nothing above may still hold a transaction */
    cr_key_free(n->key);
    node_tls_close(n);
    cfg_genesis_release(&n->genesis);
    if (n->base != NULL)
        event_base_free(n->base);
    tb_free(n);
}

/* -------------------------------------------------------------- accessors */

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

struct api_auth *node_api_auth(struct node *n)
{
    return n->auth;
}

struct event_base *node_event_base(struct node *n)
{
    return n->base;
}

bool node_writable(const struct node *n)
{
    return n->writable && !n->stopping;
}

/* ------------------------------------- tx lookup (admission is in admit.c) */

int node_committed_lookup(struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                          struct node_tx_result *out, char *errmsg)
{
    int rc = store_txloc_get(txn, id, &out->loc, errmsg);
    if (rc != TB_OK)
        return rc;
    out->state = NODE_TX_COMMITTED;
    memmove(out->id, id, WIRE_HASH_BYTES); /* admit.c passes out->id itself */
    return TB_OK;
}

int node_tx_lookup(struct node *n, const uint8_t id[WIRE_HASH_BYTES], struct node_tx_result *out,
                   char *errmsg)
{
    struct store_txn *txn = NULL;
    struct tb_buf buf;
    struct wire_tx tx;
    memset(out, 0, sizeof(*out));
    memcpy(out->id, id, WIRE_HASH_BYTES);
    tb_buf_init(&buf, WIRE_BLOCK_BYTES_MAX);
    int rc = store_begin_read(n->store, &txn, errmsg);
    if (rc == TB_OK) {
        rc = node_committed_lookup(txn, id, out, errmsg);
        if (rc == TB_OK) {
            struct tb_bytes env = {0};
            size_t count = 0;
            rc = store_block_get(txn, out->loc.height, &buf, errmsg);
            /* Checked in full when committed: walk to the one tx, do not decode the block. */
            if (rc == TB_OK &&
                wire_block_spans(buf.data, buf.len, out->loc.index, NULL, &env, &count) == TB_OK &&
                wire_tx_decode(env.ptr, env.len, &tx, NULL) == TB_OK)
                out->kind = tx.kind;
        } else if (rc == TB_ENOTFOUND) {
            rc = store_pending_get(txn, id, &buf, errmsg);
            if (rc == TB_OK) {
                out->state = NODE_TX_PENDING;
                if (wire_tx_decode(buf.data, buf.len, &tx, NULL) == TB_OK)
                    out->kind = tx.kind;
            }
        }
    }
    store_abort(txn);
    tb_buf_release(&buf);
    if (rc == TB_ENOTFOUND) {
        out->state = NODE_TX_UNKNOWN;
        rc = TB_OK;
    }
    return rc == TB_OK ? TB_OK : TB_EIO;
}

/* ---------------------------------------------------------------- status */

int node_status_get(struct node *n, struct node_status *out, char *errmsg)
{
    TB_ASSERT(n->validator_count >= 1);
    struct store_txn *txn = NULL;
    memset(out, 0, sizeof(*out));
    out->city = n->cfg.node.city;
    out->name = n->cfg.node.name;
    out->suite = n->suite;
    memcpy(out->chain_id, n->chain_id, WIRE_HASH_BYTES);
    int rc = store_begin_read(n->store, &txn, errmsg);
    if (rc == TB_OK)
        rc = ledger_tip_get(n->ledger, txn, &out->tip, errmsg);
    store_abort(txn);
    if (rc != TB_OK)
        return TB_EIO;
    out->pending = n->mempool.count;
    out->validator_index = n->self_index;
    out->round = n->drv.core.state.round;
    for (uint32_t i = 0; i < n->validator_count; i++) {
        const struct node_peer *p = &n->peers[i];
        if (p->self)
            continue;
        struct node_peer_info *pi = &out->peers[out->peer_count++];
        snprintf(pi->city, sizeof(pi->city), "%s", p->member->city);
        snprintf(pi->endpoint, sizeof(pi->endpoint), "%s", p->member->endpoint);
        pi->height = p->height;
        pi->last_seen_ms = p->last_seen_ms;
        pi->state = p->up ? NODE_PEER_UP : NODE_PEER_DOWN;
    }
    TB_ASSERT(out->peer_count < NODE_PEERS_MAX);
    return TB_OK;
}
