/* Helpers shared by the subcommands: error printing, passphrase files, atomic writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tb_hex.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tongban %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tongban %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'tongban %s --help'\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_read_passphrase(const char *path, char *out, size_t out_size, char *errmsg)
{
    FILE *f = fopen(path, "r");
    size_t n;
    if (f == NULL)
        return tb_fail(errmsg, TB_EIO, "cannot open passphrase file '%s': %s", path,
                       strerror(errno));
    if (fgets(out, (int)out_size, f) == NULL) {
        fclose(f);
        return tb_fail(errmsg, TB_EIO, "passphrase file '%s' is empty", path);
    }
    fclose(f);
    n = strlen(out);
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    else if (n == out_size - 1)
        return tb_fail(errmsg, TB_ELIMIT, "passphrase in '%s' is longer than %zu bytes", path,
                       out_size - 2);
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    if (n == 0)
        return tb_fail(errmsg, TB_EINVAL, "passphrase file '%s' is empty", path);
    return TB_OK;
}

int cli_write_file(const char *path, const void *data, size_t len, unsigned mode, char *errmsg)
{
    char tmp[4096];
    int fd;
    const unsigned char *p = data;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return tb_fail(errmsg, TB_ELIMIT, "path too long: '%s'", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return tb_fail(errmsg, TB_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return tb_fail(errmsg, TB_EIO, "cannot write '%s': %s", tmp, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return tb_fail(errmsg, TB_EIO, "cannot sync '%s': %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tb_fail(errmsg, TB_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
    }
    return TB_OK;
}
