/*
 * In-memory node store for the log tree: per level, a growable array of hashes indexed
 * by node index. cr_log puts nodes of each level in index order, so the arrays stay
 * dense. Used by tests, the bench and tools; the node keeps its log in LMDB.
 *
 * Must never: accept a put that would leave a hole in a level (TB_EINVAL), or replace a
 * stored hash by a different one (TB_EINVAL: the tree's nodes are immutable).
 */
#include <string.h>

#include "cr_log.h"
#include "tb_alloc.h"
#include "tb_assert.h"

static int log_mem_get(void *impl, void *txn, uint32_t level, uint64_t index,
                       uint8_t out[CR_HASH_BYTES], char *errmsg)
{
    struct cr_log_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    TB_ASSERT(level < CR_LOG_LEVELS);
    if (index >= mem->level_count[level]) {
        return tb_fail(errmsg, TB_ENOTFOUND, "no node at level %u index %llu", (unsigned)level,
                       (unsigned long long)index);
    }
    memcpy(out, mem->level_hashes[level] + index * CR_HASH_BYTES, CR_HASH_BYTES);
    return TB_OK;
}

static int log_mem_grow(struct cr_log_mem *mem, uint32_t level, char *errmsg)
{
    uint64_t cap = mem->level_cap[level] == 0 ? 64 : mem->level_cap[level] * 2;
    TB_ASSERT(cap > mem->level_count[level]);
    if (cap > SIZE_MAX / CR_HASH_BYTES) {
        return tb_fail(errmsg, TB_ENOMEM, "log level %u too large", (unsigned)level);
    }
    uint8_t *grown = tb_realloc(mem->level_hashes[level], (size_t)cap * CR_HASH_BYTES);
    if (grown == NULL) {
        return tb_fail(errmsg, TB_ENOMEM, "log level %u: %llu nodes", (unsigned)level,
                       (unsigned long long)cap);
    }
    mem->level_hashes[level] = grown;
    mem->level_cap[level] = cap;
    return TB_OK;
}

static int log_mem_put(void *impl, void *txn, uint32_t level, uint64_t index,
                       const uint8_t hash[CR_HASH_BYTES], char *errmsg)
{
    struct cr_log_mem *mem = impl;
    (void)txn;
    TB_ASSERT(mem != NULL);
    TB_ASSERT(level < CR_LOG_LEVELS);
    uint64_t count = mem->level_count[level];
    if (index < count) {
        /* A retry after a failed append writes the same node again. */
        if (memcmp(mem->level_hashes[level] + index * CR_HASH_BYTES, hash, CR_HASH_BYTES) != 0) {
            return tb_fail(errmsg, TB_EINVAL, "node (%u, %llu) already holds another hash",
                           (unsigned)level, (unsigned long long)index);
        }
        return TB_OK;
    }
    if (index > count) {
        return tb_fail(errmsg, TB_EINVAL, "node (%u, %llu) past the end (%llu)", (unsigned)level,
                       (unsigned long long)index, (unsigned long long)count);
    }
    if (count == mem->level_cap[level]) {
        int rv = log_mem_grow(mem, level, errmsg);
        if (rv != TB_OK) {
            return rv;
        }
    }
    memcpy(mem->level_hashes[level] + count * CR_HASH_BYTES, hash, CR_HASH_BYTES);
    mem->level_count[level] = count + 1;
    return TB_OK;
}

void cr_log_mem_init(struct cr_log_mem *mem)
{
    memset(mem, 0, sizeof(*mem));
}

void cr_log_mem_release(struct cr_log_mem *mem)
{
    for (uint32_t level = 0; level < CR_LOG_LEVELS; level++) {
        tb_free(mem->level_hashes[level]);
    }
    memset(mem, 0, sizeof(*mem));
}

struct cr_log_store cr_log_mem_store(struct cr_log_mem *mem)
{
    struct cr_log_store store = {mem, log_mem_get, log_mem_put};
    TB_ASSERT(mem != NULL);
    return store;
}

size_t cr_log_mem_bytes(const struct cr_log_mem *mem)
{
    size_t total = 0;
    for (uint32_t level = 0; level < CR_LOG_LEVELS; level++) {
        total += (size_t)mem->level_cap[level] * CR_HASH_BYTES;
    }
    return total;
}
