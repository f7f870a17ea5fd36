/*
 * All heap use goes through these wrappers so that tests can fail the Nth
 * allocation (c-raft's test heap, SQLite's OOM loop, curl's torture mode).
 */
#ifndef TB_ALLOC_H
#define TB_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *tb_malloc(size_t size);
void *tb_calloc(size_t count, size_t size); /* checks count*size overflow */
void *tb_realloc(void *ptr, size_t size);
void tb_free(void *ptr); /* tb_free(NULL) is a no-op */
char *tb_strdup(const char *s);

/*
 * Test hook: after `delay` more successful allocations, fail `repeat` of them
 * (repeat < 0: fail forever). tb_alloc_fault_reset() turns it off.
 */
void tb_alloc_fault_set(long delay, long repeat);
void tb_alloc_fault_reset(void);

#ifdef __cplusplus
}
#endif
#endif
