/*
 * node/sync.c: block sync. A node learns peers' committed heights from their status
 * (GET /v1/peer/status, polled on the tick); when one is ahead it fetches the next block with
 * its commit certificate (GET /v1/peer/blocks/{h}), checks the certificate against the
 * validator keys, and applies and commits the block as the driver does after a decision.
 * One fetch at a time. A peer that answers garbage, a bad certificate or the wrong height is
 * dropped from sync for a backoff. A valid certificate for another block at a height this
 * node committed is evidence of a fork: it is stored and logged, never adopted.
 *
 * Must never: apply a block whose certificate has not been checked, or replace a committed
 * block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define SYNC_TIMEOUT_MS 10000u
#define SYNC_DROP_MS 10000u
#define NODE_EVIDENCE_CERT 3u /* evidence type for conflicting certificates */

int node_cert_check(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                    struct cr_key *const *keys, uint32_t n, uint64_t height,
                    const uint8_t block_hash[WIRE_HASH_BYTES], struct tb_bytes cert, char *errmsg)
{
    struct wire_cert c;
    struct tb_buf vote, input;
    (void)suite;
    TB_ASSERT(n >= 1 && n <= WIRE_VALIDATORS_MAX);
    TB_ASSERT(keys != NULL);
    int rc = wire_cert_decode(cert.ptr, cert.len, &c, errmsg);
    if (rc != TB_OK)
        return rc;
    if (c.height != height)
        return tb_fail(errmsg, TB_EINVAL, "certificate is for height %" PRIu64 ", not %" PRIu64,
                       c.height, height);
    if (memcmp(c.block_hash, block_hash, WIRE_HASH_BYTES) != 0)
        return tb_fail(errmsg, TB_EINVAL, "certificate is for another block");
    if (c.sig_count < cs_quorum(n))
        return tb_fail(errmsg, TB_EINVAL, "%zu signatures, %u needed", c.sig_count, cs_quorum(n));
    struct wire_vote v = {
        .type = WIRE_VOTE_PRECOMMIT, .height = height, .round = c.round, .has_block_hash = true};
    memcpy(v.block_hash, block_hash, WIRE_HASH_BYTES);
    tb_buf_init(&vote, WIRE_SMALL_BYTES_MAX);
    tb_buf_init(&input, WIRE_SMALL_BYTES_MAX + 64);
    rc = wire_vote_encode(&v, &vote, errmsg);
    if (rc == TB_OK)
        rc = wire_vote_sign_input(chain_id, vote.data, vote.len, &input);
    uint64_t seen = 0; /* bit per validator: distinct signers (the decoder also orders them) */
    for (size_t i = 0; rc == TB_OK && i < c.sig_count; i++) {
        uint32_t idx = c.sigs[i].validator_index;
        if (idx >= n || (seen >> idx) & 1u) {
            rc = tb_fail(errmsg, TB_EINVAL, "signer %u is outside the set or repeated", idx);
            break;
        }
        seen |= (uint64_t)1 << idx;
        if (cr_verify(keys[idx], input.data, input.len, c.sigs[i].sig.ptr, c.sigs[i].sig.len) !=
            TB_OK)
            rc = tb_fail(errmsg, TB_EBADSIG, "precommit of validator %u does not verify", idx);
    }
    tb_buf_release(&vote);
    tb_buf_release(&input);
    return rc;
}

struct sync_fetch
{
    struct node *node;
    struct node_peer *peer;
    uint64_t height;
    bool conflict; /* fetched to compare with our own block at that height */
};

static bool sync_in_flight; /* one fetch at a time (one node per process) */

static void sync_drop(struct node *n, struct node_peer *p, const char *why)
{
    n->metrics.sync_refused++;
    p->sync_block_until_ms = node_mono_ms() + SYNC_DROP_MS;
    node_log(NODE_LOG_WARN, "sync_peer_dropped", why, "peer=%s", p->member->city);
}

static void sync_evidence(struct node *n, struct node_peer *p, uint64_t height,
                          struct tb_bytes cert)
{
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE] = "";
    int rc = store_begin_write(n->store, &txn, err);
    if (rc == TB_OK)
        rc = store_evidence_put(txn, height, 0, NODE_EVIDENCE_CERT, p->index, cert, err);
    if (rc == TB_OK)
        rc = store_commit(txn, err);
    else
        store_abort(txn);
    p->sync_block_until_ms = node_mono_ms() + 6 * SYNC_DROP_MS;
    node_log(NODE_LOG_ERROR, "conflicting_certificate", rc == TB_OK ? NULL : err,
             "height=%" PRIu64 " peer=%s stored=%d", height, p->member->city, rc == TB_OK);
}

/* Checks what a peer sent for f->height; returns true when it was applied. */
static bool sync_apply(struct node *n, struct sync_fetch *f, const uint8_t *body, size_t len)
{
    TB_ASSERT(f->height >= 1);
    TB_ASSERT(!f->peer->self);
    struct wire_peer_block pb;
    struct wire_block b;
    char err[TB_ERRMSG_SIZE] = "";
    if (wire_peer_block_decode(body, len, &pb, err) != TB_OK ||
        wire_block_decode(pb.block.ptr, pb.block.len, &b, err) != TB_OK) {
        sync_drop(n, f->peer, err);
        return false;
    }
    uint8_t hash[WIRE_HASH_BYTES];
    wire_block_hash(n->suite, b.header_bytes.ptr, b.header_bytes.len, hash);
    uint64_t h = b.header.height;
    wire_block_release(&b);
    struct cr_key *keys[WIRE_VALIDATORS_MAX];
    for (uint32_t i = 0; i < n->validator_count; i++)
        keys[i] = n->peers[i].key;
    if (h != f->height) {
        sync_drop(n, f->peer, "block of another height");
        return false;
    }
    if (node_cert_check(n->suite, n->chain_id, keys, n->validator_count, h, hash, pb.cert, err) !=
        TB_OK) {
        sync_drop(n, f->peer, err);
        return false;
    }
    if (f->conflict) {
        sync_evidence(n, f->peer, h, pb.cert);
        return false;
    }
    if (h != n->drv.committed + 1)
        return false; /* the driver committed it meanwhile */
    if (driver_commit_block(n, pb.block, pb.cert, err) != TB_OK) {
        node_log(NODE_LOG_WARN, "sync_apply_failed", err, "height=%" PRIu64, h);
        sync_drop(n, f->peer, err);
        return false;
    }
    n->metrics.sync_blocks++;
    driver_after_sync(n, h);
    return true;
}

static void sync_fetch_done(const struct peer_result *r, void *arg)
{
    struct sync_fetch *f = arg;
    struct node *n = f->node;
    sync_in_flight = false;
    f->peer->sync_in_flight = false;
    bool more = false;
    if (!r->cancelled) {
        if (r->rc == TB_OK && r->status == 200)
            more = sync_apply(n, f, r->body, r->body_len);
        else if (r->rc == TB_OK)
            sync_drop(n, f->peer, "block request refused");
    }
    tb_free(f);
    if (more && !n->stopping)
        sync_tick(n); /* keep going while behind */
}

static void sync_request(struct node *n, struct node_peer *p, uint64_t height, bool conflict)
{
    TB_ASSERT(!p->self);
    TB_ASSERT(height >= 1);
    char url[CFG_ENDPOINT_MAX + 64];
    struct sync_fetch *f = tb_calloc(1, sizeof(*f));
    if (f == NULL)
        return;
    *f = (struct sync_fetch){.node = n, .peer = p, .height = height, .conflict = conflict};
    snprintf(url, sizeof(url), "%s/v1/peer/blocks/%" PRIu64, p->member->endpoint, height);
    struct peer_retry retry = {.attempts_max = 2, .delay_base_ms = 200, .delay_max_ms = 1000};
    if (peer_request(n->client, "GET", url, NULL, NULL, 0, SYNC_TIMEOUT_MS, &retry, sync_fetch_done,
                     f) != TB_OK) {
        tb_free(f);
        return;
    }
    sync_in_flight = true;
    p->sync_in_flight = true;
}

void sync_tick(struct node *n)
{
    if (sync_in_flight || n->stopping)
        return;
    uint64_t now = node_mono_ms();
    uint64_t next = n->drv.committed + 1;
    for (uint32_t i = 0; i < n->validator_count; i++) {
        struct node_peer *p = &n->peers[i];
        if (p->self || !p->up || p->height < next || now < p->sync_block_until_ms)
            continue;
        sync_request(n, p, next, false);
        return;
    }
}

void sync_on_status(struct node *n, struct node_peer *p, const struct wire_peer_status *st)
{
    TB_ASSERT(!p->self);
    TB_ASSERT(p->index < n->validator_count);
    if (memcmp(st->chain_id, n->chain_id, WIRE_HASH_BYTES) != 0) {
        p->up = false;
        node_log(NODE_LOG_ERROR, "peer_wrong_chain", NULL, "peer=%s", p->member->city);
        return;
    }
    if (st->height < p->height && p->height != 0)
        node_log(NODE_LOG_WARN, "peer_height_down", NULL, "peer=%s was=%" PRIu64 " now=%" PRIu64,
                 p->member->city, p->height, st->height);
    p->height = st->height;
    if (st->height == 0 || st->height > n->drv.committed || sync_in_flight)
        return;
    uint8_t ours[WIRE_HASH_BYTES];
    struct store_txn *txn = NULL;
    char err[TB_ERRMSG_SIZE];
    if (store_begin_read(n->store, &txn, err) != TB_OK)
        return;
    int rc = store_block_hash_get(txn, st->height, ours, err);
    store_abort(txn);
    if (rc == TB_OK && memcmp(ours, st->block_hash, WIRE_HASH_BYTES) != 0 &&
        node_mono_ms() >= p->sync_block_until_ms)
        sync_request(n, p, st->height, true); /* a fork claim: check its certificate */
}
