/*
 * In-memory node store for the status tree: nodes live in fixed-size chunks (so growth
 * never copies them), and an open-addressing table with linear probing maps a node hash
 * to its index. Slots keep 32 bits of the hash as a tag, so a probe rarely touches a
 * node it does not want. Only grows: the tree's nodes are immutable and old roots must
 * stay provable. For tests, the bench and tools; the node keeps its tree in LMDB.
 *
 * Must never: hold two copies of a node, or lose one on an allocation failure (a
 * failed put leaves the store as it was).
 */
#include <string.h>

#include "cr_smt.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define SMT_MEM_CHUNK_NODES 65536
#define SMT_MEM_SLOTS_MIN 1024
#define SMT_MEM_INDEX_MAX (UINT64_C(0xffffffff) - 1)

struct cr_smt_mem_entry
{
    uint8_t hash[CR_HASH_BYTES];
    struct cr_smt_node node;
};

static uint64_t smt_mem_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t smt_mem_tag(const uint8_t hash[CR_HASH_BYTES])
{
    uint32_t tag;
    memcpy(&tag, hash + 8, sizeof(tag));
    return tag;
}

static struct cr_smt_mem_entry *smt_mem_entry(const struct cr_smt_mem *mem, size_t index)
{
    TB_ASSERT(index < mem->node_count);
    return &mem->chunks[index / SMT_MEM_CHUNK_NODES][index % SMT_MEM_CHUNK_NODES];
}

/* The slot holding hash, or the empty slot where it would go. */
static size_t smt_mem_find(const struct cr_smt_mem *mem, const uint8_t hash[CR_HASH_BYTES])
{
    size_t mask = mem->slot_count - 1;
    size_t pos = (size_t)smt_mem_load64(hash) & mask;
    uint64_t tag = smt_mem_tag(hash);
    TB_ASSERT(mem->slot_count > mem->node_count); /* an empty slot ends every probe */
    for (;;) {
        uint64_t slot = mem->slots[pos];
        if (slot == 0) {
            return pos;
        }
        if ((slot & 0xffffffffu) == tag) {
            size_t index = (size_t)(slot >> 32) - 1;
            if (memcmp(smt_mem_entry(mem, index)->hash, hash, CR_HASH_BYTES) == 0) {
                return pos;
            }
        }
        pos = (pos + 1) & mask;
    }
}

static int smt_mem_get(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                       struct cr_smt_node *out, char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    uint64_t slot = mem->slot_count == 0 ? 0 : mem->slots[smt_mem_find(mem, hash)];
    if (slot == 0) {
        return tb_fail(errmsg, TB_ENOTFOUND, "no such node");
    }
    size_t index = (size_t)(slot >> 32) - 1;
    *out = smt_mem_entry(mem, index)->node;
    return TB_OK;
}

/* Doubles the slot table (or creates it) and re-inserts every node. */
static int smt_mem_rehash(struct cr_smt_mem *mem, char *errmsg)
{
    size_t count = mem->slot_count == 0 ? SMT_MEM_SLOTS_MIN : mem->slot_count * 2;
    uint64_t *slots = tb_calloc(count, sizeof(*slots));
    if (slots == NULL) {
        return tb_fail(errmsg, TB_ENOMEM, "status node table of %zu slots", count);
    }
    tb_free(mem->slots);
    mem->slots = slots;
    mem->slot_count = count;
    for (size_t i = 0; i < mem->node_count; i++) {
        const uint8_t *hash = smt_mem_entry(mem, i)->hash;
        size_t pos = smt_mem_find(mem, hash);
        TB_ASSERT(mem->slots[pos] == 0); /* nodes are distinct */
        mem->slots[pos] = ((uint64_t)(i + 1) << 32) | smt_mem_tag(hash);
    }
    return TB_OK;
}

/* Makes room for one more node: a chunk when the last is full, slots past 3/4 load. */
static int smt_mem_reserve(struct cr_smt_mem *mem, char *errmsg)
{
    size_t n = mem->node_count;
    if (n >= SMT_MEM_INDEX_MAX) {
        return tb_fail(errmsg, TB_ENOSPC, "status node table full");
    }
    if (n == mem->chunk_count * SMT_MEM_CHUNK_NODES) {
        struct cr_smt_mem_entry **chunks =
            tb_realloc(mem->chunks, (mem->chunk_count + 1) * sizeof(*chunks));
        if (chunks == NULL) {
            return tb_fail(errmsg, TB_ENOMEM, "status node chunk list");
        }
        mem->chunks = chunks;
        chunks[mem->chunk_count] = tb_malloc(SMT_MEM_CHUNK_NODES * sizeof(**chunks));
        if (chunks[mem->chunk_count] == NULL) {
            return tb_fail(errmsg, TB_ENOMEM, "status node chunk");
        }
        mem->chunk_count++;
    }
    if (mem->slot_count == 0 || (n + 1) * 4 > mem->slot_count * 3) {
        return smt_mem_rehash(mem, errmsg);
    }
    return TB_OK;
}

static int smt_mem_put(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES],
                       const struct cr_smt_node *node, char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    TB_ASSERT(node->kind == CR_SMT_NODE_LEAF || node->kind == CR_SMT_NODE_INNER);
    size_t pos = 0;
    if (mem->slot_count > 0) {
        pos = smt_mem_find(mem, hash);
        if (mem->slots[pos] != 0) {
            return TB_OK; /* content-addressed: the same hash is the same node */
        }
    }
    size_t slot_count = mem->slot_count;
    int rv = smt_mem_reserve(mem, errmsg);
    if (rv != TB_OK) {
        return rv;
    }
    size_t index = mem->node_count++;
    struct cr_smt_mem_entry *entry = smt_mem_entry(mem, index);
    memcpy(entry->hash, hash, CR_HASH_BYTES);
    entry->node = *node;
    if (mem->slot_count != slot_count) {
        pos = smt_mem_find(mem, hash); /* the table was rebuilt */
    }
    TB_ASSERT(mem->slots[pos] == 0);
    mem->slots[pos] = ((uint64_t)(index + 1) << 32) | smt_mem_tag(hash);
    return TB_OK;
}

void cr_smt_mem_init(struct cr_smt_mem *mem)
{
    memset(mem, 0, sizeof(*mem));
}

void cr_smt_mem_release(struct cr_smt_mem *mem)
{
    for (size_t i = 0; i < mem->chunk_count; i++) {
        tb_free(mem->chunks[i]);
    }
    tb_free(mem->chunks);
    tb_free(mem->slots);
    memset(mem, 0, sizeof(*mem));
}

struct cr_smt_store cr_smt_mem_store(struct cr_smt_mem *mem)
{
    struct cr_smt_store store = {mem, smt_mem_get, smt_mem_put};
    TB_ASSERT(mem != NULL);
    return store;
}

size_t cr_smt_mem_bytes(const struct cr_smt_mem *mem)
{
    return mem->chunk_count *
               (SMT_MEM_CHUNK_NODES * sizeof(struct cr_smt_mem_entry) + sizeof(*mem->chunks)) +
           mem->slot_count * sizeof(*mem->slots);
}
