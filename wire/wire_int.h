/*
 * Internals shared by the wire/ sources: the encoder (a msgpack_packer over a sink that either
 * appends to a tb_buf or compares with the bytes being decoded), the bounded pre-scan, and the
 * typed getters over msgpack objects. Never included outside wire/; msgpack types never leave
 * wire/.
 *
 * Every put_* helper validates its value and then packs it; every get_* helper checks a type and
 * fills a view. Both keep the FIRST error (code and message) in their context and turn into
 * no-ops after it, so that a structure's encoder or converter reads as a straight list of fields
 * and returns the context's error once at the end.
 */
#ifndef WIRE_INT_H
#define WIRE_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* The encoder. In compare mode (expect != NULL) nothing is written: each packed byte must equal
 * the next byte of expect, which is how a decoder proves its input is canonical. */
struct wire_enc
{
    msgpack_packer pk;
    struct tb_buf *out;
    size_t out_len0; /* out->len when encoding began, restored on a validation error */
    const uint8_t *expect;
    size_t expect_len;
    size_t pos;       /* bytes produced so far */
    int err;          /* first error, TB_OK while none */
    const char *what; /* structure name for messages, e.g. "record.issue" */
    unsigned field;   /* current field (1-based) for messages; 0 = the array itself */
    const char *field_name;
    char *errmsg;
};

void wire_enc_init_buf(struct wire_enc *e, const char *what, struct tb_buf *out, char *errmsg);
void wire_enc_init_cmp(struct wire_enc *e, const char *what, const uint8_t *expect, size_t len,
                       char *errmsg);
/* Finishes: restores out on a validation error; in compare mode checks that all bytes were
 * produced and maps TB_EINVAL to TB_EMALFORMED (a decoded value that fails validation). */
TB_MUST_CHECK int wire_enc_finish(struct wire_enc *e);

/* Records an error (first one wins): "<what> field <n> (<name>): <text>". */
void wire_enc_fail(struct wire_enc *e, int code, const char *fmt, ...) TB_PRINTF(3, 4);
/* Sets the field that messages name. */
void wire_enc_field(struct wire_enc *e, unsigned field, const char *name);

void wire_put_array(struct wire_enc *e, size_t n);
void wire_put_map(struct wire_enc *e, size_t n);
void wire_put_uint(struct wire_enc *e, uint64_t v);
void wire_put_nil(struct wire_enc *e);
void wire_put_hash(struct wire_enc *e, const uint8_t *p, size_t len); /* fixed-size bin */
void wire_put_raw(struct wire_enc *e, const uint8_t *p, size_t len);  /* verbatim bytes */
/* bin of min..max bytes. */
void wire_put_bin(struct wire_enc *e, struct tb_bytes b, size_t min, size_t max);
/* str of min..max bytes of valid UTF-8. */
void wire_put_str(struct wire_enc *e, struct tb_bytes s, size_t min, size_t max);
/* A city code: 1..WIRE_CITY_BYTES_MAX bytes of [0-9A-Za-z_-]. */
void wire_put_city(struct wire_enc *e, struct tb_bytes s);
void wire_put_agency(struct wire_enc *e, struct tb_bytes s); /* [0-9A-Za-z_-], 1..64 */
/* A list of str sorted bytewise and unique, each 1..item_max bytes, count min..max. */
void wire_put_str_set(struct wire_enc *e, const struct tb_bytes *items, size_t count,
                      size_t count_min, size_t count_max, size_t item_max);

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
/* Bytewise order of two strings (memcmp, then the shorter first). */
int wire_bytes_cmp(struct tb_bytes a, struct tb_bytes b);

/*
 * Bounded pre-scan of one MessagePack object starting at data[pos]: checks every header against
 * the bytes that remain, the nesting depth and the element count of each array and map, without
 * recursion or allocation. *end gets the offset just past the object.
 */
TB_MUST_CHECK int wire_scan(const uint8_t *data, size_t len, size_t pos, unsigned depth_max,
                            uint32_t count_max, size_t *end, const char *what, char *errmsg);

/*
 * The pre-scan's element bound for fixed-shape structures: above every field count, so that
 * "one field too many" is reported by the converter as TB_EMALFORMED, not as a limit.
 */
#define WIRE_FIELDS_MAX 16u
_Static_assert(WIRE_FIELDS_MAX <= WIRE_TX_SIGS_MAX, "the envelope's bound covers its 3 fields");

/* The decoder: the pre-scan, then msgpack_unpack_next, then typed getters. */
struct wire_dec
{
    const uint8_t *data;
    size_t len;
    const char *what;
    char *errmsg;
    int err; /* first error */
    bool unpacked;
    msgpack_unpacked up;
};

/* Checks size (TB_ELIMIT over bytes_max), pre-scans, unpacks; on success d->up.data is the root
 * and wire_dec_end must be called. On failure nothing needs releasing. */
TB_MUST_CHECK int wire_dec_begin(struct wire_dec *d, const char *what, const uint8_t *data,
                                 size_t len, size_t bytes_max, uint32_t count_max, char *errmsg);
void wire_dec_end(struct wire_dec *d);

void wire_dec_fail(struct wire_dec *d, int code, unsigned field, const char *name, const char *fmt,
                   ...) TB_PRINTF(5, 6);

/* The items of an array of exactly n elements, or NULL after recording an error. field/name
 * name the array for messages (0/NULL for the structure itself). */
const msgpack_object *wire_get_array(struct wire_dec *d, const msgpack_object *o, size_t n,
                                     unsigned field, const char *name);
/* The items of an array of at most max elements (TB_ELIMIT above), count in *n. */
const msgpack_object *wire_get_list(struct wire_dec *d, const msgpack_object *o, size_t max,
                                    size_t *n, unsigned field, const char *name);
void wire_get_uint(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                   uint64_t *out);
/* A uint that must fit in 32 bits (TB_ELIMIT above). */
void wire_get_u32(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  uint32_t *out);
void wire_get_bin(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  struct tb_bytes *out);
void wire_get_hash(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                   uint8_t *out, size_t len);
void wire_get_str(struct wire_dec *d, const msgpack_object *o, unsigned field, const char *name,
                  struct tb_bytes *out);
/* An array of at most max str items into items[] (TB_ELIMIT above max). */
void wire_get_str_list(struct wire_dec *d, const msgpack_object *o, struct tb_bytes *items,
                       size_t max, size_t *count, unsigned field, const char *name);
bool wire_is_nil(const msgpack_object *o);

/* A structure's converter (msgpack object -> struct) and encoder (struct -> packer). */
typedef void (*wire_conv_fn)(struct wire_dec *d, const msgpack_object *root, void *out);
typedef void (*wire_enc_fn)(struct wire_enc *e, const void *in);

/* The whole strict decode: begin, convert, re-encode in compare mode against the input, end. */
TB_MUST_CHECK int wire_decode_with(const char *what, const uint8_t *data, size_t len,
                                   size_t bytes_max, uint32_t count_max, wire_conv_fn conv,
                                   wire_enc_fn enc, void *out, char *errmsg);
/* The whole encode: validate and pack into out, then check the total against bytes_max. */
TB_MUST_CHECK int wire_encode_with(const char *what, size_t bytes_max, wire_enc_fn enc,
                                   const void *in, struct tb_buf *out, char *errmsg);

#endif
