/*
 * node/store_lmdb.c: the LMDB environment behind store.h. The ONLY file in the project
 * that includes lmdb.h: it opens the environment, runs transactions, does the generic
 * put/get/del/scan, translates every LMDB error into a TB_E* code with mdb_strerror's
 * text, and carries the test fault hook.
 *
 * Settings, and why: the default durable mode (no MDB_NOSYNC, no MDB_NOMETASYNC: both can
 * lose or corrupt committed data on power loss; no MDB_WRITEMAP: a stray write through
 * the map would corrupt the file, and it preallocates the whole map on some systems);
 * MDB_NOTLS, so that reader slots belong to transactions rather than threads and a read
 * transaction may move between threads; mdb_reader_check at open, because a process killed
 * with -9 leaves its reader slots behind and they pin pages until someone clears them.
 *
 * Must never: assert on an LMDB return code or on bytes read from the map, let an MDB_val
 * outlive its transaction, or commit a write transaction after one of its calls failed.
 */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_alloc.h"
#include "tb_assert.h"

static const char *const store_db_names[STORE_DB_COUNT] = {
    [STORE_DB_META] = "meta",
    [STORE_DB_BLOCKS] = "blocks",
    [STORE_DB_CERTS] = "certs",
    [STORE_DB_BLOCK_HASHES] = "block_hashes",
    [STORE_DB_TXLOC] = "txloc",
    [STORE_DB_PENDING] = "pending_ids",
    [STORE_DB_PENDING_LOG] = "pending_log",
    [STORE_DB_WAL] = "wal",
    [STORE_DB_LOG_NODES] = "log_nodes",
    [STORE_DB_SMT_NODES] = "smt_nodes_v2",
    [STORE_DB_SMT_ROOTS] = "smt_roots",
    [STORE_DB_BY_SUBJECT] = "by_subject",
    [STORE_DB_BY_ISSUER] = "by_issuer",
    [STORE_DB_AGENCIES] = "agencies",
    [STORE_DB_MEMBERS] = "members",
    [STORE_DB_AUDIT] = "audit",
    [STORE_DB_DOCUMENTS] = "documents",
    [STORE_DB_EVIDENCE] = "evidence",
};

struct store
{
    MDB_env *env;
    MDB_dbi dbi[STORE_DB_COUNT];
    uint64_t map_bytes;
    uint32_t readers_reclaimed_at_open;
    atomic_uint txn_open; /* transactions begun and not yet ended */
    /* Test fault hook; only the thread that holds the write transaction touches it. */
    struct store_fault fault;
    uint64_t fault_writes;
    uint64_t fault_commits;
};

struct store_txn
{
    struct store *store;
    MDB_txn *txn;
    bool write;
    int failed; /* first error of a write transaction; it can then only abort */
    char failed_msg[TB_ERRMSG_SIZE]; /* and its message, repeated by later calls */
    struct store_writelog *record;   /* writes are noted here too, or NULL (store.h) */
    /* store_append_u64's next key per db (0: not known yet, MDB_LAST finds it) */
    uint64_t append_next[STORE_DB_COUNT];
};

/* The store whose write transaction this thread holds: a second begin would deadlock. */
static _Thread_local const struct store *store_tls_writer;

const char *store_db_name(enum store_db db)
{
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    return store_db_names[db];
}

/*
 * Translates an LMDB (or errno) code. MDB_MAP_FULL and a full disk are TB_ENOSPC, with
 * the remedy in the message; everything else is TB_EIO with LMDB's own text.
 */
static int store_mdb_fail(const struct store *s, int rc, char *errmsg, const char *fmt, ...)
    TB_PRINTF(4, 5);
static int store_mdb_fail(const struct store *s, int rc, char *errmsg, const char *fmt, ...)
{
    char what[TB_ERRMSG_SIZE / 2];
    va_list ap;
    TB_ASSERT(rc != MDB_SUCCESS);
    TB_ASSERT(errmsg != NULL);
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT) {
        return tb_fail(errmsg, TB_ENOSPC,
                       "%s: storage full: %s (map %llu bytes); reopen with a larger map "
                       "size or free disk space",
                       what, mdb_strerror(rc), (unsigned long long)(s ? s->map_bytes : 0));
    }
    return tb_fail(errmsg, TB_EIO, "%s: %s", what, mdb_strerror(rc));
}

/* Rounds up to the OS page size; LMDB wants the map a multiple of it. */
static uint64_t store_map_round(uint64_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t p = page > 0 ? (uint64_t)page : 4096u;
    TB_ASSERT((p & (p - 1)) == 0);
    TB_ASSERT(bytes <= STORE_MAP_BYTES_MAX);
    return (bytes + p - 1) & ~(p - 1);
}

/* Opens (creating) every named database in one write transaction. */
static int store_open_dbis(struct store *s, char *errmsg)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "begin create transaction");
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            return store_mdb_fail(s, rc, errmsg, "open database %s", store_db_names[i]);
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "create databases");
    return TB_OK;
}

/*
 * Databases of older layouts: the status tree used to live in "smt_nodes", keyed by node
 * hash (D19 moved it to smt_nodes_v2 + smt_roots), and the mempool's copy in "pending", tx
 * id -> envelope (D21: pending_ids + pending_log). Such a directory cannot be read by this
 * version: refuse it rather than start from an empty tree or lose acknowledged txs.
 */
static const char *const store_old_dbs[] = {"smt_nodes", "pending"};
#define STORE_OLD_DB_COUNT (sizeof(store_old_dbs) / sizeof(store_old_dbs[0]))

/* *entries gets the size of the old database `name`, 0 when absent. Handles die with txn. */
static int store_old_db_entries(struct store *s, MDB_txn *txn, const char *name, size_t *entries,
                                char *errmsg)
{
    MDB_dbi dbi;
    MDB_stat st;
    *entries = 0;
    int rc = mdb_dbi_open(txn, name, 0, &dbi);
    if (rc == MDB_SUCCESS)
        rc = mdb_stat(txn, dbi, &st);
    if (rc == MDB_NOTFOUND)
        return TB_OK;
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "layout check of %s", name);
    *entries = st.ms_entries;
    return TB_OK;
}

static int store_refuse_old_layout(struct store *s, const char *dir, char *errmsg)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "begin layout check '%s'", dir);
    int rv = TB_OK;
    for (size_t i = 0; rv == TB_OK && i < STORE_OLD_DB_COUNT; i++) {
        size_t entries = 0;
        rv = store_old_db_entries(s, txn, store_old_dbs[i], &entries, errmsg);
        if (rv == TB_OK && entries > 0)
            rv = tb_fail(errmsg, TB_EIO,
                         "store '%s': data directory uses an old layout (database %s); "
                         "re-create it and let the node sync",
                         dir, store_old_dbs[i]);
    }
    mdb_txn_abort(txn);
    return rv;
}

static int store_env_open(struct store *s, const char *dir, char *errmsg)
{
    unsigned int flags = 0;
    int dead = 0;
    int rc = mdb_env_create(&s->env);
    if (rc != MDB_SUCCESS) {
        s->env = NULL;
        return store_mdb_fail(s, rc, errmsg, "create environment");
    }
    rc = mdb_env_set_maxdbs(s->env, STORE_DB_COUNT + STORE_OLD_DB_COUNT); /* old ones: checked */
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_mapsize(s->env, (size_t)s->map_bytes);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "open environment '%s'", dir);
    /* Durable settings only: check what LMDB actually runs with. */
    rc = mdb_env_get_flags(s->env, &flags);
    TB_ASSERT(rc == MDB_SUCCESS);
    TB_ASSERT((flags & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_RDONLY)) == 0);
    rc = mdb_reader_check(s->env, &dead);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "reader check '%s'", dir);
    TB_ASSERT(dead >= 0);
    s->readers_reclaimed_at_open = (uint32_t)dead;
    /* An existing file larger than the map asked for keeps its size: report the real one. */
    MDB_envinfo info;
    rc = mdb_env_info(s->env, &info);
    TB_ASSERT(rc == MDB_SUCCESS);
    TB_ASSERT(info.me_mapsize >= s->map_bytes);
    s->map_bytes = info.me_mapsize;
    int rv = store_refuse_old_layout(s, dir, errmsg);
    return rv != TB_OK ? rv : store_open_dbis(s, errmsg);
}

int store_open(struct store **out, const char *dir, uint64_t map_size_bytes, char *errmsg)
{
    TB_ASSERT(out != NULL);
    TB_ASSERT(dir != NULL);
    if (map_size_bytes < STORE_MAP_BYTES_MIN || map_size_bytes > STORE_MAP_BYTES_MAX) {
        return tb_fail(errmsg, TB_EINVAL, "store map size %llu bytes outside %u..%llu",
                       (unsigned long long)map_size_bytes, STORE_MAP_BYTES_MIN,
                       (unsigned long long)STORE_MAP_BYTES_MAX);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return store_mdb_fail(NULL, errno, errmsg, "create store directory '%s'", dir);
    struct store *s = tb_calloc(1, sizeof(*s));
    if (s == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "store '%s': out of memory", dir);
    s->map_bytes = store_map_round(map_size_bytes);
    atomic_init(&s->txn_open, 0u);
    int rv = store_env_open(s, dir, errmsg);
    if (rv != TB_OK) {
        if (s->env != NULL)
            mdb_env_close(s->env);
        tb_free(s);
        return rv;
    }
    *out = s;
    return TB_OK;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    TB_ASSERT(atomic_load(&s->txn_open) == 0u);
    TB_ASSERT(store_tls_writer != s);
    mdb_env_close(s->env);
    tb_free(s);
}

int store_reader_check(struct store *s, uint32_t *dead, char *errmsg)
{
    int n = 0;
    TB_ASSERT(s != NULL);
    TB_ASSERT(dead != NULL);
    int rc = mdb_reader_check(s->env, &n);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "reader check");
    TB_ASSERT(n >= 0);
    *dead = (uint32_t)n;
    return TB_OK;
}

/* ------------------------------------------------------------ transactions */

static int store_begin(struct store *s, bool write, struct store_txn **out, char *errmsg)
{
    TB_ASSERT(s != NULL);
    TB_ASSERT(out != NULL);
    struct store_txn *t = tb_calloc(1, sizeof(*t));
    if (t == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "begin transaction: out of memory");
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED && atomic_load(&s->txn_open) == 0u) {
        /* Another process grew the map: adopt its size (legal only with no transaction
         * open here), then retry once. */
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == MDB_SUCCESS)
            rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    }
    if (rc != MDB_SUCCESS) {
        tb_free(t);
        return store_mdb_fail(s, rc, errmsg, "begin %s transaction", write ? "write" : "read");
    }
    t->store = s;
    t->write = write;
    atomic_fetch_add(&s->txn_open, 1u);
    *out = t;
    return TB_OK;
}

int store_begin_write(struct store *s, struct store_txn **out, char *errmsg)
{
    /* LMDB's writer lock is not recursive: a second begin here would hang forever. */
    TB_ASSERT(store_tls_writer != s);
    int rv = store_begin(s, true, out, errmsg);
    if (rv == TB_OK)
        store_tls_writer = s;
    return rv;
}

int store_begin_read(struct store *s, struct store_txn **out, char *errmsg)
{
    return store_begin(s, false, out, errmsg);
}

static void store_txn_end(struct store_txn *txn)
{
    struct store *s = txn->store;
    TB_ASSERT(atomic_load(&s->txn_open) > 0u);
    if (txn->write) {
        TB_ASSERT(store_tls_writer == s);
        store_tls_writer = NULL;
    }
    atomic_fetch_sub(&s->txn_open, 1u);
    tb_free(txn);
}

void store_abort(struct store_txn *txn)
{
    if (txn == NULL)
        return;
    mdb_txn_abort(txn->txn);
    store_txn_end(txn);
}

struct store *store_txn_store(const struct store_txn *txn)
{
    TB_ASSERT(txn != NULL);
    TB_ASSERT(txn->store != NULL);
    return txn->store;
}

bool store_txn_writable(const struct store_txn *txn)
{
    TB_ASSERT(txn != NULL);
    return txn->write && txn->failed == TB_OK;
}

/* Marks a write transaction dead after its first failure; returns the code. */
static int store_txn_fail(struct store_txn *txn, int code, const char *errmsg)
{
    TB_ASSERT(code < 0);
    TB_ASSERT(txn->failed == TB_OK);
    txn->failed = code;
    snprintf(txn->failed_msg, sizeof(txn->failed_msg), "%s", errmsg);
    return code;
}

/* The fault hook: 1 when this operation is the one to fail (or crash). */
static int store_fault_hit(struct store *s, uint32_t op)
{
    uint64_t *seen = op == STORE_FAULT_WRITE ? &s->fault_writes : &s->fault_commits;
    (*seen)++;
    if ((s->fault.ops & op) == 0)
        return 0;
    if (s->fault.after > 0) {
        s->fault.after--;
        return 0;
    }
    s->fault.ops = 0;
    if (s->fault.crash)
        _exit(STORE_FAULT_EXIT_STATUS); /* kill -9 at this instant: nothing is closed */
    return 1;
}

int store_commit(struct store_txn *txn, char *errmsg)
{
    TB_ASSERT(txn != NULL);
    struct store *s = txn->store;
    if (!txn->write) {
        mdb_txn_abort(txn->txn); /* a read transaction has nothing to commit */
        store_txn_end(txn);
        return TB_OK;
    }
    int rv = txn->failed;
    if (rv != TB_OK) {
        tb_fail(errmsg, rv, "commit refused after a failed write: %s", txn->failed_msg);
    } else if (store_fault_hit(s, STORE_FAULT_COMMIT)) {
        rv = tb_fail(errmsg, s->fault.code, "commit: injected fault (%s)",
                     tb_strerror(s->fault.code));
    }
    if (rv != TB_OK) {
        mdb_txn_abort(txn->txn);
        store_txn_end(txn);
        return rv;
    }
    /* mdb_txn_commit frees the transaction whatever it returns. */
    int rc = mdb_txn_commit(txn->txn);
    store_txn_end(txn);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "commit");
    return TB_OK;
}

/* --------------------------------------------------------------- generic */

static int store_key_check(enum store_db db, struct tb_bytes key, char *errmsg)
{
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    TB_ASSERT(errmsg != NULL);
    if (key.len == 0 || key.len > STORE_KEY_BYTES_MAX) {
        return tb_fail(errmsg, TB_EINVAL, "%s: key of %zu bytes outside 1..%u", store_db_names[db],
                       key.len, STORE_KEY_BYTES_MAX);
    }
    TB_ASSERT(key.ptr != NULL);
    return TB_OK;
}

/* Gate for every write: a live write transaction, and the fault hook. */
static int store_write_gate(struct store_txn *txn, enum store_db db, char *errmsg)
{
    TB_ASSERT(txn != NULL);
    TB_ASSERT(txn->write); /* a write through a read transaction is a programmer error */
    if (txn->failed != TB_OK) {
        return tb_fail(errmsg, txn->failed, "%s: write transaction already failed: %s",
                       store_db_names[db], txn->failed_msg);
    }
    if (store_fault_hit(txn->store, STORE_FAULT_WRITE)) {
        int code = txn->store->fault.code;
        tb_fail(errmsg, code, "%s: injected fault (%s)", store_db_names[db], tb_strerror(code));
        return store_txn_fail(txn, code, errmsg);
    }
    return TB_OK;
}

/* After an appending put: keeps store_append_u64's cached next key past a u64 key. */
static void store_append_seen(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                              uint32_t flags)
{
    if ((flags & STORE_PUT_APPEND) == 0 || key.len != 8)
        return;
    uint64_t next = store_be64(key.ptr) + 1; /* 0 after UINT64_MAX: not known */
    if (next == 0 || next > txn->append_next[db])
        txn->append_next[db] = next;
}

int store_put(struct store_txn *txn, enum store_db db, struct tb_bytes key, struct tb_bytes value,
              uint32_t flags, char *errmsg)
{
    static uint8_t empty; /* LMDB copies 0 bytes from here for an empty value */
    TB_ASSERT((flags & ~(uint32_t)(STORE_PUT_NEW | STORE_PUT_APPEND)) == 0);
    TB_ASSERT(value.ptr != NULL || value.len == 0);
    int rv = store_key_check(db, key, errmsg);
    if (rv == TB_OK)
        rv = store_write_gate(txn, db, errmsg);
    if (rv != TB_OK)
        return rv;
    MDB_val k = {.mv_size = key.len, .mv_data = (void *)key.ptr};
    MDB_val v = {.mv_size = value.len, .mv_data = value.len ? (void *)value.ptr : &empty};
    unsigned int mflags = (flags & STORE_PUT_NEW) ? MDB_NOOVERWRITE : 0;
    mflags |= (flags & STORE_PUT_APPEND) ? MDB_APPEND : 0;
    int rc = mdb_put(txn->txn, txn->store->dbi[db], &k, &v, mflags);
    if (rc == MDB_KEYEXIST && (flags & STORE_PUT_APPEND)) {
        tb_fail(errmsg, TB_EIO, "%s: append out of order", store_db_names[db]);
        return store_txn_fail(txn, TB_EIO, errmsg);
    }
    if (rc == MDB_SUCCESS)
        store_append_seen(txn, db, key, flags);
    if (rc == MDB_KEYEXIST) /* LMDB leaves the transaction usable */
        return tb_fail(errmsg, TB_EEXIST, "%s: key already present", store_db_names[db]);
    if (rc != MDB_SUCCESS) {
        int code = store_mdb_fail(txn->store, rc, errmsg, "put into %s", store_db_names[db]);
        return store_txn_fail(txn, code, errmsg);
    }
    if (txn->record != NULL)
        store_writelog_note(txn->record, 'p', db, flags, key, value);
    return TB_OK;
}

/* Looks a key up; *v points into the map until the transaction ends. */
static int store_lookup(struct store_txn *txn, enum store_db db, struct tb_bytes key, MDB_val *v,
                        char *errmsg)
{
    TB_ASSERT(txn != NULL);
    int rv = store_key_check(db, key, errmsg);
    if (rv != TB_OK)
        return rv;
    MDB_val k = {.mv_size = key.len, .mv_data = (void *)key.ptr};
    int rc = mdb_get(txn->txn, txn->store->dbi[db], &k, v);
    if (rc == MDB_NOTFOUND)
        return tb_fail(errmsg, TB_ENOTFOUND, "%s: not found", store_db_names[db]);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(txn->store, rc, errmsg, "get from %s", store_db_names[db]);
    TB_ASSERT(v->mv_data != NULL || v->mv_size == 0);
    return TB_OK;
}

int store_get(struct store_txn *txn, enum store_db db, struct tb_bytes key, struct tb_buf *out,
              char *errmsg)
{
    MDB_val v;
    int rv = store_lookup(txn, db, key, &v, errmsg);
    if (rv != TB_OK || out == NULL)
        return rv;
    tb_buf_reset(out);
    rv = tb_buf_append(out, v.mv_data, v.mv_size);
    if (rv != TB_OK) {
        return tb_fail(errmsg, rv, "%s: value of %zu bytes: %s", store_db_names[db], v.mv_size,
                       tb_strerror(rv));
    }
    TB_ASSERT(out->len == v.mv_size);
    return TB_OK;
}

int store_get_exact(struct store_txn *txn, enum store_db db, struct tb_bytes key, void *out,
                    size_t len, char *errmsg)
{
    MDB_val v;
    TB_ASSERT(out != NULL);
    int rv = store_lookup(txn, db, key, &v, errmsg);
    if (rv != TB_OK)
        return rv;
    if (v.mv_size != len) {
        return tb_fail(errmsg, TB_EIO, "%s: corrupt store: value of %zu bytes, expected %zu",
                       store_db_names[db], v.mv_size, len);
    }
    memcpy(out, v.mv_data, len);
    return TB_OK;
}

void store_txn_record(struct store_txn *txn, struct store_writelog *log)
{
    TB_ASSERT(txn != NULL && txn->write);
    txn->record = log;
}

int store_del(struct store_txn *txn, enum store_db db, struct tb_bytes key, char *errmsg)
{
    int rv = store_key_check(db, key, errmsg);
    if (rv == TB_OK)
        rv = store_write_gate(txn, db, errmsg);
    if (rv != TB_OK)
        return rv;
    if (txn->record != NULL) /* the attempt: a replay deletes if present */
        store_writelog_note(txn->record, 'd', db, 0, key, (struct tb_bytes){NULL, 0});
    MDB_val k = {.mv_size = key.len, .mv_data = (void *)key.ptr};
    int rc = mdb_del(txn->txn, txn->store->dbi[db], &k, NULL);
    if (rc == MDB_NOTFOUND) /* LMDB leaves the transaction usable */
        return tb_fail(errmsg, TB_ENOTFOUND, "%s: delete: not found", store_db_names[db]);
    if (rc != MDB_SUCCESS) {
        int code = store_mdb_fail(txn->store, rc, errmsg, "delete from %s", store_db_names[db]);
        return store_txn_fail(txn, code, errmsg);
    }
    return TB_OK;
}

int store_get_upto(struct store_txn *txn, enum store_db db, struct tb_bytes key, void *out,
                   size_t max, size_t *len, char *errmsg)
{
    MDB_val v;
    TB_ASSERT(out != NULL && len != NULL);
    *len = 0;
    int rv = store_lookup(txn, db, key, &v, errmsg);
    if (rv != TB_OK)
        return rv;
    if (v.mv_size > max) {
        return tb_fail(errmsg, TB_EIO, "%s: corrupt store: value of %zu bytes, at most %zu",
                       store_db_names[db], v.mv_size, max);
    }
    memcpy(out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return TB_OK;
}

/* The u64 key one past db's last (1 for an empty db), with MDB_LAST. */
static int store_append_first(struct store_txn *txn, enum store_db db, uint64_t *next, char *errmsg)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cur);
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        mdb_cursor_close(cur);
    }
    if (rc == MDB_NOTFOUND) {
        *next = 1;
        return TB_OK;
    }
    if (rc != MDB_SUCCESS) {
        int code = store_mdb_fail(txn->store, rc, errmsg, "last key of %s", store_db_names[db]);
        return store_txn_fail(txn, code, errmsg);
    }
    if (k.mv_size != 8 || store_be64(k.mv_data) == UINT64_MAX) {
        tb_fail(errmsg, TB_EIO, "%s: corrupt store: last key of %zu bytes is no u64 to follow",
                store_db_names[db], k.mv_size);
        return store_txn_fail(txn, TB_EIO, errmsg);
    }
    *next = store_be64(k.mv_data) + 1;
    return TB_OK;
}

int store_append_u64(struct store_txn *txn, enum store_db db, struct tb_bytes value,
                     uint64_t *key_out, char *errmsg)
{
    struct store_key key;
    TB_ASSERT(txn != NULL && txn->write); /* only write transactions append */
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    TB_ASSERT(key_out != NULL);
    if (txn->failed != TB_OK) {
        return tb_fail(errmsg, txn->failed, "%s: write transaction already failed: %s",
                       store_db_names[db], txn->failed_msg);
    }
    if (txn->append_next[db] == 0) {
        int rv = store_append_first(txn, db, &txn->append_next[db], errmsg);
        if (rv != TB_OK)
            return rv;
    }
    uint64_t next = txn->append_next[db];
    TB_ASSERT(next != 0);
    store_key_u64(&key, next);
    int rv = store_put(txn, db, store_key_bytes(&key), value, STORE_PUT_APPEND, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(txn->append_next[db] == next + 1 || next == UINT64_MAX);
    *key_out = next;
    return TB_OK;
}

static int store_bytes_cmp(struct tb_bytes a, struct tb_bytes b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

/* Positions the cursor on the first key >= start (start.len == 0: the first key). */
static int store_scan_seek(MDB_cursor *cur, struct tb_bytes start, bool skip_equal, MDB_val *k,
                           MDB_val *v)
{
    int rc;
    if (start.len == 0) {
        rc = mdb_cursor_get(cur, k, v, MDB_FIRST);
    } else {
        k->mv_size = start.len;
        k->mv_data = (void *)start.ptr;
        rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    }
    if (rc == MDB_SUCCESS && skip_equal) {
        struct tb_bytes got = {.ptr = k->mv_data, .len = k->mv_size};
        if (store_bytes_cmp(got, start) == 0)
            rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    }
    return rc;
}

static int store_scan_loop(struct store_txn *txn, MDB_cursor *cur, enum store_db db,
                           struct tb_bytes prefix, struct tb_bytes start, bool skip_equal,
                           uint32_t count_max, const struct store_visitor *visitor,
                           uint32_t *visited, char *errmsg)
{
    MDB_val k, v;
    int rc = store_scan_seek(cur, start, skip_equal, &k, &v);
    while (rc == MDB_SUCCESS && *visited < count_max) {
        struct tb_bytes key = {.ptr = k.mv_data, .len = k.mv_size};
        struct tb_bytes value = {.ptr = v.mv_data, .len = v.mv_size};
        if (key.len < prefix.len || (prefix.len && memcmp(key.ptr, prefix.ptr, prefix.len) != 0))
            return TB_OK;
        (*visited)++;
        int vr = visitor->visit(visitor->arg, key, value, errmsg);
        if (vr < 0)
            return vr;
        if (vr > 0)
            return TB_OK;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_mdb_fail(txn->store, rc, errmsg, "scan %s", store_db_names[db]);
    return TB_OK;
}

int store_scan(struct store_txn *txn, enum store_db db, struct tb_bytes prefix,
               const struct tb_bytes *after, uint32_t count_max,
               const struct store_visitor *visitor, uint32_t *visited, char *errmsg)
{
    MDB_cursor *cur = NULL;
    TB_ASSERT(txn != NULL);
    TB_ASSERT(visitor != NULL && visitor->visit != NULL);
    TB_ASSERT(visited != NULL);
    TB_ASSERT(count_max >= 1);
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    *visited = 0;
    if (prefix.len > STORE_KEY_BYTES_MAX || (after != NULL && after->len > STORE_KEY_BYTES_MAX))
        return tb_fail(errmsg, TB_EINVAL, "scan %s: key too long", store_db_names[db]);
    if (txn->write && txn->failed != TB_OK)
        return tb_fail(errmsg, txn->failed, "scan %s: transaction failed: %s", store_db_names[db],
                       txn->failed_msg);
    /* Start at whichever is later: the prefix, or just after `after`. */
    struct tb_bytes start = prefix;
    bool skip_equal = false;
    if (after != NULL && store_bytes_cmp(*after, prefix) >= 0) {
        start = *after;
        skip_equal = true;
    }
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cur);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(txn->store, rc, errmsg, "scan %s", store_db_names[db]);
    int rv = store_scan_loop(txn, cur, db, prefix, start, skip_equal, count_max, visitor, visited,
                             errmsg);
    mdb_cursor_close(cur);
    TB_ASSERT(*visited <= count_max);
    return rv;
}

int store_count(struct store_txn *txn, enum store_db db, uint64_t *entries, char *errmsg)
{
    MDB_stat st;
    TB_ASSERT(txn != NULL);
    TB_ASSERT((unsigned)db < STORE_DB_COUNT);
    int rc = mdb_stat(txn->txn, txn->store->dbi[db], &st);
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(txn->store, rc, errmsg, "stat %s", store_db_names[db]);
    *entries = st.ms_entries;
    return TB_OK;
}

int store_stat_get(struct store *s, struct store_stat *out, char *errmsg)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fst;
    int fd = -1;
    struct store_txn *txn = NULL;
    TB_ASSERT(s != NULL);
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    int rc = mdb_env_info(s->env, &info);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_stat(s->env, &st);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_get_fd(s->env, &fd);
    if (rc == MDB_SUCCESS && fstat(fd, &fst) != 0)
        rc = errno;
    if (rc != MDB_SUCCESS)
        return store_mdb_fail(s, rc, errmsg, "store stat");
    out->map_bytes = info.me_mapsize;
    out->page_bytes = st.ms_psize;
    out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    out->file_bytes = (uint64_t)fst.st_size;
    out->readers_used = info.me_numreaders;
    out->readers_reclaimed_at_open = s->readers_reclaimed_at_open;
    int rv = store_begin_read(s, &txn, errmsg);
    for (int i = 0; rv == TB_OK && i < STORE_DB_COUNT; i++)
        rv = store_count(txn, (enum store_db)i, &out->entries[i], errmsg);
    store_abort(txn);
    return rv;
}

/* ------------------------------------------------------------- fault hook */

void store_fault_set(struct store *s, const struct store_fault *fault)
{
    TB_ASSERT(s != NULL);
    memset(&s->fault, 0, sizeof(s->fault));
    s->fault_writes = 0;
    s->fault_commits = 0;
    if (fault == NULL || fault->ops == 0)
        return;
    TB_ASSERT((fault->ops & ~(uint32_t)(STORE_FAULT_WRITE | STORE_FAULT_COMMIT)) == 0);
    TB_ASSERT(fault->crash || fault->code < 0);
    s->fault = *fault;
}

void store_fault_seen(const struct store *s, uint64_t *writes, uint64_t *commits)
{
    TB_ASSERT(s != NULL);
    TB_ASSERT(writes != NULL && commits != NULL);
    *writes = s->fault_writes;
    *commits = s->fault_commits;
}
