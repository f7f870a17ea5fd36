/*
 * The node's storage: one LMDB environment per node (DESIGN 5), seen through a small,
 * bytes-oriented API. The ledger above decides what the bytes mean; this layer fixes only
 * the key layouts below, and the typed helpers build those keys so that no caller
 * hand-assembles one.
 *
 * Transactions. One write transaction per committed block (group commit): everything a
 * block changes goes into one store_txn and store_commit makes it durable (fsync) before
 * it returns. A failed write call leaves the write transaction dead: every later call on
 * it returns the first error, and store_commit aborts it and returns that error, so a
 * half-applied block can never be committed. Read transactions are short, see one
 * snapshot, may be used from any thread (MDB_NOTLS) but by one thread at a time, and must
 * not be held for long: a reader pins old pages, which then cannot be reused.
 * At most one write transaction is open per store, and it stays in the thread that began
 * it (LMDB's rule); opening a second one in the same thread is a programmer error (it
 * would deadlock inside LMDB) and asserts.
 *
 * Ownership. Getters COPY OUT into the caller's tb_buf or fixed arrays: LMDB values live
 * in the memory map only until the transaction ends, and never leave this module. Views
 * handed to a scan visitor are borrowed for the duration of that one call.
 *
 * Errors. Every fallible call takes errmsg (TB_ERRMSG_SIZE bytes, never NULL) and returns
 * TB_OK or a negative TB_E* code with a reason in errmsg:
 *   TB_ENOSPC      the map is full (MDB_MAP_FULL) or the disk is (ENOSPC); reopen with a
 *                  larger map size or free disk space; reads still work
 *   TB_EIO         any other LMDB or file error (mdb_strerror text), or a stored value
 *                  whose size is not what its layout says (a corrupt store)
 *   TB_ENOTFOUND   the key is absent (getters and deletes only)
 *   TB_EEXIST      a put that must not overwrite found the key (documented per call)
 *   TB_EINVAL      an argument outside its layout (a name longer than
 *                  STORE_NAME_BYTES_MAX, a key longer than STORE_KEY_BYTES_MAX)
 *   TB_ELIMIT      a value larger than the caller's tb_buf maximum (the buffer is freed)
 *   TB_ENOMEM      allocation failure
 * LMDB errors never assert; asserts are for misuse of this API only.
 *
 * Databases and their layouts (u64/u32 are big-endian so that keys sort numerically;
 * "name" is a length-prefixed string: one length byte 1..STORE_NAME_BYTES_MAX, then the
 * bytes, so that a prefix scan over one name never matches a longer one):
 *   meta          "chain"  -> suite(1) || chain_id(32)
 *                 "state"  -> version(1)=1 || height u64 || block_hash(32) || log_size u64 ||
 *                             log_root(32) || state_root(32): the latest committed state
 *   blocks        height u64 -> block bytes (never overwritten)
 *   certs         height u64 -> commit certificate bytes (a later, different quorum
 *                 certificate for the same block may replace it)
 *   block_hashes  height u64 -> block hash(32), written with the block
 *   txloc         tx id(32) -> height u64 || index in block u32 (never overwritten)
 *   pending_ids   tx id(32) -> sequence u64 in pending_log: the index of the mempool's
 *                 durable copy; a tx the API acknowledged is here, committed, before the
 *                 answer (D21)
 *   pending_log   sequence u64 -> tx id(32) || envelope bytes, appended in admission order
 *                 (STORE_PUT_APPEND), so an admission batch fills fresh pages and a block's
 *                 txs, admitted at about the same time, are deleted from a few. The old
 *                 "pending" (tx id -> envelope) is refused at open if non-empty
 *   wal           "wal" -> the consensus persist record (encoded by the caller); one key,
 *                 overwritten, synced on return of store_wal_put
 *   log_nodes     level(1) || index u64 -> hash(32): the cr_log_store of the log tree
 *   smt_nodes_v2  location u64 -> kind(1) || a(32) || b(32), and for an inner node
 *                 a_loc u64 || b_loc u64 (65 or 81 bytes): the cr_smt_store's nodes
 *                 (cr_smt.h), appended in location order (STORE_PUT_APPEND), so a block's
 *                 new nodes fill fresh pages; never overwritten. Named _v2: the old
 *                 "smt_nodes" (node hash(32) -> 65 bytes) is refused at open if non-empty
 *   smt_roots     status root hash(32) -> location u64 of that root's node (one entry
 *                 per update; the first location of a root is kept)
 *   by_subject    subject(32) || name(type) || record id(32) -> empty
 *   by_issuer     name(city) || name(agency) || record id(32) -> empty
 *   agencies      agency public key bytes (1..STORE_KEY_BYTES_MAX) -> registration bytes
 *   members       name(city) -> member bytes
 *   audit         subject(32) || height u64 || index in block u32 -> audit entry bytes
 *   documents     record id(32) -> sealed document bytes (issuer only, AEAD at rest)
 *   evidence      height u64 || round u32 || type(1) || validator index u32 -> the
 *                 conflicting votes (bytes)
 *
 * Must never: include lmdb.h outside store_lmdb.c, set MDB_NOSYNC/MDB_NOMETASYNC/
 * MDB_WRITEMAP, hand out pointers into the map, assert on anything read from disk,
 * open a data directory whose status tree is in the old hash-keyed layout, or append a
 * key that is not greater than every key of its database.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_hash.h"
#include "cr_log.h"
#include "cr_smt.h"
#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STORE_ID_BYTES 32u       /* tx ids, record ids, subjects, block hashes */
#define STORE_NAME_BYTES_MAX 64u /* record types, city and agency names */
#define STORE_KEY_BYTES_MAX 256u /* below LMDB's 511-byte key limit */
#define STORE_MAP_BYTES_MIN (256u * 1024u)
#define STORE_MAP_BYTES_MAX (UINT64_C(1) << 44) /* 16 TiB */
#define STORE_FAULT_EXIT_STATUS 86              /* _exit status of a STORE_FAULT crash */
#define STORE_PENDING_BYTES_MAX (16u << 20)     /* a pending envelope read for presence */

_Static_assert(STORE_ID_BYTES == CR_HASH_BYTES, "ids are hashes");
_Static_assert(32 + 1 + STORE_NAME_BYTES_MAX + 32 <= STORE_KEY_BYTES_MAX, "index keys fit");
_Static_assert(2 * (1 + STORE_NAME_BYTES_MAX) + 32 <= STORE_KEY_BYTES_MAX, "issuer keys fit");

enum store_db {
    STORE_DB_META = 0,
    STORE_DB_BLOCKS,
    STORE_DB_CERTS,
    STORE_DB_BLOCK_HASHES,
    STORE_DB_TXLOC,
    STORE_DB_PENDING,
    STORE_DB_PENDING_LOG,
    STORE_DB_WAL,
    STORE_DB_LOG_NODES,
    STORE_DB_SMT_NODES,
    STORE_DB_SMT_ROOTS,
    STORE_DB_BY_SUBJECT,
    STORE_DB_BY_ISSUER,
    STORE_DB_AGENCIES,
    STORE_DB_MEMBERS,
    STORE_DB_AUDIT,
    STORE_DB_DOCUMENTS,
    STORE_DB_EVIDENCE,
    STORE_DB_COUNT
};

struct store;     /* one open environment; opaque */
struct store_txn; /* one read or write transaction; opaque */

/* A key built by the helpers below; len <= STORE_KEY_BYTES_MAX. */
struct store_key
{
    uint32_t len;
    uint8_t bytes[STORE_KEY_BYTES_MAX];
};

/* The latest committed application state (meta "state"). */
struct store_state
{
    uint64_t height;
    uint8_t block_hash[STORE_ID_BYTES];
    uint64_t log_size;
    uint8_t log_root[CR_HASH_BYTES];
    uint8_t state_root[CR_HASH_BYTES];
};

/* Where a committed tx is. */
struct store_txloc
{
    uint64_t height;
    uint32_t index;
};

/* Sizes for operators and the bench. */
struct store_stat
{
    uint64_t map_bytes;  /* configured map size */
    uint64_t used_bytes; /* pages in use up to the high-water mark, times the page size */
    uint64_t file_bytes; /* size of data.mdb on disk */
    uint32_t page_bytes;
    uint32_t readers_used;              /* reader slots ever taken (high-water mark) */
    uint32_t readers_reclaimed_at_open; /* stale slots mdb_reader_check freed at open */
    uint64_t entries[STORE_DB_COUNT];
};

/* ------------------------------------------------------------- environment */

/*
 * Opens (creating the directory 0700 and the files 0600 if needed) the environment in
 * dir with a map of map_size_bytes (STORE_MAP_BYTES_MIN..STORE_MAP_BYTES_MAX, rounded up to
 * the page size; an existing larger file keeps its size), creates the named databases, and
 * frees reader slots left by dead processes (mdb_reader_check: a kill -9 leaves them, and
 * they pin pages forever). Durable settings only. *out is set on success only.
 * TB_EINVAL (map size), TB_ENOMEM, TB_ENOSPC, TB_EIO.
 */
TB_MUST_CHECK int store_open(struct store **out, const char *dir, uint64_t map_size_bytes,
                             char *errmsg);

/* Closes the environment. No transaction may be open. store_close(NULL) is a no-op. */
void store_close(struct store *s);

/* Runs mdb_reader_check again; *dead gets the number of stale slots freed. TB_EIO. */
TB_MUST_CHECK int store_reader_check(struct store *s, uint32_t *dead, char *errmsg);

/* Fills *out (the entry counts through a short read transaction). TB_EIO. */
TB_MUST_CHECK int store_stat_get(struct store *s, struct store_stat *out, char *errmsg);

/* ------------------------------------------------------------ transactions */

/*
 * Begins the write transaction (waits if another thread holds it). TB_ENOMEM, TB_EIO.
 * Opening a second one in the same thread asserts.
 */
TB_MUST_CHECK int store_begin_write(struct store *s, struct store_txn **out, char *errmsg);

/* Begins a read transaction: one consistent snapshot. TB_ENOMEM, TB_EIO. */
TB_MUST_CHECK int store_begin_read(struct store *s, struct store_txn **out, char *errmsg);

/*
 * Commits and frees txn. For a write transaction this returns only once the data is
 * synced to disk; on any error (including an earlier failed call on txn, whose code it
 * returns) nothing of txn is in the store. For a read transaction it just ends it.
 * TB_ENOSPC, TB_EIO, or the earlier error.
 */
TB_MUST_CHECK int store_commit(struct store_txn *txn, char *errmsg);

/* Discards and frees txn. store_abort(NULL) is a no-op. */
void store_abort(struct store_txn *txn);

/* The store a transaction belongs to, and whether it can write. */
struct store *store_txn_store(const struct store_txn *txn);
bool store_txn_writable(const struct store_txn *txn);

/* ---------------------------------------------------------------- generic */

enum store_put_flags {
    STORE_PUT_NEW = 1u << 0,    /* TB_EEXIST if the key is present; nothing is written */
    STORE_PUT_APPEND = 1u << 1, /* key must sort after every key of db (MDB_APPEND) */
};

/*
 * Stores value under key in db (write transactions only). key: 1..STORE_KEY_BYTES_MAX
 * bytes. flags: enum store_put_flags. TB_EEXIST (STORE_PUT_NEW), TB_EINVAL, TB_ENOSPC,
 * TB_EIO (also STORE_PUT_APPEND with a key not greater than db's last: "append out of
 * order", and the transaction is dead).
 */
TB_MUST_CHECK int store_put(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                            struct tb_bytes value, uint32_t flags, char *errmsg);

/*
 * Stores value under the u64 key (big-endian) one past db's last key (1 in an empty
 * db), with store_put(..., STORE_PUT_APPEND), and writes that key to *key_out. For dbs
 * keyed by u64 only; write transactions only (asserts). The next key is cached in the
 * transaction (one MDB_LAST per db per transaction; an APPEND store_put of a u64 key
 * keeps it right). TB_EIO (a last key that is not 8 bytes, or UINT64_MAX), and
 * store_put's errors.
 */
TB_MUST_CHECK int store_append_u64(struct store_txn *txn, enum store_db db, struct tb_bytes value,
                                   uint64_t *key_out, char *errmsg);

/*
 * Copies the value of key into out (replacing its contents). out == NULL only checks
 * presence. TB_ENOTFOUND, TB_ELIMIT (out's maximum; out is freed), TB_EINVAL, TB_EIO.
 */
TB_MUST_CHECK int store_get(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                            struct tb_buf *out, char *errmsg);

/*
 * Copies a value that must be exactly len bytes into out. TB_ENOTFOUND, TB_EIO when the
 * stored value has another size (a corrupt store), TB_EINVAL.
 */
TB_MUST_CHECK int store_get_exact(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                                  void *out, size_t len, char *errmsg);

/*
 * Copies a value of at most max bytes into out and its size into *len. TB_ENOTFOUND,
 * TB_EIO when the stored value is larger (a corrupt store), TB_EINVAL.
 */
TB_MUST_CHECK int store_get_upto(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                                 void *out, size_t max, size_t *len, char *errmsg);

/* Deletes key (write transactions only). TB_ENOTFOUND, TB_EINVAL, TB_EIO. */
TB_MUST_CHECK int store_del(struct store_txn *txn, enum store_db db, struct tb_bytes key,
                            char *errmsg);

/*
 * Scan visitor: key and value are borrowed for this call only. Returns 0 to go on, 1 to
 * stop, or a negative TB_E* code that the scan returns (the visitor may write errmsg).
 */
struct store_visitor
{
    void *arg;
    int (*visit)(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg);
};

/*
 * Visits, in key order, the keys of db that start with prefix (prefix.len == 0: all) and
 * sort strictly after *after (after == NULL: from the first), at most count_max of them
 * (count_max >= 1: every scan is bounded; to page on, pass the last key visited as
 * after). *visited gets the number visited. TB_EINVAL, TB_EIO, or the visitor's error.
 */
TB_MUST_CHECK int store_scan(struct store_txn *txn, enum store_db db, struct tb_bytes prefix,
                             const struct tb_bytes *after, uint32_t count_max,
                             const struct store_visitor *visitor, uint32_t *visited, char *errmsg);

/* Number of entries in db as this transaction sees it. TB_EIO. */
TB_MUST_CHECK int store_count(struct store_txn *txn, enum store_db db, uint64_t *entries,
                              char *errmsg);

/* Name of a database ("blocks", ...), for messages. */
const char *store_db_name(enum store_db db);

/* ------------------------------------------------------------------- keys */

void store_key_u64(struct store_key *key, uint64_t value);
/* by_subject key; type == NULL gives the subject-only prefix, record_id == NULL the
 * subject+type prefix. TB_EINVAL if type is empty or longer than STORE_NAME_BYTES_MAX. */
TB_MUST_CHECK int store_key_subject(struct store_key *key, const uint8_t subject[STORE_ID_BYTES],
                                    const char *type, const uint8_t *record_id);
/* by_issuer key; agency == NULL gives the city prefix, record_id == NULL city+agency. */
TB_MUST_CHECK int store_key_issuer(struct store_key *key, const char *city, const char *agency,
                                   const uint8_t *record_id);
/* audit key; the subject alone (the first 32 bytes) is the prefix of a subject's log. */
void store_key_audit(struct store_key *key, const uint8_t subject[STORE_ID_BYTES], uint64_t height,
                     uint32_t index);
/* A struct store_key as a borrowed tb_bytes view. */
struct tb_bytes store_key_bytes(const struct store_key *key);
/* Reads a big-endian u64 / u32 out of a key (for visitors). */
uint64_t store_be64(const uint8_t *p);
uint32_t store_be32(const uint8_t *p);

/* ------------------------------------------------------------ typed: meta */

/* meta "chain": written once at init. TB_EEXIST if present, TB_EINVAL for a bad suite. */
TB_MUST_CHECK int store_chain_put(struct store_txn *txn, const uint8_t chain_id[CR_HASH_BYTES],
                                  enum cr_suite suite, char *errmsg);
/* TB_ENOTFOUND for an uninitialised store, TB_EIO for a corrupt record or unknown suite. */
TB_MUST_CHECK int store_chain_get(struct store_txn *txn, uint8_t chain_id[CR_HASH_BYTES],
                                  enum cr_suite *suite, char *errmsg);

/* meta "state", overwritten once per committed block. */
TB_MUST_CHECK int store_state_put(struct store_txn *txn, const struct store_state *state,
                                  char *errmsg);
/* TB_ENOTFOUND before the first block; TB_EIO for a corrupt or unknown-version record. */
TB_MUST_CHECK int store_state_get(struct store_txn *txn, struct store_state *out, char *errmsg);

/* ------------------------------------------------------ typed: blocks, txs */

/* Stores a committed block and its hash. TB_EEXIST if the height already has a block. */
TB_MUST_CHECK int store_block_put(struct store_txn *txn, uint64_t height,
                                  const uint8_t hash[STORE_ID_BYTES], struct tb_bytes block,
                                  char *errmsg);
TB_MUST_CHECK int store_block_get(struct store_txn *txn, uint64_t height, struct tb_buf *out,
                                  char *errmsg);
TB_MUST_CHECK int store_block_hash_get(struct store_txn *txn, uint64_t height,
                                       uint8_t hash[STORE_ID_BYTES], char *errmsg);

TB_MUST_CHECK int store_cert_put(struct store_txn *txn, uint64_t height, struct tb_bytes cert,
                                 char *errmsg);
TB_MUST_CHECK int store_cert_get(struct store_txn *txn, uint64_t height, struct tb_buf *out,
                                 char *errmsg);

/* TB_EEXIST if the tx is already located (a tx commits once). */
TB_MUST_CHECK int store_txloc_put(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                                  const struct store_txloc *loc, char *errmsg);
TB_MUST_CHECK int store_txloc_get(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                                  struct store_txloc *out, char *errmsg);

/* pending: a tx already pending is left as it is (a resubmission has the same id and bytes);
 * a new one gets the next pending_log sequence. */
TB_MUST_CHECK int store_pending_put(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                                    struct tb_bytes envelope, char *errmsg);
TB_MUST_CHECK int store_pending_get(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                                    struct tb_buf *out, char *errmsg);
/* Deletes if present (a committed tx may have come from a peer): *was_present may be NULL. */
TB_MUST_CHECK int store_pending_del(struct store_txn *txn, const uint8_t tx_id[STORE_ID_BYTES],
                                    bool *was_present, char *errmsg);
/* Visits pending txs in admission order, at most count_max: key = tx id, value = envelope.
 * TB_EIO for a pending_log entry shorter than an id (a corrupt store). */
TB_MUST_CHECK int store_pending_scan(struct store_txn *txn, uint32_t count_max,
                                     const struct store_visitor *visitor, uint32_t *visited,
                                     char *errmsg);

/* ------------------------------------------------------------ typed: wal */

/*
 * Overwrites the WAL record in its own write transaction and returns only once it is
 * synced: the caller may sign and send after TB_OK. Must not be called by a thread that
 * holds the write transaction (asserts). TB_ENOSPC, TB_EIO, TB_ENOMEM.
 */
TB_MUST_CHECK int store_wal_put(struct store *s, struct tb_bytes record, char *errmsg);
/* TB_ENOTFOUND on a fresh node. */
TB_MUST_CHECK int store_wal_get(struct store_txn *txn, struct tb_buf *out, char *errmsg);

/* ------------------------------------------------- typed: indexes, records */

TB_MUST_CHECK int store_subject_put(struct store_txn *txn, const uint8_t subject[STORE_ID_BYTES],
                                    const char *type, const uint8_t record_id[STORE_ID_BYTES],
                                    char *errmsg);
TB_MUST_CHECK int store_issuer_put(struct store_txn *txn, const char *city, const char *agency,
                                   const uint8_t record_id[STORE_ID_BYTES], char *errmsg);
TB_MUST_CHECK int store_audit_put(struct store_txn *txn, const uint8_t subject[STORE_ID_BYTES],
                                  uint64_t height, uint32_t index, struct tb_bytes entry,
                                  char *errmsg);
TB_MUST_CHECK int store_document_put(struct store_txn *txn, const uint8_t record_id[STORE_ID_BYTES],
                                     struct tb_bytes sealed, char *errmsg);
TB_MUST_CHECK int store_document_get(struct store_txn *txn, const uint8_t record_id[STORE_ID_BYTES],
                                     struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int store_agency_put(struct store_txn *txn, struct tb_bytes public_key,
                                   struct tb_bytes info, char *errmsg);
TB_MUST_CHECK int store_agency_get(struct store_txn *txn, struct tb_bytes public_key,
                                   struct tb_buf *out, char *errmsg);
TB_MUST_CHECK int store_member_put(struct store_txn *txn, const char *city, struct tb_bytes info,
                                   char *errmsg);
TB_MUST_CHECK int store_member_get(struct store_txn *txn, const char *city, struct tb_buf *out,
                                   char *errmsg);
/* Keeps the first evidence for a (height, round, type, validator): TB_EEXIST after that. */
TB_MUST_CHECK int store_evidence_put(struct store_txn *txn, uint64_t height, uint32_t round,
                                     uint8_t type, uint32_t validator_index, struct tb_bytes votes,
                                     char *errmsg);

/* ------------------------------------------------------------ tree stores */

/*
 * The log tree's and the status tree's node stores over log_nodes, and smt_nodes_v2 with
 * smt_roots. The txn argument the trees pass through is a struct store_txn * (read or
 * write); puts need a write transaction. The returned structs borrow s.
 */
struct cr_log_store store_log_tree(struct store *s);
struct cr_smt_store store_smt_tree(struct store *s);

/* ------------------------------------------------------------ write log */

/*
 * Recording a transaction's writes to perform them again on another one. A block is
 * applied twice by every node: once in a scratch transaction to check it before voting
 * (then aborted), and again when it commits. With a write log the second time replays the
 * writes the first one made instead of re-running the ledger (decoding, checks, the status
 * tree's reads and hashes): valid only when the store's state is still the one the block
 * was checked against, which the caller (node/driver.c) checks.
 *
 * While txn records into log, every successful store_put (with its flags) and every
 * store_del attempt (found or not) on txn is appended to log. A log that would pass
 * STORE_WRITELOG_BYTES_MAX, or meets an allocation failure, is marked broken and cannot be
 * replayed; the transaction itself is never affected by recording.
 */
#define STORE_WRITELOG_BYTES_MAX (64u * 1024u * 1024u)

struct store_writelog
{
    struct tb_buf buf; /* records: op(1) db(1) flags(1) key_len u16 value_len u32 key value */
    uint32_t count;
    bool broken;
};

void store_writelog_init(struct store_writelog *log); /* empty; allocates nothing */
void store_writelog_release(struct store_writelog *log);
/* Starts recording txn's writes into log (write transactions only; log outlives txn's use). */
void store_txn_record(struct store_txn *txn, struct store_writelog *log);
/*
 * Performs the recorded writes on txn in order: puts with their recorded flags, deletes as
 * delete-if-present (a pending entry may have come or gone since); a delete in pending_ids
 * is replayed as store_pending_del of that id, so a tx that became pending after the
 * recording loses its pending_log entry too, and recorded pending_log deletes are skipped
 * (a sequence may have been reused by then). TB_EINVAL for a broken
 * log; any store error (TB_EEXIST: the state is not the recorded one): the caller must then
 * abort txn, since part of the log may have been written.
 */
TB_MUST_CHECK int store_writelog_replay(struct store_txn *txn, const struct store_writelog *log,
                                        char *errmsg);
/* Used by store_lmdb.c: appends one record (op 'p' put, 'd' delete). */
void store_writelog_note(struct store_writelog *log, uint8_t op, enum store_db db, uint32_t flags,
                         struct tb_bytes key, struct tb_bytes value);

/* ----------------------------------------------------------- fault hook */

enum store_fault_ops {
    STORE_FAULT_WRITE = 1u << 0,  /* puts and deletes */
    STORE_FAULT_COMMIT = 1u << 1, /* write-transaction commits */
};

/*
 * For tests: the (after + 1)-th operation of a kind in `ops` (counted from this call)
 * fails with `code` (TB_EIO or TB_ENOSPC) without touching LMDB, as a real failure
 * would at that point, and the fault disarms. With crash set, the process _exits with
 * STORE_FAULT_EXIT_STATUS there instead, without closing anything (kill -9 at that
 * instant). A failed write leaves its transaction dead, as a real one does.
 */
struct store_fault
{
    uint32_t ops; /* enum store_fault_ops; 0 disarms */
    uint64_t after;
    int code;
    bool crash;
};

void store_fault_set(struct store *s, const struct store_fault *fault);
/* Operations seen since the last store_fault_set (writes, commits), armed or not. */
void store_fault_seen(const struct store *s, uint64_t *writes, uint64_t *commits);

#ifdef __cplusplus
}
#endif
#endif
