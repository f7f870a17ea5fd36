/*
 * node/store_typed.c: the key layouts of store.h and the typed helpers over the generic
 * put/get. Every fixed-size value is written and read back through one encoder/decoder
 * pair here, and a stored value of the wrong size is TB_EIO (a corrupt store), never an
 * assert.
 *
 * Must never: include lmdb.h (store_lmdb.c is the only LMDB user), or build a key whose
 * layout is not the one documented in store.h.
 */
#include <inttypes.h>
#include <string.h>

#include "store.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define STORE_STATE_VERSION 1u
#define STORE_STATE_BYTES (1u + 8u + 32u + 8u + 32u + 32u)
#define STORE_CHAIN_BYTES (1u + CR_HASH_BYTES)
#define STORE_TXLOC_BYTES (8u + 4u)
#define STORE_EVIDENCE_KEY_BYTES (8u + 4u + 1u + 4u)

static const struct tb_bytes store_meta_chain = {(const uint8_t *)"chain", 5};
static const struct tb_bytes store_meta_state = {(const uint8_t *)"state", 5};
static const struct tb_bytes store_wal_key = {(const uint8_t *)"wal", 3};

/* ------------------------------------------------------------------- keys */

static void store_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static void store_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

uint64_t store_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

uint32_t store_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

struct tb_bytes store_key_bytes(const struct store_key *key)
{
    TB_ASSERT(key->len <= STORE_KEY_BYTES_MAX);
    struct tb_bytes b = {.ptr = key->bytes, .len = key->len};
    return b;
}

static void store_key_append(struct store_key *key, const void *data, size_t len)
{
    TB_ASSERT(key->len <= STORE_KEY_BYTES_MAX);
    TB_ASSERT(len <= STORE_KEY_BYTES_MAX - key->len); /* the layouts are sized to fit */
    memcpy(key->bytes + key->len, data, len);
    key->len += (uint32_t)len;
}

/* Appends a length-prefixed name; TB_EINVAL for empty or too long. */
static int store_key_name(struct store_key *key, const char *name)
{
    TB_ASSERT(name != NULL);
    size_t n = strnlen(name, STORE_NAME_BYTES_MAX + 1);
    if (n == 0 || n > STORE_NAME_BYTES_MAX)
        return TB_EINVAL;
    uint8_t len = (uint8_t)n;
    store_key_append(key, &len, 1);
    store_key_append(key, name, n);
    return TB_OK;
}

void store_key_u64(struct store_key *key, uint64_t value)
{
    key->len = 8;
    store_put_be64(key->bytes, value);
}

static void store_key_id(struct store_key *key, const uint8_t id[STORE_ID_BYTES])
{
    TB_ASSERT(id != NULL);
    key->len = 0;
    store_key_append(key, id, STORE_ID_BYTES);
}

int store_key_subject(struct store_key *key, const uint8_t subject[STORE_ID_BYTES],
                      const char *type, const uint8_t *record_id)
{
    TB_ASSERT(subject != NULL);
    TB_ASSERT(type != NULL || record_id == NULL);
    store_key_id(key, subject);
    if (type == NULL)
        return TB_OK;
    if (store_key_name(key, type) != TB_OK)
        return TB_EINVAL;
    if (record_id != NULL)
        store_key_append(key, record_id, STORE_ID_BYTES);
    return TB_OK;
}

int store_key_issuer(struct store_key *key, const char *city, const char *agency,
                     const uint8_t *record_id)
{
    TB_ASSERT(city != NULL);
    TB_ASSERT(agency != NULL || record_id == NULL);
    key->len = 0;
    if (store_key_name(key, city) != TB_OK)
        return TB_EINVAL;
    if (agency == NULL)
        return TB_OK;
    if (store_key_name(key, agency) != TB_OK)
        return TB_EINVAL;
    if (record_id != NULL)
        store_key_append(key, record_id, STORE_ID_BYTES);
    return TB_OK;
}

void store_key_audit(struct store_key *key, const uint8_t subject[STORE_ID_BYTES], uint64_t height,
                     uint32_t index)
{
    uint8_t tail[12];
    store_put_be64(tail, height);
    store_put_be32(tail + 8, index);
    store_key_id(key, subject);
    store_key_append(key, tail, sizeof(tail));
    TB_ASSERT(key->len == STORE_ID_BYTES + 12);
}

static struct tb_bytes store_id_bytes(const uint8_t id[STORE_ID_BYTES])
{
    TB_ASSERT(id != NULL);
    struct tb_bytes b = {.ptr = id, .len = STORE_ID_BYTES};
    return b;
}

/* ------------------------------------------------------------------- meta */

int store_chain_put(struct store_txn *txn, const uint8_t chain_id[CR_HASH_BYTES],
                    enum cr_suite suite, char *errmsg)
{
    uint8_t v[STORE_CHAIN_BYTES];
    TB_ASSERT(chain_id != NULL);
    if (!cr_suite_valid((int)suite))
        return tb_fail(errmsg, TB_EINVAL, "meta chain: unknown suite %d", (int)suite);
    v[0] = (uint8_t)suite;
    memcpy(v + 1, chain_id, CR_HASH_BYTES);
    struct tb_bytes val = {.ptr = v, .len = sizeof(v)};
    return store_put(txn, STORE_DB_META, store_meta_chain, val, STORE_PUT_NEW, errmsg);
}

int store_chain_get(struct store_txn *txn, uint8_t chain_id[CR_HASH_BYTES], enum cr_suite *suite,
                    char *errmsg)
{
    uint8_t v[STORE_CHAIN_BYTES];
    TB_ASSERT(chain_id != NULL);
    TB_ASSERT(suite != NULL);
    int rv = store_get_exact(txn, STORE_DB_META, store_meta_chain, v, sizeof(v), errmsg);
    if (rv != TB_OK)
        return rv;
    if (!cr_suite_valid(v[0]))
        return tb_fail(errmsg, TB_EIO, "meta chain: corrupt store: unknown suite %u", v[0]);
    *suite = (enum cr_suite)v[0];
    memcpy(chain_id, v + 1, CR_HASH_BYTES);
    return TB_OK;
}

int store_state_put(struct store_txn *txn, const struct store_state *state, char *errmsg)
{
    uint8_t v[STORE_STATE_BYTES];
    uint8_t *p = v;
    TB_ASSERT(state != NULL);
    TB_ASSERT(state->log_size < CR_LOG_SIZE_MAX);
    *p++ = STORE_STATE_VERSION;
    store_put_be64(p, state->height);
    p += 8;
    memcpy(p, state->block_hash, STORE_ID_BYTES);
    p += STORE_ID_BYTES;
    store_put_be64(p, state->log_size);
    p += 8;
    memcpy(p, state->log_root, CR_HASH_BYTES);
    p += CR_HASH_BYTES;
    memcpy(p, state->state_root, CR_HASH_BYTES);
    p += CR_HASH_BYTES;
    TB_ASSERT(p == v + sizeof(v));
    struct tb_bytes val = {.ptr = v, .len = sizeof(v)};
    return store_put(txn, STORE_DB_META, store_meta_state, val, 0, errmsg);
}

int store_state_get(struct store_txn *txn, struct store_state *out, char *errmsg)
{
    uint8_t v[STORE_STATE_BYTES];
    const uint8_t *p = v + 1;
    TB_ASSERT(out != NULL);
    int rv = store_get_exact(txn, STORE_DB_META, store_meta_state, v, sizeof(v), errmsg);
    if (rv != TB_OK)
        return rv;
    if (v[0] != STORE_STATE_VERSION)
        return tb_fail(errmsg, TB_EIO, "meta state: unknown version %u", v[0]);
    out->height = store_be64(p);
    p += 8;
    memcpy(out->block_hash, p, STORE_ID_BYTES);
    p += STORE_ID_BYTES;
    out->log_size = store_be64(p);
    p += 8;
    memcpy(out->log_root, p, CR_HASH_BYTES);
    p += CR_HASH_BYTES;
    memcpy(out->state_root, p, CR_HASH_BYTES);
    TB_ASSERT(p + CR_HASH_BYTES == v + sizeof(v));
    if (out->log_size >= CR_LOG_SIZE_MAX)
        return tb_fail(errmsg, TB_EIO, "meta state: corrupt log size");
    return TB_OK;
}

/* ------------------------------------------------------------ blocks, txs */

int store_block_put(struct store_txn *txn, uint64_t height, const uint8_t hash[STORE_ID_BYTES],
                    struct tb_bytes block, char *errmsg)
{
    struct store_key k;
    store_key_u64(&k, height);
    int rv = store_put(txn, STORE_DB_BLOCKS, store_key_bytes(&k), block, STORE_PUT_NEW, errmsg);
    if (rv == TB_OK) {
        rv = store_put(txn, STORE_DB_BLOCK_HASHES, store_key_bytes(&k), store_id_bytes(hash),
                       STORE_PUT_NEW, errmsg);
    }
    if (rv != TB_OK)
        tb_errmsg_wrapf(errmsg, "block %llu", (unsigned long long)height);
    return rv;
}

int store_block_get(struct store_txn *txn, uint64_t height, struct tb_buf *out, char *errmsg)
{
    struct store_key k;
    store_key_u64(&k, height);
    return store_get(txn, STORE_DB_BLOCKS, store_key_bytes(&k), out, errmsg);
}

int store_block_hash_get(struct store_txn *txn, uint64_t height, uint8_t hash[STORE_ID_BYTES],
                         char *errmsg)
{
    struct store_key k;
    store_key_u64(&k, height);
    return store_get_exact(txn, STORE_DB_BLOCK_HASHES, store_key_bytes(&k), hash, STORE_ID_BYTES,
                           errmsg);
}

int store_cert_put(struct store_txn *txn, uint64_t height, struct tb_bytes cert, char *errmsg)
{
    struct store_key k;
    store_key_u64(&k, height);
    return store_put(txn, STORE_DB_CERTS, store_key_bytes(&k), cert, 0, errmsg);
}

int store_cert_get(struct store_txn *txn, uint64_t height, struct tb_buf *out, char *errmsg)
{
    struct store_key k;
    store_key_u64(&k, height);
    return store_get(txn, STORE_DB_CERTS, store_key_bytes(&k), out, errmsg);
}

int store_txloc_put(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                    const struct store_txloc *loc, char *errmsg)
{
    uint8_t v[STORE_TXLOC_BYTES];
    TB_ASSERT(loc != NULL);
    store_put_be64(v, loc->height);
    store_put_be32(v + 8, loc->index);
    struct tb_bytes val = {.ptr = v, .len = sizeof(v)};
    return store_put(txn, STORE_DB_TXLOC, store_id_bytes(tx_id), val, STORE_PUT_NEW, errmsg);
}

int store_txloc_get(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                    struct store_txloc *out, char *errmsg)
{
    uint8_t v[STORE_TXLOC_BYTES];
    TB_ASSERT(out != NULL);
    int rv = store_get_exact(txn, STORE_DB_TXLOC, store_id_bytes(tx_id), v, sizeof(v), errmsg);
    if (rv != TB_OK)
        return rv;
    out->height = store_be64(v);
    out->index = store_be32(v + 8);
    return TB_OK;
}

/* pending_ids[tx_id]: the tx's sequence in pending_log. */
static int store_pending_seq(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                             uint64_t *seq, char *errmsg)
{
    uint8_t v[8];
    int rv = store_get_exact(txn, STORE_DB_PENDING, store_id_bytes(tx_id), v, sizeof(v), errmsg);
    if (rv == TB_OK)
        *seq = store_be64(v);
    return rv;
}

int store_pending_put(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                      struct tb_bytes envelope, char *errmsg)
{
    uint64_t seq = 0;
    TB_ASSERT(envelope.ptr != NULL && envelope.len > 0);
    int rv = store_pending_seq(txn, tx_id, &seq, errmsg);
    if (rv != TB_ENOTFOUND)
        return rv; /* TB_OK: already pending, with the same bytes (same id) */
    if (envelope.len > SIZE_MAX - STORE_ID_BYTES)
        return tb_fail(errmsg, TB_EINVAL, "pending: envelope of %zu bytes", envelope.len);
    uint8_t *rec = tb_malloc(STORE_ID_BYTES + envelope.len);
    if (rec == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "pending: out of memory");
    memcpy(rec, tx_id, STORE_ID_BYTES);
    memcpy(rec + STORE_ID_BYTES, envelope.ptr, envelope.len);
    struct tb_bytes value = {.ptr = rec, .len = STORE_ID_BYTES + envelope.len};
    rv = store_append_u64(txn, STORE_DB_PENDING_LOG, value, &seq, errmsg);
    tb_free(rec);
    if (rv != TB_OK)
        return rv;
    struct store_key k;
    store_key_u64(&k, seq);
    return store_put(txn, STORE_DB_PENDING, store_id_bytes(tx_id),
                     (struct tb_bytes){k.bytes, k.len}, STORE_PUT_NEW, errmsg);
}

/* The pending_log entry of seq, which must belong to tx_id; out gets the envelope. */
static int store_pending_entry(struct store_txn *txn, uint64_t seq,
                               const uint8_t tx_id[STORE_ID_BYTES], struct tb_buf *out,
                               char *errmsg)
{
    struct store_key k;
    struct tb_buf rec;
    store_key_u64(&k, seq);
    tb_buf_init(&rec, STORE_ID_BYTES + (out != NULL ? out->max : STORE_PENDING_BYTES_MAX));
    int rv = store_get(txn, STORE_DB_PENDING_LOG, store_key_bytes(&k), &rec, errmsg);
    if (rv == TB_ENOTFOUND)
        rv = tb_fail(errmsg, TB_EIO, "pending_log: no entry %" PRIu64 " for an indexed tx", seq);
    else if (rv == TB_OK &&
             (rec.len <= STORE_ID_BYTES || memcmp(rec.data, tx_id, STORE_ID_BYTES) != 0))
        rv = tb_fail(errmsg, TB_EIO, "pending_log: entry %" PRIu64 " is another tx's", seq);
    if (rv == TB_OK && out != NULL) {
        tb_buf_reset(out);
        rv = tb_buf_append(out, rec.data + STORE_ID_BYTES, rec.len - STORE_ID_BYTES);
        if (rv != TB_OK)
            tb_fail(errmsg, rv, "pending: envelope of %zu bytes", rec.len - STORE_ID_BYTES);
    }
    tb_buf_release(&rec);
    return rv;
}

int store_pending_get(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                      struct tb_buf *out, char *errmsg)
{
    uint64_t seq = 0;
    int rv = store_pending_seq(txn, tx_id, &seq, errmsg);
    if (rv != TB_OK)
        return rv;
    return store_pending_entry(txn, seq, tx_id, out, errmsg);
}

int store_pending_del(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES], bool *was_present,
                      char *errmsg)
{
    uint64_t seq = 0;
    struct store_key k;
    if (was_present != NULL)
        *was_present = false;
    int rv = store_pending_seq(txn, tx_id, &seq, errmsg);
    if (rv == TB_ENOTFOUND) {
        /* The attempt still goes into a write log (store.h), whose replay deletes the tx
         * should it have become pending since. */
        rv = store_del(txn, STORE_DB_PENDING, store_id_bytes(tx_id), errmsg);
        return rv == TB_ENOTFOUND ? TB_OK : rv;
    }
    if (rv == TB_OK)
        rv = store_del(txn, STORE_DB_PENDING, store_id_bytes(tx_id), errmsg);
    if (rv != TB_OK)
        return rv;
    store_key_u64(&k, seq);
    rv = store_del(txn, STORE_DB_PENDING_LOG, store_key_bytes(&k), errmsg);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, TB_EIO, "pending_log: no entry %" PRIu64 " for an indexed tx", seq);
    if (rv == TB_OK && was_present != NULL)
        *was_present = true;
    return rv;
}

/* Hands the visitor (tx id, envelope) for each pending_log entry. */
struct store_pending_visit
{
    const struct store_visitor *inner;
};

static int store_pending_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    struct store_pending_visit *pv = arg;
    (void)key;
    if (value.len <= STORE_ID_BYTES)
        return tb_fail(errmsg, TB_EIO, "pending_log: entry of %zu bytes", value.len);
    struct tb_bytes id = {.ptr = value.ptr, .len = STORE_ID_BYTES};
    struct tb_bytes env = {.ptr = value.ptr + STORE_ID_BYTES, .len = value.len - STORE_ID_BYTES};
    return pv->inner->visit(pv->inner->arg, id, env, errmsg);
}

int store_pending_scan(struct store_txn *txn, uint32_t count_max,
                       const struct store_visitor *visitor, uint32_t *visited, char *errmsg)
{
    struct tb_bytes none = {.ptr = NULL, .len = 0};
    struct store_pending_visit pv = {.inner = visitor};
    struct store_visitor outer = {.arg = &pv, .visit = store_pending_visit};
    return store_scan(txn, STORE_DB_PENDING_LOG, none, NULL, count_max, &outer, visited, errmsg);
}

/* -------------------------------------------------------------------- wal */

int store_wal_put(struct store *s, struct tb_bytes record, char *errmsg)
{
    struct store_txn *txn = NULL;
    TB_ASSERT(s != NULL);
    TB_ASSERT(record.len > 0);
    int rv = store_begin_write(s, &txn, errmsg);
    if (rv != TB_OK)
        return rv;
    rv = store_put(txn, STORE_DB_WAL, store_wal_key, record, 0, errmsg);
    if (rv != TB_OK) {
        store_abort(txn);
    } else {
        rv = store_commit(txn, errmsg); /* synced when it returns */
    }
    if (rv != TB_OK)
        tb_errmsg_wrapf(errmsg, "wal");
    return rv;
}

int store_wal_get(struct store_txn *txn, struct tb_buf *out, char *errmsg)
{
    return store_get(txn, STORE_DB_WAL, store_wal_key, out, errmsg);
}

/* ------------------------------------------------------- indexes, records */

int store_subject_put(struct store_txn *txn, const uint8_t subject[STORE_ID_BYTES],
                      const char *type, const uint8_t record_id[STORE_ID_BYTES], char *errmsg)
{
    struct store_key k;
    struct tb_bytes empty = {.ptr = NULL, .len = 0};
    TB_ASSERT(type != NULL && record_id != NULL);
    if (store_key_subject(&k, subject, type, record_id) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "by_subject: bad record type length");
    return store_put(txn, STORE_DB_BY_SUBJECT, store_key_bytes(&k), empty, 0, errmsg);
}

int store_issuer_put(struct store_txn *txn, const char *city, const char *agency,
                     const uint8_t record_id[STORE_ID_BYTES], char *errmsg)
{
    struct store_key k;
    struct tb_bytes empty = {.ptr = NULL, .len = 0};
    TB_ASSERT(agency != NULL && record_id != NULL);
    if (store_key_issuer(&k, city, agency, record_id) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "by_issuer: bad city or agency length");
    return store_put(txn, STORE_DB_BY_ISSUER, store_key_bytes(&k), empty, 0, errmsg);
}

int store_audit_put(struct store_txn *txn, const uint8_t subject[STORE_ID_BYTES], uint64_t height,
                    uint32_t index, struct tb_bytes entry, char *errmsg)
{
    struct store_key k;
    store_key_audit(&k, subject, height, index);
    return store_put(txn, STORE_DB_AUDIT, store_key_bytes(&k), entry, 0, errmsg);
}

int store_document_put(struct store_txn *txn, const uint8_t record_id[STORE_ID_BYTES],
                       struct tb_bytes sealed, char *errmsg)
{
    return store_put(txn, STORE_DB_DOCUMENTS, store_id_bytes(record_id), sealed, 0, errmsg);
}

int store_document_get(struct store_txn *txn, const uint8_t record_id[STORE_ID_BYTES],
                       struct tb_buf *out, char *errmsg)
{
    return store_get(txn, STORE_DB_DOCUMENTS, store_id_bytes(record_id), out, errmsg);
}

int store_agency_put(struct store_txn *txn, struct tb_bytes public_key, struct tb_bytes info,
                     char *errmsg)
{
    return store_put(txn, STORE_DB_AGENCIES, public_key, info, 0, errmsg);
}

int store_agency_get(struct store_txn *txn, struct tb_bytes public_key, struct tb_buf *out,
                     char *errmsg)
{
    return store_get(txn, STORE_DB_AGENCIES, public_key, out, errmsg);
}

int store_member_put(struct store_txn *txn, const char *city, struct tb_bytes info, char *errmsg)
{
    struct store_key k = {.len = 0};
    if (store_key_name(&k, city) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "members: bad city length");
    return store_put(txn, STORE_DB_MEMBERS, store_key_bytes(&k), info, 0, errmsg);
}

int store_member_get(struct store_txn *txn, const char *city, struct tb_buf *out, char *errmsg)
{
    struct store_key k = {.len = 0};
    if (store_key_name(&k, city) != TB_OK)
        return tb_fail(errmsg, TB_EINVAL, "members: bad city length");
    return store_get(txn, STORE_DB_MEMBERS, store_key_bytes(&k), out, errmsg);
}

int store_evidence_put(struct store_txn *txn, uint64_t height, uint32_t round, uint8_t type,
                       uint32_t validator_index, struct tb_bytes votes, char *errmsg)
{
    uint8_t key[STORE_EVIDENCE_KEY_BYTES];
    store_put_be64(key, height);
    store_put_be32(key + 8, round);
    key[12] = type;
    store_put_be32(key + 13, validator_index);
    struct tb_bytes k = {.ptr = key, .len = sizeof(key)};
    return store_put(txn, STORE_DB_EVIDENCE, k, votes, STORE_PUT_NEW, errmsg);
}
