/*
 * node/cli_node.c: `tongban node --config FILE`: loads the config, runs the node until
 * SIGINT/SIGTERM, and exits 0 after a clean shutdown (LMDB closed last).
 * Must never: print a key, a passphrase or a config value that is a secret.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "node.h"

static void cli_node_help(FILE *out)
{
    fprintf(out,
            "usage: tongban node --config FILE\n"
            "\n"
            "Runs a city's node: the JSON API, the peer API, consensus and block sync,\n"
            "on one event loop, until SIGINT or SIGTERM. Logs go to stderr.\n");
}

int cli_node(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_node_help(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else
            return cli_usage_error("node", "unexpected argument '%s'", argv[i]);
    }
    if (config == NULL)
        return cli_usage_error("node", "--config FILE is required");
    static struct cfg_config cfg; /* large; one per process */
    char err[TB_ERRMSG_SIZE] = "";
    struct node *n = NULL;
    if (cfg_config_load(config, &cfg, err) != TB_OK)
        return cli_fail("node", "%s", err);
    if (node_new(&cfg, &n, err) != TB_OK)
        return cli_fail("node", "%s", err);
    int rc = node_start(n, err);
    if (rc == TB_OK)
        rc = node_run(n, err);
    node_free(n);
    if (rc != TB_OK)
        return cli_fail("node", "%s", err);
    return CLI_EXIT_OK;
}
