/*
 * Assertions that stay on in every build, release included (TigerStyle).
 *
 * TB_ASSERT is for programmer errors only: an invariant that, if false, means the
 * process state can no longer be trusted. Bad input from the network, a file or
 * a user is an operating error and gets a return code, never an assert.
 */
#ifndef TB_ASSERT_H
#define TB_ASSERT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Prints "file:line func(): assertion failed: expr" to stderr and aborts. */
__attribute__((noreturn)) void tb_assert_fail(const char *expr, const char *file, int line,
                                              const char *func);

#define TB_ASSERT(expr)                                          \
    do {                                                         \
        if (__builtin_expect(!(expr), 0))                        \
            tb_assert_fail(#expr, __FILE__, __LINE__, __func__); \
    } while (0)

/* O(n) checks that only debug and sanitizer builds pay for. */
#ifdef TB_DEBUG
#define TB_DEBUG_ASSERT(expr) TB_ASSERT(expr)
#else
#define TB_DEBUG_ASSERT(expr) ((void)0)
#endif

/* Marks a programmer error reached through a path that must not exist. */
#define TB_UNREACHABLE() tb_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#ifdef __cplusplus
}
#endif
#endif
