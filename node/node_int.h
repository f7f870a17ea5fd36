/*
 * node/node_int.h: what the node's own files (node.c, driver.c, sync.c, peer_api.c,
 * metrics.c) share: struct node and the internal calls between them. Not for node/api.c,
 * which uses node.h only.
 *
 * Everything here runs on the event loop thread. The loop is the only writer of consensus
 * state, the mempool and the store's write transaction.
 */
#ifndef NODE_NODE_INT_H
#define NODE_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus.h"
#include "cr_sign.h"
#include "http.h"
#include "log.h"
#include "mempool.h"
#include "node.h"
#include "peer.h"
#include "wire_peer.h"

struct event;

#define NODE_TICK_MS 500u      /* status polls, re-gossip, retries */
#define NODE_REGOSSIP_MS 1000u /* own messages of the running height go out again */
#define NODE_PEER_BACKOFF_MAX_MS 30000u
#define NODE_BLOCKS_KEPT 8u      /* proposed blocks remembered per height */
#define NODE_HELD_MAX 64u        /* messages held for a future height */
#define NODE_OUTBOX_MAX 16u      /* own signed messages kept for re-gossip */
#define NODE_STORE_LOG_MS 10000u /* one store error line per 10 s at most */
#define NODE_MEMPOOL_COUNT_MAX 20000u
#define NODE_MEMPOOL_BYTES_MAX (64u * 1024u * 1024u)
#define NODE_ADMIT_BATCH_MAX 256u /* txs per group commit (admit.c) */
#define NODE_ADMIT_GAP_MS 4u      /* least time between group commits under load (admit.c) */
#define NODE_GOSSIP_QUEUE_BYTES (8u * 1024u * 1024u) /* per peer, while a POST is in flight */

/* ---- admission (admit.c) ---- */

struct node_admit_entry
{
    uint8_t id[WIRE_HASH_BYTES];
    uint8_t kind;
    bool gossip;
    uint8_t *envelope; /* owned copy */
    size_t len;
    node_submit_fn done; /* NULL: nobody waits (gossip from a peer) */
    void *arg;
};

/* Checked txs waiting for the group commit that makes them durable. */
struct node_admit_batch
{
    struct node_admit_entry entries[NODE_ADMIT_BATCH_MAX];
    size_t count;
    size_t bytes;
    bool scheduled;         /* flush_ev is active */
    struct event *flush_ev; /* zero-delay, or a short timer right after another flush */
    uint64_t last_flush_ms; /* monotonic end of the last group commit */
};

/* ---- commit watches (commit_watch.c) ---- */

#define NODE_WATCH_MAX 64u           /* txs waited for at once (document fetches in flight) */
#define NODE_WATCH_INDEX_BLOCKS 256u /* blocks indexed per catch-up call */

/* Runs once when the watched tx commits (loc set), from the commit hook. */
typedef void (*node_watch_fn)(void *arg, const struct store_txloc *loc);

struct node_watch
{
    bool used;
    uint8_t tx_id[WIRE_HASH_BYTES];
    uint8_t tag[WIRE_HASH_BYTES]; /* what the waiter groups by (a consent id) */
    node_watch_fn fn;
    void *arg;
};

/* ---- metrics ---- */

struct node_metrics
{
    uint64_t http_by_class[6]; /* index status/100; peer and API requests alike */
    uint64_t committed_txs;
    uint64_t committed_blocks;
    uint64_t rounds_total; /* rounds started (round 0 included) */
    uint64_t store_errors;
    uint64_t sync_blocks;
    uint64_t sync_refused;
    uint64_t peer_msgs_bad;
    uint64_t txs_gossiped_in;
    uint64_t admit_batches;   /* group commits of admitted txs (admit.c) */
    uint64_t commit_replays;  /* blocks committed by replaying their check's writes */
    uint64_t commit_applies;  /* blocks committed by applying them (sync, or no replay) */
    uint64_t gossip_msgs_out; /* POST /v1/peer/txs sent */
    uint64_t gossip_dropped;  /* txs not gossiped: a peer's queue was full */
};

/* ---- peers ---- */

struct node_peer
{
    struct node *node;
    const struct cfg_member *member; /* borrowed from the genesis */
    uint32_t index;                  /* validator index */
    uint8_t key_id[WIRE_HASH_BYTES];
    struct cr_key *key; /* public node key, for signatures */
    bool self;
    bool up;
    uint64_t height; /* their committed height */
    uint64_t last_seen_ms;
    uint32_t failures;
    uint64_t next_poll_ms; /* monotonic */
    bool poll_in_flight;
    bool polled; /* answered or failed at least once since start */
    bool sync_in_flight;
    uint64_t sync_block_until_ms; /* dropped for sync until then (garbage, bad cert) */
    /* Tx gossip to this peer: one POST in flight at a time; what is admitted meanwhile waits
     * here as [u32 length][envelope] records and goes in the next message (peer_api.c). */
    bool gossip_in_flight;
    struct tb_buf gossip_queue;
    size_t gossip_queued; /* envelopes in gossip_queue */
};

/* ---- consensus driver ---- */

struct node_block
{
    bool used;
    uint64_t height;
    uint8_t id[WIRE_HASH_BYTES];
    struct tb_buf bytes;
    /* The writes checking it made (store.h write log), valid on top of the state at
     * parent_height / parent_hash: its commit replays them instead of applying it again. */
    bool prepared;
    uint64_t parent_height;
    uint8_t parent_hash[WIRE_HASH_BYTES];
    struct store_writelog writes;
};

struct node_held
{
    bool used;
    uint64_t height;
    struct tb_buf bytes; /* an encoded wire_peer_consensus */
};

struct node_timer
{
    struct node *node;
    struct event *ev;
    uint64_t height;
    uint32_t round;
    enum cs_step step;
};

struct node_driver
{
    struct cs_core core;
    struct cs_options core_options;
    struct cs_update update;
    bool running;         /* the core has a height */
    bool waiting_restore; /* the WAL is ahead of the block store: sync first */
    bool started;         /* consensus begins after the first status poll round */
    uint64_t start_ms;    /* monotonic time of node_start */
    bool halted;          /* the WAL could not be written: retry from the durable record */
    struct cs_persist wal_pending;
    struct cs_persist durable; /* the last record made durable */
    bool has_durable;
    uint32_t last_round; /* for rounds_total */
    uint64_t last_height;
    uint64_t committed;  /* the ledger's committed height, cached */
    bool commit_pending; /* a decided block whose commit failed: retried on tick */
    struct tb_buf commit_block;
    struct tb_buf commit_cert;
    bool need_block;         /* the core asked for a block we have not built yet */
    uint64_t build_retry_ms; /* monotonic: no build before this after a failed one */
    struct cs_need_block need;
    uint64_t idle_since_ms; /* decided and idle; 0 when a height is running */
    uint64_t first_pending_ms;
    struct node_timer timers[3]; /* propose, prevote, precommit */
    struct node_block blocks[NODE_BLOCKS_KEPT];
    struct store_writelog scratch_writes; /* the check in progress; swapped into a kept block */
    struct node_held held[NODE_HELD_MAX];
    struct tb_buf outbox[NODE_OUTBOX_MAX];
    uint32_t outbox_count;
    uint64_t outbox_height;
    uint64_t last_gossip_ms;
};

struct node
{
    struct cfg_config cfg;
    struct cfg_genesis genesis;
    struct cr_key *key; /* this node's signing key */
    struct store *store;
    struct ledger *ledger;
    enum cr_suite suite;
    uint8_t chain_id[WIRE_HASH_BYTES];
    uint32_t self_index;
    uint32_t validator_count;
    struct node_peer peers[NODE_PEERS_MAX]; /* by validator index */
    struct mempool mempool;
    struct node_admit_batch admit;
    struct node_driver drv;
    struct node_metrics metrics;
    bool writable;
    uint64_t store_error_logged_ms; /* monotonic; rate-limits store error lines */
    bool stopping;
    struct event_base *base;
    struct http_server *http;
    struct api_auth *auth; /* the agency request gate's state (node/api_auth.h) */
    struct node_watch watches[NODE_WATCH_MAX]; /* commit_watch.c */
    struct peer_client *client;
    struct node_tls *tls; /* [peer] tls = on: identity, binding, learned peer keys */
    struct event *sig_int, *sig_term, *tick;
    char errmsg[TB_ERRMSG_SIZE];
};

/* Clocks: unix ms (block times, last_seen) and monotonic ms (schedules). */
uint64_t node_now_ms(void);
uint64_t node_mono_ms(void);

/* Marks the store failing (logs, counts, 503 to writers) or healthy again. */
void node_store_failed(struct node *n, const char *what, int rc, const char *errmsg);

/* Committed? state COMMITTED, id and loc filled. TB_OK / TB_ENOTFOUND / TB_EIO (node.c). */
TB_MUST_CHECK int node_committed_lookup(struct store_txn *txn, const uint8_t id[WIRE_HASH_BYTES],
                                        struct node_tx_result *out, char *errmsg);

/*
 * Admission shared by the API path and gossip (admit.c): decode, dedupe, the ledger's check;
 * then the tx joins the group-commit batch and out->state is NODE_TX_QUEUED: done(arg, ...)
 * runs exactly once after the batch's synced commit (or its failure). Any other state or a
 * refusal is the answer now, and done never runs. gossip: forward it to peers once durable.
 */
TB_MUST_CHECK int node_admit_queue(struct node *n, struct tb_bytes envelope, bool gossip,
                                   node_submit_fn done, void *arg, struct node_tx_result *out,
                                   char *errmsg);
TB_MUST_CHECK int admit_open(struct node *n, char *errmsg);
/* Commits what is queued and answers it (also called by the flush event). */
void admit_flush(struct node *n);
/* Flushes what is left, frees the event. */
void admit_close(struct node *n);

/* ---- driver.c ---- */
TB_MUST_CHECK int driver_open(struct node *n, char *errmsg);
void driver_close(struct node *n);
/* Starts consensus: resumes from the WAL or starts the next height. */
void driver_start(struct node *n);
/* A consensus message from a peer (or re-fed held message); bytes are the encoded message. */
void driver_on_message(struct node *n, struct tb_bytes bytes);
/* The mempool gained a tx. */
void driver_on_tx(struct node *n);
/* A peer came up: send it what we signed at the running height. */
void driver_on_peer_up(struct node *n, struct node_peer *p);
/* Periodic work: re-gossip, idle start, pending block build. */
void driver_tick(struct node *n);
/* Sync committed a block at height h: move the core on. */
void driver_after_sync(struct node *n, uint64_t height);
/* Applies a committed block and its certificate in one write transaction. */
TB_MUST_CHECK int driver_commit_block(struct node *n, struct tb_bytes block, struct tb_bytes cert,
                                      char *errmsg);

/* WAL record codec (fixed little-endian layout, see driver.c). */
#define NODE_WAL_BYTES 1024u
TB_MUST_CHECK int node_wal_encode(const struct cs_persist *p, struct tb_buf *out);
TB_MUST_CHECK int node_wal_decode(const uint8_t *data, size_t len, struct cs_persist *out);
/*
 * The double-sign guard the driver asserts before every signature: msg of its type must
 * not be at or below what `durable` (the record made durable BEFORE this update) says
 * was signed last, unless it is the identical message (a resend). True when allowed.
 */
bool node_wal_may_sign(const struct cs_persist *durable, const struct cs_msg *msg);

/* ---- sync.c ---- */
/*
 * Checks a commit certificate for block_hash at height against the validators' keys:
 * strict decode, height and hash equal, more than 2/3 of n distinct signers below n, each
 * precommit signature valid over wire_vote_sign_input(chain_id, vote). TB_OK or
 * TB_EMALFORMED / TB_EINVAL / TB_EBADSIG with errmsg.
 */
TB_MUST_CHECK int node_cert_check(enum cr_suite suite, const uint8_t chain_id[WIRE_HASH_BYTES],
                                  struct cr_key *const *keys, uint32_t n, uint64_t height,
                                  const uint8_t block_hash[WIRE_HASH_BYTES], struct tb_bytes cert,
                                  char *errmsg);
void sync_tick(struct node *n);
void sync_on_status(struct node *n, struct node_peer *p, const struct wire_peer_status *st);

/* ---- peer_api.c ---- */
TB_MUST_CHECK int peer_api_register(struct node *n, char *errmsg);
/* Sends an encoded consensus message to every other validator that is up. */
void peer_api_broadcast(struct node *n, struct tb_bytes msg);
/* Queues admitted (durable) envelopes for every up peer; one POST in flight per peer. */
void peer_api_gossip_txs(struct node *n, const struct tb_bytes *envelopes, size_t count);
/* Frees the peers' gossip queues (node_free). */
void peer_api_gossip_release(struct node *n);
void peer_api_poll(struct node *n);

/* ---- commit_watch.c ---- */
/*
 * The driver's hook after block b (decoded, its height committed and durable) was applied:
 * indexes the block's access.audit txs by consent id (node/docstore.h "consent/u", catching
 * up on any height missed since "consent/h"), then runs the watch of every tx that is now
 * committed. One line in driver_commit_block.
 */
void commit_watch_on_commit(struct node *n, const struct wire_block *b);
/* Indexes committed audits up to the tip, at most NODE_WATCH_INDEX_BLOCKS blocks per call.
 * TB_OK when the index is complete, TB_ELIMIT when more remains, or a store error. */
TB_MUST_CHECK int commit_watch_index(struct node *n, char *errmsg);
/* Watches tx_id until it commits: fn(arg, loc) runs once then. TB_ELIMIT when
 * NODE_WATCH_MAX watches are in use. */
TB_MUST_CHECK int commit_watch_add(struct node *n, const uint8_t tx_id[WIRE_HASH_BYTES],
                                   const uint8_t tag[WIRE_HASH_BYTES], node_watch_fn fn, void *arg);
/* Drops the watch of arg (timeout, client gone); fn will not run. No-op when absent. */
void commit_watch_remove(struct node *n, void *arg);
/* Watches in use with this tag (in-flight uses of one consent). */
uint32_t commit_watch_count_tag(const struct node *n, const uint8_t tag[WIRE_HASH_BYTES]);

/* ---- peer_documents.c ---- */
/* Registers POST /v1/peer/documents and POST /v1/documents/fetch (from peer_api_register). */
TB_MUST_CHECK int peer_documents_register(struct node *n, char *errmsg);

/* ---- node_tls.c: mutual TLS between members (docs/peer.md) ---- */
/*
 * Loads [peer] tls_cert_file and tls_key_file (the certificate's CN must be this city),
 * signs this node's binding with the node key (at every start: the chain id is only known
 * once the genesis is), and builds the server's TLS context. Needs n->key, n->chain_id
 * and the validators. TB_EIO, TB_EINVAL, TB_ECONFIG, TB_ENOMEM with errmsg.
 */
TB_MUST_CHECK int node_tls_open(struct node *n, char *errmsg);
/* Serves TLS on n->http and checks every /v1/peer/ request's certificate and binding. */
TB_MUST_CHECK int node_tls_server(struct node *n, char *errmsg);
/* The client certificate, binding and server checks for the peer client. */
void node_tls_client_options(struct node *n, struct peer_options *po);
void node_tls_close(struct node *n); /* NULL n->tls ok */

/* ---- metrics.c ---- */
TB_MUST_CHECK int metrics_register(struct node *n, char *errmsg);
void metrics_count_status(struct node *n, int status);

#endif
