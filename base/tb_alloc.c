/*
 * Heap wrappers with a countdown fault for tests. The counters are process
 * globals: tests that use the fault hook run single-threaded.
 */
#include "tb_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fault_delay = -1; /* -1: off */
static long fault_repeat;

void tb_alloc_fault_set(long delay, long repeat)
{
    fault_delay = delay;
    fault_repeat = repeat;
}

void tb_alloc_fault_reset(void)
{
    fault_delay = -1;
    fault_repeat = 0;
}

static int fault_now(void)
{
    if (fault_delay < 0)
        return 0;
    if (fault_delay > 0) {
        fault_delay--;
        return 0;
    }
    if (fault_repeat == 0)
        return 0;
    if (fault_repeat > 0)
        fault_repeat--;
    return 1;
}

void *tb_malloc(size_t size)
{
    if (fault_now())
        return NULL;
    return malloc(size == 0 ? 1 : size);
}

void *tb_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    if (fault_now())
        return NULL;
    return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *tb_realloc(void *ptr, size_t size)
{
    if (fault_now())
        return NULL;
    return realloc(ptr, size == 0 ? 1 : size);
}

void tb_free(void *ptr)
{
    free(ptr);
}

char *tb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = tb_malloc(n);
    if (copy != NULL)
        memcpy(copy, s, n);
    return copy;
}
