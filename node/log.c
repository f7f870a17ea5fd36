/*
 * node/log.c: one structured line per event (log.h). The fields are written once as logfmt;
 * for JSON they are split back into key/value pairs, which works because field values never
 * hold spaces (free text goes through the quoted `error` argument).
 * Must never: block the loop for long (one fputs per line), or print a request body.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tb_assert.h"

#define NODE_LOG_LINE_MAX 2048u

static enum cfg_log_format node_log_fmt = CFG_LOG_LOGFMT;
static enum cfg_log_level node_log_min = CFG_LOG_INFO;

void node_log_setup(enum cfg_log_format format, enum cfg_log_level level)
{
    TB_ASSERT(format == CFG_LOG_LOGFMT || format == CFG_LOG_JSON);
    TB_ASSERT(level >= CFG_LOG_DEBUG && level <= CFG_LOG_ERROR);
    node_log_fmt = format;
    node_log_min = level;
}

static const char *node_log_level_name(enum node_log_level level)
{
    switch (level) {
    case NODE_LOG_DEBUG:
        return "debug";
    case NODE_LOG_INFO:
        return "info";
    case NODE_LOG_WARN:
        return "warn";
    case NODE_LOG_ERROR:
        return "error";
    }
    return "info";
}

/* Appends s quoted and escaped (JSON rules, which logfmt readers accept too). */
static size_t node_log_quote(char *out, size_t size, size_t pos, const char *s)
{
    if (pos + 1 < size)
        out[pos++] = '"';
    for (; *s != '\0' && pos + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, size - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    if (pos + 1 < size)
        out[pos++] = '"';
    out[pos < size ? pos : size - 1] = '\0';
    return pos;
}

static size_t node_log_put(char *out, size_t size, size_t pos, const char *s)
{
    size_t n = strlen(s);
    if (pos + n + 1 > size)
        n = pos + 1 < size ? size - pos - 1 : 0;
    memcpy(out + pos, s, n);
    out[pos + n] = '\0';
    return pos + n;
}

/* JSON: "k":"v" for every k=v token of the logfmt fields. */
static size_t node_log_json_fields(char *out, size_t size, size_t pos, const char *fields)
{
    char tok[512];
    const char *p = fields;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        if (n >= sizeof(tok))
            n = sizeof(tok) - 1;
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += strcspn(p, " ");
        char *eq = strchr(tok, '=');
        const char *value = "";
        if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        }
        pos = node_log_put(out, size, pos, ",");
        pos = node_log_quote(out, size, pos, tok);
        pos = node_log_put(out, size, pos, ":");
        size_t digits = strspn(value, "0123456789");
        bool number = digits > 0 && digits <= 15 && value[digits] == '\0' &&
                      (value[0] != '0' || digits == 1); /* exact in a JSON double */
        pos = number ? node_log_put(out, size, pos, value) : node_log_quote(out, size, pos, value);
    }
    return pos;
}

void node_log_format_line(char *out, size_t out_size, enum cfg_log_format format,
                          enum node_log_level level, const char *event, const char *error,
                          const char *fields)
{
    TB_ASSERT(out_size >= 64);
    TB_ASSERT(event != NULL);
    char ts[96]; /* room for any int fields, so -Wformat-truncation stays quiet */
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    size_t pos = 0;
    out[0] = '\0';
    if (format == CFG_LOG_JSON) {
        pos = node_log_put(out, out_size, pos, "{\"ts\":");
        pos = node_log_quote(out, out_size, pos, ts);
        pos = node_log_put(out, out_size, pos, ",\"level\":");
        pos = node_log_quote(out, out_size, pos, node_log_level_name(level));
        pos = node_log_put(out, out_size, pos, ",\"event\":");
        pos = node_log_quote(out, out_size, pos, event);
        pos = node_log_json_fields(out, out_size, pos, fields);
        if (error != NULL) {
            pos = node_log_put(out, out_size, pos, ",\"error\":");
            pos = node_log_quote(out, out_size, pos, error);
        }
        (void)node_log_put(out, out_size, pos, "}");
        return;
    }
    pos = node_log_put(out, out_size, pos, "ts=");
    pos = node_log_put(out, out_size, pos, ts);
    pos = node_log_put(out, out_size, pos, " level=");
    pos = node_log_put(out, out_size, pos, node_log_level_name(level));
    pos = node_log_put(out, out_size, pos, " event=");
    pos = node_log_put(out, out_size, pos, event);
    if (fields[0] != '\0') {
        pos = node_log_put(out, out_size, pos, " ");
        pos = node_log_put(out, out_size, pos, fields);
    }
    if (error != NULL) {
        pos = node_log_put(out, out_size, pos, " error=");
        (void)node_log_quote(out, out_size, pos, error);
    }
}

void node_log(enum node_log_level level, const char *event, const char *error, const char *fmt, ...)
{
    if ((int)level < (int)node_log_min)
        return;
    char fields[NODE_LOG_LINE_MAX / 2];
    char line[NODE_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(fields, sizeof(fields), fmt, ap);
    va_end(ap);
    if (n < 0)
        fields[0] = '\0';
    node_log_format_line(line, sizeof(line), node_log_fmt, level, event, error, fields);
    fprintf(stderr, "%s\n", line);
}
