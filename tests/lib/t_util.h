/* Test helpers: a seeded PRNG (xoshiro256**), hex, temp dirs, file reading, byte views. */
#ifndef T_UTIL_H
#define T_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tb_buf.h"

struct t_rng
{
    uint64_t s[4];
};

void t_rng_seed(struct t_rng *rng, uint64_t seed);
uint64_t t_rng_next(struct t_rng *rng);
uint64_t t_rng_below(struct t_rng *rng, uint64_t bound); /* bound > 0 */
void t_rng_bytes(struct t_rng *rng, void *out, size_t len);

/* Decodes hex into a fresh tb_malloc'd buffer; aborts on bad hex (tests only). */
uint8_t *t_hex(const char *hex, size_t *len);

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a static path copy. */
char *t_tmpdir(const char *tag);

/* Removes a directory tree made by t_tmpdir (best effort). */
void t_rmtree(const char *path);

/* Reads a whole file (tests only; aborts on error). */
uint8_t *t_read_file(const char *path, size_t *len);

/* Borrowed views for building test inputs: n bytes at p, and a C string without its NUL. */
static inline struct tb_bytes t_bytes(const void *p, size_t n)
{
    struct tb_bytes b = {.ptr = p, .len = n};
    return b;
}

static inline struct tb_bytes t_str(const char *s)
{
    return t_bytes(s, strlen(s));
}

#endif
