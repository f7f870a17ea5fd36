/*
 * crypto/hash.c: SHA-256 and SM3 known answers (FIPS 180-2, GB/T 32905), HMAC-SHA256
 * (RFC 4231 cases 1 and 2), tagged hashes against a naive concatenation, the
 * incremental hasher against one-shot, and cr_subject's normalisation and refusals.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cr_hash.h"
#include "t_util.h"
#include "tb_alloc.h"
#include "tb_hex.h"

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    char text[2 * 64 + 1];
    assert_true(len <= 64);
    tb_hex_encode(got, len, text);
    assert_string_equal(text, want_hex);
}

static void sha256_abc(void **state)
{
    uint8_t h[CR_HASH_BYTES];
    (void)state;
    cr_hash(CR_SUITE_ED25519_SHA256, "abc", 3, h);
    assert_hex(h, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_hash(CR_SUITE_ED25519_SHA256, "", 0, h);
    assert_hex(h, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void sm3_vectors(void **state)
{
    uint8_t h[CR_HASH_BYTES];
    char abcd16[65];
    (void)state;
    cr_hash(CR_SUITE_SM2_SM3, "abc", 3, h);
    assert_hex(h, 32, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    for (int i = 0; i < 16; i++)
        memcpy(abcd16 + 4 * i, "abcd", 4);
    cr_hash(CR_SUITE_SM2_SM3, abcd16, 64, h);
    assert_hex(h, 32, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

static void hmac_sha256_rfc4231(void **state)
{
    uint8_t key1[20];
    uint8_t mac[CR_HASH_BYTES];
    (void)state;
    memset(key1, 0x0b, sizeof(key1));
    cr_hmac(CR_SUITE_ED25519_SHA256, key1, sizeof(key1), "Hi There", 8, mac);
    assert_hex(mac, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    cr_hmac(CR_SUITE_ED25519_SHA256, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
            mac);
    assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* Property: cr_hash_tagged == H(tag || 0x00 || parts...) built by hand, random parts. */
static void tagged_equals_naive_concat(void **state)
{
    struct t_rng rng;
    uint8_t data[3][100];
    uint8_t concat[32 + 300];
    uint8_t a[CR_HASH_BYTES], b[CR_HASH_BYTES];
    (void)state;
    t_rng_seed(&rng, 7);
    for (int round = 0; round < 50; round++) {
        enum cr_suite suite = round % 2 ? CR_SUITE_SM2_SM3 : CR_SUITE_ED25519_SHA256;
        struct tb_bytes parts[3];
        size_t n = 0;
        memcpy(concat, "tongban/tx/v1", 13);
        concat[13] = 0;
        n = 14;
        for (int i = 0; i < 3; i++) {
            size_t len = (size_t)t_rng_below(&rng, 101);
            t_rng_bytes(&rng, data[i], len);
            parts[i].ptr = data[i];
            parts[i].len = len;
            memcpy(concat + n, data[i], len);
            n += len;
        }
        cr_hash_tagged(suite, "tongban/tx/v1", parts, 3, a);
        cr_hash(suite, concat, n, b);
        assert_memory_equal(a, b, 32);
        /* Without the zero byte the hash must differ (the separator is really there). */
        memmove(concat + 13, concat + 14, n - 14);
        cr_hash(suite, concat, n - 1, b);
        assert_memory_not_equal(a, b, 32);
    }
}

static void hasher_matches_one_shot(void **state)
{
    struct cr_hasher h;
    uint8_t msg[300];
    uint8_t a[CR_HASH_BYTES], b[CR_HASH_BYTES];
    struct t_rng rng;
    (void)state;
    t_rng_seed(&rng, 11);
    t_rng_bytes(&rng, msg, sizeof(msg));
    assert_int_equal(cr_hasher_init(&h, CR_SUITE_SM2_SM3), TB_OK);
    for (int round = 0; round < 3; round++) { /* begin/update/final repeat */
        cr_hasher_begin(&h);
        cr_hasher_update(&h, msg, 17);
        cr_hasher_update(&h, msg + 17, sizeof(msg) - 17);
        cr_hasher_final(&h, a);
        cr_hash(CR_SUITE_SM2_SM3, msg, sizeof(msg), b);
        assert_memory_equal(a, b, 32);
    }
    cr_hasher_release(&h);
}

static void *hash_thread(void *arg)
{
    uint8_t *out = arg;
    cr_hash(CR_SUITE_SM2_SM3, "abc", 3, out);
    return NULL;
}

/* Each thread's one-shot context is freed when it exits (LeakSanitizer checks). */
static void hash_in_threads(void **state)
{
    pthread_t threads[4];
    uint8_t out[4][CR_HASH_BYTES];
    uint8_t want[CR_HASH_BYTES];
    (void)state;
    cr_hash(CR_SUITE_SM2_SM3, "abc", 3, want);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, hash_thread, out[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_memory_equal(out[i], want, 32);
    }
}

static void suite_names(void **state)
{
    enum cr_suite s;
    (void)state;
    assert_int_equal(cr_suite_parse("ed25519-sha256", &s), TB_OK);
    assert_int_equal(s, CR_SUITE_ED25519_SHA256);
    assert_int_equal(cr_suite_parse("sm2-sm3", &s), TB_OK);
    assert_int_equal(s, CR_SUITE_SM2_SM3);
    assert_int_equal(cr_suite_parse("SM2-SM3", &s), TB_EINVAL);
    assert_int_equal(cr_suite_parse(NULL, &s), TB_EINVAL);
    assert_string_equal(cr_suite_name(CR_SUITE_SM2_SM3), "sm2-sm3");
    assert_null(cr_suite_name((enum cr_suite)9));
    assert_false(cr_suite_valid(0));
    assert_true(cr_suite_valid(2));
}

static const uint8_t subject_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void subject_normalises(void **state)
{
    uint8_t a[CR_HASH_BYTES], b[CR_HASH_BYTES], want[CR_HASH_BYTES];
    char errmsg[TB_ERRMSG_SIZE] = "";
    (void)state;
    /* 11010519491231002X: the GB 11643 sample number, check character X. */
    cr_hmac(CR_SUITE_SM2_SM3, subject_key, 32, "11010519491231002X", 18, want);
    assert_int_equal(cr_subject(CR_SUITE_SM2_SM3, subject_key, "11010519491231002X", a, errmsg),
                     TB_OK);
    assert_memory_equal(a, want, 32);
    assert_int_equal(
        cr_subject(CR_SUITE_SM2_SM3, subject_key, " 110105-1949 1231-002x ", b, errmsg), TB_OK);
    assert_memory_equal(b, want, 32);
    /* The 15-digit card of the same citizen (no century, no check character) is keyed in its
     * 18-character form: one subject for both numbers (D23). */
    cr_hmac(CR_SUITE_ED25519_SHA256, subject_key, 32, "11010519491231002X", 18, want);
    assert_int_equal(cr_subject(CR_SUITE_ED25519_SHA256, subject_key, "110105491231002", a, errmsg),
                     TB_OK);
    assert_memory_equal(a, want, 32);
    assert_int_equal(
        cr_subject(CR_SUITE_ED25519_SHA256, subject_key, "110105 491231 002", b, errmsg), TB_OK);
    assert_memory_equal(b, want, 32);
    /* Another 15-digit number, converted by hand: 370102 + 19 + 800101123 + check 7. */
    cr_hmac(CR_SUITE_SM2_SM3, subject_key, 32, "370102198001011237", 18, want);
    assert_int_equal(cr_subject(CR_SUITE_SM2_SM3, subject_key, "370102800101123", a, errmsg),
                     TB_OK);
    assert_memory_equal(a, want, 32);
}

static void subject_refuses_without_leaking(void **state)
{
    static const char *bad[] = {
        "110105194912310021", /* wrong check digit (X expected) */
        "11010519491231002Y", /* not a digit */
        "1101051949123100",   /* 16 characters */
        "",
        "1101054912310029999999999999999999999999", /* too long */
        "11010519491231002x0",
    };
    uint8_t out[CR_HASH_BYTES];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char errmsg[TB_ERRMSG_SIZE] = "";
        assert_int_equal(cr_subject(CR_SUITE_SM2_SM3, subject_key, bad[i], out, errmsg), TB_EINVAL);
        assert_true(strlen(errmsg) > 0);
        if (strlen(bad[i]) >= 6) /* no run of the number may appear in the message */
            assert_null(strstr(errmsg, "110105"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_abc),
        cmocka_unit_test(sm3_vectors),
        cmocka_unit_test(hmac_sha256_rfc4231),
        cmocka_unit_test(tagged_equals_naive_concat),
        cmocka_unit_test(hasher_matches_one_shot),
        cmocka_unit_test(hash_in_threads),
        cmocka_unit_test(suite_names),
        cmocka_unit_test(subject_normalises),
        cmocka_unit_test(subject_refuses_without_leaking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
