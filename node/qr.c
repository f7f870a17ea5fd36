/*
 * node/qr: the credential URI codec and the QR renderers (qr.h, docs/credentials.md).
 *
 * The only file of the project that includes qrencode.h and png.h. It never does I/O:
 * PNGs go to memory through libpng's write callbacks, and every libpng allocation goes
 * through tb_malloc so that the allocation fault loop reaches libpng's error path too.
 * The URI parser reads at most QR_URI_LEN bytes and never copies the text into errmsg.
 */
#include "qr.h"

#include <errno.h>
#include <setjmp.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "tb_alloc.h"
#include "tb_assert.h"

#define QR_DATA_SYMBOLS (QR_URI_CHAIN_CHARS + QR_URI_RECORD_CHARS)
#define QR_CHECKED_SYMBOLS (QR_DATA_SYMBOLS + QR_URI_CHECK_CHARS)
#define QR_POS_CHAIN QR_URI_SCHEME_LEN
#define QR_POS_SEP (QR_POS_CHAIN + QR_URI_CHAIN_CHARS)
#define QR_POS_RECORD (QR_POS_SEP + 1)
#define QR_POS_CHECK (QR_POS_RECORD + QR_URI_RECORD_CHARS)
#define QR_HRP_MAX 16

_Static_assert(QR_URI_LEN == 80, "docs/credentials.md counts QR modules for 80 characters");
_Static_assert(QR_URI_CHAIN_CHARS * 5 >= QR_CHAIN_PREFIX_BYTES * 8, "chain field too short");
_Static_assert((QR_URI_CHAIN_CHARS - 1) * 5 < QR_CHAIN_PREFIX_BYTES * 8, "chain field too long");
_Static_assert(QR_URI_RECORD_CHARS * 5 >= QR_RECORD_ID_BYTES * 8, "record field too short");
_Static_assert((QR_URI_RECORD_CHARS - 1) * 5 < QR_RECORD_ID_BYTES * 8, "record field too long");
_Static_assert(QR_CHAIN_PREFIX_BYTES <= QR_CHAIN_ID_BYTES, "prefix longer than the chain id");
/* BIP 350 guarantees detection of up to 4 errors for bech32m strings up to 90 chars. */
_Static_assert(sizeof(QR_URI_HRP) - 1 + 1 + QR_CHECKED_SYMBOLS <= 90, "check guarantee lost");
_Static_assert(QR_POS_CHECK + QR_URI_CHECK_CHARS == QR_URI_LEN, "URI layout");

/* RFC 4648 base32: no 0, 1, 8 or 9, so O/0 and I/1 cannot be confused when typed. */
static const char qr_b32_alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* ---- the credential URI ---- */

/* Packs bytes MSB first into 5-bit symbols, zero-padding the last one. */
static void qr_bytes_to_symbols(const uint8_t *bytes, size_t len, uint8_t *symbols, size_t count)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t j = 0;

    TB_ASSERT(count == (len * 8 + 4) / 5);
    for (size_t i = 0; i < len; i++) {
        acc = ((acc << 8) | bytes[i]) & 0xFFFu; /* never more than 12 live bits */
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            symbols[j++] = (uint8_t)((acc >> bits) & 31u);
        }
    }
    if (bits > 0)
        symbols[j++] = (uint8_t)((acc << (5 - bits)) & 31u);
    TB_ASSERT(j == count);
}

/* Unpacks 5-bit symbols into bytes; TB_EMALFORMED when the padding bits are not zero. */
static int qr_symbols_to_bytes(const uint8_t *symbols, size_t count, uint8_t *bytes, size_t len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t j = 0;

    TB_ASSERT(count == (len * 8 + 4) / 5);
    for (size_t i = 0; i < count; i++) {
        TB_ASSERT(symbols[i] < 32);
        acc = ((acc << 5) | symbols[i]) & 0x1FFFu; /* never more than 12 live bits */
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            bytes[j++] = (uint8_t)((acc >> bits) & 0xFFu);
        }
    }
    TB_ASSERT(j == len);
    TB_ASSERT(bits < 5);
    /* One text per value: padding bits that are not zero would give a second spelling. */
    if ((acc & ((1u << bits) - 1u)) != 0)
        return TB_EMALFORMED;
    return TB_OK;
}

static uint32_t qr_polymod_step(uint32_t chk, uint8_t value)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t top = chk >> 25;

    TB_ASSERT(value < 32);
    chk = ((chk & 0x1ffffffu) << 5) ^ value;
    for (unsigned i = 0; i < 5; i++) {
        if ((top >> i) & 1u)
            chk ^= gen[i];
    }
    return chk;
}

uint32_t qr_bech32m_polymod(const char *hrp, const uint8_t *values, size_t count)
{
    size_t hrp_len = strnlen(hrp, QR_HRP_MAX + 1);
    uint32_t chk = 1;

    TB_ASSERT(hrp_len <= QR_HRP_MAX);
    TB_ASSERT(values != NULL || count == 0);
    /* hrp_expand: the high bits of each character, a zero, then the low bits. */
    for (size_t i = 0; i < hrp_len; i++)
        chk = qr_polymod_step(chk, (uint8_t)((unsigned char)hrp[i] >> 5));
    chk = qr_polymod_step(chk, 0);
    for (size_t i = 0; i < hrp_len; i++)
        chk = qr_polymod_step(chk, (uint8_t)((unsigned char)hrp[i] & 31u));
    for (size_t i = 0; i < count; i++)
        chk = qr_polymod_step(chk, values[i]);
    return chk;
}

void qr_uri_encode(const uint8_t chain_id[QR_CHAIN_ID_BYTES],
                   const uint8_t record_id[QR_RECORD_ID_BYTES], char out[QR_URI_SIZE])
{
    uint8_t values[QR_CHECKED_SYMBOLS];
    uint32_t mod;

    TB_ASSERT(chain_id != NULL);
    TB_ASSERT(record_id != NULL);
    qr_bytes_to_symbols(chain_id, QR_CHAIN_PREFIX_BYTES, values, QR_URI_CHAIN_CHARS);
    qr_bytes_to_symbols(record_id, QR_RECORD_ID_BYTES, values + QR_URI_CHAIN_CHARS,
                        QR_URI_RECORD_CHARS);
    /* BIP 350 create_checksum: polymod over the data and six zeros, xor the constant. */
    memset(values + QR_DATA_SYMBOLS, 0, QR_URI_CHECK_CHARS);
    mod = qr_bech32m_polymod(QR_URI_HRP, values, QR_CHECKED_SYMBOLS) ^ QR_BECH32M_CONST;
    for (unsigned i = 0; i < QR_URI_CHECK_CHARS; i++)
        values[QR_DATA_SYMBOLS + i] = (uint8_t)((mod >> (5 * (5 - i))) & 31u);
    TB_ASSERT(qr_bech32m_polymod(QR_URI_HRP, values, QR_CHECKED_SYMBOLS) == QR_BECH32M_CONST);

    memcpy(out, QR_URI_SCHEME, QR_URI_SCHEME_LEN);
    for (size_t i = 0; i < QR_URI_CHAIN_CHARS; i++)
        out[QR_POS_CHAIN + i] = qr_b32_alphabet[values[i]];
    out[QR_POS_SEP] = ':';
    for (size_t i = 0; i < QR_URI_RECORD_CHARS + QR_URI_CHECK_CHARS; i++)
        out[QR_POS_RECORD + i] = qr_b32_alphabet[values[QR_URI_CHAIN_CHARS + i]];
    out[QR_URI_LEN] = '\0';
}

/*
 * Copies text into upper (QR_URI_LEN bytes), upper-casing it when it is entirely
 * lowercase. Mixed case is refused, as BIP 173 does: a text that is partly lowercase was
 * edited by hand or damaged, and accepting it would give one value many spellings.
 */
static int qr_uri_fold_case(const char *text, char *upper, char *errmsg)
{
    int has_lower = 0;
    int has_upper = 0;

    TB_ASSERT(text != NULL);
    TB_ASSERT(upper != NULL);
    for (size_t i = 0; i < QR_URI_LEN; i++) {
        char c = text[i];
        has_lower |= (c >= 'a' && c <= 'z');
        has_upper |= (c >= 'A' && c <= 'Z');
        upper[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    if (has_lower && has_upper)
        return tb_fail(errmsg, TB_EMALFORMED, "credential mixes upper and lower case");
    return TB_OK;
}

static int qr_b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

/* Maps the symbol characters of an upper-cased URI to values (chain, record, check). */
static int qr_uri_symbols(const char *upper, uint8_t values[QR_CHECKED_SYMBOLS], char *errmsg)
{
    size_t k = 0;

    for (size_t i = QR_POS_CHAIN; i < QR_URI_LEN; i++) {
        int v;
        if (i == QR_POS_SEP)
            continue;
        v = qr_b32_value(upper[i]);
        if (v < 0)
            return tb_fail(errmsg, TB_EMALFORMED,
                           "credential character %zu is not in the base32 alphabet A-Z 2-7", i + 1);
        values[k++] = (uint8_t)v;
    }
    TB_ASSERT(k == QR_CHECKED_SYMBOLS);
    return TB_OK;
}

int qr_uri_parse(const char *text, size_t text_len, uint8_t chain_prefix_out[QR_CHAIN_PREFIX_BYTES],
                 uint8_t record_id_out[QR_RECORD_ID_BYTES], char *errmsg)
{
    char upper[QR_URI_LEN];
    uint8_t values[QR_CHECKED_SYMBOLS] = {0}; /* every one is written before it is read */
    int rv;

    TB_ASSERT(text != NULL || text_len == 0);
    TB_ASSERT(chain_prefix_out != NULL);
    TB_ASSERT(record_id_out != NULL);
    memset(chain_prefix_out, 0, QR_CHAIN_PREFIX_BYTES);
    memset(record_id_out, 0, QR_RECORD_ID_BYTES);
    if (text_len != QR_URI_LEN)
        return tb_fail(errmsg, TB_EMALFORMED, "credential must be %d characters, not %zu",
                       QR_URI_LEN, text_len);
    rv = qr_uri_fold_case(text, upper, errmsg);
    if (rv != TB_OK)
        return rv;
    if (memcmp(upper, QR_URI_SCHEME, QR_URI_SCHEME_LEN) != 0)
        return tb_fail(errmsg, TB_EMALFORMED, "not a tongban credential: it must start with %s",
                       QR_URI_SCHEME);
    if (upper[QR_POS_SEP] != ':')
        return tb_fail(errmsg, TB_EMALFORMED, "credential character %d must be ':'",
                       QR_POS_SEP + 1);
    rv = qr_uri_symbols(upper, values, errmsg);
    if (rv != TB_OK)
        return rv;
    if (qr_bech32m_polymod(QR_URI_HRP, values, QR_CHECKED_SYMBOLS) != QR_BECH32M_CONST)
        return tb_fail(errmsg, TB_EMALFORMED,
                       "credential check does not match: mistyped or damaged");
    /* Only a deliberately built text passes the check with padding bits set. */
    rv = qr_symbols_to_bytes(values, QR_URI_CHAIN_CHARS, chain_prefix_out, QR_CHAIN_PREFIX_BYTES);
    if (rv == TB_OK)
        rv = qr_symbols_to_bytes(values + QR_URI_CHAIN_CHARS, QR_URI_RECORD_CHARS, record_id_out,
                                 QR_RECORD_ID_BYTES);
    if (rv != TB_OK) {
        memset(chain_prefix_out, 0, QR_CHAIN_PREFIX_BYTES);
        memset(record_id_out, 0, QR_RECORD_ID_BYTES);
        return tb_fail(errmsg, TB_EMALFORMED, "credential has nonzero padding bits");
    }
    return TB_OK;
}

int qr_uri_chain_check(const uint8_t chain_prefix[QR_CHAIN_PREFIX_BYTES],
                       const uint8_t chain_id[QR_CHAIN_ID_BYTES], char *errmsg)
{
    TB_ASSERT(chain_prefix != NULL);
    TB_ASSERT(chain_id != NULL);
    /* Public values: no constant-time compare needed. */
    if (memcmp(chain_prefix, chain_id, QR_CHAIN_PREFIX_BYTES) != 0)
        return tb_fail(errmsg, TB_EINVAL, "credential belongs to another federation");
    return TB_OK;
}

/* ---- QR encoding ---- */

/*
 * Encodes text at level M. Level M (15 % of codewords recoverable) rather than Q keeps the
 * 80-character URI at version 4 (Q needs version 5): for a given printed or on-screen size
 * the larger modules of the smaller version help a phone camera more than the extra
 * redundancy, and the URI's own check refuses any misread that gets through.
 * QR_MODE_8 with case sensitivity lets libqrencode pick the optimal segment modes, so an
 * uppercase URI is encoded in alphanumeric mode.
 */
static int qr_encode(const char *text, QRcode **out, char *errmsg)
{
    size_t len = strnlen(text, QR_TEXT_BYTES_MAX + 1);
    QRcode *qr;

    TB_ASSERT(out != NULL);
    *out = NULL;
    if (len == 0)
        return tb_fail(errmsg, TB_EINVAL, "qr: empty text");
    if (len > QR_TEXT_BYTES_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "qr: text longer than %d bytes", QR_TEXT_BYTES_MAX);
    errno = 0;
    qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        if (errno == ENOMEM)
            return tb_fail(errmsg, TB_ENOMEM, "qr: libqrencode out of memory");
        if (errno == ERANGE)
            return tb_fail(errmsg, TB_ELIMIT, "qr: text too long for a QR code");
        return tb_fail(errmsg, TB_EINVAL, "qr: libqrencode refused the text (errno %d)", errno);
    }
    TB_ASSERT(qr->version >= 1);
    TB_ASSERT(qr->width == 17 + 4 * qr->version);
    if (qr->version > QR_VERSION_MAX) {
        int version = qr->version;
        QRcode_free(qr);
        return tb_fail(errmsg, TB_ELIMIT, "qr: text needs QR version %d, above the limit %d",
                       version, QR_VERSION_MAX);
    }
    *out = qr;
    return TB_OK;
}

static int qr_dark(const QRcode *qr, unsigned x, unsigned y)
{
    unsigned width = (unsigned)qr->width;
    TB_ASSERT(x < width);
    TB_ASSERT(y < width);
    return (qr->data[(size_t)y * width + x] & 1u) != 0; /* bit 0 of each byte: dark module */
}

/* ---- PNG ---- */

/* What libpng's callbacks share with the caller; lives in qr_png_render's frame. */
struct qr_png_sink
{
    struct tb_buf *out;
    int rv; /* the first failure a callback saw; TB_OK otherwise */
    char *errmsg;
};

/* The geometry of one image, all in bounds checked by qr_png. */
struct qr_png_geometry
{
    unsigned modules;   /* modules per side of the symbol */
    unsigned margin;    /* quiet zone, modules */
    unsigned module_px; /* pixels per module side */
    unsigned side_px;   /* (modules + 2 * margin) * module_px */
    size_t row_bytes;   /* 1 bit per pixel */
};

static void qr_png_error_cb(png_structp png, png_const_charp msg)
{
    struct qr_png_sink *sink = png_get_error_ptr(png);

    TB_ASSERT(sink != NULL);
    if (sink->rv == TB_OK)
        sink->rv = TB_EIO;
    if (sink->errmsg != NULL)
        tb_errmsg_setf(sink->errmsg, "qr: libpng: %s", msg);
    /* Must not return: libpng would fall back to its own handler. */
    png_longjmp(png, 1);
}

static void qr_png_warning_cb(png_structp png, png_const_charp msg)
{
    /* A warning never changes the output we ask for; nothing to log from here. */
    (void)png;
    (void)msg;
}

static png_voidp qr_png_malloc_cb(png_structp png, png_alloc_size_t size)
{
    struct qr_png_sink *sink = png_get_mem_ptr(png);
    void *ptr = tb_malloc(size);

    TB_ASSERT(sink != NULL);
    if (ptr == NULL && sink->rv == TB_OK)
        sink->rv = TB_ENOMEM; /* libpng then raises "Out of memory" through the error cb */
    return ptr;
}

static void qr_png_free_cb(png_structp png, png_voidp ptr)
{
    (void)png;
    tb_free(ptr);
}

static void qr_png_write_cb(png_structp png, png_bytep data, size_t len)
{
    struct qr_png_sink *sink = png_get_io_ptr(png);
    int rv;

    TB_ASSERT(sink != NULL);
    TB_ASSERT(sink->out->len <= QR_PNG_BYTES_MAX);
    if (len > QR_PNG_BYTES_MAX - sink->out->len) {
        sink->rv = TB_ELIMIT;
        png_error(png, "image larger than QR_PNG_BYTES_MAX");
    }
    rv = tb_buf_append(sink->out, data, len);
    if (rv != TB_OK) {
        sink->rv = rv;
        png_error(png, rv == TB_ELIMIT ? "image larger than the output buffer allows"
                                       : "out of memory for the image");
    }
}

static void qr_png_flush_cb(png_structp png)
{
    (void)png; /* memory sink: nothing to flush */
}

/* One pixel row of module row r (quiet zone included): 1 bits are white. */
static void qr_png_fill_row(const QRcode *qr, const struct qr_png_geometry *g, unsigned r,
                            uint8_t *row)
{
    memset(row, 0xFF, g->row_bytes);
    if (r < g->margin || r >= g->margin + g->modules)
        return;
    for (unsigned x = 0; x < g->modules; x++) {
        if (!qr_dark(qr, x, r - g->margin))
            continue;
        for (unsigned p = 0; p < g->module_px; p++) {
            unsigned bit = (g->margin + x) * g->module_px + p;
            TB_ASSERT(bit < g->side_px);
            row[bit >> 3] &= (uint8_t) ~(0x80u >> (bit & 7u));
        }
    }
}

/* Everything that may call png_error; runs under qr_png_emit's setjmp. */
static void qr_png_write_image(png_structp png, png_infop info, const QRcode *qr,
                               const struct qr_png_geometry *g, uint8_t *row,
                               struct qr_png_sink *sink)
{
    unsigned rows = g->modules + 2 * g->margin;

    png_set_write_fn(png, sink, qr_png_write_cb, qr_png_flush_cb);
    png_set_IHDR(png, info, g->side_px, g->side_px, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Filters only cost time on a 1-bit image whose rows repeat. */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (unsigned r = 0; r < rows; r++) {
        qr_png_fill_row(qr, g, r, row);
        for (unsigned rep = 0; rep < g->module_px; rep++)
            png_write_row(png, row);
    }
    png_write_end(png, NULL);
}

/*
 * The setjmp frame for libpng's errors. It holds no local variable at all, so nothing can
 * be clobbered by the longjmp: the parameters are never modified, and what the callbacks
 * report lives in *sink, which is memory the compiler must reload after the jump. (Had
 * this function a local modified after setjmp and read after the jump, that local would
 * have to be volatile; keeping the work in qr_png_write_image avoids the question.)
 * The jump buffer dies with this frame, so no libpng call that can raise an error may
 * follow it: the caller only destroys the structs, which never raises one.
 */
static int qr_png_emit(png_structp png, png_infop info, const QRcode *qr,
                       const struct qr_png_geometry *g, uint8_t *row, struct qr_png_sink *sink)
{
    if (setjmp(png_jmpbuf(png)) != 0) {
        TB_ASSERT(sink->rv != TB_OK);
        return sink->rv;
    }
    qr_png_write_image(png, info, qr, g, row, sink);
    TB_ASSERT(sink->rv == TB_OK);
    return TB_OK;
}

static int qr_png_render(const QRcode *qr, const struct qr_png_geometry *g, struct tb_buf *out,
                         char *errmsg)
{
    struct qr_png_sink sink = {.out = out, .rv = TB_OK, .errmsg = errmsg};
    png_structp png;
    png_infop info;
    uint8_t *row;
    int rv;

    row = tb_malloc(g->row_bytes);
    if (row == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "qr: out of memory for a PNG row");
    png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &sink, qr_png_error_cb,
                                    qr_png_warning_cb, &sink, qr_png_malloc_cb, qr_png_free_cb);
    if (png == NULL) {
        tb_free(row);
        return tb_fail(errmsg, TB_ENOMEM, "qr: libpng could not create a write struct");
    }
    info = png_create_info_struct(png);
    if (info == NULL) {
        rv = tb_fail(errmsg, TB_ENOMEM, "qr: libpng could not create an info struct");
    } else {
        rv = qr_png_emit(png, info, qr, g, row, &sink);
    }
    png_destroy_write_struct(&png, info != NULL ? &info : NULL);
    tb_free(row);
    return rv;
}

int qr_png(const char *text, unsigned module_px, unsigned margin_modules, struct tb_buf *out,
           char *errmsg)
{
    struct qr_png_geometry g;
    QRcode *qr;
    int rv;

    TB_ASSERT(text != NULL);
    TB_ASSERT(out != NULL);
    tb_buf_release(out);
    if (module_px < 1 || module_px > QR_MODULE_PX_MAX)
        return tb_fail(errmsg, TB_EINVAL, "qr: module size %u px outside 1..%d", module_px,
                       QR_MODULE_PX_MAX);
    if (margin_modules > QR_MARGIN_MODULES_MAX)
        return tb_fail(errmsg, TB_EINVAL, "qr: margin %u modules above %d", margin_modules,
                       QR_MARGIN_MODULES_MAX);
    rv = qr_encode(text, &qr, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(qr != NULL);
    g.modules = (unsigned)qr->width;
    g.margin = margin_modules;
    g.module_px = module_px;
    g.side_px = (g.modules + 2 * g.margin) * g.module_px;
    g.row_bytes = ((size_t)g.side_px + 7) / 8;
    TB_ASSERT(g.side_px <=
              (17 + 4 * QR_VERSION_MAX + 2 * QR_MARGIN_MODULES_MAX) * QR_MODULE_PX_MAX);
    rv = qr_png_render(qr, &g, out, errmsg);
    QRcode_free(qr);
    if (rv != TB_OK)
        tb_buf_release(out);
    if (rv == TB_OK)
        TB_ASSERT(out->len > 8);
    return rv;
}

/* ---- terminal ---- */

/* Whether module (x, y) of the bordered symbol gets a block; past any edge is quiet zone. */
static int qr_term_ink(const QRcode *qr, unsigned x, unsigned y, unsigned flags)
{
    unsigned m = QR_TERM_MARGIN_MODULES;
    unsigned width = (unsigned)qr->width;
    int dark = 0;

    if (x >= m && x < m + width && y >= m && y < m + width)
        dark = qr_dark(qr, x - m, y - m);
    return (flags & QR_TERM_INVERT) ? dark : !dark;
}

static int qr_term_render(const QRcode *qr, unsigned flags, struct tb_buf *out)
{
    static const char *const glyphs[4] = {" ", "\xE2\x96\x84", "\xE2\x96\x80", "\xE2\x96\x88"};
    unsigned side = (unsigned)qr->width + 2 * QR_TERM_MARGIN_MODULES;
    unsigned lines = (side + 1) / 2;
    int rv;

    TB_ASSERT(side % 2 == 1); /* QR widths are odd: the last line has a half row */
    rv = tb_buf_reserve(out, (size_t)lines * ((size_t)side * 3 + 1));
    if (rv != TB_OK)
        return rv;
    for (unsigned line = 0; line < lines; line++) {
        for (unsigned x = 0; x < side; x++) {
            int top = qr_term_ink(qr, x, 2 * line, flags);
            int bottom = qr_term_ink(qr, x, 2 * line + 1, flags);
            const char *glyph = glyphs[top * 2 + bottom];
            rv = tb_buf_append(out, glyph, strlen(glyph));
            if (rv != TB_OK)
                return rv;
        }
        rv = tb_buf_append_byte(out, '\n');
        if (rv != TB_OK)
            return rv;
    }
    return TB_OK;
}

int qr_terminal(const char *text, unsigned flags, struct tb_buf *out, char *errmsg)
{
    QRcode *qr;
    int rv;

    TB_ASSERT(text != NULL);
    TB_ASSERT(out != NULL);
    tb_buf_release(out);
    if ((flags & ~(unsigned)QR_TERM_INVERT) != 0)
        return tb_fail(errmsg, TB_EINVAL, "qr: unknown terminal flags 0x%x", flags);
    rv = qr_encode(text, &qr, errmsg);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(qr != NULL);
    rv = qr_term_render(qr, flags, out);
    QRcode_free(qr);
    if (rv != TB_OK) {
        tb_buf_release(out);
        return tb_fail(errmsg, rv, "qr: terminal rendering: %s", tb_strerror(rv));
    }
    return TB_OK;
}
