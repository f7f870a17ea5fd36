/*
 * Helpers shared by config.c and genesis.c: the bounded file read and the field
 * validators both files agree on (city codes, names, endpoints, record types, hosts).
 * Not installed, not for other modules. Validators never allocate and never print:
 * they return TB_OK or TB_ECONFIG with a reason in `why` (TB_ERRMSG_SIZE bytes) that
 * the caller prefixes with the file and the key.
 */
#ifndef CFG_INTERNAL_H
#define CFG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tb_buf.h"
#include "tb_err.h"

/*
 * Reads a whole regular file of at most `max` bytes into `out` (initialised here) and
 * appends a NUL that is not counted in out->len. TB_EIO (cannot open or read, not a
 * regular file), TB_ELIMIT (larger than max), TB_ENOMEM. Errors name `path`.
 */
TB_MUST_CHECK int cfg_file_read(const char *path, size_t max, struct tb_buf *out, char *errmsg);

/* 1..CFG_CITY_MAX bytes of [0-9A-Za-z_-]. */
TB_MUST_CHECK int cfg_check_city(const char *s, size_t len, char *why);

/* 1..max bytes of valid UTF-8 without control characters. */
TB_MUST_CHECK int cfg_check_text(const char *s, size_t len, size_t max, char *why);

/* 1..CFG_TYPE_MAX bytes of [a-z0-9._-]. */
TB_MUST_CHECK int cfg_check_type(const char *s, size_t len, char *why);

/*
 * HOST:PORT where HOST is a DNS name or IPv4 address ([A-Za-z0-9.-]) or an IPv6
 * address in brackets, and PORT is 1..65535 without leading zeros. `host` gets the
 * host without brackets (host_size bytes including the NUL).
 */
TB_MUST_CHECK int cfg_parse_hostport(const char *s, size_t len, char *host, size_t host_size,
                                     uint16_t *port, char *why);

/* http:// or https://, HOST:PORT as above, then an optional path of [A-Za-z0-9._~/%-]. */
TB_MUST_CHECK int cfg_check_endpoint(const char *s, size_t len, char *why);

/* The host of a valid endpoint (no brackets); TB_ECONFIG if the endpoint is not valid. */
TB_MUST_CHECK int cfg_endpoint_host(const char *endpoint, char *host, size_t host_size);

/* True for 127.0.0.0/8 in dotted form, ::1 and localhost. */
int cfg_host_is_loopback(const char *host);

#endif
