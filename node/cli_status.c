/*
 * `tongban status`: what a node says about itself (GET /v1/status) or about one record
 * (GET /v1/records/{id}), printed for an operator, or raw with --json.
 *
 * Read-only: it never changes anything on the node and never prints a subject's ID number
 * (the API only ever holds keyed subjects).
 */
#include <getopt.h>
#include <stdlib.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tb_assert.h"

static void status_usage(FILE *out)
{
    fprintf(out,
            "usage: tongban status --node URL [--json] [RECORD_ID]\n"
            "\n"
            "Without RECORD_ID: the node's city, chain, height, pending transactions and peers.\n"
            "With RECORD_ID: the record's status (valid, revoked, expired, pending or unknown),\n"
            "its issuer and claims, and the block it was committed in. Exits 1 if the record\n"
            "is unknown to the node.\n"
            "\n"
            "  --node URL  the node to ask, e.g. http://127.0.0.1:7480\n"
            "  --json      print the node's JSON answer as is\n");
}

static const char *status_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "-";
}

static long long status_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void status_print_node(const json_t *doc)
{
    const json_t *peers = json_object_get(doc, "peers");
    size_t i;
    const json_t *p;

    printf(
        "city       %s %s\nsuite      %s\nchain id   %s\nheight     %lld\n"
        "block      %s\nlog size   %lld\npending    %lld\nvalidator  %lld\n",
        status_str(doc, "city"), status_str(doc, "name"), status_str(doc, "suite"),
        status_str(doc, "chain_id"), status_int(doc, "height"), status_str(doc, "block_hash"),
        status_int(doc, "log_size"), status_int(doc, "pending"),
        status_int(doc, "validator_index"));
    json_array_foreach(peers, i, p)
    {
        printf("peer       %-8s %-5s height %-6lld %s\n", status_str(p, "city"),
               status_str(p, "state"), status_int(p, "height"), status_str(p, "endpoint"));
    }
}

static void status_print_time(const char *label, long long secs)
{
    char text[64] = "never";
    if (secs > 0) {
        time_t t = (time_t)secs;
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    printf("%-10s %s\n", label, text);
}

static void status_print_record(const json_t *doc)
{
    const json_t *rec = json_object_get(doc, "record");
    const json_t *claims = json_object_get(rec, "claims");
    const char *key;
    const json_t *v;

    printf("record     %s\nstatus     %s\n", status_str(doc, "id"), status_str(doc, "status"));
    if (rec == NULL)
        return;
    printf("type       %s\nissuer     %s/%s\nsubject    %s\n", status_str(rec, "type"),
           status_str(rec, "city"), status_str(rec, "agency"), status_str(rec, "subject"));
    status_print_time("issued", status_int(rec, "issued_at"));
    status_print_time("expires", status_int(rec, "expires_at"));
    json_object_foreach((json_t *)claims, key, v)
    {
        if (json_is_integer(v))
            printf("claim      %s = %lld\n", key, (long long)json_integer_value(v));
        else
            printf("claim      %s = %s\n", key, json_string_value(v) ? json_string_value(v) : "?");
    }
    if (status_int(doc, "height") >= 0)
        printf("committed  height %lld, index %lld\n", status_int(doc, "height"),
               status_int(doc, "index"));
    if (status_int(doc, "revoked_height") > 0)
        printf("revoked    at height %lld\n", status_int(doc, "revoked_height"));
}

int cli_status(int argc, char **argv)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *node = NULL, *record = NULL;
    char url[CLI_URL_MAX];
    char errmsg[TB_ERRMSG_SIZE] = "";
    json_t *doc = NULL;
    long status = 0;
    bool raw = false;
    int opt, rv;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            node = optarg;
            break;
        case 'j':
            raw = true;
            break;
        case 'h':
            status_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("status", "unknown option");
        }
    }
    if (optind < argc)
        record = argv[optind++];
    if (optind != argc)
        return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
    if (node == NULL)
        return cli_usage_error("status", "--node URL is required");
    if (record != NULL && strspn(record, "0123456789abcdef") != 64)
        return cli_usage_error("status", "a record id is 64 lowercase hex digits");
    if (snprintf(url, sizeof(url), record ? "%s/v1/records/%s" : "%s/v1/status%s", node,
                 record ? record : "") >= (int)sizeof(url))
        return cli_usage_error("status", "node URL too long");
    rv = cli_http_json("GET", url, NULL, NULL, 0, CLI_HTTP_TIMEOUT_MS, &status, &doc, errmsg);
    if (rv != TB_OK)
        return cli_fail("status", "%s", errmsg);
    TB_ASSERT(doc != NULL);
    if (raw) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text != NULL ? text : "");
        free(text);
    } else if (record != NULL && status == 404) {
        printf("record     %s\nstatus     unknown (this node has never seen it)\n", record);
    } else if (status == 200) {
        if (record != NULL)
            status_print_record(doc);
        else
            status_print_node(doc);
    }
    json_decref(doc);
    if (status == 200)
        return CLI_EXIT_OK;
    if (record != NULL && status == 404)
        return CLI_EXIT_FAIL;
    return cli_fail("status", "%s", errmsg[0] ? errmsg : "unexpected answer");
}
