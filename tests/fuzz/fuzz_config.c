/*
 * libFuzzer target: the node's INI config from arbitrary bytes.
 *
 * Oracle: no crash, no sanitizer report, an error message on every failure, and for
 * every accepted file, writing it back and parsing the result gives the same struct.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "tb_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_config cfg, back;
    char err[TB_ERRMSG_SIZE] = "";
    int rc = cfg_config_parse((const char *)data, size, "fuzz.ini", "/base", &cfg, err);
    if (rc != TB_OK) {
        TB_ASSERT(err[0] != '\0');
        return 0;
    }
    struct tb_buf out;
    tb_buf_init(&out, 1 << 16);
    rc = cfg_config_write(&cfg, &out);
    /* TB_EINVAL: a value inih cannot read back from "key = value" (e.g. " ;" inside). */
    TB_ASSERT(rc == TB_OK || rc == TB_EINVAL);
    if (rc == TB_OK) {
        rc = cfg_config_parse((const char *)out.data, out.len, "w.ini", "/other", &back, err);
        TB_ASSERT(rc == TB_OK);
        TB_ASSERT(memcmp(&cfg, &back, sizeof(cfg)) == 0);
    }
    tb_buf_release(&out);
    return 0;
}
