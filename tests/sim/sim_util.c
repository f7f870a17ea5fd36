/*
 * Deterministic helpers of the simulator: trace hash, keyed MAC, event heap, signature log.
 * Must never read a clock or an unseeded random source, and never depend on pointer values.
 */
#include "sim_util.h"

#include <stdio.h>
#include <string.h>

#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_err.h"

#define SIM_FNV_OFFSET 0xcbf29ce484222325ULL
#define SIM_FNV_PRIME 0x100000001b3ULL

void sim_trace_init(struct sim_trace *trace)
{
    trace->hash = SIM_FNV_OFFSET;
}

void sim_trace_bytes(struct sim_trace *trace, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = trace->hash;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= SIM_FNV_PRIME;
    }
    trace->hash = h;
}

void sim_trace_u64(struct sim_trace *trace, uint64_t value)
{
    uint8_t b[8];
    /* Little-endian bytes so that the hash does not depend on the host's byte order. */
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(value >> (8 * i));
    sim_trace_bytes(trace, b, sizeof(b));
}

static uint64_t sim_splitmix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sim_mix64(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = sim_splitmix(a);
    h = sim_splitmix(h ^ b);
    h = sim_splitmix(h ^ c);
    return sim_splitmix(h ^ d);
}

void sim_mac(uint64_t key, const void *data, size_t len, uint8_t out[SIM_SIG_BYTES])
{
    /* Two FNV lanes seeded by the key, each finalised with splitmix: not cryptographic, but no
     * process in the simulator can compute it without the key, which is all the model needs. */
    struct sim_trace lane_a = {SIM_FNV_OFFSET ^ sim_splitmix(key)};
    struct sim_trace lane_b = {SIM_FNV_OFFSET ^ sim_splitmix(~key)};
    sim_trace_bytes(&lane_a, data, len);
    sim_trace_bytes(&lane_b, data, len);
    uint64_t a = sim_splitmix(lane_a.hash ^ key);
    uint64_t b = sim_splitmix(lane_b.hash + key);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

/* ---- heap ---- */

int sim_heap_init(struct sim_heap *heap, size_t item_size, size_t capacity_max)
{
    TB_ASSERT(item_size >= sizeof(struct sim_heap_key));
    TB_ASSERT(item_size % 8 == 0);
    memset(heap, 0, sizeof(*heap));
    heap->item_size = item_size;
    heap->capacity = 1024;
    heap->capacity_max = capacity_max;
    heap->items = tb_calloc(heap->capacity, item_size);
    if (heap->items == NULL)
        return TB_ENOMEM;
    return TB_OK;
}

void sim_heap_release(struct sim_heap *heap)
{
    tb_free(heap->items);
    memset(heap, 0, sizeof(*heap));
}

void sim_heap_clear(struct sim_heap *heap)
{
    heap->count = 0;
    heap->seq_next = 0;
}

static struct sim_heap_key *sim_heap_at(struct sim_heap *heap, size_t i)
{
    TB_ASSERT(i < heap->capacity);
    return (struct sim_heap_key *)((uint8_t *)heap->items + i * heap->item_size);
}

static bool sim_heap_less(const struct sim_heap_key *a, const struct sim_heap_key *b)
{
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms;
    return a->seq < b->seq;
}

static void sim_heap_swap(struct sim_heap *heap, size_t i, size_t j)
{
    uint8_t tmp[512];
    TB_ASSERT(heap->item_size <= sizeof(tmp));
    memcpy(tmp, sim_heap_at(heap, i), heap->item_size);
    memcpy(sim_heap_at(heap, i), sim_heap_at(heap, j), heap->item_size);
    memcpy(sim_heap_at(heap, j), tmp, heap->item_size);
}

int sim_heap_push(struct sim_heap *heap, void *item)
{
    TB_ASSERT(heap->count <= heap->capacity);
    if (heap->count == heap->capacity_max)
        return TB_ELIMIT;
    if (heap->count == heap->capacity) {
        size_t grown = heap->capacity * 2;
        if (grown > heap->capacity_max)
            grown = heap->capacity_max;
        void *items = tb_realloc(heap->items, grown * heap->item_size);
        if (items == NULL)
            return TB_ENOMEM;
        heap->items = items;
        heap->capacity = grown;
    }
    ((struct sim_heap_key *)item)->seq = heap->seq_next++;
    size_t i = heap->count++;
    memcpy(sim_heap_at(heap, i), item, heap->item_size);
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sim_heap_less(sim_heap_at(heap, i), sim_heap_at(heap, parent)))
            break;
        sim_heap_swap(heap, i, parent);
        i = parent;
    }
    return TB_OK;
}

bool sim_heap_pop(struct sim_heap *heap, void *out)
{
    if (heap->count == 0)
        return false;
    memcpy(out, sim_heap_at(heap, 0), heap->item_size);
    heap->count--;
    if (heap->count == 0)
        return true;
    memcpy(sim_heap_at(heap, 0), sim_heap_at(heap, heap->count), heap->item_size);
    size_t i = 0;
    for (;;) {
        size_t left = 2 * i + 1;
        size_t right = left + 1;
        size_t least = i;
        if (left < heap->count && sim_heap_less(sim_heap_at(heap, left), sim_heap_at(heap, least)))
            least = left;
        if (right < heap->count &&
            sim_heap_less(sim_heap_at(heap, right), sim_heap_at(heap, least)))
            least = right;
        if (least == i)
            break;
        sim_heap_swap(heap, i, least);
        i = least;
    }
    TB_ASSERT(!sim_heap_less(sim_heap_at(heap, 0), (struct sim_heap_key *)out));
    return true;
}

/* ---- signature log ---- */

int sim_sign_log_init(struct sim_sign_log *log, size_t capacity)
{
    TB_ASSERT(capacity >= 16);
    TB_ASSERT((capacity & (capacity - 1)) == 0);
    log->slots = tb_calloc(capacity, sizeof(*log->slots));
    if (log->slots == NULL)
        return TB_ENOMEM;
    log->capacity = capacity;
    log->count = 0;
    return TB_OK;
}

void sim_sign_log_release(struct sim_sign_log *log)
{
    tb_free(log->slots);
    memset(log, 0, sizeof(*log));
}

void sim_sign_log_clear(struct sim_sign_log *log)
{
    memset(log->slots, 0, log->capacity * sizeof(*log->slots));
    log->count = 0;
}

static size_t sim_sign_slot(const struct sim_sign_log *log, uint16_t validator, uint64_t height,
                            uint32_t round, uint8_t type)
{
    size_t mask = log->capacity - 1;
    size_t i = (size_t)sim_mix64(validator, height, round, type) & mask;
    for (;;) {
        const struct sim_sign_entry *e = &log->slots[i];
        if (!e->used)
            return i;
        if (e->validator == validator && e->height == height && e->round == round &&
            e->type == type)
            return i;
        i = (i + 1) & mask;
    }
}

static int sim_sign_log_grow(struct sim_sign_log *log)
{
    struct sim_sign_log bigger;
    int rv = sim_sign_log_init(&bigger, log->capacity * 2);
    if (rv != TB_OK)
        return rv;
    for (size_t i = 0; i < log->capacity; i++) {
        const struct sim_sign_entry *e = &log->slots[i];
        if (!e->used)
            continue;
        size_t j = sim_sign_slot(&bigger, e->validator, e->height, e->round, e->type);
        TB_ASSERT(!bigger.slots[j].used);
        bigger.slots[j] = *e;
        bigger.count++;
    }
    TB_ASSERT(bigger.count == log->count);
    sim_sign_log_release(log);
    *log = bigger;
    return TB_OK;
}

int sim_sign_log_add(struct sim_sign_log *log, uint16_t validator, uint64_t height, uint32_t round,
                     uint8_t type, const uint8_t *value, const struct sim_sign_entry **previous)
{
    if (2 * (log->count + 1) > log->capacity) {
        int rv = sim_sign_log_grow(log);
        if (rv != TB_OK)
            return rv;
    }
    size_t i = sim_sign_slot(log, validator, height, round, type);
    struct sim_sign_entry *e = &log->slots[i];
    uint8_t is_nil = value == NULL ? 1 : 0;
    if (e->used) {
        bool same = e->is_nil == is_nil && (is_nil || memcmp(e->value, value, 32) == 0);
        if (same)
            return 0;
        *previous = e;
        return 1;
    }
    e->used = 1;
    e->validator = validator;
    e->height = height;
    e->round = round;
    e->type = type;
    e->is_nil = is_nil;
    if (value != NULL)
        memcpy(e->value, value, 32);
    log->count++;
    TB_ASSERT(2 * log->count <= log->capacity);
    return 0;
}

/* ---- prevote signers ---- */

int sim_pol_set_init(struct sim_pol_set *set, size_t capacity)
{
    TB_ASSERT(capacity >= 16);
    TB_ASSERT((capacity & (capacity - 1)) == 0);
    set->slots = tb_calloc(capacity, sizeof(*set->slots));
    if (set->slots == NULL)
        return TB_ENOMEM;
    set->capacity = capacity;
    set->count = 0;
    return TB_OK;
}

void sim_pol_set_release(struct sim_pol_set *set)
{
    tb_free(set->slots);
    memset(set, 0, sizeof(*set));
}

static size_t sim_pol_slot(const struct sim_pol_set *set, uint64_t height, uint32_t round,
                           const uint8_t id[32])
{
    uint64_t id_word = 0;
    memcpy(&id_word, &id[16], sizeof(id_word));
    size_t mask = set->capacity - 1;
    size_t i = (size_t)sim_mix64(height, round, id_word, 0x9011) & mask;
    for (;;) {
        const struct sim_pol_entry *e = &set->slots[i];
        if (!e->used)
            return i;
        if (e->height == height && e->round == round && memcmp(e->id, id, 32) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static int sim_pol_set_grow(struct sim_pol_set *set)
{
    struct sim_pol_set bigger;
    int rv = sim_pol_set_init(&bigger, set->capacity * 2);
    if (rv != TB_OK)
        return rv;
    for (size_t i = 0; i < set->capacity; i++) {
        const struct sim_pol_entry *e = &set->slots[i];
        if (!e->used)
            continue;
        size_t j = sim_pol_slot(&bigger, e->height, e->round, e->id);
        TB_ASSERT(!bigger.slots[j].used);
        bigger.slots[j] = *e;
        bigger.count++;
    }
    TB_ASSERT(bigger.count == set->count);
    sim_pol_set_release(set);
    *set = bigger;
    return TB_OK;
}

int sim_pol_set_add(struct sim_pol_set *set, uint64_t height, uint32_t round, const uint8_t id[32],
                    uint32_t validator)
{
    TB_ASSERT(validator < 32);
    if (2 * (set->count + 1) > set->capacity) {
        int rv = sim_pol_set_grow(set);
        if (rv != TB_OK)
            return rv;
    }
    struct sim_pol_entry *e = &set->slots[sim_pol_slot(set, height, round, id)];
    if (!e->used) {
        e->used = 1;
        e->height = height;
        e->round = round;
        memcpy(e->id, id, 32);
        set->count++;
    }
    e->signers |= 1u << validator;
    TB_ASSERT(2 * set->count <= set->capacity);
    return TB_OK;
}

uint32_t sim_pol_set_count(const struct sim_pol_set *set, uint64_t height, uint32_t round,
                           const uint8_t id[32])
{
    const struct sim_pol_entry *e = &set->slots[sim_pol_slot(set, height, round, id)];
    if (!e->used)
        return 0;
    return (uint32_t)__builtin_popcount(e->signers);
}

/* ---- self test ---- */

struct sim_test_item
{
    uint64_t time_ms;
    uint64_t seq;
    uint64_t tag;
};

static uint64_t sim_test_next(uint64_t *state)
{
    *state = sim_mix64(*state, 0x5eed, 0, 0);
    return *state;
}

static int sim_heap_self_test(uint64_t seed)
{
    enum { N = 3000 };
    static struct sim_test_item naive[N];
    size_t naive_count = 0;
    struct sim_heap heap;
    if (sim_heap_init(&heap, sizeof(struct sim_test_item), N) != TB_OK)
        return -1;
    uint64_t state = seed;
    uint64_t seq = 0;
    int rv = 0;
    for (int step = 0; step < 4 * N && rv == 0; step++) {
        bool push = naive_count == 0 || (naive_count < N && sim_test_next(&state) % 3 != 0);
        if (push) {
            /* Few distinct times, so that ties (broken by sequence) are common. */
            struct sim_test_item item = {sim_test_next(&state) % 50, 0, (uint64_t)step};
            TB_ASSERT(sim_heap_push(&heap, &item) == TB_OK);
            item.seq = seq++;
            naive[naive_count++] = item;
            continue;
        }
        size_t best = 0;
        for (size_t i = 1; i < naive_count; i++) {
            if (naive[i].time_ms < naive[best].time_ms ||
                (naive[i].time_ms == naive[best].time_ms && naive[i].seq < naive[best].seq))
                best = i;
        }
        struct sim_test_item got = {0, 0, UINT64_MAX};
        if (!sim_heap_pop(&heap, &got) || got.tag != naive[best].tag) {
            fprintf(stderr, "heap self test: step %d popped tag %llu, expected %llu\n", step,
                    (unsigned long long)got.tag, (unsigned long long)naive[best].tag);
            rv = -1;
        }
        naive[best] = naive[--naive_count];
    }
    if (rv == 0 && heap.count != naive_count)
        rv = -1;
    if (rv == 0 && sim_heap_push(&heap, &(struct sim_test_item){0, 0, 0}) == TB_OK &&
        heap.count > N)
        rv = -1; /* capacity_max must hold */
    sim_heap_release(&heap);
    return rv;
}

static int sim_sign_log_self_test(uint64_t seed)
{
    enum { N = 5000 };
    static struct sim_sign_entry naive[N];
    size_t naive_count = 0;
    struct sim_sign_log log;
    if (sim_sign_log_init(&log, 16) != TB_OK)
        return -1;
    uint64_t state = seed;
    int rv = 0;
    for (int step = 0; step < N && rv == 0; step++) {
        struct sim_sign_entry e;
        memset(&e, 0, sizeof(e));
        e.validator = (uint16_t)(sim_test_next(&state) % 4);
        e.height = sim_test_next(&state) % 8;
        e.round = (uint32_t)(sim_test_next(&state) % 8);
        e.type = (uint8_t)(sim_test_next(&state) % 3);
        e.is_nil = sim_test_next(&state) % 4 == 0;
        if (!e.is_nil)
            e.value[0] = (uint8_t)(sim_test_next(&state) % 3);
        int expect = 0;
        bool found = false;
        for (size_t i = 0; i < naive_count && !found; i++) {
            const struct sim_sign_entry *o = &naive[i];
            if (o->validator == e.validator && o->height == e.height && o->round == e.round &&
                o->type == e.type) {
                found = true;
                expect = o->is_nil == e.is_nil && o->value[0] == e.value[0] ? 0 : 1;
            }
        }
        if (!found)
            naive[naive_count++] = e;
        const struct sim_sign_entry *previous = NULL;
        int got = sim_sign_log_add(&log, e.validator, e.height, e.round, e.type,
                                   e.is_nil ? NULL : e.value, &previous);
        if (got != expect || log.count != naive_count) {
            fprintf(stderr, "sign log self test: step %d got %d expected %d\n", step, got, expect);
            rv = -1;
        }
    }
    sim_sign_log_release(&log);
    return rv;
}

int sim_util_self_test(uint64_t seed)
{
    if (sim_heap_self_test(seed) != 0)
        return -1;
    if (sim_sign_log_self_test(seed) != 0)
        return -1;
    /* The MAC must depend on the key and on every byte. */
    uint8_t a[SIM_SIG_BYTES];
    uint8_t b[SIM_SIG_BYTES];
    uint8_t data[40] = {0};
    sim_mac(1, data, sizeof(data), a);
    sim_mac(2, data, sizeof(data), b);
    if (memcmp(a, b, sizeof(a)) == 0)
        return -1;
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] ^= 1;
        sim_mac(1, data, sizeof(data), b);
        data[i] ^= 1;
        if (memcmp(a, b, sizeof(a)) == 0)
            return -1;
    }
    return 0;
}
