/*
 * node/docstore.c: documents sealed at rest in the issuing node's `documents` database, and
 * the consent bookkeeping kept under "consent/" in `meta` (layouts in docstore.h).
 *
 * Must never: write a document unsealed, keep the document key past the call that read it
 * (wiped on every path), log document bytes, or assert on bytes read from the store.
 */
#define _GNU_SOURCE /* O_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_sign.h"
#include "docstore.h"
#include "tb_assert.h"
#include "tb_hex.h"

#define DOCSTORE_AD_TAG "tongban/document/v1"

/* Associated data: the tag, its zero byte, then the record id. */
static size_t docstore_ad(const uint8_t record_id[CR_HASH_BYTES], uint8_t *ad)
{
    size_t t = sizeof(DOCSTORE_AD_TAG); /* with the NUL: the tag's separator */
    memcpy(ad, DOCSTORE_AD_TAG, t);
    memcpy(ad + t, record_id, CR_HASH_BYTES);
    return t + CR_HASH_BYTES;
}

int docstore_key_load(const char *path, uint8_t key[CR_AEAD_KEY_BYTES], char *errmsg)
{
    uint8_t buf[DOCSTORE_KEY_FILE_BYTES_MAX + 1];
    size_t have = 0;
    TB_ASSERT(path != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tb_fail(errmsg, TB_EIO, "document key '%s': %s", path, strerror(errno));
    int rv = TB_OK;
    while (have < sizeof(buf)) {
        ssize_t r = read(fd, buf + have, sizeof(buf) - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rv = tb_fail(errmsg, TB_EIO, "document key '%s': %s", path, strerror(errno));
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    if (rv == TB_OK && have == CR_AEAD_KEY_BYTES) {
        memcpy(key, buf, CR_AEAD_KEY_BYTES);
    } else if (rv == TB_OK) {
        size_t n = have == 65 && buf[64] == '\n' ? 64 : have;
        if (n != 64 || tb_hex_decode((const char *)buf, 64, key, CR_AEAD_KEY_BYTES) != TB_OK)
            rv = tb_fail(errmsg, TB_ECONFIG,
                         "document key '%s': expected 32 bytes or 64 hex digits, got %zu bytes",
                         path, have);
    }
    tb_wipe(buf, sizeof(buf));
    return rv;
}

int docstore_seal(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                  const uint8_t record_id[CR_HASH_BYTES], const uint8_t *doc, size_t len,
                  struct tb_buf *out, char *errmsg)
{
    uint8_t ad[sizeof(DOCSTORE_AD_TAG) + CR_HASH_BYTES];
    const uint8_t version = DOCSTORE_VERSION;
    TB_ASSERT(key != NULL && record_id != NULL);
    TB_ASSERT(doc != NULL || len == 0);
    if (len > DOCSTORE_DOCUMENT_BYTES_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "document of %zu bytes, limit %u", len,
                       DOCSTORE_DOCUMENT_BYTES_MAX);
    size_t ad_len = docstore_ad(record_id, ad);
    size_t len0 = out->len;
    int rv = tb_buf_append(out, &version, 1);
    if (rv == TB_OK)
        rv =
            cr_aead_seal(suite, key, ad, ad_len, doc != NULL ? doc : (const uint8_t *)"", len, out);
    if (rv != TB_OK) {
        if (out->data != NULL && out->len > len0)
            out->len = len0; /* the version byte of a failed seal goes too */
        return tb_fail(errmsg, rv, "cannot seal the document: %s", tb_strerror(rv));
    }
    return TB_OK;
}

int docstore_open(enum cr_suite suite, const uint8_t key[CR_AEAD_KEY_BYTES],
                  const uint8_t record_id[CR_HASH_BYTES], const uint8_t *sealed, size_t sealed_len,
                  struct tb_buf *out, char *errmsg)
{
    uint8_t ad[sizeof(DOCSTORE_AD_TAG) + CR_HASH_BYTES];
    TB_ASSERT(key != NULL && record_id != NULL);
    if (sealed_len < 1 || sealed == NULL || sealed[0] != DOCSTORE_VERSION)
        return tb_fail(errmsg, TB_EBADSIG, "sealed document: unknown version");
    size_t ad_len = docstore_ad(record_id, ad);
    int rv = cr_aead_open(suite, key, ad, ad_len, sealed + 1, sealed_len - 1, out);
    if (rv == TB_EBADSIG)
        return tb_fail(errmsg, rv,
                       "sealed document does not open: changed on disk, another record's or "
                       "another key's");
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "cannot open the document: %s", tb_strerror(rv));
    return TB_OK;
}

int docstore_put(struct store *s, enum cr_suite suite, const char *key_path,
                 const uint8_t record_id[CR_HASH_BYTES], const uint8_t *doc, size_t len,
                 char *errmsg)
{
    uint8_t key[CR_AEAD_KEY_BYTES];
    struct tb_buf sealed;
    struct store_txn *txn = NULL;
    TB_ASSERT(s != NULL && key_path != NULL);
    int rv = docstore_key_load(key_path, key, errmsg);
    if (rv != TB_OK)
        return rv;
    tb_buf_init(&sealed, DOCSTORE_SEALED_BYTES_MAX);
    rv = docstore_seal(suite, key, record_id, doc, len, &sealed, errmsg);
    tb_wipe(key, sizeof(key));
    if (rv == TB_OK)
        rv = store_begin_write(s, &txn, errmsg);
    if (rv == TB_OK)
        rv = store_document_put(txn, record_id, (struct tb_bytes){sealed.data, sealed.len}, errmsg);
    if (rv == TB_OK) {
        rv = store_commit(txn, errmsg);
        txn = NULL;
    }
    store_abort(txn);
    tb_buf_release(&sealed);
    return rv;
}

int docstore_get(struct store *s, enum cr_suite suite, const char *key_path,
                 const uint8_t record_id[CR_HASH_BYTES], struct tb_buf *out, char *errmsg)
{
    uint8_t key[CR_AEAD_KEY_BYTES];
    struct tb_buf sealed;
    struct store_txn *txn = NULL;
    TB_ASSERT(s != NULL && key_path != NULL);
    tb_buf_init(&sealed, DOCSTORE_SEALED_BYTES_MAX);
    int rv = store_begin_read(s, &txn, errmsg);
    if (rv == TB_OK)
        rv = store_document_get(txn, record_id, &sealed, errmsg);
    store_abort(txn);
    if (rv == TB_OK)
        rv = docstore_key_load(key_path, key, errmsg);
    if (rv == TB_OK) {
        tb_buf_reset(out);
        rv = docstore_open(suite, key, record_id, sealed.data, sealed.len, out, errmsg);
        tb_wipe(key, sizeof(key));
    }
    tb_buf_release(&sealed);
    return rv;
}

/* ---- consent bookkeeping ---- */

static size_t docstore_key2(uint8_t *k, const char *prefix, const uint8_t *a, const uint8_t *b)
{
    _Static_assert(sizeof(DOCSTORE_USE_PREFIX) - 1 == DOCSTORE_PREFIX_BYTES, "prefix size");
    _Static_assert(sizeof(DOCSTORE_REFUSED_PREFIX) - 1 == DOCSTORE_PREFIX_BYTES, "prefix size");
    TB_ASSERT(strlen(prefix) == DOCSTORE_PREFIX_BYTES);
    size_t n = DOCSTORE_PREFIX_BYTES;
    memcpy(k, prefix, n);
    if (a != NULL) {
        memcpy(k + n, a, CR_HASH_BYTES);
        n += CR_HASH_BYTES;
    }
    if (b != NULL) {
        memcpy(k + n, b, CR_HASH_BYTES);
        n += CR_HASH_BYTES;
    }
    return n;
}

static int docstore_count_visit(void *arg, struct tb_bytes key, struct tb_bytes value, char *errmsg)
{
    (void)arg;
    (void)value;
    (void)errmsg;
    (void)key;
    return 0;
}

int docstore_uses_count(struct store_txn *txn, const uint8_t consent_id[CR_HASH_BYTES],
                        uint32_t limit, uint32_t *count, char *errmsg)
{
    uint8_t k[DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES];
    struct store_visitor v = {.arg = NULL, .visit = docstore_count_visit};
    TB_ASSERT(limit >= 1);
    size_t n = docstore_key2(k, DOCSTORE_USE_PREFIX, consent_id, NULL);
    *count = 0;
    return store_scan(txn, STORE_DB_META, (struct tb_bytes){k, n}, NULL, limit, &v, count, errmsg);
}

int docstore_use_put(struct store_txn *txn, const uint8_t consent_id[CR_HASH_BYTES],
                     const uint8_t audit_id[CR_HASH_BYTES], char *errmsg)
{
    uint8_t k[DOCSTORE_PREFIX_BYTES + 2 * CR_HASH_BYTES];
    size_t n = docstore_key2(k, DOCSTORE_USE_PREFIX, consent_id, audit_id);
    TB_ASSERT(n == sizeof(k));
    return store_put(txn, STORE_DB_META, (struct tb_bytes){k, n}, (struct tb_bytes){k, 0}, 0,
                     errmsg);
}

int docstore_indexed_height(struct store_txn *txn, uint64_t *height, char *errmsg)
{
    uint8_t v[8];
    struct tb_bytes k = {(const uint8_t *)DOCSTORE_HEIGHT_KEY, sizeof(DOCSTORE_HEIGHT_KEY) - 1};
    int rv = store_get_exact(txn, STORE_DB_META, k, v, sizeof(v), errmsg);
    *height = 0;
    if (rv == TB_ENOTFOUND)
        return TB_OK;
    if (rv == TB_OK)
        *height = store_be64(v);
    return rv;
}

int docstore_indexed_height_put(struct store_txn *txn, uint64_t height, char *errmsg)
{
    struct store_key v;
    struct tb_bytes k = {(const uint8_t *)DOCSTORE_HEIGHT_KEY, sizeof(DOCSTORE_HEIGHT_KEY) - 1};
    store_key_u64(&v, height);
    TB_ASSERT(v.len == 8);
    return store_put(txn, STORE_DB_META, k, store_key_bytes(&v), 0, errmsg);
}

/* The refusal as JSON text (caller frees with free()). */
static char *docstore_refusal_json(const struct docstore_refusal *r)
{
    char rid[2 * CR_HASH_BYTES + 1], cid[2 * CR_HASH_BYTES + 1];
    tb_hex_encode(r->record_id, CR_HASH_BYTES, rid);
    tb_hex_encode(r->consent_id, CR_HASH_BYTES, cid);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "record_id", rid, "requester_city",
                  r->requester_city, "requester_agency", r->requester_agency, "consent_id", cid,
                  "code", r->code, "message", r->message, "time_ms", (json_int_t)r->time_ms);
    /* The purpose is the requester's text: kept only when it is valid UTF-8. */
    if (j != NULL && r->purpose[0] != '\0')
        (void)json_object_set_new(j, "purpose", json_string(r->purpose));
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return text;
}

/* Finds a subject's oldest refusal (keys sort by time) and counts up to the bound. */
struct docstore_refusal_scan
{
    uint32_t count;
    uint8_t oldest[STORE_KEY_BYTES_MAX];
    size_t oldest_len;
};

static int docstore_refusal_visit(void *arg, struct tb_bytes key, struct tb_bytes value,
                                  char *errmsg)
{
    struct docstore_refusal_scan *sc = arg;
    (void)value;
    (void)errmsg;
    if (sc->count++ == 0 && key.len <= sizeof(sc->oldest)) {
        memcpy(sc->oldest, key.ptr, key.len);
        sc->oldest_len = key.len;
    }
    return 0;
}

/*
 * Keeps at most DOCSTORE_REFUSALS_PER_SUBJECT refusals per subject: the oldest goes first.
 * Only member nodes can cause refusals, and only for subjects with records here, but a
 * misbehaving member must not be able to grow this node's disk without bound.
 */
static int docstore_refusal_trim(struct store_txn *txn, const uint8_t *prefix, size_t prefix_len,
                                 char *errmsg)
{
    struct docstore_refusal_scan sc = {0};
    struct store_visitor v = {.arg = &sc, .visit = docstore_refusal_visit};
    uint32_t visited = 0;
    int rv = store_scan(txn, STORE_DB_META, (struct tb_bytes){prefix, prefix_len}, NULL,
                        DOCSTORE_REFUSALS_PER_SUBJECT, &v, &visited, errmsg);
    if (rv == TB_OK && sc.count >= DOCSTORE_REFUSALS_PER_SUBJECT && sc.oldest_len > 0)
        rv = store_del(txn, STORE_DB_META, (struct tb_bytes){sc.oldest, sc.oldest_len}, errmsg);
    return rv;
}

int docstore_refusal_put(struct store *s, const struct docstore_refusal *r, char *errmsg)
{
    static uint32_t seq; /* orders refusals within one millisecond; the loop is one thread */
    uint8_t k[DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES + 12];
    struct store_key t;
    struct store_txn *txn = NULL;
    TB_ASSERT(r->code != NULL);
    char *text = docstore_refusal_json(r);
    if (text == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "refusal entry: out of memory");
    size_t n = docstore_key2(k, DOCSTORE_REFUSED_PREFIX, r->subject, NULL);
    store_key_u64(&t, r->time_ms);
    memcpy(k + n, t.bytes, 8);
    uint32_t sq = seq++;
    k[n + 8] = (uint8_t)(sq >> 24);
    k[n + 9] = (uint8_t)(sq >> 16);
    k[n + 10] = (uint8_t)(sq >> 8);
    k[n + 11] = (uint8_t)sq;
    int rv = store_begin_write(s, &txn, errmsg);
    if (rv == TB_OK)
        rv = docstore_refusal_trim(txn, k, n, errmsg);
    if (rv == TB_OK)
        rv = store_put(txn, STORE_DB_META, (struct tb_bytes){k, sizeof(k)},
                       (struct tb_bytes){(const uint8_t *)text, strlen(text)}, 0, errmsg);
    if (rv == TB_OK) {
        rv = store_commit(txn, errmsg);
        txn = NULL;
    }
    store_abort(txn);
    free(text);
    return rv;
}

int docstore_consent_open(struct ledger *l, struct store_txn *txn, const uint8_t *bytes, size_t len,
                          uint64_t time_s, struct docstore_consent *out, char *errmsg)
{
    struct tb_buf in;
    uint8_t chain_id[CR_HASH_BYTES];
    char why[TB_ERRMSG_SIZE] = "";
    TB_ASSERT(l != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (wire_consent_signed_decode(bytes, len, &out->sc, why) != TB_OK)
        return tb_fail(errmsg, TB_EMALFORMED, "consent token: %s", why);
    if (wire_consent_decode(out->sc.token.ptr, out->sc.token.len, &out->token, why) != TB_OK)
        return tb_fail(errmsg, TB_EMALFORMED, "consent token: %s", why);
    enum cr_suite suite = ledger_suite(l);
    ledger_chain_id(l, chain_id);
    wire_consent_id(suite, chain_id, out->sc.token.ptr, out->sc.token.len, out->id);
    int rv = ledger_agency_get(l, txn, out->sc.public_key, &out->signer, errmsg);
    if (rv == TB_ENOTFOUND)
        return tb_fail(errmsg, TB_EAUTH,
                       "consent token: signed by a key that is no registered "
                       "agency key");
    if (rv != TB_OK)
        return rv;
    if (out->signer.state != 1)
        return tb_fail(errmsg, TB_EAUTH, "consent token: the signing agency key was retired");
    if (out->signer.not_after <= time_s)
        return tb_fail(errmsg, TB_EAUTH, "consent token: the signing agency key has expired");
    tb_buf_init(&in, WIRE_CONSENT_BYTES_MAX + 64u);
    rv = wire_consent_sign_input(chain_id, out->sc.token.ptr, out->sc.token.len, &in);
    if (rv == TB_OK)
        rv = cr_verify_public(suite, out->sc.public_key.ptr, out->sc.public_key.len, in.data,
                              in.len, out->sc.sig.ptr, out->sc.sig.len);
    tb_buf_release(&in);
    if (rv == TB_EBADSIG)
        return tb_fail(errmsg, rv, "consent token: the signature does not verify");
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "consent token: cannot check the signature");
    return TB_OK;
}

/* ---- withdrawn consents (D24) ---- */

#define DOCSTORE_WITHDRAWAL_BYTES_MAX (8u + 16u + 1u + 64u)

/* A city or agency code fits its field and holds no '/' (the value's separator). */
static bool docstore_code_ok(const char *code, size_t max)
{
    size_t n = strnlen(code, max + 1);
    return n >= 1 && n <= max && memchr(code, '/', n) == NULL;
}

static void docstore_withdrawal_key(uint8_t k[DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES],
                                    const uint8_t consent_id[CR_HASH_BYTES])
{
    _Static_assert(sizeof(DOCSTORE_WITHDRAWN_PREFIX) - 1 == DOCSTORE_PREFIX_BYTES, "prefix size");
    size_t n = docstore_key2(k, DOCSTORE_WITHDRAWN_PREFIX, consent_id, NULL);
    TB_ASSERT(n == DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES);
}

int docstore_withdrawal_get(struct store_txn *txn, const uint8_t consent_id[CR_HASH_BYTES],
                            struct docstore_withdrawal *out, char *errmsg)
{
    uint8_t k[DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES], v[DOCSTORE_WITHDRAWAL_BYTES_MAX];
    size_t len = 0;
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    docstore_withdrawal_key(k, consent_id);
    int rv = store_get_upto(txn, STORE_DB_META, (struct tb_bytes){k, sizeof(k)}, v, sizeof(v), &len,
                            errmsg);
    if (rv != TB_OK)
        return rv;
    const uint8_t *who = v + 8, *slash = len > 8 ? memchr(who, '/', len - 8) : NULL;
    size_t city_len = slash != NULL ? (size_t)(slash - who) : 0;
    size_t agency_len = slash != NULL ? len - 8 - city_len - 1 : 0;
    if (slash == NULL || city_len == 0 || city_len >= sizeof(out->city) || agency_len == 0 ||
        agency_len >= sizeof(out->agency) || memchr(slash + 1, '/', agency_len) != NULL ||
        memchr(who, 0, len - 8) != NULL)
        return tb_fail(errmsg, TB_EIO, "withdrawal entry of a corrupt form (%zu bytes)", len);
    out->at_s = store_be64(v);
    memcpy(out->city, who, city_len);
    memcpy(out->agency, slash + 1, agency_len);
    return TB_OK;
}

int docstore_withdrawal_put(struct store *s, const uint8_t consent_id[CR_HASH_BYTES],
                            const struct docstore_withdrawal *w, struct docstore_withdrawal *first,
                            bool *was_new, char *errmsg)
{
    uint8_t k[DOCSTORE_PREFIX_BYTES + CR_HASH_BYTES], v[DOCSTORE_WITHDRAWAL_BYTES_MAX];
    struct store_key t;
    struct store_txn *txn = NULL;
    TB_ASSERT(w != NULL && first != NULL && was_new != NULL);
    *was_new = false;
    if (!docstore_code_ok(w->city, sizeof(w->city) - 1) ||
        !docstore_code_ok(w->agency, sizeof(w->agency) - 1))
        return tb_fail(errmsg, TB_EINVAL, "withdrawal: city and agency must be codes");
    size_t cl = strlen(w->city), al = strlen(w->agency);
    store_key_u64(&t, w->at_s);
    memcpy(v, t.bytes, 8);
    memcpy(v + 8, w->city, cl);
    v[8 + cl] = '/';
    memcpy(v + 9 + cl, w->agency, al);
    docstore_withdrawal_key(k, consent_id);
    int rv = store_begin_write(s, &txn, errmsg);
    if (rv == TB_OK) {
        rv = docstore_withdrawal_get(txn, consent_id, first, errmsg);
        if (rv == TB_ENOTFOUND) {
            *first = *w;
            *was_new = true;
            rv = store_put(txn, STORE_DB_META, (struct tb_bytes){k, sizeof(k)},
                           (struct tb_bytes){v, 9 + cl + al}, STORE_PUT_NEW, errmsg);
        }
    }
    if (rv == TB_OK) {
        rv = store_commit(txn, errmsg); /* synced before the caller answers */
        txn = NULL;
    }
    store_abort(txn);
    if (rv != TB_OK)
        *was_new = false;
    return rv;
}
