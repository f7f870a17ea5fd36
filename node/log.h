/*
 * node/log.h: the node's structured log, one line per event on stderr, logfmt or JSON
 * ([node] log_format), filtered by level ([node] log_level).
 *
 * Fields are given as logfmt text ("height=4 round=0"): values without spaces, quotes or
 * '=' (numbers, hex, city codes). Free text (an error message) goes in the separate `error`
 * argument, which is quoted and escaped for both formats. Must never be given an ID number,
 * a document, a claim or a request body.
 */
#ifndef NODE_LOG_H
#define NODE_LOG_H

#include "config.h"
#include "tb_err.h"

enum node_log_level {
    NODE_LOG_DEBUG = CFG_LOG_DEBUG,
    NODE_LOG_INFO = CFG_LOG_INFO,
    NODE_LOG_WARN = CFG_LOG_WARN,
    NODE_LOG_ERROR = CFG_LOG_ERROR,
};

/* Process-wide settings (one node per process). Defaults: logfmt, info. */
void node_log_setup(enum cfg_log_format format, enum cfg_log_level level);

/* Writes one line: ts, level, event, the fields, then error="..." when error != NULL. */
void node_log(enum node_log_level level, const char *event, const char *error, const char *fmt, ...)
    TB_PRINTF(4, 5);

/* Renders one line into out (out_size bytes, truncated safely); for tests and node_log. */
void node_log_format_line(char *out, size_t out_size, enum cfg_log_format format,
                          enum node_log_level level, const char *event, const char *error,
                          const char *fields);

#endif
