/*
 * node/store: the LMDB storage layer, on real LMDB files in t_tmpdir() directories.
 * Round trips through every database and copy-out semantics; bounded, paged scans
 * against a naive sorted list; durability across a child that _exits without closing
 * and one killed with SIGKILL mid-transaction; stale reader slots reclaimed; a full map
 * (TB_ENOSPC, still readable, writable again with a larger map); the LMDB tree stores
 * against the in-memory ones (roots, proofs, old versions, across reopen and rollback);
 * and fault injection at every write and at the commit of a block, including a crash at
 * each write: after reopening, the block is there entirely or not at all. Appends in key
 * order (the status tree's locations), and the refusal of an old-layout data directory
 * (written here with LMDB directly).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "cr_log.h"
#include "cr_smt.h"
#include "store.h"
#include "t_util.h"
#include "tb_alloc.h"

#define H CR_HASH_BYTES
#define MAP_BYTES (64u << 20)
#define BUF_MAX (1u << 20)

static char errmsg[TB_ERRMSG_SIZE];

#define OK(expr)                                                      \
    do {                                                              \
        int rv_ = (expr);                                             \
        if (rv_ != TB_OK)                                             \
            fail_msg("%s: %s (%s)", #expr, tb_strerror(rv_), errmsg); \
    } while (0)

static char *mkdir_tmp(const char *tag)
{
    return tb_strdup(t_tmpdir(tag));
}

static struct store *open_at(const char *dir, uint64_t map_bytes)
{
    struct store *s = NULL;
    OK(store_open(&s, dir, map_bytes, errmsg));
    assert_non_null(s);
    return s;
}

static void id_of(uint8_t out[H], uint64_t tag, uint64_t n)
{
    struct t_rng rng;
    t_rng_seed(&rng, tag * 1000003u + n);
    t_rng_bytes(&rng, out, H);
}

static void expect_buf(const struct tb_buf *buf, const void *data, size_t len)
{
    assert_int_equal(buf->len, len);
    if (len > 0)
        assert_memory_equal(buf->data, data, len);
}

/* ------------------------------------------------------------ round trips */

static void write_everything(struct store *s)
{
    struct store_txn *w = NULL;
    uint8_t chain[H], subj[H], rec[H], hash[H];
    id_of(chain, 1, 0);
    id_of(subj, 2, 0);
    id_of(rec, 3, 0);
    id_of(hash, 4, 0);
    struct store_state st = {.height = 7, .log_size = 42};
    memcpy(st.block_hash, hash, H);
    id_of(st.log_root, 5, 0);
    id_of(st.state_root, 6, 0);
    struct store_txloc loc = {.height = 7, .index = 3};

    OK(store_begin_write(s, &w, errmsg));
    OK(store_chain_put(w, chain, CR_SUITE_SM2_SM3, errmsg));
    OK(store_state_put(w, &st, errmsg));
    OK(store_block_put(w, 7, hash, t_str("block seven"), errmsg));
    OK(store_cert_put(w, 7, t_str("cert seven"), errmsg));
    OK(store_txloc_put(w, rec, &loc, errmsg));
    OK(store_pending_put(w, rec, t_str("envelope"), errmsg));
    OK(store_subject_put(w, subj, "hukou", rec, errmsg));
    OK(store_issuer_put(w, "shanghai", "police", rec, errmsg));
    OK(store_audit_put(w, subj, 7, 1, t_str("audit entry"), errmsg));
    OK(store_document_put(w, rec, t_str("sealed doc"), errmsg));
    OK(store_agency_put(w, t_str("pubkey-1"), t_str("agency info"), errmsg));
    OK(store_member_put(w, "shanghai", t_str("member info"), errmsg));
    OK(store_evidence_put(w, 7, 2, 1, 3, t_str("two votes"), errmsg));
    struct cr_log_store lst = store_log_tree(s);
    struct cr_smt_store sst = store_smt_tree(s);
    struct cr_smt_node node = {.kind = CR_SMT_NODE_INNER};
    memcpy(node.a, subj, H);
    memcpy(node.b, rec, H);
    OK(lst.put(lst.impl, w, 3, 5, hash, errmsg));
    OK(lst.put(lst.impl, w, 3, 5, hash, errmsg)); /* the same hash again: fine */
    assert_int_equal(lst.put(lst.impl, w, 3, 5, chain, errmsg), TB_EIO); /* another: not */
    uint64_t nloc = 0;
    OK(sst.put(sst.impl, w, &node, &nloc, errmsg));
    assert_int_equal(nloc, 1); /* the first location of an empty database */
    OK(sst.root_put(sst.impl, w, hash, nloc, errmsg));
    OK(sst.root_put(sst.impl, w, hash, 9, errmsg)); /* known: keeps the first */
    OK(store_commit(w, errmsg));
    OK(store_wal_put(s, t_str("wal record 1"), errmsg));
    OK(store_wal_put(s, t_str("wal record 2"), errmsg)); /* overwritten */
}

static void check_everything(struct store *s)
{
    struct store_txn *r = NULL;
    struct tb_buf buf;
    uint8_t chain[H], subj[H], rec[H], hash[H], got[H];
    enum cr_suite suite;
    struct store_state st;
    struct store_txloc loc;
    struct store_key k;
    id_of(chain, 1, 0);
    id_of(subj, 2, 0);
    id_of(rec, 3, 0);
    id_of(hash, 4, 0);
    tb_buf_init(&buf, BUF_MAX);

    OK(store_begin_read(s, &r, errmsg));
    OK(store_chain_get(r, got, &suite, errmsg));
    assert_memory_equal(got, chain, H);
    assert_int_equal(suite, CR_SUITE_SM2_SM3);
    OK(store_state_get(r, &st, errmsg));
    assert_int_equal(st.height, 7);
    assert_int_equal(st.log_size, 42);
    assert_memory_equal(st.block_hash, hash, H);
    id_of(got, 5, 0);
    assert_memory_equal(st.log_root, got, H);
    id_of(got, 6, 0);
    assert_memory_equal(st.state_root, got, H);
    OK(store_block_hash_get(r, 7, got, errmsg));
    assert_memory_equal(got, hash, H);
    OK(store_cert_get(r, 7, &buf, errmsg));
    expect_buf(&buf, "cert seven", 10);
    OK(store_txloc_get(r, rec, &loc, errmsg));
    assert_int_equal(loc.height, 7);
    assert_int_equal(loc.index, 3);
    OK(store_pending_get(r, rec, &buf, errmsg));
    expect_buf(&buf, "envelope", 8);
    OK(store_key_subject(&k, subj, "hukou", rec));
    OK(store_get(r, STORE_DB_BY_SUBJECT, store_key_bytes(&k), &buf, errmsg));
    assert_int_equal(buf.len, 0);
    OK(store_key_issuer(&k, "shanghai", "police", rec));
    OK(store_get(r, STORE_DB_BY_ISSUER, store_key_bytes(&k), NULL, errmsg));
    store_key_audit(&k, subj, 7, 1);
    OK(store_get(r, STORE_DB_AUDIT, store_key_bytes(&k), &buf, errmsg));
    expect_buf(&buf, "audit entry", 11);
    OK(store_document_get(r, rec, &buf, errmsg));
    expect_buf(&buf, "sealed doc", 10);
    OK(store_agency_get(r, t_str("pubkey-1"), &buf, errmsg));
    expect_buf(&buf, "agency info", 11);
    OK(store_member_get(r, "shanghai", &buf, errmsg));
    expect_buf(&buf, "member info", 11);
    OK(store_wal_get(r, &buf, errmsg));
    expect_buf(&buf, "wal record 2", 12);
    uint8_t ekey[17] = {0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 1, 0, 0, 0, 3};
    OK(store_get(r, STORE_DB_EVIDENCE, t_bytes(ekey, sizeof(ekey)), &buf, errmsg));
    expect_buf(&buf, "two votes", 9);
    struct cr_log_store lst = store_log_tree(s);
    struct cr_smt_store sst = store_smt_tree(s);
    struct cr_smt_node node;
    uint64_t nloc = 0;
    OK(lst.get(lst.impl, r, 3, 5, got, errmsg));
    assert_memory_equal(got, hash, H);
    assert_int_equal(lst.get(lst.impl, r, 3, 6, got, errmsg), TB_ENOTFOUND);
    OK(sst.root_get(sst.impl, r, hash, &nloc, errmsg));
    assert_int_equal(nloc, 1);
    assert_int_equal(sst.root_get(sst.impl, r, subj, &nloc, errmsg), TB_ENOTFOUND);
    OK(sst.get(sst.impl, r, 1, &node, errmsg));
    assert_int_equal(node.kind, CR_SMT_NODE_INNER);
    assert_memory_equal(node.a, subj, H);
    assert_memory_equal(node.b, rec, H);
    assert_true(node.a_loc == 0 && node.b_loc == 0);
    assert_int_equal(sst.get(sst.impl, r, 2, &node, errmsg), TB_ENOTFOUND);
    /* Copy-out: the block stays valid after the transaction ends. */
    OK(store_block_get(r, 7, &buf, errmsg));
    OK(store_commit(r, errmsg));
    expect_buf(&buf, "block seven", 11);
    tb_buf_release(&buf);
}

static void round_trip_every_database(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-rt");
    struct store *s = open_at(dir, MAP_BYTES);
    write_everything(s);
    check_everything(s);
    store_close(s);
    s = open_at(dir, MAP_BYTES); /* and again from disk */
    check_everything(s);
    struct store_stat st;
    OK(store_stat_get(s, &st, errmsg));
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        /* every database got exactly what write_everything put: meta chain and state */
        assert_int_equal(st.entries[i], i == STORE_DB_META ? 2 : 1);
    }
    assert_true(st.file_bytes > 0);
    assert_true(st.used_bytes <= st.map_bytes);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

static void refusals_and_errors(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-err");
    struct store *s = open_at(dir, MAP_BYTES);
    write_everything(s);
    struct store_txn *w = NULL;
    struct tb_buf small;
    uint8_t rec[H], subj[H], hash[H] = {0};
    struct store_txloc loc = {.height = 9, .index = 0};
    id_of(rec, 3, 0);
    id_of(subj, 2, 0);
    char long_name[STORE_NAME_BYTES_MAX + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';

    OK(store_begin_write(s, &w, errmsg));
    assert_int_equal(store_block_put(w, 7, hash, t_str("other"), errmsg), TB_EEXIST);
    assert_non_null(strstr(errmsg, "block 7"));
    assert_int_equal(store_txloc_put(w, rec, &loc, errmsg), TB_EEXIST);
    assert_int_equal(store_chain_put(w, rec, CR_SUITE_ED25519_SHA256, errmsg), TB_EEXIST);
    assert_int_equal(store_evidence_put(w, 7, 2, 1, 3, t_str("x"), errmsg), TB_EEXIST);
    assert_int_equal(store_subject_put(w, subj, long_name, rec, errmsg), TB_EINVAL);
    assert_int_equal(store_subject_put(w, subj, "", rec, errmsg), TB_EINVAL);
    assert_int_equal(store_issuer_put(w, "c", long_name, rec, errmsg), TB_EINVAL);
    assert_int_equal(store_put(w, STORE_DB_META, t_bytes("", 0), t_str("v"), 0, errmsg), TB_EINVAL);
    assert_int_equal(store_cert_get(w, 8, NULL, errmsg), TB_ENOTFOUND);
    assert_int_equal(store_del(w, STORE_DB_CERTS, t_bytes("nope", 4), errmsg), TB_ENOTFOUND);
    bool was = true;
    OK(store_pending_del(w, subj, &was, errmsg)); /* absent: fine, and says so */
    assert_false(was);
    /* None of those refusals killed the transaction. */
    assert_true(store_txn_writable(w));
    OK(store_cert_put(w, 7, t_str("cert seven, second quorum"), errmsg));
    OK(store_commit(w, errmsg));

    /* A value larger than the caller's maximum: TB_ELIMIT, buffer freed. */
    struct store_txn *r = NULL;
    tb_buf_init(&small, 4);
    OK(store_begin_read(s, &r, errmsg));
    assert_int_equal(store_block_get(r, 7, &small, errmsg), TB_ELIMIT);
    assert_null(small.data);
    /* A value of the wrong size for its layout is a corrupt store: TB_EIO. */
    uint8_t got[H];
    assert_int_equal(
        store_get_exact(r, STORE_DB_CERTS, t_bytes("\0\0\0\0\0\0\0\7", 8), got, H, errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, "corrupt"));
    store_abort(r);
    tb_buf_release(&small);
    store_close(s);

    assert_int_equal(store_open(&s, dir, 1000, errmsg), TB_EINVAL);
    /* A path that is a file, not a directory: an error naming it, not an assert. */
    char path[600];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    assert_int_equal(store_open(&s, path, MAP_BYTES, errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, path));
    t_rmtree(dir);
    tb_free(dir);
}

/* A read transaction keeps its snapshot while a writer overwrites and commits. */
static void snapshot_isolation(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-snap");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL, *r = NULL;
    struct tb_buf buf;
    tb_buf_init(&buf, BUF_MAX);
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 1, t_str("old"), errmsg));
    OK(store_commit(w, errmsg));
    OK(store_begin_read(s, &r, errmsg));
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 1, t_str("new"), errmsg));
    OK(store_cert_get(w, 1, &buf, errmsg)); /* the writer sees its own write */
    expect_buf(&buf, "new", 3);
    OK(store_commit(w, errmsg));
    OK(store_cert_get(r, 1, &buf, errmsg));
    expect_buf(&buf, "old", 3);
    /* Two read transactions in one thread (MDB_NOTLS), two snapshots. */
    struct store_txn *r2 = NULL;
    OK(store_begin_read(s, &r2, errmsg));
    OK(store_cert_get(r2, 1, &buf, errmsg));
    expect_buf(&buf, "new", 3);
    OK(store_cert_get(r, 1, &buf, errmsg));
    expect_buf(&buf, "old", 3);
    store_abort(r);
    store_abort(r2);
    /* An aborted write leaves nothing. */
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 2, t_str("aborted"), errmsg));
    store_abort(w);
    OK(store_begin_read(s, &r, errmsg));
    assert_int_equal(store_cert_get(r, 2, &buf, errmsg), TB_ENOTFOUND);
    store_abort(r);
    tb_buf_release(&buf);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* ------------------------------------------------------------------ scans */

#define SCAN_N 300

struct scan_entry
{
    uint8_t key[STORE_KEY_BYTES_MAX];
    uint32_t len;
};

static int scan_entry_cmp(const void *a, const void *b)
{
    const struct scan_entry *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->len < y->len ? -1 : (x->len > y->len ? 1 : 0));
}

struct collect
{
    struct scan_entry got[SCAN_N];
    uint32_t n;
};

static int collect_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *em)
{
    struct collect *c = arg;
    (void)em;
    assert_int_equal(value.len, 0);
    assert_true(c->n < SCAN_N);
    memcpy(c->got[c->n].key, key.ptr, key.len);
    c->got[c->n].len = (uint32_t)key.len;
    c->n++;
    return 0;
}

/* Pages through prefix with page size `page` and checks against want[lo..hi). */
static void scan_pages(struct store_txn *r, struct tb_bytes prefix, uint32_t page,
                       const struct scan_entry *want, size_t lo, size_t hi)
{
    struct collect *c = tb_calloc(1, sizeof(*c));
    struct store_visitor v = {.arg = c, .visit = collect_visit};
    struct tb_bytes after;
    const struct tb_bytes *pafter = NULL;
    uint32_t visited = 0;
    assert_non_null(c);
    for (int guard = 0; guard < SCAN_N + 2; guard++) {
        uint32_t before = c->n;
        OK(store_scan(r, STORE_DB_BY_SUBJECT, prefix, pafter, page, &v, &visited, errmsg));
        assert_int_equal(visited, c->n - before);
        assert_true(visited <= page);
        if (visited < page)
            break;
        after = t_bytes(c->got[c->n - 1].key, c->got[c->n - 1].len);
        pafter = &after;
    }
    assert_int_equal(c->n, hi - lo);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(scan_entry_cmp(&c->got[i], &want[lo + i]), 0);
    tb_free(c);
}

static void scans_match_sorted_list(void **state)
{
    (void)state;
    static const char *types[] = {"a", "ab", "hukou", "marriage"};
    char *dir = mkdir_tmp("store-scan");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL, *r = NULL;
    struct scan_entry *all = tb_calloc(SCAN_N, sizeof(*all));
    uint8_t subjects[3][H];
    struct t_rng rng;
    struct store_key k;
    assert_non_null(all);
    t_rng_seed(&rng, 11);
    for (int i = 0; i < 3; i++)
        id_of(subjects[i], 20, (uint64_t)i);
    OK(store_begin_write(s, &w, errmsg));
    for (size_t i = 0; i < SCAN_N; i++) {
        uint8_t rec[H];
        const uint8_t *subj = subjects[t_rng_below(&rng, 3)];
        const char *type = types[t_rng_below(&rng, 4)];
        t_rng_bytes(&rng, rec, H);
        OK(store_subject_put(w, subj, type, rec, errmsg));
        OK(store_key_subject(&k, subj, type, rec));
        memcpy(all[i].key, k.bytes, k.len);
        all[i].len = k.len;
    }
    OK(store_commit(w, errmsg));
    qsort(all, SCAN_N, sizeof(*all), scan_entry_cmp);

    OK(store_begin_read(s, &r, errmsg));
    scan_pages(r, t_bytes(NULL, 0), 1000, all, 0, SCAN_N);
    scan_pages(r, t_bytes(NULL, 0), 7, all, 0, SCAN_N);
    for (int si = 0; si < 3; si++) {
        for (int ti = -1; ti < 4; ti++) {
            OK(store_key_subject(&k, subjects[si], ti < 0 ? NULL : types[ti], NULL));
            size_t lo = 0, hi;
            while (lo < SCAN_N && memcmp(all[lo].key, k.bytes, k.len) < 0)
                lo++;
            hi = lo;
            while (hi < SCAN_N && all[hi].len >= k.len && memcmp(all[hi].key, k.bytes, k.len) == 0)
                hi++;
            /* "a" must not match "ab": the length prefix keeps the names apart. */
            scan_pages(r, store_key_bytes(&k), 1 + (uint32_t)t_rng_below(&rng, 9), all, lo, hi);
        }
    }
    store_abort(r);
    tb_free(all);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

static int pending_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *em)
{
    uint32_t *count = arg;
    uint8_t want[H];
    (void)em;
    assert_int_equal(key.len, H);
    assert_int_equal(value.len, 8);
    id_of(want, 30, *count); /* admission order (pending_log), not id order */
    assert_memory_equal(key.ptr, want, H);
    assert_memory_equal(value.ptr, "envelope", 8);
    (*count)++;
    return *count == 5 ? 1 : 0; /* stop early: the scan honours it */
}

static void pending_scan_stops(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-pend");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL;
    uint32_t count = 0, visited = 0;
    OK(store_begin_write(s, &w, errmsg));
    for (uint64_t i = 0; i < 20; i++) {
        uint8_t id[H];
        id_of(id, 30, i);
        OK(store_pending_put(w, id, t_str("envelope"), errmsg));
    }
    struct store_visitor v = {.arg = &count, .visit = pending_visit};
    OK(store_pending_scan(w, 100, &v, &visited, errmsg));
    assert_int_equal(visited, 5);
    OK(store_commit(w, errmsg));
    uint64_t n = 0;
    struct store_txn *r = NULL;
    OK(store_begin_read(s, &r, errmsg));
    OK(store_count(r, STORE_DB_PENDING, &n, errmsg));
    assert_int_equal(n, 20);
    store_abort(r);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

static uint64_t db_entries(struct store *s, enum store_db db)
{
    uint64_t n = 0;
    struct store_txn *r = NULL;
    OK(store_begin_read(s, &r, errmsg));
    OK(store_count(r, db, &n, errmsg));
    store_abort(r);
    return n;
}

/* D21: pending_ids indexes pending_log; put again keeps one entry, del removes both. */
static void pending_log_layout(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-pend-log");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL;
    struct tb_buf buf;
    uint8_t a[H], b[H];
    bool was = false;
    id_of(a, 31, 1);
    id_of(b, 31, 2);
    tb_buf_init(&buf, 64);
    OK(store_begin_write(s, &w, errmsg));
    OK(store_pending_put(w, a, t_str("first"), errmsg));
    OK(store_pending_put(w, b, t_str("second"), errmsg));
    OK(store_pending_put(w, a, t_str("first"), errmsg)); /* a resubmission */
    OK(store_commit(w, errmsg));
    assert_int_equal(db_entries(s, STORE_DB_PENDING), 2);
    assert_int_equal(db_entries(s, STORE_DB_PENDING_LOG), 2);
    OK(store_begin_write(s, &w, errmsg));
    OK(store_pending_get(w, b, &buf, errmsg));
    expect_buf(&buf, "second", 6);
    OK(store_pending_del(w, a, &was, errmsg));
    assert_true(was);
    OK(store_pending_del(w, a, &was, errmsg));
    assert_false(was);
    assert_int_equal(store_pending_get(w, a, NULL, errmsg), TB_ENOTFOUND);
    OK(store_commit(w, errmsg));
    assert_int_equal(db_entries(s, STORE_DB_PENDING), 1);
    assert_int_equal(db_entries(s, STORE_DB_PENDING_LOG), 1);
    /* An index entry pointing at another tx's envelope is a corrupt store, not a wrong tx. */
    struct store_key k;
    store_key_u64(&k, 2); /* b's sequence */
    OK(store_begin_write(s, &w, errmsg));
    OK(store_put(w, STORE_DB_PENDING, t_bytes(a, H), t_bytes(k.bytes, k.len), 0, errmsg));
    assert_int_equal(store_pending_get(w, a, &buf, errmsg), TB_EIO);
    store_abort(w);
    tb_buf_release(&buf);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* ------------------------------------------------------------- durability */

static int child_status(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Child: commit cert 2, then put cert 3 and _exit without committing or closing. */
static void child_commit_then_exit(const char *dir)
{
    char em[TB_ERRMSG_SIZE];
    struct store *s = NULL;
    struct store_txn *w = NULL;
    if (store_open(&s, dir, MAP_BYTES, em) != TB_OK)
        _exit(10);
    if (store_begin_write(s, &w, em) != TB_OK || store_cert_put(w, 2, t_str("two"), em) != TB_OK ||
        store_commit(w, em) != TB_OK)
        _exit(11);
    if (store_begin_write(s, &w, em) != TB_OK || store_cert_put(w, 3, t_str("three"), em) != TB_OK)
        _exit(12);
    _exit(0);
}

/* Child: a big write transaction, then tell the parent and wait to be killed. */
static void child_write_until_killed(const char *dir, int fd)
{
    char em[TB_ERRMSG_SIZE];
    struct store *s = NULL;
    struct store_txn *w = NULL;
    if (store_open(&s, dir, MAP_BYTES, em) != TB_OK || store_begin_write(s, &w, em) != TB_OK)
        _exit(10);
    for (uint64_t h = 100; h < 2100; h++) {
        if (store_cert_put(w, h, t_str("never committed"), em) != TB_OK)
            _exit(11);
    }
    if (write(fd, "x", 1) != 1)
        _exit(12);
    for (;;)
        pause();
}

static void durability_across_crashes(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-dur");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL, *r = NULL;
    struct tb_buf buf;
    int fds[2];
    tb_buf_init(&buf, BUF_MAX);
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 1, t_str("one"), errmsg));
    OK(store_commit(w, errmsg));
    store_close(s);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_commit_then_exit(dir);
    int status = child_status(pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_write_until_killed(dir, fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(kill(pid, SIGKILL), 0);
    status = child_status(pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    close(fds[1]);

    s = open_at(dir, MAP_BYTES);
    OK(store_begin_read(s, &r, errmsg));
    OK(store_cert_get(r, 1, &buf, errmsg));
    expect_buf(&buf, "one", 3);
    OK(store_cert_get(r, 2, &buf, errmsg));
    expect_buf(&buf, "two", 3);
    assert_int_equal(store_cert_get(r, 3, &buf, errmsg), TB_ENOTFOUND);
    for (uint64_t h = 100; h < 2100; h += 97)
        assert_int_equal(store_cert_get(r, h, &buf, errmsg), TB_ENOTFOUND);
    uint64_t n = 0;
    OK(store_count(r, STORE_DB_CERTS, &n, errmsg));
    assert_int_equal(n, 2);
    store_abort(r);
    /* The killed writer's lock is gone: writing works. */
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 3, t_str("three, later"), errmsg));
    OK(store_commit(w, errmsg));
    store_close(s);
    tb_buf_release(&buf);
    t_rmtree(dir);
    tb_free(dir);
}

/* Child: open, begin a read transaction, tell the parent, wait to be killed. */
static pid_t spawn_reader(const char *dir)
{
    int fds[2];
    char c;
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char em[TB_ERRMSG_SIZE];
        struct store *s = NULL;
        struct store_txn *r = NULL;
        if (store_open(&s, dir, MAP_BYTES, em) != TB_OK || store_begin_read(s, &r, em) != TB_OK)
            _exit(10);
        if (write(fds[1], "r", 1) != 1)
            _exit(11);
        for (;;)
            pause();
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    close(fds[1]);
    return pid;
}

static void stale_readers_reclaimed(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-readers");
    struct store *s = open_at(dir, MAP_BYTES);
    uint32_t dead = 99;
    OK(store_reader_check(s, &dead, errmsg));
    assert_int_equal(dead, 0);

    pid_t pid = spawn_reader(dir);
    OK(store_reader_check(s, &dead, errmsg)); /* alive: its slot stays */
    assert_int_equal(dead, 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_true(WIFSIGNALED(child_status(pid)));
    OK(store_reader_check(s, &dead, errmsg));
    assert_int_equal(dead, 1);
    OK(store_reader_check(s, &dead, errmsg));
    assert_int_equal(dead, 0);

    /*
     * A node killed while another process (a CLI, a backup) keeps the environment open
     * restarts: its store_open clears the stale slot. (When no process has it open, LMDB
     * resets the whole reader table at open anyway.)
     */
    pid = spawn_reader(dir);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_true(WIFSIGNALED(child_status(pid)));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char em[TB_ERRMSG_SIZE];
        struct store *cs = NULL;
        struct store_stat st;
        if (store_open(&cs, dir, MAP_BYTES, em) != TB_OK || store_stat_get(cs, &st, em) != TB_OK)
            _exit(10);
        _exit(st.readers_reclaimed_at_open == 1 ? 0 : 20 + (int)st.readers_reclaimed_at_open);
    }
    int status = child_status(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* --------------------------------------------------------------- map full */

static void map_full_then_grow(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-full");
    struct store *s = open_at(dir, 1u << 20);
    struct store_txn *w = NULL, *r = NULL;
    uint8_t *val = tb_calloc(1, 4000);
    struct tb_buf buf;
    int rv = TB_OK;
    uint64_t written = 0;
    assert_non_null(val);
    tb_buf_init(&buf, BUF_MAX);
    /* Transactions of 8 documents until one fails; `written` counts the committed. */
    for (uint64_t i = 0; i < 2000 && rv == TB_OK; i += 8) {
        OK(store_begin_write(s, &w, errmsg));
        for (uint64_t j = i; j < i + 8 && rv == TB_OK; j++) {
            uint8_t id[H];
            id_of(id, 40, j);
            memset(val, (int)(j & 0xff), 4000);
            rv = store_document_put(w, id, t_bytes(val, 4000), errmsg);
        }
        if (rv != TB_OK) {
            assert_false(store_txn_writable(w));
            assert_int_equal(store_commit(w, errmsg), rv); /* refused: aborts */
        } else {
            rv = store_commit(w, errmsg);
        }
        if (rv == TB_OK)
            written = i + 8;
    }
    assert_int_equal(rv, TB_ENOSPC);
    assert_non_null(strstr(errmsg, "storage full"));
    if (strstr(errmsg, "MDB_MAP_FULL") == NULL)
        fail_msg("%s", errmsg);
    assert_true(written > 10);
    assert_true(written < 300); /* 1 MiB cannot hold 300 x 4 KB */

    /* Still readable. */
    OK(store_begin_read(s, &r, errmsg));
    for (uint64_t i = 0; i < written; i++) {
        uint8_t id[H];
        id_of(id, 40, i);
        OK(store_document_get(r, id, &buf, errmsg));
        assert_int_equal(buf.len, 4000);
        assert_int_equal(buf.data[3999], (uint8_t)(i & 0xff));
    }
    store_abort(r);
    store_close(s);

    /* A larger map: writes succeed again, nothing was lost. */
    s = open_at(dir, 8u << 20);
    for (uint64_t i = written; i < written + 50; i++) {
        uint8_t id[H];
        id_of(id, 40, i);
        OK(store_begin_write(s, &w, errmsg));
        OK(store_document_put(w, id, t_bytes(val, 4000), errmsg));
        OK(store_commit(w, errmsg));
    }
    uint64_t n = 0;
    OK(store_begin_read(s, &r, errmsg));
    OK(store_count(r, STORE_DB_DOCUMENTS, &n, errmsg));
    assert_int_equal(n, written + 50);
    store_abort(r);
    store_close(s);
    tb_buf_release(&buf);
    tb_free(val);
    t_rmtree(dir);
    tb_free(dir);
}

/* Another process grows the map while this one has it open: adopt the new size. */
static void map_grown_elsewhere(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-grown");
    struct store *s = open_at(dir, 1u << 20);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char em[TB_ERRMSG_SIZE];
        static uint8_t val[4000];
        struct store *cs = NULL;
        struct store_txn *w = NULL;
        if (store_open(&cs, dir, 8u << 20, em) != TB_OK || store_begin_write(cs, &w, em) != TB_OK)
            _exit(10);
        for (uint64_t i = 0; i < 600; i++) { /* 2.4 MB: more than the parent's map */
            uint8_t id[H];
            id_of(id, 45, i);
            if (store_document_put(w, id, t_bytes(val, sizeof(val)), em) != TB_OK)
                _exit(11);
        }
        _exit(store_commit(w, em) == TB_OK ? 0 : 12);
    }
    int status = child_status(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct store_txn *r = NULL;
    uint64_t n = 0;
    OK(store_begin_read(s, &r, errmsg));
    OK(store_count(r, STORE_DB_DOCUMENTS, &n, errmsg));
    assert_int_equal(n, 600);
    store_abort(r);
    struct store_txn *w = NULL;
    OK(store_begin_write(s, &w, errmsg));
    OK(store_cert_put(w, 1, t_str("after the resize"), errmsg));
    OK(store_commit(w, errmsg));
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* ----------------------------------------------------------------- trees */

#define LOG_LEAVES 3000
#define LOG_BLOCKS_MAX 200

struct log_pair
{
    enum cr_suite suite;
    struct cr_log_mem mem;
    struct cr_log mlog;
    struct cr_log dlog;
    struct store *s;
    char *dir;
};

static void log_reopen(struct log_pair *p, uint64_t size)
{
    struct store_txn *r = NULL;
    struct cr_log_store st = store_log_tree(p->s);
    OK(store_begin_read(p->s, &r, errmsg));
    OK(cr_log_init(&p->dlog, p->suite, &st, r, size));
    store_abort(r);
}

/* Appends n leaves to both trees, the LMDB ones in one transaction (committed or not). */
static void log_block(struct log_pair *p, struct t_rng *rng, uint64_t n, bool commit)
{
    struct store_txn *w = NULL;
    OK(store_begin_write(p->s, &w, errmsg));
    for (uint64_t i = 0; i < n; i++) {
        uint8_t id[H], leaf[H];
        t_rng_bytes(rng, id, H);
        cr_log_leaf_hash(p->suite, id, H, leaf);
        OK(cr_log_append(&p->dlog, w, leaf));
        if (commit)
            OK(cr_log_append(&p->mlog, NULL, leaf));
    }
    if (commit) {
        OK(store_commit(w, errmsg));
        return;
    }
    /* Rolled back: reload the tree at the last committed size, as the ledger will. */
    store_abort(w);
    cr_log_release(&p->dlog);
    log_reopen(p, p->mlog.size);
}

static void log_compare_proofs(struct log_pair *p, struct t_rng *rng)
{
    struct store_txn *r = NULL;
    struct cr_log_path a, b;
    uint8_t ra[H], rb[H];
    OK(store_begin_read(p->s, &r, errmsg));
    for (int i = 0; i < 60; i++) {
        uint64_t size = 1 + t_rng_below(rng, p->mlog.size);
        uint64_t index = t_rng_below(rng, size);
        uint64_t size1 = t_rng_below(rng, size + 1);
        OK(cr_log_root(&p->dlog, r, size, ra));
        OK(cr_log_root(&p->mlog, NULL, size, rb));
        assert_memory_equal(ra, rb, H);
        OK(cr_log_inclusion_proof(&p->dlog, r, index, size, &a));
        OK(cr_log_inclusion_proof(&p->mlog, NULL, index, size, &b));
        assert_int_equal(a.count, b.count);
        assert_memory_equal(a.hashes, b.hashes, (size_t)a.count * H);
        OK(cr_log_root(&p->dlog, r, size1, rb));
        OK(cr_log_consistency_proof(&p->dlog, r, size1, size, &a));
        OK(cr_log_consistency_proof(&p->mlog, NULL, size1, size, &b));
        assert_int_equal(a.count, b.count);
        assert_memory_equal(a.hashes, b.hashes, (size_t)a.count * H);
        OK(cr_log_verify_consistency(p->suite, size1, rb, size, ra, &a));
        OK(cr_log_inclusion_proof(&p->dlog, r, index, size, &a));
        OK(cr_log_verify_inclusion(p->suite, p->mem.level_hashes[0] + index * H, index, size, &a,
                                   ra));
    }
    store_abort(r);
}

static void log_tree_matches_memory(void **state)
{
    (void)state;
    static const enum cr_suite suites[] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};
    for (size_t si = 0; si < 2; si++) {
        struct log_pair p = {.suite = suites[si]};
        struct t_rng rng;
        uint8_t ra[H], rb[H];
        uint64_t sizes[LOG_BLOCKS_MAX];
        uint8_t roots[LOG_BLOCKS_MAX][H];
        size_t blocks = 0;
        struct cr_log_store mst;
        t_rng_seed(&rng, 50 + si);
        p.dir = mkdir_tmp("store-log");
        p.s = open_at(p.dir, MAP_BYTES);
        cr_log_mem_init(&p.mem);
        mst = cr_log_mem_store(&p.mem);
        OK(cr_log_init(&p.mlog, p.suite, &mst, NULL, 0));
        log_reopen(&p, 0);
        while (p.mlog.size < LOG_LEAVES && blocks < LOG_BLOCKS_MAX) {
            uint64_t n = 1 + t_rng_below(&rng, 150);
            log_block(&p, &rng, n, blocks % 7 != 5); /* some blocks roll back */
            OK(cr_log_root(&p.mlog, NULL, p.mlog.size, rb));
            OK(cr_log_root(&p.dlog, NULL, p.dlog.size, ra)); /* current size: no reads */
            assert_int_equal(p.dlog.size, p.mlog.size);
            assert_memory_equal(ra, rb, H);
            sizes[blocks] = p.mlog.size;
            memcpy(roots[blocks++], rb, H);
            if (blocks == 12) { /* close and reopen in the middle */
                cr_log_release(&p.dlog);
                store_close(p.s);
                p.s = open_at(p.dir, MAP_BYTES);
                log_reopen(&p, p.mlog.size);
            }
        }
        log_compare_proofs(&p, &rng);
        /* Every historical root is still there. */
        struct store_txn *r = NULL;
        OK(store_begin_read(p.s, &r, errmsg));
        for (size_t b = 0; b < blocks; b++) {
            OK(cr_log_root(&p.dlog, r, sizes[b], ra));
            assert_memory_equal(ra, roots[b], H);
        }
        store_abort(r);
        cr_log_release(&p.dlog);
        cr_log_release(&p.mlog);
        cr_log_mem_release(&p.mem);
        store_close(p.s);
        t_rmtree(p.dir);
        tb_free(p.dir);
    }
}

#define SMT_BATCHES 60
#define SMT_BATCH 50
#define SMT_KEYS_MAX (SMT_BATCHES * SMT_BATCH)

struct smt_pair
{
    struct cr_smt_mem mem;
    struct cr_smt mtree;
    struct cr_smt dtree;
    struct store *s;
    uint8_t keys[SMT_KEYS_MAX][H];
    size_t key_count;
    uint8_t roots[SMT_BATCHES + 1][H]; /* roots[v]: after v batches */
};

static void smt_make_batch(struct smt_pair *p, struct t_rng *rng, struct cr_smt_op *ops)
{
    for (size_t i = 0; i < SMT_BATCH; i++) {
        struct cr_smt_op *op = &ops[i];
        memset(op, 0, sizeof(*op));
        uint64_t dice = t_rng_below(rng, 10);
        if (p->key_count > 0 && dice < 3) { /* update or remove an existing key */
            memcpy(op->key, p->keys[t_rng_below(rng, p->key_count)], H);
            op->remove = dice == 0;
        } else {
            t_rng_bytes(rng, op->key, H);
            memcpy(p->keys[p->key_count++], op->key, H);
        }
        t_rng_bytes(rng, op->value_hash, H);
    }
}

static void smt_compare_old_proofs(struct smt_pair *p, struct t_rng *rng, enum cr_suite suite)
{
    struct store_txn *r = NULL;
    struct cr_smt_proof *a = tb_malloc(sizeof(*a)), *b = tb_malloc(sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    OK(store_begin_read(p->s, &r, errmsg));
    for (int i = 0; i < 80; i++) {
        size_t v = 1 + (size_t)t_rng_below(rng, SMT_BATCHES);
        const uint8_t *key = p->keys[t_rng_below(rng, p->key_count)];
        uint8_t va[H], vb[H];
        int fa = 0, fb = 0;
        OK(cr_smt_get(&p->dtree, r, p->roots[v], key, va, &fa));
        OK(cr_smt_get(&p->mtree, NULL, p->roots[v], key, vb, &fb));
        assert_int_equal(fa, fb);
        if (fa)
            assert_memory_equal(va, vb, H);
        OK(cr_smt_prove(&p->dtree, r, p->roots[v], key, a));
        OK(cr_smt_prove(&p->mtree, NULL, p->roots[v], key, b));
        assert_int_equal(a->depth, b->depth);
        assert_int_equal(a->end, b->end);
        assert_memory_equal(a->siblings, b->siblings, (size_t)a->depth * H);
        OK(cr_smt_verify(suite, p->roots[v], key, fa ? va : NULL, a));
    }
    store_abort(r);
    tb_free(a);
    tb_free(b);
}

static void smt_tree_matches_memory(void **state)
{
    (void)state;
    const enum cr_suite suite = CR_SUITE_ED25519_SHA256;
    struct smt_pair *p = tb_calloc(1, sizeof(*p));
    struct cr_smt_op *ops = tb_calloc(SMT_BATCH, sizeof(*ops));
    char *dir = mkdir_tmp("store-smt");
    struct t_rng rng;
    assert_non_null(p);
    assert_non_null(ops);
    t_rng_seed(&rng, 60);
    p->s = open_at(dir, MAP_BYTES);
    cr_smt_mem_init(&p->mem);
    struct cr_smt_store mst = cr_smt_mem_store(&p->mem);
    struct cr_smt_store dst = store_smt_tree(p->s);
    OK(cr_smt_init(&p->mtree, suite, &mst));
    OK(cr_smt_init(&p->dtree, suite, &dst));
    for (size_t v = 1; v <= SMT_BATCHES; v++) {
        struct store_txn *w = NULL;
        uint8_t droot[H];
        smt_make_batch(p, &rng, ops);
        OK(cr_smt_update(&p->mtree, NULL, p->roots[v - 1], ops, SMT_BATCH, p->roots[v]));
        OK(store_begin_write(p->s, &w, errmsg));
        OK(cr_smt_update(&p->dtree, w, p->roots[v - 1], ops, SMT_BATCH, droot));
        OK(store_commit(w, errmsg));
        assert_memory_equal(droot, p->roots[v], H);
        if (v == SMT_BATCHES / 2) { /* close and reopen in the middle */
            cr_smt_release(&p->dtree);
            store_close(p->s);
            p->s = open_at(dir, MAP_BYTES);
            dst = store_smt_tree(p->s);
            OK(cr_smt_init(&p->dtree, suite, &dst));
        }
    }
    smt_compare_old_proofs(p, &rng, suite);
    cr_smt_release(&p->dtree);
    cr_smt_release(&p->mtree);
    cr_smt_mem_release(&p->mem);
    store_close(p->s);
    t_rmtree(dir);
    tb_free(dir);
    tb_free(ops);
    tb_free(p);
}

/* ------------------------------------------------------------- appends */

struct key_walk
{
    uint64_t last;
    uint64_t count;
    bool ordered;
};

static int key_walk_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *em)
{
    struct key_walk *kw = arg;
    (void)value;
    (void)em;
    kw->ordered &= key.len == 8 && store_be64(key.ptr) > kw->last;
    kw->last = key.len == 8 ? store_be64(key.ptr) : kw->last;
    kw->count++;
    return 0;
}

static struct key_walk walk_u64_keys(struct store *s, enum store_db db)
{
    struct key_walk kw = {.ordered = true};
    struct store_visitor v = {.arg = &kw, .visit = key_walk_visit};
    struct store_txn *r = NULL;
    uint32_t visited = 0;
    OK(store_begin_read(s, &r, errmsg));
    OK(store_scan(r, db, t_bytes(NULL, 0), NULL, 100000, &v, &visited, errmsg));
    OK(store_commit(r, errmsg));
    return kw;
}

/*
 * store_append_u64 hands out 1, 2, ... in one transaction (the cached next key) and goes
 * on from the last key in the next; a direct APPEND put moves the cache past its key.
 */
static void append_in_order(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-append");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL;
    struct store_key k;
    uint64_t key = 0;
    OK(store_begin_write(s, &w, errmsg));
    for (uint64_t i = 1; i <= 3000; i++) {
        OK(store_append_u64(w, STORE_DB_SMT_NODES, t_str("node"), &key, errmsg));
        assert_int_equal(key, i);
    }
    store_key_u64(&k, 3500); /* a direct appending put: the next append follows it */
    OK(store_put(w, STORE_DB_SMT_NODES, store_key_bytes(&k), t_str("x"), STORE_PUT_APPEND, errmsg));
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_str("node"), &key, errmsg));
    assert_int_equal(key, 3501);
    store_key_u64(&k, 3502); /* a plain put: the next transaction starts after it */
    OK(store_put(w, STORE_DB_SMT_NODES, store_key_bytes(&k), t_str("y"), 0, errmsg));
    OK(store_commit(w, errmsg));
    /* A new transaction finds the last key with one cursor lookup. */
    OK(store_begin_write(s, &w, errmsg));
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_str("node"), &key, errmsg));
    assert_int_equal(key, 3503);
    OK(store_append_u64(w, STORE_DB_BLOCK_HASHES, t_str("first"), &key, errmsg));
    assert_int_equal(key, 1); /* an empty database starts at 1 */
    OK(store_commit(w, errmsg));
    struct key_walk kw = walk_u64_keys(s, STORE_DB_SMT_NODES);
    assert_true(kw.ordered);
    assert_int_equal(kw.count, 3000 + 1 + 1 + 1 + 1);
    assert_int_equal(kw.last, 3503);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* An appending put whose key is not past the last: TB_EIO, and the transaction is dead. */
static void append_out_of_order(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-append-order");
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL;
    struct store_key k;
    uint64_t key = 0;
    OK(store_begin_write(s, &w, errmsg));
    for (int i = 0; i < 10; i++)
        OK(store_append_u64(w, STORE_DB_SMT_NODES, t_str("node"), &key, errmsg));
    OK(store_commit(w, errmsg));
    uint64_t bad[] = {5, 10};
    for (size_t i = 0; i < 2; i++) {
        OK(store_begin_write(s, &w, errmsg));
        store_key_u64(&k, bad[i]);
        assert_int_equal(store_put(w, STORE_DB_SMT_NODES, store_key_bytes(&k), t_str("z"),
                                   STORE_PUT_APPEND, errmsg),
                         TB_EIO);
        assert_non_null(strstr(errmsg, "append out of order"));
        assert_int_equal(store_append_u64(w, STORE_DB_SMT_NODES, t_str("n"), &key, errmsg), TB_EIO);
        assert_int_equal(store_commit(w, errmsg), TB_EIO);
    }
    /* A database whose last key is no u64 cannot be appended to. */
    OK(store_begin_write(s, &w, errmsg));
    OK(store_member_put(w, "shanghai", t_str("member"), errmsg));
    assert_int_equal(store_append_u64(w, STORE_DB_MEMBERS, t_str("m"), &key, errmsg), TB_EIO);
    store_abort(w);
    struct key_walk kw = walk_u64_keys(s, STORE_DB_SMT_NODES);
    assert_true(kw.ordered);
    assert_int_equal(kw.count, 10);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* Status nodes and roots as stored: sizes and kinds checked, roots keep their first location. */
static void smt_store_layout(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-smt-layout");
    struct store *s = open_at(dir, MAP_BYTES);
    struct cr_smt_store sst = store_smt_tree(s);
    struct store_txn *w = NULL;
    struct cr_smt_node leaf = {.kind = CR_SMT_NODE_LEAF}, inner = {.kind = CR_SMT_NODE_INNER};
    struct cr_smt_node got;
    uint64_t l1 = 0, l2 = 0, l3 = 0, loc = 0, key = 0;
    uint8_t root[H], value[96];
    memset(leaf.a, 1, H);
    memset(inner.a, 2, H);
    inner.a_loc = 0x0102030405060708u;
    inner.b_loc = 7;
    memset(root, 3, H);
    OK(store_begin_write(s, &w, errmsg));
    OK(sst.put(sst.impl, w, &leaf, &l1, errmsg));
    OK(sst.put(sst.impl, w, &inner, &l2, errmsg));
    OK(sst.put(sst.impl, w, &leaf, &l3, errmsg)); /* the same content again: a new location */
    assert_true(l1 == 1 && l2 == 2 && l3 == 3);
    OK(sst.root_put(sst.impl, w, root, l2, errmsg));
    OK(sst.root_put(sst.impl, w, root, l3, errmsg));
    /* Corrupt values: a wrong size, a kind that does not match its size. */
    memset(value, 0, sizeof(value));
    value[0] = CR_SMT_NODE_LEAF;
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_bytes(value, 81), &key, errmsg));
    value[0] = CR_SMT_NODE_INNER;
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_bytes(value, 65), &key, errmsg));
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_bytes(value, 80), &key, errmsg));
    OK(store_append_u64(w, STORE_DB_SMT_NODES, t_bytes(value, 96), &key, errmsg));
    OK(store_commit(w, errmsg));
    store_close(s);
    s = open_at(dir, MAP_BYTES);
    sst = store_smt_tree(s);
    struct store_txn *r = NULL;
    OK(store_begin_read(s, &r, errmsg));
    OK(sst.get(sst.impl, r, l2, &got, errmsg));
    assert_memory_equal(&got.a, inner.a, H);
    assert_true(got.kind == CR_SMT_NODE_INNER && got.a_loc == inner.a_loc && got.b_loc == 7);
    OK(sst.get(sst.impl, r, l3, &got, errmsg));
    assert_true(got.kind == CR_SMT_NODE_LEAF && got.a_loc == 0 && got.b_loc == 0);
    assert_memory_equal(got.a, leaf.a, H);
    OK(sst.root_get(sst.impl, r, root, &loc, errmsg));
    assert_int_equal(loc, l2);
    for (uint64_t bad = 4; bad <= 7; bad++) {
        assert_int_equal(sst.get(sst.impl, r, bad, &got, errmsg), TB_EIO);
        assert_non_null(strstr(errmsg, "corrupt"));
    }
    assert_int_equal(sst.get(sst.impl, r, 8, &got, errmsg), TB_ENOTFOUND);
    OK(store_commit(r, errmsg));
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* Writes a database named `name` with `entries` entries straight through LMDB. */
static void lmdb_write_db(const char *dir, const char *name, int entries)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), MDB_SUCCESS);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), MDB_SUCCESS);
    assert_int_equal(mdb_env_set_mapsize(env, MAP_BYTES), MDB_SUCCESS);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), MDB_SUCCESS);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), MDB_SUCCESS);
    for (int i = 0; i < entries; i++) {
        uint8_t k[H], v[65] = {1};
        id_of(k, 90, (uint64_t)i);
        MDB_val mk = {.mv_size = sizeof(k), .mv_data = k};
        MDB_val mv = {.mv_size = sizeof(v), .mv_data = v};
        assert_int_equal(mdb_put(txn, dbi, &mk, &mv, 0), MDB_SUCCESS);
    }
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    mdb_env_close(env);
}

/* A data directory from before D19 (hash-keyed smt_nodes) or D21 (id-keyed pending) is
 * refused; an empty old database is not. */
static void old_layout_refused(void **state)
{
    (void)state;
    static const char *const old[] = {"smt_nodes", "pending"};
    for (int i = 0; i < 2; i++) {
        char *dir = mkdir_tmp("store-old-layout");
        struct store *s = NULL;
        char want[64];
        lmdb_write_db(dir, old[i], 3);
        assert_int_equal(store_open(&s, dir, MAP_BYTES, errmsg), TB_EIO);
        assert_null(s);
        snprintf(want, sizeof(want), "old layout (database %s)", old[i]);
        assert_non_null(strstr(errmsg, want));
        assert_non_null(strstr(errmsg, "re-create it and let the node sync"));
        t_rmtree(dir);
        tb_free(dir);
    }
    char *dir = mkdir_tmp("store-old-empty");
    lmdb_write_db(dir, "smt_nodes", 0);
    struct store *s = open_at(dir, MAP_BYTES);
    store_close(s);
    s = open_at(dir, MAP_BYTES); /* and a second open of a new-layout directory */
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* ---------------------------------------------------------- block faults */

#define FB_TXS 6

/*
 * One block's worth of writes, in the order the ledger will make them. A careless caller
 * (commit_anyway) goes on after an error and commits: the store must refuse.
 */
static int apply_block_ex(struct store *s, uint64_t height, bool commit_anyway, char *em)
{
    struct store_txn *w = NULL;
    struct store_state st;
    struct cr_log log;
    struct cr_smt tree;
    struct cr_smt_op ops[FB_TXS];
    struct cr_log_store lst = store_log_tree(s);
    struct cr_smt_store sst = store_smt_tree(s);
    uint8_t hash[H], subj[H];
    int rv = store_begin_write(s, &w, em);
    if (rv != TB_OK)
        return rv;
    memset(&st, 0, sizeof(st));
    rv = store_state_get(w, &st, em);
    if (rv == TB_ENOTFOUND)
        rv = TB_OK;
    if (rv == TB_OK)
        rv = cr_log_init(&log, CR_SUITE_ED25519_SHA256, &lst, w, st.log_size);
    if (rv != TB_OK) {
        store_abort(w);
        return rv;
    }
    if (cr_smt_init(&tree, CR_SUITE_ED25519_SHA256, &sst) != TB_OK)
        abort();
    id_of(hash, 70, height);
    id_of(subj, 71, height);
    rv = store_block_put(w, height, hash, t_str("block bytes"), em);
    if (rv == TB_OK)
        rv = store_cert_put(w, height, t_str("cert bytes"), em);
    for (uint32_t i = 0; i < FB_TXS && rv == TB_OK; i++) {
        uint8_t tx[H], leaf[H];
        struct store_txloc loc = {.height = height, .index = i};
        id_of(tx, 72 + height, i);
        rv = store_txloc_put(w, tx, &loc, em);
        if (rv == TB_OK)
            rv = store_subject_put(w, subj, "hukou", tx, em);
        if (rv == TB_OK)
            rv = store_pending_del(w, tx, NULL, em);
        cr_log_leaf_hash(CR_SUITE_ED25519_SHA256, tx, H, leaf);
        if (rv == TB_OK && (rv = cr_log_append(&log, w, leaf)) != TB_OK)
            snprintf(em, TB_ERRMSG_SIZE, "%s", log.errmsg);
        memset(&ops[i], 0, sizeof(ops[i]));
        memcpy(ops[i].key, tx, H);
        memcpy(ops[i].value_hash, leaf, H);
    }
    if (rv == TB_OK &&
        (rv = cr_smt_update(&tree, w, st.state_root, ops, FB_TXS, st.state_root)) != TB_OK)
        snprintf(em, TB_ERRMSG_SIZE, "%s", tree.errmsg);
    st.height = height;
    st.log_size = log.size;
    memcpy(st.block_hash, hash, H);
    if (rv == TB_OK)
        rv = cr_log_root(&log, w, log.size, st.log_root);
    if (rv == TB_OK)
        rv = store_state_put(w, &st, em);
    cr_smt_release(&tree);
    cr_log_release(&log);
    if (rv != TB_OK && !commit_anyway) {
        store_abort(w);
        return rv;
    }
    int crv = store_commit(w, em);
    return rv != TB_OK ? (crv == rv ? rv : TB_ESTATE) : crv;
}

static int apply_block(struct store *s, uint64_t height, char *em)
{
    return apply_block_ex(s, height, false, em);
}

/* Block 1 committed, block 2's txs pending. */
static void fault_setup(const char *dir)
{
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *w = NULL;
    OK(apply_block(s, 1, errmsg));
    OK(store_begin_write(s, &w, errmsg));
    for (uint32_t i = 0; i < FB_TXS; i++) {
        uint8_t tx[H];
        id_of(tx, 74, i);
        OK(store_pending_put(w, tx, t_str("pending envelope"), errmsg));
    }
    OK(store_commit(w, errmsg));
    store_close(s);
}

static void entries_of(const char *dir, uint64_t out[STORE_DB_COUNT], uint64_t *height)
{
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_stat st;
    struct store_txn *r = NULL;
    struct store_state state;
    OK(store_stat_get(s, &st, errmsg));
    memcpy(out, st.entries, sizeof(st.entries));
    OK(store_begin_read(s, &r, errmsg));
    OK(store_state_get(r, &state, errmsg));
    *height = state.height;
    store_abort(r);
    store_close(s);
}

/* After a failure, the store holds block 2 entirely or not at all. */
static bool fault_check(const char *dir, const uint64_t before[STORE_DB_COUNT],
                        const uint64_t after[STORE_DB_COUNT])
{
    uint64_t now[STORE_DB_COUNT], height = 0;
    entries_of(dir, now, &height);
    if (height == 1) {
        assert_memory_equal(now, before, sizeof(now));
        return false;
    }
    assert_int_equal(height, 2);
    assert_memory_equal(now, after, sizeof(now));
    return true;
}

static void copy_dir(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* The block-2 scenario: base holds block 1, work is scratch; before/after are the
 * entry counts without and with block 2, writes the number of writes block 2 makes. */
struct fault_case
{
    char *base;
    char *work;
    uint64_t before[STORE_DB_COUNT];
    uint64_t after[STORE_DB_COUNT];
    uint64_t writes;
};

static void fault_case_init(struct fault_case *fc)
{
    uint64_t h = 0, commits = 0;
    fc->base = mkdir_tmp("store-fault");
    fc->work = mkdir_tmp("store-fault-w");
    fault_setup(fc->base);
    entries_of(fc->base, fc->before, &h);
    assert_int_equal(h, 1);
    copy_dir(fc->base, fc->work);
    struct store *s = open_at(fc->work, MAP_BYTES);
    store_fault_set(s, NULL);
    OK(apply_block(s, 2, errmsg));
    store_fault_seen(s, &fc->writes, &commits);
    store_close(s);
    entries_of(fc->work, fc->after, &h);
    assert_int_equal(h, 2);
    assert_int_equal(fc->after[STORE_DB_PENDING], 0);
    assert_true(fc->writes > 3 * FB_TXS);
    assert_int_equal(commits, 1);
}

static void fault_case_release(struct fault_case *fc)
{
    t_rmtree(fc->base);
    t_rmtree(fc->work);
    tb_free(fc->base);
    tb_free(fc->work);
}

/* The n-th fault of the scenario: each write in turn, then the commit. */
static struct store_fault fault_nth(const struct fault_case *fc, uint64_t n)
{
    struct store_fault f = {.ops = n < fc->writes ? STORE_FAULT_WRITE : STORE_FAULT_COMMIT,
                            .after = n < fc->writes ? n : 0,
                            .code = (n & 1) ? TB_ENOSPC : TB_EIO};
    return f;
}

static void block_all_or_nothing_on_error(void **state)
{
    (void)state;
    struct fault_case fc;
    fault_case_init(&fc);
    /* Fail each write in turn, then the commit; I/O error and full disk alike. */
    for (uint64_t n = 0; n <= fc.writes; n++) {
        struct store_fault f = fault_nth(&fc, n);
        copy_dir(fc.base, fc.work);
        struct store *s = open_at(fc.work, MAP_BYTES);
        store_fault_set(s, &f);
        assert_int_equal(apply_block(s, 2, errmsg), f.code);
        assert_non_null(strstr(errmsg, "injected fault"));
        /* The same store goes on: the retried block commits. */
        store_fault_set(s, NULL);
        OK(apply_block(s, 2, errmsg));
        store_close(s);
        assert_true(fault_check(fc.work, fc.before, fc.after));
        /* A failure, a careless commit and a restart leave nothing of the block. */
        copy_dir(fc.base, fc.work);
        s = open_at(fc.work, MAP_BYTES);
        store_fault_set(s, &f);
        assert_int_equal(apply_block_ex(s, 2, true, errmsg), f.code);
        store_close(s);
        assert_false(fault_check(fc.work, fc.before, fc.after));
    }
    fault_case_release(&fc);
}

static void block_all_or_nothing_on_crash(void **state)
{
    (void)state;
    struct fault_case fc;
    fault_case_init(&fc);
    /* The process dies (kill -9 at that instant) at every write and at the commit. */
    for (uint64_t n = 0; n <= fc.writes; n++) {
        struct store_fault f = fault_nth(&fc, n);
        f.crash = true;
        copy_dir(fc.base, fc.work);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char em[TB_ERRMSG_SIZE];
            struct store *cs = NULL;
            if (store_open(&cs, fc.work, MAP_BYTES, em) != TB_OK)
                _exit(10);
            store_fault_set(cs, &f);
            (void)apply_block(cs, 2, em);
            _exit(0); /* the fault did not fire: a test bug */
        }
        int status = child_status(pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), STORE_FAULT_EXIT_STATUS);
        assert_false(fault_check(fc.work, fc.before, fc.after));
    }
    fault_case_release(&fc);
}

/* A WAL write is synced and visible to a fresh process. */
static void wal_survives_exit(void **state)
{
    (void)state;
    char *dir = mkdir_tmp("store-wal");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char em[TB_ERRMSG_SIZE];
        struct store *s = NULL;
        if (store_open(&s, dir, MAP_BYTES, em) != TB_OK)
            _exit(10);
        if (store_wal_put(s, t_str("signed h=5 r=0 prevote"), em) != TB_OK)
            _exit(11);
        _exit(0); /* acknowledged, then dead without closing */
    }
    int status = child_status(pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct store *s = open_at(dir, MAP_BYTES);
    struct store_txn *r = NULL;
    struct tb_buf buf;
    tb_buf_init(&buf, BUF_MAX);
    OK(store_begin_read(s, &r, errmsg));
    OK(store_wal_get(r, &buf, errmsg));
    expect_buf(&buf, "signed h=5 r=0 prevote", 22);
    store_abort(r);
    /* A fault in the WAL's own transaction: reported, old record kept. */
    struct store_fault f = {.ops = STORE_FAULT_COMMIT, .code = TB_EIO};
    store_fault_set(s, &f);
    assert_int_equal(store_wal_put(s, t_str("lost"), errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, "wal"));
    OK(store_begin_read(s, &r, errmsg));
    OK(store_wal_get(r, &buf, errmsg));
    expect_buf(&buf, "signed h=5 r=0 prevote", 22);
    store_abort(r);
    tb_buf_release(&buf);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_database),
        cmocka_unit_test(refusals_and_errors),
        cmocka_unit_test(snapshot_isolation),
        cmocka_unit_test(scans_match_sorted_list),
        cmocka_unit_test(pending_scan_stops),
        cmocka_unit_test(pending_log_layout),
        cmocka_unit_test(durability_across_crashes),
        cmocka_unit_test(stale_readers_reclaimed),
        cmocka_unit_test(map_full_then_grow),
        cmocka_unit_test(map_grown_elsewhere),
        cmocka_unit_test(log_tree_matches_memory),
        cmocka_unit_test(smt_tree_matches_memory),
        cmocka_unit_test(append_in_order),
        cmocka_unit_test(append_out_of_order),
        cmocka_unit_test(smt_store_layout),
        cmocka_unit_test(old_layout_refused),
        cmocka_unit_test(block_all_or_nothing_on_error),
        cmocka_unit_test(block_all_or_nothing_on_crash),
        cmocka_unit_test(wal_survives_exit),
    };
    if (getenv("T_FILTER") != NULL)
        cmocka_set_test_filter(getenv("T_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
