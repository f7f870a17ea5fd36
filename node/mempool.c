/*
 * node/mempool.c: hash set of pending txs keyed by tx id (ids are hashes, so their first 8
 * bytes index the table), with an arrival sequence for ordering. Deletion shifts the probe
 * chain back (no tombstones), so lookups stay bounded by the load factor, at most 1/2.
 * Must never: hold two entries with one id, or exceed count_max / bytes_max.
 */
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define MEMPOOL_COUNT_LIMIT (1u << 22)

int mempool_init(struct mempool *mp, size_t count_max, size_t bytes_max)
{
    memset(mp, 0, sizeof(*mp));
    if (count_max < 1 || count_max > MEMPOOL_COUNT_LIMIT || bytes_max < WIRE_TX_BYTES_MAX)
        return TB_EINVAL;
    size_t cap = 16;
    while (cap < 2 * count_max)
        cap *= 2;
    mp->slots = tb_calloc(cap, sizeof(*mp->slots));
    if (mp->slots == NULL)
        return TB_ENOMEM;
    mp->capacity = cap;
    mp->count_max = count_max;
    mp->bytes_max = bytes_max;
    TB_ASSERT(mp->capacity >= 2 * mp->count_max);
    return TB_OK;
}

void mempool_release(struct mempool *mp)
{
    if (mp->slots != NULL) {
        for (size_t i = 0; i < mp->capacity; i++) {
            if (mp->slots[i].used)
                tb_free(mp->slots[i].envelope);
        }
        tb_free(mp->slots);
    }
    memset(mp, 0, sizeof(*mp));
}

static size_t mempool_home(const struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 8) | id[i];
    return (size_t)(h & (mp->capacity - 1));
}

/* The slot holding id, or the empty slot where it would go. */
static size_t mempool_find(const struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES])
{
    TB_ASSERT(mp->capacity > 0);
    size_t i = mempool_home(mp, id);
    for (size_t probes = 0; probes < mp->capacity; probes++) {
        const struct mempool_entry *e = &mp->slots[i];
        if (!e->used || memcmp(e->id, id, WIRE_HASH_BYTES) == 0)
            return i;
        i = (i + 1) & (mp->capacity - 1);
    }
    /* A full table: the load factor <= 1/2 makes this unreachable. */
    TB_UNREACHABLE();
}

bool mempool_has(const struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES])
{
    if (mp->capacity == 0)
        return false;
    return mp->slots[mempool_find(mp, id)].used;
}

int mempool_add(struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES], uint8_t kind,
                struct tb_bytes envelope)
{
    TB_ASSERT(mp->slots != NULL);
    if (envelope.len == 0 || envelope.len > WIRE_TX_BYTES_MAX)
        return TB_EINVAL;
    size_t i = mempool_find(mp, id);
    if (mp->slots[i].used)
        return TB_EEXIST;
    if (mp->count >= mp->count_max || envelope.len > mp->bytes_max - mp->bytes)
        return TB_ELIMIT;
    uint8_t *copy = tb_malloc(envelope.len);
    if (copy == NULL)
        return TB_ENOMEM;
    memcpy(copy, envelope.ptr, envelope.len);
    struct mempool_entry *e = &mp->slots[i];
    memcpy(e->id, id, WIRE_HASH_BYTES);
    e->kind = kind;
    e->used = true;
    e->seq = mp->next_seq++;
    e->envelope = copy;
    e->len = envelope.len;
    mp->count++;
    mp->bytes += envelope.len;
    TB_ASSERT(mp->count <= mp->count_max);
    TB_ASSERT(mp->bytes <= mp->bytes_max);
    return TB_OK;
}

bool mempool_remove(struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES])
{
    if (mp->capacity == 0)
        return false;
    size_t i = mempool_find(mp, id);
    if (!mp->slots[i].used)
        return false;
    TB_ASSERT(mp->count > 0);
    TB_ASSERT(mp->bytes >= mp->slots[i].len);
    mp->count--;
    mp->bytes -= mp->slots[i].len;
    tb_free(mp->slots[i].envelope);
    memset(&mp->slots[i], 0, sizeof(mp->slots[i]));
    /* Backward shift: move later chain members whose home is not in (i, j] into the hole. */
    size_t mask = mp->capacity - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; mp->slots[j].used; j = (j + 1) & mask) {
        size_t home = mempool_home(mp, mp->slots[j].id);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            mp->slots[hole] = mp->slots[j];
            memset(&mp->slots[j], 0, sizeof(mp->slots[j]));
            hole = j;
        }
    }
    return true;
}

static int mempool_seq_cmp(const void *a, const void *b)
{
    const struct mempool_entry *x = *(const struct mempool_entry *const *)a;
    const struct mempool_entry *y = *(const struct mempool_entry *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

size_t mempool_oldest(const struct mempool *mp, const struct mempool_entry **order,
                      struct tb_bytes *out, uint8_t (*ids)[WIRE_HASH_BYTES], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < mp->capacity; i++) {
        if (mp->slots[i].used)
            order[n++] = &mp->slots[i];
    }
    TB_ASSERT(n == mp->count);
    qsort(order, n, sizeof(order[0]), mempool_seq_cmp);
    size_t take = n < max ? n : max;
    for (size_t i = 0; i < take; i++) {
        out[i] = (struct tb_bytes){order[i]->envelope, order[i]->len};
        if (ids != NULL)
            memcpy(ids[i], order[i]->id, WIRE_HASH_BYTES);
    }
    return take;
}
