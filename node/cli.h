/*
 * The `tongban` command line: one function per subcommand, sharing a few helpers.
 * Every command prints its errors as "tongban CMD: what failed: why" on stderr and
 * returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef NODE_CLI_H
#define NODE_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <stdbool.h>

#include "cr_hash.h"
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
int cli_init(int argc, char **argv);
int cli_agency(int argc, char **argv);
int cli_issue(int argc, char **argv);
int cli_revoke(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_node(int argc, char **argv);
int cli_verify(int argc, char **argv);     /* node/cli_verify.c */
int cli_qr(int argc, char **argv);         /* node/cli_qr.c */
int cli_consent(int argc, char **argv);    /* node/cli_consent.c */
int cli_fetch(int argc, char **argv);      /* node/cli_fetch.c */
int cli_access_log(int argc, char **argv); /* node/cli_consent.c */

/* A signed consent token is at most this long (the token and its signature). */
#define CLI_CONSENT_TOKEN_BYTES_MAX (WIRE_CONSENT_BYTES_MAX + 256u)
/* A signed consent token from a file: its bytes (`tongban consent --out`), or the base64 text
 * of them as printed; appended to out. TB_EMALFORMED if it is neither (cli_consent.c). */
TB_MUST_CHECK int cli_consent_token_load(const char *path, struct tb_buf *out, char *errmsg);

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

/* ---- node/cli_http.c: synchronous HTTP to a node, for the CLI only ---- */

#define CLI_HTTP_RESPONSE_MAX (8u * 1024u * 1024u) /* bytes of one answer */
#define CLI_HTTP_TIMEOUT_MS 10000u                 /* default per request */

struct tb_buf;
struct json_t;

/*
 * One HTTP request, run to completion on a private event loop (no retries, no redirects).
 * content_type NULL sends none; body is sent for POST. On TB_OK *status is the HTTP status
 * (whatever it is) and the body was appended to out (bounded by out->max). TB_EIO (network,
 * timeout), TB_ELIMIT (answer too large), TB_ENOMEM, TB_EINVAL (bad URL), with errmsg.
 */
TB_MUST_CHECK int cli_http_request(const char *method, const char *url, const char *content_type,
                                   const void *body, size_t len, uint32_t timeout_ms, long *status,
                                   struct tb_buf *out, char *errmsg);

/*
 * cli_http_request() whose answer must be JSON: *out gets the parsed document (the caller
 * owns one reference). TB_EMALFORMED when the body is not JSON. On a 4xx/5xx status the call
 * still succeeds, and errmsg holds "HTTP 422: code: message" from the error object.
 */
TB_MUST_CHECK int cli_http_json(const char *method, const char *url, const char *content_type,
                                const void *body, size_t len, uint32_t timeout_ms, long *status,
                                struct json_t **out, char *errmsg);

/*
 * https nodes have self-signed certificates: the CLI pins the key of the node's tls.crt,
 * from this path (a command that read a config passes [peer] tls_cert_file; borrowed, must
 * outlive the requests) or else from the TONGBAN_NODE_CERT environment variable.
 */
void cli_http_set_node_cert(const char *path);

/* ---- node/cli_http.c: signed agency requests (docs/authentication.md, D9) ---- */

struct cr_key;

/* Who signs: the agency's private key (cli_load_key) and the codes it is registered to. */
struct cli_agency_signer
{
    struct cr_key *key;
    const char *city;
    const char *agency;
};

/*
 * cli_http_json() signed by an agency: signs method, the URL's path and query, the body's
 * Content-Digest (also for an empty body) and "Tongban-Agency: city/agency" under the RFC
 * 9421 profile "tb" (created now, expires 60 s later, a fresh 24-byte nonce) and sends the
 * four fields with the request. Same results as cli_http_json(); TB_EINVAL when the URL,
 * city or agency cannot be signed, TB_ECRYPTO when signing fails.
 */
TB_MUST_CHECK int cli_http_signed_json(const struct cli_agency_signer *signer, const char *method,
                                       const char *url, const char *content_type, const void *body,
                                       size_t len, uint32_t timeout_ms, long *status,
                                       struct json_t **out, char *errmsg);

/* ---- node/cli_records.c: `tongban records` ---- */

int cli_records(int argc, char **argv);

/*
 * The keyed subject (DESIGN 3.3) for a command: from subject_hex (64 hex digits) or, when
 * that is NULL, from id_number ("-": the first line of standard input) and the subject key
 * file (32 bytes) under suite. The ID number is wiped (the argv string too) once used and
 * never leaves the process. TB_EINVAL, TB_EIO with errmsg.
 */
TB_MUST_CHECK int cli_subject_from_args(char *id_number, const char *subject_key_path,
                                        const char *subject_hex, enum cr_suite suite,
                                        uint8_t out[CR_HASH_BYTES], char *errmsg);

/* ---- node/cli_issue.c: what every transaction-making command shares ---- */

#define CLI_URL_MAX 1024 /* bytes of a request URL, with the NUL */

struct cr_key;

/* The federation a transaction is signed for. */
struct cli_chain
{
    enum cr_suite suite;
    uint8_t chain_id[CR_HASH_BYTES];
};

/* A decimal unsigned number with nothing else (no sign, no spaces); TB_EINVAL otherwise. */
TB_MUST_CHECK int cli_parse_u64(const char *text, uint64_t *out);

/* A string option: getopt's value `opt` stores its argument in *dest. */
struct cli_str_opt
{
    int opt;
    const char **dest;
};

/* Stores arg in the entry of map for opt; false when opt is not in the map. */
bool cli_str_opt_set(const struct cli_str_opt *map, size_t count, int opt, const char *arg);

/*
 * getopt_long over options whose every option but --help ('h') is a string of strings:
 * CLI_EXIT_OK, CLI_HELP_SHOWN after usage(stdout) for --help, or the usage error's exit code
 * for an unknown option. Operands are left at argv[optind..argc).
 */
#define CLI_HELP_SHOWN (-1)
struct option;
int cli_str_opts_parse(int argc, char **argv, const struct option *options,
                       const struct cli_str_opt *strings, size_t count, const char *cmd,
                       void (*usage)(FILE *));

/* A whole file of at most max bytes into out (replacing its contents); TB_EIO, TB_ELIMIT. */
TB_MUST_CHECK int cli_read_file_max(const char *path, size_t max, struct tb_buf *out, char *errmsg);

/* Exactly len bytes from path (a key file); TB_EIO, TB_EINVAL for another size. */
TB_MUST_CHECK int cli_read_exact(const char *path, uint8_t *out, size_t len, char *errmsg);

/* A private key from a PEM file (passphrase from pass_path if non-NULL); free with cr_key_free. */
TB_MUST_CHECK int cli_load_key(const char *path, const char *pass_path, struct cr_key **out,
                               char *errmsg);

/* Suite and chain id from a genesis file, or from a node's GET /v1/status. */
TB_MUST_CHECK int cli_chain_from_genesis(const char *path, struct cli_chain *out, char *errmsg);
TB_MUST_CHECK int cli_chain_from_node(const char *node_url, struct cli_chain *out, char *errmsg);

/*
 * Signs body (of kind) with key over the chain's signature input and appends the envelope
 * to envelope; tx_id gets its id. TB_EINVAL when the key's suite is not the chain's.
 */
TB_MUST_CHECK int cli_tx_sign(const struct cli_chain *chain, struct cr_key *key, uint8_t kind,
                              const struct tb_buf *body, struct tb_buf *envelope,
                              uint8_t tx_id[CR_HASH_BYTES], char *errmsg);

/*
 * POST /v1/tx with the envelope; checks that the node's id is tx_id and copies its "status"
 * ("pending" or "committed"). A refusal (4xx) is TB_EAUTH, a node failure (5xx) TB_EIO, with
 * the node's verdict in errmsg.
 */
TB_MUST_CHECK int cli_tx_submit(const char *node_url, const struct tb_buf *envelope,
                                const uint8_t tx_id[CR_HASH_BYTES], char *status_out,
                                size_t status_size, char *errmsg);

/* Polls GET /v1/tx/{id} until it is committed (height set) or timeout_ms pass (TB_ESTATE). */
TB_MUST_CHECK int cli_tx_wait(const char *node_url, const uint8_t tx_id[CR_HASH_BYTES],
                              uint32_t timeout_ms, uint64_t *height, char *errmsg);

/* Where a signed transaction goes: a file (out) or a node (node), and how it is reported. */
struct cli_tx_job
{
    const char *cmd;      /* for error messages: "issue" */
    const char *node;     /* node URL, or NULL with out set */
    const char *out;      /* write the envelope here instead of submitting, or NULL */
    uint8_t kind;         /* wire kind */
    const char *id_label; /* "record id" */
    bool wait;            /* wait for commit */
    uint32_t wait_ms;
    const char *document; /* a file sent along (POST /v1/tx JSON "document"), or NULL */
};

/* Signs, then writes or submits (and waits); prints the id; returns a CLI exit status. */
int cli_tx_deliver(const struct cli_tx_job *job, const struct cli_chain *chain, struct cr_key *key,
                   const struct tb_buf *body);

#endif
