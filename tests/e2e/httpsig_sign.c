/*
 * tests/e2e/httpsig_sign.c: TEST-ONLY tool for the authorisation e2e tests. Prints the four
 * header lines of a request signed by an agency key (docs/authentication.md), so that the
 * test can send it as is, or tamper with it first:
 *   httpsig_sign KEYFILE CITY AGENCY METHOD PATH QUERY BODYFILE CREATED_S
 * QUERY is without '?' ("" for none); BODYFILE "-" means an empty body. Prints
 * "Content-Digest: ..", "Tongban-Agency: ..", "Signature-Input: ..", "Signature: .." lines.
 * Not part of the product: the CLI signs with cli_http_signed_json (node/cli_http.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_httpsig.h"
#include "cr_sign.h"

#define BODY_MAX 65536

int main(int argc, char **argv)
{
    static uint8_t body[BODY_MAX];
    size_t len = 0;
    struct cr_key *key = NULL;
    struct cr_httpsig_signed s;
    char err[TB_ERRMSG_SIZE] = "";
    if (argc != 9) {
        fprintf(stderr,
                "usage: httpsig_sign KEYFILE CITY AGENCY METHOD PATH QUERY BODYFILE "
                "CREATED_S\n");
        return 2;
    }
    if (strcmp(argv[7], "-") != 0) {
        FILE *f = fopen(argv[7], "rb");
        if (f == NULL) {
            fprintf(stderr, "httpsig_sign: cannot open %s\n", argv[7]);
            return 1;
        }
        len = fread(body, 1, sizeof(body), f);
        fclose(f);
    }
    char *end = NULL;
    long long created = strtoll(argv[8], &end, 10);
    if (end == argv[8] || *end != '\0' || created < 0) {
        fprintf(stderr, "httpsig_sign: bad CREATED_S\n");
        return 2;
    }
    int rc = cr_key_load_pem(argv[1], NULL, &key, err);
    struct cr_httpsig_request req = {
        .method = argv[4], .path = argv[5], .query = argv[6], .body = body, .body_len = len};
    if (rc == TB_OK)
        rc = cr_httpsig_sign(key, &req, argv[2], argv[3], (int64_t)created, (int64_t)created + 60,
                             NULL, 0, &s, err);
    cr_key_free(key);
    if (rc != TB_OK) {
        fprintf(stderr, "httpsig_sign: %s: %s\n", tb_strerror(rc), err);
        return 1;
    }
    printf("Content-Digest: %s\nTongban-Agency: %s/%s\nSignature-Input: %s\nSignature: %s\n",
           s.content_digest, argv[2], argv[3], s.signature_input, s.signature);
    return 0;
}
