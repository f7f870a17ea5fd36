/* Error texts and errmsg helpers. No allocation, no I/O beyond the assert report. */
#include "tb_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_assert.h"

const char *tb_strerror(int code)
{
    switch (code) {
#define TB_ERR_CASE(name, value, text) \
    case value:                        \
        return text;
        TB_ERR_TABLE(TB_ERR_CASE)
#undef TB_ERR_CASE
    default:
        return "unknown error";
    }
}

void tb_errmsg_setf(char *errmsg, const char *fmt, ...)
{
    va_list ap;
    TB_ASSERT(errmsg != NULL);
    va_start(ap, fmt);
    vsnprintf(errmsg, TB_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
}

void tb_errmsg_wrapf(char *errmsg, const char *fmt, ...)
{
    char prefix[TB_ERRMSG_SIZE];
    char old[TB_ERRMSG_SIZE];
    va_list ap;

    TB_ASSERT(errmsg != NULL);
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    /* Built piecewise: truncation of a long chain of contexts is expected and safe. */
    size_t n = strnlen(prefix, sizeof(prefix));
    memcpy(errmsg, prefix, n);
    if (old[0] != '\0' && n + 2 < TB_ERRMSG_SIZE) {
        size_t rest = strnlen(old, sizeof(old));
        errmsg[n++] = ':';
        errmsg[n++] = ' ';
        if (rest > TB_ERRMSG_SIZE - 1 - n)
            rest = TB_ERRMSG_SIZE - 1 - n;
        memcpy(errmsg + n, old, rest);
        n += rest;
    }
    TB_ASSERT(n < TB_ERRMSG_SIZE);
    errmsg[n] = '\0';
}

int tb_fail(char *errmsg, int code, const char *fmt, ...)
{
    va_list ap;
    TB_ASSERT(code < 0);
    if (errmsg != NULL) {
        va_start(ap, fmt);
        vsnprintf(errmsg, TB_ERRMSG_SIZE, fmt, ap);
        va_end(ap);
    }
    return code;
}

void tb_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "%s:%d %s(): assertion failed: %s\n", file, line, func, expr);
    fflush(stderr);
    abort();
}
