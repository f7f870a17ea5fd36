/*
 * node/ledger_block.c: applying a block (header checks, every tx checked against the state
 * the txs before it left, then written), and building one for the proposer through the
 * very same per-tx step, so that a built block is accepted by apply by construction and
 * the two can never drift apart.
 *
 * Each tx is checked and applied into the caller's write transaction before the next is
 * checked: LMDB shows a write transaction its own writes, so "the state as modified by the
 * txs before it" is simply the transaction (a repeated tx finds its own txloc: replay).
 * Status-tree changes are collected and applied in one batch at the end of the block (a
 * later op on the same key wins, as cr_smt_update promises).
 *
 * Must never: commit or abort the caller's transaction, read a clock, or return TB_OK with
 * a log or status root that differs from what the header says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"

static int ledger_status_op(struct ledger *l, const uint8_t key[WIRE_HASH_BYTES], uint8_t state,
                            uint64_t a, uint64_t b, uint64_t t, struct cr_smt_op *op, char *errmsg)
{
    struct wire_status st = {.state = state, .height_a = a, .height_b = b, .time_s = t};
    uint8_t raw[64];
    struct tb_buf buf;
    tb_buf_init(&buf, sizeof(raw));
    int rv = wire_status_encode(&st, &buf, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(buf.len <= sizeof(raw));
    memset(op, 0, sizeof(*op));
    memcpy(op->key, key, WIRE_HASH_BYTES);
    cr_hash(l->suite, buf.data, buf.len, op->value_hash);
    tb_buf_release(&buf);
    return TB_OK;
}

static int ledger_apply_issue(struct ledger *l, struct store_txn *txn,
                              const struct ledger_txctx *ctx, uint64_t height, struct cr_smt_op *op,
                              char *errmsg)
{
    const struct wire_record_issue *b = &ctx->body.u.issue;
    struct ledger_rec rec = {
        .state = LEDGER_STATE_ACTIVE, .issued_height = height, .expires_at = b->expires_at};
    memcpy(rec.subject, b->subject, WIRE_HASH_BYTES);
    ledger_cstr(rec.type, sizeof(rec.type), b->type);
    ledger_cstr(rec.city, sizeof(rec.city), b->city);
    ledger_cstr(rec.agency, sizeof(rec.agency), b->agency);
    int rv = ledger_rec_put(l, txn, ctx->id, &rec, errmsg);
    if (rv == TB_OK)
        rv = store_subject_put(txn, rec.subject, rec.type, ctx->id, errmsg);
    if (rv == TB_OK)
        rv = store_issuer_put(txn, rec.city, rec.agency, ctx->id, errmsg);
    if (rv == TB_OK)
        rv = ledger_status_op(l, ctx->id, LEDGER_STATE_ACTIVE, height, 0, rec.expires_at, op,
                              errmsg);
    return rv;
}

static int ledger_apply_revoke(struct ledger *l, struct store_txn *txn,
                               const struct ledger_txctx *ctx, uint64_t height,
                               struct cr_smt_op *op, char *errmsg)
{
    const uint8_t *id = ctx->body.u.revoke.record_id;
    struct ledger_rec rec = ctx->rec;
    TB_ASSERT(rec.state == LEDGER_STATE_ACTIVE); /* the check refused anything else */
    TB_ASSERT(rec.issued_height <= height);
    rec.state = LEDGER_STATE_ENDED;
    rec.revoked_height = height;
    int rv = ledger_rec_put(l, txn, id, &rec, errmsg);
    if (rv == TB_OK)
        rv = ledger_status_op(l, id, LEDGER_STATE_ENDED, rec.issued_height, height, rec.expires_at,
                              op, errmsg);
    return rv;
}

static int ledger_apply_register(struct ledger *l, struct store_txn *txn,
                                 const struct ledger_txctx *ctx, uint64_t height,
                                 struct cr_smt_op *op, char *errmsg)
{
    const struct wire_agency_register *b = &ctx->body.u.reg;
    uint8_t key_id[WIRE_HASH_BYTES], tree_key[WIRE_HASH_BYTES];
    uint8_t mkey[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES];
    struct ledger_ag ag = {.state = LEDGER_STATE_ACTIVE,
                           .registered_height = height,
                           .not_after = b->not_after,
                           .body = ctx->tx.body};
    int rv = ledger_ag_put(l, txn, b->public_key, &ag, errmsg);
    if (rv != TB_OK)
        return rv;
    /* Signatures name keys by id H(public key): keep the way back to the key. */
    cr_hash(l->suite, b->public_key.ptr, b->public_key.len, key_id);
    ledger_meta_key(mkey, 'k', key_id);
    struct tb_bytes mk = {mkey, sizeof(mkey)};
    rv = store_put(txn, STORE_DB_META, mk, b->public_key, STORE_PUT_NEW, errmsg);
    if (rv != TB_OK)
        return rv;
    wire_agency_key_id(l->suite, b->public_key.ptr, b->public_key.len, tree_key);
    return ledger_status_op(l, tree_key, LEDGER_STATE_ACTIVE, height, 0, b->not_after, op, errmsg);
}

static int ledger_apply_retire(struct ledger *l, struct store_txn *txn,
                               const struct ledger_txctx *ctx, uint64_t height,
                               struct cr_smt_op *op, char *errmsg)
{
    const struct wire_agency_retire *b = &ctx->body.u.retire;
    uint8_t tree_key[WIRE_HASH_BYTES];
    struct ledger_ag ag = ctx->ag;
    TB_ASSERT(ag.state == LEDGER_STATE_ACTIVE);
    TB_ASSERT(ag.registered_height <= height);
    ag.state = LEDGER_STATE_ENDED;
    ag.retired_height = height;
    int rv = ledger_ag_put(l, txn, b->public_key, &ag, errmsg);
    if (rv != TB_OK)
        return rv;
    wire_agency_key_id(l->suite, b->public_key.ptr, b->public_key.len, tree_key);
    return ledger_status_op(l, tree_key, LEDGER_STATE_ENDED, ag.registered_height, height,
                            ag.not_after, op, errmsg);
}

int ledger_tx_apply(struct ledger *l, struct store_txn *txn, const struct ledger_txctx *ctx,
                    uint64_t height, uint32_t index, struct cr_smt_op *ops, size_t *op_count,
                    char *errmsg)
{
    TB_ASSERT(height >= 1);
    TB_ASSERT(ctx->body.kind == ctx->tx.kind);
    struct store_txloc loc = {.height = height, .index = index};
    int rv = store_txloc_put(txn, ctx->id, &loc, errmsg);
    if (rv == TB_OK)
        rv = store_pending_del(txn, ctx->id, NULL, errmsg);
    if (rv != TB_OK)
        return rv;
    struct cr_smt_op *op = &ops[*op_count];
    switch (ctx->body.kind) {
    case WIRE_KIND_RECORD_ISSUE:
        rv = ledger_apply_issue(l, txn, ctx, height, op, errmsg);
        break;
    case WIRE_KIND_RECORD_REVOKE:
        rv = ledger_apply_revoke(l, txn, ctx, height, op, errmsg);
        break;
    case WIRE_KIND_AGENCY_REGISTER:
        rv = ledger_apply_register(l, txn, ctx, height, op, errmsg);
        break;
    case WIRE_KIND_AGENCY_RETIRE:
        rv = ledger_apply_retire(l, txn, ctx, height, op, errmsg);
        break;
    case WIRE_KIND_ACCESS_AUDIT:
        /* The entry is the audit body; it is filed under the record's subject. */
        return store_audit_put(txn, ctx->rec.subject, height, index, ctx->tx.body, errmsg);
    case WIRE_KIND_MEMBER_CHANGE:
        TB_UNREACHABLE(); /* refused by the check */
    }
    if (rv == TB_OK)
        (*op_count)++;
    return rv;
}

/* ------------------------------------------------------------------ blocks */

/* What applying a run of txs needs and produces. */
struct ledger_run
{
    struct store_state state; /* the parent's, then the new one */
    uint64_t time_ms;
    struct cr_log log;
    struct cr_smt_op *ops;
    size_t op_count;
    struct ledger_txctx ctx;
};

static int ledger_run_begin(struct ledger *l, struct store_txn *txn, struct ledger_run *run,
                            size_t tx_max, uint64_t *parent_time_ms, char *errmsg)
{
    struct ledger_tip tip;
    memset(run, 0, sizeof(*run));
    int rv = ledger_tip_get(l, txn, &tip, errmsg);
    if (rv != TB_OK)
        return rv;
    run->state = tip.state;
    *parent_time_ms = tip.time_ms;
    struct cr_log_store ls = store_log_tree(l->store);
    rv = cr_log_init(&run->log, l->suite, &ls, txn, run->state.log_size);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "log tree: %s", run->log.errmsg);
    /* The stored root must be the tree's: a corrupt log must not grow silently. */
    uint8_t root[CR_HASH_BYTES];
    rv = cr_log_root(&run->log, txn, run->log.size, root);
    TB_ASSERT(rv == TB_OK); /* the current size needs no reads */
    if (memcmp(root, run->state.log_root, CR_HASH_BYTES) != 0) {
        cr_log_release(&run->log);
        return tb_fail(errmsg, TB_EIO, "log tree root differs from the stored state (corrupt)");
    }
    if (tx_max > 0) {
        run->ops = tb_calloc(tx_max, sizeof(*run->ops));
        if (run->ops == NULL) {
            cr_log_release(&run->log);
            return tb_fail(errmsg, TB_ENOMEM, "status ops: out of memory");
        }
    }
    return TB_OK;
}

/* Safe after a failed ledger_run_begin too: cr_log_release is idempotent. */
static void ledger_run_end(struct ledger_run *run)
{
    cr_log_release(&run->log);
    tb_free(run->ops);
    run->ops = NULL;
}

/* Checks and applies one tx at index; a refusal's verdict names the index. */
static int ledger_run_tx(struct ledger *l, struct store_txn *txn, struct ledger_run *run,
                         struct tb_bytes envelope, uint32_t index, struct ledger_verdict *v)
{
    uint64_t height = run->state.height + 1;
    uint64_t size_before = run->log.size;
    int rv = ledger_tx_check(l, txn, envelope, run->time_ms, &run->ctx, v);
    v->has_index = true;
    v->index = index;
    if (rv != TB_OK)
        return rv;
    rv = ledger_tx_apply(l, txn, &run->ctx, height, index, run->ops, &run->op_count, l->errmsg);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "apply", l->errmsg);
    uint8_t leaf[CR_HASH_BYTES];
    cr_log_leaf_hash(l->suite, run->ctx.id, WIRE_HASH_BYTES, leaf);
    rv = cr_log_append(&run->log, txn, leaf);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "log append", run->log.errmsg);
    TB_ASSERT(run->log.size == size_before + 1); /* the log only appends */
    return TB_OK;
}

/* Applies the collected status ops and fills the new state's roots and size. */
static int ledger_run_finish(struct ledger *l, struct store_txn *txn, struct ledger_run *run,
                             char *errmsg)
{
    uint8_t root[CR_HASH_BYTES];
    memcpy(root, run->state.state_root, CR_HASH_BYTES);
    if (run->op_count > 0) {
        int rv = cr_smt_update(&l->smt, txn, root, run->ops, run->op_count, root);
        if (rv != TB_OK)
            return tb_fail(errmsg, rv, "status tree: %s", l->smt.errmsg);
    }
    memcpy(run->state.state_root, root, CR_HASH_BYTES);
    int rv = cr_log_root(&run->log, txn, run->log.size, run->state.log_root);
    TB_ASSERT(rv == TB_OK);
    TB_ASSERT(run->log.size >= run->state.log_size);
    run->state.log_size = run->log.size;
    run->state.height++;
    return TB_OK;
}

static int ledger_check_header(struct ledger *l, const struct wire_header *h,
                               const struct ledger_run *run, uint64_t parent_time_ms,
                               struct ledger_verdict *v)
{
    if (h->version != WIRE_HEADER_VERSION)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "version %" PRIu64, h->version);
    if (memcmp(h->chain_id, l->chain_id, WIRE_HASH_BYTES) != 0)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "the block is for another chain");
    if (h->height != run->state.height + 1)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "height %" PRIu64 ", expected %" PRIu64,
                             h->height, run->state.height + 1);
    if (memcmp(h->prev_block_hash, run->state.block_hash, WIRE_HASH_BYTES) != 0)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "prev_block_hash is not block %" PRIu64 "'s",
                             run->state.height);
    if (h->time_ms <= parent_time_ms)
        return ledger_refuse(v, LEDGER_BAD_HEADER,
                             "time_ms %" PRIu64 " is not after the parent's %" PRIu64, h->time_ms,
                             parent_time_ms);
    if (memcmp(h->validator_set_hash, l->validator_set_hash, WIRE_HASH_BYTES) != 0)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "validator_set_hash is not the current set's");
    if (h->proposer_index >= l->validator_count)
        return ledger_refuse(v, LEDGER_BAD_HEADER, "proposer_index %" PRIu32 " of %zu validators",
                             h->proposer_index, l->validator_count);
    return TB_OK;
}

static int ledger_check_roots(const struct wire_header *h, const struct store_state *st,
                              struct ledger_verdict *v)
{
    if (h->log_size != st->log_size)
        return ledger_refuse(v, LEDGER_BAD_ROOTS, "log_size %" PRIu64 ", the txs give %" PRIu64,
                             h->log_size, st->log_size);
    if (memcmp(h->log_root, st->log_root, CR_HASH_BYTES) != 0)
        return ledger_refuse(v, LEDGER_BAD_ROOTS, "log_root differs from the recomputed root");
    if (memcmp(h->state_root, st->state_root, CR_HASH_BYTES) != 0)
        return ledger_refuse(v, LEDGER_BAD_ROOTS, "state_root differs from the recomputed root");
    return TB_OK;
}

/* Stores the block, its hash, the new state and the new tip time. */
static int ledger_store_block(struct ledger *l, struct store_txn *txn, const struct wire_block *b,
                              struct tb_bytes block, struct store_state *st, char *errmsg)
{
    TB_ASSERT(b->header.height == st->height);
    wire_block_hash(l->suite, b->header_bytes.ptr, b->header_bytes.len, st->block_hash);
    int rv = store_block_put(txn, st->height, st->block_hash, block, errmsg);
    if (rv == TB_OK)
        rv = store_state_put(txn, st, errmsg);
    if (rv == TB_OK)
        rv = ledger_tip_time_put(txn, b->header.time_ms, errmsg);
    return rv;
}

static int ledger_apply_decoded(struct ledger *l, struct store_txn *txn, const struct wire_block *b,
                                struct tb_bytes block, struct ledger_run *run,
                                struct ledger_verdict *v)
{
    uint64_t parent_time_ms = 0;
    int rv = ledger_run_begin(l, txn, run, b->tx_count, &parent_time_ms, l->errmsg);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "block", l->errmsg);
    rv = ledger_check_header(l, &b->header, run, parent_time_ms, v);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(b->header.height == run->state.height + 1);
    run->time_ms = b->header.time_ms;
    for (size_t i = 0; i < b->tx_count; i++) {
        rv = ledger_run_tx(l, txn, run, b->txs[i], (uint32_t)i, v);
        if (rv != TB_OK) {
            tb_errmsg_wrapf(v->message, "tx %zu", i);
            return rv;
        }
    }
    memset(v, 0, sizeof(*v)); /* what follows is about the block, not its last tx */
    rv = ledger_run_finish(l, txn, run, l->errmsg);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "block", l->errmsg);
    rv = ledger_check_roots(&b->header, &run->state, v);
    if (rv != TB_OK)
        return rv;
    rv = ledger_store_block(l, txn, b, block, &run->state, l->errmsg);
    if (rv != TB_OK)
        return ledger_internal(v, rv, "store block", l->errmsg);
    return TB_OK;
}

int ledger_apply_block(struct ledger *l, struct store_txn *txn, struct tb_bytes block,
                       struct ledger_verdict *verdict)
{
    TB_ASSERT(l != NULL && txn != NULL && verdict != NULL);
    TB_ASSERT(store_txn_writable(txn));
    memset(verdict, 0, sizeof(*verdict));
    struct wire_block b;
    char why[TB_ERRMSG_SIZE] = "";
    int rv = wire_block_decode(block.ptr, block.len, &b, why);
    if (rv == TB_ENOMEM)
        return ledger_internal(verdict, rv, "block", why);
    if (rv != TB_OK)
        return ledger_refuse(verdict, LEDGER_MALFORMED, "block: %s", why);
    struct ledger_run *run = tb_malloc(sizeof(*run));
    if (run == NULL) {
        wire_block_release(&b);
        return ledger_internal(verdict, TB_ENOMEM, "block", "out of memory");
    }
    rv = ledger_apply_decoded(l, txn, &b, block, run, verdict);
    ledger_run_end(run);
    tb_free(run);
    wire_block_release(&b);
    if (rv == TB_OK)
        verdict->code = LEDGER_OK;
    return rv;
}

int ledger_store_built(struct ledger *l, struct store_txn *txn, struct tb_bytes block, char *errmsg)
{
    struct ledger_tip tip;
    struct wire_block b;
    TB_ASSERT(l != NULL && txn != NULL && store_txn_writable(txn));
    int rv = ledger_tip_get(l, txn, &tip, errmsg);
    if (rv != TB_OK)
        return rv;
    rv = wire_block_decode(block.ptr, block.len, &b, errmsg);
    if (rv != TB_OK)
        return rv;
    const struct wire_header *h = &b.header;
    if (h->height != tip.state.height + 1 ||
        memcmp(h->prev_block_hash, tip.state.block_hash, WIRE_HASH_BYTES) != 0) {
        wire_block_release(&b);
        return tb_fail(errmsg, TB_EINVAL, "built block %" PRIu64 " does not follow height %" PRIu64,
                       h->height, tip.state.height);
    }
    struct store_state st = {.height = h->height, .log_size = h->log_size};
    memcpy(st.log_root, h->log_root, CR_HASH_BYTES);
    memcpy(st.state_root, h->state_root, CR_HASH_BYTES);
    rv = ledger_store_block(l, txn, &b, block, &st, errmsg);
    wire_block_release(&b);
    return rv;
}

/* ------------------------------------------------------------------ build */

static int ledger_build_check_args(const struct ledger *l, uint64_t time_ms,
                                   uint64_t parent_time_ms, uint32_t proposer_index,
                                   const struct ledger_build_limits *lim, char *errmsg)
{
    if (lim->txs_max == 0 || lim->txs_max > WIRE_BLOCK_TXS_MAX)
        return tb_fail(errmsg, TB_EINVAL, "txs_max %zu outside 1..%u", lim->txs_max,
                       WIRE_BLOCK_TXS_MAX);
    if (lim->block_bytes_max <= LEDGER_BLOCK_OVERHEAD_BYTES ||
        lim->block_bytes_max > WIRE_BLOCK_BYTES_MAX)
        return tb_fail(errmsg, TB_EINVAL, "block_bytes_max %zu outside %u..%u",
                       lim->block_bytes_max, LEDGER_BLOCK_OVERHEAD_BYTES + 1, WIRE_BLOCK_BYTES_MAX);
    if (time_ms <= parent_time_ms)
        return tb_fail(errmsg, TB_EINVAL, "time_ms %" PRIu64 " is not after the parent's %" PRIu64,
                       time_ms, parent_time_ms);
    if (proposer_index >= l->validator_count)
        return tb_fail(errmsg, TB_EINVAL, "proposer_index %" PRIu32 " of %zu validators",
                       proposer_index, l->validator_count);
    return TB_OK;
}

/* Runs the candidates into run; the taken envelopes' views go to txs[0..*taken). */
static int ledger_build_run(struct ledger *l, struct store_txn *txn, struct ledger_run *run,
                            const struct tb_bytes *cand, size_t cand_count,
                            const struct ledger_build_limits *lim, struct tb_bytes *txs,
                            size_t *taken, struct ledger_verdict *skipped, size_t *skipped_count,
                            char *errmsg)
{
    size_t bytes = LEDGER_BLOCK_OVERHEAD_BYTES;
    for (size_t i = 0; i < cand_count && *taken < lim->txs_max; i++) {
        if (cand[i].len > lim->block_bytes_max - bytes)
            break; /* the byte limit: stop, keep the candidates' order */
        struct ledger_verdict v;
        int rv = ledger_run_tx(l, txn, run, cand[i], (uint32_t)*taken, &v);
        if (v.code == LEDGER_INTERNAL) {
            TB_ASSERT(rv != TB_OK);
            return tb_fail(errmsg, rv, "candidate %zu: %s", i, v.message);
        }
        if (rv != TB_OK) {
            v.index = i; /* report the candidate's position, not the block's */
            if (skipped != NULL)
                skipped[*skipped_count] = v;
            (*skipped_count)++;
            continue;
        }
        txs[(*taken)++] = cand[i];
        bytes += cand[i].len;
    }
    return TB_OK;
}

int ledger_build_block(struct ledger *l, struct store_txn *txn, const struct tb_bytes *candidates,
                       size_t candidate_count, uint64_t time_ms, uint32_t proposer_index,
                       const struct ledger_build_limits *limits, struct tb_buf *out, size_t *taken,
                       struct ledger_verdict *skipped, size_t *skipped_count, char *errmsg)
{
    TB_ASSERT(l != NULL && txn != NULL && limits != NULL && out != NULL && taken != NULL);
    TB_ASSERT(store_txn_writable(txn));
    size_t cap = candidate_count < limits->txs_max ? candidate_count : limits->txs_max;
    uint64_t parent_time_ms = 0;
    struct tb_bytes *txs = NULL;
    *taken = 0;
    if (skipped_count != NULL)
        *skipped_count = 0;
    struct ledger_run *run = tb_malloc(sizeof(*run));
    if (run == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "build: out of memory");
    int rv = ledger_run_begin(l, txn, run, cap, &parent_time_ms, errmsg);
    if (rv != TB_OK) {
        tb_free(run);
        return rv;
    }
    rv = ledger_build_check_args(l, time_ms, parent_time_ms, proposer_index, limits, errmsg);
    if (rv == TB_OK && cap > 0 && (txs = tb_calloc(cap, sizeof(*txs))) == NULL)
        rv = tb_fail(errmsg, TB_ENOMEM, "build: out of memory");
    run->time_ms = time_ms;
    size_t dummy = 0;
    if (rv == TB_OK)
        rv = ledger_build_run(l, txn, run, candidates, candidate_count, limits, txs, taken, skipped,
                              skipped_count != NULL ? skipped_count : &dummy, errmsg);
    if (rv == TB_OK)
        rv = ledger_run_finish(l, txn, run, errmsg);
    if (rv == TB_OK) {
        struct wire_header h = {.version = WIRE_HEADER_VERSION,
                                .height = run->state.height,
                                .time_ms = time_ms,
                                .log_size = run->state.log_size,
                                .proposer_index = proposer_index};
        memcpy(h.chain_id, l->chain_id, WIRE_HASH_BYTES);
        memcpy(h.prev_block_hash, run->state.block_hash, WIRE_HASH_BYTES);
        memcpy(h.log_root, run->state.log_root, WIRE_HASH_BYTES);
        memcpy(h.state_root, run->state.state_root, WIRE_HASH_BYTES);
        memcpy(h.validator_set_hash, l->validator_set_hash, WIRE_HASH_BYTES);
        tb_buf_reset(out);
        rv = wire_block_encode(&h, txs, *taken, out, errmsg);
    }
    ledger_run_end(run);
    tb_free(run);
    tb_free(txs);
    return rv;
}
