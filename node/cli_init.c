/*
 * `tongban init`: sets up one city's node directory: the node key (PEM, 0600), the local
 * document key (32 random bytes, 0600, outside the data directory), the TLS identity for
 * mutual TLS between members (tls.key, Ed25519, 0600, and its self-signed tls.crt; the
 * node signs their binding with the node key when it starts, DESIGN 6 / D10), a commented
 * node.ini and the public member descriptor (member.json) that the federation's genesis is
 * built from.
 *
 * It never overwrites an existing node key (a city that lost its key loses its seat) and
 * never writes anything secret outside DIR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "cr_sign.h"
#include "cr_tls.h"
#include "genesis.h"
#include "tb_assert.h"
#include "tb_hex.h"

static void init_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban init --city CODE --name NAME --dir DIR --listen HOST:PORT\n"
            "                    [--suite SUITE] [--endpoint URL] [--no-tls]\n"
            "                    [--local-port PORT]\n"
            "       tongban init --renew-tls --dir DIR\n"
            "\n"
            "Sets up a city's node in DIR:\n"
            "  node.key      the node's signing key (PKCS#8 PEM, mode 0600)\n"
            "  document.key  the local key that seals documents at rest (32 bytes, 0600)\n"
            "  tls.key       the node's TLS key for mutual TLS with the other members\n"
            "                (Ed25519, PKCS#8 PEM, mode 0600)\n"
            "  tls.crt       its self-signed certificate (CN = the city code, 2 years); the\n"
            "                node signs the binding of this key with node.key at start\n"
            "  node.ini      the node's configuration, commented (edit it before starting)\n"
            "  member.json   this city's public descriptor, for `tongban genesis`\n"
            "The federation's genesis.json and subject.key are copied into DIR later.\n"
            "\n"
            "  --city CODE        the city's code, e.g. 371500 (聊城)\n"
            "  --name NAME        the city's display name (UTF-8)\n"
            "  --dir DIR          the node's directory (created if missing)\n"
            "  --listen HOST:PORT where the node's HTTP server listens (IPv6: [addr]:port);\n"
            "                     it serves HTTPS with [peer] tls = on (the default)\n"
            "  --suite SUITE      ed25519-sha256 (default) or sm2-sm3; must match the genesis\n"
            "  --endpoint URL     the URL peers use (default: https://HOST:PORT, or\n"
            "                     http://HOST:PORT with --no-tls)\n"
            "  --no-tls           [peer] tls = off: plain HTTP between nodes; only with a\n"
            "                     loopback --listen (a test federation on one machine)\n"
            "  --local-port PORT  also serve the JSON API (never the peer API) over plain HTTP\n"
            "                     on 127.0.0.1:PORT, for curl and scripts on this host\n"
            "  --renew-tls        only make a new tls.key and tls.crt at the paths DIR/node.ini\n"
            "                     names (before the 2 years run out); restart the node after\n");
}

/* Splits "host:port" or "[v6]:port"; the host is copied without brackets. */
static int init_parse_listen(const char *text, char *host, size_t host_size, unsigned *port)
{
    const char *colon = strrchr(text, ':');
    const char *h = text;
    size_t n;
    uint64_t p;

    if (colon == NULL || cli_parse_u64(colon + 1, &p) != TB_OK || p == 0 || p > 65535)
        return TB_EINVAL;
    n = (size_t)(colon - text);
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        h = text + 1;
        n -= 2;
    } else if (memchr(text, ':', n) != NULL) {
        return TB_EINVAL; /* a bare IPv6 address needs brackets */
    }
    if (n == 0 || n >= host_size)
        return TB_EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (unsigned)p;
    return TB_OK;
}

static bool init_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

struct init_args
{
    const char *city, *name, *dir, *listen, *suite_name, *endpoint;
    bool tls;            /* [peer] tls; --no-tls clears it */
    bool renew_tls;      /* --renew-tls: only a new TLS identity for an existing node */
    unsigned local_port; /* [api] local_port; 0 = none */
    enum cr_suite suite;
    char host[CFG_HOST_MAX + 1];
    unsigned port;
    char root[PATH_MAX]; /* DIR, absolute */
};

/* --no-tls, --endpoint and --local-port against --listen. */
static int init_check_tls(const struct init_args *a)
{
    if (!a->tls && !init_is_loopback(a->host))
        return cli_usage_error("init",
                               "--no-tls is allowed only with a loopback --listen: "
                               "between machines nodes talk over mutual TLS");
    if (a->endpoint != NULL &&
        strncmp(a->endpoint, a->tls ? "https://" : "http://", a->tls ? 8 : 7) != 0)
        return cli_usage_error("init", "--endpoint must be %s with%s TLS",
                               a->tls ? "https://" : "http://", a->tls ? "" : "out");
    if (a->local_port != 0 && a->local_port == a->port && init_is_loopback(a->host))
        return cli_usage_error("init", "--local-port must differ from the --listen port");
    return CLI_EXIT_OK;
}

static int init_parse_args(int argc, char **argv, struct init_args *a)
{
    static const struct option options[] = {
        {"city", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"suite", required_argument, NULL, 's'},
        {"endpoint", required_argument, NULL, 'e'},
        {"no-tls", no_argument, NULL, 'T'},
        {"local-port", required_argument, NULL, 'L'},
        {"renew-tls", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->city = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'd':
            a->dir = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 's':
            a->suite_name = optarg;
            break;
        case 'e':
            a->endpoint = optarg;
            break;
        case 'T':
            a->tls = false;
            break;
        case 'R':
            a->renew_tls = true;
            break;
        case 'L': {
            uint64_t v;
            if (cli_parse_u64(optarg, &v) != TB_OK || v == 0 || v > 65535)
                return cli_usage_error("init", "--local-port '%s': expected 1..65535", optarg);
            a->local_port = (unsigned)v;
            break;
        }
        case 'h':
            init_usage(stdout);
            return -1;
        default:
            return cli_usage_error("init", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    if (a->renew_tls)
        return a->dir != NULL && !a->city && !a->name && !a->listen
                   ? CLI_EXIT_OK
                   : cli_usage_error("init", "--renew-tls takes --dir only");
    if (!a->city || !a->name || !a->dir || !a->listen)
        return cli_usage_error("init", "--city, --name, --dir and --listen are required");
    if (cr_suite_parse(a->suite_name, &a->suite) != TB_OK)
        return cli_usage_error("init", "unknown suite '%s' (ed25519-sha256 or sm2-sm3)",
                               a->suite_name);
    if (strlen(a->city) > CFG_CITY_MAX || strlen(a->name) > CFG_NAME_MAX)
        return cli_usage_error("init", "--city has at most %d bytes, --name at most %d",
                               CFG_CITY_MAX, CFG_NAME_MAX);
    if (init_parse_listen(a->listen, a->host, sizeof(a->host), &a->port) != TB_OK)
        return cli_usage_error("init", "--listen '%s': expected HOST:PORT", a->listen);
    return init_check_tls(a);
}

static int init_path(char *out, size_t size, const char *root, const char *name)
{
    return snprintf(out, size, "%s/%s", root, name) < (int)size ? TB_OK : TB_ELIMIT;
}

/* node.ini with the city, the files in DIR and the listen address; parsed back as a check. */
static int init_config(const struct init_args *a, char *errmsg)
{
    struct cfg_config *cfg = calloc(2, sizeof(*cfg));
    struct tb_buf text;
    char path[CFG_PATH_MAX];
    int rv = cfg == NULL ? TB_ENOMEM : TB_OK;

    if (rv != TB_OK)
        return tb_fail(errmsg, rv, "out of memory");
    cfg_config_defaults(cfg);
    snprintf(cfg->node.city, sizeof(cfg->node.city), "%s", a->city);
    snprintf(cfg->node.name, sizeof(cfg->node.name), "%s", a->name);
    rv |= init_path(cfg->node.data_dir, CFG_PATH_MAX, a->root, "data");
    rv |= init_path(cfg->node.key_file, CFG_PATH_MAX, a->root, "node.key");
    rv |= init_path(cfg->node.genesis, CFG_PATH_MAX, a->root, "genesis.json");
    rv |= init_path(cfg->node.subject_key_file, CFG_PATH_MAX, a->root, "subject.key");
    rv |= init_path(cfg->node.document_key_file, CFG_PATH_MAX, a->root, "document.key");
    rv |= init_path(cfg->peer.tls_key_file, CFG_PATH_MAX, a->root, "tls.key");
    rv |= init_path(cfg->peer.tls_cert_file, CFG_PATH_MAX, a->root, "tls.crt");
    rv |= init_path(path, sizeof(path), a->root, "node.ini");
    snprintf(cfg->api.listen_host, sizeof(cfg->api.listen_host), "%s", a->host);
    cfg->api.listen_port = (uint16_t)a->port;
    /* Mutual TLS unless --no-tls (loopback only: a test federation on one machine). */
    cfg->peer.tls = a->tls;
    cfg->api.local_port = a->local_port;
    if (rv != TB_OK) {
        free(cfg);
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long: '%s'", a->root);
    }
    tb_buf_init(&text, CFG_CONFIG_FILE_MAX);
    rv = cfg_config_write(cfg, &text);
    if (rv == TB_OK)
        rv = cfg_config_parse((const char *)text.data, text.len, path, a->root, &cfg[1], errmsg);
    else
        tb_errmsg_setf(errmsg, "cannot format the config");
    if (rv == TB_OK)
        rv = cli_write_file(path, text.data, text.len, 0644, errmsg);
    tb_buf_release(&text);
    free(cfg);
    return rv;
}

/* member.json: the city's public descriptor for the genesis. */
static int init_member(const struct init_args *a, const struct cr_key *key, char *errmsg)
{
    struct cfg_member m = {0};
    struct tb_buf json;
    char path[PATH_MAX];
    char url[2 * CFG_ENDPOINT_MAX];
    int n, rv;

    snprintf(m.city, sizeof(m.city), "%s", a->city);
    snprintf(m.name, sizeof(m.name), "%s", a->name);
    m.node_key_len = cr_key_public(key, m.node_key);
    if (a->endpoint != NULL)
        n = snprintf(url, sizeof(url), "%s", a->endpoint);
    else
        n = snprintf(url, sizeof(url), "%s://%s%s%s:%u", a->tls ? "https" : "http",
                     strchr(a->host, ':') ? "[" : "", a->host, strchr(a->host, ':') ? "]" : "",
                     a->port);
    if (n < 0 || (size_t)n >= sizeof(m.endpoint))
        return tb_fail(errmsg, TB_ELIMIT, "endpoint longer than %d bytes", CFG_ENDPOINT_MAX);
    memcpy(m.endpoint, url, (size_t)n + 1);
    if (init_path(path, sizeof(path), a->root, "member.json") != TB_OK)
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long");
    tb_buf_init(&json, CFG_MEMBER_FILE_MAX);
    rv = cfg_member_to_json(&m, &json);
    if (rv == TB_OK)
        rv = cfg_member_parse((const char *)json.data, json.len, path, a->suite, &m, errmsg);
    else
        tb_errmsg_setf(errmsg, "cannot format the member descriptor");
    if (rv == TB_OK)
        rv = cli_write_file(path, json.data, json.len, 0644, errmsg);
    tb_buf_release(&json);
    return rv;
}

/* DIR/document.key: 32 random bytes, kept if it already exists (documents sealed under it). */
static int init_document_key(const char *root, char *errmsg)
{
    char path[PATH_MAX];
    uint8_t key[32];
    int rv;
    if (init_path(path, sizeof(path), root, "document.key") != TB_OK)
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long");
    if (access(path, F_OK) == 0)
        return TB_OK;
    rv = cr_random(key, sizeof(key));
    if (rv == TB_OK)
        rv = cli_write_file(path, key, sizeof(key), 0600, errmsg);
    tb_wipe(key, sizeof(key));
    return rv;
}

#define INIT_TLS_DAYS 730 /* the certificate's and so the binding's lifetime */

/* key_path (0600) and cert_path: a fresh Ed25519 TLS identity, CN = the city. */
static int init_tls_write(const char *city, const char *key_path, const char *cert_path,
                          char *errmsg)
{
    struct cr_tls_identity *id = NULL;
    struct tb_buf cert, key;
    int64_t now = (int64_t)time(NULL);
    /* A minute of slack for peers whose clock is a little behind. */
    int rv = cr_tls_identity_new(city, now - 60, now + INIT_TLS_DAYS * 86400LL, &id, errmsg);
    if (rv != TB_OK)
        return rv;
    tb_buf_init(&cert, 64 * 1024);
    tb_buf_init(&key, 64 * 1024);
    rv = cr_tls_identity_pem(id, &cert, &key);
    if (rv != TB_OK)
        tb_errmsg_setf(errmsg, "cannot encode the TLS identity: %s", tb_strerror(rv));
    if (rv == TB_OK)
        rv = cli_write_file(key_path, key.data, key.len, 0600, errmsg);
    if (rv == TB_OK)
        rv = cli_write_file(cert_path, cert.data, cert.len, 0644, errmsg);
    if (key.data != NULL)
        tb_wipe(key.data, key.len);
    tb_buf_release(&key);
    tb_buf_release(&cert);
    cr_tls_identity_free(id);
    return rv;
}

/* DIR/tls.key and DIR/tls.crt for a new node. */
static int init_tls_identity(const struct init_args *a, char *errmsg)
{
    char key_path[PATH_MAX], cert_path[PATH_MAX];
    if (init_path(key_path, sizeof(key_path), a->root, "tls.key") != TB_OK ||
        init_path(cert_path, sizeof(cert_path), a->root, "tls.crt") != TB_OK)
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long");
    return init_tls_write(a->city, key_path, cert_path, errmsg);
}

/*
 * --renew-tls: a new TLS identity at the paths DIR/node.ini names, for its city. The node
 * key stays; the node signs the new binding when it restarts and the other members learn
 * the new key from their next status poll.
 */
static int init_renew_tls(struct init_args *a, char *errmsg)
{
    char path[PATH_MAX];
    if (realpath(a->dir, a->root) == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot resolve '%s': %s", a->dir, strerror(errno));
    if (init_path(path, sizeof(path), a->root, "node.ini") != TB_OK)
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long");
    struct cfg_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return tb_fail(errmsg, TB_ENOMEM, "out of memory");
    int rv = cfg_config_load(path, cfg, errmsg);
    if (rv == TB_OK)
        rv =
            init_tls_write(cfg->node.city, cfg->peer.tls_key_file, cfg->peer.tls_cert_file, errmsg);
    if (rv == TB_OK)
        printf(
            "tls        %s (key %s) renewed for %s, valid %d days\n"
            "next: restart the node (`tongban node --config %s`)\n",
            cfg->peer.tls_cert_file, cfg->peer.tls_key_file, cfg->node.city, INIT_TLS_DAYS, path);
    free(cfg);
    return rv;
}

static int init_run(struct init_args *a, char *errmsg)
{
    char path[PATH_MAX];
    struct cr_key *key = NULL;
    int rv;

    if (mkdir(a->dir, 0700) != 0 && errno != EEXIST)
        return tb_fail(errmsg, TB_EIO, "cannot create '%s': %s", a->dir, strerror(errno));
    if (realpath(a->dir, a->root) == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot resolve '%s': %s", a->dir, strerror(errno));
    if (init_path(path, sizeof(path), a->root, "node.key") != TB_OK)
        return tb_fail(errmsg, TB_ELIMIT, "directory path too long");
    if (access(path, F_OK) == 0)
        return tb_fail(errmsg, TB_EEXIST,
                       "'%s' exists: this directory already has a node key, which is never "
                       "overwritten",
                       path);
    rv = cr_key_generate(a->suite, &key);
    if (rv == TB_OK)
        rv = cr_key_save_pem(key, path, NULL, errmsg);
    if (rv == TB_OK)
        rv = init_document_key(a->root, errmsg);
    if (rv == TB_OK)
        rv = init_tls_identity(a, errmsg);
    if (rv == TB_OK)
        rv = init_config(a, errmsg);
    if (rv == TB_OK)
        rv = init_member(a, key, errmsg);
    if (rv == TB_OK && init_path(path, sizeof(path), a->root, "data") == TB_OK &&
        mkdir(path, 0700) != 0 && errno != EEXIST)
        rv = tb_fail(errmsg, TB_EIO, "cannot create '%s': %s", path, strerror(errno));
    if (rv == TB_OK) {
        uint8_t id[CR_HASH_BYTES];
        char hex[2 * CR_HASH_BYTES + 1];
        cr_key_id(key, id);
        tb_hex_encode(id, sizeof(id), hex);
        printf(
            "city       %s %s\nsuite      %s\nnode key   %s/node.key (key id %s)\n"
            "tls        %s/tls.crt (key tls.key), peers over %s\n"
            "config     %s/node.ini\nmember     %s/member.json\n"
            "next: collect every city's member.json, run `tongban genesis`, copy genesis.json\n"
            "      and subject.key into %s, then `tongban node --config %s/node.ini`\n",
            a->city, a->name, cr_suite_name(a->suite), a->root, hex, a->root,
            a->tls ? "mutual TLS" : "plain HTTP (--no-tls)", a->root, a->root, a->root, a->root);
    }
    cr_key_free(key);
    return rv;
}

int cli_init(int argc, char **argv)
{
    struct init_args *a = calloc(1, sizeof(*a));
    char errmsg[TB_ERRMSG_SIZE] = "";
    int rv;

    if (a == NULL)
        return cli_fail("init", "out of memory");
    a->suite_name = "ed25519-sha256";
    a->tls = true;
    rv = init_parse_args(argc, argv, a);
    if (rv == CLI_EXIT_OK) {
        int run = a->renew_tls ? init_renew_tls(a, errmsg) : init_run(a, errmsg);
        rv = run == TB_OK ? CLI_EXIT_OK : cli_fail("init", "%s", errmsg);
    } else if (rv < 0) {
        rv = CLI_EXIT_OK; /* --help */
    }
    TB_ASSERT(rv >= 0);
    free(a);
    return rv;
}
