/*
 * A growable byte buffer with a hard maximum (curl's dynbuf).
 *
 * tb_buf_init cannot fail and allocates nothing. An append that would pass the
 * maximum, or that cannot allocate, frees the buffer and returns the error, so a
 * caller never continues with a half-built value.
 */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_buf
{
    uint8_t *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* len never exceeds max */
};

/* A borrowed view of bytes; the owner states the lifetime. */
struct tb_bytes
{
    const uint8_t *ptr;
    size_t len;
};

void tb_buf_init(struct tb_buf *buf, size_t max);
void tb_buf_release(struct tb_buf *buf); /* frees data, keeps max; reusable */
void tb_buf_reset(struct tb_buf *buf);   /* len = 0, keeps memory */

/* TB_ELIMIT past max, TB_ENOMEM on allocation failure; both free the buffer. */
TB_MUST_CHECK int tb_buf_append(struct tb_buf *buf, const void *data, size_t len);
TB_MUST_CHECK int tb_buf_append_byte(struct tb_buf *buf, uint8_t byte);
TB_MUST_CHECK int tb_buf_reserve(struct tb_buf *buf, size_t extra);

/* Hands the data to the caller (who frees it with tb_free); buf is left empty. */
uint8_t *tb_buf_take(struct tb_buf *buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
