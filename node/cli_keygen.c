/*
 * `tongban keygen`: a new key pair for a node or an agency. The private key goes to a
 * PKCS#8 PEM file (mode 0600, optionally encrypted), the public key to FILE.pub as hex.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cr_hash.h"
#include "cr_sign.h"
#include "tb_hex.h"

static void keygen_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban keygen --suite SUITE --out FILE [--passphrase-file PFILE] [--force]\n"
            "\n"
            "Makes a key pair. Writes the private key to FILE (PKCS#8 PEM, mode 0600; encrypted\n"
            "with the first line of PFILE as passphrase if given) and the public key, in hex, to\n"
            "FILE.pub. Prints the key id (the suite's hash of the public key).\n"
            "\n"
            "  --suite SUITE          ed25519-sha256 (default) or sm2-sm3\n"
            "  --out FILE             where to write the private key\n"
            "  --passphrase-file F    encrypt the private key with this passphrase\n"
            "  --force                overwrite FILE if it exists\n");
}

static int keygen_write(const char *out_path, struct cr_key *key, const char *passphrase)
{
    char errmsg[TB_ERRMSG_SIZE] = "";
    char pub_path[4096];
    char line[2 * CR_PUBKEY_MAX + 2];
    uint8_t pub[CR_PUBKEY_MAX];
    size_t pub_len = cr_key_public(key, pub);

    if (snprintf(pub_path, sizeof(pub_path), "%s.pub", out_path) >= (int)sizeof(pub_path))
        return cli_fail("keygen", "path too long: '%s'", out_path);
    if (cr_key_save_pem(key, out_path, passphrase, errmsg) != TB_OK)
        return cli_fail("keygen", "%s", errmsg);
    tb_hex_encode(pub, pub_len, line);
    line[2 * pub_len] = '\n';
    if (cli_write_file(pub_path, line, 2 * pub_len + 1, 0644, errmsg) != TB_OK)
        return cli_fail("keygen", "%s", errmsg);
    return CLI_EXIT_OK;
}

int cli_keygen(int argc, char **argv)
{
    static const struct option options[] = {
        {"suite", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *suite_name = "ed25519-sha256";
    const char *out_path = NULL;
    const char *pass_path = NULL;
    char passphrase[1024] = "";
    char errmsg[TB_ERRMSG_SIZE] = "";
    enum cr_suite suite;
    struct cr_key *key = NULL;
    int force = 0;
    int opt;
    int rv;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            suite_name = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'p':
            pass_path = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            keygen_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("keygen", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (out_path == NULL)
        return cli_usage_error("keygen", "--out FILE is required");
    if (cr_suite_parse(suite_name, &suite) != TB_OK)
        return cli_usage_error("keygen", "unknown suite '%s' (ed25519-sha256 or sm2-sm3)",
                               suite_name);
    if (!force) {
        FILE *existing = fopen(out_path, "r");
        if (existing != NULL) {
            fclose(existing);
            return cli_fail("keygen", "'%s' exists; use --force to overwrite it", out_path);
        }
    }
    if (pass_path != NULL &&
        cli_read_passphrase(pass_path, passphrase, sizeof(passphrase), errmsg) != TB_OK)
        return cli_fail("keygen", "%s", errmsg);
    if (cr_key_generate(suite, &key) != TB_OK)
        return cli_fail("keygen", "cannot generate a %s key", suite_name);
    rv = keygen_write(out_path, key, pass_path != NULL ? passphrase : NULL);
    if (rv == CLI_EXIT_OK) {
        uint8_t id[CR_HASH_BYTES];
        char id_hex[2 * CR_HASH_BYTES + 1];
        cr_key_id(key, id);
        tb_hex_encode(id, sizeof(id), id_hex);
        printf("suite   %s\nprivate %s\npublic  %s.pub\nkey id  %s\n", suite_name, out_path,
               out_path, id_hex);
    }
    tb_wipe(passphrase, sizeof(passphrase));
    cr_key_free(key);
    return rv;
}
