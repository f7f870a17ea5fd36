/*
 * Hashes, HMAC and keyed subjects through OpenSSL EVP. No I/O here.
 *
 * The EVP_MD objects are fetched once per process (explicit fetch avoids the
 * implicit per-call lookup of EVP_sha256()/EVP_sm3()) and never freed.
 */
#include "cr_hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "tb_assert.h"
#include "tb_hex.h"

static EVP_MD *md_sha256;
static EVP_MD *md_sm3;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch_all(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
    TB_ASSERT(md_sha256 != NULL);
    TB_ASSERT(md_sm3 != NULL);
}

/* Internal to crypto/: the EVP_MD of a suite's hash. */
const EVP_MD *cr_suite_md(enum cr_suite suite);

const EVP_MD *cr_suite_md(enum cr_suite suite)
{
    pthread_once(&md_once, md_fetch_all);
    switch (suite) {
    case CR_SUITE_ED25519_SHA256:
        return md_sha256;
    case CR_SUITE_SM2_SM3:
        return md_sm3;
    }
    TB_UNREACHABLE();
}

const char *cr_suite_name(enum cr_suite suite)
{
    switch (suite) {
    case CR_SUITE_ED25519_SHA256:
        return "ed25519-sha256";
    case CR_SUITE_SM2_SM3:
        return "sm2-sm3";
    }
    return NULL;
}

int cr_suite_parse(const char *name, enum cr_suite *out)
{
    if (name != NULL && strcmp(name, "ed25519-sha256") == 0) {
        *out = CR_SUITE_ED25519_SHA256;
        return TB_OK;
    }
    if (name != NULL && strcmp(name, "sm2-sm3") == 0) {
        *out = CR_SUITE_SM2_SM3;
        return TB_OK;
    }
    return TB_EINVAL;
}

int cr_suite_valid(int suite)
{
    return suite == CR_SUITE_ED25519_SHA256 || suite == CR_SUITE_SM2_SM3;
}

int cr_hasher_init(struct cr_hasher *h, enum cr_suite suite)
{
    TB_ASSERT(cr_suite_valid((int)suite));
    h->suite = suite;
    h->md_ctx = EVP_MD_CTX_new();
    return h->md_ctx == NULL ? TB_ENOMEM : TB_OK;
}

void cr_hasher_release(struct cr_hasher *h)
{
    EVP_MD_CTX_free(h->md_ctx);
    h->md_ctx = NULL;
}

void cr_hasher_begin(struct cr_hasher *h)
{
    TB_ASSERT(h->md_ctx != NULL);
    int ok = EVP_DigestInit_ex2(h->md_ctx, cr_suite_md(h->suite), NULL);
    TB_ASSERT(ok == 1);
}

void cr_hasher_update(struct cr_hasher *h, const void *data, size_t len)
{
    int ok = EVP_DigestUpdate(h->md_ctx, data, len);
    TB_ASSERT(ok == 1);
}

void cr_hasher_final(struct cr_hasher *h, uint8_t out[CR_HASH_BYTES])
{
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(h->md_ctx, out, &n);
    TB_ASSERT(ok == 1);
    TB_ASSERT(n == CR_HASH_BYTES);
}

/*
 * One thread-local hasher per suite serves the one-shot calls, so that a hot loop
 * of cr_hash() does not allocate a context per call. The pthread key exists only
 * for its destructor, which frees a thread's context when the thread exits (a bare
 * _Thread_local pointer would leak one context per finished thread).
 */
static _Thread_local EVP_MD_CTX *tls_ctx;
static pthread_key_t tls_key;
static pthread_once_t tls_key_once = PTHREAD_ONCE_INIT;

static void tls_ctx_destroy(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void tls_key_create(void)
{
    int rc = pthread_key_create(&tls_key, tls_ctx_destroy);
    TB_ASSERT(rc == 0);
}

static EVP_MD_CTX *tls_md_ctx(void)
{
    if (tls_ctx == NULL) {
        pthread_once(&tls_key_once, tls_key_create);
        tls_ctx = EVP_MD_CTX_new();
        TB_ASSERT(tls_ctx != NULL);
        int rc = pthread_setspecific(tls_key, tls_ctx);
        TB_ASSERT(rc == 0);
    }
    return tls_ctx;
}

void cr_hash(enum cr_suite suite, const void *data, size_t len, uint8_t out[CR_HASH_BYTES])
{
    struct tb_bytes part = {data, len};
    EVP_MD_CTX *ctx = tls_md_ctx();
    unsigned int n = 0;
    int ok = EVP_DigestInit_ex2(ctx, cr_suite_md(suite), NULL);
    ok = ok && EVP_DigestUpdate(ctx, part.ptr, part.len);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &n);
    TB_ASSERT(ok == 1);
    TB_ASSERT(n == CR_HASH_BYTES);
}

void cr_hash_tagged(enum cr_suite suite, const char *tag, const struct tb_bytes *parts,
                    size_t part_count, uint8_t out[CR_HASH_BYTES])
{
    EVP_MD_CTX *ctx = tls_md_ctx();
    unsigned int n = 0;
    int ok;

    TB_ASSERT(tag != NULL);
    ok = EVP_DigestInit_ex2(ctx, cr_suite_md(suite), NULL);
    ok = ok && EVP_DigestUpdate(ctx, tag, strlen(tag) + 1); /* includes the zero byte */
    for (size_t i = 0; ok && i < part_count; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &n);
    TB_ASSERT(ok == 1);
    TB_ASSERT(n == CR_HASH_BYTES);
}

void cr_hmac(enum cr_suite suite, const uint8_t *key, size_t key_len, const void *data, size_t len,
             uint8_t out[CR_HASH_BYTES])
{
    unsigned int n = 0;
    const EVP_MD *md = cr_suite_md(suite);
    TB_ASSERT(key_len <= INT32_MAX);
    uint8_t *r = HMAC(md, key, (int)key_len, data, len, out, &n);
    TB_ASSERT(r != NULL);
    TB_ASSERT(n == CR_HASH_BYTES);
}

/* GB 11643-1999 check character of the first 17 digits (ISO 7064 MOD 11-2). */
static char id_check_char(const char *digits17)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (digits17[i] - '0') * weights[i];
    return checks[sum % 11];
}

int cr_subject(enum cr_suite suite, const uint8_t subject_key[32], const char *id_number,
               uint8_t out[CR_HASH_BYTES], char *errmsg)
{
    char norm[32];
    size_t n = 0;
    int rv = TB_OK;

    for (const char *p = id_number; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (n == sizeof(norm) - 1) {
            rv = tb_fail(errmsg, TB_EINVAL, "ID number too long");
            goto done;
        }
        norm[n++] = *p;
    }
    norm[n] = '\0';
    if (n > 0 && norm[n - 1] == 'x')
        norm[n - 1] = 'X';
    if (n != 18 && n != 15) {
        rv = tb_fail(errmsg, TB_EINVAL, "ID number must have 18 or 15 characters, got %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int last_x = (n == 18 && i == 17 && norm[i] == 'X');
        if (!last_x && (norm[i] < '0' || norm[i] > '9')) {
            rv = tb_fail(errmsg, TB_EINVAL, "ID number has a character that is not a digit");
            goto done;
        }
    }
    if (n == 18 && id_check_char(norm) != norm[17]) {
        rv = tb_fail(errmsg, TB_EINVAL, "ID number check character does not match (GB 11643)");
        goto done;
    }
    if (n == 15) {
        /* The first-generation card's number is the same citizen's 18-character one without
         * the century (always 19: those cards went to people born in the 1900s, and were
         * replaced by 2013) and the check character: key the 18-character form, so both give one
         * subject (D23). */
        memmove(norm + 8, norm + 6, 9);
        norm[6] = '1';
        norm[7] = '9';
        norm[17] = id_check_char(norm);
        norm[18] = '\0';
        n = 18;
    }
    cr_hmac(suite, subject_key, 32, norm, n, out);
done:
    tb_wipe(norm, sizeof(norm));
    return rv;
}

int cr_random(void *out, size_t len)
{
    TB_ASSERT(len <= INT32_MAX);
    return RAND_bytes(out, (int)len) == 1 ? TB_OK : TB_ECRYPTO;
}
