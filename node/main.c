/*
 * tongban: the node of a federation of cities that recognise each other's records.
 * This file only dispatches to the subcommands in node/cli_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef TB_VERSION
#define TB_VERSION "0.1.0"
#endif

static const struct cli_command commands[] = {
    {"keygen", "make a key pair for a node or an agency (ed25519-sha256 or sm2-sm3)", cli_keygen},
    {"genesis", "build a federation's genesis file from member descriptors", cli_genesis},
    {"chain-id", "print the chain id of a genesis file", cli_chain_id},
    {"demo", "walk through what the node does, offline, in both suites", cli_demo},
    {"init", "set up a city's node directory: key, config, member descriptor", cli_init},
    {"agency", "register an agency of this node's city with a new key (agency add)", cli_agency},
    {"issue", "sign a record as an agency and submit it to the city's node", cli_issue},
    {"revoke", "sign a record's revocation as its agency and submit it", cli_revoke},
    {"consent", "sign (or withdraw) a consent token as an agency of the citizen's home city",
     cli_consent},
    {"fetch", "fetch a document from its holding city with a consent token", cli_fetch},
    {"access-log", "list who accessed a subject's documents (home city agencies)", cli_access_log},
    {"records", "list a subject's records as an agency (signed request)", cli_records},
    {"status", "show a node's status, or a record's status", cli_status},
    {"node", "run a city's node", cli_node},
    {"verify", "check a record's proof bundle offline, or a node's answer", cli_verify},
    {"qr", "draw a record's credential QR code in the terminal and print its URI", cli_qr},
};

static void usage(FILE *out)
{
    fprintf(out,
            "tongban %s: a node for a federation of cities that recognise each other's records\n"
            "\n"
            "usage: tongban COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n",
            TB_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'tongban COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("tongban %s\n", TB_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "tongban: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
