/*
 * Small deterministic helpers of the consensus simulator: the event queue (a binary heap keyed by
 * (time, sequence) so that equal times still pop in one fixed order), the trace hash, the keyed
 * MAC the simulated validators "sign" with, and the log of every signature an honest validator
 * ever made (for the double-sign checker).
 *
 * Nothing here reads a clock or an unseeded random source: one seed must give one run.
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- trace hash: FNV-1a 64 over the fields of every processed event ---- */
struct sim_trace
{
    uint64_t hash;
};

void sim_trace_init(struct sim_trace *trace);
void sim_trace_u64(struct sim_trace *trace, uint64_t value);
void sim_trace_bytes(struct sim_trace *trace, const void *data, size_t len);

/* A 64-bit mix of a few words (splitmix64 finaliser over a running state). */
uint64_t sim_mix64(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/*
 * The simulated signature: a keyed MAC over the message fields. Keys are per validator and
 * secret to the simulator, so a Byzantine process can only sign as its own index.
 */
#define SIM_SIG_BYTES 16
void sim_mac(uint64_t key, const void *data, size_t len, uint8_t out[SIM_SIG_BYTES]);

/* ---- event queue ---- */
struct sim_heap
{
    void *items;      /* item_size bytes each; the first two uint64_t are (time_ms, seq) */
    size_t item_size; /* multiple of 8 */
    size_t count;
    size_t capacity;
    size_t capacity_max;
    uint64_t seq_next;
};

/* Item layout contract: every heap item starts with this header. */
struct sim_heap_key
{
    uint64_t time_ms;
    uint64_t seq; /* assigned by sim_heap_push */
};

int sim_heap_init(struct sim_heap *heap, size_t item_size, size_t capacity_max);
void sim_heap_release(struct sim_heap *heap);
void sim_heap_clear(struct sim_heap *heap);
/* Copies item in (its seq is overwritten); TB_ELIMIT when capacity_max items are queued. */
int sim_heap_push(struct sim_heap *heap, void *item);
/* Copies the earliest item out; false when empty. */
bool sim_heap_pop(struct sim_heap *heap, void *out);

/* ---- signature log: (validator, height, round, type) -> value, grows as needed ---- */
struct sim_sign_entry
{
    uint64_t height;
    uint32_t round;
    uint16_t validator;
    uint8_t type;
    uint8_t used;
    uint8_t value[32]; /* the signed block id, all zero with is_nil */
    uint8_t is_nil;
    uint8_t pad[7];
};

struct sim_sign_log
{
    struct sim_sign_entry *slots;
    size_t capacity; /* power of two */
    size_t count;
};

int sim_sign_log_init(struct sim_sign_log *log, size_t capacity);
void sim_sign_log_release(struct sim_sign_log *log);
void sim_sign_log_clear(struct sim_sign_log *log);
/*
 * Records that validator signed (height, round, type) for value (NULL for nil). Returns 0 when
 * new or equal to what was recorded before, 1 when it conflicts (a double sign; *previous then
 * points at the earlier entry), or a negative TB_E* code when out of memory.
 */
int sim_sign_log_add(struct sim_sign_log *log, uint16_t validator, uint64_t height, uint32_t round,
                     uint8_t type, const uint8_t *value, const struct sim_sign_entry **previous);

/* ---- prevote signers: (height, round, block id) -> set of validators that signed it ---- */
struct sim_pol_entry
{
    uint64_t height;
    uint32_t round;
    uint32_t signers; /* bit per validator index (< 32) */
    uint8_t used;
    uint8_t pad[7];
    uint8_t id[32];
};

struct sim_pol_set
{
    struct sim_pol_entry *slots;
    size_t capacity; /* power of two */
    size_t count;
};

int sim_pol_set_init(struct sim_pol_set *set, size_t capacity);
void sim_pol_set_release(struct sim_pol_set *set);
/* Records that validator (< 32) signed a prevote for id at (height, round); TB_ENOMEM. */
int sim_pol_set_add(struct sim_pol_set *set, uint64_t height, uint32_t round, const uint8_t id[32],
                    uint32_t validator);
/* How many distinct validators signed a prevote for id at (height, round). */
uint32_t sim_pol_set_count(const struct sim_pol_set *set, uint64_t height, uint32_t round,
                           const uint8_t id[32]);

/*
 * Property tests of the heap (against a naive minimum scan) and of the signature log (against a
 * naive list), seeded; prints what differs and returns -1 on the first mismatch, 0 when all pass.
 */
int sim_util_self_test(uint64_t seed);
#endif
