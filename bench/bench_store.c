/*
 * Throughput and disk use of node/store on a real LMDB environment, with the node's
 * durable settings (every commit synced). A block is one write transaction of
 * RECORDS_PER_BLOCK records, each of them what the ledger will write for one committed
 * record.issue: a txloc put, a by_subject put, a pending delete, a log append, and one
 * status-tree update per record (batched per block), plus the block bytes (the
 * envelopes), its certificate and the meta state. Wall-clock time, since the syncs are
 * most of the cost; the baseline is the same machine's synced single-key commits/s.
 * Not a test; never run by ctest.
 *
 *   bench_store [DIR [RECORDS]]   DIR defaults to a fresh directory under /tmp, RECORDS
 *                                 to 100000; prints one "name value unit" per line
 *   BENCH_SKIP=smt,subject        leaves out the status tree or the subject index, to
 *                                 see what each costs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_log.h"
#include "cr_smt.h"
#include "store.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define RECORDS_PER_BLOCK 1000u
#define ENVELOPE_BYTES 360u /* a record.issue envelope with a few claims, Ed25519 */
#define MAP_BYTES (UINT64_C(8) << 30)
#define WAL_SYNCS 200u

static char errmsg[TB_ERRMSG_SIZE];

#define CHECK(expr)                                                            \
    do {                                                                       \
        int rv_ = (expr);                                                      \
        if (rv_ != TB_OK) {                                                    \
            fprintf(stderr, "%s: %s (%s)\n", #expr, tb_strerror(rv_), errmsg); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static double now_seconds(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    TB_ASSERT(rc == 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: reproducible ids without pulling in the test library. */
static uint64_t next_u64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *x, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = next_u64(x);
        memcpy(out + i, &v, len - i < 8 ? len - i : 8);
    }
}

struct bench
{
    struct store *s;
    struct cr_log log;
    struct cr_smt tree;
    struct store_state state;
    struct cr_smt_op *ops;
    uint8_t *block;
    uint64_t seed;
    bool skip_smt;
    bool skip_subject;
};

/* The mempool's side: the block's txs were admitted (pending) before it was cut. */
static void admit_pending(struct bench *b, const uint8_t (*ids)[STORE_ID_BYTES])
{
    struct store_txn *w = NULL;
    CHECK(store_begin_write(b->s, &w, errmsg));
    for (uint32_t i = 0; i < RECORDS_PER_BLOCK; i++) {
        struct tb_bytes env = {.ptr = b->block + (size_t)i * ENVELOPE_BYTES, .len = ENVELOPE_BYTES};
        CHECK(store_pending_put(w, ids[i], env, errmsg));
    }
    CHECK(store_commit(w, errmsg));
}

static void commit_block(struct bench *b, const uint8_t (*ids)[STORE_ID_BYTES])
{
    struct store_txn *w = NULL;
    uint8_t subject[STORE_ID_BYTES], hash[STORE_ID_BYTES];
    uint64_t height = b->state.height + 1;
    CHECK(store_begin_write(b->s, &w, errmsg));
    for (uint32_t i = 0; i < RECORDS_PER_BLOCK; i++) {
        struct store_txloc loc = {.height = height, .index = i};
        uint8_t leaf[CR_HASH_BYTES];
        bool was = false;
        fill_random(&b->seed, subject, sizeof(subject));
        CHECK(store_txloc_put(w, ids[i], &loc, errmsg));
        if (!b->skip_subject)
            CHECK(store_subject_put(w, subject, "provident-fund", ids[i], errmsg));
        CHECK(store_pending_del(w, ids[i], &was, errmsg));
        TB_ASSERT(was);
        cr_log_leaf_hash(CR_SUITE_ED25519_SHA256, ids[i], STORE_ID_BYTES, leaf);
        CHECK(cr_log_append(&b->log, w, leaf));
        memcpy(b->ops[i].key, ids[i], STORE_ID_BYTES);
        fill_random(&b->seed, b->ops[i].value_hash, CR_HASH_BYTES);
        b->ops[i].remove = 0;
    }
    if (!b->skip_smt) {
        CHECK(cr_smt_update(&b->tree, w, b->state.state_root, b->ops, RECORDS_PER_BLOCK,
                            b->state.state_root));
    }
    fill_random(&b->seed, hash, sizeof(hash));
    struct tb_bytes body = {.ptr = b->block, .len = (size_t)RECORDS_PER_BLOCK * ENVELOPE_BYTES};
    CHECK(store_block_put(w, height, hash, body, errmsg));
    CHECK(store_cert_put(w, height, (struct tb_bytes){.ptr = hash, .len = 32}, errmsg));
    b->state.height = height;
    b->state.log_size = b->log.size;
    memcpy(b->state.block_hash, hash, sizeof(hash));
    CHECK(cr_log_root(&b->log, w, b->log.size, b->state.log_root));
    CHECK(store_state_put(w, &b->state, errmsg));
    CHECK(store_commit(w, errmsg));
}

static double wal_syncs_per_second(struct store *s)
{
    uint8_t record[200];
    memset(record, 0x11, sizeof(record));
    double start = now_seconds();
    for (uint32_t i = 0; i < WAL_SYNCS; i++) {
        record[0] = (uint8_t)i;
        CHECK(store_wal_put(s, (struct tb_bytes){.ptr = record, .len = sizeof(record)}, errmsg));
    }
    return WAL_SYNCS / (now_seconds() - start);
}

/*
 * Bytes this process passed to write calls (Linux /proc/self/io wchar: what LMDB wrote,
 * before the page cache; write_bytes would also count writeback of re-dirtied pages), or 0.
 */
static unsigned long long io_write_bytes(void)
{
    char line[128];
    unsigned long long v = 0;
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "wchar: %llu", &v) == 1)
            break;
    }
    fclose(f);
    return v;
}

static void report_disk(struct store *s, uint64_t records)
{
    struct store_stat st;
    CHECK(store_stat_get(s, &st, errmsg));
    printf("records %llu\n", (unsigned long long)records);
    printf("file_bytes %llu bytes\n", (unsigned long long)st.file_bytes);
    printf("used_bytes %llu bytes\n", (unsigned long long)st.used_bytes);
    printf("disk_per_record %.0f bytes (file) %.0f bytes (used pages), of which %u envelope\n",
           (double)st.file_bytes / (double)records, (double)st.used_bytes / (double)records,
           ENVELOPE_BYTES);
    for (int i = 0; i < STORE_DB_COUNT; i++) {
        if (st.entries[i] > 0) {
            printf("entries_%s %llu\n", store_db_name((enum store_db)i),
                   (unsigned long long)st.entries[i]);
        }
    }
}

int main(int argc, char **argv)
{
    char dir_buf[] = "/tmp/tongban-bench-store-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(dir_buf);
    uint64_t records = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000u;
    struct bench b;
    TB_ASSERT(dir != NULL);
    memset(&b, 0, sizeof(b));
    b.seed = 42;
    const char *skip = getenv("BENCH_SKIP");
    b.skip_smt = skip != NULL && strstr(skip, "smt") != NULL;
    b.skip_subject = skip != NULL && strstr(skip, "subject") != NULL;
    uint64_t blocks = (records + RECORDS_PER_BLOCK - 1) / RECORDS_PER_BLOCK;
    uint8_t(*ids)[STORE_ID_BYTES] = tb_calloc(RECORDS_PER_BLOCK, STORE_ID_BYTES);
    b.ops = tb_calloc(RECORDS_PER_BLOCK, sizeof(*b.ops));
    b.block = tb_malloc((size_t)RECORDS_PER_BLOCK * ENVELOPE_BYTES);
    TB_ASSERT(ids != NULL && b.ops != NULL && b.block != NULL);
    CHECK(store_open(&b.s, dir, MAP_BYTES, errmsg));
    struct cr_log_store lst = store_log_tree(b.s);
    struct cr_smt_store sst = store_smt_tree(b.s);
    CHECK(cr_log_init(&b.log, CR_SUITE_ED25519_SHA256, &lst, NULL, 0));
    CHECK(cr_smt_init(&b.tree, CR_SUITE_ED25519_SHA256, &sst));
    printf("dir %s\n", dir);
    printf("wal_synced_puts %.0f /s\n", wal_syncs_per_second(b.s));

    double admit = 0, commit = 0;
    unsigned long long io_start = io_write_bytes();
    for (uint64_t k = 0; k < blocks; k++) {
        for (uint32_t i = 0; i < RECORDS_PER_BLOCK; i++)
            fill_random(&b.seed, ids[i], STORE_ID_BYTES);
        fill_random(&b.seed, b.block, (size_t)RECORDS_PER_BLOCK * ENVELOPE_BYTES);
        double t0 = now_seconds();
        admit_pending(&b, (const uint8_t(*)[STORE_ID_BYTES])ids);
        double t1 = now_seconds();
        commit_block(&b, (const uint8_t(*)[STORE_ID_BYTES])ids);
        admit += t1 - t0;
        commit += now_seconds() - t1;
    }
    unsigned long long io_bytes = io_write_bytes() - io_start;
    printf("blocks %llu of %u records\n", (unsigned long long)blocks, RECORDS_PER_BLOCK);
    printf("lmdb_written %.1f MB (%.0f bytes per record, %.1f MB/s over admit+commit time)\n",
           (double)io_bytes / 1e6, (double)io_bytes / (double)(blocks * RECORDS_PER_BLOCK),
           (double)io_bytes / 1e6 / (admit + commit));
    printf("block_commits %.1f blocks/s\n", (double)blocks / commit);
    printf("block_records %.0f records/s\n", (double)(blocks * RECORDS_PER_BLOCK) / commit);
    printf("pending_admits %.0f records/s (one transaction per %u)\n",
           (double)(blocks * RECORDS_PER_BLOCK) / admit, RECORDS_PER_BLOCK);
    report_disk(b.s, blocks * RECORDS_PER_BLOCK);
    cr_smt_release(&b.tree);
    cr_log_release(&b.log);
    store_close(b.s);
    tb_free(b.block);
    tb_free(b.ops);
    tb_free(ids);
    return 0;
}
