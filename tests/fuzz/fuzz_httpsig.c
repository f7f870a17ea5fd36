/*
 * libFuzzer target for the authentication decoders, which run on header values any client
 * or peer chooses. The first byte picks one:
 *   0  Signature-Input parser: whatever parses re-serialises to the same bytes;
 *   1  Signature parser: same;
 *   2  Tongban-Binding decoder: whatever decodes re-encodes to the same text;
 *   3  the whole verifier: the rest is "signature-input\nsignature\ncontent-digest\n
 *      tongban-agency\nbody" for POST /v1/x, checked against one known Ed25519 key
 *      (seed 0x42...) registered to 3301/a. A request that verifies must be exactly what
 *      that key's holder produces for the same parameters (Ed25519 is deterministic),
 *      so acceptance of anything else is a forgery and aborts.
 * The oracle is also the absence of crashes and sanitizer reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_httpsig.h"
#include "cr_tls.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define FUZZ_NOW 1764250000
#define FUZZ_FIELDS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cr_key *fuzz_key(void)
{
    static struct cr_key *key;
    if (key == NULL) {
        uint8_t seed[CR_ED25519_SEED_BYTES];
        memset(seed, 0x42, sizeof(seed));
        TB_ASSERT(cr_key_from_ed25519_seed(seed, &key) == TB_OK);
    }
    return key;
}

static void fuzz_input(const char *text, size_t len)
{
    struct cr_httpsig_input in;
    struct tb_buf b;

    if (cr_httpsig_input_parse(text, len, &in, NULL) != TB_OK)
        return;
    tb_buf_init(&b, 4 * CR_HTTPSIG_FIELD_MAX);
    TB_ASSERT(cr_httpsig_input_serialise(&in, &b) == TB_OK);
    TB_ASSERT(b.len == len);
    TB_ASSERT(memcmp(b.data, text, len) == 0);
    tb_buf_release(&b);
}

static void fuzz_signature(const char *text, size_t len)
{
    char label[CR_HTTPSIG_LABEL_MAX + 1];
    uint8_t sig[CR_SIG_MAX];
    size_t sig_len = 0;
    struct tb_buf b;

    if (cr_httpsig_signature_parse(text, len, label, sig, &sig_len, NULL) != TB_OK)
        return;
    tb_buf_init(&b, 4 * CR_HTTPSIG_FIELD_MAX);
    TB_ASSERT(cr_httpsig_signature_serialise(label, sig, sig_len, &b) == TB_OK);
    TB_ASSERT(b.len == len);
    TB_ASSERT(memcmp(b.data, text, len) == 0);
    tb_buf_release(&b);
}

static void fuzz_binding(const char *text, size_t len)
{
    char again[CR_TLS_BINDING_TEXT_SIZE];
    struct cr_tls_binding b;

    if (cr_tls_binding_decode(text, len, &b, NULL) != TB_OK)
        return;
    cr_tls_binding_encode(&b, again);
    TB_ASSERT(strlen(again) == len);
    TB_ASSERT(memcmp(again, text, len) == 0);
}

struct fuzz_request
{
    char *fields[FUZZ_FIELDS];
};

static const char *fuzz_header(void *ctx, const char *name, size_t index)
{
    static const char *const names[FUZZ_FIELDS] = {"signature-input", "signature", "content-digest",
                                                   "tongban-agency"};
    struct fuzz_request *r = ctx;
    if (index != 0)
        return NULL;
    for (size_t i = 0; i < FUZZ_FIELDS; i++) {
        if (strcmp(name, names[i]) == 0)
            return r->fields[i];
    }
    return NULL;
}

static int fuzz_lookup(void *ctx, const uint8_t key_id[CR_HASH_BYTES],
                       struct cr_httpsig_agency_key *out)
{
    uint8_t id[CR_HASH_BYTES];
    (void)ctx;
    cr_key_id(fuzz_key(), id);
    if (memcmp(id, key_id, CR_HASH_BYTES) != 0)
        return TB_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    out->suite = CR_SUITE_ED25519_SHA256;
    out->pub_len = cr_key_public(fuzz_key(), out->pub);
    memcpy(out->city, "3301", 5);
    memcpy(out->agency, "a", 2);
    return TB_OK;
}

static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* The verifier accepted: the same parameters signed by the key holder give these fields. */
static void fuzz_check_genuine(const struct cr_httpsig_request *req, struct fuzz_request *r)
{
    struct cr_httpsig_signed s;
    struct cr_httpsig_input in;
    uint8_t nonce[CR_HTTPSIG_NONCE_MAX_BYTES];
    size_t nonce_len = 0;

    for (size_t i = 0; i < FUZZ_FIELDS; i++)
        r->fields[i] = trim(r->fields[i]);
    TB_ASSERT(cr_httpsig_input_parse(r->fields[0], strlen(r->fields[0]), &in, NULL) == TB_OK);
    TB_ASSERT(tb_base64_decode(in.nonce, strlen(in.nonce), nonce, sizeof(nonce), &nonce_len) ==
              TB_OK);
    TB_ASSERT(cr_httpsig_sign(fuzz_key(), req, "3301", "a", in.created_s, in.expires_s, nonce,
                              nonce_len, &s, NULL) == TB_OK);
    TB_ASSERT(strcmp(s.signature_input, r->fields[0]) == 0);
    TB_ASSERT(strcmp(s.signature, r->fields[1]) == 0);
    TB_ASSERT(strcmp(s.content_digest, r->fields[2]) == 0);
    TB_ASSERT(strcmp("3301/a", r->fields[3]) == 0);
}

static void fuzz_verify(const char *text, size_t len)
{
    struct cr_httpsig_request req = {"POST", "/v1/x", NULL, NULL, 0, fuzz_header, NULL};
    struct cr_httpsig_verifier v = {CR_SUITE_ED25519_SHA256, fuzz_lookup, NULL, NULL};
    struct cr_httpsig_result res;
    struct fuzz_request r;
    char *copy = malloc(len + 1), *p;
    int rv;

    TB_ASSERT(copy != NULL);
    memcpy(copy, text, len);
    copy[len] = '\0';
    p = copy;
    /* Split on '\n'; a NUL inside a field simply ends it, as a C string would. */
    for (size_t i = 0; i < FUZZ_FIELDS; i++) {
        char *nl = memchr(p, '\n', len - (size_t)(p - copy));
        r.fields[i] = p;
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = copy + len;
        }
    }
    req.body = (const uint8_t *)p;
    req.body_len = len - (size_t)(p - copy);
    req.header_ctx = &r;
    TB_ASSERT(cr_httpsig_replay_new(8, &v.replay) == TB_OK);
    rv = cr_httpsig_verify(&v, &req, FUZZ_NOW, &res, NULL);
    if (rv == TB_OK) {
        /* The same request again is a replay. */
        TB_ASSERT(cr_httpsig_verify(&v, &req, FUZZ_NOW, &res, NULL) == TB_EAUTH);
        fuzz_check_genuine(&req, &r);
    }
    cr_httpsig_replay_free(v.replay);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;

    if (size == 0 || size > 16 * 1024)
        return 0;
    switch (data[0] % 4) {
    case 0:
        fuzz_input(text, size - 1);
        break;
    case 1:
        fuzz_signature(text, size - 1);
        break;
    case 2:
        fuzz_binding(text, size - 1);
        break;
    default:
        fuzz_verify(text, size - 1);
        break;
    }
    return 0;
}
