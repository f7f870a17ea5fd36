/*
 * `tongban genesis` builds a federation's genesis file from member descriptors (the files
 * `tongban init` writes) and record types; `tongban chain-id` prints a genesis's chain id.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cr_hash.h"
#include "genesis.h"
#include "tb_alloc.h"
#include "tb_hex.h"

static void genesis_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tongban genesis --federation NAME --member FILE [--member FILE ...]\n"
        "                       --type TYPE:SHARING [--type ...] --out GENESIS\n"
        "                       [--suite SUITE] [--created-at UNIX_SECONDS] [--force]\n"
        "                       [--subject-key-out FILE]\n"
        "\n"
        "Builds the genesis file every node of a federation starts from, and prints its chain\n"
        "id. Each member FILE is a descriptor {\"city\", \"name\", \"node_key\", \"endpoint\"}.\n"
        "\n"
        "  --federation NAME   the federation's name (UTF-8)\n"
        "  --member FILE       a member city's descriptor (repeat for each city)\n"
        "  --type TYPE:SHARING a record type and its sharing class: open (anyone with the\n"
        "                      record id may verify it), consent (the document leaves its city\n"
        "                      only with the citizen's consent) or closed (never leaves)\n"
        "  --suite SUITE       ed25519-sha256 (default) or sm2-sm3\n"
        "  --created-at SECS   creation time (default: now)\n"
        "  --out GENESIS       where to write the genesis JSON\n"
        "  --subject-key-out F where to write the federation's subject key: 32 random bytes\n"
        "                      (mode 0600) that turn ID numbers into keyed subjects; every\n"
        "                      node and issuing agency needs a copy, nobody else. Default:\n"
        "                      subject.key next to GENESIS. An existing key is kept (subjects\n"
        "                      stay stable) unless --force is given\n"
        "  --force             overwrite GENESIS (and the subject key) if they exist\n");
}

static int parse_sharing(const char *text, enum cfg_sharing *out)
{
    static const enum cfg_sharing all[] = {CFG_SHARING_OPEN, CFG_SHARING_CONSENT,
                                           CFG_SHARING_CLOSED};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(text, cfg_sharing_name(all[i])) == 0) {
            *out = all[i];
            return TB_OK;
        }
    }
    return TB_EINVAL;
}

static int parse_type_arg(const char *arg, struct cfg_record_type *out)
{
    const char *colon = strrchr(arg, ':');
    size_t n;
    if (colon == NULL)
        return cli_usage_error("genesis", "--type '%s': expected TYPE:SHARING", arg);
    n = (size_t)(colon - arg);
    if (n == 0 || n > CFG_TYPE_MAX)
        return cli_usage_error("genesis", "--type '%s': type must have 1..%d characters", arg,
                               CFG_TYPE_MAX);
    memcpy(out->type, arg, n);
    out->type[n] = '\0';
    if (parse_sharing(colon + 1, &out->sharing) != TB_OK)
        return cli_usage_error("genesis", "--type '%s': sharing must be open, consent or closed",
                               arg);
    return CLI_EXIT_OK;
}

static int print_chain_id(const struct cfg_genesis *g, const char *label)
{
    uint8_t id[CR_HASH_BYTES];
    char hex[2 * CR_HASH_BYTES + 1];
    if (cfg_genesis_chain_id(g, id) != TB_OK)
        return TB_ENOMEM;
    tb_hex_encode(id, sizeof(id), hex);
    if (label != NULL)
        printf("%s%s\n", label, hex);
    else
        printf("%s\n", hex);
    return TB_OK;
}

static int genesis_write(const char *out_path, const struct cfg_genesis *g)
{
    struct tb_buf json;
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv;
    tb_buf_init(&json, CFG_GENESIS_FILE_MAX);
    if (cfg_genesis_to_json(g, &json) != TB_OK)
        return cli_fail("genesis", "cannot format the genesis (too large?)");
    rv = cli_write_file(out_path, json.data, json.len, 0644, errmsg);
    tb_buf_release(&json);
    if (rv != TB_OK)
        return cli_fail("genesis", "%s", errmsg);
    printf("genesis    %s\nsuite      %s\nfederation %s\nmembers    %zu\ntypes      %zu\n",
           out_path, cr_suite_name(g->suite), g->federation, g->member_count, g->type_count);
    if (print_chain_id(g, "chain id   ") != TB_OK)
        return cli_fail("genesis", "out of memory");
    return CLI_EXIT_OK;
}

struct genesis_args
{
    const char *federation;
    const char *out_path;
    const char *suite_name;
    const char *subject_key_path;
    uint64_t created_at;
    int force;
    const char *member_paths[CFG_MEMBERS_MAX];
    size_t member_count;
    struct cfg_record_type types[CFG_TYPES_MAX];
    size_t type_count;
};

static int genesis_parse_args(int argc, char **argv, struct genesis_args *a)
{
    static const struct option options[] = {
        {"federation", required_argument, NULL, 'F'},
        {"member", required_argument, NULL, 'm'},
        {"type", required_argument, NULL, 't'},
        {"suite", required_argument, NULL, 's'},
        {"created-at", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"subject-key-out", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end = NULL;
        int rv;
        switch (opt) {
        case 'F':
            a->federation = optarg;
            break;
        case 's':
            a->suite_name = optarg;
            break;
        case 'o':
            a->out_path = optarg;
            break;
        case 'f':
            a->force = 1;
            break;
        case 'S':
            a->subject_key_path = optarg;
            break;
        case 'm':
            if (a->member_count == CFG_MEMBERS_MAX)
                return cli_usage_error("genesis", "at most %d members", CFG_MEMBERS_MAX);
            a->member_paths[a->member_count++] = optarg;
            break;
        case 't':
            if (a->type_count == CFG_TYPES_MAX)
                return cli_usage_error("genesis", "at most %d record types", CFG_TYPES_MAX);
            rv = parse_type_arg(optarg, &a->types[a->type_count]);
            if (rv != CLI_EXIT_OK)
                return rv;
            a->type_count++;
            break;
        case 'c':
            errno = 0;
            a->created_at = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-')
                return cli_usage_error("genesis", "--created-at '%s': expected unix seconds",
                                       optarg);
            break;
        case 'h':
            genesis_usage(stdout);
            return -1;
        default:
            return cli_usage_error("genesis", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("genesis", "unexpected argument '%s'", argv[optind]);
    if (a->federation == NULL || a->out_path == NULL)
        return cli_usage_error("genesis", "--federation and --out are required");
    if (a->member_count == 0 || a->type_count == 0)
        return cli_usage_error("genesis", "at least one --member and one --type are required");
    return CLI_EXIT_OK;
}

/*
 * The federation's subject key (DESIGN 3.3): 32 random bytes, mode 0600, written next to the
 * genesis unless a path is given. An existing key is kept without --force, so that rebuilding
 * a genesis does not silently change every citizen's subject.
 */
static int genesis_subject_key(const struct genesis_args *a)
{
    char path[4096];
    char errmsg[TB_ERRMSG_SIZE] = "";
    uint8_t key[32];
    int rv;

    if (a->subject_key_path != NULL) {
        snprintf(path, sizeof(path), "%s", a->subject_key_path);
    } else {
        const char *slash = strrchr(a->out_path, '/');
        int dir_len = slash == NULL ? 0 : (int)(slash - a->out_path + 1);
        if (snprintf(path, sizeof(path), "%.*ssubject.key", dir_len, a->out_path) >=
            (int)sizeof(path))
            return cli_fail("genesis", "path too long: '%s'", a->out_path);
    }
    if (!a->force && access(path, F_OK) == 0) {
        printf("subject key %s (exists, kept)\n", path);
        return CLI_EXIT_OK;
    }
    rv = cr_random(key, sizeof(key));
    if (rv == TB_OK)
        rv = cli_write_file(path, key, sizeof(key), 0600, errmsg);
    tb_wipe(key, sizeof(key));
    if (rv != TB_OK)
        return cli_fail("genesis", "subject key: %s", errmsg[0] ? errmsg : tb_strerror(rv));
    printf("subject key %s (new, 32 bytes, mode 0600: copy it to every node, keep it secret)\n",
           path);
    return CLI_EXIT_OK;
}

int cli_genesis(int argc, char **argv)
{
    struct genesis_args *a = tb_calloc(1, sizeof(*a));
    struct cfg_member *members = NULL;
    struct cfg_genesis g = {0};
    char errmsg[TB_ERRMSG_SIZE] = "";
    enum cr_suite suite;
    int rv;

    if (a == NULL)
        return cli_fail("genesis", "out of memory");
    a->suite_name = "ed25519-sha256";
    a->created_at = (uint64_t)time(NULL);
    rv = genesis_parse_args(argc, argv, a);
    if (rv != CLI_EXIT_OK) {
        rv = rv < 0 ? CLI_EXIT_OK : rv; /* -1: --help printed */
        goto done;
    }
    if (cr_suite_parse(a->suite_name, &suite) != TB_OK) {
        rv = cli_usage_error("genesis", "unknown suite '%s'", a->suite_name);
        goto done;
    }
    if (!a->force) {
        FILE *existing = fopen(a->out_path, "r");
        if (existing != NULL) {
            fclose(existing);
            rv = cli_fail("genesis", "'%s' exists; use --force to overwrite it", a->out_path);
            goto done;
        }
    }
    members = tb_calloc(a->member_count, sizeof(*members));
    if (members == NULL) {
        rv = cli_fail("genesis", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < a->member_count; i++) {
        if (cfg_member_load(a->member_paths[i], suite, &members[i], errmsg) != TB_OK) {
            rv = cli_fail("genesis", "%s", errmsg);
            goto done;
        }
    }
    if (cfg_genesis_build(suite, a->federation, a->created_at, members, a->member_count, a->types,
                          a->type_count, &g, errmsg) != TB_OK) {
        rv = cli_fail("genesis", "%s", errmsg);
        goto done;
    }
    rv = genesis_write(a->out_path, &g);
    if (rv == CLI_EXIT_OK)
        rv = genesis_subject_key(a);
done:
    cfg_genesis_release(&g);
    tb_free(members);
    tb_free(a);
    return rv;
}

int cli_chain_id(int argc, char **argv)
{
    struct cfg_genesis g = {0};
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf(
            "usage: tongban chain-id GENESIS\n\n"
            "Prints the chain id of a genesis file in hex: H(\"tongban/genesis/v1\\0\" || body),\n"
            "where body is the canonical MessagePack form of the genesis (DESIGN 3.3).\n");
        return CLI_EXIT_OK;
    }
    if (argc != 2)
        return cli_usage_error("chain-id", "expected exactly one argument: the genesis file");
    if (cfg_genesis_load(argv[1], &g, errmsg) != TB_OK)
        return cli_fail("chain-id", "%s", errmsg);
    rv = print_chain_id(&g, NULL) == TB_OK ? CLI_EXIT_OK : cli_fail("chain-id", "out of memory");
    cfg_genesis_release(&g);
    return rv;
}
