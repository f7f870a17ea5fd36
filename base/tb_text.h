/* Text checks shared by every decoder: one UTF-8 validator for the whole project. */
#ifndef TB_TEXT_H
#define TB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * True when the len bytes at s are well-formed UTF-8 (RFC 3629): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. NUL bytes
 * are valid UTF-8; callers that refuse control characters check those themselves.
 */
bool tb_utf8_valid(const void *s, size_t len);

/* The value of one hex digit (either case), or -1. */
int tb_hex_digit(char c);

#ifdef __cplusplus
}
#endif
#endif
