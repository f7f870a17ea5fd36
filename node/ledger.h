/*
 * node/ledger: the deterministic state machine over the store (DESIGN 3.4-3.6, 4, 5).
 * It admits txs (decode strictly, tx id from the exact body bytes, replay, signatures over
 * the DESIGN 3.3 sign input, authority per kind), applies blocks (header checks, every tx
 * checked against the state left by the txs before it, log tree and status tree updates,
 * indexes, roots compared with the header), builds blocks for a proposer, and answers
 * queries.
 *
 * Determinism. The same block gives the same verdict and the same roots on every node:
 * nothing here reads a clock, draws randomness or iterates over hash-table order. Every
 * time a check needs is the block's time_ms (DESIGN 4), or the time the caller passes to
 * ledger_check_tx (the mempool's best guess of the next block's time).
 *
 * Time rules (seconds are tx fields, milliseconds block times; t = block time_ms / 1000):
 *   - issued_at, revoked_at and an audit's `at` may be at most LEDGER_FUTURE_ALLOWANCE_S
 *     after t: agencies' clocks and the proposer's differ by a little, never by minutes;
 *   - an agency key is usable while not_after > t and it is not retired;
 *   - a record is expired when expires_at != 0 and expires_at <= t of the latest block;
 *   - the parent time of height 1 is the genesis created_at * 1000.
 *
 * Validator set. The set is the genesis members, sorted by key id H(node key) as DESIGN 4
 * orders proposers (a member.change is checked, its body and a quorum of more than two
 * thirds of the node keys, and then refused: applying it is not implemented yet). Its
 * hash, which every header carries, is
 *   H("tongban/validators/v1\0" || key_id_0 || key_id_1 || ...) in that order
 * (fixed-size ids: the concatenation is unambiguous). The header's proposer_index must be
 * below the set size; which index is right for a round is the consensus core's check
 * (the round is not in the header).
 *
 * Transactions. The ledger never begins, commits or aborts a store transaction: the caller
 * does. Checks take any transaction; apply and build need the write transaction and write
 * into it as they go, so after ANY error, and after ledger_build_block in every case, the
 * caller must abort that transaction (it holds half a block). The ledger keeps no state
 * of its own between calls beyond the genesis-derived keys, so an abort needs no reload.
 *
 * Storage layouts of the ledger (values in store databases; u64 big-endian). The "ledger/"
 * entries in meta stand in for databases store.h does not have yet (records by id, agency
 * keys by key id, the latest block time); they move when the store grows them:
 *   agencies  public key -> 1(version) || state(1) || registered_height u64 ||
 *             retired_height u64 || not_after u64 || agency.register body bytes
 *   meta      "ledger/r" || record id -> 1(version) || state(1) || issued_height u64 ||
 *             revoked_height u64 || expires_at u64 || subject(32) || name(type) ||
 *             name(city) || name(agency)   (name = length byte, then bytes)
 *   meta      "ledger/k" || key id H(public key) -> agency public key
 *   meta      "ledger/tip" -> time_ms u64 of the latest block (created_at * 1000 at height 0)
 *   audit     subject || height || index -> access.audit body bytes
 *   by_subject, by_issuer, txloc, pending, blocks, block_hashes, log_nodes, smt_nodes_v2,
 * smt_roots, meta "chain" and "state" as store.h lays them out.
 *
 * Ownership. struct ledger borrows the store and the genesis: both must outlive it.
 * Results that hold bytes copy them into caller buffers (store values die with the
 * transaction). Not thread-safe: one thread at a time per ledger (cached key objects).
 *
 * Must never: assert on anything that came from the network or the disk (those are
 * verdicts or TB_E* codes), read the local clock, or leave the log with a size or root
 * other than the header's when it returns TB_OK.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "genesis.h"
#include "store.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEDGER_FUTURE_ALLOWANCE_S 300u   /* how far ahead of the block a signed time may be */
#define LEDGER_BLOCK_OVERHEAD_BYTES 320u /* header plus block framing, an upper bound */
#define LEDGER_QUERY_MAX 1000u           /* entries per query page */

_Static_assert(LEDGER_BLOCK_OVERHEAD_BYTES < WIRE_BLOCK_BYTES_MAX, "a block fits its header");

/* Why a tx or block was refused; ledger_code_name gives the machine code for the API. */
enum ledger_code {
    LEDGER_OK = 0,             /* "ok" */
    LEDGER_MALFORMED,          /* "malformed": not canonical bytes, bad field values */
    LEDGER_BAD_SIGNATURE,      /* "bad_signature": does not verify (or another chain's) */
    LEDGER_UNKNOWN_AGENCY,     /* "unknown_agency": the signing key is no registered agency */
    LEDGER_NOT_AUTHORISED,     /* "not_authorised": a key that may not sign this */
    LEDGER_WRONG_TYPE,         /* "wrong_type": the agency is not registered for the type */
    LEDGER_UNKNOWN_TYPE,       /* "unknown_type": the type is not in the genesis */
    LEDGER_REPLAY,             /* "replay": already committed (or earlier in this block) */
    LEDGER_EXPIRED_KEY,        /* "expired_key": the agency key's not_after has passed */
    LEDGER_RETIRED_KEY,        /* "retired_key": the agency key was retired */
    LEDGER_UNKNOWN_RECORD,     /* "unknown_record" */
    LEDGER_ALREADY_REVOKED,    /* "already_revoked" */
    LEDGER_ALREADY_REGISTERED, /* "already_registered": that public key is registered */
    LEDGER_BAD_TIME,           /* "bad_time": a time too far after the block, or inverted */
    LEDGER_UNSUPPORTED,        /* "unsupported": a valid member.change (not applied yet) */
    LEDGER_BAD_HEADER,         /* "bad_header": height, prev hash, chain, time, set, proposer */
    LEDGER_BAD_ROOTS,          /* "bad_roots": log size, log root or state root differ */
    LEDGER_INTERNAL,           /* "internal": storage or memory failure, not the input's fault */
    LEDGER_CODE_COUNT
};

/* The machine code ("bad_signature", ...); "unknown" outside the enum. */
const char *ledger_code_name(enum ledger_code code);

/* A verdict: code, human message, and which tx (for blocks) it is about. */
struct ledger_verdict
{
    enum ledger_code code;
    char message[TB_ERRMSG_SIZE];
    bool has_tx; /* tx_id and kind are set (the envelope decoded) */
    uint8_t tx_id[WIRE_HASH_BYTES];
    uint8_t kind;
    bool has_index; /* index is set: the tx's position in the block or candidate list */
    size_t index;
};

struct ledger; /* opaque */

/*
 * Opens the ledger over store for genesis (both borrowed). On a fresh store it writes the
 * chain id and the height-0 state (empty log root H(""), empty status root 32 zero bytes,
 * parent time created_at * 1000) in its own write transaction and commits it; an existing
 * store must carry the genesis' chain id and suite. *out is set on success only.
 * TB_ECONFIG (another chain, or a genesis whose node keys do not parse), TB_ENOMEM, and the
 * store's TB_EIO / TB_ENOSPC, all with errmsg (TB_ERRMSG_SIZE bytes).
 */
TB_MUST_CHECK int ledger_open(struct ledger **out, struct store *store,
                              const struct cfg_genesis *genesis, char *errmsg);
void ledger_close(struct ledger *l); /* NULL is a no-op */

enum cr_suite ledger_suite(const struct ledger *l);
void ledger_chain_id(const struct ledger *l, uint8_t out[WIRE_HASH_BYTES]);
void ledger_validator_set_hash(const struct ledger *l, uint8_t out[WIRE_HASH_BYTES]);
size_t ledger_validator_count(const struct ledger *l);
/* Validator `index` (< ledger_validator_count) in set order: its member (borrowed from the
 * genesis) and, when key_id != NULL, its key id. The driver uses this order for proposers
 * and certificate indexes. */
const struct cfg_member *ledger_validator(const struct ledger *l, size_t index,
                                          uint8_t key_id[WIRE_HASH_BYTES]);

/*
 * Admission check of one envelope against the state txn sees, judged at block_time_ms.
 * Returns TB_OK when the tx is acceptable, otherwise a code matching the verdict:
 * TB_EMALFORMED (malformed, limits included), TB_EBADSIG, TB_EAUTH (unknown agency, not
 * authorised, wrong or unknown type, expired or retired key), TB_EEXIST (replay, already
 * registered or revoked), TB_ENOTFOUND (unknown record), TB_EINVAL (bad time, unsupported),
 * and for LEDGER_INTERNAL the store's TB_EIO / TB_ENOSPC or TB_ENOMEM. verdict is filled
 * in every case (code LEDGER_OK on success, with tx_id and kind).
 */
TB_MUST_CHECK int ledger_check_tx(struct ledger *l, struct store_txn *txn, struct tb_bytes envelope,
                                  uint64_t block_time_ms, struct ledger_verdict *verdict);

/*
 * Checks and applies one block in the write transaction txn (see the file comment): the
 * header against the latest state, every tx in order against the state the txs before it
 * left, then the log, status tree, indexes, txloc, pending, the block, its hash and the
 * new state; finally log_size, log_root and state_root must equal the header's. Returns
 * TB_OK when the block is valid and applied (the caller commits after a commit
 * certificate, or aborts when it only wanted the verdict). On a refusal the verdict says
 * why (for a tx: its index, id and reason) and the code is TB_EINVAL for a header or
 * root mismatch or the tx's code as in ledger_check_tx; storage failures are
 * LEDGER_INTERNAL. Either way the caller must then abort txn.
 */
TB_MUST_CHECK int ledger_apply_block(struct ledger *l, struct store_txn *txn, struct tb_bytes block,
                                     struct ledger_verdict *verdict);

struct ledger_build_limits
{
    size_t txs_max;         /* 1..WIRE_BLOCK_TXS_MAX */
    size_t block_bytes_max; /* LEDGER_BLOCK_OVERHEAD_BYTES + 1 .. WIRE_BLOCK_BYTES_MAX */
};

/*
 * The proposer's side: takes candidates in order, skips invalid ones (each skip's verdict
 * goes to skipped[*skipped_count++] when skipped != NULL; room for candidate_count), stops
 * at the count or byte limit (candidates past it are neither taken nor reported), and
 * appends to out (replacing its contents) a block for the next height with the given
 * time, proposer and the ledger's validator set whose roots are right: ledger_apply_block
 * accepts it on a store with the same state. *taken gets the number of txs in it.
 * The write transaction txn is used as scratch: abort it afterwards. TB_EINVAL for
 * time_ms not after the parent's, a proposer index outside the set, or bad limits (with
 * errmsg); storage and buffer errors otherwise. errmsg is TB_ERRMSG_SIZE bytes.
 */
TB_MUST_CHECK int ledger_build_block(struct ledger *l, struct store_txn *txn,
                                     const struct tb_bytes *candidates, size_t candidate_count,
                                     uint64_t time_ms, uint32_t proposer_index,
                                     const struct ledger_build_limits *limits, struct tb_buf *out,
                                     size_t *taken, struct ledger_verdict *skipped,
                                     size_t *skipped_count, char *errmsg);

/*
 * After ledger_build_block returned TB_OK in txn and before anything else writes to txn:
 * also stores the block it built (block: those bytes), its hash, the new state and the tip
 * time, exactly as ledger_apply_block would after applying it. Then txn holds every write
 * the block's commit makes, which a proposer records (store_txn_record) so that its commit
 * replays them instead of applying its own block again. The caller still aborts txn.
 * TB_EINVAL if block is not a block for the state in txn (height, parent), TB_EMALFORMED
 * if it does not decode, store errors otherwise.
 */
TB_MUST_CHECK int ledger_store_built(struct ledger *l, struct store_txn *txn, struct tb_bytes block,
                                     char *errmsg);

/* Signature checks of txs this ledger ran, and the ones its verified-signature cache
 * answered instead (D15): for /metrics and the tests. */
void ledger_sig_stats(const struct ledger *l, uint64_t *verifies, uint64_t *cache_hits);

/* ------------------------------------------------------------------ queries */

/* The latest committed state and its block time. TB_EIO, TB_ENOTFOUND (not opened). */
struct ledger_tip
{
    struct store_state state;
    uint64_t time_ms;
};
TB_MUST_CHECK int ledger_tip_get(struct ledger *l, struct store_txn *txn, struct ledger_tip *out,
                                 char *errmsg);

enum ledger_record_status {
    LEDGER_RECORD_UNKNOWN = 0, /* "unknown": neither committed nor pending */
    LEDGER_RECORD_PENDING,     /* "pending": acknowledged, not yet in a block */
    LEDGER_RECORD_VALID,       /* "valid" */
    LEDGER_RECORD_REVOKED,     /* "revoked" */
    LEDGER_RECORD_EXPIRED,     /* "expired": valid but expires_at <= latest block time */
};
const char *ledger_record_status_name(enum ledger_record_status s);

/*
 * A record and its status. `envelope` holds a copy of the issue envelope (from the block,
 * or from pending), and `tx`/`body` are views into envelope->data: valid while envelope is
 * untouched. For LEDGER_RECORD_UNKNOWN only status is set.
 */
struct ledger_record
{
    enum ledger_record_status status;
    uint64_t issued_height, revoked_height; /* 0 when not committed / not revoked */
    uint64_t expires_at;
    struct store_txloc loc; /* where the issue tx is (committed records) */
    struct wire_tx tx;
    struct wire_tx_body body; /* kind 1 */
};

/*
 * Looks record_id up. envelope is a caller buffer (max >= WIRE_TX_BYTES_MAX advised).
 * TB_OK (also for unknown), TB_EIO (a stored block that does not decode, a corrupt entry),
 * TB_ELIMIT (envelope too small), TB_ENOMEM.
 */
TB_MUST_CHECK int ledger_record_get(struct ledger *l, struct store_txn *txn,
                                    const uint8_t record_id[WIRE_HASH_BYTES],
                                    struct ledger_record *out, struct tb_buf *envelope,
                                    char *errmsg);

struct ledger_subject_entry
{
    char type[WIRE_TYPE_BYTES_MAX + 1];
    uint8_t record_id[WIRE_HASH_BYTES];
};

/*
 * Records of a subject (type == NULL: all types), in the by_subject key order (a type's
 * length byte, then its bytes, then the record id: shorter type names first), at most
 * count_max (1..LEDGER_QUERY_MAX) into out, after the entry *after (NULL: from the
 * start; pass the last one returned to page on). TB_EINVAL, TB_EIO.
 */
TB_MUST_CHECK int ledger_subject_records(struct ledger *l, struct store_txn *txn,
                                         const uint8_t subject[WIRE_HASH_BYTES], const char *type,
                                         const struct ledger_subject_entry *after,
                                         struct ledger_subject_entry *out, size_t count_max,
                                         size_t *count, char *errmsg);

struct ledger_agency
{
    uint8_t public_key[WIRE_PUBKEY_BYTES_MAX];
    size_t public_key_len;
    char city[WIRE_CITY_BYTES_MAX + 1];
    char agency[WIRE_AGENCY_BYTES_MAX + 1];
    char name[WIRE_NAME_BYTES_MAX + 1];
    uint8_t state; /* 1 active, 2 retired */
    uint64_t registered_height, retired_height, not_after;
    size_t type_count;
    char types[WIRE_AGENCY_TYPES_MAX][WIRE_TYPE_BYTES_MAX + 1];
};

/* One agency by public key. TB_ENOTFOUND, TB_EIO. */
TB_MUST_CHECK int ledger_agency_get(struct ledger *l, struct store_txn *txn,
                                    struct tb_bytes public_key, struct ledger_agency *out,
                                    char *errmsg);

/*
 * Agencies in public-key order after the key *after (NULL: from the start), at most
 * count_max (1..LEDGER_QUERY_MAX). TB_EINVAL, TB_EIO.
 */
TB_MUST_CHECK int ledger_agencies_list(struct ledger *l, struct store_txn *txn,
                                       const struct tb_bytes *after, struct ledger_agency *out,
                                       size_t count_max, size_t *count, char *errmsg);

/* The committed block at height (copied into out). TB_ENOTFOUND, TB_EIO, TB_ELIMIT. */
TB_MUST_CHECK int ledger_block_get(struct ledger *l, struct store_txn *txn, uint64_t height,
                                   struct tb_buf *out, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
