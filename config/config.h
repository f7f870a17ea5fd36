/*
 * The node's config file: an INI file (parsed with inih) that a city's operator edits.
 *
 * Sections and keys are an interface: their names stay stable. Every key has a
 * documented default except the required ones ([node] city, data_dir, key_file,
 * genesis, subject_key_file). Unknown sections and keys, duplicate keys, numbers with
 * junk or out of range, and values that are too long are errors that name the file,
 * the line and the key: "node.ini:12: [api] max_body: unknown key".
 *
 * This module only reads the one config file it is given. It never opens the files
 * the config names (key files, genesis, data directory): the node does that. Relative
 * paths are resolved against the config file's directory, lexically.
 */
#ifndef CFG_CONFIG_H
#define CFG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "genesis.h"
#include "tb_buf.h"
#include "tb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CFG_CONFIG_FILE_MAX (64u * 1024u) /* bytes */
#define CFG_LINE_MAX 190                  /* bytes per line; inih's buffer is 200 */
#define CFG_PATH_MAX 1024                 /* bytes of a resolved path, with the NUL */
#define CFG_HOST_MAX 255                  /* bytes of the listen host */

enum cfg_log_format {
    CFG_LOG_LOGFMT = 1,
    CFG_LOG_JSON = 2,
};

enum cfg_log_level {
    CFG_LOG_DEBUG = 1,
    CFG_LOG_INFO = 2,
    CFG_LOG_WARN = 3,
    CFG_LOG_ERROR = 4,
};

struct cfg_node_section
{
    char city[CFG_CITY_MAX + 1];            /* required; a member city code */
    char name[CFG_NAME_MAX + 1];            /* default: the city code */
    char data_dir[CFG_PATH_MAX];            /* required; LMDB environment and state */
    char key_file[CFG_PATH_MAX];            /* required; the node's signing key */
    char key_passphrase_file[CFG_PATH_MAX]; /* default "" = the key file is not encrypted */
    char genesis[CFG_PATH_MAX];             /* required; the federation's genesis.json */
    char subject_key_file[CFG_PATH_MAX];    /* required; the 32-byte subject HMAC key */
    char document_key_file[CFG_PATH_MAX];   /* default "document.key"; never in data_dir */
    char agency_dir[CFG_PATH_MAX];          /* default "agencies": custodial agency keys */
    enum cfg_log_format log_format;         /* default logfmt */
    enum cfg_log_level log_level;           /* default info */
};

struct cfg_api_section
{
    char listen_host[CFG_HOST_MAX + 1]; /* default 127.0.0.1 (IPv6 without brackets) */
    uint16_t listen_port;               /* default 7480 */
    uint64_t max_body_bytes;            /* default 8 MiB */
    uint32_t max_header_bytes;          /* default 16 KiB */
    uint32_t timeout_ms;                /* default 30 s: whole request, slowloris bound */
    uint32_t max_connections;           /* default 256 */
    uint32_t local_port; /* default 0 = none; else plain HTTP on 127.0.0.1 (JSON API only) */
};

struct cfg_peer_section
{
    bool tls;                         /* default on; off only on loopback */
    char tls_key_file[CFG_PATH_MAX];  /* default "tls.key" */
    char tls_cert_file[CFG_PATH_MAX]; /* default "tls.crt" */
    uint32_t request_timeout_ms;      /* default 5 s */
};

struct cfg_consensus_section
{
    uint32_t timeout_propose_ms;   /* default 3000 */
    uint32_t timeout_prevote_ms;   /* default 1000 */
    uint32_t timeout_precommit_ms; /* default 1000 */
    uint32_t timeout_delta_ms;     /* default 500, added per round */
    uint32_t block_txs_max;        /* default 2000 (D20) */
    uint64_t block_bytes_max;      /* default 4 MiB; below [api] max_body_bytes */
    uint32_t block_interval_ms;    /* default 1000 */
    uint32_t clock_skew_max_ms;    /* default 5000 */
};

struct cfg_storage_section
{
    uint64_t map_size_mb; /* default 10240 */
};

struct cfg_config
{
    struct cfg_node_section node;
    struct cfg_api_section api;
    struct cfg_peer_section peer;
    struct cfg_consensus_section consensus;
    struct cfg_storage_section storage;
};

/* Fills every key with its default; required keys are left empty. Cannot fail. */
void cfg_config_defaults(struct cfg_config *out);

/*
 * Parses INI text. `source_name` prefixes errors; relative paths are resolved against
 * `base_dir` (which must be absolute). `out` is fully written on success and left in an
 * unspecified state on failure. Needs no release: the struct owns no heap memory.
 * TB_ELIMIT (file larger than CFG_CONFIG_FILE_MAX), TB_ECONFIG (everything else in
 * the text), TB_EINVAL (base_dir not absolute).
 */
TB_MUST_CHECK int cfg_config_parse(const char *text, size_t len, const char *source_name,
                                   const char *base_dir, struct cfg_config *out, char *errmsg);

/* Reads `path` (bounded) and parses it, with the file's directory as base; TB_EIO too. */
TB_MUST_CHECK int cfg_config_load(const char *path, struct cfg_config *out, char *errmsg);

/*
 * Appends a complete, commented config file to `out` with the values of `cfg`
 * (`tongban init` writes it). Required keys that are empty are written commented out.
 * Parsing the result gives `cfg` back (paths resolved). TB_ELIMIT / TB_ENOMEM.
 */
TB_MUST_CHECK int cfg_config_write(const struct cfg_config *cfg, struct tb_buf *out);

/*
 * Checks the config against the genesis: the city is a member, and the members'
 * endpoints fit [peer] tls (on: all https://; off: all loopback http://). TB_ECONFIG
 * with a message naming the key, the member and the genesis path.
 */
TB_MUST_CHECK int cfg_config_check_genesis(const struct cfg_config *cfg,
                                           const struct cfg_genesis *g, char *errmsg);

/* Text names used in the file. */
const char *cfg_log_format_name(enum cfg_log_format format);
const char *cfg_log_level_name(enum cfg_log_level level);

#ifdef __cplusplus
}
#endif
#endif
