/* UTF-8 validation and hex digits. No allocation, no I/O. */
#include "tb_text.h"

#include <stdint.h>

#include "tb_assert.h"

bool tb_utf8_valid(const void *s, size_t len)
{
    const uint8_t *p = s;
    size_t i = 0;
    TB_ASSERT(p != NULL || len == 0);
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, or above U+10FFFF */
        }
        if (n > len - i - 1)
            return false; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0u) != 0x80u)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
            return false; /* overlong */
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    TB_ASSERT(i == len);
    return true;
}

int tb_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
