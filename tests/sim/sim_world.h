/*
 * Internal state of one simulated run, shared by sim_run.c (event loop, network, faults),
 * sim_node.c (the per-process driver around a consensus core) and sim_check.c (checkers).
 *
 * Everything a run touches lives here, reset per seed, so that runs never leak state into one
 * another; nothing here may depend on the wall clock or on pointer values.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include "sim.h"

enum sim_ev_kind {
    SIM_EV_DELIVER = 1,
    SIM_EV_TIMER,
    SIM_EV_BLOCK_READY,
    SIM_EV_CRASH,
    SIM_EV_RESTART,
    SIM_EV_PERIOD,
    SIM_EV_CRASH_TICK,
    SIM_EV_GOSSIP,
    SIM_EV_FLUSH,
    SIM_EV_GARBAGE,
    SIM_EV_HEAL,
};

enum sim_msg_kind {
    SIM_MSG_PROPOSAL = 1,
    SIM_MSG_VOTE,
    SIM_MSG_STATUS, /* "I run height h": a peer that committed h answers with SYNC */
    SIM_MSG_SYNC,   /* "block h is in my store": the receiver reads and checks its certificate */
};

/* A message on the simulated wire. Signed fields are packed by sim_msg_sign(). */
struct sim_msg
{
    uint8_t kind;
    uint8_t vote_type; /* CS_MSG_PREVOTE or CS_MSG_PRECOMMIT */
    uint8_t is_nil;
    uint8_t garbage; /* made up by a garbage process: the core may reject it */
    uint8_t raw;     /* handed to the core without the signature check (index >= n) */
    uint8_t pad[3];
    uint32_t from; /* claimed validator index */
    uint32_t src;  /* sending process; the network authenticates it */
    uint32_t round;
    uint32_t pol_round;
    uint64_t height;
    struct cs_block_id id;
    uint8_t sig[SIM_SIG_BYTES];
};

struct sim_ev
{
    uint64_t time_ms; /* heap key, then seq */
    uint64_t seq;
    uint32_t kind;
    uint32_t proc;
    uint32_t incarnation;
    uint32_t pad;
    union {
        struct sim_msg msg;
        struct cs_timeout timer;
        struct cs_need_block block;
    };
};

/* One committed block in a process's durable block store. */
struct sim_block
{
    bool present;
    uint32_t round;
    struct cs_block_id id;
    uint32_t signer_count;
    uint32_t signer_index[SIM_NODES_MAX];
    uint8_t sig[SIM_NODES_MAX][SIM_SIG_BYTES];
};

struct sim_proc
{
    uint32_t id;    /* process number */
    uint32_t index; /* validator index it signs as */
    enum sim_byz byz;
    bool up;
    uint32_t incarnation; /* bumped by a crash: stale timers and flushes are ignored */
    int32_t skew_pct;     /* its clock runs at (100 + skew_pct)% of simulated time */
    uint64_t clock_offset_ms;
    struct cs_core core;
    struct cs_update update;
    struct cs_persist before; /* the core's state before the step being applied */
    /* Durable: survives a crash. */
    bool has_persist;
    struct cs_persist persist;
    uint64_t committed;       /* highest height in the block store */
    struct sim_block *blocks; /* [SIM_HEIGHTS_MAX + 1] */
    /* Volatile: lost by a crash. */
    bool has_pending; /* send-before-persist: the record not yet durable */
    struct cs_persist pending;
    uint64_t height; /* the height the core runs */
    uint32_t outbox_count;
    struct sim_msg outbox[SIM_OUTBOX_MAX]; /* signed at this height, for re-gossip */
    uint32_t held_count;
    struct sim_msg held[SIM_HELD_MAX]; /* for height + 1 */
    uint32_t relay_count;
    struct sim_msg relay[SIM_RELAY_MAX]; /* others' votes at this height */
    uint64_t progress;
    uint64_t progress_seen;
    uint64_t height_start_ms; /* when it started this height: slow heights relay */
};

struct sim_decided
{
    bool set;
    uint32_t proc;
    struct cs_block_id id;
};

struct sim_world
{
    const struct sim_config *config;
    struct sim_result *result;
    struct sim_mix mix;
    uint32_t loss_pct;
    struct t_rng rng;
    uint32_t n;
    uint32_t f;
    uint32_t quorum; /* the true quorum, whatever the mutation */
    uint32_t proc_count;
    struct sim_proc *procs[SIM_PROCS_MAX];
    enum sim_byz byz_of[SIM_NODES_MAX];
    uint64_t keys[SIM_NODES_MAX];
    uint64_t block_key;
    struct cs_options options;
    uint64_t now_ms;
    bool healed;
    bool done;
    uint64_t heal_ms;
    uint64_t target;
    uint64_t deadline_ms;
    bool blocked[SIM_PROCS_MAX][SIM_PROCS_MAX]; /* from -> to dropped */
    uint64_t clog_until_ms[SIM_PROCS_MAX][SIM_PROCS_MAX];
    struct sim_heap heap;
    struct sim_sign_log signs;
    struct sim_pol_set pols; /* every non-nil prevote anyone signed */
    struct sim_decided decided[SIM_HEIGHTS_MAX + 1];
    struct sim_trace trace;
};

/* sim_run.c: the queue and the network. */
void sim_push(struct sim_world *w, struct sim_ev *ev);
void sim_net_send(struct sim_world *w, uint32_t src, uint32_t dst, const struct sim_msg *msg);
uint64_t sim_rand(struct sim_world *w, uint64_t bound);
void sim_violation(struct sim_world *w, const char *fmt, ...) TB_PRINTF(2, 3);

/* sim_node.c: the driver. */
int sim_proc_setup(struct sim_world *w, struct sim_proc *p);
void sim_proc_on_event(struct sim_world *w, struct sim_proc *p, const struct sim_ev *ev);
void sim_proc_crash(struct sim_world *w, struct sim_proc *p);
void sim_proc_restart(struct sim_world *w, struct sim_proc *p);
void sim_block_id_make(const struct sim_world *w, uint64_t height, uint32_t round, uint32_t proc,
                       uint8_t salt, struct cs_block_id *out);
bool sim_block_id_valid(const struct sim_world *w, uint64_t height, const struct cs_block_id *id);
void sim_msg_sign(struct sim_world *w, struct sim_msg *msg);
bool sim_msg_verify(const struct sim_world *w, const struct sim_msg *msg);

/* sim_check.c: the checkers. */
void sim_check_signed(struct sim_world *w, const struct sim_proc *p, const struct sim_msg *msg);
void sim_check_commit(struct sim_world *w, const struct sim_proc *p, uint64_t height,
                      const struct sim_block *block);
void sim_check_evidence(struct sim_world *w, const struct sim_proc *p,
                        const struct cs_evidence *evidence);
void sim_check_liveness(struct sim_world *w);
bool sim_proc_honest(const struct sim_world *w, const struct sim_proc *p);

#endif
