/*
 * Shared helpers of config/: the bounded file read and the field validators.
 *
 * Must never read more than the caller's limit from a file, never follow anything but
 * the one path given, and never accept a value by being lenient: every validator says
 * exactly what it accepts in cfg_internal.h, and checks exactly that.
 */
#include "cfg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "genesis.h"
#include "tb_assert.h"
#include "tb_text.h"

/* Reads at most max + 1 bytes so that a file that grew past max is still caught. */
static int cfg_file_read_fd(int fd, const char *path, size_t max, struct tb_buf *out, char *errmsg)
{
    uint8_t chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tb_fail(errmsg, TB_EIO, "%s: cannot read: %s", path, strerror(errno));
        if (n == 0)
            break;
        if ((size_t)n > max - out->len)
            return tb_fail(errmsg, TB_ELIMIT, "%s: file larger than %zu bytes", path, max);
        int rc = tb_buf_append(out, chunk, (size_t)n);
        if (rc != TB_OK)
            return tb_fail(errmsg, rc, "%s: %s", path, tb_strerror(rc));
    }
    TB_ASSERT(out->len <= max);
    return TB_OK;
}

int cfg_file_read(const char *path, size_t max, struct tb_buf *out, char *errmsg)
{
    struct stat st;
    int rc;

    TB_ASSERT(path != NULL);
    TB_ASSERT(max > 0 && max < SIZE_MAX - 1);
    tb_buf_init(out, max + 1);
    /* O_NONBLOCK: a FIFO in place of the file must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return tb_fail(errmsg, TB_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = tb_fail(errmsg, TB_EIO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = tb_fail(errmsg, TB_EIO, "%s: not a regular file", path);
    } else if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = tb_fail(errmsg, TB_ELIMIT, "%s: file larger than %zu bytes", path, max);
    } else {
        rc = cfg_file_read_fd(fd, path, max, out, errmsg);
    }
    close(fd);
    if (rc == TB_OK) {
        rc = tb_buf_append_byte(out, 0);
        if (rc != TB_OK)
            return tb_fail(errmsg, rc, "%s: %s", path, tb_strerror(rc));
        out->len--; /* the NUL is there for C string users but is not content */
        return TB_OK;
    }
    tb_buf_release(out);
    return rc;
}

int cfg_check_city(const char *s, size_t len, char *why)
{
    TB_ASSERT(s != NULL);
    if (len == 0 || len > CFG_CITY_MAX)
        return tb_fail(why, TB_ECONFIG, "city code must be 1..%d characters, got %zu", CFG_CITY_MAX,
                       len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 c == '_' || c == '-';
        if (!ok)
            return tb_fail(why, TB_ECONFIG,
                           "city code may contain only 0-9 A-Z a-z _ -, found byte 0x%02x at %zu",
                           (unsigned)(unsigned char)c, i);
    }
    return TB_OK;
}

int cfg_check_text(const char *s, size_t len, size_t max, char *why)
{
    TB_ASSERT(s != NULL);
    TB_ASSERT(max > 0);
    if (len == 0 || len > max)
        return tb_fail(why, TB_ECONFIG, "must be 1..%zu bytes, got %zu", max, len);
    if (!tb_utf8_valid(s, len))
        return tb_fail(why, TB_ECONFIG, "not valid UTF-8");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return tb_fail(why, TB_ECONFIG, "control character 0x%02x at byte %zu", c, i);
    }
    return TB_OK;
}

int cfg_check_type(const char *s, size_t len, char *why)
{
    TB_ASSERT(s != NULL);
    if (len == 0 || len > CFG_TYPE_MAX)
        return tb_fail(why, TB_ECONFIG, "record type must be 1..%d characters, got %zu",
                       CFG_TYPE_MAX, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return tb_fail(why, TB_ECONFIG,
                           "record type may contain only a-z 0-9 . _ -, found byte 0x%02x at %zu",
                           (unsigned)(unsigned char)c, i);
    }
    return TB_OK;
}

static int cfg_host_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
           c == '-';
}

static int cfg_ipv6_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') || c == ':' ||
           c == '.';
}

/* Port digits: 1..65535, no sign, no leading zero, nothing else. */
static int cfg_parse_port(const char *s, size_t len, uint16_t *port, char *why)
{
    uint32_t v = 0;
    if (len == 0 || len > 5 || s[0] == '0')
        return tb_fail(why, TB_ECONFIG, "port must be 1..65535");
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return tb_fail(why, TB_ECONFIG, "port must be 1..65535");
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return tb_fail(why, TB_ECONFIG, "port must be 1..65535");
    TB_ASSERT(v >= 1);
    *port = (uint16_t)v;
    return TB_OK;
}

int cfg_parse_hostport(const char *s, size_t len, char *host, size_t host_size, uint16_t *port,
                       char *why)
{
    size_t host_start = 0, host_end, colon;
    TB_ASSERT(s != NULL);
    TB_ASSERT(host_size > 1);
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return tb_fail(why, TB_ECONFIG, "missing ] after IPv6 address");
        host_start = 1;
        host_end = (size_t)(close - s);
        colon = host_end + 1;
        for (size_t i = host_start; i < host_end; i++)
            if (!cfg_ipv6_char(s[i]))
                return tb_fail(why, TB_ECONFIG, "bad character in IPv6 address");
        if (host_end == host_start || memchr(s + 1, ':', host_end - 1) == NULL)
            return tb_fail(why, TB_ECONFIG, "bad IPv6 address");
    } else {
        const char *c = memchr(s, ':', len);
        if (c == NULL)
            return tb_fail(why, TB_ECONFIG, "expected HOST:PORT");
        host_end = colon = (size_t)(c - s);
        for (size_t i = 0; i < host_end; i++)
            if (!cfg_host_char(s[i]))
                return tb_fail(why, TB_ECONFIG, "bad character 0x%02x in host",
                               (unsigned)(unsigned char)s[i]);
        if (host_end == 0 || s[0] == '.' || s[0] == '-' || s[host_end - 1] == '-')
            return tb_fail(why, TB_ECONFIG, "bad host");
    }
    if (colon >= len || s[colon] != ':')
        return tb_fail(why, TB_ECONFIG, "expected HOST:PORT");
    if (host_end - host_start >= host_size)
        return tb_fail(why, TB_ECONFIG, "host longer than %zu bytes", host_size - 1);
    int rc = cfg_parse_port(s + colon + 1, len - colon - 1, port, why);
    if (rc != TB_OK)
        return rc;
    memcpy(host, s + host_start, host_end - host_start);
    host[host_end - host_start] = '\0';
    return TB_OK;
}

int cfg_check_endpoint(const char *s, size_t len, char *why)
{
    char host[CFG_ENDPOINT_MAX + 1];
    uint16_t port = 0;
    size_t skip;

    TB_ASSERT(s != NULL);
    if (len == 0 || len > CFG_ENDPOINT_MAX)
        return tb_fail(why, TB_ECONFIG, "endpoint must be 1..%d bytes, got %zu", CFG_ENDPOINT_MAX,
                       len);
    if (len > 7 && memcmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && memcmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return tb_fail(why, TB_ECONFIG, "endpoint must start with http:// or https://");
    const char *slash = memchr(s + skip, '/', len - skip);
    size_t authority_end = slash == NULL ? len : (size_t)(slash - s);
    char inner[TB_ERRMSG_SIZE];
    int rc = cfg_parse_hostport(s + skip, authority_end - skip, host, sizeof(host), &port, inner);
    if (rc != TB_OK)
        return tb_fail(why, TB_ECONFIG, "endpoint needs host and port (%s)", inner);
    for (size_t i = authority_end; i < len; i++) {
        char c = s[i];
        int ok = cfg_host_char(c) || c == '_' || c == '~' || c == '/' || c == '%';
        if (!ok)
            return tb_fail(why, TB_ECONFIG, "bad character 0x%02x in endpoint path",
                           (unsigned)(unsigned char)c);
    }
    return TB_OK;
}

int cfg_host_is_loopback(const char *host)
{
    TB_ASSERT(host != NULL);
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return 1;
    /* 127.a.b.c in strict dotted-decimal form. */
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    int parts = 2, digits = 0, value = 0; /* "127" and the part being read */
    for (const char *p = host + 4; *p != '\0'; p++) {
        if (*p == '.') {
            if (digits == 0)
                return 0;
            parts++;
            digits = value = 0;
        } else if (*p >= '0' && *p <= '9') {
            if (digits > 0 && value == 0)
                return 0; /* leading zero */
            value = value * 10 + (*p - '0');
            if (++digits > 3 || value > 255)
                return 0;
        } else {
            return 0;
        }
    }
    return parts == 4 && digits > 0;
}

int cfg_endpoint_host(const char *endpoint, char *host, size_t host_size)
{
    char why[TB_ERRMSG_SIZE];
    uint16_t port = 0;
    size_t len = strlen(endpoint), skip;
    TB_ASSERT(host_size > 1);
    if (cfg_check_endpoint(endpoint, len, why) != TB_OK)
        return TB_ECONFIG;
    skip = strncmp(endpoint, "https://", 8) == 0 ? 8 : 7;
    const char *slash = strchr(endpoint + skip, '/');
    size_t end = slash == NULL ? len : (size_t)(slash - endpoint);
    TB_ASSERT(end > skip);
    return cfg_parse_hostport(endpoint + skip, end - skip, host, host_size, &port, why);
}
