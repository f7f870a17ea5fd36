/*
 * node/store_writelog.c: recording a write transaction's puts and deletes, and performing
 * them again on another transaction (store.h, "write log"). The node checks each block in
 * a scratch transaction before voting for it; the write log lets the commit replay that
 * check's writes instead of applying the block a second time.
 *
 * A record is op(1) db(1) flags(1) key_len u16 value_len u32 key value, all lengths
 * big-endian; the log is built and read only by this process, but replay still parses it
 * with bounds checks and asserts, since a wrong replay would corrupt the store.
 *
 * Must never: let recording fail the transaction it records (a full or failed log is only
 * marked broken), or replay a broken log.
 */
#include <inttypes.h>
#include <string.h>

#include "store.h"
#include "tb_assert.h"

#define STORE_WL_HEAD_BYTES 9u

void store_writelog_init(struct store_writelog *log)
{
    memset(log, 0, sizeof(*log));
    tb_buf_init(&log->buf, STORE_WRITELOG_BYTES_MAX);
}

void store_writelog_release(struct store_writelog *log)
{
    tb_buf_release(&log->buf);
    log->count = 0;
    log->broken = false;
}

void store_writelog_note(struct store_writelog *log, uint8_t op, enum store_db db, uint32_t flags,
                         struct tb_bytes key, struct tb_bytes value)
{
    TB_ASSERT(op == 'p' || op == 'd');
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    TB_ASSERT(flags <= 0xffu);
    TB_ASSERT(key.len >= 1 && key.len <= STORE_KEY_BYTES_MAX);
    if (log->broken)
        return;
    if (value.len > UINT32_MAX ||
        tb_buf_reserve(&log->buf, STORE_WL_HEAD_BYTES + key.len + value.len) != TB_OK) {
        log->broken = true; /* too big or out of memory: the commit applies the block */
        return;
    }
    uint8_t head[STORE_WL_HEAD_BYTES] = {op,
                                         (uint8_t)db,
                                         (uint8_t)flags,
                                         (uint8_t)(key.len >> 8),
                                         (uint8_t)key.len,
                                         (uint8_t)(value.len >> 24),
                                         (uint8_t)(value.len >> 16),
                                         (uint8_t)(value.len >> 8),
                                         (uint8_t)value.len};
    int rv = tb_buf_append(&log->buf, head, sizeof(head));
    if (rv == TB_OK)
        rv = tb_buf_append(&log->buf, key.ptr, key.len);
    if (rv == TB_OK && value.len > 0)
        rv = tb_buf_append(&log->buf, value.ptr, value.len);
    TB_ASSERT(rv == TB_OK); /* reserved above */
    log->count++;
}

int store_writelog_replay(struct store_txn *txn, const struct store_writelog *log, char *errmsg)
{
    TB_ASSERT(txn != NULL && store_txn_writable(txn));
    if (log->broken)
        return tb_fail(errmsg, TB_EINVAL, "write log is incomplete");
    const uint8_t *p = log->buf.data;
    size_t left = log->buf.len;
    uint32_t done = 0;
    while (left > 0) {
        TB_ASSERT(left >= STORE_WL_HEAD_BYTES);
        uint8_t op = p[0];
        enum store_db db = (enum store_db)p[1];
        uint32_t flags = p[2];
        size_t klen = (size_t)p[3] << 8 | p[4];
        size_t vlen = (size_t)p[5] << 24 | (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
        TB_ASSERT(left - STORE_WL_HEAD_BYTES >= klen && left - STORE_WL_HEAD_BYTES - klen >= vlen);
        struct tb_bytes key = {.ptr = p + STORE_WL_HEAD_BYTES, .len = klen};
        struct tb_bytes value = {.ptr = key.ptr + klen, .len = vlen};
        int rv;
        if (op == 'p') {
            rv = store_put(txn, db, key, value, flags, errmsg);
        } else {
            TB_ASSERT(op == 'd');
            /* A pending tx goes by its id, with whatever pending_log entry it has now: the
             * recorded sequence may since name another tx's envelope (sequences of deleted
             * entries are reused), so recorded pending_log deletes are not replayed. */
            if (db == STORE_DB_PENDING && key.len == STORE_ID_BYTES)
                rv = store_pending_del(txn, key.ptr, NULL, errmsg);
            else if (db == STORE_DB_PENDING_LOG)
                rv = TB_OK;
            else
                rv = store_del(txn, db, key, errmsg);
            if (rv == TB_ENOTFOUND)
                rv = TB_OK;
        }
        if (rv != TB_OK) {
            tb_errmsg_wrapf(errmsg, "replaying write %" PRIu32 " of %" PRIu32, done + 1,
                            log->count);
            return rv;
        }
        size_t used = STORE_WL_HEAD_BYTES + klen + vlen;
        p += used;
        left -= used;
        done++;
    }
    TB_ASSERT(done == log->count);
    return TB_OK;
}
