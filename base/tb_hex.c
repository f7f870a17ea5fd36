/* Hex and base64 codecs. Decoders are strict: one text per byte string. */
#include "tb_hex.h"

#include <string.h>

#include "tb_assert.h"
#include "tb_text.h"

static const char hex_digits[] = "0123456789abcdef";

void tb_hex_encode(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int tb_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len)
{
    if (out_len > SIZE_MAX / 2 || hex_len != 2 * out_len)
        return TB_EMALFORMED;
    for (size_t i = 0; i < out_len; i++) {
        int hi = tb_hex_digit(hex[2 * i]);
        int lo = tb_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TB_EMALFORMED;
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return TB_OK;
}

int tb_hex_decode_var(const char *hex, size_t hex_len, uint8_t *out, size_t out_max,
                      size_t *out_len)
{
    int rv;
    if (hex_len % 2 != 0)
        return TB_EMALFORMED;
    if (hex_len / 2 > out_max)
        return TB_ELIMIT;
    rv = tb_hex_decode(hex, hex_len, out, hex_len / 2);
    if (rv == TB_OK)
        *out_len = hex_len / 2;
    return rv;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void tb_base64_encode(const uint8_t *data, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8) | data[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8);
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    TB_ASSERT(o + 1 == TB_BASE64_ENCODED_SIZE(len));
}

static int b64_value(char c)
{
    const char *p;
    if (c == '\0')
        return -1;
    p = strchr(b64_alphabet, c);
    return p == NULL ? -1 : (int)(p - b64_alphabet);
}

int tb_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_max,
                     size_t *out_len)
{
    size_t o = 0;
    if (text_len % 4 != 0)
        return TB_EMALFORMED;
    for (size_t i = 0; i < text_len; i += 4) {
        int last = i + 4 == text_len;
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + (size_t)k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0)
                return TB_EMALFORMED; /* data after padding */
            v[k] = b64_value(c);
            if (v[k] < 0)
                return TB_EMALFORMED;
        }
        uint32_t bits = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
                        (uint32_t)v[3];
        size_t n = 3 - (size_t)pad;
        if (pad == 2 && (bits & 0xffff) != 0)
            return TB_EMALFORMED; /* non-canonical trailing bits */
        if (pad == 1 && (bits & 0xff) != 0)
            return TB_EMALFORMED;
        if (o + n > out_max)
            return TB_ELIMIT;
        out[o++] = (uint8_t)(bits >> 16);
        if (n > 1)
            out[o++] = (uint8_t)(bits >> 8);
        if (n > 2)
            out[o++] = (uint8_t)bits;
    }
    *out_len = o;
    return TB_OK;
}

int tb_memeq_ct(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

void tb_wipe(void *ptr, size_t len)
{
    volatile uint8_t *p = ptr;
    for (size_t i = 0; i < len; i++)
        p[i] = 0;
    __asm__ __volatile__("" : : "r"(ptr) : "memory");
}
