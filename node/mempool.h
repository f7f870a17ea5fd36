/*
 * node/mempool.h: the in-memory set of admitted, not yet committed txs, in arrival order.
 * The durable copy is the store's `pending` database; this is the index the proposer and
 * the dedupe path read. Bounded by count and bytes. Not thread-safe (the loop owns it).
 */
#ifndef NODE_MEMPOOL_H
#define NODE_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_err.h"
#include "wire.h"

struct mempool_entry
{
    uint8_t id[WIRE_HASH_BYTES];
    uint8_t kind;
    bool used;
    uint64_t seq; /* arrival order */
    uint8_t *envelope;
    size_t len;
};

struct mempool
{
    struct mempool_entry *slots; /* open addressing, linear probing, capacity a power of 2 */
    size_t capacity;
    size_t count;
    size_t bytes;
    size_t count_max;
    size_t bytes_max;
    uint64_t next_seq;
};

/* count_max >= 1; the table is sized once (2 * count_max rounded up). TB_EINVAL, TB_ENOMEM. */
TB_MUST_CHECK int mempool_init(struct mempool *mp, size_t count_max, size_t bytes_max);
void mempool_release(struct mempool *mp);

/* Copies the envelope. TB_EEXIST (same id present: nothing changes), TB_ELIMIT (full),
 * TB_EINVAL (empty or oversized envelope), TB_ENOMEM. */
TB_MUST_CHECK int mempool_add(struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES], uint8_t kind,
                              struct tb_bytes envelope);
bool mempool_has(const struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES]);
/* Removes the tx if present; returns whether it was. */
bool mempool_remove(struct mempool *mp, const uint8_t id[WIRE_HASH_BYTES]);

/*
 * The oldest min(count, max) txs in arrival order: views (valid until the next add/remove)
 * into out[], and their ids into ids[] when ids != NULL. Returns how many. order[] is
 * scratch of `count` pointers the caller provides (mp->count entries at least).
 */
size_t mempool_oldest(const struct mempool *mp, const struct mempool_entry **order,
                      struct tb_bytes *out, uint8_t (*ids)[WIRE_HASH_BYTES], size_t max);

#endif
