/*
 * node/ledger.c: opening the ledger over a store (chain id, height-0 state, the genesis
 * validator set), the ledger's own entry layouts (ledger.h) and the read-only queries.
 * Checks live in ledger_check.c, block application and building in ledger_block.c.
 *
 * Must never: write outside ledger_open's first-open transaction (queries only read), or
 * assert on anything read from the store (a malformed entry is TB_EIO).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define LEDGER_TIP_KEY "ledger/tip"

static const char *const ledger_code_names[LEDGER_CODE_COUNT] = {
    [LEDGER_OK] = "ok",
    [LEDGER_MALFORMED] = "malformed",
    [LEDGER_BAD_SIGNATURE] = "bad_signature",
    [LEDGER_UNKNOWN_AGENCY] = "unknown_agency",
    [LEDGER_NOT_AUTHORISED] = "not_authorised",
    [LEDGER_WRONG_TYPE] = "wrong_type",
    [LEDGER_UNKNOWN_TYPE] = "unknown_type",
    [LEDGER_REPLAY] = "replay",
    [LEDGER_EXPIRED_KEY] = "expired_key",
    [LEDGER_RETIRED_KEY] = "retired_key",
    [LEDGER_UNKNOWN_RECORD] = "unknown_record",
    [LEDGER_ALREADY_REVOKED] = "already_revoked",
    [LEDGER_ALREADY_REGISTERED] = "already_registered",
    [LEDGER_BAD_TIME] = "bad_time",
    [LEDGER_UNSUPPORTED] = "unsupported",
    [LEDGER_BAD_HEADER] = "bad_header",
    [LEDGER_BAD_ROOTS] = "bad_roots",
    [LEDGER_INTERNAL] = "internal",
};

const char *ledger_code_name(enum ledger_code code)
{
    if ((int)code < 0 || code >= LEDGER_CODE_COUNT)
        return "unknown";
    TB_ASSERT(ledger_code_names[code] != NULL);
    return ledger_code_names[code];
}

const char *ledger_record_status_name(enum ledger_record_status s)
{
    switch (s) {
    case LEDGER_RECORD_UNKNOWN:
        return "unknown";
    case LEDGER_RECORD_PENDING:
        return "pending";
    case LEDGER_RECORD_VALID:
        return "valid";
    case LEDGER_RECORD_REVOKED:
        return "revoked";
    case LEDGER_RECORD_EXPIRED:
        return "expired";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ entries */

void ledger_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

void ledger_cstr(char *out, size_t out_size, struct tb_bytes b)
{
    TB_ASSERT(out_size > 0);
    TB_ASSERT(b.len < out_size); /* wire bounds every field below its buffer */
    if (b.len > 0)
        memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
}

void ledger_meta_key(uint8_t key[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES], char which,
                     const uint8_t id[WIRE_HASH_BYTES])
{
    TB_ASSERT(which == 'r' || which == 'k');
    memcpy(key, "ledger/", 7);
    key[7] = (uint8_t)which;
    memcpy(key + LEDGER_META_PREFIX_BYTES, id, WIRE_HASH_BYTES);
}

static struct tb_bytes ledger_bytes(const void *p, size_t n)
{
    struct tb_bytes b = {.ptr = p, .len = n};
    return b;
}

static void ledger_status_put(uint8_t *p, uint8_t state, uint64_t a, uint64_t b, uint64_t t)
{
    TB_ASSERT(state == LEDGER_STATE_ACTIVE || state == LEDGER_STATE_ENDED);
    p[0] = LEDGER_ENTRY_VERSION;
    p[1] = state;
    ledger_be64_put(p + 2, a);
    ledger_be64_put(p + 10, b);
    ledger_be64_put(p + 18, t);
}

static int ledger_status_get(const uint8_t *p, size_t len, uint8_t *state, uint64_t *a, uint64_t *b,
                             uint64_t *t)
{
    if (len < LEDGER_STATUS_BYTES || p[0] != LEDGER_ENTRY_VERSION)
        return TB_EIO;
    if (p[1] != LEDGER_STATE_ACTIVE && p[1] != LEDGER_STATE_ENDED)
        return TB_EIO;
    *state = p[1];
    *a = store_be64(p + 2);
    *b = store_be64(p + 10);
    *t = store_be64(p + 18);
    return TB_OK;
}

/* Appends a length-prefixed name; the caller sized the buffer for the maxima. */
static size_t ledger_name_put(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    TB_ASSERT(n > 0 && n <= 255);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return 1 + n;
}

static int ledger_name_get(const uint8_t *p, size_t len, size_t *off, char *out, size_t out_size)
{
    if (*off >= len)
        return TB_EIO;
    size_t n = p[*off];
    if (n == 0 || n >= out_size || n > len - *off - 1)
        return TB_EIO;
    memcpy(out, p + *off + 1, n);
    out[n] = '\0';
    if (memchr(out, '\0', n) != NULL)
        return TB_EIO;
    *off += 1 + n;
    return TB_OK;
}

int ledger_rec_put(struct ledger *l, struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                   const struct ledger_rec *rec, char *errmsg)
{
    uint8_t key[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES];
    uint8_t v[LEDGER_REC_BYTES_MAX];
    (void)l;
    ledger_meta_key(key, 'r', id);
    ledger_status_put(v, rec->state, rec->issued_height, rec->revoked_height, rec->expires_at);
    size_t n = LEDGER_STATUS_BYTES;
    memcpy(v + n, rec->subject, WIRE_HASH_BYTES);
    n += WIRE_HASH_BYTES;
    n += ledger_name_put(v + n, rec->type);
    n += ledger_name_put(v + n, rec->city);
    n += ledger_name_put(v + n, rec->agency);
    TB_ASSERT(n <= sizeof(v));
    return store_put(txn, STORE_DB_META, ledger_bytes(key, sizeof(key)), ledger_bytes(v, n), 0,
                     errmsg);
}

int ledger_rec_get(struct ledger *l, struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                   struct ledger_rec *out, char *errmsg)
{
    uint8_t key[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES];
    struct tb_buf buf;
    tb_buf_init(&buf, LEDGER_REC_BYTES_MAX);
    (void)l;
    ledger_meta_key(key, 'r', id);
    int rv = store_get(txn, STORE_DB_META, ledger_bytes(key, sizeof(key)), &buf, errmsg);
    if (rv == TB_ELIMIT)
        rv = tb_fail(errmsg, TB_EIO, "record entry too long (corrupt store)");
    if (rv != TB_OK)
        goto out;
    memset(out, 0, sizeof(*out));
    size_t off = LEDGER_STATUS_BYTES + WIRE_HASH_BYTES;
    rv = ledger_status_get(buf.data, buf.len, &out->state, &out->issued_height,
                           &out->revoked_height, &out->expires_at);
    if (rv == TB_OK && buf.len < off)
        rv = TB_EIO;
    if (rv == TB_OK) {
        memcpy(out->subject, buf.data + LEDGER_STATUS_BYTES, WIRE_HASH_BYTES);
        rv = ledger_name_get(buf.data, buf.len, &off, out->type, sizeof(out->type));
    }
    if (rv == TB_OK)
        rv = ledger_name_get(buf.data, buf.len, &off, out->city, sizeof(out->city));
    if (rv == TB_OK)
        rv = ledger_name_get(buf.data, buf.len, &off, out->agency, sizeof(out->agency));
    if (rv == TB_OK && off != buf.len)
        rv = TB_EIO;
    if (rv != TB_OK)
        tb_errmsg_setf(errmsg, "record entry: corrupt value (%zu bytes)", buf.len);
out:
    tb_buf_release(&buf);
    return rv;
}

static int ledger_ag_decode(const uint8_t *p, size_t len, struct ledger_ag *out, char *errmsg)
{
    int rv = ledger_status_get(p, len, &out->state, &out->registered_height, &out->retired_height,
                               &out->not_after);
    if (rv != TB_OK)
        return tb_fail(errmsg, TB_EIO, "agency entry: corrupt status (%zu bytes)", len);
    out->body = ledger_bytes(p + LEDGER_STATUS_BYTES, len - LEDGER_STATUS_BYTES);
    rv = wire_tx_body_decode(WIRE_KIND_AGENCY_REGISTER, out->body.ptr, out->body.len, &out->reg,
                             errmsg);
    if (rv != TB_OK) {
        tb_errmsg_wrapf(errmsg, "agency entry (corrupt store)");
        return TB_EIO;
    }
    return TB_OK;
}

int ledger_ag_get(struct ledger *l, struct store_txn *txn, struct tb_bytes public_key,
                  struct ledger_ag *out, char *errmsg)
{
    TB_ASSERT(public_key.len > 0 && public_key.len <= STORE_KEY_BYTES_MAX);
    int rv = store_agency_get(txn, public_key, &l->agency_buf, errmsg);
    if (rv == TB_ELIMIT)
        return tb_fail(errmsg, TB_EIO, "agency entry too long (corrupt store)");
    if (rv != TB_OK)
        return rv;
    return ledger_ag_decode(l->agency_buf.data, l->agency_buf.len, out, errmsg);
}

int ledger_ag_put(struct ledger *l, struct store_txn *txn, struct tb_bytes public_key,
                  const struct ledger_ag *ag, char *errmsg)
{
    uint8_t head[LEDGER_STATUS_BYTES];
    TB_ASSERT(ag->body.len > 0 && ag->body.len <= WIRE_TX_BYTES_MAX);
    /* ag->body may point into l->agency_buf (a retire), never into value_buf, which is
     * reset below. */
    TB_ASSERT(l->value_buf.data == NULL || ag->body.ptr != l->value_buf.data + LEDGER_STATUS_BYTES);
    ledger_status_put(head, ag->state, ag->registered_height, ag->retired_height, ag->not_after);
    tb_buf_reset(&l->value_buf);
    int rv = tb_buf_append(&l->value_buf, head, sizeof(head));
    if (rv == TB_OK)
        rv = tb_buf_append(&l->value_buf, ag->body.ptr, ag->body.len);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "agency entry: %s", tb_strerror(rv));
    return store_agency_put(txn, public_key, ledger_bytes(l->value_buf.data, l->value_buf.len),
                            errmsg);
}

int ledger_tip_time_put(struct store_txn *txn, uint64_t time_ms, char *errmsg)
{
    uint8_t v[8];
    ledger_be64_put(v, time_ms);
    return store_put(txn, STORE_DB_META, ledger_bytes(LEDGER_TIP_KEY, strlen(LEDGER_TIP_KEY)),
                     ledger_bytes(v, sizeof(v)), 0, errmsg);
}

/* ---------------------------------------------------------------------- open */

static int ledger_validators_init(struct ledger *l, char *errmsg)
{
    const struct cfg_genesis *g = l->genesis;
    TB_ASSERT(g->member_count <= CFG_MEMBERS_MAX);
    for (size_t i = 0; i < g->member_count; i++) {
        struct ledger_validator v = {.member = &g->members[i]};
        if (cr_key_from_public(l->suite, v.member->node_key, v.member->node_key_len, &v.key) !=
            TB_OK)
            return tb_fail(errmsg, TB_ECONFIG, "genesis member %s: node key does not parse",
                           v.member->city);
        cr_hash(l->suite, v.member->node_key, v.member->node_key_len, v.key_id);
        /* Insertion sort by key id (DESIGN 4: the set is ordered by key id). */
        size_t j = l->validator_count;
        while (j > 0 && memcmp(l->validators[j - 1].key_id, v.key_id, WIRE_HASH_BYTES) > 0) {
            l->validators[j] = l->validators[j - 1];
            j--;
        }
        l->validators[j] = v;
        l->validator_count++;
    }
    struct tb_bytes parts[CFG_MEMBERS_MAX];
    for (size_t i = 0; i < l->validator_count; i++) {
        if (i > 0)
            TB_ASSERT(memcmp(l->validators[i - 1].key_id, l->validators[i].key_id,
                             WIRE_HASH_BYTES) < 0); /* distinct node keys (config checks) */
        parts[i] = ledger_bytes(l->validators[i].key_id, WIRE_HASH_BYTES);
    }
    cr_hash_tagged(l->suite, "tongban/validators/v1", parts, l->validator_count,
                   l->validator_set_hash);
    return TB_OK;
}

/*
 * First open: chain id (unless another component already wrote it: with_chain false),
 * height-0 state and parent time, in one committed transaction.
 */
static int ledger_store_init(struct ledger *l, bool with_chain, char *errmsg)
{
    struct store_txn *txn = NULL;
    struct store_state st = {.height = 0, .log_size = 0};
    cr_log_empty_root(l->suite, st.log_root);
    TB_ASSERT(st.height == 0);
    int rv = store_begin_write(l->store, &txn, errmsg);
    if (rv != TB_OK)
        return rv;
    if (with_chain)
        rv = store_chain_put(txn, l->chain_id, l->suite, errmsg);
    if (rv == TB_OK)
        rv = store_state_put(txn, &st, errmsg);
    if (rv == TB_OK)
        rv = ledger_tip_time_put(txn, l->genesis->created_at * 1000u, errmsg);
    if (rv != TB_OK) {
        store_abort(txn);
        return rv;
    }
    return store_commit(txn, errmsg);
}

static int ledger_store_check(struct ledger *l, char *errmsg)
{
    struct store_txn *txn = NULL;
    uint8_t chain_id[WIRE_HASH_BYTES];
    enum cr_suite suite;
    int rv = store_begin_read(l->store, &txn, errmsg);
    if (rv != TB_OK)
        return rv;
    struct store_state st;
    rv = store_chain_get(txn, chain_id, &suite, errmsg);
    int state_rv = rv == TB_OK ? store_state_get(txn, &st, l->errmsg) : TB_ENOTFOUND;
    store_abort(txn);
    if (rv == TB_ENOTFOUND)
        return ledger_store_init(l, true, errmsg);
    if (rv != TB_OK)
        return rv;
    if (suite != l->suite || memcmp(chain_id, l->chain_id, WIRE_HASH_BYTES) != 0) {
        char have[2 * WIRE_HASH_BYTES + 1], want[2 * WIRE_HASH_BYTES + 1];
        tb_hex_encode(chain_id, WIRE_HASH_BYTES, have);
        tb_hex_encode(l->chain_id, WIRE_HASH_BYTES, want);
        return tb_fail(errmsg, TB_ECONFIG,
                       "the store belongs to chain %.16s... (%s), the genesis is chain %.16s... "
                       "(%s)",
                       have, cr_suite_name(suite), want, cr_suite_name(l->suite));
    }
    /* The chain written by someone else (an init step) but no state yet: height 0. */
    if (state_rv == TB_ENOTFOUND)
        return ledger_store_init(l, false, errmsg);
    if (state_rv != TB_OK)
        return tb_fail(errmsg, state_rv, "state: %s", l->errmsg);
    return TB_OK;
}

int ledger_open(struct ledger **out, struct store *store, const struct cfg_genesis *genesis,
                char *errmsg)
{
    TB_ASSERT(out != NULL && store != NULL && genesis != NULL);
    TB_ASSERT(genesis->member_count >= 1 && genesis->member_count <= CFG_MEMBERS_MAX);
    struct ledger *l = tb_calloc(1, sizeof(*l));
    if (l == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "ledger: out of memory");
    l->store = store;
    l->genesis = genesis;
    l->suite = genesis->suite;
    tb_buf_init(&l->sign_input, WIRE_TX_BYTES_MAX + 64u);
    tb_buf_init(&l->agency_buf, LEDGER_AGENCY_BYTES_MAX);
    tb_buf_init(&l->value_buf, LEDGER_AGENCY_BYTES_MAX);
    /* Without the cache every check still verifies: only speed depends on it. */
    l->sig_cache =
        tb_calloc((size_t)LEDGER_SIG_CACHE_SETS * LEDGER_SIG_CACHE_WAYS, sizeof(*l->sig_cache));
    l->sig_cache_next = tb_calloc(LEDGER_SIG_CACHE_SETS, 1);
    if (l->sig_cache == NULL || l->sig_cache_next == NULL) {
        tb_free(l->sig_cache);
        tb_free(l->sig_cache_next);
        l->sig_cache = NULL;
        l->sig_cache_next = NULL;
    }
    int rv = cfg_genesis_chain_id(genesis, l->chain_id);
    if (rv != TB_OK) {
        tb_fail(errmsg, TB_ECONFIG, "genesis: cannot compute the chain id: %s", tb_strerror(rv));
        rv = TB_ECONFIG;
        goto fail;
    }
    rv = ledger_validators_init(l, errmsg);
    if (rv != TB_OK)
        goto fail;
    struct cr_smt_store smt_store = store_smt_tree(store);
    rv = cr_smt_init(&l->smt, l->suite, &smt_store);
    if (rv != TB_OK) {
        tb_fail(errmsg, rv, "ledger: status tree: %s", tb_strerror(rv));
        goto fail;
    }
    rv = ledger_store_check(l, errmsg);
    if (rv != TB_OK) {
        cr_smt_release(&l->smt);
        goto fail;
    }
    *out = l;
    return TB_OK;
fail:
    for (size_t i = 0; i < l->validator_count; i++)
        cr_key_free(l->validators[i].key);
    tb_buf_release(&l->sign_input);
    tb_buf_release(&l->agency_buf);
    tb_buf_release(&l->value_buf);
    tb_free(l->sig_cache);
    tb_free(l->sig_cache_next);
    tb_free(l);
    return rv;
}

void ledger_close(struct ledger *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->validator_count; i++)
        cr_key_free(l->validators[i].key);
    for (size_t i = 0; i < LEDGER_KEY_CACHE_SIZE; i++)
        cr_key_free(l->key_cache[i].key);
    cr_smt_release(&l->smt);
    tb_buf_release(&l->sign_input);
    tb_buf_release(&l->agency_buf);
    tb_buf_release(&l->value_buf);
    tb_free(l->sig_cache);
    tb_free(l->sig_cache_next);
    tb_free(l);
}

void ledger_sig_stats(const struct ledger *l, uint64_t *verifies, uint64_t *cache_hits)
{
    TB_ASSERT(l != NULL && verifies != NULL && cache_hits != NULL);
    *verifies = l->sig_verifies;
    *cache_hits = l->sig_cache_hits;
}

enum cr_suite ledger_suite(const struct ledger *l)
{
    return l->suite;
}

void ledger_chain_id(const struct ledger *l, uint8_t out[WIRE_HASH_BYTES])
{
    memcpy(out, l->chain_id, WIRE_HASH_BYTES);
}

void ledger_validator_set_hash(const struct ledger *l, uint8_t out[WIRE_HASH_BYTES])
{
    memcpy(out, l->validator_set_hash, WIRE_HASH_BYTES);
}

size_t ledger_validator_count(const struct ledger *l)
{
    return l->validator_count;
}

const struct cfg_member *ledger_validator(const struct ledger *l, size_t index,
                                          uint8_t key_id[WIRE_HASH_BYTES])
{
    TB_ASSERT(index < l->validator_count);
    TB_ASSERT(l->validators[index].member != NULL);
    if (key_id != NULL)
        memcpy(key_id, l->validators[index].key_id, WIRE_HASH_BYTES);
    return l->validators[index].member;
}

/* ------------------------------------------------------------------- queries */

int ledger_tip_get(struct ledger *l, struct store_txn *txn, struct ledger_tip *out, char *errmsg)
{
    uint8_t v[8];
    (void)l;
    int rv = store_state_get(txn, &out->state, errmsg);
    if (rv != TB_OK)
        return rv;
    rv = store_get_exact(txn, STORE_DB_META, ledger_bytes(LEDGER_TIP_KEY, strlen(LEDGER_TIP_KEY)),
                         v, sizeof(v), errmsg);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, TB_EIO, "meta %s missing (corrupt store)", LEDGER_TIP_KEY);
    if (rv != TB_OK)
        return rv;
    out->time_ms = store_be64(v);
    return TB_OK;
}

/* Decodes the envelope held in envelope as a record.issue (views into envelope->data). */
static int ledger_record_parse(const struct tb_buf *envelope, struct ledger_record *out,
                               char *errmsg)
{
    int rv = wire_tx_decode(envelope->data, envelope->len, &out->tx, errmsg);
    if (rv == TB_OK && out->tx.kind != WIRE_KIND_RECORD_ISSUE)
        rv = tb_fail(errmsg, TB_EMALFORMED, "kind %u is not record.issue", out->tx.kind);
    if (rv == TB_OK)
        rv = wire_tx_body_decode(out->tx.kind, out->tx.body.ptr, out->tx.body.len, &out->body,
                                 errmsg);
    return rv;
}

/* Copies envelope bytes into out and decodes them as a record.issue. */
static int ledger_record_decode(struct tb_buf *envelope, struct tb_bytes bytes,
                                struct ledger_record *out, char *errmsg)
{
    tb_buf_reset(envelope);
    int rv = tb_buf_append(envelope, bytes.ptr, bytes.len);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "record envelope: %s", tb_strerror(rv));
    return ledger_record_parse(envelope, out, errmsg);
}

static int ledger_record_from_block(struct ledger *l, struct store_txn *txn,
                                    const struct ledger_rec *rec, struct ledger_record *out,
                                    struct tb_buf *envelope, const uint8_t id[WIRE_HASH_BYTES],
                                    char *errmsg)
{
    struct tb_buf blk;
    struct tb_bytes tx = {0};
    size_t tx_count = 0;
    tb_buf_init(&blk, WIRE_BLOCK_BYTES_MAX);
    int rv = store_txloc_get(txn, id, &out->loc, errmsg);
    if (rv == TB_OK)
        rv = ledger_block_get(l, txn, out->loc.height, &blk, errmsg);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(errmsg, TB_EIO, "record entry without its block (corrupt store)");
    if (rv == TB_OK) {
        /* The stored block was checked in full when applied: walk to the one tx only. */
        rv = wire_block_spans(blk.data, blk.len, out->loc.index, NULL, &tx, &tx_count);
        if (rv == TB_ENOTFOUND)
            rv = tb_fail(errmsg, TB_EIO, "txloc index past the block's txs (corrupt store)");
        else if (rv != TB_OK)
            rv = tb_fail(errmsg, TB_EMALFORMED, "not a block");
        if (rv == TB_OK)
            rv = ledger_record_decode(envelope, tx, out, errmsg);
        if (rv == TB_EMALFORMED || rv == TB_ELIMIT) {
            tb_errmsg_wrapf(errmsg, "stored block %" PRIu64, out->loc.height);
            rv = TB_EIO;
        }
    }
    tb_buf_release(&blk);
    if (rv != TB_OK)
        return rv;
    out->issued_height = rec->issued_height;
    out->revoked_height = rec->revoked_height;
    out->expires_at = rec->expires_at;
    return TB_OK;
}

int ledger_record_get(struct ledger *l, struct store_txn *txn,
                      const uint8_t record_id[WIRE_HASH_BYTES], struct ledger_record *out,
                      struct tb_buf *envelope, char *errmsg)
{
    struct ledger_rec rec;
    struct ledger_tip tip;
    memset(out, 0, sizeof(*out));
    int rv = ledger_rec_get(l, txn, record_id, &rec, errmsg);
    if (rv == TB_ENOTFOUND) {
        /* Not committed: pending (acknowledged) or unknown. */
        rv = store_pending_get(txn, record_id, envelope, errmsg);
        if (rv == TB_ENOTFOUND)
            return TB_OK;
        if (rv != TB_OK)
            return rv;
        rv = ledger_record_parse(envelope, out, errmsg);
        if (rv == TB_EMALFORMED) /* a pending tx of another kind has no record */
            return TB_OK;
        if (rv == TB_OK)
            out->status = LEDGER_RECORD_PENDING;
        return rv;
    }
    if (rv != TB_OK)
        return rv;
    rv = ledger_tip_get(l, txn, &tip, errmsg);
    if (rv == TB_OK)
        rv = ledger_record_from_block(l, txn, &rec, out, envelope, record_id, errmsg);
    if (rv != TB_OK)
        return rv;
    if (rec.state == LEDGER_STATE_ENDED)
        out->status = LEDGER_RECORD_REVOKED;
    else if (rec.expires_at != 0 && rec.expires_at <= tip.time_ms / 1000u)
        out->status = LEDGER_RECORD_EXPIRED;
    else
        out->status = LEDGER_RECORD_VALID;
    return TB_OK;
}

struct ledger_subject_scan
{
    struct ledger_subject_entry *out;
    size_t count;
};

static int ledger_subject_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct ledger_subject_scan *sc = arg;
    (void)value;
    size_t n = key.len > WIRE_HASH_BYTES ? key.ptr[WIRE_HASH_BYTES] : 0;
    if (n == 0 || n > WIRE_TYPE_BYTES_MAX || key.len != WIRE_HASH_BYTES + 1 + n + WIRE_HASH_BYTES)
        return tb_fail(errmsg, TB_EIO, "by_subject: key of %zu bytes (corrupt store)", key.len);
    struct ledger_subject_entry *e = &sc->out[sc->count++];
    memcpy(e->type, key.ptr + WIRE_HASH_BYTES + 1, n);
    e->type[n] = '\0';
    memcpy(e->record_id, key.ptr + WIRE_HASH_BYTES + 1 + n, WIRE_HASH_BYTES);
    return 0;
}

int ledger_subject_records(struct ledger *l, struct store_txn *txn,
                           const uint8_t subject[WIRE_HASH_BYTES], const char *type,
                           const struct ledger_subject_entry *after,
                           struct ledger_subject_entry *out, size_t count_max, size_t *count,
                           char *errmsg)
{
    struct store_key prefix, after_key;
    (void)l;
    *count = 0;
    if (count_max == 0 || count_max > LEDGER_QUERY_MAX)
        return tb_fail(errmsg, TB_EINVAL, "count_max %zu outside 1..%u", count_max,
                       LEDGER_QUERY_MAX);
    if (store_key_subject(&prefix, subject, type, NULL) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "record type: empty or too long");
    if (after != NULL &&
        store_key_subject(&after_key, subject, after->type, after->record_id) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "after: record type empty or too long");
    struct ledger_subject_scan sc = {.out = out};
    struct store_visitor vis = {.arg = &sc, .visit = ledger_subject_visit};
    struct tb_bytes after_bytes = {NULL, 0};
    if (after != NULL)
        after_bytes = store_key_bytes(&after_key);
    uint32_t visited = 0;
    int rv = store_scan(txn, STORE_DB_BY_SUBJECT, store_key_bytes(&prefix),
                        after != NULL ? &after_bytes : NULL, (uint32_t)count_max, &vis, &visited,
                        errmsg);
    TB_ASSERT(sc.count <= count_max);
    *count = sc.count;
    return rv;
}

static int ledger_agency_fill(struct tb_bytes key, const uint8_t *v, size_t len,
                              struct ledger_agency *out, char *errmsg)
{
    struct ledger_ag ag;
    if (key.len == 0 || key.len > WIRE_PUBKEY_BYTES_MAX)
        return tb_fail(errmsg, TB_EIO, "agencies: key of %zu bytes (corrupt store)", key.len);
    int rv = ledger_ag_decode(v, len, &ag, errmsg);
    if (rv != TB_OK)
        return rv;
    const struct wire_agency_register *r = &ag.reg.u.reg;
    memset(out, 0, sizeof(*out));
    memcpy(out->public_key, key.ptr, key.len);
    out->public_key_len = key.len;
    ledger_cstr(out->city, sizeof(out->city), r->city);
    ledger_cstr(out->agency, sizeof(out->agency), r->agency);
    ledger_cstr(out->name, sizeof(out->name), r->name);
    out->state = ag.state;
    out->registered_height = ag.registered_height;
    out->retired_height = ag.retired_height;
    out->not_after = ag.not_after;
    out->type_count = r->type_count;
    for (size_t i = 0; i < r->type_count; i++)
        ledger_cstr(out->types[i], sizeof(out->types[i]), r->types[i]);
    return TB_OK;
}

int ledger_agency_get(struct ledger *l, struct store_txn *txn, struct tb_bytes public_key,
                      struct ledger_agency *out, char *errmsg)
{
    if (public_key.len == 0 || public_key.len > WIRE_PUBKEY_BYTES_MAX)
        return tb_fail(errmsg, TB_ENOTFOUND, "no agency key of %zu bytes", public_key.len);
    int rv = store_agency_get(txn, public_key, &l->agency_buf, errmsg);
    if (rv != TB_OK)
        return rv;
    return ledger_agency_fill(public_key, l->agency_buf.data, l->agency_buf.len, out, errmsg);
}

struct ledger_agency_scan
{
    struct ledger_agency *out;
    size_t count;
};

static int ledger_agency_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct ledger_agency_scan *sc = arg;
    int rv = ledger_agency_fill(key, value.ptr, value.len, &sc->out[sc->count], errmsg);
    if (rv != TB_OK)
        return rv;
    sc->count++;
    return 0;
}

int ledger_agencies_list(struct ledger *l, struct store_txn *txn, const struct tb_bytes *after,
                         struct ledger_agency *out, size_t count_max, size_t *count, char *errmsg)
{
    (void)l;
    *count = 0;
    if (count_max == 0 || count_max > LEDGER_QUERY_MAX)
        return tb_fail(errmsg, TB_EINVAL, "count_max %zu outside 1..%u", count_max,
                       LEDGER_QUERY_MAX);
    struct ledger_agency_scan sc = {.out = out};
    struct store_visitor vis = {.arg = &sc, .visit = ledger_agency_visit};
    uint32_t visited = 0;
    int rv = store_scan(txn, STORE_DB_AGENCIES, ledger_bytes(NULL, 0), after, (uint32_t)count_max,
                        &vis, &visited, errmsg);
    TB_ASSERT(sc.count <= count_max);
    *count = sc.count;
    return rv;
}

int ledger_block_get(struct ledger *l, struct store_txn *txn, uint64_t height, struct tb_buf *out,
                     char *errmsg)
{
    (void)l;
    return store_block_get(txn, height, out, errmsg);
}
