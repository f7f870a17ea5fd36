/*
 * bench/loadgen.c: the ingest benchmark's client (bench/ingest). curl costs about 0.4 ms of
 * CPU per request on this machine, which on 2 cores would be charged against the nodes it
 * measures; this client costs a few microseconds per request, so the figures are the nodes'.
 *
 *   loadgen PREFIX CLIENTS
 *
 * Client j reads PREFIX-j.list: its first line is "HOST PORT PATH", every later line
 * "FILE OFFSET LENGTH", one request body (a tx envelope, POSTed as application/msgpack) at
 * that place in FILE (bench/presign writes them all into one file).
 * Each client is one thread with one kept-alive HTTP/1.1 connection that POSTs its bodies one
 * after another, and writes PREFIX-j.t0 (unix time of its start, seconds) and PREFIX-j.out
 * (one line per request: "STATUS SECONDS", like curl's -w '%{http_code} %{time_total}').
 * A connection the server closes is reopened; a request that fails twice is written as
 * status 000; a 503 (back-pressure) is tried again every 100 ms, for five minutes at most. Bounded:
 * bodies up to 1 MiB, responses up to 64 KiB, at most 256 clients.
 *
 * Benchmark code, not product code: it trusts its own list files.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_CLIENTS_MAX 256
#define LG_BODY_MAX (1024 * 1024)
#define LG_RESPONSE_MAX (64 * 1024)
#define LG_LINE_MAX 4096
#define LG_RETRY_503_MAX 3000 /* 100 ms apart: five minutes of back-pressure at most */

struct lg_client
{
    const char *prefix;
    int index;
    int failed;
};

static double lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lg_connect(const char *host, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int lg_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response; returns its status, or -1 (connection gone or not HTTP). */
static int lg_read_response(int fd, char *buf, int *keep_alive)
{
    size_t have = 0;
    char *end = NULL;
    while (end == NULL) {
        if (have == LG_RESPONSE_MAX - 1)
            return -1;
        ssize_t r = recv(fd, buf + have, LG_RESPONSE_MAX - 1 - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    size_t body = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl != NULL)
        body = (size_t)strtoul(cl + 17, NULL, 10);
    *keep_alive = strcasestr(buf, "\r\nConnection: close") == NULL;
    size_t head = (size_t)(end + 4 - buf);
    size_t got = have - head;
    while (got < body) { /* drain the body; its content does not matter here */
        ssize_t r = recv(fd, buf, body - got < LG_RESPONSE_MAX ? body - got : LG_RESPONSE_MAX, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return status;
}

/* LENGTH bytes at OFFSET of FILE, from a line "FILE OFFSET LENGTH"; 0 when it fails. */
static size_t lg_read_body(const char *line, char *out, size_t max)
{
    char path[LG_LINE_MAX];
    unsigned long offset = 0, len = 0;
    if (sscanf(line, "%4095s %lu %lu", path, &offset, &len) != 3 || len == 0 || len > max)
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fseek(f, (long)offset, SEEK_SET) == 0 ? fread(out, 1, len, f) : 0;
    fclose(f);
    return n == len ? n : 0;
}

/* One request over *fd (reopened when needed); the status, or 0 after two failures. */
static int lg_post(int *fd, const char *host, int port, const char *path, const char *body,
                   size_t len, char *resp)
{
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/msgpack\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, host, port, len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fd < 0)
            *fd = lg_connect(host, port);
        if (*fd < 0)
            continue;
        int keep = 1, status = -1;
        if (lg_write_all(*fd, head, (size_t)hn) == 0 && lg_write_all(*fd, body, len) == 0)
            status = lg_read_response(*fd, resp, &keep);
        if (status < 0 || !keep) {
            close(*fd);
            *fd = -1;
        }
        if (status > 0)
            return status;
    }
    return 0;
}

static pthread_barrier_t lg_start; /* every client has read its bodies: go together */

/* Reads the list's bodies into memory (so the timed part does no file I/O). */
static int lg_load(FILE *in, char ***bodies, size_t **lens, size_t *count)
{
    char line[LG_LINE_MAX];
    size_t cap = 0;
    char *buf = malloc(LG_BODY_MAX);
    if (buf == NULL)
        return -1;
    while (fgets(line, sizeof(line), in) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0')
            continue;
        size_t len = lg_read_body(line, buf, LG_BODY_MAX);
        if (len == 0) {
            free(buf);
            return -1;
        }
        if (*count == cap) {
            cap = cap ? 2 * cap : 64;
            char **nb = realloc(*bodies, cap * sizeof(**bodies));
            size_t *nl = realloc(*lens, cap * sizeof(**lens));
            if (nb != NULL)
                *bodies = nb;
            if (nl != NULL)
                *lens = nl;
            if (nb == NULL || nl == NULL) {
                free(buf);
                return -1;
            }
        }
        (*bodies)[*count] = malloc(len);
        if ((*bodies)[*count] == NULL) {
            free(buf);
            return -1;
        }
        memcpy((*bodies)[*count], buf, len);
        (*lens)[(*count)++] = len;
    }
    free(buf);
    return 0;
}

static void *lg_run(void *arg)
{
    struct lg_client *c = arg;
    char name[LG_LINE_MAX], line[LG_LINE_MAX], host[64], path[256];
    int port = 0, fd = -1;
    char **bodies = NULL, *resp = malloc(LG_RESPONSE_MAX);
    size_t *lens = NULL, count = 0;
    snprintf(name, sizeof(name), "%s-%d.list", c->prefix, c->index);
    FILE *in = fopen(name, "r");
    snprintf(name, sizeof(name), "%s-%d.out", c->prefix, c->index);
    FILE *out = fopen(name, "w");
    if (resp == NULL || in == NULL || out == NULL || fgets(line, sizeof(line), in) == NULL ||
        sscanf(line, "%63s %d %255s", host, &port, path) != 3 ||
        lg_load(in, &bodies, &lens, &count) != 0)
        c->failed = 1;
    pthread_barrier_wait(&lg_start);
    if (c->failed)
        goto done;
    snprintf(name, sizeof(name), "%s-%d.t0", c->prefix, c->index);
    FILE *t0 = fopen(name, "w");
    if (t0 != NULL) {
        fprintf(t0, "%.6f\n", lg_now());
        fclose(t0);
    }
    for (size_t i = 0; i < count; i++) {
        double t = lg_now();
        int status = lg_post(&fd, host, port, path, bodies[i], lens[i], resp);
        /* 503 is the node's back-pressure (mempool full, storage busy): a real client waits
         * and tries again; the time written is from the first try to the answer. */
        for (int retry = 0; status == 503 && retry < LG_RETRY_503_MAX; retry++) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
            status = lg_post(&fd, host, port, path, bodies[i], lens[i], resp);
        }
        fprintf(out, "%03d %.6f\n", status, lg_now() - t);
        if (status == 0)
            c->failed = 1;
    }
done:
    if (fd >= 0)
        close(fd);
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    for (size_t i = 0; i < count; i++)
        free(bodies[i]);
    free(bodies);
    free(lens);
    free(resp);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct lg_client clients[LG_CLIENTS_MAX];
    static pthread_t threads[LG_CLIENTS_MAX];
    char *end = NULL;
    long n = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (end != NULL && *end != '\0')
        n = 0;
    if (n < 1 || n > LG_CLIENTS_MAX) {
        fprintf(stderr, "usage: loadgen PREFIX CLIENTS (1..%d)\n", LG_CLIENTS_MAX);
        return 2;
    }
    if (pthread_barrier_init(&lg_start, NULL, (unsigned)n) != 0)
        return 1;
    for (long i = 0; i < n; i++) {
        clients[i] = (struct lg_client){.prefix = argv[1], .index = (int)i};
        if (pthread_create(&threads[i], NULL, lg_run, &clients[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start client %ld\n", i);
            return 1;
        }
    }
    int failed = 0;
    for (long i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        failed += clients[i].failed;
    }
    if (failed > 0)
        fprintf(stderr, "loadgen: %d of %ld clients saw failures\n", failed, n);
    return failed > 0 ? 1 : 0;
}
