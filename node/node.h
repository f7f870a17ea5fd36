/*
 * node/node.h: the running node (`tongban node --config FILE`): one libevent loop that owns
 * the store, the ledger, the consensus driver, the mempool, the HTTP server (JSON API and
 * peer API) and the peer client. This header is what the JSON API (node/api.c) calls.
 *
 * Threading: everything here runs on the node's event loop thread; no function may be called
 * from another thread. Handlers registered by api_register() run on that thread too, so they
 * may call these functions and open read transactions on node_store() directly.
 *
 * Where the JSON API is wired in: node_start() (node/node.c) creates the HTTP server, calls
 * `api_register(srv, node)` (node/api.h) once, then registers the peer routes (/v1/peer/...)
 * and GET /metrics itself. api_register must not register /v1/peer/ or /metrics.
 *
 * Must never: sign or send a consensus message before its WAL record is synced, answer a
 * submission before the tx is durable in `pending`, log an ID number or a document.
 *
 * CHANGES (for the API engineer; newest last):
 * - 17:45 first version.
 * - 18:05 comments only: node_new's errors, node_start's order. No API change.
 */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "genesis.h"
#include "ledger.h"
#include "store.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct node; /* opaque */
struct event_base;

#define NODE_PEERS_MAX CFG_MEMBERS_MAX

/* ---------------------------------------------------------------- lifecycle */

/*
 * Loads the config and everything it names (genesis, node key), opens the store and the
 * ledger, reads the WAL (a record that does not decode is an error) and rebuilds the mempool
 * from `pending`. Nothing listens yet. TB_ECONFIG (also for [peer] tls = on, not supported
 * yet), TB_EIO, TB_ENOSPC, TB_ENOMEM, TB_EMALFORMED (the WAL), errmsg set.
 */
TB_MUST_CHECK int node_new(const struct cfg_config *cfg, struct node **out, char *errmsg);

/*
 * Binds the HTTP server, registers the routes (api_register, the peer API, /metrics), and
 * starts the tick: peers are polled at once, consensus resumes after the first poll round.
 */
TB_MUST_CHECK int node_start(struct node *n, char *errmsg);

/* Runs the loop until node_stop() or SIGINT/SIGTERM. Returns TB_OK on a clean stop. */
TB_MUST_CHECK int node_run(struct node *n, char *errmsg);

/* Asks the loop to finish (safe from a handler). */
void node_stop(struct node *n);

/* Frees everything, closing LMDB last. NULL is a no-op. */
void node_free(struct node *n);

/* ------------------------------------------------------------- accessors */

/* Borrowed for the node's lifetime. Open read transactions with store_begin_read and end
 * them before returning to the loop. */
struct store *node_store(struct node *n);
struct ledger *node_ledger(struct node *n);
const struct cfg_genesis *node_genesis(const struct node *n);
const struct cfg_config *node_config(const struct node *n);
struct event_base *node_event_base(struct node *n);
/* The agency request gate's state (replay cache, start time; node/api_auth.h), made by
 * node_start before the routes; NULL before. */
struct api_auth *node_api_auth(struct node *n);

/*
 * False while the store refuses writes (map full, disk full, I/O error): writers answer
 * 503 `unavailable`. The node retries and turns writable again by itself.
 */
bool node_writable(const struct node *n);

/* ------------------------------------------------------------ submission */

enum node_tx_state {
    NODE_TX_UNKNOWN = 0,   /* refused, or never seen */
    NODE_TX_NEW = 1,       /* accepted now: answer 202 */
    NODE_TX_PENDING = 2,   /* already pending: answer 200 */
    NODE_TX_COMMITTED = 3, /* already committed: answer 200 with height and index */
    NODE_TX_QUEUED = 4,    /* node_submit_tx_async only: checked, waiting for the group commit */
};

struct node_tx_result
{
    enum node_tx_state state;
    uint8_t id[WIRE_HASH_BYTES];   /* set unless the envelope did not decode */
    uint8_t kind;                  /* set with id */
    struct store_txloc loc;        /* NODE_TX_COMMITTED only */
    struct ledger_verdict verdict; /* refusals: the ledger's verdict (code, message) */
};

/*
 * Admits one envelope: decode, dedupe by id (pending or committed: state says which, TB_OK),
 * ledger_check_tx against the latest committed state, store_pending_put in a synced write
 * transaction, add to the mempool, then gossip to peers (POST /v1/peer/txs) after return.
 * Returns TB_OK for NEW / PENDING / COMMITTED. Refusals return the ledger_check_tx code
 * (TB_EMALFORMED -> 400, TB_EBADSIG / TB_EAUTH / TB_EEXIST / TB_ENOTFOUND / TB_EINVAL ->
 * 422 with verdict.code's name) with state UNKNOWN and the verdict filled. Storage
 * failures (TB_ENOSPC, TB_EIO, TB_ENOMEM) -> 503/500: nothing was promised; errmsg says
 * why (TB_ERRMSG_SIZE bytes).
 */
TB_MUST_CHECK int node_submit_tx(struct node *n, struct tb_bytes envelope,
                                 struct node_tx_result *out, char *errmsg);

/* The answer to a queued submission: rc TB_OK with res->state NEW once durable, or the
 * storage error (TB_ENOSPC, TB_EIO, TB_ENOMEM: nothing was promised) with errmsg. */
typedef void (*node_submit_fn)(void *arg, int rc, const struct node_tx_result *res,
                               const char *errmsg);

/*
 * node_submit_tx for handlers that can wait: a new, acceptable tx joins the group commit
 * (one synced write for every tx admitted in the same loop turn) and out->state is
 * NODE_TX_QUEUED: done(arg, ...) runs exactly once, later, from the loop (defer the HTTP
 * reply until then). Every other outcome (PENDING, COMMITTED, a refusal with its code) is
 * the answer now, as node_submit_tx gives it, and done never runs.
 */
TB_MUST_CHECK int node_submit_tx_async(struct node *n, struct tb_bytes envelope,
                                       node_submit_fn done, void *arg, struct node_tx_result *out,
                                       char *errmsg);

/*
 * Where a tx is: PENDING (in the mempool / `pending`), COMMITTED (with loc) or UNKNOWN
 * (TB_OK in all three cases). TB_EIO on a store failure.
 */
TB_MUST_CHECK int node_tx_lookup(struct node *n, const uint8_t id[WIRE_HASH_BYTES],
                                 struct node_tx_result *out, char *errmsg);

/* ---------------------------------------------------------------- status */

enum node_peer_state {
    NODE_PEER_DOWN = 0,
    NODE_PEER_UP = 1,
};

struct node_peer_info
{
    char city[CFG_CITY_MAX + 1];
    char endpoint[CFG_ENDPOINT_MAX + 1];
    uint64_t height;       /* their last reported committed height */
    uint64_t last_seen_ms; /* unix ms of the last good answer, 0 = never */
    enum node_peer_state state;
};

struct node_status
{
    const char *city; /* borrowed from the config */
    const char *name;
    enum cr_suite suite;
    uint8_t chain_id[WIRE_HASH_BYTES];
    struct ledger_tip tip;    /* height, block hash, roots, time_ms of the latest block */
    uint64_t pending;         /* txs in the mempool */
    uint32_t validator_index; /* this node's index in the validator set */
    uint32_t round;           /* current consensus round */
    size_t peer_count;        /* other members */
    struct node_peer_info peers[NODE_PEERS_MAX];
};

/* Fills a snapshot for GET /v1/status. TB_EIO if the tip cannot be read. */
TB_MUST_CHECK int node_status_get(struct node *n, struct node_status *out, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
