/*
 * libFuzzer target for the credential URI parser (what a citizen's scanned or typed code
 * goes through). Oracle: no crash; whatever parses re-encodes to the same text (modulo the
 * accepted all-lowercase spelling); a refusal leaves the outputs zeroed.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "qr.h"
#include "tb_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prefix[QR_CHAIN_PREFIX_BYTES], record[QR_RECORD_ID_BYTES];
    uint8_t chain_id[QR_CHAIN_ID_BYTES] = {0};
    char errmsg[TB_ERRMSG_SIZE] = "";
    char again[QR_URI_SIZE];
    static const uint8_t zero[QR_RECORD_ID_BYTES];

    if (qr_uri_parse((const char *)data, size, prefix, record, errmsg) != TB_OK) {
        TB_ASSERT(memcmp(record, zero, sizeof(record)) == 0);
        TB_ASSERT(errmsg[0] != '\0');
        return 0;
    }
    memcpy(chain_id, prefix, sizeof(prefix));
    qr_uri_encode(chain_id, record, again);
    TB_ASSERT(size == QR_URI_LEN);
    for (size_t i = 0; i < size; i++)
        TB_ASSERT(toupper(data[i]) == again[i]);
    TB_ASSERT(qr_uri_chain_check(prefix, chain_id, errmsg) == TB_OK);
    return 0;
}
