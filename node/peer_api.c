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
    /* Each tx is checked now and joins this loop turn's group commit; nobody waits for it
     * (the sender keeps it in its own `pending`, so a failed commit here loses nothing). */
    size_t accepted = 0;
    for (size_t i = 0; i < m->count; i++) {
        struct node_tx_result res;
        if (node_admit_queue(n, m->txs[i], false, NULL, NULL, &res, err) == TB_OK &&
            res.state == NODE_TX_QUEUED)
            accepted++;
    }
    n->metrics.txs_gossiped_in += accepted;
    tb_free(m);
    if (!node_writable(n))
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
    if (rc == TB_OK)
        rc = peer_documents_register(n, errmsg); /* issue 6: documents with consent */
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

/* POSTs body to p's path; done(result, p) runs once. False when it could not be sent. */
static bool peer_post_cb(struct node *n, struct node_peer *p, const char *path,
                         struct tb_bytes body, peer_done_fn done)
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
                     n->cfg.peer.request_timeout_ms, &retry, done, p) != TB_OK) {
        node_log(NODE_LOG_DEBUG, "peer_send_failed", peer_client_errmsg(n->client), "peer=%s",
                 p->member->city);
        return false;
    }
    return true;
}

static void peer_post(struct node *n, struct node_peer *p, const char *path, struct tb_bytes body)
{
    (void)peer_post_cb(n, p, path, body, peer_send_done);
}

void peer_api_broadcast(struct node *n, struct tb_bytes msg)
{
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        if (!p->self && p->up && !n->stopping)
            peer_post(n, p, "/v1/peer/consensus", msg);
    }
}

/* ------------------------------------------------------------- tx gossip */

static void peer_gossip_send(struct node *n, struct node_peer *p);

static void peer_gossip_done(const struct peer_result *r, void *arg)
{
    struct node_peer *p = arg;
    p->gossip_in_flight = false;
    if (r->cancelled || p->node->stopping)
        return;
    /* Best effort: a lost message is repaired by the txs reaching the peer in a block. */
    peer_gossip_send(p->node, p);
}

/*
 * Sends what is queued for p, at most WIRE_PEER_TXS_MAX envelopes and the message limit in
 * one POST; the rest waits for its answer. One POST in flight per peer keeps one kept-alive
 * connection busy instead of opening one per tx, and lets a batch build while it travels.
 */
static void peer_gossip_send(struct node *n, struct node_peer *p)
{
    struct wire_peer_txs *m;
    struct tb_buf out;
    char err[TB_ERRMSG_SIZE];
    if (p->gossip_in_flight || p->gossip_queued == 0 || !p->up || n->stopping)
        return;
    m = tb_calloc(1, sizeof(*m));
    if (m == NULL)
        return;
    size_t off = 0, bytes = 64; /* the message's own framing, generously */
    const uint8_t *q = p->gossip_queue.data;
    while (m->count < WIRE_PEER_TXS_MAX && off < p->gossip_queue.len) {
        TB_ASSERT(p->gossip_queue.len - off >= 4);
        size_t len =
            (size_t)q[off] << 24 | (size_t)q[off + 1] << 16 | (size_t)q[off + 2] << 8 | q[off + 3];
        TB_ASSERT(len > 0 && len <= p->gossip_queue.len - off - 4);
        if (m->count > 0 && bytes + len + 8 > WIRE_PEER_TXS_BYTES_MAX)
            break;
        m->txs[m->count++] = (struct tb_bytes){q + off + 4, len};
        bytes += len + 8;
        off += 4 + len;
    }
    TB_ASSERT(m->count > 0 && m->count <= p->gossip_queued);
    tb_buf_init(&out, WIRE_PEER_TXS_BYTES_MAX);
    if (wire_peer_txs_encode(m, &out, err) == TB_OK &&
        peer_post_cb(n, p, "/v1/peer/txs", (struct tb_bytes){out.data, out.len},
                     peer_gossip_done)) {
        p->gossip_in_flight = true;
        n->metrics.gossip_msgs_out++;
    }
    tb_buf_release(&out);
    /* Sent or not, these leave the queue: the peer gets them in a block otherwise. */
    memmove(p->gossip_queue.data, p->gossip_queue.data + off, p->gossip_queue.len - off);
    p->gossip_queue.len -= off;
    p->gossip_queued -= m->count;
    tb_free(m);
}

void peer_api_gossip_txs(struct node *n, const struct tb_bytes *envelopes, size_t count)
{
    TB_ASSERT(count > 0);
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        /* Up peers only: a peer that was down gets the tx in a block (it is in our pending). */
        if (p->self || !p->up || n->stopping)
            continue;
        if (p->gossip_queue.max == 0)
            tb_buf_init(&p->gossip_queue, NODE_GOSSIP_QUEUE_BYTES);
        for (size_t k = 0; k < count; k++) {
            size_t len = envelopes[k].len;
            TB_ASSERT(len > 0 && len <= WIRE_TX_BYTES_MAX);
            uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                              (uint8_t)len};
            /* A full queue (a slow peer) drops the tx for this peer; it reaches the peer
             * in a block. Checked first: a failed tb_buf_append frees the whole queue. */
            if (p->gossip_queue.len + sizeof(hdr) + len > p->gossip_queue.max) {
                n->metrics.gossip_dropped++;
                continue;
            }
            if (tb_buf_append(&p->gossip_queue, hdr, sizeof(hdr)) != TB_OK ||
                tb_buf_append(&p->gossip_queue, envelopes[k].ptr, len) != TB_OK) {
                n->metrics.gossip_dropped += count - k; /* ENOMEM: the queue is gone */
                p->gossip_queued = 0;
                break;
            }
            p->gossip_queued++;
        }
        peer_gossip_send(n, p);
    }
}

void peer_api_gossip_release(struct node *n)
{
    for (uint32_t i = 0; i < NODE_PEERS_MAX; i++) {
        tb_buf_release(&n->peers[i].gossip_queue);
        n->peers[i].gossip_queued = 0;
    }
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
