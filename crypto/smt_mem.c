/*
 * In-memory node store for the status tree: nodes live in fixed-size chunks (so growth
 * never copies them) and a node's location is its index + 1, so get is an array lookup.
 * An open-addressing table with linear probing maps root hashes (one per update) to
 * their locations. Only grows: the tree's nodes are immutable and old roots must stay
 * provable. For tests, the bench and tools; the node keeps its tree in LMDB.
 *
 * Must never: hand out a location twice or 0, move or lose a node on an allocation
 * failure (a failed put leaves the store as it was), or trust a location it is given.
 */
#include <string.h>

#include "cr_smt.h"
#include "tb_alloc.h"
#include "tb_assert.h"

#define SMT_MEM_CHUNK_NODES 65536
#define SMT_MEM_ROOTS_MIN 64

static struct cr_smt_node *smt_mem_node(const struct cr_smt_mem *mem, uint64_t loc)
{
    TB_ASSERT(loc >= 1 && loc <= mem->node_count);
    size_t index = (size_t)(loc - 1);
    return &mem->chunks[index / SMT_MEM_CHUNK_NODES][index % SMT_MEM_CHUNK_NODES];
}

static int smt_mem_get(void *impl, void *txn, uint64_t loc, struct cr_smt_node *out, char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    if (loc == 0 || loc > mem->node_count) {
        return tb_fail(errmsg, TB_ENOTFOUND, "no node at location %llu", (unsigned long long)loc);
    }
    *out = *smt_mem_node(mem, loc);
    return TB_OK;
}

static int smt_mem_put(void *impl, void *txn, const struct cr_smt_node *node, uint64_t *loc,
                       char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    TB_ASSERT(node->kind == CR_SMT_NODE_LEAF || node->kind == CR_SMT_NODE_INNER);
    size_t n = mem->node_count;
    if (n >= SIZE_MAX / 2) {
        return tb_fail(errmsg, TB_ENOSPC, "status node store full");
    }
    if (n == mem->chunk_count * SMT_MEM_CHUNK_NODES) {
        struct cr_smt_node **chunks =
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
    mem->node_count = n + 1;
    *smt_mem_node(mem, (uint64_t)n + 1) = *node;
    *loc = (uint64_t)n + 1;
    return TB_OK;
}

/* The root-table slot holding hash, or the empty slot where it would go. */
static size_t smt_mem_root_find(const struct cr_smt_mem_root *roots, size_t slots,
                                const uint8_t hash[CR_HASH_BYTES])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    size_t mask = slots - 1;
    TB_ASSERT(slots > 0 && (slots & mask) == 0);
    for (size_t pos = (size_t)h & mask;; pos = (pos + 1) & mask) {
        if (roots[pos].loc == 0 || memcmp(roots[pos].hash, hash, CR_HASH_BYTES) == 0) {
            return pos;
        }
    }
}

/* Doubles the root table (or creates it) and re-inserts every root. */
static int smt_mem_root_grow(struct cr_smt_mem *mem, char *errmsg)
{
    size_t count = mem->root_slots == 0 ? SMT_MEM_ROOTS_MIN : mem->root_slots * 2;
    struct cr_smt_mem_root *roots = tb_calloc(count, sizeof(*roots));
    if (roots == NULL) {
        return tb_fail(errmsg, TB_ENOMEM, "status root table of %zu slots", count);
    }
    for (size_t i = 0; i < mem->root_slots; i++) {
        if (mem->roots[i].loc != 0) {
            size_t pos = smt_mem_root_find(roots, count, mem->roots[i].hash);
            TB_ASSERT(roots[pos].loc == 0); /* roots are distinct */
            roots[pos] = mem->roots[i];
        }
    }
    tb_free(mem->roots);
    mem->roots = roots;
    mem->root_slots = count;
    return TB_OK;
}

static int smt_mem_root_put(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES], uint64_t loc,
                            char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    TB_ASSERT(loc != 0);
    if (mem->root_slots > 0 &&
        mem->roots[smt_mem_root_find(mem->roots, mem->root_slots, hash)].loc != 0) {
        return TB_OK; /* known: keeps its first location */
    }
    if ((mem->root_count + 1) * 4 > mem->root_slots * 3) {
        int rv = smt_mem_root_grow(mem, errmsg);
        if (rv != TB_OK) {
            return rv;
        }
    }
    size_t pos = smt_mem_root_find(mem->roots, mem->root_slots, hash);
    TB_ASSERT(mem->roots[pos].loc == 0);
    memcpy(mem->roots[pos].hash, hash, CR_HASH_BYTES);
    mem->roots[pos].loc = loc;
    mem->root_count++;
    return TB_OK;
}

static int smt_mem_root_get(void *impl, void *txn, const uint8_t hash[CR_HASH_BYTES], uint64_t *loc,
                            char *errmsg)
{
    struct cr_smt_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    size_t pos = mem->root_slots == 0 ? 0 : smt_mem_root_find(mem->roots, mem->root_slots, hash);
    if (mem->root_slots == 0 || mem->roots[pos].loc == 0) {
        return tb_fail(errmsg, TB_ENOTFOUND, "unknown root");
    }
    *loc = mem->roots[pos].loc;
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
    tb_free(mem->roots);
    memset(mem, 0, sizeof(*mem));
}

struct cr_smt_store cr_smt_mem_store(struct cr_smt_mem *mem)
{
    struct cr_smt_store store = {mem, smt_mem_get, smt_mem_put, smt_mem_root_put, smt_mem_root_get};
    TB_ASSERT(mem != NULL);
    return store;
}

size_t cr_smt_mem_bytes(const struct cr_smt_mem *mem)
{
    return mem->chunk_count *
               (SMT_MEM_CHUNK_NODES * sizeof(struct cr_smt_node) + sizeof(*mem->chunks)) +
           mem->root_slots * sizeof(*mem->roots);
}
