/*
 * node/log.c: one line per event. logfmt and JSON renderings of the same event, the quoting
 * of free text (quotes, backslashes, control bytes cannot break a line or a JSON string), and
 * truncation that stays inside the buffer. The JSON line is parsed back with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "log.h"

static void logfmt_line(void **state)
{
    (void)state;
    char line[512];
    node_log_format_line(line, sizeof(line), CFG_LOG_LOGFMT, NODE_LOG_WARN, "commit",
                         "disk \"full\"\n", "height=4 txs=2");
    assert_non_null(strstr(line,
                           " level=warn event=commit height=4 txs=2 error=\"disk "
                           "\\\"full\\\"\\u000a\""));
    assert_null(strchr(line, '\n'));
    assert_memory_equal(line, "ts=", 3);
}

static void json_line_parses(void **state)
{
    (void)state;
    char line[512];
    json_error_t jerr;
    node_log_format_line(line, sizeof(line), CFG_LOG_JSON, NODE_LOG_ERROR, "store_error",
                         "a\\b \"c\"\x01", "op=commit rc=TB_ENOSPC height=42 hash=007f");
    json_t *j = json_loads(line, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "event")), "store_error");
    assert_string_equal(json_string_value(json_object_get(j, "op")), "commit");
    assert_string_equal(json_string_value(json_object_get(j, "rc")), "TB_ENOSPC");
    assert_int_equal(json_integer_value(json_object_get(j, "height")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "hash")), "007f");
    assert_string_equal(json_string_value(json_object_get(j, "error")), "a\\b \"c\"\x01");
    json_decref(j);
    node_log_format_line(line, sizeof(line), CFG_LOG_JSON, NODE_LOG_INFO, "idle", NULL, "");
    j = json_loads(line, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
}

static void truncation_stays_in_bounds(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (size_t size = 64; size < 300; size += 7) {
        char line[300];
        memset(line, 0x7f, sizeof(line));
        node_log_format_line(line, size, CFG_LOG_JSON, NODE_LOG_INFO, "e", big, "k=v");
        assert_true(strlen(line) < size);
        if (size < sizeof(line))
            assert_int_equal((unsigned char)line[size], 0x7f); /* nothing written past it */
        node_log_format_line(line, size, CFG_LOG_LOGFMT, NODE_LOG_INFO, "e", big, "k=v");
        assert_true(strlen(line) < size);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logfmt_line),
        cmocka_unit_test(json_line_parses),
        cmocka_unit_test(truncation_stays_in_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
