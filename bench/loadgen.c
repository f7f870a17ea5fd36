/*
 * bench/loadgen.c: the ingest benchmark's client (bench/ingest). It shares the 2 cores with the
 * four nodes it measures, so it must cost little CPU per request: curl costs about 0.4 ms, a
 * thread per connection 35-70 us (wake-ups, context switches); this single-threaded epoll
 * loop (level-triggered, non-blocking sockets, TCP_NODELAY) about half that, 18-35 us in
 * bench/ingest, most of it the kernel's (loopback TCP, waking the node, creating the files).
 *
 *   loadgen PREFIX CLIENTS
 *
 * Client j reads PREFIX-j.list: its first line is "HOST PORT PATH", every later line
 * "FILE OFFSET LENGTH", one request body (a tx envelope, POSTed as application/msgpack) at
 * that place in FILE (bench/presign writes them all into one file). Each FILE is mapped
 * once and read into memory (MAP_POPULATE) before the timed part. Each client is one kept-alive
 * HTTP/1.1 connection that POSTs its bodies one after another (one request in flight, no
 * pipelining); all clients start together. It writes PREFIX-j.t0 (unix time of the start, seconds)
 * and PREFIX-j.out (one line per request: "STATUS SECONDS", like curl's -w '%{http_code}
 * %{time_total}', SECONDS from the first try to the answer). A closed connection is reopened; a
 * request that fails twice (connect, send, receive, 30 s without progress) is written as status 000
 * and marks the client failed; a 503 (back-pressure) is tried again 100 ms later, by a timer of the
 * loop, 3000 times at most. Responses: status line + Content-Length (the body is drained),
 * "Connection: close" honoured. Bounded: bodies up to 1 MiB, response heads up to 64 KiB, at
 * most 256 clients. Exit status 1 when a client saw failures.
 *
 * It must never block or sleep in the timed loop (one slow connection would stall all the
 * others), never pipeline, never do file I/O there except appending to the .out files.
 * Benchmark code, not product code: it trusts its own list files.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LG_CLIENTS_MAX 256
#define LG_BODY_MAX (1024 * 1024)
#define LG_RESPONSE_MAX (64 * 1024)
#define LG_LINE_MAX 4096
#define LG_HEAD_MAX 512
#define LG_MAPS_MAX 16        /* body files (bench/presign writes one) */
#define LG_RETRY_503_MAX 3000 /* 100 ms apart: five minutes of back-pressure at most */
#define LG_RETRY_503_S 0.1
#define LG_STALL_S 30.0 /* no progress on a connection for this long: the attempt failed */

enum lg_state {
    LG_DONE,    /* every body sent (or the list could not be read) */
    LG_READY,   /* between requests: the loop starts the next one */
    LG_SENDING, /* connecting or sending head + body */
    LG_RECEIVING,
    LG_WAIT_503, /* answered 503: tried again at wake */
};

struct lg_conn
{
    enum lg_state state;
    int fd;          /* -1: no connection */
    int connecting;  /* connect() in progress */
    uint32_t events; /* what epoll watches on fd */
    struct sockaddr_in addr;
    char host[64], path[256];
    int port;
    const char **bodies;       /* inside lg_maps */
    size_t *lens, count, next; /* next: the request in flight or to start */
    int loaded, attempt, retries, failed;
    double t_first, deadline, wake; /* monotonic seconds */
    char head[LG_HEAD_MAX];
    size_t head_fixed, head_len, sent; /* head_fixed: up to the Content-Length value */
    char *resp;                        /* LG_RESPONSE_MAX bytes */
    size_t have, head_end, drain;      /* head_end 0: head not complete yet */
    int status, keep;
    FILE *out;
};

static int lg_epoll = -1;

static double lg_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double lg_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- loading (before the timed part) ------------------------------------------------------ */

/* The body files, each mapped once, read-only and populated (no page faults in the loop). */
static struct lg_map
{
    char path[LG_LINE_MAX];
    const char *base;
    size_t size;
} lg_maps[LG_MAPS_MAX];
static int lg_nmaps;

static const struct lg_map *lg_map_file(const char *path)
{
    for (int i = 0; i < lg_nmaps; i++)
        if (strcmp(lg_maps[i].path, path) == 0)
            return &lg_maps[i];
    if (lg_nmaps == LG_MAPS_MAX)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return NULL;
    struct lg_map *m = &lg_maps[lg_nmaps++];
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->base = base;
    m->size = (size_t)st.st_size;
    return m;
}

/* The body at "FILE OFFSET LENGTH", inside FILE's mapping; NULL when it is not there. */
static const char *lg_body(const char *line, size_t *len)
{
    char path[LG_LINE_MAX];
    unsigned long offset = 0, n = 0;
    if (sscanf(line, "%4095s %lu %lu", path, &offset, &n) != 3 || n == 0 || n > LG_BODY_MAX)
        return NULL;
    const struct lg_map *m = lg_map_file(path);
    if (m == NULL || offset > m->size || n > m->size - offset)
        return NULL;
    *len = n;
    return m->base + offset;
}

static int lg_push(struct lg_conn *c, const char *body, size_t len, size_t *cap)
{
    if (c->count == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        const char **nb = realloc(c->bodies, *cap * sizeof(*nb));
        if (nb != NULL)
            c->bodies = nb;
        size_t *nl = realloc(c->lens, *cap * sizeof(*nl));
        if (nl != NULL)
            c->lens = nl;
        if (nb == NULL || nl == NULL)
            return -1;
    }
    c->bodies[c->count] = body;
    c->lens[c->count++] = len;
    return 0;
}

/* Reads the list's bodies into memory (so the timed part does no file reads). */
static int lg_load_bodies(struct lg_conn *c, FILE *in)
{
    char line[LG_LINE_MAX];
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), in) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0')
            continue;
        size_t len = 0;
        const char *body = lg_body(line, &len);
        if (body == NULL || lg_push(c, body, len, &cap) != 0)
            rc = -1;
    }
    return rc;
}

/* Client j: its list, its bodies, its .out file; 0, or -1 (the client is failed). */
static int lg_load(struct lg_conn *c, const char *prefix, int j)
{
    char name[LG_LINE_MAX], line[LG_LINE_MAX];
    *c = (struct lg_conn){.fd = -1, .state = LG_DONE};
    snprintf(name, sizeof(name), "%s-%d.out", prefix, j);
    c->out = fopen(name, "w");
    snprintf(name, sizeof(name), "%s-%d.list", prefix, j);
    FILE *in = fopen(name, "r");
    if (in == NULL || c->out == NULL) {
        if (in != NULL)
            fclose(in);
        return -1;
    }
    int ok = fgets(line, sizeof(line), in) != NULL &&
             sscanf(line, "%63s %d %255s", c->host, &c->port, c->path) == 3 && c->port > 0 &&
             c->port < 65536 && inet_pton(AF_INET, c->host, &c->addr.sin_addr) == 1 &&
             lg_load_bodies(c, in) == 0;
    fclose(in);
    c->addr.sin_family = AF_INET;
    c->addr.sin_port = htons((uint16_t)c->port);
    int n = snprintf(c->head, sizeof(c->head),
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/msgpack\r\n"
                     "Content-Length: ",
                     c->path, c->host, c->port);
    ok = ok && n > 0 && (size_t)n + 7 + 4 <= sizeof(c->head); /* 7 digits: LG_BODY_MAX */
    c->head_fixed = ok ? (size_t)n : 0;
    c->resp = ok ? malloc(LG_RESPONSE_MAX) : NULL;
    if (c->resp == NULL)
        return -1;
    setvbuf(c->out, NULL, _IOFBF, 1 << 16);
    c->loaded = 1;
    c->state = LG_READY;
    return 0;
}

/* ---- one connection ----------------------------------------------------------------------- */

static void lg_close(struct lg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    c->connecting = 0;
    c->events = 0;
}

static int lg_watch(struct lg_conn *c, uint32_t events)
{
    if (events == c->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(lg_epoll, op, c->fd, &ev) != 0)
        return -1;
    c->events = events;
    return 0;
}

/* A non-blocking socket, connected or connecting; -1 when that fails at once. */
static int lg_connect(struct lg_conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&c->addr, sizeof(c->addr)) != 0) {
        if (errno != EINPROGRESS)
            return -1;
        c->connecting = 1;
    }
    return lg_watch(c, c->connecting ? EPOLLOUT : EPOLLIN);
}

static void lg_finish(struct lg_conn *c, int status, double now)
{
    fprintf(c->out, "%03d %.6f\n", status, now - c->t_first);
    if (status == 0)
        c->failed = 1;
    c->next++;
    c->state = LG_READY;
}

static void lg_send(struct lg_conn *c, double now);
static void lg_fail(struct lg_conn *c, double now);

/* One try of request c->next: connect when needed, send head + body. */
static void lg_attempt(struct lg_conn *c, double now)
{
    c->state = LG_SENDING;
    c->sent = 0;
    c->have = c->head_end = c->drain = 0;
    c->deadline = now + LG_STALL_S;
    if (c->fd < 0 && lg_connect(c) != 0)
        lg_fail(c, now);
    else if (!c->connecting)
        lg_send(c, now);
}

/* This try failed (the connection is gone or not HTTP): once more, or status 000. */
static void lg_fail(struct lg_conn *c, double now)
{
    lg_close(c);
    if (++c->attempt < 2)
        lg_attempt(c, now);
    else
        lg_finish(c, 0, now);
}

/* The head for a LEN-byte body: the fixed part (lg_load) + LEN + "\r\n\r\n". */
static void lg_head(struct lg_conn *c, size_t len)
{
    char digits[24];
    int k = 0;
    do {
        digits[k++] = (char)('0' + len % 10);
        len /= 10;
    } while (len > 0);
    char *p = c->head + c->head_fixed;
    while (k > 0)
        *p++ = digits[--k];
    memcpy(p, "\r\n\r\n", 4);
    c->head_len = (size_t)(p + 4 - c->head);
}

static void lg_begin(struct lg_conn *c, double now)
{
    lg_head(c, c->lens[c->next]);
    c->attempt = 0;
    lg_attempt(c, now);
}

/* Sends what is left of head + body; then waits for the answer. */
static void lg_send(struct lg_conn *c, double now)
{
    size_t blen = c->lens[c->next], total = c->head_len + blen;
    while (c->sent < total) {
        struct iovec iov[2];
        int k = 0;
        if (c->sent < c->head_len)
            iov[k++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
        size_t boff = c->sent > c->head_len ? c->sent - c->head_len : 0;
        /* the cast drops const: sendmsg only reads */
        iov[k++] = (struct iovec){(char *)c->bodies[c->next] + boff, blen - boff};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (lg_watch(c, EPOLLIN | EPOLLOUT) != 0)
                lg_fail(c, now);
            return;
        }
        if (w <= 0) {
            lg_fail(c, now);
            return;
        }
        c->sent += (size_t)w;
        c->deadline = now + LG_STALL_S;
    }
    c->state = LG_RECEIVING;
    if (lg_watch(c, EPOLLIN) != 0)
        lg_fail(c, now);
}

/* The answer is complete: next request, a 503 retry, or another try. */
static void lg_answer(struct lg_conn *c, double now)
{
    if (!c->keep || c->status <= 0 || c->sent < c->head_len + c->lens[c->next])
        lg_close(c); /* an answer before the whole body was sent: the connection is spent */
    if (c->status <= 0) {
        lg_fail(c, now);
    } else if (c->status == 503 && c->retries < LG_RETRY_503_MAX) {
        /* the node's back-pressure (mempool full, storage busy): a real client waits and
         * tries again; the time written is from the first try to the answer */
        c->retries++;
        c->state = LG_WAIT_503;
        c->wake = now + LG_RETRY_503_S;
    } else {
        lg_finish(c, c->status, now);
    }
}

/* "HTTP/1.x NNN ..." -> NNN (100..999), or -1. By hand: sscanf showed in the profile. */
static int lg_status(const char *s)
{
    if (strncmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
        return -1;
    int v = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 100 && (s[12] == ' ' || s[12] == '\r') ? v : -1;
}

/* The head is in resp[0..have): status, Content-Length, Connection: close. 0, or -1. */
static int lg_parse_head(struct lg_conn *c)
{
    char *buf = c->resp;
    char *end = memmem(buf, c->have, "\r\n\r\n", 4);
    if (end == NULL)
        return c->have < LG_RESPONSE_MAX - 1 ? 0 : -1;
    c->head_end = (size_t)(end - buf) + 4;
    end[2] = '\0'; /* the head alone, each line ending in \r\n */
    c->status = lg_status(buf);
    if (c->status < 0)
        return -1;
    size_t body = 0;
    c->keep = 1;
    for (const char *p = strstr(buf, "\r\n"); p != NULL && p[2] != '\0';
         p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
            body = (size_t)strtoul(p + 17, NULL, 10);
        else if (strncasecmp(p + 2, "Connection: close", 17) == 0)
            c->keep = 0;
    }
    size_t got = c->have - c->head_end;
    if (got > body)
        c->keep = 0; /* more than the answer: the stream is out of step */
    c->drain = got < body ? body - got : 0;
    return 0;
}

/* Reads what the server sent: the head, then the body (drained, not kept). */
static void lg_recv(struct lg_conn *c, double now)
{
    int headed = c->head_end > 0;
    char *at = headed ? c->resp : c->resp + c->have;
    size_t room = headed ? (c->drain < LG_RESPONSE_MAX ? c->drain : LG_RESPONSE_MAX)
                         : LG_RESPONSE_MAX - 1 - c->have;
    ssize_t r = recv(c->fd, at, room, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        lg_fail(c, now);
        return;
    }
    c->deadline = now + LG_STALL_S;
    if (headed) {
        c->drain -= (size_t)r;
    } else {
        c->have += (size_t)r;
        if (lg_parse_head(c) != 0) {
            lg_fail(c, now);
            return;
        }
    }
    if (c->head_end > 0 && c->drain == 0)
        lg_answer(c, now);
}

/* epoll says fd is ready. */
static void lg_event(struct lg_conn *c, uint32_t events, double now)
{
    if (c->state != LG_SENDING && c->state != LG_RECEIVING) {
        lg_close(c); /* idle connection closed by the server (or talking out of turn) */
        return;
    }
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            lg_fail(c, now);
            return;
        }
        c->connecting = 0;
        lg_send(c, now);
        return;
    }
    if (c->state == LG_SENDING && !(events & EPOLLIN))
        lg_send(c, now);
    else
        lg_recv(c, now);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Starts due requests, fires due timers; the epoll timeout (ms) until the next timer. */
static int lg_sweep(struct lg_conn *cs, int n, double now, int *active)
{
    double first = -1;
    for (int j = 0; j < n; j++) {
        struct lg_conn *c = &cs[j];
        if (c->state == LG_WAIT_503 && now >= c->wake) {
            lg_begin(c, now);
        } else if ((c->state == LG_SENDING || c->state == LG_RECEIVING) && now >= c->deadline) {
            lg_fail(c, now);
        }
        while (c->state == LG_READY && c->next < c->count) {
            c->retries = 0;
            c->t_first = now;
            lg_begin(c, now);
        }
        if (c->state == LG_READY) {
            lg_close(c);
            c->state = LG_DONE;
            --*active;
        }
        double due = c->state == LG_WAIT_503 ? c->wake : c->state == LG_DONE ? -1 : c->deadline;
        if (due >= 0 && (first < 0 || due < first))
            first = due;
    }
    return first < 0 ? -1 : first <= now ? 0 : (int)((first - now) * 1000.0) + 1;
}

static void lg_loop(struct lg_conn *cs, int n, int active)
{
    struct epoll_event evs[LG_CLIENTS_MAX];
    double now = lg_mono();
    while (active > 0) {
        int timeout = lg_sweep(cs, n, now, &active);
        if (active == 0)
            break;
        int k = epoll_wait(lg_epoll, evs, LG_CLIENTS_MAX, timeout);
        now = lg_mono();
        for (int i = 0; i < k; i++)
            lg_event(evs[i].data.ptr, evs[i].events, now);
    }
}

static void lg_write_t0(const char *prefix, int j, double t0)
{
    char name[LG_LINE_MAX];
    snprintf(name, sizeof(name), "%s-%d.t0", prefix, j);
    FILE *f = fopen(name, "w");
    if (f != NULL) {
        fprintf(f, "%.6f\n", t0);
        fclose(f);
    }
}

/* Writes the .t0 files, closes the .out files, frees; the number of failed clients. */
static int lg_end(struct lg_conn *cs, int n, const char *prefix, double t0)
{
    int failed = 0;
    for (int j = 0; j < n; j++) {
        struct lg_conn *c = &cs[j];
        if (c->loaded)
            lg_write_t0(prefix, j, t0);
        if (c->out != NULL && fclose(c->out) != 0)
            c->failed = 1;
        failed += c->failed;
        free(c->bodies);
        free(c->lens);
        free(c->resp);
    }
    return failed;
}

int main(int argc, char **argv)
{
    static struct lg_conn conns[LG_CLIENTS_MAX];
    char *end = NULL;
    long n = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (end != NULL && *end != '\0')
        n = 0;
    if (n < 1 || n > LG_CLIENTS_MAX) {
        fprintf(stderr, "usage: loadgen PREFIX CLIENTS (1..%d)\n", LG_CLIENTS_MAX);
        return 2;
    }
    lg_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (lg_epoll < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    int active = 0;
    for (int j = 0; j < (int)n; j++) {
        if (lg_load(&conns[j], argv[1], j) == 0)
            active++;
        else
            conns[j].failed = 1;
    }
    double t0 = lg_wall(); /* all clients start now; .t0 written after (no I/O in the loop) */
    lg_loop(conns, (int)n, active);
    int failed = lg_end(conns, (int)n, argv[1], t0);
    close(lg_epoll);
    for (int i = 0; i < lg_nmaps; i++)
        munmap((void *)lg_maps[i].base, lg_maps[i].size);
    if (failed > 0)
        fprintf(stderr, "loadgen: %d of %ld clients saw failures\n", failed, n);
    return failed > 0 ? 1 : 0;
}
