/*
 * node/peer_api.c: the peer API between member nodes, MessagePack over HTTP (docs/peer.md):
 *   POST /v1/peer/consensus   one signed proposal (with its block) or vote
 *   POST /v1/peer/txs         gossip of admitted tx envelopes
 *   GET  /v1/peer/status      chain id, committed height and hash, round
 *   GET  /v1/peer/blocks/{h}  a committed block with its commit certificate
 * and the client side: broadcasts, tx gossip and the status poll that tracks peers up/down.
 *
 * Every input is untrusted: decoded strictly (wire_peer.h), signatures checked by the driver,
 * txs admitted exactly as the JSON API admits them. Must never: relay a message it could not
 * decode, block the loop, or log a body.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define PEER_STATUS_TIMEOUT_MS 2000u
#define PEER_MSGPACK "application/msgpack"

static const char *const peer_headers[] = {"Content-Type: " PEER_MSGPACK, NULL};

static void peer_reply(struct node *n, struct http_req *req, int status, const void *body,
                       size_t len)
{
    metrics_count_status(n, status);
    http_reply_bytes(req, status, PEER_MSGPACK, body, len);
}

static void peer_reply_error(struct node *n, struct http_req *req, int status, const char *code,
                             const char *why)
{
    metrics_count_status(n, status);
    http_reply_error(req, status, code, "%s", why);
}

/* ------------------------------------------------------------------ server */

static void peer_on_consensus(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct tb_bytes body = http_req_body(req);
    if (body.len == 0 || body.len > WIRE_PEER_CONSENSUS_BYTES_MAX) {
        peer_reply_error(n, req, 400, "bad_request", "empty or oversized message");
        return;
    }
    /* Answer first: the sender does not wait for our consensus work. The body stays valid
     * until this handler returns, so the driver runs before we return. */
    driver_on_message(n, body);
    peer_reply(n, req, 202, NULL, 0);
}

static void peer_on_txs(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct tb_bytes body = http_req_body(req);
    struct wire_peer_txs *m = tb_calloc(1, sizeof(*m));
    char err[TB_ERRMSG_SIZE] = "";
    if (m == NULL) {
        peer_reply_error(n, req, 500, "internal", "out of memory");
        return;
    }
    if (wire_peer_txs_decode(body.ptr, body.len, m, err) != TB_OK) {
        n->metrics.peer_msgs_bad++;
        peer_reply_error(n, req, 400, "bad_request", err);
        tb_free(m);
        return;
    }
    size_t accepted = 0;
    int rc = TB_OK;
    for (size_t i = 0; i < m->count; i++) {
        struct node_tx_result res;
        rc = node_admit(n, m->txs[i], false, &res, err);
        if (res.state == NODE_TX_NEW)
            accepted++;
        if (rc == TB_ENOSPC || rc == TB_EIO)
            break;
    }
    n->metrics.txs_gossiped_in += accepted;
    tb_free(m);
    if (rc == TB_ENOSPC || rc == TB_EIO)
        peer_reply_error(n, req, 503, "unavailable", "storage refuses writes");
    else
        peer_reply(n, req, 202, NULL, 0);
}

static void peer_on_status(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct node_status st;
    struct wire_peer_status ws;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE] = "";
    memset(&ws, 0, sizeof(ws));
    if (node_status_get(n, &st, err) != TB_OK) {
        peer_reply_error(n, req, 503, "unavailable", err);
        return;
    }
    memcpy(ws.chain_id, n->chain_id, WIRE_HASH_BYTES);
    ws.height = st.tip.state.height;
    memcpy(ws.block_hash, st.tip.state.block_hash, WIRE_HASH_BYTES);
    ws.round = st.round;
    tb_buf_init(&out, WIRE_SMALL_BYTES_MAX);
    if (wire_peer_status_encode(&ws, &out, err) == TB_OK)
        peer_reply(n, req, 200, out.data, out.len);
    else
        peer_reply_error(n, req, 500, "internal", err);
    tb_buf_release(&out);
}

static bool peer_parse_height(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '1' || s[0] > '9' || strlen(s) > 19)
        return false;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return end != NULL && *end == '\0';
}

static void peer_on_block(struct http_req *req, void *arg)
{
    struct node *n = arg;
    uint64_t h = 0;
    if (!peer_parse_height(http_req_param(req, "height"), &h)) {
        peer_reply_error(n, req, 400, "bad_request", "height must be a positive integer");
        return;
    }
    struct store_txn *txn = NULL;
    struct tb_buf block, cert, out;
    char err[TB_ERRMSG_SIZE] = "";
    tb_buf_init(&block, WIRE_BLOCK_BYTES_MAX);
    tb_buf_init(&cert, WIRE_CERT_BYTES_MAX);
    tb_buf_init(&out, WIRE_PEER_BLOCK_BYTES_MAX);
    int rc = store_begin_read(n->store, &txn, err);
    if (rc == TB_OK)
        rc = store_block_get(txn, h, &block, err);
    if (rc == TB_OK)
        rc = store_cert_get(txn, h, &cert, err);
    store_abort(txn);
    if (rc == TB_OK) {
        struct wire_peer_block pb = {.block = {block.data, block.len},
                                     .cert = {cert.data, cert.len}};
        rc = wire_peer_block_encode(&pb, &out, err);
    }
    if (rc == TB_OK)
        peer_reply(n, req, 200, out.data, out.len);
    else if (rc == TB_ENOTFOUND)
        peer_reply_error(n, req, 404, "not_found", "no committed block at that height");
    else
        peer_reply_error(n, req, 500, "internal", err);
    tb_buf_release(&block);
    tb_buf_release(&cert);
    tb_buf_release(&out);
}

int peer_api_register(struct node *n, char *errmsg)
{
    int rc =
        http_server_route(n->http, HTTP_POST, "/v1/peer/consensus", peer_on_consensus, n, errmsg);
    if (rc == TB_OK)
        rc = http_server_route(n->http, HTTP_POST, "/v1/peer/txs", peer_on_txs, n, errmsg);
    if (rc == TB_OK)
        rc = http_server_route(n->http, HTTP_GET, "/v1/peer/status", peer_on_status, n, errmsg);
    if (rc == TB_OK)
        rc = http_server_route(n->http, HTTP_GET, "/v1/peer/blocks/{height}", peer_on_block, n,
                               errmsg);
    return rc;
}

/* ------------------------------------------------------------------ client */

static void peer_mark(struct node *n, struct node_peer *p, bool up)
{
    TB_ASSERT(!p->self);
    TB_ASSERT(p->member != NULL);
    if (up) {
        p->failures = 0;
        p->last_seen_ms = node_now_ms();
        if (!p->up)
            node_log(NODE_LOG_INFO, "peer_up", NULL, "peer=%s", p->member->city);
        p->up = true;
        return;
    }
    if (p->failures < 16)
        p->failures++;
    uint64_t backoff = (uint64_t)NODE_TICK_MS << (p->failures < 6 ? p->failures : 6);
    if (backoff > NODE_PEER_BACKOFF_MAX_MS)
        backoff = NODE_PEER_BACKOFF_MAX_MS;
    p->next_poll_ms = node_mono_ms() + backoff;
    if (p->up)
        node_log(NODE_LOG_WARN, "peer_down", NULL, "peer=%s backoff_ms=%" PRIu64, p->member->city,
                 backoff);
    p->up = false;
}

static void peer_send_done(const struct peer_result *r, void *arg)
{
    struct node_peer *p = arg;
    (void)p;
    (void)r; /* delivery is best effort: the status poll tracks up/down, re-gossip repairs */
}

static void peer_post(struct node *n, struct node_peer *p, const char *path, struct tb_bytes body)
{
    TB_ASSERT(!p->self);
    TB_ASSERT(body.len > 0);
    char url[CFG_ENDPOINT_MAX + 64];
    snprintf(url, sizeof(url), "%s%s", p->member->endpoint, path);
    struct peer_retry retry = {.attempts_max = 2,
                               .delay_base_ms = 100,
                               .delay_max_ms = 500,
                               .non_idempotent = true}; /* receivers dedupe both */
    if (peer_request(n->client, "POST", url, peer_headers, body.ptr, body.len,
                     n->cfg.peer.request_timeout_ms, &retry, peer_send_done, p) != TB_OK)
        node_log(NODE_LOG_DEBUG, "peer_send_failed", peer_client_errmsg(n->client), "peer=%s",
                 p->member->city);
}

void peer_api_broadcast(struct node *n, struct tb_bytes msg)
{
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        if (!p->self && p->up && !n->stopping)
            peer_post(n, p, "/v1/peer/consensus", msg);
    }
}

void peer_api_gossip_tx(struct node *n, struct tb_bytes envelope)
{
    struct wire_peer_txs *m = tb_calloc(1, sizeof(*m));
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE];
    if (m == NULL)
        return;
    m->txs[0] = envelope;
    m->count = 1;
    tb_buf_init(&out, WIRE_PEER_TXS_BYTES_MAX);
    if (wire_peer_txs_encode(m, &out, err) == TB_OK) {
        /* Up peers only: a peer that was down gets the tx in a block (it is in our pending). */
        for (uint32_t i = 0; i < n->validator_count; i++) {
            if (!n->peers[i].self && n->peers[i].up && !n->stopping)
                peer_post(n, &n->peers[i], "/v1/peer/txs", (struct tb_bytes){out.data, out.len});
        }
    }
    tb_buf_release(&out);
    tb_free(m);
}

static void peer_status_done(const struct peer_result *r, void *arg)
{
    struct node_peer *p = arg;
    struct node *n = p->node;
    struct wire_peer_status st;
    char err[TB_ERRMSG_SIZE] = "";
    p->poll_in_flight = false;
    if (r->cancelled)
        return;
    p->polled = true;
    if (r->rc != TB_OK || r->status != 200 ||
        wire_peer_status_decode(r->body, r->body_len, &st, err) != TB_OK) {
        peer_mark(n, p, false);
        return;
    }
    bool was_up = p->up;
    peer_mark(n, p, true);
    p->next_poll_ms = node_mono_ms() + NODE_TICK_MS;
    sync_on_status(n, p, &st);
    if (!was_up && p->up)
        driver_on_peer_up(n, p);
}

void peer_api_poll(struct node *n)
{
    char url[CFG_ENDPOINT_MAX + 64];
    uint64_t now = node_mono_ms();
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        if (p->self || p->poll_in_flight || now < p->next_poll_ms || n->stopping)
            continue;
        snprintf(url, sizeof(url), "%s/v1/peer/status", p->member->endpoint);
        if (peer_request(n->client, "GET", url, NULL, NULL, 0, PEER_STATUS_TIMEOUT_MS, NULL,
                         peer_status_done, p) == TB_OK)
            p->poll_in_flight = true;
    }
}
