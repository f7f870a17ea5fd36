/*
 * The deterministic consensus simulator (tongban-sim): n real consensus cores (consensus/) over a
 * seeded in-memory network, a virtual clock and an in-memory durable store per process.
 *
 * One seed fixes every fault and every choice, so one seed gives one run and one trace hash. The
 * simulator never reads the wall clock inside a run (only main.c does, for the seeds/s figure),
 * never uses an unseeded random source, and never lets a Byzantine process sign as another index.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus.h"
#include "sim_util.h"
#include "t_util.h"

#define SIM_NODES_MAX 16u /* validators in one run */
#define SIM_PROCS_MAX 24u /* processes: validators plus twins */
#define SIM_OUTBOX_MAX 48u
#define SIM_HELD_MAX 96u   /* messages held for the next height per process */
#define SIM_RELAY_MAX 128u /* others' votes kept for relaying per process */
#define SIM_HEIGHTS_MAX 1024u
#define SIM_VIOLATION_SIZE 512

enum sim_mutation {
    SIM_MUT_NONE = 0,
    SIM_MUT_QUORUM_2F,
    SIM_MUT_IGNORE_LOCK,
    SIM_MUT_SEND_BEFORE_PERSIST,
};

/* Byzantine behaviour of a validator index (all of its processes). */
enum sim_byz {
    SIM_BYZ_NONE = 0,
    SIM_BYZ_TWIN,    /* two honest cores with one index, each with its own store */
    SIM_BYZ_EQUIV,   /* equivocating proposer and voter around an honest core */
    SIM_BYZ_GARBAGE, /* an honest core plus random, absurd and forged messages */
};

enum sim_part_mode {
    SIM_PART_NONE = 0,
    SIM_PART_ISOLATE,    /* one process cut off both ways */
    SIM_PART_HALVES,     /* random halves */
    SIM_PART_ASYMMETRIC, /* one process hears but is not heard, or the reverse */
    SIM_PART_ROTATING,   /* a fresh random one of the above every period */
};

/* A fault mix: the knobs of one run's chaos phase, drawn from the seed. */
struct sim_mix
{
    const char *name;
    uint32_t loss_pct_max; /* loss drawn in [1, max] when > 0 */
    uint32_t dup_pct;
    uint32_t delay_ms_min;
    uint32_t delay_ms_max; /* jitter reorders messages */
    uint32_t clog_pct;     /* chance per period that a link clogs for the period */
    enum sim_part_mode partition;
    uint32_t crash_pct;      /* chance per crash tick that one process crashes */
    uint32_t crash_sign_pct; /* chance that a process crashes right after signing */
    uint32_t skew_pct;       /* clock rate skew bound, percent */
    uint32_t twins;          /* Byzantine validators of each kind (capped at f in total) */
    uint32_t equivocators;
    uint32_t garbage;
};

struct sim_config
{
    uint32_t nodes;
    uint64_t seed;
    uint32_t heights; /* K: heights every honest process must commit after healing */
    enum sim_mutation mutation;
    int mix_forced; /* index into the mix table, or -1 to draw from the seed */
    bool verbose;
    int trace_proc; /* --trace-proc P: print every step of process P (-1: none) */
};

struct sim_result
{
    bool violation;
    char what[SIM_VIOLATION_SIZE];
    uint64_t trace_hash;
    uint32_t mix;
    uint64_t sim_ms;     /* simulated time of the run */
    uint64_t heights;    /* highest height committed by an honest process */
    uint64_t decisions;  /* honest core decisions (not block sync) */
    uint64_t rounds_sum; /* sum over those decisions of (round + 1) */
    uint64_t events;
    uint64_t evidence;
    uint64_t recover_ms; /* from healing to the last honest process reaching the target */
};

/* The mix table (sim_run.c). */
extern const struct sim_mix sim_mixes[];
extern const uint32_t sim_mix_count;

const char *sim_mutation_name(enum sim_mutation mutation);

/* Runs one seed; fills result. Returns a negative TB_E* code only on a harness failure (OOM). */
int sim_run(const struct sim_config *config, struct sim_result *result);

#endif
