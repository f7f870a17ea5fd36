/*
 * node/docstore: documents sealed at rest (both suites), on real LMDB files. Seal/open round
 * trips; every changed byte of a sealed document, another record id, another key and an
 * unknown version refuse to open (TB_EBADSIG); the key file's accepted forms; put/get through
 * the `documents` database, with the stored bytes tampered; the consent bookkeeping (use
 * count, indexed height, refused attempts, withdrawn consents).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "docstore.h"
#include "t_util.h"
#include "tb_alloc.h"

#define MAP_BYTES (64u * 1024u * 1024u)

static char errmsg[TB_ERRMSG_SIZE];
static const enum cr_suite suites[] = {CR_SUITE_ED25519_SHA256, CR_SUITE_SM2_SM3};

static void key_fill(uint8_t key[CR_AEAD_KEY_BYTES], uint8_t v)
{
    for (size_t i = 0; i < CR_AEAD_KEY_BYTES; i++)
        key[i] = (uint8_t)(v + i);
}

static void seal_open_round_trip_and_tamper(void **state)
{
    (void)state;
    uint8_t key[CR_AEAD_KEY_BYTES], other[CR_AEAD_KEY_BYTES], rec[32], rec2[32], doc[300];
    struct t_rng rng;
    t_rng_seed(&rng, 11);
    t_rng_bytes(&rng, doc, sizeof(doc));
    key_fill(key, 1);
    key_fill(other, 2);
    memset(rec, 0xa1, sizeof(rec));
    memset(rec2, 0xa2, sizeof(rec2));
    for (size_t s = 0; s < 2; s++) {
        struct tb_buf sealed, plain;
        tb_buf_init(&sealed, DOCSTORE_SEALED_BYTES_MAX);
        tb_buf_init(&plain, DOCSTORE_DOCUMENT_BYTES_MAX);
        assert_int_equal(docstore_seal(suites[s], key, rec, doc, sizeof(doc), &sealed, errmsg),
                         TB_OK);
        assert_int_equal(sealed.data[0], DOCSTORE_VERSION);
        assert_true(sealed.len > sizeof(doc));
        /* Sealed, not copied: the plaintext does not appear in the stored bytes. */
        assert_null(memmem(sealed.data, sealed.len, doc, 32));
        assert_int_equal(
            docstore_open(suites[s], key, rec, sealed.data, sealed.len, &plain, errmsg), TB_OK);
        assert_int_equal(plain.len, sizeof(doc));
        assert_memory_equal(plain.data, doc, sizeof(doc));
        /* Every single changed byte (version, nonce, ciphertext, tag) refuses to open. */
        for (size_t i = 0; i < sealed.len; i++) {
            sealed.data[i] ^= 0x01;
            tb_buf_reset(&plain);
            assert_int_equal(
                docstore_open(suites[s], key, rec, sealed.data, sealed.len, &plain, errmsg),
                TB_EBADSIG);
            assert_int_equal(plain.len, 0);
            sealed.data[i] ^= 0x01;
        }
        /* Another record's id (the associated data), another key, the other suite, cut. */
        assert_int_equal(
            docstore_open(suites[s], key, rec2, sealed.data, sealed.len, &plain, errmsg),
            TB_EBADSIG);
        assert_int_equal(
            docstore_open(suites[s], other, rec, sealed.data, sealed.len, &plain, errmsg),
            TB_EBADSIG);
        assert_int_not_equal(
            docstore_open(suites[1 - s], key, rec, sealed.data, sealed.len, &plain, errmsg), TB_OK);
        assert_int_equal(
            docstore_open(suites[s], key, rec, sealed.data, sealed.len - 1, &plain, errmsg),
            TB_EBADSIG);
        assert_int_equal(docstore_open(suites[s], key, rec, sealed.data, 0, &plain, errmsg),
                         TB_EBADSIG);
        /* Two seals of one document differ (fresh nonce) and both open. */
        struct tb_buf again;
        tb_buf_init(&again, DOCSTORE_SEALED_BYTES_MAX);
        assert_int_equal(docstore_seal(suites[s], key, rec, doc, sizeof(doc), &again, errmsg),
                         TB_OK);
        assert_true(again.len == sealed.len && memcmp(again.data, sealed.data, sealed.len) != 0);
        /* The empty document is a document. */
        tb_buf_reset(&again);
        tb_buf_reset(&plain);
        assert_int_equal(docstore_seal(suites[s], key, rec, NULL, 0, &again, errmsg), TB_OK);
        assert_int_equal(docstore_open(suites[s], key, rec, again.data, again.len, &plain, errmsg),
                         TB_OK);
        assert_int_equal(plain.len, 0);
        tb_buf_release(&again);
        tb_buf_release(&sealed);
        tb_buf_release(&plain);
    }
}

static void seal_refuses_oversized(void **state)
{
    (void)state;
    uint8_t key[CR_AEAD_KEY_BYTES], rec[32] = {0};
    struct tb_buf sealed;
    key_fill(key, 3);
    uint8_t *big = tb_calloc(1, DOCSTORE_DOCUMENT_BYTES_MAX + 1);
    assert_non_null(big);
    tb_buf_init(&sealed, DOCSTORE_SEALED_BYTES_MAX);
    assert_int_equal(docstore_seal(CR_SUITE_ED25519_SHA256, key, rec, big,
                                   DOCSTORE_DOCUMENT_BYTES_MAX + 1, &sealed, errmsg),
                     TB_ELIMIT);
    assert_int_equal(sealed.len, 0);
    tb_buf_release(&sealed);
    tb_free(big);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void key_file_forms(void **state)
{
    (void)state;
    char *dir = tb_strdup(t_tmpdir("docstore-key"));
    char path[1024];
    uint8_t raw[32], got[32];
    key_fill(raw, 7);
    snprintf(path, sizeof(path), "%s/document.key", dir);
    write_file(path, raw, sizeof(raw));
    assert_int_equal(docstore_key_load(path, got, errmsg), TB_OK);
    assert_memory_equal(got, raw, 32);
    char hex[66];
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    hex[64] = '\n';
    write_file(path, hex, 65);
    memset(got, 0, sizeof(got));
    assert_int_equal(docstore_key_load(path, got, errmsg), TB_OK);
    assert_memory_equal(got, raw, 32);
    write_file(path, raw, 31);
    assert_int_equal(docstore_key_load(path, got, errmsg), TB_ECONFIG);
    write_file(path, hex, 64 - 1);
    assert_int_equal(docstore_key_load(path, got, errmsg), TB_ECONFIG);
    snprintf(path, sizeof(path), "%s/missing.key", dir);
    assert_int_equal(docstore_key_load(path, got, errmsg), TB_EIO);
    assert_non_null(strstr(errmsg, "missing.key"));
    t_rmtree(dir);
    tb_free(dir);
}

/* put/get on a real store; the stored bytes changed in place refuse to open. */
static void store_put_get_tamper(void **state)
{
    (void)state;
    char *dir = tb_strdup(t_tmpdir("docstore-store"));
    char data[1024], key_path[1024];
    struct store *s = NULL;
    uint8_t key[32], rec[32], rec2[32], doc[500];
    struct t_rng rng;
    t_rng_seed(&rng, 5);
    t_rng_bytes(&rng, doc, sizeof(doc));
    key_fill(key, 9);
    memset(rec, 0x31, 32);
    memset(rec2, 0x32, 32);
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(key_path, sizeof(key_path), "%s/document.key", dir);
    write_file(key_path, key, 32);
    assert_int_equal(store_open(&s, data, MAP_BYTES, errmsg), TB_OK);
    for (size_t k = 0; k < 2; k++) {
        struct tb_buf out, sealed;
        struct store_txn *txn = NULL;
        rec[0] = rec2[0] = (uint8_t)k; /* fresh ids per suite */
        tb_buf_init(&out, DOCSTORE_DOCUMENT_BYTES_MAX);
        tb_buf_init(&sealed, DOCSTORE_SEALED_BYTES_MAX);
        assert_int_equal(docstore_put(s, suites[k], key_path, rec, doc, sizeof(doc), errmsg),
                         TB_OK);
        assert_int_equal(docstore_get(s, suites[k], key_path, rec, &out, errmsg), TB_OK);
        assert_int_equal(out.len, sizeof(doc));
        assert_memory_equal(out.data, doc, sizeof(doc));
        assert_int_equal(docstore_get(s, suites[k], key_path, rec2, &out, errmsg), TB_ENOTFOUND);
        /* Tamper with the stored value (as a disk edit would) and read again. */
        assert_int_equal(store_begin_write(s, &txn, errmsg), TB_OK);
        assert_int_equal(store_document_get(txn, rec, &sealed, errmsg), TB_OK);
        sealed.data[sealed.len / 2] ^= 0x80;
        assert_int_equal(
            store_document_put(txn, rec, (struct tb_bytes){sealed.data, sealed.len}, errmsg),
            TB_OK);
        assert_int_equal(store_commit(txn, errmsg), TB_OK);
        assert_int_equal(docstore_get(s, suites[k], key_path, rec, &out, errmsg), TB_EBADSIG);
        /* The same record's document moved to another record's key does not open either. */
        assert_int_equal(store_begin_write(s, &txn, errmsg), TB_OK);
        sealed.data[sealed.len / 2] ^= 0x80;
        assert_int_equal(
            store_document_put(txn, rec2, (struct tb_bytes){sealed.data, sealed.len}, errmsg),
            TB_OK);
        assert_int_equal(store_commit(txn, errmsg), TB_OK);
        assert_int_equal(docstore_get(s, suites[k], key_path, rec2, &out, errmsg), TB_EBADSIG);
        /* A wrong key file: nothing opens. */
        uint8_t wrong[32];
        key_fill(wrong, 10);
        write_file(key_path, wrong, 32);
        assert_int_equal(docstore_put(s, suites[k], key_path, rec, doc, sizeof(doc), errmsg),
                         TB_OK);
        write_file(key_path, key, 32);
        assert_int_equal(docstore_get(s, suites[k], key_path, rec, &out, errmsg), TB_EBADSIG);
        tb_buf_release(&out);
        tb_buf_release(&sealed);
    }
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

static void consent_bookkeeping(void **state)
{
    (void)state;
    char *dir = tb_strdup(t_tmpdir("docstore-uses"));
    char data[1024];
    struct store *s = NULL;
    struct store_txn *txn = NULL;
    uint8_t c1[32], c2[32], a[32];
    uint32_t count = 0;
    uint64_t h = 99;
    memset(c1, 1, 32);
    memset(c2, 2, 32);
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(store_open(&s, data, MAP_BYTES, errmsg), TB_OK);
    assert_int_equal(store_begin_write(s, &txn, errmsg), TB_OK);
    assert_int_equal(docstore_indexed_height(txn, &h, errmsg), TB_OK);
    assert_int_equal(h, 0);
    for (uint8_t i = 0; i < 5; i++) {
        memset(a, i, 32);
        assert_int_equal(docstore_use_put(txn, c1, a, errmsg), TB_OK);
        assert_int_equal(docstore_use_put(txn, c1, a, errmsg), TB_OK); /* idempotent */
    }
    assert_int_equal(docstore_use_put(txn, c2, a, errmsg), TB_OK);
    assert_int_equal(docstore_indexed_height_put(txn, 1234567, errmsg), TB_OK);
    assert_int_equal(store_commit(txn, errmsg), TB_OK);
    assert_int_equal(store_begin_read(s, &txn, errmsg), TB_OK);
    assert_int_equal(docstore_uses_count(txn, c1, 100, &count, errmsg), TB_OK);
    assert_int_equal(count, 5);
    assert_int_equal(docstore_uses_count(txn, c1, 3, &count, errmsg), TB_OK);
    assert_int_equal(count, 3); /* bounded */
    assert_int_equal(docstore_uses_count(txn, c2, 100, &count, errmsg), TB_OK);
    assert_int_equal(count, 1);
    assert_int_equal(docstore_indexed_height(txn, &h, errmsg), TB_OK);
    assert_int_equal(h, 1234567);
    store_abort(txn);
    struct docstore_refusal r = {.code = "consent_expired", .time_ms = 1700000000123u};
    memset(r.subject, 0x44, 32);
    snprintf(r.requester_city, sizeof(r.requester_city), "370100");
    snprintf(r.requester_agency, sizeof(r.requester_agency), "ag1");
    snprintf(r.purpose, sizeof(r.purpose), "住房贷款");
    snprintf(r.message, sizeof(r.message), "the token expired");
    assert_int_equal(docstore_refusal_put(s, &r, errmsg), TB_OK);
    assert_int_equal(docstore_refusal_put(s, &r, errmsg), TB_OK); /* two entries, one ms */
    uint64_t entries = 0;
    assert_int_equal(store_begin_read(s, &txn, errmsg), TB_OK);
    assert_int_equal(store_count(txn, STORE_DB_META, &entries, errmsg), TB_OK);
    store_abort(txn);
    assert_int_equal(entries, 5 + 1 + 1 + 2);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

/* The first key the scan shows: the subject's oldest refusal. */
static int first_key(void *arg, struct tb_bytes key, struct tb_bytes value, char *em)
{
    (void)value;
    (void)em;
    uint64_t *t = arg;
    size_t off = DOCSTORE_PREFIX_BYTES + 32; /* prefix || subject || time_ms u64 || seq */
    if (*t == 0 && key.len >= off + 8)
        for (size_t i = 0; i < 8; i++)
            *t = *t << 8 | key.ptr[off + i];
    return 0;
}

static void refusals_bounded(void **state)
{
    (void)state;
    char *dir = tb_strdup(t_tmpdir("docstore-refusals"));
    char data[1024];
    struct store *s = NULL;
    struct store_txn *txn = NULL;
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(store_open(&s, data, MAP_BYTES, errmsg), TB_OK);
    struct docstore_refusal r = {.code = "wrong_grantee"};
    snprintf(r.requester_city, sizeof(r.requester_city), "370100");
    snprintf(r.requester_agency, sizeof(r.requester_agency), "ag1");
    memset(r.subject, 0xB0, 32);
    for (uint64_t i = 0; i < 3; i++) { /* another subject's: never trimmed by A's */
        r.time_ms = 1000 + i;
        assert_int_equal(docstore_refusal_put(s, &r, errmsg), TB_OK);
    }
    memset(r.subject, 0xA0, 32);
    for (uint64_t i = 0; i < DOCSTORE_REFUSALS_PER_SUBJECT + 10; i++) {
        r.time_ms = 2000 + i;
        assert_int_equal(docstore_refusal_put(s, &r, errmsg), TB_OK);
    }
    uint64_t entries = 0, oldest = 0;
    uint8_t prefix[DOCSTORE_PREFIX_BYTES + 32];
    memcpy(prefix, DOCSTORE_REFUSED_PREFIX, DOCSTORE_PREFIX_BYTES);
    memset(prefix + DOCSTORE_PREFIX_BYTES, 0xA0, 32);
    struct store_visitor v = {.arg = &oldest, .visit = first_key};
    uint32_t visited = 0;
    assert_int_equal(store_begin_read(s, &txn, errmsg), TB_OK);
    assert_int_equal(store_count(txn, STORE_DB_META, &entries, errmsg), TB_OK);
    assert_int_equal(store_scan(txn, STORE_DB_META, (struct tb_bytes){prefix, sizeof(prefix)}, NULL,
                                1000, &v, &visited, errmsg),
                     TB_OK);
    store_abort(txn);
    assert_int_equal(entries, DOCSTORE_REFUSALS_PER_SUBJECT + 3);
    assert_int_equal(visited, DOCSTORE_REFUSALS_PER_SUBJECT);
    assert_int_equal(oldest, 2000 + 10); /* the ten oldest went, in order */
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

static void withdrawal_assert_eq(const struct docstore_withdrawal *a,
                                 const struct docstore_withdrawal *b)
{
    assert_int_equal(a->at_s, b->at_s);
    assert_string_equal(a->city, b->city);
    assert_string_equal(a->agency, b->agency);
}

/* A raw value under consent_id's withdrawal key (a corrupt store). */
static void withdrawal_raw_put(struct store *s, const uint8_t id[32], const void *v, size_t n)
{
    uint8_t k[DOCSTORE_PREFIX_BYTES + 32];
    struct store_txn *txn = NULL;
    memcpy(k, DOCSTORE_WITHDRAWN_PREFIX, DOCSTORE_PREFIX_BYTES);
    memcpy(k + DOCSTORE_PREFIX_BYTES, id, 32);
    assert_int_equal(store_begin_write(s, &txn, errmsg), TB_OK);
    assert_int_equal(store_put(txn, STORE_DB_META, (struct tb_bytes){k, sizeof(k)},
                               (struct tb_bytes){v, n}, 0, errmsg),
                     TB_OK);
    assert_int_equal(store_commit(txn, errmsg), TB_OK);
}

static int withdrawal_get(struct store *s, const uint8_t id[32], struct docstore_withdrawal *w)
{
    struct store_txn *txn = NULL;
    assert_int_equal(store_begin_read(s, &txn, errmsg), TB_OK);
    int rv = docstore_withdrawal_get(txn, id, w, errmsg);
    store_abort(txn);
    return rv;
}

/* Withdrawals: stored and found, the first one kept, bad codes refused, durable across a
 * reopening of the store, a corrupt entry reported (never asserted on). */
static void withdrawals(void **state)
{
    (void)state;
    char *dir = tb_strdup(t_tmpdir("docstore-withdraw"));
    char data[1024];
    struct store *s = NULL;
    uint8_t c1[32], c2[32], c3[32];
    bool was_new = false;
    struct docstore_withdrawal w1 = {.at_s = 1700000000u, .city = "371500", .agency = "ag0"};
    struct docstore_withdrawal w2 = {.at_s = 1700000999u, .city = "371500", .agency = "ag9"};
    struct docstore_withdrawal got, first;
    memset(c1, 0xC1, 32);
    memset(c2, 0xC2, 32);
    memset(c3, 0xC3, 32);
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(store_open(&s, data, MAP_BYTES, errmsg), TB_OK);
    assert_int_equal(withdrawal_get(s, c1, &got), TB_ENOTFOUND);
    assert_int_equal(docstore_withdrawal_put(s, c1, &w1, &first, &was_new, errmsg), TB_OK);
    assert_true(was_new);
    withdrawal_assert_eq(&first, &w1);
    assert_int_equal(withdrawal_get(s, c1, &got), TB_OK);
    withdrawal_assert_eq(&got, &w1);
    /* Again, later, by another agency: nothing changes, the first one is answered. */
    assert_int_equal(docstore_withdrawal_put(s, c1, &w2, &first, &was_new, errmsg), TB_OK);
    assert_false(was_new);
    withdrawal_assert_eq(&first, &w1);
    assert_int_equal(withdrawal_get(s, c2, &got), TB_ENOTFOUND); /* another consent */
    /* Codes that do not fit the value's form are refused, and nothing is stored. */
    struct docstore_withdrawal bad = w2;
    bad.city[0] = '\0';
    assert_int_equal(docstore_withdrawal_put(s, c2, &bad, &first, &was_new, errmsg), TB_EINVAL);
    bad = w2;
    snprintf(bad.agency, sizeof(bad.agency), "a/b");
    assert_int_equal(docstore_withdrawal_put(s, c2, &bad, &first, &was_new, errmsg), TB_EINVAL);
    assert_false(was_new);
    assert_int_equal(withdrawal_get(s, c2, &got), TB_ENOTFOUND);
    assert_int_equal(docstore_withdrawal_put(s, c2, &w2, &first, &was_new, errmsg), TB_OK);
    assert_true(was_new);
    /* Durable: a reopened store still has both. */
    store_close(s);
    s = NULL;
    assert_int_equal(store_open(&s, data, MAP_BYTES, errmsg), TB_OK);
    assert_int_equal(withdrawal_get(s, c1, &got), TB_OK);
    withdrawal_assert_eq(&got, &w1);
    assert_int_equal(withdrawal_get(s, c2, &got), TB_OK);
    withdrawal_assert_eq(&got, &w2);
    assert_int_equal(docstore_withdrawal_put(s, c1, &w2, &first, &was_new, errmsg), TB_OK);
    assert_false(was_new);
    withdrawal_assert_eq(&first, &w1);
    /* Corrupt entries: no separator, empty agency, too long, too short. */
    static const char no_slash[] =
        "\0\0\0\0\0\0\0\x01"
        "371500ag0";
    static const char no_agency[] =
        "\0\0\0\0\0\0\0\x01"
        "371500/";
    char long_v[200];
    memset(long_v, 'a', sizeof(long_v));
    long_v[20] = '/';
    withdrawal_raw_put(s, c3, no_slash, sizeof(no_slash) - 1);
    assert_int_equal(withdrawal_get(s, c3, &got), TB_EIO);
    withdrawal_raw_put(s, c3, no_agency, sizeof(no_agency) - 1);
    assert_int_equal(withdrawal_get(s, c3, &got), TB_EIO);
    withdrawal_raw_put(s, c3, long_v, sizeof(long_v));
    assert_int_equal(withdrawal_get(s, c3, &got), TB_EIO);
    withdrawal_raw_put(s, c3, no_slash, 5);
    assert_int_equal(withdrawal_get(s, c3, &got), TB_EIO);
    /* A corrupt entry is not overwritten by a withdrawal either: the error is reported. */
    assert_int_equal(docstore_withdrawal_put(s, c3, &w1, &first, &was_new, errmsg), TB_EIO);
    assert_false(was_new);
    store_close(s);
    t_rmtree(dir);
    tb_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seal_open_round_trip_and_tamper),
        cmocka_unit_test(seal_refuses_oversized),
        cmocka_unit_test(key_file_forms),
        cmocka_unit_test(store_put_get_tamper),
        cmocka_unit_test(consent_bookkeeping),
        cmocka_unit_test(refusals_bounded),
        cmocka_unit_test(withdrawals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
