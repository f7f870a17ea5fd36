/*
 * The node's INI config file: a key table, an inih-driven parser that checks every
 * value against the table, and a writer that produces a commented file from a struct.
 *
 * The text is fed to inih line by line through our own reader, which bounds the line
 * length, refuses NUL bytes, counts lines (the handler of the system's inih gets no
 * line number) and strips leading whitespace so that inih's multi-line continuation
 * never silently glues an indented line to the previous key. inih's global settings
 * are left alone: they are process-wide.
 *
 * This file must never open anything but the config file, never accept a key it does
 * not know or a number with junk, and never leave a relative path unresolved.
 */
#include "config.h"

#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg_internal.h"
#include "tb_assert.h"
#include "wire.h"

enum cfg_kind {
    CFG_K_CITY,
    CFG_K_NAME,
    CFG_K_PATH,
    CFG_K_LOG_FORMAT,
    CFG_K_LOG_LEVEL,
    CFG_K_LISTEN,
    CFG_K_ONOFF,
    CFG_K_U32,
    CFG_K_U64,
};

struct cfg_key
{
    const char *section;
    const char *name;
    enum cfg_kind kind;
    size_t offset; /* into struct cfg_config */
    uint64_t min, max;
    int required;
    const char *help; /* one comment line in written files */
};

#define CFG_OFF(field) offsetof(struct cfg_config, field)
#define CFG_MS_MAX 600000u /* ten minutes: no timeout of ours is sensibly longer */

_Static_assert(CFG_LINE_MAX + 3 <= 200, "inih's line buffer holds the line, \\n and NUL");
_Static_assert(CFG_CITY_MAX == WIRE_CITY_BYTES_MAX, "config and wire agree on city codes");

static const struct cfg_key cfg_keys[] = {
    {"node", "city", CFG_K_CITY, CFG_OFF(node.city), 0, 0, 1,
     "this node's city code, as in the genesis file"},
    {"node", "name", CFG_K_NAME, CFG_OFF(node.name), 0, 0, 0,
     "display name in logs (default: the city code)"},
    {"node", "data_dir", CFG_K_PATH, CFG_OFF(node.data_dir), 0, 0, 1,
     "directory of the LMDB environment and node state"},
    {"node", "key_file", CFG_K_PATH, CFG_OFF(node.key_file), 0, 0, 1,
     "the node's signing key (PKCS#8 PEM)"},
    {"node", "key_passphrase_file", CFG_K_PATH, CFG_OFF(node.key_passphrase_file), 0, 0, 0,
     "file holding the key's passphrase (default: none, key not encrypted)"},
    {"node", "genesis", CFG_K_PATH, CFG_OFF(node.genesis), 0, 0, 1,
     "the federation's genesis.json"},
    {"node", "subject_key_file", CFG_K_PATH, CFG_OFF(node.subject_key_file), 0, 0, 1,
     "the federation's 32-byte subject HMAC key"},
    {"node", "document_key_file", CFG_K_PATH, CFG_OFF(node.document_key_file), 0, 0, 0,
     "local key sealing documents at rest; must not be inside data_dir"},
    {"node", "agency_dir", CFG_K_PATH, CFG_OFF(node.agency_dir), 0, 0, 0,
     "keys and token hashes of agencies this node issues for (custodial issuing)"},
    {"node", "log_format", CFG_K_LOG_FORMAT, CFG_OFF(node.log_format), 0, 0, 0, "logfmt or json"},
    {"node", "log_level", CFG_K_LOG_LEVEL, CFG_OFF(node.log_level), 0, 0, 0,
     "debug, info, warn or error"},
    {"api", "listen", CFG_K_LISTEN, CFG_OFF(api), 0, 0, 0,
     "HOST:PORT of the HTTP server (JSON API and peer API); IPv6 as [addr]:port"},
    {"api", "max_body_bytes", CFG_K_U64, CFG_OFF(api.max_body_bytes), 1024, 64u << 20, 0,
     "largest request body; must exceed [consensus] block_bytes_max"},
    {"api", "max_header_bytes", CFG_K_U32, CFG_OFF(api.max_header_bytes), 1024, 1u << 20, 0,
     "largest request header block"},
    {"api", "timeout_ms", CFG_K_U32, CFG_OFF(api.timeout_ms), 100, CFG_MS_MAX, 0,
     "time allowed for a whole request (bounds slow clients)"},
    {"api", "max_connections", CFG_K_U32, CFG_OFF(api.max_connections), 1, 65536, 0,
     "open connections at most"},
    {"api", "local_port", CFG_K_U32, CFG_OFF(api.local_port), 0, 65535, 0,
     "0 = off; else also plain HTTP on 127.0.0.1:PORT for the JSON API (never the peer API)"},
    {"peer", "tls", CFG_K_ONOFF, CFG_OFF(peer.tls), 0, 0, 0,
     "on or off; off only when [api] listen is a loopback address"},
    {"peer", "tls_key_file", CFG_K_PATH, CFG_OFF(peer.tls_key_file), 0, 0, 0,
     "this node's TLS key (Ed25519 PEM)"},
    {"peer", "tls_cert_file", CFG_K_PATH, CFG_OFF(peer.tls_cert_file), 0, 0, 0,
     "this node's self-signed TLS certificate"},
    {"peer", "request_timeout_ms", CFG_K_U32, CFG_OFF(peer.request_timeout_ms), 100, CFG_MS_MAX, 0,
     "time allowed for one request to a peer"},
    {"consensus", "timeout_propose_ms", CFG_K_U32, CFG_OFF(consensus.timeout_propose_ms), 10,
     CFG_MS_MAX, 0, "wait for a proposal in round 0"},
    {"consensus", "timeout_prevote_ms", CFG_K_U32, CFG_OFF(consensus.timeout_prevote_ms), 10,
     CFG_MS_MAX, 0, "wait after any 2f+1 prevotes in round 0"},
    {"consensus", "timeout_precommit_ms", CFG_K_U32, CFG_OFF(consensus.timeout_precommit_ms), 10,
     CFG_MS_MAX, 0, "wait after any 2f+1 precommits in round 0"},
    {"consensus", "timeout_delta_ms", CFG_K_U32, CFG_OFF(consensus.timeout_delta_ms), 0, CFG_MS_MAX,
     0, "added to each timeout per round"},
    {"consensus", "block_txs_max", CFG_K_U32, CFG_OFF(consensus.block_txs_max), 1,
     WIRE_BLOCK_TXS_MAX, 0, "transactions per block at most"},
    {"consensus", "block_bytes_max", CFG_K_U64, CFG_OFF(consensus.block_bytes_max), 1024,
     WIRE_BLOCK_BYTES_MAX, 0, "bytes per block at most"},
    {"consensus", "block_interval_ms", CFG_K_U32, CFG_OFF(consensus.block_interval_ms), 10,
     CFG_MS_MAX, 0, "longest wait before a non-empty block is cut"},
    {"consensus", "clock_skew_max_ms", CFG_K_U32, CFG_OFF(consensus.clock_skew_max_ms), 100,
     CFG_MS_MAX, 0, "how far a proposal's time may be ahead of our clock"},
    {"storage", "map_size_mb", CFG_K_U64, CFG_OFF(storage.map_size_mb), 16, 16u << 20, 0,
     "LMDB map size in MiB (the database can never grow past it)"},
};

#define CFG_KEY_COUNT (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const char *const cfg_sections[] = {"node", "api", "peer", "consensus", "storage"};
#define CFG_SECTION_COUNT (sizeof(cfg_sections) / sizeof(cfg_sections[0]))

struct cfg_parse_state
{
    struct cfg_config *cfg;
    const char *source;
    const char *base_dir;
    const char *text;
    size_t len, pos;
    int line;                    /* of the line inih is working on */
    int set_line[CFG_KEY_COUNT]; /* 0 = not in the file */
    int rc;                      /* first error, TB_OK until then */
    int err_line;                /* its line */
    char *errmsg;
};

static const char *const cfg_format_names[] = {NULL, "logfmt", "json"};
static const char *const cfg_level_names[] = {NULL, "debug", "info", "warn", "error"};

const char *cfg_log_format_name(enum cfg_log_format format)
{
    if (format < CFG_LOG_LOGFMT || format > CFG_LOG_JSON)
        return NULL;
    return cfg_format_names[format];
}

const char *cfg_log_level_name(enum cfg_log_level level)
{
    if (level < CFG_LOG_DEBUG || level > CFG_LOG_ERROR)
        return NULL;
    return cfg_level_names[level];
}

void cfg_config_defaults(struct cfg_config *out)
{
    TB_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    /* Relative on purpose: resolved against the config file's directory when parsed. */
    snprintf(out->node.document_key_file, sizeof(out->node.document_key_file), "document.key");
    snprintf(out->node.agency_dir, sizeof(out->node.agency_dir), "agencies");
    out->node.log_format = CFG_LOG_LOGFMT;
    out->node.log_level = CFG_LOG_INFO;
    snprintf(out->api.listen_host, sizeof(out->api.listen_host), "127.0.0.1");
    out->api.listen_port = 7480;
    out->api.max_body_bytes = 8u << 20;
    out->api.max_header_bytes = 16u << 10;
    out->api.timeout_ms = 30000;
    out->api.max_connections = 256;
    out->peer.tls = true;
    snprintf(out->peer.tls_key_file, sizeof(out->peer.tls_key_file), "tls.key");
    snprintf(out->peer.tls_cert_file, sizeof(out->peer.tls_cert_file), "tls.crt");
    out->peer.request_timeout_ms = 5000;
    out->consensus.timeout_propose_ms = 3000;
    out->consensus.timeout_prevote_ms = 1000;
    out->consensus.timeout_precommit_ms = 1000;
    out->consensus.timeout_delta_ms = 500;
    out->consensus.block_txs_max = 2000;
    out->consensus.block_bytes_max = 4u << 20;
    out->consensus.block_interval_ms = 1000;
    out->consensus.clock_skew_max_ms = 5000;
    out->storage.map_size_mb = 10240;
    TB_ASSERT(out->consensus.block_bytes_max < out->api.max_body_bytes);
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow, in [min, max]. */
static int cfg_parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
    uint64_t v = 0;
    size_t len = strlen(s);
    TB_ASSERT(min <= max);
    if (len == 0)
        return tb_fail(why, TB_ECONFIG, "expected a number");
    if (len > 1 && s[0] == '0')
        return tb_fail(why, TB_ECONFIG, "leading zero in number");
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return tb_fail(why, TB_ECONFIG, "expected a decimal number, found '%c'",
                           (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?');
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return tb_fail(why, TB_ECONFIG, "number too large");
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return tb_fail(why, TB_ECONFIG, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, v, min,
                       max);
    *out = v;
    return TB_OK;
}

/* Paths: no control characters; resolution against base_dir happens at the end. */
static int cfg_check_path(const char *s, char *why)
{
    size_t len = strlen(s);
    if (len == 0)
        return tb_fail(why, TB_ECONFIG, "empty path");
    if (len >= CFG_PATH_MAX)
        return tb_fail(why, TB_ECONFIG, "path longer than %d bytes", CFG_PATH_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return tb_fail(why, TB_ECONFIG, "control character in path");
    return TB_OK;
}

static int cfg_parse_enum(const char *s, const char *const *names, int count, int *out, char *why,
                          const char *expected)
{
    for (int i = 1; i < count; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return TB_OK;
        }
    }
    return tb_fail(why, TB_ECONFIG, "expected %s", expected);
}

/* Stores one value according to the key's kind; `why` gets the reason on failure. */
static int cfg_set_value(struct cfg_config *cfg, const struct cfg_key *k, const char *value,
                         char *why)
{
    char *field = (char *)cfg + k->offset;
    uint64_t n = 0;
    int e = 0, rc = TB_OK;

    switch (k->kind) {
    case CFG_K_CITY:
        rc = cfg_check_city(value, strlen(value), why);
        if (rc == TB_OK)
            memcpy(field, value, strlen(value) + 1);
        return rc;
    case CFG_K_NAME:
        rc = cfg_check_text(value, strlen(value), CFG_NAME_MAX, why);
        if (rc == TB_OK)
            memcpy(field, value, strlen(value) + 1);
        return rc;
    case CFG_K_PATH:
        rc = cfg_check_path(value, why);
        if (rc == TB_OK)
            memcpy(field, value, strlen(value) + 1);
        return rc;
    case CFG_K_LOG_FORMAT:
        rc = cfg_parse_enum(value, cfg_format_names, 3, &e, why, "logfmt or json");
        if (rc == TB_OK)
            cfg->node.log_format = (enum cfg_log_format)e;
        return rc;
    case CFG_K_LOG_LEVEL:
        rc = cfg_parse_enum(value, cfg_level_names, 5, &e, why, "debug, info, warn or error");
        if (rc == TB_OK)
            cfg->node.log_level = (enum cfg_log_level)e;
        return rc;
    case CFG_K_LISTEN:
        memset(cfg->api.listen_host, 0, sizeof(cfg->api.listen_host));
        return cfg_parse_hostport(value, strlen(value), cfg->api.listen_host,
                                  sizeof(cfg->api.listen_host), &cfg->api.listen_port, why);
    case CFG_K_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return tb_fail(why, TB_ECONFIG, "expected on or off");
        cfg->peer.tls = strcmp(value, "on") == 0;
        return TB_OK;
    case CFG_K_U32:
        TB_ASSERT(k->max <= UINT32_MAX);
        rc = cfg_parse_number(value, k->min, k->max, &n, why);
        if (rc == TB_OK) {
            uint32_t v = (uint32_t)n;
            memcpy(field, &v, sizeof(v));
        }
        return rc;
    case CFG_K_U64:
        rc = cfg_parse_number(value, k->min, k->max, &n, why);
        if (rc == TB_OK)
            memcpy(field, &n, sizeof(n));
        return rc;
    }
    TB_UNREACHABLE();
}

/* Records the first error only; later ones are consequences or noise. */
TB_PRINTF(3, 4)
static void cfg_state_fail(struct cfg_parse_state *st, int line, const char *fmt, ...)
{
    char msg[TB_ERRMSG_SIZE];
    va_list ap;
    if (st->rc != TB_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->rc = TB_ECONFIG;
    st->err_line = line;
    if (line > 0)
        tb_fail(st->errmsg, TB_ECONFIG, "%s:%d: %s", st->source, line, msg);
    else
        tb_fail(st->errmsg, TB_ECONFIG, "%s: %s", st->source, msg);
}

static int cfg_section_known(const char *section)
{
    for (size_t i = 0; i < CFG_SECTION_COUNT; i++)
        if (strcmp(section, cfg_sections[i]) == 0)
            return 1;
    return 0;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct cfg_parse_state *st = user;
    char why[TB_ERRMSG_SIZE];
    size_t k = 0;

    TB_ASSERT(st->line > 0);
    if (st->rc != TB_OK)
        return 0;
    if (value == NULL) { /* only if someone turned on inih's ini_allow_no_value */
        cfg_state_fail(st, st->line, "syntax error: expected [section] or key = value");
        return 0;
    }
    if (section[0] == '\0') {
        cfg_state_fail(st, st->line, "%.40s: key outside any [section]", name);
        return 0;
    }
    if (!cfg_section_known(section)) {
        cfg_state_fail(st, st->line, "[%.40s]: unknown section", section);
        return 0;
    }
    while (k < CFG_KEY_COUNT &&
           (strcmp(cfg_keys[k].section, section) != 0 || strcmp(cfg_keys[k].name, name) != 0))
        k++;
    if (k == CFG_KEY_COUNT) {
        cfg_state_fail(st, st->line, "[%s] %.40s: unknown key", section, name);
        return 0;
    }
    if (st->set_line[k] != 0) {
        cfg_state_fail(st, st->line, "[%s] %s: duplicate key (first set on line %d)", section, name,
                       st->set_line[k]);
        return 0;
    }
    if (cfg_set_value(st->cfg, &cfg_keys[k], value, why) != TB_OK) {
        cfg_state_fail(st, st->line, "[%s] %s: %s", section, name, why);
        return 0;
    }
    st->set_line[k] = st->line;
    return 1;
}

/*
 * inih ignores whatever follows the ] of a section header; we accept only blanks and a
 * comment there, so that "[api] listen = ..." is not silently a bare section header.
 */
static int cfg_section_line_ok(const char *line, size_t len)
{
    const char *close;
    if (len == 0 || line[0] != '[' || (close = memchr(line, ']', len)) == NULL)
        return 1; /* not a section header, or inih reports the syntax error itself */
    for (size_t i = (size_t)(close - line) + 1; i < len; i++) {
        if (line[i] == ';' || line[i] == '#')
            return 1;
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    }
    return 1;
}

/*
 * inih's fgets-style reader over our text. Returning NULL ends the parse: at the end
 * of the text and as soon as an error has been recorded.
 */
static char *cfg_ini_reader(char *str, int num, void *stream)
{
    struct cfg_parse_state *st = stream;
    if (st->rc != TB_OK || st->pos >= st->len)
        return NULL;
    const char *start = st->text + st->pos;
    const char *nl = memchr(start, '\n', st->len - st->pos);
    size_t line_len = nl == NULL ? st->len - st->pos : (size_t)(nl - start);
    st->pos += line_len + (nl != NULL);
    st->line++;
    TB_ASSERT(st->pos <= st->len);
    if (memchr(start, '\0', line_len) != NULL) {
        cfg_state_fail(st, st->line, "NUL byte in line");
        return NULL;
    }
    if (line_len > CFG_LINE_MAX || line_len + 2 > (size_t)num) {
        cfg_state_fail(st, st->line, "line longer than %d bytes", CFG_LINE_MAX);
        return NULL;
    }
    /* Without leading blanks, inih never takes a line for a continuation. */
    while (line_len > 0 && (*start == ' ' || *start == '\t' || *start == '\v' || *start == '\f')) {
        start++;
        line_len--;
    }
    if (!cfg_section_line_ok(start, line_len)) {
        cfg_state_fail(st, st->line, "text after ] in a section header");
        return NULL;
    }
    memcpy(str, start, line_len);
    str[line_len] = '\n';
    str[line_len + 1] = '\0';
    return str;
}

static size_t cfg_key_index(const char *section, const char *name)
{
    for (size_t k = 0; k < CFG_KEY_COUNT; k++)
        if (strcmp(cfg_keys[k].section, section) == 0 && strcmp(cfg_keys[k].name, name) == 0)
            return k;
    TB_UNREACHABLE();
}

/*
 * Lexical resolution: base_dir/path (or path if absolute) with "", "." and ".."
 * segments folded. Symlinks are not followed: the node checks the real files when it
 * opens them.
 */
static int cfg_path_resolve(const char *base_dir, const char *path, char *out, size_t out_size)
{
    char joined[2 * CFG_PATH_MAX + 2];
    size_t marks[CFG_PATH_MAX / 2 + 1], depth = 0, n = 0;

    TB_ASSERT(base_dir[0] == '/');
    TB_ASSERT(out_size == CFG_PATH_MAX);
    if (path[0] == '/')
        snprintf(joined, sizeof(joined), "%s", path);
    else
        snprintf(joined, sizeof(joined), "%s/%s", base_dir, path);
    for (const char *seg = joined; *seg != '\0';) {
        const char *end = strchr(seg, '/');
        size_t len = end == NULL ? strlen(seg) : (size_t)(end - seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            if (depth > 0)
                n = marks[--depth];
        } else if (len > 0 && !(len == 1 && seg[0] == '.')) {
            if (n + 1 + len >= out_size)
                return TB_ECONFIG;
            TB_ASSERT(depth < sizeof(marks) / sizeof(marks[0]));
            marks[depth++] = n;
            out[n++] = '/';
            memcpy(out + n, seg, len);
            n += len;
        }
        seg += len + (end != NULL);
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return TB_OK;
}

static int cfg_path_inside(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return 1;
    return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

static int cfg_key_line(const struct cfg_parse_state *st, const char *section, const char *name)
{
    return st->set_line[cfg_key_index(section, name)];
}

/* Required keys, the name default, and every path made absolute. */
static void cfg_finish_keys(struct cfg_parse_state *st)
{
    struct cfg_config *cfg = st->cfg;
    for (size_t k = 0; k < CFG_KEY_COUNT && st->rc == TB_OK; k++) {
        const struct cfg_key *key = &cfg_keys[k];
        char *field = (char *)cfg + key->offset;
        if (key->required && st->set_line[k] == 0)
            cfg_state_fail(st, 0, "[%s] %s: required key missing", key->section, key->name);
        if (key->kind != CFG_K_PATH || field[0] == '\0' || st->rc != TB_OK)
            continue;
        char resolved[CFG_PATH_MAX];
        if (cfg_path_resolve(st->base_dir, field, resolved, sizeof(resolved)) != TB_OK)
            cfg_state_fail(st, st->set_line[k], "[%s] %s: resolved path longer than %d bytes",
                           key->section, key->name, CFG_PATH_MAX - 1);
        else {
            /* Zero the tail too: two configs that say the same compare equal bytewise. */
            memset(field, 0, CFG_PATH_MAX);
            memcpy(field, resolved, strlen(resolved) + 1);
        }
    }
    if (st->rc == TB_OK && cfg->node.name[0] == '\0')
        memcpy(cfg->node.name, cfg->node.city, sizeof(cfg->node.city));
}

/* Rules that involve more than one key. */
static void cfg_finish_cross(struct cfg_parse_state *st)
{
    const struct cfg_config *cfg = st->cfg;
    if (st->rc != TB_OK)
        return;
    if (cfg_path_inside(cfg->node.document_key_file, cfg->node.data_dir)) {
        int line = cfg_key_line(st, "node", "document_key_file");
        cfg_state_fail(st, line ? line : cfg_key_line(st, "node", "data_dir"),
                       "[node] document_key_file: must not be inside data_dir: a copy of the "
                       "data directory must not carry the key that opens its documents");
    } else if (!cfg->peer.tls && !cfg_host_is_loopback(cfg->api.listen_host)) {
        int line = cfg_key_line(st, "peer", "tls");
        cfg_state_fail(st, line,
                       "[peer] tls: off is allowed only when [api] listen is a loopback "
                       "address, not %.64s",
                       cfg->api.listen_host);
    } else if (cfg->consensus.block_bytes_max >= cfg->api.max_body_bytes) {
        int line = cfg_key_line(st, "consensus", "block_bytes_max");
        cfg_state_fail(st, line ? line : cfg_key_line(st, "api", "max_body_bytes"),
                       "[consensus] block_bytes_max: %" PRIu64
                       " must be below [api] max_body_bytes (%" PRIu64
                       "): a proposal carries a whole block",
                       cfg->consensus.block_bytes_max, cfg->api.max_body_bytes);
    }
}

int cfg_config_parse(const char *text, size_t len, const char *source_name, const char *base_dir,
                     struct cfg_config *out, char *errmsg)
{
    struct cfg_parse_state st;
    TB_ASSERT(text != NULL || len == 0);
    TB_ASSERT(source_name != NULL && out != NULL);
    if (len > CFG_CONFIG_FILE_MAX)
        return tb_fail(errmsg, TB_ELIMIT, "%s: larger than %u bytes", source_name,
                       CFG_CONFIG_FILE_MAX);
    if (base_dir == NULL || base_dir[0] != '/' || strlen(base_dir) >= CFG_PATH_MAX)
        return tb_fail(errmsg, TB_EINVAL, "%s: base directory must be an absolute path",
                       source_name);
    memset(&st, 0, sizeof(st));
    cfg_config_defaults(out);
    st.cfg = out;
    st.source = source_name;
    st.base_dir = base_dir;
    st.text = text;
    st.len = len;
    st.errmsg = errmsg;
    int ret = ini_parse_stream(cfg_ini_reader, &st, cfg_ini_handler, &st);
    /* inih reports the first bad line, which may be a syntax error before ours. */
    if (ret > 0 && (st.rc == TB_OK || ret < st.err_line)) {
        st.rc = TB_OK;
        cfg_state_fail(&st, ret, "syntax error: expected [section] or key = value");
    } else if (ret < 0 && st.rc == TB_OK) {
        cfg_state_fail(&st, 0, "inih failed (%d)", ret);
    }
    cfg_finish_keys(&st);
    cfg_finish_cross(&st);
    TB_ASSERT(st.pos <= st.len);
    return st.rc;
}

int cfg_config_load(const char *path, struct cfg_config *out, char *errmsg)
{
    char dir[CFG_PATH_MAX], cwd[CFG_PATH_MAX], base[CFG_PATH_MAX];
    struct tb_buf buf;
    TB_ASSERT(path != NULL);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash == NULL ? 0 : (size_t)(slash - path);
    if (dir_len >= sizeof(dir))
        return tb_fail(errmsg, TB_EINVAL, "%s: path too long", path);
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    if (dir[0] != '/') {
        /* A relative config path: its directory is relative to the working directory. */
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return tb_fail(errmsg, TB_EIO, "%s: cannot get the working directory", path);
        if (cfg_path_resolve(cwd, dir_len == 0 ? "." : dir, base, sizeof(base)) != TB_OK)
            return tb_fail(errmsg, TB_EINVAL, "%s: path too long", path);
    } else if (cfg_path_resolve("/", dir, base, sizeof(base)) != TB_OK) {
        return tb_fail(errmsg, TB_EINVAL, "%s: path too long", path);
    }
    int rc = cfg_file_read(path, CFG_CONFIG_FILE_MAX, &buf, errmsg);
    if (rc != TB_OK)
        return rc;
    rc = cfg_config_parse((const char *)buf.data, buf.len, path, base, out, errmsg);
    tb_buf_release(&buf);
    return rc;
}

/* The text a key's value is written as; "" for an unset optional or required key. */
static void cfg_format_value(const struct cfg_config *cfg, const struct cfg_key *k, char *out,
                             size_t size)
{
    const char *field = (const char *)cfg + k->offset;
    uint32_t v32;
    uint64_t v64;
    switch (k->kind) {
    case CFG_K_CITY:
    case CFG_K_NAME:
    case CFG_K_PATH:
        snprintf(out, size, "%s", field);
        return;
    case CFG_K_LOG_FORMAT:
        snprintf(out, size, "%s", cfg_log_format_name(cfg->node.log_format));
        return;
    case CFG_K_LOG_LEVEL:
        snprintf(out, size, "%s", cfg_log_level_name(cfg->node.log_level));
        return;
    case CFG_K_LISTEN:
        snprintf(out, size, strchr(cfg->api.listen_host, ':') ? "[%s]:%u" : "%s:%u",
                 cfg->api.listen_host, (unsigned)cfg->api.listen_port);
        return;
    case CFG_K_ONOFF:
        snprintf(out, size, "%s", cfg->peer.tls ? "on" : "off");
        return;
    case CFG_K_U32:
        memcpy(&v32, field, sizeof(v32));
        snprintf(out, size, "%" PRIu32, v32);
        return;
    case CFG_K_U64:
        memcpy(&v64, field, sizeof(v64));
        snprintf(out, size, "%" PRIu64, v64);
        return;
    }
    TB_UNREACHABLE();
}

/* Whether inih would read `value` back unchanged from "key = value". */
static int cfg_value_writable(const char *value)
{
    size_t len = strlen(value);
    if (len > 0 &&
        (value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' || value[len - 1] == '\t'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return 0;
        /* After "key = " a ';' that follows a blank (or opens the value) would start an
         * inline comment for inih. */
        if (value[i] == ';' && (i == 0 || value[i - 1] == ' ' || value[i - 1] == '\t'))
            return 0;
    }
    return 1;
}

TB_PRINTF(2, 3)
static int cfg_appendf(struct tb_buf *out, const char *fmt, ...)
{
    char line[CFG_PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    TB_ASSERT(n >= 0 && (size_t)n < sizeof(line));
    return tb_buf_append(out, line, (size_t)n);
}

static int cfg_write_key(const struct cfg_config *cfg, const struct cfg_config *defaults,
                         const struct cfg_key *k, struct tb_buf *out)
{
    char value[CFG_PATH_MAX + 16], def[CFG_PATH_MAX + 16], range[64] = "";
    int rc;
    cfg_format_value(cfg, k, value, sizeof(value));
    cfg_format_value(defaults, k, def, sizeof(def));
    if (!cfg_value_writable(value) || strlen(k->name) + 3 + strlen(value) > CFG_LINE_MAX)
        return TB_EINVAL;
    if (k->kind == CFG_K_U32 || k->kind == CFG_K_U64)
        snprintf(range, sizeof(range), ", range %" PRIu64 "..%" PRIu64, k->min, k->max);
    if (k->required)
        rc = cfg_appendf(out, "\n# %s; required\n", k->help);
    else if (def[0] != '\0')
        rc = cfg_appendf(out, "\n# %s; default %s%s\n", k->help, def, range);
    else
        rc = cfg_appendf(out, "\n# %s\n", k->help);
    if (rc != TB_OK)
        return rc;
    /* An empty value cannot be written: leave the key as a commented template. */
    if (value[0] == '\0')
        return cfg_appendf(out, "# %s =\n", k->name);
    return cfg_appendf(out, "%s = %s\n", k->name, value);
}

int cfg_config_write(const struct cfg_config *cfg, struct tb_buf *out)
{
    struct cfg_config defaults;
    TB_ASSERT(cfg != NULL);
    TB_ASSERT(out != NULL);
    cfg_config_defaults(&defaults);
    int rc = cfg_appendf(out,
                         "# tongban node configuration, written by `tongban init`.\n"
                         "# [section] and key = value lines; lines starting with # or ; are "
                         "comments.\n"
                         "# Relative paths are resolved against this file's directory.\n"
                         "# Unknown sections and keys are errors; numbers are plain decimal.\n");
    for (size_t s = 0; s < CFG_SECTION_COUNT && rc == TB_OK; s++) {
        rc = cfg_appendf(out, "\n[%s]\n", cfg_sections[s]);
        for (size_t k = 0; k < CFG_KEY_COUNT && rc == TB_OK; k++)
            if (strcmp(cfg_keys[k].section, cfg_sections[s]) == 0)
                rc = cfg_write_key(cfg, &defaults, &cfg_keys[k], out);
    }
    return rc;
}

/*
 * Peer endpoints must match [peer] tls: with TLS on, https:// only (a plaintext peer
 * would be refused at the handshake anyway; better to say so at start-up); with TLS off,
 * loopback http:// only, the same rule as for the listen host.
 */
static int cfg_check_endpoints(const struct cfg_config *cfg, const struct cfg_genesis *g,
                               char *errmsg)
{
    char host[CFG_ENDPOINT_MAX + 1];
    TB_ASSERT(g->member_count <= CFG_MEMBERS_MAX);
    for (size_t i = 0; i < g->member_count; i++) {
        const struct cfg_member *m = &g->members[i];
        int https = strncmp(m->endpoint, "https://", 8) == 0;
        if (cfg->peer.tls && !https)
            return tb_fail(errmsg, TB_ECONFIG,
                           "[peer] tls: on, but member %s has a plain http:// endpoint in %s",
                           m->city, cfg->node.genesis);
        if (cfg->peer.tls)
            continue;
        if (https || cfg_endpoint_host(m->endpoint, host, sizeof(host)) != TB_OK ||
            !cfg_host_is_loopback(host))
            return tb_fail(errmsg, TB_ECONFIG,
                           "[peer] tls: off is allowed only when every member endpoint is "
                           "loopback http://, not %s's in %s",
                           m->city, cfg->node.genesis);
    }
    return TB_OK;
}

int cfg_config_check_genesis(const struct cfg_config *cfg, const struct cfg_genesis *g,
                             char *errmsg)
{
    TB_ASSERT(cfg != NULL);
    TB_ASSERT(g != NULL);
    if (cfg_genesis_member_by_city(g, cfg->node.city) == NULL)
        return tb_fail(errmsg, TB_ECONFIG,
                       "[node] city: \"%s\" is not a member of federation \"%s\" in %s",
                       cfg->node.city, g->federation, cfg->node.genesis);
    return cfg_check_endpoints(cfg, g, errmsg);
}
