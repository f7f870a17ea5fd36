/*
 * node/qr: citizen credential QR codes (issue 5).
 *
 * The credential URI (docs/credentials.md is the reference):
 *
 *     TONGBAN:<chain prefix, 13 chars>:<record id, 52 chars><check, 6 chars>
 *
 * 80 characters from RFC 4648's base32 alphabet (A-Z, 2-7) plus the fixed prefix, all inside
 * QR alphanumeric mode, so the code stays at version 4 (33x33 modules) at level M. The chain
 * prefix is the first QR_CHAIN_PREFIX_BYTES of the chain id; the check is the bech32m
 * checksum (BIP 350) with human-readable part "tongban" over the 65 data symbols, which
 * refuses any mistyped or damaged entry of up to four characters.
 *
 * Rendering: a PNG (1-bit grayscale, error correction level M) into memory, and UTF-8
 * half-block text for a terminal. This header is the module's whole surface; qr.c is the
 * only file of the project that includes qrencode.h and png.h. Nothing here does I/O.
 */
#ifndef NODE_QR_H
#define NODE_QR_H

#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QR_CHAIN_ID_BYTES 32
#define QR_RECORD_ID_BYTES 32
#define QR_CHAIN_PREFIX_BYTES 8

#define QR_URI_SCHEME "TONGBAN:"
#define QR_URI_SCHEME_LEN 8
#define QR_URI_CHAIN_CHARS 13  /* ceil(64 / 5) */
#define QR_URI_RECORD_CHARS 52 /* ceil(256 / 5) */
#define QR_URI_CHECK_CHARS 6
#define QR_URI_LEN \
    (QR_URI_SCHEME_LEN + QR_URI_CHAIN_CHARS + 1 + QR_URI_RECORD_CHARS + QR_URI_CHECK_CHARS)
#define QR_URI_SIZE (QR_URI_LEN + 1) /* with the NUL */

/* The bech32m constant (BIP 350): the polymod of a valid checksummed sequence. */
#define QR_BECH32M_CONST 0x2bc830a3u
/* Human-readable part the check is computed under (lowercase, as BIP 173 expands it). */
#define QR_URI_HRP "tongban"

/* Versions 1..QR_VERSION_MAX (57x57 modules at most); the URI needs version 4. */
#define QR_VERSION_MAX 10
/* Longest text qr_png/qr_terminal accept: v10-M holds 311 alphanumeric characters. */
#define QR_TEXT_BYTES_MAX 311
#define QR_MODULE_PX_MAX 32
#define QR_MARGIN_MODULES_MAX 16
/* Hard bound on a PNG, whatever the caller's buffer allows (the largest measured: 5 KiB). */
#define QR_PNG_BYTES_MAX (1u << 20)
/* Quiet zone of the terminal rendering, in modules (ISO/IEC 18004 asks for 4). */
#define QR_TERM_MARGIN_MODULES 4

/*
 * Writes the credential URI of record_id in the federation chain_id into out (QR_URI_LEN
 * uppercase characters and a NUL). Cannot fail.
 */
void qr_uri_encode(const uint8_t chain_id[QR_CHAIN_ID_BYTES],
                   const uint8_t record_id[QR_RECORD_ID_BYTES], char out[QR_URI_SIZE]);

/*
 * Parses a credential URI of exactly text_len bytes (no NUL needed; the NUL of a C string
 * is not part of the text). Accepted: the canonical all-uppercase form, and the same text
 * entirely in lowercase (a person typing it); mixed case is refused. Refused with
 * TB_EMALFORMED and a reason in errmsg (never the text itself): a wrong length, prefix or
 * separator, a character outside the alphabet, a check that does not match, nonzero
 * padding bits. On success fills chain_prefix_out and record_id_out; on failure leaves
 * them zeroed. The caller then compares the prefix with its own chain id
 * (qr_uri_chain_check) before resolving the record.
 */
TB_MUST_CHECK int qr_uri_parse(const char *text, size_t text_len,
                               uint8_t chain_prefix_out[QR_CHAIN_PREFIX_BYTES],
                               uint8_t record_id_out[QR_RECORD_ID_BYTES], char *errmsg);

/*
 * TB_OK when chain_prefix is the prefix of chain_id (this federation's code); TB_EINVAL
 * with "credential belongs to another federation" otherwise.
 */
TB_MUST_CHECK int qr_uri_chain_check(const uint8_t chain_prefix[QR_CHAIN_PREFIX_BYTES],
                                     const uint8_t chain_id[QR_CHAIN_ID_BYTES], char *errmsg);

/*
 * The bech32m polymod of hrp_expand(hrp) ‖ values (BIP 173/350), exposed so that tests
 * can check it against the published vectors. values are 5-bit (each < 32); hrp is
 * lowercase ASCII. A sequence carrying a valid checksum gives QR_BECH32M_CONST.
 */
uint32_t qr_bech32m_polymod(const char *hrp, const uint8_t *values, size_t count);

/*
 * Renders text (NUL-terminated, 1..QR_TEXT_BYTES_MAX bytes) as a QR code at error
 * correction level M, version 1..QR_VERSION_MAX, into a 1-bit grayscale PNG written to
 * out (its contents are replaced). Each module is module_px x module_px pixels
 * (1..QR_MODULE_PX_MAX) and the quiet zone is margin_modules modules wide
 * (0..QR_MARGIN_MODULES_MAX; 4 is the standard), so the image is
 * (modules + 2 * margin_modules) * module_px pixels square. Dark modules are black.
 * TB_EINVAL (arguments, empty text), TB_ELIMIT (text too long for QR_VERSION_MAX, or the
 * PNG above out->max or QR_PNG_BYTES_MAX), TB_ENOMEM, TB_EIO (libpng). On failure out is
 * empty and errmsg says why.
 */
TB_MUST_CHECK int qr_png(const char *text, unsigned module_px, unsigned margin_modules,
                         struct tb_buf *out, char *errmsg);

enum qr_term_flags {
    /* Draw dark modules as blocks: for dark text on a light terminal background. */
    QR_TERM_INVERT = 1 << 0,
};

/*
 * Renders text as UTF-8 lines (each ending in '\n', no NUL) into out (contents replaced):
 * two module rows per line with the half blocks U+2580 (upper), U+2584 (lower), U+2588
 * (full) and spaces, inside a quiet zone of QR_TERM_MARGIN_MODULES modules; a row past
 * the bottom edge counts as quiet zone. By default light modules are drawn as blocks,
 * which is right for light text on a dark background, the usual terminal; QR_TERM_INVERT
 * draws the dark modules instead. Same text rules and errors as qr_png (TB_ELIMIT also
 * when out->max is too small).
 */
TB_MUST_CHECK int qr_terminal(const char *text, unsigned flags, struct tb_buf *out, char *errmsg);

#ifdef __cplusplus
}
#endif
#endif
