/*
 * node/metrics.c: GET /metrics in the Prometheus text format (version 0.0.4): committed
 * height and txs, rounds, pending txs, peers up/down, HTTP answers by status class (the
 * node core's own routes, plus the server's request total), store errors, sync counters.
 * Must never: expose anything about a record or a subject.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "tb_assert.h"

#define METRICS_TEXT_MAX (16u * 1024u)

void metrics_count_status(struct node *n, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        n->metrics.http_by_class[cls]++;
}

static void metrics_put(struct tb_buf *b, bool *ok, const char *fmt, ...) TB_PRINTF(3, 4);

static void metrics_put(struct tb_buf *b, bool *ok, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    TB_ASSERT(len >= 0 && (size_t)len < sizeof(line));
    if (*ok && tb_buf_append(b, line, (size_t)len) != TB_OK)
        *ok = false;
}

static void metrics_counter(struct tb_buf *b, bool *ok, const char *name, const char *help,
                            const char *type, uint64_t value)
{
    metrics_put(b, ok, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name,
                value);
}

static void metrics_render(struct node *n, struct tb_buf *b, bool *ok)
{
    const struct node_metrics *m = &n->metrics;
    struct http_server_stats hs;
    http_server_stats_get(n->http, &hs);
    metrics_counter(b, ok, "tongban_height", "Latest committed height.", "gauge", n->drv.committed);
    metrics_counter(b, ok, "tongban_round", "Current consensus round.", "gauge",
                    n->drv.core.state.round);
    metrics_counter(b, ok, "tongban_rounds_total", "Consensus rounds entered.", "counter",
                    m->rounds_total);
    metrics_counter(b, ok, "tongban_committed_blocks_total", "Blocks committed.", "counter",
                    m->committed_blocks);
    metrics_counter(b, ok, "tongban_committed_txs_total", "Transactions committed.", "counter",
                    m->committed_txs);
    metrics_counter(b, ok, "tongban_pending_txs", "Transactions in the mempool.", "gauge",
                    n->mempool.count);
    metrics_counter(b, ok, "tongban_store_errors_total", "Storage errors.", "counter",
                    m->store_errors);
    metrics_counter(b, ok, "tongban_store_writable", "1 while the store accepts writes.", "gauge",
                    n->writable ? 1 : 0);
    metrics_counter(b, ok, "tongban_sync_blocks_total", "Blocks applied by block sync.", "counter",
                    m->sync_blocks);
    metrics_counter(b, ok, "tongban_sync_refused_total", "Sync answers refused.", "counter",
                    m->sync_refused);
    metrics_counter(b, ok, "tongban_peer_messages_bad_total", "Peer messages refused.", "counter",
                    m->peer_msgs_bad);
    metrics_counter(b, ok, "tongban_admit_batches_total", "Group commits of admitted txs.",
                    "counter", m->admit_batches);
    uint64_t verifies = 0, hits = 0;
    ledger_sig_stats(n->ledger, &verifies, &hits);
    metrics_counter(b, ok, "tongban_signature_checks_total",
                    "Tx signatures verified (cache misses).", "counter", verifies);
    metrics_counter(b, ok, "tongban_signature_cache_hits_total",
                    "Tx signature checks answered by the verified-signature cache.", "counter",
                    hits);
    metrics_counter(b, ok, "tongban_commit_replays_total",
                    "Blocks committed by replaying the writes of their check.", "counter",
                    m->commit_replays);
    metrics_counter(b, ok, "tongban_commit_applies_total",
                    "Blocks committed by applying them in full (block sync, or no replay).",
                    "counter", m->commit_applies);
    metrics_counter(b, ok, "tongban_gossip_messages_total", "Tx gossip messages sent.", "counter",
                    m->gossip_msgs_out);
    metrics_counter(b, ok, "tongban_gossip_dropped_total", "Txs not gossiped: peer queue full.",
                    "counter", m->gossip_dropped);
    metrics_counter(b, ok, "tongban_http_requests_total", "Requests routed by the server.",
                    "counter", hs.requests);
    metrics_put(b, ok,
                "# HELP tongban_http_responses_total Node-core answers by class.\n"
                "# TYPE tongban_http_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        metrics_put(b, ok, "tongban_http_responses_total{class=\"%dxx\"} %" PRIu64 "\n", c,
                    m->http_by_class[c]);
    metrics_put(b, ok,
                "# HELP tongban_peer_up 1 when the peer answered its last status poll.\n"
                "# TYPE tongban_peer_up gauge\n");
    for (uint32_t i = 0; i < n->validator_count; i++) {
        const struct node_peer *p = &n->peers[i];
        if (!p->self)
            metrics_put(b, ok, "tongban_peer_up{peer=\"%s\"} %d\n", p->member->city, p->up ? 1 : 0);
    }
    metrics_put(b, ok,
                "# HELP tongban_peer_height Committed height a peer reported.\n"
                "# TYPE tongban_peer_height gauge\n");
    for (uint32_t i = 0; i < n->validator_count; i++) {
        const struct node_peer *p = &n->peers[i];
        if (!p->self)
            metrics_put(b, ok, "tongban_peer_height{peer=\"%s\"} %" PRIu64 "\n", p->member->city,
                        p->height);
    }
}

static void metrics_on_get(struct http_req *req, void *arg)
{
    struct node *n = arg;
    struct tb_buf b;
    bool ok = true;
    tb_buf_init(&b, METRICS_TEXT_MAX);
    metrics_render(n, &b, &ok);
    metrics_count_status(n, ok ? 200 : 500);
    if (ok)
        http_reply_bytes(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        http_reply_error(req, 500, "internal", "metrics do not fit %u bytes", METRICS_TEXT_MAX);
    tb_buf_release(&b);
}

int metrics_register(struct node *n, char *errmsg)
{
    TB_ASSERT(n->http != NULL);
    return http_server_route(n->http, HTTP_GET, "/metrics", metrics_on_get, n, errmsg);
}
