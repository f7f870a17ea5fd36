/*
 * Benchmark of node/http.c: requests per second for a small GET.
 *
 *   bench_http [SECONDS (default 5)] [CONNECTIONS (default 16)]
 *       In-process: the server and a keep-alive client with CONNECTIONS connections
 *       share one event loop (one core), each connection sending its next request as
 *       soon as the previous answer is complete. Prints requests/s by wall and CPU time.
 *   bench_http --serve PORT [SECONDS (default 30)]
 *       Serves GET /bench on 127.0.0.1:PORT for an external load generator (wrk), then
 *       prints the server's own counters.
 *
 * The answer is BENCH_BODY (27 bytes of JSON); compare with a static file of the same
 * size. Not a test: never run by ctest. Build without sanitizers for real figures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"

#define BENCH_BODY "{\"height\":123456,\"ok\":true}"
#define BENCH_CONNS_MAX 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void bench_handler(struct http_req *req, void *arg)
{
    (void)arg;
    http_reply_json_text(req, 200, BENCH_BODY);
}

struct bench_client
{
    struct bufferevent *bev;
    unsigned long *done;
    int *stop;
};

static const char bench_request[] = "GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* Consumes complete responses (head + Content-Length body) and sends the next request. */
static void bench_read_cb(struct bufferevent *bev, void *arg)
{
    struct bench_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0)
            return;
        size_t head = (size_t)end.pos + 4;
        char buf[512];
        size_t n = head < sizeof(buf) - 1 ? head : sizeof(buf) - 1;
        evbuffer_copyout(in, buf, n);
        buf[n] = '\0';
        char *cl = strstr(buf, "Content-Length: ");
        size_t body = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
        if (evbuffer_get_length(in) < head + body)
            return;
        evbuffer_drain(in, head + body);
        (*c->done)++;
        if (!*c->stop)
            bufferevent_write(bev, bench_request, sizeof(bench_request) - 1);
    }
}

static void bench_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)arg;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
        fprintf(stderr, "bench_http: client connection closed unexpectedly\n");
}

static void bench_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

static void bench_quit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static int bench_in_process(struct event_base *base, struct http_server *srv, int seconds,
                            int conns)
{
    static struct bench_client clients[BENCH_CONNS_MAX];
    unsigned long done = 0;
    int stop = 0;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(http_server_port(srv));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < conns; i++) {
        struct bench_client *c = &clients[i];
        c->done = &done;
        c->stop = &stop;
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(c->bev, bench_read_cb, NULL, bench_event_cb, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
            fprintf(stderr, "bench_http: connect failed\n");
            return 1;
        }
        bufferevent_write(c->bev, bench_request, sizeof(bench_request) - 1);
    }
    struct timeval run = {.tv_sec = seconds}, grace = {.tv_sec = seconds, .tv_usec = 200000};
    struct event *stop_ev = evtimer_new(base, bench_stop_cb, &stop);
    struct event *quit_ev = evtimer_new(base, bench_quit_cb, base);
    evtimer_add(stop_ev, &run);
    evtimer_add(quit_ev, &grace);
    double w0 = now_s(), c0 = cpu_s();
    event_base_dispatch(base);
    double wall = now_s() - w0, cpu = cpu_s() - c0;
    printf(
        "in-process: %d connections, %lu requests in %.2f s wall (%.2f s CPU, server and "
        "client together)\n",
        conns, done, wall, cpu);
    printf("in-process: %.0f requests/s wall, %.0f requests/s per CPU second\n",
           (double)done / wall, (double)done / cpu);
    for (int i = 0; i < conns; i++)
        bufferevent_free(clients[i].bev);
    event_free(stop_ev);
    event_free(quit_ev);
    return done > 0 ? 0 : 1;
}

/* A positive decimal argument, or -1. */
static int bench_arg(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end == s || *end != '\0' || v <= 0 || v > 100000) ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    char err[TB_ERRMSG_SIZE] = "";
    char listen[64] = "127.0.0.1:0";
    int serve = argc >= 3 && strcmp(argv[1], "--serve") == 0;
    int seconds =
        serve ? (argc >= 4 ? bench_arg(argv[3]) : 30) : (argc >= 2 ? bench_arg(argv[1]) : 5);
    int conns = !serve && argc >= 3 ? bench_arg(argv[2]) : 16;
    if (seconds <= 0 || conns <= 0 || conns > BENCH_CONNS_MAX) {
        fprintf(stderr, "usage: bench_http [SECONDS] [CONNECTIONS] | --serve PORT [SECONDS]\n");
        return 2;
    }
    if (serve)
        snprintf(listen, sizeof(listen), "127.0.0.1:%s", argv[2]);
    struct event_base *base = event_base_new();
    struct http_server *srv = NULL;
    struct http_limits limits;
    http_limits_default(&limits);
    limits.connections_max = 1024;
    if (http_server_start(base, listen, &limits, &srv, err) != TB_OK ||
        http_server_route(srv, HTTP_GET, "/bench", bench_handler, NULL, err) != TB_OK) {
        fprintf(stderr, "bench_http: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (serve) {
        struct timeval tv = {.tv_sec = seconds};
        printf("serving GET http://%s/bench for %d s\n", listen, seconds);
        fflush(stdout);
        double c0 = cpu_s();
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        struct http_server_stats st;
        http_server_stats_get(srv, &st);
        printf("served %llu requests on %llu connections, %.2f s CPU\n",
               (unsigned long long)st.requests, (unsigned long long)st.connections_accepted,
               cpu_s() - c0);
    } else {
        rc = bench_in_process(base, srv, seconds, conns);
    }
    http_server_free(srv);
    event_base_free(base);
    return rc;
}
