/* Hex and base64 (standard alphabet, padded) codecs, strict on decode. */
#ifndef TB_HEX_H
#define TB_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes 2*len lowercase hex digits and a NUL into out (2*len+1 bytes). */
void tb_hex_encode(const uint8_t *data, size_t len, char *out);

/*
 * Decodes exactly out_len bytes from hex text of length 2*out_len (either case).
 * TB_EMALFORMED for a wrong length or a non-hex digit.
 */
TB_MUST_CHECK int tb_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len);

/* Decodes hex of any even length up to out_max bytes; *out_len gets the size. */
TB_MUST_CHECK int tb_hex_decode_var(const char *hex, size_t hex_len, uint8_t *out, size_t out_max,
                                    size_t *out_len);

/* Base64 output size including the NUL. */
#define TB_BASE64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

void tb_base64_encode(const uint8_t *data, size_t len, char *out);

/* Strict: padding required, no whitespace, canonical trailing bits. */
TB_MUST_CHECK int tb_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_max,
                                   size_t *out_len);

/* Constant-time equality of two byte ranges of the same length. */
int tb_memeq_ct(const void *a, const void *b, size_t len);

/* Overwrites memory in a way the compiler may not elide. */
void tb_wipe(void *ptr, size_t len);

#ifdef __cplusplus
}
#endif
#endif
