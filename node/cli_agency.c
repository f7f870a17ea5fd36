/*
 * `tongban agency add`: run on a city's node machine, registers one of the city's agencies
 * (provident fund centre, public security bureau, ...) with a new key: generates the agency
 * key, signs an agency.register transaction with the node key named by the node's config,
 * submits it to the node and waits (bounded) until it is committed.
 *
 * It never overwrites an existing key file and never sends the agency's private key
 * anywhere: the key file is written (0600) before anything is submitted, so that a
 * registered public key always has its private half on disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "cr_sign.h"
#include "tb_assert.h"
#include "tb_hex.h"
#include "wire.h"

#define AGENCY_KEY_YEARS_DEFAULT 5

static void agency_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban agency add --config NODE_INI --agency CODE --name NAME --types T1,T2\n"
            "                          --out KEYFILE [--not-after SECS] [--node URL] [--no-wait]\n"
            "\n"
            "Registers an agency of this node's city with a new key: writes the agency's private\n"
            "key to KEYFILE (PEM, 0600) and its public key to KEYFILE.pub, signs agency.register\n"
            "with the node key from NODE_INI, submits it and waits until it is committed.\n"
            "Give KEYFILE to the agency: `tongban issue --key KEYFILE` signs its records.\n"
            "\n"
            "  --config NODE_INI  the node's config (city, node key, genesis, listen address)\n"
            "  --agency CODE      the agency's code within the city, e.g. hpf ([0-9A-Za-z_-])\n"
            "  --name NAME        its display name, e.g. 聊城市住房公积金管理中心\n"
            "  --types T1,T2      the record types it may issue (genesis types)\n"
            "  --out KEYFILE      where to write the agency's new private key\n"
            "  --not-after SECS   the key's end of validity, unix seconds (default: 5 years)\n"
            "  --node URL         the node to submit to (default: from [api] listen)\n"
            "  --no-wait          do not wait for the commit\n"
            "  --token-out FILE   also let the node issue for this agency (custodial issuing,\n"
            "                     POST /v1/records): copies the key into the node's agency\n"
            "                     directory and writes a new API token to FILE (0600); the\n"
            "                     node keeps only the token's SHA-256\n"
            "  --wait-ms MS       how long to wait for the commit (default 30000)\n");
}

struct agency_args
{
    const char *config, *agency, *name, *types, *out, *node, *token_out;
    uint64_t not_after;
    bool wait;
    uint32_t wait_ms;
};

static int agency_parse_args(int argc, char **argv, struct agency_args *a)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"agency", required_argument, NULL, 'a'},
        {"name", required_argument, NULL, 'n'},
        {"types", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"node", required_argument, NULL, 'N'},
        {"not-after", required_argument, NULL, 'A'},
        {"no-wait", no_argument, NULL, 'W'},
        {"token-out", required_argument, NULL, 'T'},
        {"wait-ms", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->config = optarg;
            break;
        case 'a':
            a->agency = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 't':
            a->types = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'N':
            a->node = optarg;
            break;
        case 'W':
            a->wait = false;
            break;
        case 'T':
            a->token_out = optarg;
            break;
        case 'A':
            if (cli_parse_u64(optarg, &a->not_after) != TB_OK)
                return cli_usage_error("agency", "--not-after '%s': expected unix seconds", optarg);
            break;
        case 'w':
            if (cli_parse_u64(optarg, &v) != TB_OK || v == 0 || v > 3600000)
                return cli_usage_error("agency", "--wait-ms '%s': expected 1..3600000", optarg);
            a->wait_ms = (uint32_t)v;
            break;
        case 'h':
            agency_usage(stdout);
            return -1;
        default:
            return cli_usage_error("agency", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("agency", "unexpected argument '%s'", argv[optind]);
    if (!a->config || !a->agency || !a->name || !a->types || !a->out)
        return cli_usage_error("agency",
                               "--config, --agency, --name, --types and --out are required");
    return CLI_EXIT_OK;
}

static int type_cmp(const void *x, const void *y)
{
    const struct tb_bytes *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->ptr, b->ptr, n);
    return c != 0 ? c : (a->len < b->len ? -1 : a->len > b->len);
}

/* "T1,T2" as views into `list`, sorted and unique as the codec wants. */
static int agency_types(const char *list, struct wire_agency_register *reg, char *errmsg)
{
    const char *p = list;
    reg->type_count = 0;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 0)
            return tb_fail(errmsg, TB_EINVAL, "--types '%s': empty type", list);
        if (reg->type_count == WIRE_AGENCY_TYPES_MAX)
            return tb_fail(errmsg, TB_ELIMIT, "--types: at most %u types", WIRE_AGENCY_TYPES_MAX);
        reg->types[reg->type_count++] = (struct tb_bytes){(const uint8_t *)p, n};
        p += n;
        if (*p == ',')
            p++;
    }
    if (reg->type_count == 0)
        return tb_fail(errmsg, TB_EINVAL, "--types: at least one type");
    qsort(reg->types, reg->type_count, sizeof(reg->types[0]), type_cmp);
    for (size_t i = 1; i < reg->type_count; i++) {
        if (type_cmp(&reg->types[i - 1], &reg->types[i]) == 0)
            return tb_fail(errmsg, TB_EINVAL, "--types: '%.*s' given twice", (int)reg->types[i].len,
                           (const char *)reg->types[i].ptr);
    }
    return TB_OK;
}

/* The new agency key: refused if KEYFILE exists; PEM (0600) and KEYFILE.pub (hex). */
static int agency_new_key(const char *path, enum cr_suite suite, struct cr_key **out, char *errmsg)
{
    char pub_path[4096];
    char line[2 * CR_PUBKEY_MAX + 2];
    uint8_t pub[CR_PUBKEY_MAX];
    size_t pub_len;
    int rv;

    if (access(path, F_OK) == 0)
        return tb_fail(errmsg, TB_EEXIST, "'%s' exists; an agency key is never overwritten", path);
    if (snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= (int)sizeof(pub_path))
        return tb_fail(errmsg, TB_ELIMIT, "path too long: '%s'", path);
    rv = cr_key_generate(suite, out);
    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "cannot generate a %s key", cr_suite_name(suite));
    rv = cr_key_save_pem(*out, path, NULL, errmsg);
    if (rv != TB_OK)
        return rv;
    pub_len = cr_key_public(*out, pub);
    tb_hex_encode(pub, pub_len, line);
    line[2 * pub_len] = '\n';
    return cli_write_file(pub_path, line, 2 * pub_len + 1, 0644, errmsg);
}

static int agency_body(const struct agency_args *a, const struct cfg_config *cfg,
                       const struct cr_key *agency_key, struct tb_buf *body, char *errmsg)
{
    struct wire_tx_body *tb = calloc(1, sizeof(*tb));
    struct wire_agency_register *reg;
    uint8_t pub[CR_PUBKEY_MAX];
    int rv;

    if (tb == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    tb->kind = WIRE_KIND_AGENCY_REGISTER;
    reg = &tb->u.reg;
    reg->city = (struct tb_bytes){(const uint8_t *)cfg->node.city, strlen(cfg->node.city)};
    reg->agency = (struct tb_bytes){(const uint8_t *)a->agency, strlen(a->agency)};
    reg->name = (struct tb_bytes){(const uint8_t *)a->name, strlen(a->name)};
    reg->public_key = (struct tb_bytes){pub, cr_key_public(agency_key, pub)};
    reg->not_after = a->not_after != 0
                         ? a->not_after
                         : (uint64_t)time(NULL) + AGENCY_KEY_YEARS_DEFAULT * 365ull * 86400ull;
    rv = agency_types(a->types, reg, errmsg);
    if (rv == TB_OK)
        rv = wire_tx_body_encode(tb, body, errmsg);
    free(tb);
    return rv;
}

/* The node's own URL from [api] listen (a wildcard address is reached on loopback). */
static void agency_node_url(const struct cfg_config *cfg, char *out, size_t size)
{
    const char *host = cfg->api.listen_host;
    bool v6 = strchr(host, ':') != NULL;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    if (cfg->api.local_port != 0) { /* the node's plain loopback listener (docs/operators.md) */
        snprintf(out, size, "http://127.0.0.1:%u", (unsigned)cfg->api.local_port);
        return;
    }
    if (cfg->peer.tls) /* self-signed: pinned to the node's own certificate */
        cli_http_set_node_cert(cfg->peer.tls_cert_file);
    snprintf(out, size, "%s://%s%s%s:%u", cfg->peer.tls ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", (unsigned)cfg->api.listen_port);
}

/*
 * Custodial issuing (docs/operators.md "Custodial agencies"): the agency's key goes into the
 * node's agency directory (the parent of data_dir, "agencies/") as <city>-<agency>.key, a new
 * API token to token_out, and only the token's SHA-256 to <city>-<agency>.token.
 */
static int agency_custodial(const struct agency_args *a, const struct cfg_config *cfg, char *errmsg)
{
    char dir[CFG_PATH_MAX + 16], path[CFG_PATH_MAX + 128];
    uint8_t pem[8192], secret[32], hash[CR_HASH_BYTES];
    char token[2 * sizeof(secret) + 2], hash_hex[2 * CR_HASH_BYTES + 2];
    size_t pem_len = 0;
    FILE *f;
    int rv;

    TB_ASSERT(a->token_out != NULL);
    snprintf(dir, sizeof(dir), "%s", cfg->node.data_dir);
    TB_ASSERT(dir[0] == '/');  /* the config resolves every path to an absolute one */
    *strrchr(dir, '/') = '\0'; /* the parent of data_dir, as the node computes it */
    snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/agencies");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tb_fail(errmsg, TB_EIO, "cannot create '%s': %s", dir, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s-%s.key", dir, cfg->node.city, a->agency);
    if (access(path, F_OK) == 0 || access(a->token_out, F_OK) == 0)
        return tb_fail(errmsg, TB_EEXIST, "'%s' or '%s' exists; never overwritten", path,
                       a->token_out);
    f = fopen(a->out, "rb");
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot read '%s'", a->out);
    pem_len = fread(pem, 1, sizeof(pem), f);
    fclose(f);
    if (pem_len == 0 || pem_len == sizeof(pem))
        return tb_fail(errmsg, TB_EIO, "'%s' is not a key file of a sensible size", a->out);
    rv = cli_write_file(path, pem, pem_len, 0600, errmsg);
    tb_wipe(pem, sizeof(pem));
    if (rv == TB_OK)
        rv = cr_random(secret, sizeof(secret));
    if (rv != TB_OK)
        return rv;
    tb_hex_encode(secret, sizeof(secret), token);
    /* The node hashes the token with SHA-256 whatever the suite (an operator's secret). */
    cr_hash(CR_SUITE_ED25519_SHA256, token, 2 * sizeof(secret), hash);
    tb_hex_encode(hash, sizeof(hash), hash_hex);
    token[2 * sizeof(secret)] = '\n';
    hash_hex[2 * CR_HASH_BYTES] = '\n';
    rv = cli_write_file(a->token_out, token, 2 * sizeof(secret) + 1, 0600, errmsg);
    snprintf(path, sizeof(path), "%s/%s-%s.token", dir, cfg->node.city, a->agency);
    if (rv == TB_OK)
        rv = cli_write_file(path, hash_hex, 2 * CR_HASH_BYTES + 1, 0600, errmsg);
    tb_wipe(secret, sizeof(secret));
    tb_wipe(token, sizeof(token));
    if (rv == TB_OK)
        printf("custodial  key in %s/, API token in %s\n", dir, a->token_out);
    return rv;
}

static int agency_add(struct agency_args *a)
{
    struct cfg_config *cfg = calloc(1, sizeof(*cfg));
    struct cr_key *node_key = NULL, *agency_key = NULL;
    struct cli_chain chain;
    struct tb_buf body;
    char errmsg[TB_ERRMSG_SIZE] = "";
    char url[CLI_URL_MAX];
    int rv = cfg == NULL ? TB_ENOMEM : TB_OK;

    tb_buf_init(&body, WIRE_TX_BYTES_MAX);
    if (rv == TB_OK)
        rv = cfg_config_load(a->config, cfg, errmsg);
    if (rv == TB_OK)
        rv = cli_load_key(cfg->node.key_file,
                          cfg->node.key_passphrase_file[0] ? cfg->node.key_passphrase_file : NULL,
                          &node_key, errmsg);
    if (rv == TB_OK)
        rv = cli_chain_from_genesis(cfg->node.genesis, &chain, errmsg);
    if (rv == TB_OK)
        rv = agency_new_key(a->out, chain.suite, &agency_key, errmsg);
    if (rv == TB_OK)
        rv = agency_body(a, cfg, agency_key, &body, errmsg);
    if (rv == TB_OK) {
        uint8_t id[CR_HASH_BYTES];
        char hex[2 * CR_HASH_BYTES + 1];
        struct cli_tx_job job = {.cmd = "agency",
                                 .kind = WIRE_KIND_AGENCY_REGISTER,
                                 .id_label = "tx id",
                                 .wait = a->wait,
                                 .wait_ms = a->wait_ms};
        if (a->node == NULL)
            agency_node_url(cfg, url, sizeof(url));
        job.node = a->node != NULL ? a->node : url;
        cr_key_id(agency_key, id);
        tb_hex_encode(id, sizeof(id), hex);
        printf("agency     %s/%s %s\nkey        %s (public: %s.pub)\nkey id     %s\n",
               cfg->node.city, a->agency, a->name, a->out, a->out, hex);
        rv = cli_tx_deliver(&job, &chain, node_key, &body);
        if (rv == CLI_EXIT_OK && a->token_out != NULL && agency_custodial(a, cfg, errmsg) != TB_OK)
            rv = cli_fail("agency", "custodial set-up: %s", errmsg);
    } else {
        rv = cli_fail("agency", "%s", errmsg[0] ? errmsg : tb_strerror(rv));
    }
    tb_buf_release(&body);
    cr_key_free(node_key);
    cr_key_free(agency_key);
    free(cfg);
    return rv;
}

int cli_agency(int argc, char **argv)
{
    struct agency_args a = {.wait = true, .wait_ms = 30000};
    int rv;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        agency_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "add") != 0)
        return cli_usage_error("agency", "expected a subcommand: add");
    rv = agency_parse_args(argc - 1, argv + 1, &a);
    if (rv != CLI_EXIT_OK)
        return rv < 0 ? CLI_EXIT_OK : rv;
    TB_ASSERT(a.out != NULL);
    TB_ASSERT(a.config != NULL);
    return agency_add(&a);
}
