/*
 * Signed agency requests (cr_httpsig.h): the RFC 8941 subset that Signature-Input and
 * Signature need, the RFC 9421 signature base, Content-Digest (RFC 9530), the signer, the
 * verifier and the bounded replay cache.
 *
 * It must never read a clock, never accept a serialisation that does not re-serialise to
 * the same bytes, never read past a length it was given, and never record a nonce before
 * the signature over it has verified (so unsigned traffic cannot fill the replay cache).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cr_httpsig.h"
#include "tb_alloc.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define SF_INTEGER_DIGITS_MAX 15
/* Path, query, two fields and the parameters, with room to spare. */
#define BASE_MAX (16 * 1024)
#define METHOD_MAX 16
#define AGENCY_FIELD_MAX (CR_HTTPSIG_CITY_MAX + 1 + CR_HTTPSIG_AGENCY_MAX)
#define PROFILE_COMPONENT_COUNT 5
#define PARAM_COUNT 5

_Static_assert(TB_BASE64_ENCODED_SIZE(CR_HTTPSIG_NONCE_MAX_BYTES) <= CR_HTTPSIG_NONCE_MAX + 1,
               "the largest nonce must fit its text");
_Static_assert(2 * CR_HASH_BYTES == CR_HTTPSIG_KEYID_MAX, "keyid is the hex of a key id");
_Static_assert(PROFILE_COMPONENT_COUNT <= CR_HTTPSIG_COMPONENTS_MAX, "profile fits the parser");
_Static_assert(AGENCY_FIELD_MAX < CR_HTTPSIG_FIELD_MAX, "the agency field fits a field");
_Static_assert(CR_HTTPSIG_P_ALG == 1 << (PARAM_COUNT - 1), "one flag per parameter, in order");

/* The covered components, in the order the profile fixes. */
static const char *const profile_components[PROFILE_COMPONENT_COUNT] = {
    "@method", "@path", "@query", "content-digest", "tongban-agency",
};

/* The parameters, in the order the profile fixes (and the parser enforces). */
static const char *const param_names[PARAM_COUNT] = {"created", "expires", "nonce", "keyid", "alg"};

/* ---- RFC 8941 subset: a cursor over one field value ---- */

struct sf_cursor
{
    const char *text;
    size_t len;
    size_t pos;
    char *errmsg;
};

static int sf_peek(const struct sf_cursor *c)
{
    return c->pos < c->len ? (unsigned char)c->text[c->pos] : -1;
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_lcalpha(int ch)
{
    return ch >= 'a' && ch <= 'z';
}

static int sf_expect(struct sf_cursor *c, char want, const char *what)
{
    TB_ASSERT(c->pos <= c->len);
    if (sf_peek(c) != (unsigned char)want)
        return tb_fail(c->errmsg, TB_EMALFORMED, "expected '%c' %s at offset %zu", want, what,
                       c->pos);
    c->pos++;
    return TB_OK;
}

/* sf-key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ); out has max+1. */
static int sf_key(struct sf_cursor *c, char *out, size_t max)
{
    size_t n = 0;
    int ch = sf_peek(c);

    TB_ASSERT(max > 0);
    TB_ASSERT(c->pos <= c->len);
    if (!is_lcalpha(ch) && ch != '*')
        return tb_fail(c->errmsg, TB_EMALFORMED, "expected a key at offset %zu", c->pos);
    while ((ch = sf_peek(c)) != -1 &&
           (is_lcalpha(ch) || is_digit(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '*')) {
        if (n == max)
            return tb_fail(c->errmsg, TB_EMALFORMED, "key longer than %zu characters", max);
        out[n++] = (char)ch;
        c->pos++;
    }
    out[n] = '\0';
    return TB_OK;
}

/* sf-string with only the \" and \\ escapes; out has max+1 bytes and never holds a NUL. */
static int sf_string(struct sf_cursor *c, char *out, size_t max, const char *what)
{
    size_t n = 0;
    int rv = sf_expect(c, '"', what);

    TB_ASSERT(max > 0);
    if (rv != TB_OK)
        return rv;
    for (;;) {
        int ch = sf_peek(c);
        if (ch == -1)
            return tb_fail(c->errmsg, TB_EMALFORMED, "unterminated string (%s)", what);
        c->pos++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            ch = sf_peek(c);
            if (ch != '"' && ch != '\\')
                return tb_fail(c->errmsg, TB_EMALFORMED, "bad escape at offset %zu", c->pos);
            c->pos++;
        } else if (ch < 0x20 || ch > 0x7e) {
            return tb_fail(c->errmsg, TB_EMALFORMED, "byte 0x%02x not allowed in a string", ch);
        }
        if (n == max)
            return tb_fail(c->errmsg, TB_EMALFORMED, "%s longer than %zu characters", what, max);
        out[n++] = (char)ch;
    }
    TB_ASSERT(n <= max);
    out[n] = '\0';
    return TB_OK;
}

/* sf-integer, restricted to the canonical non-negative form. */
static int sf_integer(struct sf_cursor *c, int64_t *out)
{
    size_t start = c->pos, digits = 0;
    int64_t v = 0;
    int ch;

    if (sf_peek(c) == '-')
        return tb_fail(c->errmsg, TB_EMALFORMED, "negative integer at offset %zu", c->pos);
    while (is_digit(ch = sf_peek(c))) {
        if (digits == SF_INTEGER_DIGITS_MAX)
            return tb_fail(c->errmsg, TB_EMALFORMED, "integer longer than 15 digits");
        v = v * 10 + (ch - '0');
        digits++;
        c->pos++;
    }
    if (digits == 0)
        return tb_fail(c->errmsg, TB_EMALFORMED, "expected an integer at offset %zu", c->pos);
    if (digits > 1 && c->text[start] == '0')
        return tb_fail(c->errmsg, TB_EMALFORMED, "integer with a leading zero");
    if (sf_peek(c) == '.')
        return tb_fail(c->errmsg, TB_EMALFORMED, "decimal where an integer is expected");
    TB_ASSERT(v >= 0);
    *out = v;
    return TB_OK;
}

/* ---- Signature-Input ---- */

static int input_parse_list(struct sf_cursor *c, struct cr_httpsig_input *out)
{
    int rv = sf_expect(c, '(', "to open the component list");

    if (rv != TB_OK)
        return rv;
    if (sf_peek(c) == ')') {
        c->pos++;
        return TB_OK;
    }
    for (;;) {
        size_t n = out->component_count;
        if (n == CR_HTTPSIG_COMPONENTS_MAX)
            return tb_fail(c->errmsg, TB_EMALFORMED, "more than %d covered components",
                           CR_HTTPSIG_COMPONENTS_MAX);
        rv = sf_string(c, out->components[n], CR_HTTPSIG_NAME_MAX, "component name");
        if (rv != TB_OK)
            return rv;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(out->components[i], out->components[n]) == 0)
                return tb_fail(c->errmsg, TB_EMALFORMED, "component \"%s\" listed twice",
                               out->components[n]);
        }
        out->component_count = n + 1;
        if (sf_peek(c) == ')') {
            c->pos++;
            return TB_OK;
        }
        rv = sf_expect(c, ' ', "between components");
        if (rv != TB_OK)
            return rv;
    }
}

static int input_parse_value(struct sf_cursor *c, size_t which, struct cr_httpsig_input *out)
{
    TB_ASSERT(which < PARAM_COUNT);
    switch (which) {
    case 0:
        return sf_integer(c, &out->created_s);
    case 1:
        return sf_integer(c, &out->expires_s);
    case 2:
        return sf_string(c, out->nonce, CR_HTTPSIG_NONCE_MAX, "nonce");
    case 3:
        return sf_string(c, out->keyid, CR_HTTPSIG_KEYID_MAX, "keyid");
    default:
        return sf_string(c, out->alg, CR_HTTPSIG_ALG_MAX, "alg");
    }
}

static int input_parse_params(struct sf_cursor *c, struct cr_httpsig_input *out)
{
    size_t next = 0; /* the first parameter index still allowed */

    /* Bounded: each round either fails or raises `next`, which stops at PARAM_COUNT. */
    while (sf_peek(c) == ';') {
        char key[CR_HTTPSIG_LABEL_MAX + 1];
        size_t i = 0;
        int rv;

        c->pos++;
        rv = sf_key(c, key, CR_HTTPSIG_LABEL_MAX);
        if (rv != TB_OK)
            return rv;
        while (i < PARAM_COUNT && strcmp(key, param_names[i]) != 0)
            i++;
        if (i == PARAM_COUNT)
            return tb_fail(c->errmsg, TB_EMALFORMED, "unknown parameter \"%s\"", key);
        if (out->present & (1u << i))
            return tb_fail(c->errmsg, TB_EMALFORMED, "duplicate parameter \"%s\"", key);
        if (i < next)
            return tb_fail(c->errmsg, TB_EMALFORMED,
                           "parameter \"%s\" out of order (created, expires, nonce, keyid, alg)",
                           key);
        if (sf_peek(c) != '=')
            return tb_fail(c->errmsg, TB_EMALFORMED, "parameter \"%s\" without a value", key);
        c->pos++;
        rv = input_parse_value(c, i, out);
        if (rv != TB_OK)
            return rv;
        out->present |= 1u << i;
        next = i + 1;
        TB_ASSERT(next <= PARAM_COUNT);
    }
    return TB_OK;
}

static int trailing_fail(const struct sf_cursor *c)
{
    TB_ASSERT(c->pos < c->len);
    if (c->text[c->pos] == ',')
        return tb_fail(c->errmsg, TB_EMALFORMED, "more than one signature label");
    return tb_fail(c->errmsg, TB_EMALFORMED, "unexpected byte 0x%02x at offset %zu",
                   (unsigned char)c->text[c->pos], c->pos);
}

int cr_httpsig_input_parse(const char *text, size_t len, struct cr_httpsig_input *out, char *errmsg)
{
    struct sf_cursor c = {text, len, 0, errmsg};
    int rv;

    TB_ASSERT(text != NULL || len == 0);
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (len > CR_HTTPSIG_FIELD_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "Signature-Input longer than %d bytes",
                       CR_HTTPSIG_FIELD_MAX);
    rv = sf_key(&c, out->label, CR_HTTPSIG_LABEL_MAX);
    if (rv == TB_OK)
        rv = sf_expect(&c, '=', "after the label");
    if (rv == TB_OK)
        rv = input_parse_list(&c, out);
    if (rv == TB_OK)
        rv = input_parse_params(&c, out);
    if (rv == TB_OK && c.pos != c.len)
        rv = trailing_fail(&c);
    TB_ASSERT(out->component_count <= CR_HTTPSIG_COMPONENTS_MAX);
    return rv;
}

static int buf_str(struct tb_buf *b, const char *s)
{
    return tb_buf_append(b, s, strlen(s));
}

static int sf_string_serialise(struct tb_buf *b, const char *s)
{
    int rv = tb_buf_append_byte(b, '"');
    size_t n = strlen(s);

    for (size_t i = 0; rv == TB_OK && i < n; i++) {
        TB_ASSERT((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e);
        if (s[i] == '"' || s[i] == '\\')
            rv = tb_buf_append_byte(b, '\\');
        if (rv == TB_OK)
            rv = tb_buf_append_byte(b, (uint8_t)s[i]);
    }
    return rv == TB_OK ? tb_buf_append_byte(b, '"') : rv;
}

static int sf_integer_serialise(struct tb_buf *b, const char *name, int64_t v)
{
    char text[48];
    int n = snprintf(text, sizeof(text), ";%s=%" PRId64, name, v);

    TB_ASSERT(v >= 0);
    TB_ASSERT(n > 0 && (size_t)n < sizeof(text));
    return tb_buf_append(b, text, (size_t)n);
}

static int string_param_serialise(struct tb_buf *b, const char *name, const char *value)
{
    int rv = tb_buf_append_byte(b, ';');
    if (rv == TB_OK)
        rv = buf_str(b, name);
    if (rv == TB_OK)
        rv = tb_buf_append_byte(b, '=');
    return rv == TB_OK ? sf_string_serialise(b, value) : rv;
}

int cr_httpsig_params_serialise(const struct cr_httpsig_input *in, struct tb_buf *out)
{
    int rv = tb_buf_append_byte(out, '(');

    TB_ASSERT(in->component_count <= CR_HTTPSIG_COMPONENTS_MAX);
    TB_ASSERT((in->present & ~(uint32_t)((1u << PARAM_COUNT) - 1)) == 0);
    for (size_t i = 0; rv == TB_OK && i < in->component_count; i++) {
        if (i > 0)
            rv = tb_buf_append_byte(out, ' ');
        if (rv == TB_OK)
            rv = sf_string_serialise(out, in->components[i]);
    }
    if (rv == TB_OK)
        rv = tb_buf_append_byte(out, ')');
    if (rv == TB_OK && (in->present & CR_HTTPSIG_P_CREATED))
        rv = sf_integer_serialise(out, "created", in->created_s);
    if (rv == TB_OK && (in->present & CR_HTTPSIG_P_EXPIRES))
        rv = sf_integer_serialise(out, "expires", in->expires_s);
    if (rv == TB_OK && (in->present & CR_HTTPSIG_P_NONCE))
        rv = string_param_serialise(out, "nonce", in->nonce);
    if (rv == TB_OK && (in->present & CR_HTTPSIG_P_KEYID))
        rv = string_param_serialise(out, "keyid", in->keyid);
    if (rv == TB_OK && (in->present & CR_HTTPSIG_P_ALG))
        rv = string_param_serialise(out, "alg", in->alg);
    return rv;
}

int cr_httpsig_input_serialise(const struct cr_httpsig_input *in, struct tb_buf *out)
{
    int rv;

    TB_ASSERT(in != NULL);
    TB_ASSERT(in->label[0] != '\0');
    rv = buf_str(out, in->label);
    if (rv == TB_OK)
        rv = tb_buf_append_byte(out, '=');
    return rv == TB_OK ? cr_httpsig_params_serialise(in, out) : rv;
}

/* ---- Signature ---- */

static int is_base64_char(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || is_lcalpha(ch) || is_digit(ch) || ch == '+' || ch == '/' ||
           ch == '=';
}

int cr_httpsig_signature_parse(const char *text, size_t len, char *label, uint8_t sig[CR_SIG_MAX],
                               size_t *sig_len, char *errmsg)
{
    struct sf_cursor c = {text, len, 0, errmsg};
    size_t start, n;
    int rv;

    TB_ASSERT(text != NULL || len == 0);
    TB_ASSERT(label != NULL && sig != NULL && sig_len != NULL);
    label[0] = '\0';
    *sig_len = 0;
    if (len > CR_HTTPSIG_FIELD_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "Signature longer than %d bytes",
                       CR_HTTPSIG_FIELD_MAX);
    rv = sf_key(&c, label, CR_HTTPSIG_LABEL_MAX);
    if (rv == TB_OK)
        rv = sf_expect(&c, '=', "after the label");
    if (rv == TB_OK)
        rv = sf_expect(&c, ':', "to open the signature");
    if (rv != TB_OK)
        return rv;
    start = c.pos;
    while (sf_peek(&c) != -1 && sf_peek(&c) != ':') {
        if (!is_base64_char(sf_peek(&c)))
            return tb_fail(errmsg, TB_EMALFORMED, "byte 0x%02x not allowed in base64", sf_peek(&c));
        c.pos++;
    }
    n = c.pos - start;
    rv = sf_expect(&c, ':', "to close the signature");
    if (rv != TB_OK)
        return rv;
    if (n == 0 || n > 4 * ((CR_SIG_MAX + 2) / 3))
        return tb_fail(errmsg, TB_EMALFORMED, "signature of %zu base64 characters", n);
    if (tb_base64_decode(text + start, n, sig, CR_SIG_MAX, sig_len) != TB_OK || *sig_len == 0)
        return tb_fail(errmsg, TB_EMALFORMED, "signature is not canonical padded base64");
    return c.pos == c.len ? TB_OK : trailing_fail(&c);
}

int cr_httpsig_signature_serialise(const char *label, const uint8_t *sig, size_t sig_len,
                                   struct tb_buf *out)
{
    char text[TB_BASE64_ENCODED_SIZE(CR_SIG_MAX)];
    int rv;

    TB_ASSERT(sig_len > 0);
    TB_ASSERT(sig_len <= CR_SIG_MAX);
    tb_base64_encode(sig, sig_len, text);
    rv = buf_str(out, label);
    if (rv == TB_OK)
        rv = buf_str(out, "=:");
    if (rv == TB_OK)
        rv = buf_str(out, text);
    return rv == TB_OK ? tb_buf_append_byte(out, ':') : rv;
}

/* ---- The signature base ---- */

static int text_is_visible(const char *s, size_t n, int space_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > 0x7e || ch < 0x20 || (ch == 0x20 && !space_ok))
            return 0;
    }
    return 1;
}

int cr_httpsig_base(const struct cr_httpsig_input *in, const char *const *values,
                    struct tb_buf *out)
{
    int rv = TB_OK;

    TB_ASSERT(in != NULL);
    TB_ASSERT(in->component_count == 0 || values != NULL);
    for (size_t i = 0; i < in->component_count; i++) {
        if (!text_is_visible(values[i], strlen(values[i]), 1))
            return TB_EMALFORMED;
    }
    for (size_t i = 0; rv == TB_OK && i < in->component_count; i++) {
        rv = sf_string_serialise(out, in->components[i]);
        if (rv == TB_OK)
            rv = buf_str(out, ": ");
        if (rv == TB_OK)
            rv = buf_str(out, values[i]);
        if (rv == TB_OK)
            rv = tb_buf_append_byte(out, '\n');
    }
    if (rv == TB_OK)
        rv = buf_str(out, "\"@signature-params\": ");
    return rv == TB_OK ? cr_httpsig_params_serialise(in, out) : rv;
}

/* ---- The profile ---- */

static const char *suite_alg(enum cr_suite suite)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    return suite == CR_SUITE_ED25519_SHA256 ? CR_HTTPSIG_ALG_ED25519 : CR_HTTPSIG_ALG_SM2;
}

/* RFC 9530 token: sha-256 is registered; sm3 is ours (docs/authentication.md). */
static const char *digest_token(enum cr_suite suite)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    return suite == CR_SUITE_ED25519_SHA256 ? "sha-256" : "sm3";
}

static void digest_text(enum cr_suite suite, const uint8_t *body, size_t body_len,
                        char out[CR_HTTPSIG_DIGEST_TEXT_SIZE])
{
    uint8_t digest[CR_HASH_BYTES];
    char b64[TB_BASE64_ENCODED_SIZE(CR_HASH_BYTES)];
    int n;

    TB_ASSERT(body != NULL || body_len == 0);
    cr_hash(suite, body_len > 0 ? (const void *)body : "", body_len, digest);
    tb_base64_encode(digest, sizeof(digest), b64);
    n = snprintf(out, CR_HTTPSIG_DIGEST_TEXT_SIZE, "%s=:%s:", digest_token(suite), b64);
    TB_ASSERT(n > 0 && n < CR_HTTPSIG_DIGEST_TEXT_SIZE);
}

static int city_ok(const char *s, size_t n)
{
    if (n == 0 || n > CR_HTTPSIG_CITY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!is_digit(ch) && !is_lcalpha(ch) && !(ch >= 'A' && ch <= 'Z') && ch != '_' && ch != '-')
            return 0;
    }
    return 1;
}

static int agency_ok(const char *s, size_t n)
{
    return n > 0 && n <= CR_HTTPSIG_AGENCY_MAX && text_is_visible(s, n, 0);
}

/* Method, path, query and body as the profile allows them; `code` on failure. */
static int request_check(const struct cr_httpsig_request *req, int code, char *errmsg)
{
    size_t n;

    TB_ASSERT(req != NULL);
    TB_ASSERT(code < 0);
    if (req->method == NULL || req->path == NULL)
        return tb_fail(errmsg, code, "request without a method or a path");
    n = strnlen(req->method, METHOD_MAX + 1);
    if (n == 0 || n > METHOD_MAX)
        return tb_fail(errmsg, code, "method must be 1..%d characters", METHOD_MAX);
    for (size_t i = 0; i < n; i++) {
        if (req->method[i] < 'A' || req->method[i] > 'Z')
            return tb_fail(errmsg, code, "method must be upper-case letters");
    }
    n = strnlen(req->path, CR_HTTPSIG_PATH_MAX + 1);
    if (n == 0 || n > CR_HTTPSIG_PATH_MAX || req->path[0] != '/' ||
        !text_is_visible(req->path, n, 0))
        return tb_fail(errmsg, code, "path must be '/' then up to %d visible ASCII characters",
                       CR_HTTPSIG_PATH_MAX - 1);
    if (req->query != NULL) {
        n = strnlen(req->query, CR_HTTPSIG_QUERY_MAX + 1);
        if (n > CR_HTTPSIG_QUERY_MAX || !text_is_visible(req->query, n, 0))
            return tb_fail(errmsg, code, "query must be up to %d visible ASCII characters",
                           CR_HTTPSIG_QUERY_MAX);
    }
    if (req->body == NULL && req->body_len != 0)
        return tb_fail(errmsg, code, "body length without a body");
    return TB_OK;
}

/* The five component values, in profile order, pointing into `scratch` and req. */
struct profile_values
{
    const char *v[PROFILE_COMPONENT_COUNT];
    char query[CR_HTTPSIG_QUERY_MAX + 2];
    char digest[CR_HTTPSIG_DIGEST_TEXT_SIZE];
    char agency[AGENCY_FIELD_MAX + 1];
};

static void profile_values_fill(const struct cr_httpsig_request *req, enum cr_suite suite,
                                const char *agency_field, struct profile_values *pv)
{
    int n = snprintf(pv->query, sizeof(pv->query), "?%s", req->query ? req->query : "");

    TB_ASSERT(n > 0 && (size_t)n < sizeof(pv->query));
    TB_ASSERT(strlen(agency_field) <= AGENCY_FIELD_MAX);
    digest_text(suite, req->body, req->body_len, pv->digest);
    memcpy(pv->agency, agency_field, strlen(agency_field) + 1);
    pv->v[0] = req->method;
    pv->v[1] = req->path;
    pv->v[2] = pv->query;
    pv->v[3] = pv->digest;
    pv->v[4] = pv->agency;
}

static void profile_input_fill(struct cr_httpsig_input *in, enum cr_suite suite, int64_t created_s,
                               int64_t expires_s, const uint8_t *nonce, size_t nonce_len,
                               const uint8_t key_id[CR_HASH_BYTES])
{
    TB_ASSERT(nonce_len >= CR_HTTPSIG_NONCE_MIN_BYTES);
    TB_ASSERT(nonce_len <= CR_HTTPSIG_NONCE_MAX_BYTES);
    memset(in, 0, sizeof(*in));
    memcpy(in->label, CR_HTTPSIG_LABEL, sizeof(CR_HTTPSIG_LABEL));
    for (size_t i = 0; i < PROFILE_COMPONENT_COUNT; i++)
        memcpy(in->components[i], profile_components[i], strlen(profile_components[i]) + 1);
    in->component_count = PROFILE_COMPONENT_COUNT;
    in->present = CR_HTTPSIG_P_CREATED | CR_HTTPSIG_P_EXPIRES | CR_HTTPSIG_P_NONCE |
                  CR_HTTPSIG_P_KEYID | CR_HTTPSIG_P_ALG;
    in->created_s = created_s;
    in->expires_s = expires_s;
    tb_base64_encode(nonce, nonce_len, in->nonce);
    tb_hex_encode(key_id, CR_HASH_BYTES, in->keyid);
    memcpy(in->alg, suite_alg(suite), strlen(suite_alg(suite)) + 1);
}

/* Moves a serialisation into a NUL-terminated text field of `size` bytes; releases b. */
static int serialise_to_text(struct tb_buf *b, char *out, size_t size)
{
    TB_ASSERT(size > 0);
    if (b->len >= size) {
        tb_buf_release(b);
        return TB_ELIMIT;
    }
    TB_ASSERT(b->data != NULL);
    memcpy(out, b->data, b->len);
    out[b->len] = '\0';
    tb_buf_release(b);
    return TB_OK;
}

static int sign_fields(struct cr_key *key, const struct cr_httpsig_input *in,
                       const struct profile_values *pv, struct cr_httpsig_signed *out)
{
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    struct tb_buf b;
    int rv;

    tb_buf_init(&b, BASE_MAX);
    rv = cr_httpsig_base(in, pv->v, &b);
    if (rv == TB_OK)
        rv = cr_sign(key, b.data, b.len, sig, &sig_len);
    tb_buf_release(&b);
    if (rv != TB_OK)
        return rv;
    TB_ASSERT(sig_len > 0 && sig_len <= CR_SIG_MAX);
    tb_buf_init(&b, sizeof(out->signature_input) - 1);
    rv = cr_httpsig_input_serialise(in, &b);
    if (rv == TB_OK)
        rv = serialise_to_text(&b, out->signature_input, sizeof(out->signature_input));
    if (rv != TB_OK)
        return rv;
    tb_buf_init(&b, sizeof(out->signature) - 1);
    rv = cr_httpsig_signature_serialise(in->label, sig, sig_len, &b);
    if (rv == TB_OK)
        rv = serialise_to_text(&b, out->signature, sizeof(out->signature));
    return rv;
}

int cr_httpsig_sign(struct cr_key *key, const struct cr_httpsig_request *req, const char *city,
                    const char *agency, int64_t created_s, int64_t expires_s, const uint8_t *nonce,
                    size_t nonce_len, struct cr_httpsig_signed *out, char *errmsg)
{
    uint8_t key_id[CR_HASH_BYTES], drawn[CR_HTTPSIG_NONCE_BYTES];
    char agency_field[AGENCY_FIELD_MAX + 1];
    struct cr_httpsig_input in;
    struct profile_values pv;
    int rv;

    TB_ASSERT(key != NULL && req != NULL && out != NULL);
    TB_ASSERT(city != NULL && agency != NULL);
    memset(out, 0, sizeof(*out));
    rv = request_check(req, TB_EINVAL, errmsg);
    if (rv != TB_OK)
        return rv;
    if (!city_ok(city, strnlen(city, CR_HTTPSIG_CITY_MAX + 1)) ||
        !agency_ok(agency, strnlen(agency, CR_HTTPSIG_AGENCY_MAX + 1)))
        return tb_fail(errmsg, TB_EINVAL, "city or agency code not allowed in Tongban-Agency");
    if (created_s < 0 || expires_s <= created_s ||
        expires_s - created_s > CR_HTTPSIG_LIFETIME_MAX_S)
        return tb_fail(errmsg, TB_EINVAL, "expires must be in (created, created + %d]",
                       CR_HTTPSIG_LIFETIME_MAX_S);
    if (nonce == NULL) {
        rv = cr_random(drawn, sizeof(drawn));
        if (rv != TB_OK)
            return tb_fail(errmsg, rv, "cannot draw a nonce");
        nonce = drawn;
        nonce_len = sizeof(drawn);
    } else if (nonce_len < CR_HTTPSIG_NONCE_MIN_BYTES || nonce_len > CR_HTTPSIG_NONCE_MAX_BYTES) {
        return tb_fail(errmsg, TB_EINVAL, "nonce must be %d..%d bytes", CR_HTTPSIG_NONCE_MIN_BYTES,
                       CR_HTTPSIG_NONCE_MAX_BYTES);
    }
    cr_key_id(key, key_id);
    (void)snprintf(agency_field, sizeof(agency_field), "%s/%s", city, agency);
    profile_input_fill(&in, cr_key_suite(key), created_s, expires_s, nonce, nonce_len, key_id);
    profile_values_fill(req, cr_key_suite(key), agency_field, &pv);
    memcpy(out->content_digest, pv.digest, sizeof(pv.digest));
    rv = sign_fields(key, &in, &pv, out);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "signing the request: %s", tb_strerror(rv));
    return TB_OK;
}

/* ---- Verification ---- */

/*
 * The one field line named `name`, trimmed of SP/HTAB at both ends, copied into out
 * (CR_HTTPSIG_FIELD_MAX + 1 bytes). A missing or repeated field is refused: combining
 * repeated lines (RFC 9421 section 2.1) would let an intermediary add one.
 */
static int field_get(const struct cr_httpsig_request *req, const char *name, char *out,
                     char *errmsg)
{
    const char *v = req->header(req->header_ctx, name, 0);
    size_t n;

    TB_ASSERT(name != NULL);
    TB_ASSERT(out != NULL);
    if (v == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "missing %s field", name);
    if (req->header(req->header_ctx, name, 1) != NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "more than one %s field", name);
    while (*v == ' ' || *v == '\t')
        v++;
    n = strnlen(v, CR_HTTPSIG_FIELD_MAX + 1);
    if (n > CR_HTTPSIG_FIELD_MAX)
        return tb_fail(errmsg, TB_EMALFORMED, "%s field longer than %d bytes", name,
                       CR_HTTPSIG_FIELD_MAX);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || !text_is_visible(v, n, 1))
        return tb_fail(errmsg, TB_EMALFORMED, "%s field empty or not visible ASCII", name);
    memcpy(out, v, n);
    out[n] = '\0';
    return TB_OK;
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    }
    return 1;
}

/* Label, components, parameters, alg, nonce and keyid as the profile fixes them. */
static int profile_check(enum cr_suite suite, const struct cr_httpsig_input *in,
                         uint8_t key_id[CR_HASH_BYTES], char *errmsg)
{
    uint8_t nonce[CR_HTTPSIG_NONCE_MAX_BYTES + 2];
    size_t n = 0, keyid_len = strlen(in->keyid);

    TB_ASSERT(in->component_count <= CR_HTTPSIG_COMPONENTS_MAX);
    if (strcmp(in->label, CR_HTTPSIG_LABEL) != 0)
        return tb_fail(errmsg, TB_EMALFORMED, "signature label must be \"%s\"", CR_HTTPSIG_LABEL);
    for (size_t i = 0; i < PROFILE_COMPONENT_COUNT; i++) {
        if (in->component_count != PROFILE_COMPONENT_COUNT ||
            strcmp(in->components[i], profile_components[i]) != 0)
            return tb_fail(errmsg, TB_EMALFORMED,
                           "covered components must be (\"@method\" \"@path\" \"@query\" "
                           "\"content-digest\" \"tongban-agency\")");
    }
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        if (!(in->present & (1u << i)))
            return tb_fail(errmsg, TB_EMALFORMED, "missing parameter %s", param_names[i]);
    }
    if (strcmp(in->alg, suite_alg(suite)) != 0)
        return tb_fail(errmsg, TB_EMALFORMED, "alg \"%s\" is not this federation's (\"%s\")",
                       in->alg, suite_alg(suite));
    if (tb_base64_decode(in->nonce, strlen(in->nonce), nonce, sizeof(nonce), &n) != TB_OK ||
        n < CR_HTTPSIG_NONCE_MIN_BYTES || n > CR_HTTPSIG_NONCE_MAX_BYTES)
        return tb_fail(errmsg, TB_EMALFORMED, "nonce must be base64 of %d..%d bytes",
                       CR_HTTPSIG_NONCE_MIN_BYTES, CR_HTTPSIG_NONCE_MAX_BYTES);
    if (keyid_len != 2 * CR_HASH_BYTES || !lower_hex(in->keyid, keyid_len) ||
        tb_hex_decode(in->keyid, keyid_len, key_id, CR_HASH_BYTES) != TB_OK)
        return tb_fail(errmsg, TB_EMALFORMED, "keyid must be 64 lower-case hex digits");
    return TB_OK;
}

/* The acceptance window; returns the last second at which the request is acceptable. */
static int window_check(const struct cr_httpsig_input *in, int64_t now_s, int64_t *until_s,
                        char *errmsg)
{
    int64_t created = in->created_s, expires = in->expires_s;

    /* Parsed integers have at most 15 digits, so none of this arithmetic overflows. */
    TB_ASSERT(created >= 0 && created < INT64_C(1000000000000000));
    TB_ASSERT(expires >= 0 && expires < INT64_C(1000000000000000));
    if (expires <= created || expires - created > CR_HTTPSIG_LIFETIME_MAX_S)
        return tb_fail(errmsg, TB_EMALFORMED, "expires must be in (created, created + %d]",
                       CR_HTTPSIG_LIFETIME_MAX_S);
    if (created > now_s + CR_HTTPSIG_SKEW_S)
        return tb_fail(errmsg, TB_EAUTH, "created %" PRId64 " is in the future (now %" PRId64 ")",
                       created, now_s);
    if (now_s - created > CR_HTTPSIG_SKEW_S)
        return tb_fail(errmsg, TB_EAUTH, "created %" PRId64 " is too old (now %" PRId64 ")",
                       created, now_s);
    if (now_s > expires)
        return tb_fail(errmsg, TB_EAUTH, "expired at %" PRId64 " (now %" PRId64 ")", expires,
                       now_s);
    *until_s = expires < created + CR_HTTPSIG_SKEW_S ? expires : created + CR_HTTPSIG_SKEW_S;
    TB_ASSERT(*until_s >= now_s);
    return TB_OK;
}

/* Everything parsed from the fields, before any key is looked up. */
struct verify_state
{
    struct cr_httpsig_input in;
    uint8_t key_id[CR_HASH_BYTES];
    int64_t until_s;
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len;
    char city[CR_HTTPSIG_CITY_MAX + 1];
    char agency[CR_HTTPSIG_AGENCY_MAX + 1];
    char field[CR_HTTPSIG_FIELD_MAX + 1];
    struct profile_values pv;
};

static int agency_field_parse(const char *field, struct verify_state *st, char *errmsg)
{
    const char *slash = strchr(field, '/');
    size_t city_len, agency_len;

    TB_ASSERT(field != NULL);
    if (slash == NULL)
        return tb_fail(errmsg, TB_EMALFORMED, "tongban-agency must be city/agency");
    city_len = (size_t)(slash - field);
    agency_len = strlen(slash + 1);
    if (!city_ok(field, city_len) || !agency_ok(slash + 1, agency_len))
        return tb_fail(errmsg, TB_EMALFORMED, "tongban-agency: bad city or agency code");
    memcpy(st->city, field, city_len);
    st->city[city_len] = '\0';
    memcpy(st->agency, slash + 1, agency_len + 1);
    return TB_OK;
}

static int verify_parse_signature(const struct cr_httpsig_request *req, struct verify_state *st,
                                  char *errmsg)
{
    char label[CR_HTTPSIG_LABEL_MAX + 1];
    int rv = field_get(req, "signature", st->field, errmsg);

    if (rv == TB_OK)
        rv = cr_httpsig_signature_parse(st->field, strlen(st->field), label, st->sig, &st->sig_len,
                                        errmsg);
    if (rv != TB_OK)
        return rv;
    if (strcmp(label, st->in.label) != 0)
        return tb_fail(errmsg, TB_EMALFORMED, "Signature label \"%s\" is not Signature-Input's",
                       label);
    return TB_OK;
}

static int verify_parse(enum cr_suite suite, const struct cr_httpsig_request *req, int64_t now_s,
                        struct verify_state *st, char *errmsg)
{
    int rv = request_check(req, TB_EMALFORMED, errmsg);

    if (rv == TB_OK)
        rv = field_get(req, "signature-input", st->field, errmsg);
    if (rv == TB_OK)
        rv = cr_httpsig_input_parse(st->field, strlen(st->field), &st->in, errmsg);
    if (rv == TB_OK)
        rv = profile_check(suite, &st->in, st->key_id, errmsg);
    if (rv == TB_OK)
        rv = window_check(&st->in, now_s, &st->until_s, errmsg);
    if (rv == TB_OK)
        rv = verify_parse_signature(req, st, errmsg);
    if (rv == TB_OK)
        rv = field_get(req, "tongban-agency", st->field, errmsg);
    if (rv == TB_OK)
        rv = agency_field_parse(st->field, st, errmsg);
    if (rv != TB_OK)
        return rv;
    profile_values_fill(req, suite, st->field, &st->pv);
    rv = field_get(req, "content-digest", st->field, errmsg);
    if (rv != TB_OK)
        return rv;
    if (strncmp(st->field, digest_token(suite), strlen(digest_token(suite))) != 0 ||
        st->field[strlen(digest_token(suite))] != '=')
        return tb_fail(errmsg, TB_EMALFORMED, "content-digest must be one %s digest",
                       digest_token(suite));
    if (strcmp(st->field, st->pv.digest) != 0)
        return tb_fail(errmsg, TB_EBADSIG, "content-digest does not match the body");
    return TB_OK;
}

static int verify_key(const struct cr_httpsig_verifier *v, const struct verify_state *st,
                      struct cr_httpsig_agency_key *ak, char *errmsg)
{
    uint8_t id[CR_HASH_BYTES];
    int rv;

    memset(ak, 0, sizeof(*ak));
    rv = v->lookup(v->lookup_ctx, st->key_id, ak);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, TB_EAUTH, "unknown agency key %.16s...", st->in.keyid);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "agency key lookup: %s", tb_strerror(rv));
    TB_ASSERT(ak->pub_len <= CR_PUBKEY_MAX);
    ak->city[CR_HTTPSIG_CITY_MAX] = '\0';
    ak->agency[CR_HTTPSIG_AGENCY_MAX] = '\0';
    if (ak->suite != v->suite)
        return tb_fail(errmsg, TB_EAUTH, "agency key is not of this federation's suite");
    cr_hash(v->suite, ak->pub, ak->pub_len, id);
    if (!tb_memeq_ct(id, st->key_id, CR_HASH_BYTES))
        return tb_fail(errmsg, TB_EAUTH, "registered key does not hash to keyid");
    if (strcmp(ak->city, st->city) != 0 || strcmp(ak->agency, st->agency) != 0)
        return tb_fail(errmsg, TB_EAUTH, "key %.16s... is registered to %s/%s, not %s/%s",
                       st->in.keyid, ak->city, ak->agency, st->city, st->agency);
    return TB_OK;
}

static int verify_signature(const struct cr_httpsig_verifier *v, const struct verify_state *st,
                            const struct cr_httpsig_agency_key *ak, char *errmsg)
{
    struct tb_buf base;
    int rv;

    TB_ASSERT(st->sig_len > 0 && st->sig_len <= CR_SIG_MAX);
    tb_buf_init(&base, BASE_MAX);
    rv = cr_httpsig_base(&st->in, st->pv.v, &base);
    if (rv == TB_OK)
        rv = cr_verify_public(v->suite, ak->pub, ak->pub_len, base.data, base.len, st->sig,
                              st->sig_len);
    tb_buf_release(&base);
    if (rv == TB_EBADSIG)
        return tb_fail(errmsg, rv, "signature does not verify");
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "signature base: %s", tb_strerror(rv));
    return TB_OK;
}

int cr_httpsig_verify(const struct cr_httpsig_verifier *v, const struct cr_httpsig_request *req,
                      int64_t now_s, struct cr_httpsig_result *out, char *errmsg)
{
    struct cr_httpsig_agency_key ak;
    struct verify_state *st;
    int rv;

    TB_ASSERT(v != NULL && v->lookup != NULL && v->replay != NULL);
    TB_ASSERT(req != NULL && req->header != NULL && out != NULL);
    TB_ASSERT(cr_suite_valid((int)v->suite));
    TB_ASSERT(now_s >= 0 && now_s < INT64_C(1000000000000000));
    /* About 8 KB: on the heap, so that the HTTP layer's threads keep small stacks. */
    st = tb_calloc(1, sizeof(*st));
    if (st == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    rv = verify_parse(v->suite, req, now_s, st, errmsg);
    if (rv == TB_OK)
        rv = verify_key(v, st, &ak, errmsg);
    if (rv == TB_OK)
        rv = verify_signature(v, st, &ak, errmsg);
    if (rv == TB_OK) {
        rv = cr_httpsig_replay_add(v->replay, st->key_id, st->in.nonce, st->until_s, now_s);
        if (rv == TB_EAUTH)
            rv = tb_fail(errmsg, rv, "nonce already used (replay)");
        else if (rv == TB_ELIMIT)
            rv = tb_fail(errmsg, rv, "replay cache full; retry later");
    }
    if (rv == TB_OK) {
        memcpy(out->key_id, st->key_id, CR_HASH_BYTES);
        memcpy(out->city, st->city, sizeof(out->city));
        memcpy(out->agency, st->agency, sizeof(out->agency));
        out->created_s = st->in.created_s;
        out->expires_s = st->in.expires_s;
    }
    tb_free(st);
    return rv;
}

/* ---- Replay cache ---- */

struct replay_entry
{
    uint8_t tag[16];
    int64_t until_s; /* live while now <= until_s; -1 when never used */
};

struct cr_httpsig_replay
{
    size_t set_count; /* a power of two */
    uint8_t key[32];  /* HMAC key: random, so nobody can aim nonces at one set */
    struct replay_entry *entries;
};

int cr_httpsig_replay_new(size_t capacity, struct cr_httpsig_replay **out)
{
    struct cr_httpsig_replay *c;
    size_t sets = 1;
    int rv;

    TB_ASSERT(out != NULL);
    *out = NULL;
    if (capacity == 0 || capacity > CR_HTTPSIG_REPLAY_CAPACITY_MAX)
        return TB_EINVAL;
    while (sets * CR_HTTPSIG_REPLAY_WAYS < capacity)
        sets <<= 1;
    TB_ASSERT((sets & (sets - 1)) == 0);
    c = tb_calloc(1, sizeof(*c));
    if (c == NULL)
        return TB_ENOMEM;
    c->set_count = sets;
    c->entries = tb_calloc(sets * CR_HTTPSIG_REPLAY_WAYS, sizeof(*c->entries));
    if (c->entries == NULL) {
        tb_free(c);
        return TB_ENOMEM;
    }
    for (size_t i = 0; i < sets * CR_HTTPSIG_REPLAY_WAYS; i++)
        c->entries[i].until_s = -1;
    rv = cr_random(c->key, sizeof(c->key));
    if (rv != TB_OK) {
        cr_httpsig_replay_free(c);
        return rv;
    }
    *out = c;
    return TB_OK;
}

void cr_httpsig_replay_free(struct cr_httpsig_replay *cache)
{
    if (cache == NULL)
        return;
    tb_wipe(cache->key, sizeof(cache->key));
    tb_free(cache->entries);
    tb_free(cache);
}

/* One candidate set: a live entry with this tag (TB_EAUTH), else its first free entry. */
static int replay_scan(struct replay_entry *ways, const uint8_t tag[16], int64_t now_s,
                       struct replay_entry **free_way, size_t *free_count)
{
    *free_way = NULL;
    *free_count = 0;
    for (size_t w = 0; w < CR_HTTPSIG_REPLAY_WAYS; w++) {
        if (ways[w].until_s >= now_s) {
            if (memcmp(ways[w].tag, tag, sizeof(ways[w].tag)) == 0)
                return TB_EAUTH;
            continue;
        }
        if (*free_way == NULL)
            *free_way = &ways[w];
        (*free_count)++;
    }
    TB_ASSERT(*free_count <= CR_HTTPSIG_REPLAY_WAYS);
    return TB_OK;
}

static struct replay_entry *replay_set(struct cr_httpsig_replay *cache, const uint8_t *bytes8)
{
    size_t set = 0;
    for (size_t i = 0; i < 8; i++)
        set = (set << 8) | (size_t)bytes8[i];
    return &cache->entries[(set & (cache->set_count - 1)) * CR_HTTPSIG_REPLAY_WAYS];
}

/*
 * Two candidate sets per entry, the new entry going to the one with more free ways ("the
 * power of two choices"): with one set per entry, random overflow of single sets refused
 * requests while the table was half empty (measured: 0.7 % at 48 % load).
 */
int cr_httpsig_replay_add(struct cr_httpsig_replay *cache, const uint8_t key_id[CR_HASH_BYTES],
                          const char *nonce, int64_t valid_until_s, int64_t now_s)
{
    uint8_t msg[CR_HASH_BYTES + CR_HTTPSIG_NONCE_MAX], mac[CR_HASH_BYTES];
    size_t nonce_len = strnlen(nonce, CR_HTTPSIG_NONCE_MAX + 1), free1 = 0, free2 = 0;
    struct replay_entry *way1 = NULL, *way2 = NULL, *way;

    TB_ASSERT(nonce_len <= CR_HTTPSIG_NONCE_MAX);
    TB_ASSERT(now_s >= 0 && valid_until_s >= now_s);
    memcpy(msg, key_id, CR_HASH_BYTES);
    memcpy(msg + CR_HASH_BYTES, nonce, nonce_len);
    /* SHA-256 whatever the suite: the cache is local, nothing outside it sees the hash. */
    cr_hmac(CR_SUITE_ED25519_SHA256, cache->key, sizeof(cache->key), msg, CR_HASH_BYTES + nonce_len,
            mac);
    /* mac[0..15] is the tag, mac[16..23] and mac[24..31] pick the two sets. */
    if (replay_scan(replay_set(cache, mac + 16), mac, now_s, &way1, &free1) != TB_OK ||
        replay_scan(replay_set(cache, mac + 24), mac, now_s, &way2, &free2) != TB_OK)
        return TB_EAUTH;
    way = free2 > free1 ? way2 : way1;
    if (way == NULL)
        return TB_ELIMIT;
    memcpy(way->tag, mac, sizeof(way->tag));
    way->until_s = valid_until_s;
    return TB_OK;
}

size_t cr_httpsig_replay_live(const struct cr_httpsig_replay *cache, int64_t now_s)
{
    size_t live = 0, total = cache->set_count * CR_HTTPSIG_REPLAY_WAYS;

    TB_ASSERT(now_s >= 0);
    for (size_t i = 0; i < total; i++)
        live += cache->entries[i].until_s >= now_s;
    TB_ASSERT(live <= total);
    return live;
}
