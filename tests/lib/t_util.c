/* Test helpers; failures abort, since a broken harness must not pass. */
#define _GNU_SOURCE
#include "t_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_alloc.h"
#include "tb_hex.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void t_rng_seed(struct t_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t t_rng_next(struct t_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t t_rng_below(struct t_rng *rng, uint64_t bound)
{
    if (bound == 0)
        abort();
    return t_rng_next(rng) % bound;
}

void t_rng_bytes(struct t_rng *rng, void *out, size_t len)
{
    uint8_t *p = out;
    while (len > 0) {
        uint64_t v = t_rng_next(rng);
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}

uint8_t *t_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = tb_malloc(n + 1);
    if (out == NULL || tb_hex_decode(hex, strlen(hex), out, n) != TB_OK)
        abort();
    *len = n;
    return out;
}

char *t_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/tongban-%s-XXXXXX", base ? base : "/tmp", tag);
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

void t_rmtree(const char *path)
{
    char cmd[1024];
    if (strncmp(path, "/tmp/", 5) != 0 && getenv("TMPDIR") == NULL)
        return; /* never remove anything outside a temp dir */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "t_rmtree: could not remove %s\n", path);
}

uint8_t *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size;
    uint8_t *data;
    if (f == NULL)
        abort();
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        abort();
    data = tb_malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size)
        abort();
    fclose(f);
    data[size] = 0;
    *len = (size_t)size;
    return data;
}
