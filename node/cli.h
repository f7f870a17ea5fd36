/*
 * The `tongban` command line: one function per subcommand, sharing a few helpers.
 * Every command prints its errors as "tongban CMD: what failed: why" on stderr and
 * returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef NODE_CLI_H
#define NODE_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "tb_err.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

struct cli_command
{
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cli_keygen(int argc, char **argv);
int cli_genesis(int argc, char **argv);
int cli_chain_id(int argc, char **argv);
int cli_demo(int argc, char **argv);

/* Prints "tongban CMD: message" to stderr and returns CLI_EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) TB_PRINTF(2, 3);

/* Prints "tongban CMD: message" and "try 'tongban CMD --help'"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) TB_PRINTF(2, 3);

/*
 * Reads a passphrase from the first line of a file (trailing newline dropped) into out
 * (out_size bytes). TB_EIO / TB_ELIMIT with errmsg on failure.
 */
TB_MUST_CHECK int cli_read_passphrase(const char *path, char *out, size_t out_size, char *errmsg);

/* Writes text to path atomically (temp file, fsync, rename) with the given mode. */
TB_MUST_CHECK int cli_write_file(const char *path, const void *data, size_t len, unsigned mode,
                                 char *errmsg);

#endif
