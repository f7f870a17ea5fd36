/*
 * node/ledger_int.h: what the ledger's source files share and nobody else sees: the
 * struct, the ledger's own entry layouts (documented in ledger.h) and the per-tx context
 * that a check hands to the apply step.
 *
 * Must never: be included outside node/ledger*.c.
 */
#ifndef LEDGER_INT_H
#define LEDGER_INT_H

#include "cr_sign.h"
#include "cr_smt.h"
#include "ledger.h"

#define LEDGER_ENTRY_VERSION 1u
#define LEDGER_STATUS_BYTES (1u + 1u + 8u + 8u + 8u) /* version, state, two heights, time */
#define LEDGER_REC_BYTES_MAX                                                                       \
    (LEDGER_STATUS_BYTES + WIRE_HASH_BYTES + 1u + WIRE_TYPE_BYTES_MAX + 1u + WIRE_CITY_BYTES_MAX + \
     1u + WIRE_AGENCY_BYTES_MAX)
#define LEDGER_AGENCY_BYTES_MAX (LEDGER_STATUS_BYTES + WIRE_TX_BYTES_MAX)
#define LEDGER_META_PREFIX_BYTES 8u /* "ledger/r", "ledger/k" */

#define LEDGER_STATE_ACTIVE 1u /* valid record, active agency key */
#define LEDGER_STATE_ENDED 2u  /* revoked record, retired agency key */

/* Verified signatures remembered: 65,536 sets of 4 (8 MiB). A tx is verified at admission and
 * its block is checked after up to a full mempool of other txs (20,000): a direct-mapped
 * cache of 16,384 forgot about a fifth of them by then (D15). */
#define LEDGER_SIG_CACHE_SETS 65536u
#define LEDGER_SIG_CACHE_WAYS 4u
#define LEDGER_KEY_CACHE_SIZE 32u /* agency key objects kept (a key from bytes costs ~30%) */

/* A parsed agency public key, kept because building one per signature check costs a third
 * of the check. Only speed depends on it: a cached and a fresh key verify the same. */
struct ledger_cached_key
{
    uint8_t pub[CR_PUBKEY_MAX];
    size_t pub_len; /* 0: empty slot */
    struct cr_key *key;
    uint64_t used; /* last use, for eviction */
};

struct ledger_validator
{
    uint8_t key_id[WIRE_HASH_BYTES];
    struct cr_key *key;
    const struct cfg_member *member;
};

struct ledger
{
    struct store *store;
    const struct cfg_genesis *genesis;
    enum cr_suite suite;
    uint8_t chain_id[WIRE_HASH_BYTES];
    struct ledger_validator validators[CFG_MEMBERS_MAX]; /* sorted by key id */
    size_t validator_count;
    uint8_t validator_set_hash[WIRE_HASH_BYTES];
    struct cr_smt smt;
    struct ledger_cached_key key_cache[LEDGER_KEY_CACHE_SIZE];
    uint64_t key_cache_clock;
    /* Signatures already verified: H(public key || signature || sign input), direct-mapped.
     * A tx is checked at admission and again when its block is applied; the second check of
     * the same bytes is a lookup. Only successes enter, so a hit proves what a verify would
     * (short of a hash collision), and every node still reaches the same verdict. */
    uint8_t (*sig_cache)[WIRE_HASH_BYTES]; /* SETS * WAYS slots, set s at s * WAYS, or NULL */
    uint8_t *sig_cache_next;               /* per set: the way the next insert replaces */
    uint64_t sig_cache_hits;
    uint64_t sig_verifies;    /* signature checks of txs actually run (cache misses) */
    struct tb_buf sign_input; /* scratch: a tx's signature input */
    struct tb_buf agency_buf; /* scratch: the agency entry of the tx being checked */
    struct tb_buf value_buf;  /* scratch: an entry being written */
    char errmsg[TB_ERRMSG_SIZE];
};

/* A record entry (meta "ledger/r" || id), decoded. */
struct ledger_rec
{
    uint8_t state;
    uint64_t issued_height, revoked_height, expires_at;
    uint8_t subject[WIRE_HASH_BYTES];
    char type[WIRE_TYPE_BYTES_MAX + 1];
    char city[WIRE_CITY_BYTES_MAX + 1];
    char agency[WIRE_AGENCY_BYTES_MAX + 1];
};

/* An agency entry (agencies db), decoded; reg's views point into the buffer it came from. */
struct ledger_ag
{
    uint8_t state;
    uint64_t registered_height, retired_height, not_after;
    struct tb_bytes body; /* the agency.register body bytes */
    struct wire_tx_body reg;
};

/* What a successful check hands to the apply step for the same tx. */
struct ledger_txctx
{
    struct wire_tx tx;
    struct wire_tx_body body;
    uint8_t id[WIRE_HASH_BYTES];
    struct ledger_rec rec; /* revoke, audit: the record */
    struct ledger_ag ag;   /* retire: the agency entry (views into l->agency_buf) */
};

/* ledger.c: entries. */
void ledger_be64_put(uint8_t *p, uint64_t v);
void ledger_meta_key(uint8_t key[LEDGER_META_PREFIX_BYTES + WIRE_HASH_BYTES], char which,
                     const uint8_t id[WIRE_HASH_BYTES]);
/* TB_OK, TB_ENOTFOUND, TB_EIO (corrupt entry) or the store's error, with errmsg. */
int ledger_rec_get(struct ledger *l, struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                   struct ledger_rec *out, char *errmsg);
int ledger_rec_put(struct ledger *l, struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                   const struct ledger_rec *rec, char *errmsg);
/* Reads the agency entry of public_key into l->agency_buf and decodes it into out. */
int ledger_ag_get(struct ledger *l, struct store_txn *txn, struct tb_bytes public_key,
                  struct ledger_ag *out, char *errmsg);
/* Writes an agency entry: status fields plus body. */
int ledger_ag_put(struct ledger *l, struct store_txn *txn, struct tb_bytes public_key,
                  const struct ledger_ag *ag, char *errmsg);
/* Copies a view into a NUL-terminated string (the view is at most max bytes, checked). */
void ledger_cstr(char *out, size_t out_size, struct tb_bytes b);
int ledger_tip_time_put(struct store_txn *txn, uint64_t time_ms, char *errmsg);

/* ledger_check.c: checks one envelope; on TB_OK ctx is ready for ledger_tx_apply. */
int ledger_tx_check(struct ledger *l, struct store_txn *txn, struct tb_bytes envelope,
                    uint64_t block_time_ms, struct ledger_txctx *ctx, struct ledger_verdict *v);
/* Sets a refusal verdict and returns the TB_E* code that goes with code. */
int ledger_refuse(struct ledger_verdict *v, enum ledger_code code, const char *fmt, ...)
    TB_PRINTF(3, 4);
/* Sets an internal-error verdict from errmsg and returns rv. */
int ledger_internal(struct ledger_verdict *v, int rv, const char *what, const char *errmsg);

/* ledger_block.c: applies a checked tx at (height, index), adding its status op if any. */
int ledger_tx_apply(struct ledger *l, struct store_txn *txn, const struct ledger_txctx *ctx,
                    uint64_t height, uint32_t index, struct cr_smt_op *ops, size_t *op_count,
                    char *errmsg);

#endif
