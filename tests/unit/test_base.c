/* base/: bounded buffer, hex, base64, errors, allocation faults. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tb_alloc.h"
#include "tb_buf.h"
#include "tb_err.h"
#include "tb_hex.h"
#include "tb_text.h"

static void buf_respects_max(void **state)
{
    struct tb_buf b;
    uint8_t chunk[100] = {0};
    (void)state;
    tb_buf_init(&b, 250);
    assert_int_equal(tb_buf_append(&b, chunk, 100), TB_OK);
    assert_int_equal(tb_buf_append(&b, chunk, 100), TB_OK);
    assert_int_equal(b.len, 200);
    assert_int_equal(tb_buf_append(&b, chunk, 51), TB_ELIMIT);
    assert_null(b.data); /* freed on failure */
    assert_int_equal(b.len, 0);
    assert_int_equal(tb_buf_append(&b, chunk, 50), TB_OK);
    tb_buf_release(&b);
}

static void buf_frees_on_alloc_failure(void **state)
{
    struct tb_buf b;
    uint8_t chunk[100] = {0};
    (void)state;
    tb_buf_init(&b, 1 << 20);
    assert_int_equal(tb_buf_append(&b, chunk, 10), TB_OK);
    tb_alloc_fault_set(0, 1);
    assert_int_equal(tb_buf_append(&b, chunk, 100), TB_ENOMEM);
    tb_alloc_fault_reset();
    assert_null(b.data);
    tb_buf_release(&b);
}

static void hex_round_trip_and_rejects(void **state)
{
    uint8_t in[4] = {0x00, 0xab, 0xCD, 0xff};
    uint8_t out[4];
    char text[9];
    size_t n = 0;
    (void)state;
    tb_hex_encode(in, 4, text);
    assert_string_equal(text, "00abcdff");
    assert_int_equal(tb_hex_decode("00ABcdff", 8, out, 4), TB_OK);
    assert_memory_equal(in, out, 4);
    assert_int_equal(tb_hex_decode("00abcdf", 7, out, 4), TB_EMALFORMED);
    assert_int_equal(tb_hex_decode("00abcdfg", 8, out, 4), TB_EMALFORMED);
    assert_int_equal(tb_hex_decode_var("abcd", 4, out, 1, &n), TB_ELIMIT);
}

static void base64_vectors(void **state)
{
    /* RFC 4648 section 10 test vectors. */
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    (void)state;
    for (int i = 0; i < 7; i++) {
        char text[16];
        uint8_t back[8];
        size_t n = 0;
        tb_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), text);
        assert_string_equal(text, coded[i]);
        assert_int_equal(tb_base64_decode(coded[i], strlen(coded[i]), back, sizeof(back), &n),
                         TB_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
}

static void base64_strict(void **state)
{
    uint8_t out[8];
    size_t n;
    (void)state;
    assert_int_equal(tb_base64_decode("Zg=", 3, out, 8, &n), TB_EMALFORMED);
    assert_int_equal(tb_base64_decode("Zh==", 4, out, 8, &n), TB_EMALFORMED); /* bits */
    assert_int_equal(tb_base64_decode("Z===", 4, out, 8, &n), TB_EMALFORMED);
    assert_int_equal(tb_base64_decode("Zg==Zg==", 8, out, 8, &n), TB_EMALFORMED);
    assert_int_equal(tb_base64_decode("Zm 9", 4, out, 8, &n), TB_EMALFORMED);
    assert_int_equal(tb_base64_decode("Zm9vYmFy", 8, out, 5, &n), TB_ELIMIT);
}

static void errors_have_text(void **state)
{
    char msg[TB_ERRMSG_SIZE] = "";
    (void)state;
    assert_string_equal(tb_strerror(TB_ENOSPC), "storage full");
    assert_string_equal(tb_strerror(-9999), "unknown error");
    tb_errmsg_setf(msg, "MDB_MAP_FULL");
    tb_errmsg_wrapf(msg, "store block %d", 42);
    assert_string_equal(msg, "store block 42: MDB_MAP_FULL");
    assert_int_equal(tb_fail(msg, TB_EINVAL, "bad %s", "x"), TB_EINVAL);
    assert_string_equal(msg, "bad x");
}

static void utf8_rules(void **state)
{
    static const struct
    {
        const char *bytes;
        bool valid;
    } cases[] = {
        {"", true},
        {"abc", true},
        {"\xe8\x81\x8a\xe5\x9f\x8e", true}, /* 聊城 */
        {"\xf0\x9f\x98\x80", true},         /* U+1F600 */
        {"\xc0\xaf", false},                /* overlong '/' */
        {"\xe0\x80\xaf", false},            /* overlong, 3 bytes */
        {"\xf0\x82\x82\xac", false},        /* overlong, 4 bytes */
        {"\xed\xa0\x80", false},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", false},        /* above U+10FFFF */
        {"\xe8\x81", false},                /* truncated */
        {"\x80", false},                    /* lone continuation */
        {"\xf8\x88\x80\x80\x80", false},    /* 5-byte form */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(tb_utf8_valid(cases[i].bytes, strlen(cases[i].bytes)), cases[i].valid);
    assert_true(tb_utf8_valid("a\0b", 3));
    assert_int_equal(tb_hex_digit('F'), 15);
    assert_int_equal(tb_hex_digit('g'), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_max),
        cmocka_unit_test(buf_frees_on_alloc_failure),
        cmocka_unit_test(hex_round_trip_and_rejects),
        cmocka_unit_test(base64_vectors),
        cmocka_unit_test(base64_strict),
        cmocka_unit_test(errors_have_text),
        cmocka_unit_test(utf8_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
