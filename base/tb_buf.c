/* Bounded growable buffer; see tb_buf.h for the failure contract. */
#include "tb_buf.h"

#include <string.h>

#include "tb_alloc.h"
#include "tb_assert.h"

void tb_buf_init(struct tb_buf *buf, size_t max)
{
    TB_ASSERT(buf != NULL);
    TB_ASSERT(max > 0);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
}

void tb_buf_release(struct tb_buf *buf)
{
    tb_free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void tb_buf_reset(struct tb_buf *buf)
{
    buf->len = 0;
}

int tb_buf_reserve(struct tb_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    uint8_t *data;

    TB_ASSERT(buf->len <= buf->max);
    if (extra > buf->max - buf->len) {
        tb_buf_release(buf);
        return TB_ELIMIT;
    }
    need = buf->len + extra;
    if (need <= buf->cap)
        return TB_OK;
    cap = buf->cap < 64 ? 64 : buf->cap;
    while (cap < need)
        cap = cap > buf->max / 2 ? buf->max : cap * 2;
    if (cap > buf->max)
        cap = buf->max;
    data = tb_realloc(buf->data, cap);
    if (data == NULL) {
        tb_buf_release(buf);
        return TB_ENOMEM;
    }
    buf->data = data;
    buf->cap = cap;
    TB_ASSERT(buf->cap >= need);
    return TB_OK;
}

int tb_buf_append(struct tb_buf *buf, const void *data, size_t len)
{
    int rv;
    if (len == 0)
        return TB_OK;
    rv = tb_buf_reserve(buf, len);
    if (rv != TB_OK)
        return rv;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return TB_OK;
}

int tb_buf_append_byte(struct tb_buf *buf, uint8_t byte)
{
    return tb_buf_append(buf, &byte, 1);
}

uint8_t *tb_buf_take(struct tb_buf *buf, size_t *len)
{
    uint8_t *data = buf->data;
    *len = buf->len;
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return data;
}
