/*
 * The machinery under every wire/ structure: the encoder sink, the validating put_* helpers,
 * strict UTF-8, the bounded pre-scan, and the decoder around msgpack_unpack_next.
 *
 * Why both a pre-scan and msgpack-c. msgpack-c stays the encoder and decoder of record (its
 * packer writes every byte we emit; its unpacker builds the objects we convert), but its
 * unpacker trusts declared lengths: it allocates room for as many elements as a header claims
 * before it has seen them, and our depth limits are not its own. So no byte reaches
 * msgpack_unpack_next before wire_scan has walked it without recursion or allocation and
 * checked every header against the bytes that remain, the depth and the per-structure element
 * counts (so msgpack-c's allocations stay proportional to the bytes actually present). After
 * conversion, the value is re-encoded with the same encoder in compare mode and must reproduce
 * the input byte for byte: that one check rejects every non-shortest form, unsorted or
 * duplicate key, and any value the encoder would refuse, with no second set of rules to keep
 * in step. Writing the strict reader directly over the bytes was the alternative; it would
 * have duplicated msgpack-c's decoder rather than bounded it.
 *
 * This file must never accept bytes the encoder would not produce, and never allocate in
 * proportion to a declared (rather than present) length.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tb_assert.h"
#include "tb_text.h"
#include "wire_int.h"

/* ---- Encoder ---- */

static int wire_sink(void *data, const char *buf, size_t len)
{
    struct wire_enc *e = data;
    const uint8_t *bytes = (const uint8_t *)buf;

    TB_ASSERT(e != NULL);
    TB_ASSERT(buf != NULL || len == 0);
    if (e->err != TB_OK)
        return -1;
    if (e->expect != NULL) {
        size_t left = e->expect_len - e->pos;
        size_t n = len < left ? len : left;
        size_t i = 0;
        while (i < n && bytes[i] == e->expect[e->pos + i])
            i++;
        if (i < len) {
            wire_enc_fail(e, TB_EMALFORMED, "not canonical at byte %zu", e->pos + i);
            return -1;
        }
    } else {
        int rv = tb_buf_append(e->out, bytes, len);
        if (rv != TB_OK) {
            e->err = rv;
            tb_fail(e->errmsg, rv, "%s: output buffer: %s", e->what, tb_strerror(rv));
            return -1;
        }
    }
    e->pos += len;
    return 0;
}

static void wire_enc_init(struct wire_enc *e, const char *what, char *errmsg)
{
    memset(e, 0, sizeof(*e));
    e->what = what;
    e->errmsg = errmsg;
    e->err = TB_OK;
    msgpack_packer_init(&e->pk, e, wire_sink);
}

void wire_enc_init_buf(struct wire_enc *e, const char *what, struct tb_buf *out, char *errmsg)
{
    TB_ASSERT(out != NULL);
    TB_ASSERT(out->len <= out->max);
    wire_enc_init(e, what, errmsg);
    e->out = out;
    e->out_len0 = out->len;
}

void wire_enc_init_cmp(struct wire_enc *e, const char *what, const uint8_t *expect, size_t len,
                       char *errmsg)
{
    TB_ASSERT(expect != NULL);
    TB_ASSERT(len > 0);
    wire_enc_init(e, what, errmsg);
    e->expect = expect;
    e->expect_len = len;
}

int wire_enc_finish(struct wire_enc *e)
{
    if (e->err == TB_OK && e->expect != NULL && e->pos != e->expect_len) {
        e->field = 0;
        wire_enc_fail(e, TB_EMALFORMED, "not canonical: %zu bytes re-encode as %zu", e->expect_len,
                      e->pos);
    }
    if (e->expect == NULL && e->err != TB_OK && e->out->len > e->out_len0)
        e->out->len = e->out_len0;
    if (e->expect != NULL && e->err == TB_EINVAL)
        e->err = TB_EMALFORMED; /* a decoded value the encoder refuses is bad input */
    if (e->expect == NULL && e->err == TB_OK)
        TB_ASSERT(e->out->len == e->out_len0 + e->pos);
    return e->err;
}

void wire_enc_field(struct wire_enc *e, unsigned field, const char *name)
{
    e->field = field;
    e->field_name = name;
}

void wire_enc_fail(struct wire_enc *e, int code, const char *fmt, ...)
{
    char text[TB_ERRMSG_SIZE];
    va_list ap;

    TB_ASSERT(code < 0);
    if (e->err != TB_OK)
        return; /* the first error is the one worth reporting */
    e->err = code;
    if (e->errmsg == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (e->field == 0)
        tb_fail(e->errmsg, code, "%s: %s", e->what, text);
    else
        tb_fail(e->errmsg, code, "%s field %u (%s): %s", e->what, e->field, e->field_name, text);
}

void wire_put_array(struct wire_enc *e, size_t n)
{
    if (e->err != TB_OK)
        return;
    TB_ASSERT(n <= UINT32_MAX); /* callers check their count limits first */
    (void)msgpack_pack_array(&e->pk, n);
}

void wire_put_map(struct wire_enc *e, size_t n)
{
    if (e->err != TB_OK)
        return;
    TB_ASSERT(n <= UINT32_MAX); /* callers check their count limits first */
    (void)msgpack_pack_map(&e->pk, n);
}

void wire_put_uint(struct wire_enc *e, uint64_t v)
{
    if (e->err == TB_OK)
        (void)msgpack_pack_uint64(&e->pk, v); /* msgpack-c picks the shortest form */
}

void wire_put_nil(struct wire_enc *e)
{
    if (e->err == TB_OK)
        (void)msgpack_pack_nil(&e->pk);
}

void wire_put_hash(struct wire_enc *e, const uint8_t *p, size_t len)
{
    TB_ASSERT(p != NULL);
    TB_ASSERT(len == WIRE_HASH_BYTES || len == WIRE_NONCE_BYTES);
    if (e->err != TB_OK)
        return;
    (void)msgpack_pack_bin(&e->pk, len);
    (void)msgpack_pack_bin_body(&e->pk, p, len);
}

void wire_put_raw(struct wire_enc *e, const uint8_t *p, size_t len)
{
    TB_ASSERT(p != NULL || len == 0);
    if (e->err == TB_OK)
        (void)wire_sink(e, (const char *)p, len);
}

static bool wire_check_len(struct wire_enc *e, struct tb_bytes b, size_t min, size_t max)
{
    TB_ASSERT(min <= max);
    if (e->err != TB_OK)
        return false;
    if (b.ptr == NULL && b.len > 0) {
        wire_enc_fail(e, TB_EINVAL, "NULL with length %zu", b.len);
        return false;
    }
    if (b.len > max) {
        wire_enc_fail(e, TB_ELIMIT, "%zu bytes, limit %zu", b.len, max);
        return false;
    }
    if (b.len < min) {
        wire_enc_fail(e, TB_EINVAL, "must not be empty");
        return false;
    }
    return true;
}

void wire_put_bin(struct wire_enc *e, struct tb_bytes b, size_t min, size_t max)
{
    if (!wire_check_len(e, b, min, max))
        return;
    (void)msgpack_pack_bin(&e->pk, b.len);
    if (b.len > 0)
        (void)msgpack_pack_bin_body(&e->pk, b.ptr, b.len);
}

void wire_put_str(struct wire_enc *e, struct tb_bytes s, size_t min, size_t max)
{
    if (!wire_check_len(e, s, min, max))
        return;
    if (!tb_utf8_valid(s.ptr, s.len)) {
        wire_enc_fail(e, TB_EINVAL, "invalid UTF-8");
        return;
    }
    (void)msgpack_pack_str(&e->pk, s.len);
    if (s.len > 0)
        (void)msgpack_pack_str_body(&e->pk, s.ptr, s.len);
}

/*
 * City and agency codes share one charset, [0-9A-Za-z_-]: they appear in HTTP headers
 * (Tongban-Agency), index keys and file names, where anything else would need escaping.
 */
static void wire_put_code(struct wire_enc *e, struct tb_bytes s, size_t max, const char *what)
{
    if (!wire_check_len(e, s, 1, max))
        return;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  c == '_' || c == '-';
        if (!ok) {
            wire_enc_fail(e, TB_EINVAL, "%s code byte %zu (0x%02x) outside [0-9A-Za-z_-]", what, i,
                          c);
            return;
        }
    }
    wire_put_str(e, s, 1, max);
}

void wire_put_city(struct wire_enc *e, struct tb_bytes s)
{
    wire_put_code(e, s, WIRE_CITY_BYTES_MAX, "city");
}

void wire_put_agency(struct wire_enc *e, struct tb_bytes s)
{
    wire_put_code(e, s, WIRE_AGENCY_BYTES_MAX, "agency");
}

void wire_put_str_set(struct wire_enc *e, const struct tb_bytes *items, size_t count,
                      size_t count_min, size_t count_max, size_t item_max)
{
    TB_ASSERT(items != NULL || count == 0);
    TB_ASSERT(count_min <= count_max);
    if (e->err != TB_OK)
        return;
    if (count > count_max) {
        wire_enc_fail(e, TB_ELIMIT, "%zu items, limit %zu", count, count_max);
        return;
    }
    if (count < count_min) {
        wire_enc_fail(e, TB_EINVAL, "needs at least %zu items", count_min);
        return;
    }
    wire_put_array(e, count);
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && wire_bytes_cmp(items[i - 1], items[i]) >= 0) {
            wire_enc_fail(e, TB_EINVAL, "item %zu not after item %zu (sorted, unique)", i, i - 1);
            return;
        }
        wire_put_str(e, items[i], 1, item_max);
    }
}

int wire_encode_with(const char *what, size_t bytes_max, wire_enc_fn enc, const void *in,
                     struct tb_buf *out, char *errmsg)
{
    struct wire_enc e;

    TB_ASSERT(in != NULL);
    TB_ASSERT(out != NULL);
    wire_enc_init_buf(&e, what, out, errmsg);
    enc(&e, in);
    if (e.err == TB_OK && e.pos > bytes_max) {
        e.field = 0;
        wire_enc_fail(&e, TB_ELIMIT, "%zu bytes, limit %zu", e.pos, bytes_max);
    }
    return wire_enc_finish(&e);
}

/* ---- Text ---- */

int wire_bytes_cmp(struct tb_bytes a, struct tb_bytes b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

/* ---- Pre-scan ---- */

static uint64_t wire_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * Reads the header of the item at p[0..left): *hdr bytes of header, then either *payload bytes
 * of payload or (*is_container) *count items (a map's count is already doubled).
 * Returns false for a truncated header or the reserved byte 0xc1.
 */
static bool wire_scan_header(const uint8_t *p, size_t left, size_t *hdr, uint64_t *payload,
                             uint64_t *count, bool *is_container)
{
    uint8_t b = p[0];
    size_t lenbytes = 0;
    static const uint8_t fixed[32] = {
        /* 0xc0..0xdf: total size of fixed-size items, 0 for length-prefixed or reserved */
        1, 0, 1, 1, 0, 0, 0, 0,  0,  0, 5, 9, 0, 0, 0, 0, /* nil, bool, float32/64 */
        0, 0, 0, 0, 3, 4, 6, 10, 18, 0, 0, 0, 0, 0, 0, 0, /* fixext 1/2/4/8/16 */
    };
    static const uint8_t prefix[32] = {
        /* 0xc0..0xdf: bytes of the big-endian length or count that follows the type byte */
        0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, /* bin 8/16/32, ext 8/16/32 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4, /* str 8/16/32, array/map 16/32 */
    };
    *hdr = 1;
    *payload = 0;
    *count = 0;
    *is_container = false;
    if (b <= 0x7f || b >= 0xe0)
        return true;
    if (b <= 0x8f || (b >= 0x90 && b <= 0x9f)) {
        *is_container = true;
        *count = (b <= 0x8f) ? 2u * (b & 0x0fu) : (b & 0x0fu);
        return true;
    }
    if (b <= 0xbf) {
        *payload = b & 0x1fu;
        return true;
    }
    if (b == 0xc1)
        return false;
    if (fixed[b - 0xc0] != 0) {
        *hdr = fixed[b - 0xc0];
        return true;
    }
    if (b >= 0xcc && b <= 0xd3) {
        *hdr = 1u + (1u << (b & 0x03u));
        return *hdr <= left;
    }
    lenbytes = prefix[b - 0xc0];
    TB_ASSERT(lenbytes == 1 || lenbytes == 2 || lenbytes == 4); /* every other byte is above */
    if (left < 1 + lenbytes)
        return false;
    *hdr = 1 + lenbytes;
    if (b >= 0xdc) {
        *is_container = true;
        *count = wire_be(p + 1, lenbytes) * (b >= 0xde ? 2u : 1u);
    } else {
        *payload = wire_be(p + 1, lenbytes);
        if (b >= 0xc7 && b <= 0xc9)
            *hdr += 1; /* the ext type byte */
    }
    return true;
}

int wire_scan(const uint8_t *data, size_t len, size_t pos, unsigned depth_max, uint32_t count_max,
              size_t *end, const char *what, char *errmsg)
{
    uint64_t stack[WIRE_DEPTH_MAX]; /* items still expected at each open level */
    unsigned depth = 0;

    TB_ASSERT(depth_max <= WIRE_DEPTH_MAX);
    TB_ASSERT(pos <= len);
    for (;;) {
        size_t hdr;
        uint64_t payload, count;
        bool is_container;
        size_t start = pos;

        if (pos >= len ||
            !wire_scan_header(data + pos, len - pos, &hdr, &payload, &count, &is_container) ||
            hdr > len - pos)
            return tb_fail(errmsg, TB_EMALFORMED, "%s: truncated or reserved header at byte %zu",
                           what, pos);
        pos += hdr;
        if (is_container) {
            uint64_t declared =
                (data[start] >= 0xde || (data[start] & 0xf0) == 0x80) ? count / 2 : count;
            if (declared > count_max)
                return tb_fail(errmsg, TB_ELIMIT, "%s: %llu elements at byte %zu, limit %u", what,
                               (unsigned long long)declared, start, count_max);
            if (count > len - pos)
                return tb_fail(errmsg, TB_EMALFORMED,
                               "%s: %llu elements at byte %zu but %zu bytes left", what,
                               (unsigned long long)declared, start, len - pos);
            if (depth >= depth_max)
                return tb_fail(errmsg, TB_ELIMIT, "%s: nesting deeper than %u at byte %zu", what,
                               depth_max, start);
            if (count > 0) {
                stack[depth++] = count;
                continue;
            }
        } else if (payload > len - pos) {
            return tb_fail(errmsg, TB_EMALFORMED, "%s: %llu-byte payload at byte %zu but %zu left",
                           what, (unsigned long long)payload, start, len - pos);
        } else {
            pos += (size_t)payload;
        }
        TB_ASSERT(pos > start); /* every item consumes a byte, so the loop is bounded by len */
        while (depth > 0 && --stack[depth - 1] == 0)
            depth--;
        if (depth == 0) {
            *end = pos;
            return TB_OK;
        }
    }
}

/* ---- Decoder ---- */

void wire_dec_fail(struct wire_dec *d, int code, unsigned field, const char *name, const char *fmt,
                   ...)
{
    char text[TB_ERRMSG_SIZE];
    va_list ap;

    TB_ASSERT(code < 0);
    if (d->err != TB_OK)
        return;
    d->err = code;
    if (d->errmsg == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (field == 0)
        tb_fail(d->errmsg, code, "%s: %s", d->what, text);
    else
        tb_fail(d->errmsg, code, "%s field %u (%s): %s", d->what, field, name, text);
}

int wire_dec_begin(struct wire_dec *d, const char *what, const uint8_t *data, size_t len,
                   size_t bytes_max, uint32_t count_max, char *errmsg)
{
    size_t end = 0;
    size_t off = 0;
    msgpack_unpack_return ur;
    int rv;

    TB_ASSERT(d != NULL);
    TB_ASSERT(data != NULL || len == 0);
    memset(d, 0, sizeof(*d));
    d->data = data;
    d->len = len;
    d->what = what;
    d->errmsg = errmsg;
    if (len == 0)
        return tb_fail(errmsg, TB_EMALFORMED, "%s: empty input", what);
    if (len > bytes_max)
        return tb_fail(errmsg, TB_ELIMIT, "%s: %zu bytes, limit %zu", what, len, bytes_max);
    rv = wire_scan(data, len, 0, WIRE_DEPTH_MAX, count_max, &end, what, errmsg);
    if (rv != TB_OK)
        return rv;
    if (end != len)
        return tb_fail(errmsg, TB_EMALFORMED, "%s: %zu trailing bytes", what, len - end);
    msgpack_unpacked_init(&d->up);
    ur = msgpack_unpack_next(&d->up, (const char *)data, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(&d->up);
        if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
            return tb_fail(errmsg, TB_ENOMEM, "%s: msgpack out of memory", what);
        return tb_fail(errmsg, TB_EMALFORMED, "%s: msgpack rejects the input (%d)", what, (int)ur);
    }
    d->unpacked = true;
    return TB_OK;
}

void wire_dec_end(struct wire_dec *d)
{
    if (d->unpacked)
        msgpack_unpacked_destroy(&d->up);
    d->unpacked = false;
}

int wire_decode_with(const char *what, const uint8_t *data, size_t len, size_t bytes_max,
                     uint32_t count_max, wire_conv_fn conv, wire_enc_fn enc, void *out,
                     char *errmsg)
{
    struct wire_dec d;
    struct wire_enc cmp;
    int rv;

    TB_ASSERT(out != NULL);
    rv = wire_dec_begin(&d, what, data, len, bytes_max, count_max, errmsg);
    if (rv != TB_OK)
        return rv;
    conv(&d, &d.up.data, out);
    wire_dec_end(&d);
    if (d.err != TB_OK)
        return d.err;
    /* The views in out point into data, not into msgpack's zone, so they outlive wire_dec_end. */
    wire_enc_init_cmp(&cmp, what, data, len, errmsg);
    enc(&cmp, out);
    return wire_enc_finish(&cmp);
}

static const char *wire_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "uint";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "negative int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_EXT:
        return "ext";
    }
    return "unknown";
}

const msgpack_object *wire_get_array(struct wire_dec *d, const msgpack_object *o, size_t n,
                                     unsigned field, const char *name)
{
    if (d->err != TB_OK || o == NULL)
        return NULL;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        wire_dec_fail(d, TB_EMALFORMED, field, name, "expected array of %zu, got %s", n,
                      wire_type_name(o));
        return NULL;
    }
    if (o->via.array.size != n) {
        wire_dec_fail(d, TB_EMALFORMED, field, name, "expected %zu fields, got %u", n,
                      o->via.array.size);
        return NULL;
    }
    TB_ASSERT(n == 0 || o->via.array.ptr != NULL);
    return o->via.array.ptr;
}

const msgpack_object *wire_get_list(struct wire_dec *d, const msgpack_object *o, size_t max,
                                    size_t *n, unsigned field, const char *name)
{
    *n = 0;
    if (d->err != TB_OK || o == NULL)
        return NULL;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        wire_dec_fail(d, TB_EMALFORMED, field, name, "expected array, got %s", wire_type_name(o));
        return NULL;
    }
    if (o->via.array.size > max) {
        wire_dec_fail(d, TB_ELIMIT, field, name, "%u items, limit %zu", o->via.array.size, max);
        return NULL;
    }
    *n = o->via.array.size;
    return o->via.array.ptr;
}

void wire_get_uint(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                   uint64_t *out)
{
    if (d->err != TB_OK || o == NULL)
        return;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        wire_dec_fail(d, TB_EMALFORMED, field, name, "expected uint, got %s", wire_type_name(o));
        return;
    }
    *out = o->via.u64;
}

void wire_get_u32(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  uint32_t *out)
{
    uint64_t v = 0;
    wire_get_uint(d, o, field, name, &v);
    if (d->err != TB_OK)
        return;
    if (v > UINT32_MAX) {
        wire_dec_fail(d, TB_ELIMIT, field, name, "%llu does not fit in 32 bits",
                      (unsigned long long)v);
        return;
    }
    *out = (uint32_t)v;
}

static void wire_get_raw(struct wire_dec *d, const msgpack_object *o, msgpack_object_type type,
                         unsigned field, const char *name, struct tb_bytes *out)
{
    const uint8_t *p;
    if (d->err != TB_OK || o == NULL)
        return;
    if (o->type != type) {
        wire_dec_fail(d, TB_EMALFORMED, field, name, "expected %s, got %s",
                      type == MSGPACK_OBJECT_BIN ? "bin" : "str", wire_type_name(o));
        return;
    }
    /* msgpack_unpack_next references str and bin bytes in the input (zero copy): check it. */
    p = (const uint8_t *)o->via.bin.ptr;
    TB_ASSERT(o->via.bin.size == 0 || (p >= d->data && p <= d->data + d->len));
    TB_ASSERT(o->via.bin.size == 0 || o->via.bin.size <= (size_t)(d->data + d->len - p));
    out->ptr = o->via.bin.size > 0 ? p : d->data;
    out->len = o->via.bin.size;
}

void wire_get_bin(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  struct tb_bytes *out)
{
    wire_get_raw(d, o, MSGPACK_OBJECT_BIN, field, name, out);
}

void wire_get_str(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  struct tb_bytes *out)
{
    wire_get_raw(d, o, MSGPACK_OBJECT_STR, field, name, out);
}

void wire_get_hash(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                   uint8_t *out, size_t len)
{
    struct tb_bytes b = {NULL, 0};
    if (d->err != TB_OK || o == NULL)
        return;
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != len) {
        wire_dec_fail(
            d, TB_EMALFORMED, field, name, "expected bin of %zu bytes, got %s of %u", len,
            wire_type_name(o),
            o->type == MSGPACK_OBJECT_BIN || o->type == MSGPACK_OBJECT_STR ? o->via.bin.size : 0u);
        return;
    }
    wire_get_bin(d, o, field, name, &b);
    TB_ASSERT(b.len == len);
    memcpy(out, b.ptr, len);
}

void wire_get_str_list(struct wire_dec *d, const msgpack_object *o, struct tb_bytes *items,
                       size_t max, size_t *count, unsigned field, const char *name)
{
    size_t n = 0;
    const msgpack_object *it = wire_get_list(d, o, max, &n, field, name);

    TB_ASSERT(items != NULL);
    *count = 0;
    if (it == NULL)
        return;
    TB_ASSERT(n <= max);
    for (size_t i = 0; i < n; i++)
        wire_get_str(d, &it[i], field, name, &items[i]);
    *count = n;
}

bool wire_is_nil(const msgpack_object *o)
{
    return o != NULL && o->type == MSGPACK_OBJECT_NIL;
}
