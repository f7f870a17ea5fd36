/*
 * A small command-line front end over crypto/ for the interop script: keys, signatures
 * and PEM files made here are checked with the openssl CLI, and the other way round.
 *
 *   interop_tool keygen SUITE PEMFILE
 *   interop_tool sign PEMFILE MSGFILE SIGFILE
 *   interop_tool verify PUBPEM|PEM MSGFILE SIGFILE
 *
 * A passphrase, when wanted, comes from the environment variable INTEROP_PASS (never
 * from argv, where ps would show it). Exit codes: 0 ok, 1 bad signature, 2 other
 * error, 3 wrong or missing passphrase (TB_EPASS). Test tool only; never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_sign.h"
#include "tb_alloc.h"

#define MSG_MAX (1 << 20)

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = tb_malloc(MSG_MAX + 1);
    size_t n;
    if (f == NULL || buf == NULL) {
        if (f != NULL)
            fclose(f);
        tb_free(buf);
        fprintf(stderr, "cannot read '%s'\n", path);
        return 2;
    }
    n = fread(buf, 1, MSG_MAX + 1, f);
    fclose(f);
    if (n > MSG_MAX) {
        tb_free(buf);
        fprintf(stderr, "'%s' is too large\n", path);
        return 2;
    }
    *data = buf;
    *len = n;
    return 0;
}

static int exit_code(int rv)
{
    if (rv == TB_OK)
        return 0;
    if (rv == TB_EBADSIG)
        return 1;
    if (rv == TB_EPASS)
        return 3;
    return 2;
}

static int load_key(const char *path, struct cr_key **key)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv = cr_key_load_pem(path, getenv("INTEROP_PASS"), key, errmsg);
    if (rv != TB_OK)
        fprintf(stderr, "load: %s (%s)\n", errmsg, tb_strerror(rv));
    return rv;
}

static int cmd_keygen(const char *suite_name, const char *path)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    struct cr_key *key = NULL;
    enum cr_suite suite;
    int rv = cr_suite_parse(suite_name, &suite);
    if (rv == TB_OK)
        rv = cr_key_generate(suite, &key);
    if (rv == TB_OK)
        rv = cr_key_save_pem(key, path, getenv("INTEROP_PASS"), errmsg);
    if (rv != TB_OK)
        fprintf(stderr, "keygen: %s %s\n", tb_strerror(rv), errmsg);
    cr_key_free(key);
    return exit_code(rv);
}

static int cmd_sign(const char *pem, const char *msg_path, const char *sig_path)
{
    struct cr_key *key = NULL;
    uint8_t *msg = NULL;
    uint8_t sig[CR_SIG_MAX];
    size_t msg_len = 0, sig_len = 0;
    FILE *f;
    int rv = load_key(pem, &key);
    if (rv != TB_OK)
        return exit_code(rv);
    if (read_file(msg_path, &msg, &msg_len) != 0) {
        cr_key_free(key);
        return 2;
    }
    rv = cr_sign(key, msg, msg_len, sig, &sig_len);
    cr_key_free(key);
    tb_free(msg);
    if (rv != TB_OK) {
        fprintf(stderr, "sign: %s\n", tb_strerror(rv));
        return exit_code(rv);
    }
    f = fopen(sig_path, "wb");
    if (f == NULL || fwrite(sig, 1, sig_len, f) != sig_len || fclose(f) != 0) {
        fprintf(stderr, "cannot write '%s'\n", sig_path);
        return 2;
    }
    return 0;
}

static int cmd_verify(const char *pem, const char *msg_path, const char *sig_path)
{
    struct cr_key *key = NULL;
    uint8_t *msg = NULL, *sig = NULL;
    size_t msg_len = 0, sig_len = 0;
    int rv = load_key(pem, &key);
    if (rv != TB_OK)
        return exit_code(rv);
    if (read_file(msg_path, &msg, &msg_len) != 0 || read_file(sig_path, &sig, &sig_len) != 0) {
        cr_key_free(key);
        tb_free(msg);
        return 2;
    }
    rv = cr_verify(key, msg, msg_len, sig, sig_len);
    printf("%s\n", rv == TB_OK ? "verified" : tb_strerror(rv));
    cr_key_free(key);
    tb_free(msg);
    tb_free(sig);
    return exit_code(rv);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2], argv[3], argv[4]);
    fprintf(stderr,
            "usage: interop_tool keygen SUITE PEMFILE\n"
            "       interop_tool sign PEMFILE MSGFILE SIGFILE\n"
            "       interop_tool verify PUBPEM|PEM MSGFILE SIGFILE\n");
    return 2;
}
