/*
 * consensus/ — the whole public surface of the pure Tendermint core.
 *
 * Tendermint, "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic 2018,
 * arXiv 1807.04938), Algorithm 1, written as a pure state machine in the style of
 * cowsql raft_step() and CometBFT ADR-030: the driver feeds events (a message, a
 * timeout, "block ready") to cs_step() and applies the update it gets back.
 *
 * The core never does I/O, never reads a clock, never draws random numbers and never
 * allocates after cs_core_init(). It sees 32-byte block ids only, never block
 * contents: the driver decides valid(v) before handing a proposal over. Votes and
 * proposals reach the core already signature-checked; the core stores their opaque
 * signatures only to return them in commit certificates and evidence.
 *
 * Equal-weight validators, n = count of the set given per height, indexes 0..n-1 over
 * the set sorted by key id (the driver sorts). Quorum: the smallest q with 3q > 2n
 * (2f+1 for n = 3f+1). Round-skip threshold: the smallest k with 3k > n (f+1).
 * Proposer of (h, r): (h + r) mod n.
 *
 * CHANGES (for the sim engineer; newest last):
 * - 17:20 CS_ROUNDS_PINNED added, CS_ROUND_SLOTS grew: old rounds that a lock or a POL
 *   refers to are kept, so line 28 works however old the POL (a liveness fix found with
 *   tongban-sim seed 4, mix equivocate). An equivocator's second vote per (round, type)
 *   is now counted for its value, as in the paper. No API change.
 * - 17:25 a proposal delivered again with valid = true upgrades an earlier valid = false
 *   (valid(v) may depend on the driver's clock). No API change.
 * - 18:00 up to three votes per (sender, round, type) are kept and counted, each for its
 *   value; a further one displaces a kept vote only if its value matters more to a rule
 *   (FOUND.md item 3). No API change; the comment of cs_evidence.second is corrected
 *   (since 17:20 the conflicting vote is counted for its value, as the paper says).
 */
#ifndef CS_CONSENSUS_H
#define CS_CONSENSUS_H

#include <stdbool.h>
#include <stdint.h>

#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ limits */

#define CS_VALIDATORS_MAX 64u /* largest validator set the core accepts */
#define CS_SIG_BYTES_MAX 72u  /* DER SM2 signatures fit; Ed25519 is 64 */
#define CS_BLOCK_ID_BYTES 32u
/*
 * Vote sets are kept for rounds in [round - CS_ROUNDS_PAST, round + CS_ROUND_WINDOW]
 * around the current round, plus up to CS_ROUNDS_PINNED older rounds that still matter
 * (the locked and valid rounds, and the valid rounds cited by this round's proposals).
 * Votes and proposals for other rounds are dropped and counted (never allocated for);
 * the sender's highest round is still remembered (one integer per validator) so the
 * f+1 round skip (line 55) works at any distance.
 */
#define CS_ROUND_WINDOW 8u
#define CS_ROUNDS_PAST 4u
#define CS_ROUNDS_PINNED 4u
#define CS_ROUND_SLOTS (CS_ROUNDS_PAST + 1u + CS_ROUND_WINDOW + CS_ROUNDS_PINNED)
/* Rounds at or above this are malformed (an honest node needs years of timeouts). */
#define CS_ROUND_MAX (1u << 30)
#define CS_ROUND_NONE UINT32_MAX /* "-1" of the paper: no locked/valid/POL round */
#define CS_INDEX_NONE UINT32_MAX /* "this node is not a validator at this height" */

/* One step emits at most one message and one timer of each kind; twice that as margin. */
#define CS_OUT_MAX 6u
#define CS_TIMERS_MAX 6u

/* Timeout options are capped so that base + round * delta never overflows. */
#define CS_TIMEOUT_MS_MAX (3600u * 1000u)

/* ------------------------------------------------------------- basic types */

struct cs_block_id
{
    uint8_t bytes[CS_BLOCK_ID_BYTES];
};

/* An opaque signature as the driver received it; len <= CS_SIG_BYTES_MAX. */
struct cs_sig
{
    uint8_t len;
    uint8_t bytes[CS_SIG_BYTES_MAX];
};

/* Message types; PREVOTE and PRECOMMIT equal the wire vote type (DESIGN 3.5). */
enum cs_msg_type {
    CS_MSG_PROPOSAL = 0,
    CS_MSG_PREVOTE = 1,
    CS_MSG_PRECOMMIT = 2,
};
#define CS_MSG_TYPES 3u

/* Steps of a round. COMMIT means "decided at this height, waiting for START_HEIGHT". */
enum cs_step {
    CS_STEP_NONE = 0, /* no height started yet */
    CS_STEP_PROPOSE = 1,
    CS_STEP_PREVOTE = 2,
    CS_STEP_PRECOMMIT = 3,
    CS_STEP_COMMIT = 4,
};

/* The validator set of one height: equal weights, sorted by key id by the driver. */
struct cs_validator_set
{
    uint32_t count;      /* n, 1..validators_max */
    uint32_t self_index; /* this node's index, or CS_INDEX_NONE for an observer */
};

/*
 * Mutations: TEST-ONLY seeded bugs that let the simulator prove its checkers can fail.
 * Default off (0). Never set them in production: each one breaks safety on purpose.
 */
enum cs_mutation_flags {
    /* The quorum threshold is lowered by one: 2f votes instead of 2f+1 (n = 3f+1). */
    CS_MUTATION_QUORUM_2F = 1u << 0,
    /* A locked validator prevotes for a new valid proposal anyway (lines 23 and 29). */
    CS_MUTATION_IGNORE_LOCK = 1u << 1,
    /*
     * A DRIVER mutation: the driver sends before the PERSIST record is durable, so a
     * crash loses what it signed and a restart may double-sign. The core ignores this
     * bit; it is here so that one options struct carries every mutation.
     */
    CS_MUTATION_SEND_BEFORE_PERSIST = 1u << 2,
};

struct cs_options
{
    uint32_t validators_max;       /* sizes the vote sets; 1..CS_VALIDATORS_MAX */
    uint64_t timeout_propose_ms;   /* base of timeoutPropose(round) */
    uint64_t timeout_prevote_ms;   /* base of timeoutPrevote(round) */
    uint64_t timeout_precommit_ms; /* base of timeoutPrecommit(round) */
    uint64_t timeout_delta_ms;     /* added per round: duration = base + round * delta */
    uint32_t mutations;            /* enum cs_mutation_flags; 0 outside tests */
};

/* ----------------------------------------------------------------- events */

enum cs_event_type {
    CS_EVENT_START_HEIGHT = 1,
    CS_EVENT_PROPOSAL = 2,
    CS_EVENT_VOTE = 3,
    CS_EVENT_TIMEOUT = 4,
    CS_EVENT_BLOCK_READY = 5,
};

/*
 * Start height h with this validator set: resets the round state and starts round 0.
 * Allowed when no height is running, and for any h above the current height (after a
 * decision, or after block sync jumped ahead). h must be >= 1.
 */
struct cs_start_height
{
    uint64_t height;
    struct cs_validator_set validators;
};

/*
 * A signature-checked proposal. valid is the driver's valid(v) (block checks incl. time);
 * the same proposal delivered again with valid = true upgrades an earlier false.
 */
struct cs_proposal
{
    uint64_t height;
    uint32_t round;
    uint32_t pol_round; /* CS_ROUND_NONE, or a round < round */
    struct cs_block_id block_id;
    bool valid;
    uint32_t from; /* validator index of the signer; must be proposer(height, round) */
    struct cs_sig sig;
};

/* A signature-checked prevote or precommit. */
struct cs_vote
{
    enum cs_msg_type type; /* CS_MSG_PREVOTE or CS_MSG_PRECOMMIT */
    uint64_t height;
    uint32_t round;
    bool is_nil;                 /* a vote for nil; block_id is then ignored */
    struct cs_block_id block_id; /* meaningful when !is_nil */
    uint32_t from;
    struct cs_sig sig;
};

/* A timer the core asked for has fired. step: PROPOSE, PREVOTE or PRECOMMIT. */
struct cs_timeout
{
    uint64_t height;
    uint32_t round;
    enum cs_step step;
};

/* The driver's answer to CS_UP_NEED_BLOCK (getValue() of the paper). */
struct cs_block_ready
{
    uint64_t height;
    uint32_t round;
    struct cs_block_id block_id;
};

struct cs_event
{
    uint64_t now_ms; /* the driver's clock; the core may ignore it and never reads one */
    enum cs_event_type type;
    union {
        struct cs_start_height start_height;
        struct cs_proposal proposal;
        struct cs_vote vote;
        struct cs_timeout timeout;
        struct cs_block_ready block_ready;
    };
};

/* ---------------------------------------------------------------- updates */

/* What this node signed last, per message type (CometBFT's double-sign guard). */
struct cs_signed
{
    bool present;
    bool is_nil; /* votes only */
    uint64_t height;
    uint32_t round;
    uint32_t pol_round; /* proposals only; CS_ROUND_NONE otherwise */
    struct cs_block_id block_id;
};

/*
 * The durable state of the core. The driver writes it in one synced transaction
 * whenever an update carries CS_UP_PERSIST, BEFORE signing or sending anything in
 * that update, and gives the last durable one to cs_core_restore() after a crash.
 * Rebuilt from it, the core never signs two different values for one
 * (height, round, type) and never regresses its lock.
 */
struct cs_persist
{
    uint64_t height; /* 0: no height started */
    uint32_t round;
    enum cs_step step;
    struct cs_validator_set validators;
    uint32_t locked_round; /* CS_ROUND_NONE when not locked */
    struct cs_block_id locked_value;
    uint32_t valid_round; /* CS_ROUND_NONE when no valid value */
    struct cs_block_id valid_value;
    struct cs_signed last_signed[CS_MSG_TYPES]; /* indexed by enum cs_msg_type */
};

/*
 * An outgoing message, UNSIGNED: the driver signs it after persisting, sends it to
 * every validator, and MUST also deliver it back to this core as a PROPOSAL/VOTE event
 * with its signature (a broadcast that includes itself): the core counts its own votes
 * only that way, so that its commit certificates carry its own signature too.
 */
struct cs_msg
{
    enum cs_msg_type type;
    uint64_t height;
    uint32_t round;
    uint32_t pol_round; /* proposals: CS_ROUND_NONE or the valid round */
    bool is_nil;        /* votes: nil vote */
    struct cs_block_id block_id;
};

/* Schedule a TIMEOUT event {height, round, step} after duration_ms of driver time. */
struct cs_timer
{
    uint64_t height;
    uint32_t round;
    enum cs_step step;
    uint64_t duration_ms;
};

/* The driver should produce a block for (height, round) and answer with BLOCK_READY. */
struct cs_need_block
{
    uint64_t height;
    uint32_t round;
};

struct cs_commit_sig
{
    uint32_t index;
    struct cs_sig sig;
};

/*
 * A decision: block_id is committed at height, with the precommits of round for it
 * from signer_count distinct validators (more than 2/3 of n; sorted by index).
 */
struct cs_commit
{
    uint64_t height;
    uint32_t round;
    struct cs_block_id block_id;
    uint32_t signer_count;
    struct cs_commit_sig signers[CS_VALIDATORS_MAX];
};

/* One side of an equivocation. */
struct cs_evidence_msg
{
    bool is_nil;
    uint32_t pol_round; /* proposals only */
    struct cs_block_id block_id;
    struct cs_sig sig;
};

/* Validator `from` signed two different messages of one (height, round, type). */
struct cs_evidence
{
    enum cs_msg_type type;
    uint64_t height;
    uint32_t round;
    uint32_t from;
    struct cs_evidence_msg first;  /* one the core had already kept */
    struct cs_evidence_msg second; /* the conflicting one (counted for its value if kept) */
};

enum cs_update_flags {
    CS_UP_PERSIST = 1u << 0,    /* persist is set: make it durable first */
    CS_UP_SEND = 1u << 1,       /* out[0..out_count) to sign and broadcast */
    CS_UP_NEED_BLOCK = 1u << 2, /* need_block is set */
    CS_UP_TIMER = 1u << 3,      /* timers[0..timer_count) to arm */
    CS_UP_COMMIT = 1u << 4,     /* commit is set: apply the block */
    CS_UP_EVIDENCE = 1u << 5,   /* evidence is set (at most one per step) */
};

/*
 * What one cs_step() asks of the driver. Borrowed: valid until the next call on this
 * core; the driver copies what it keeps. Apply in this order: (1) persist, (2) sign,
 * (3) send (incl. to itself), (4) arm timers, (5) need block, (6) commit, (7) evidence.
 */
struct cs_update
{
    uint32_t flags; /* enum cs_update_flags */
    struct cs_persist persist;
    uint32_t out_count;
    struct cs_msg out[CS_OUT_MAX];
    uint32_t timer_count;
    struct cs_timer timers[CS_TIMERS_MAX];
    struct cs_need_block need_block;
    struct cs_commit commit;
    struct cs_evidence evidence;
};

/* --------------------------------------------------------------- counters */

/* Why input was ignored; read these from core->stats (tests and metrics). */
struct cs_stats
{
    uint64_t events;
    uint64_t malformed;      /* bad type/index/round/sig length: cs_step returned TB_EINVAL */
    uint64_t wrong_height;   /* past heights, or future ones (the driver should hold those) */
    uint64_t outside_window; /* rounds beyond the kept window (absurd rounds land here) */
    uint64_t not_proposer;   /* proposals from a validator that is not proposer(h, r) */
    uint64_t duplicates;     /* the same message again */
    uint64_t equivocations;  /* conflicting messages: evidence emitted once per (sender, r, type) */
    uint64_t late;           /* messages after this node decided the height */
    uint64_t stale_timeouts; /* timeouts for another (h, r, step), stale BLOCK_READY */
    uint64_t refused_signs;  /* a sign the double-sign guard refused (after restore) */
    uint64_t decisions;
};

/* ------------------------------------------------------------------- core */

/* Proposals and votes kept for one round (internal; see vote_set.c). */
struct cs_round_slot;

/*
 * The core. Embed or allocate it anywhere; cs_core_init() fills it. Fields are
 * internal: read them (tests, checkers) but change them only through this API.
 */
struct cs_core
{
    struct cs_options options;
    uint32_t quorum; /* smallest q with 3q > 2n (minus one under CS_MUTATION_QUORUM_2F) */
    uint32_t skip;   /* smallest k with 3k > n */
    /* Round state of Algorithm 1 plus the double-sign guard; exactly what is persisted. */
    struct cs_persist state;
    /* "for the first time" guards of lines 34, 36 and 47, reset by StartRound. */
    bool prevote_timer_armed;
    bool prevote_quorum_done;
    bool precommit_timer_armed;
    uint32_t sender_round[CS_VALIDATORS_MAX]; /* highest round seen per sender, this height */
    bool sender_seen[CS_VALIDATORS_MAX];
    struct cs_round_slot *slots; /* CS_ROUND_SLOTS, allocated in cs_core_init */
    struct cs_update *update;    /* the update being filled during cs_step() */
    struct cs_stats stats;
    char errmsg[TB_ERRMSG_SIZE];
};

/* ---------------------------------------------------------------- helpers */

/* Smallest q with 3q > 2n (2f+1 for n = 3f+1). n >= 1. */
uint32_t cs_quorum(uint32_t n);

/* Smallest k with 3k > n (f+1 for n = 3f+1). n >= 1. */
uint32_t cs_skip_threshold(uint32_t n);

/* proposer(h, r) = (h + r) mod n. n >= 1. */
uint32_t cs_proposer(uint64_t height, uint32_t round, uint32_t n);

/* Duration of the timer for (round, step) under these options. */
uint64_t cs_timeout_ms(const struct cs_options *options, uint32_t round, enum cs_step step);

/* ------------------------------------------------------------------- API */

/*
 * Initialises core from options, allocating every byte it will ever use (via
 * tb_malloc). No height is running until START_HEIGHT or cs_core_restore().
 * Errors: TB_EINVAL (validators_max out of 1..CS_VALIDATORS_MAX, a timeout above
 * CS_TIMEOUT_MS_MAX, unknown mutation bits; errmsg says which), TB_ENOMEM.
 * On error nothing is left to release.
 */
TB_MUST_CHECK int cs_core_init(struct cs_core *core, const struct cs_options *options);

/* Frees what cs_core_init() allocated. Safe on a zeroed or already released core. */
void cs_core_release(struct cs_core *core);

/*
 * Rebuilds the round state of a freshly initialised core (no event stepped yet) from
 * the last durable persist record, and fills update with what resuming needs: the
 * timer of the current step and, for the proposer still in the propose step who has
 * not signed a proposal, the proposal of validValue or a need-block request.
 * Messages this node had received are not persisted: the driver re-gossips.
 * Errors: TB_EINVAL (an inconsistent record, e.g. locked_round > round, a count above
 * validators_max, a last-signed message beyond the current step), TB_ESTATE (the core
 * was already stepped).
 */
TB_MUST_CHECK int cs_core_restore(struct cs_core *core, const struct cs_persist *persisted,
                                  struct cs_update *update);

/*
 * Feeds one event. update is overwritten (flags 0 when nothing is asked) and borrowed
 * until the next call on this core. Returns TB_OK also when the event was ignored as
 * stale, duplicate, out of window or late (counted in core->stats); TB_EINVAL for
 * malformed input (unknown event type, sender index >= n, round >= CS_ROUND_MAX,
 * signature too long, START_HEIGHT not above the current height) with errmsg set and
 * update empty. Never asserts on input: the simulator and a fuzz target throw garbage.
 * Messages for a future height are dropped: the driver holds them until it starts
 * that height.
 */
TB_MUST_CHECK int cs_step(struct cs_core *core, const struct cs_event *event,
                          struct cs_update *update);

/* Copies the current persistable state (for checkers and tests). */
void cs_core_state(const struct cs_core *core, struct cs_persist *out);

#ifdef __cplusplus
}
#endif
#endif
