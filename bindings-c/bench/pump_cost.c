/* pump_cost.c - measures what the event pump costs per event: the time spent inside
 * websock_server_dispatch() divided by the events it delivered to a no-op callback
 * (queue drain under its lock, the event's owned buffer freed, the C call).
 *
 * A raw client thread (rawclient.h) sends N 32-byte text frames over one loopback
 * connection. Two modes:
 *   queued:    wait until the core has received all N (stats), then dispatch them in
 *              batches of 256: the pure per-event cost, no wake-ups.
 *   streaming: dispatch while the client sends (wait_events + dispatch(0)): includes
 *              the readiness wake-ups a real server pays, and reports the mean batch.
 * Usage: pump_cost [N]   (default 200000). Prints one line per mode. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <websock.h>

#include "../tests/c/rawclient.h"

static unsigned long g_events;
static uint16_t g_port;
static long g_n;

static void on_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *d, size_t n, bool t)
{
    (void)ud; (void)srv; (void)id; (void)d; (void)n; (void)t;
    g_events++;
}

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *r)
{
    (void)ud; (void)srv; (void)id; (void)r;
    g_events++;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *sender(void *arg)
{
    char status[16];
    static uint8_t buf[1 << 20];
    const char *msg = "0123456789abcdef0123456789abcdef";
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t per = 32 + 6, batch = sizeof buf / per, i, k;
    long sent = 0;
    int fd = raw_connect(g_port, "/", status);
    (void)arg;
    /* Pre-encode a buffer of masked frames and write it repeatedly. */
    for (i = 0; i < batch; i++) {
        uint8_t *f = buf + i * per;
        f[0] = 0x81;
        f[1] = 0x80 | 32;
        memcpy(f + 2, mask, 4);
        for (k = 0; k < 32; k++)
            f[6 + k] = (uint8_t)msg[k] ^ mask[k & 3];
    }
    while (sent < g_n) {
        size_t now = (size_t)(g_n - sent) < batch ? (size_t)(g_n - sent) : batch;
        if (write(fd, buf, now * per) != (ssize_t)(now * per))
            break;
        sent += (long)now;
    }
    return (void *)(intptr_t)fd;
}

static websock_server *start(void)
{
    websock_options *o = websock_options_new();
    websock_callbacks cbs;
    websock_server *srv = NULL;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, 1);
    if (websock_server_new(o, &cbs, NULL, NULL, &srv) != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "start: %s\n", websock_last_error_message());
        exit(1);
    }
    websock_options_free(o);
    websock_server_local_port(srv, &g_port);
    return srv;
}

static void queued(void)
{
    websock_server *srv = start();
    websock_stats st;
    pthread_t t;
    void *fd;
    double ns = 0, t0;
    size_t n;
    g_events = 0;
    pthread_create(&t, NULL, sender, NULL);
    pthread_join(t, &fd);
    do {
        websock_server_stats(srv, &st);
    } while ((long)st.messages_in < g_n);
    while ((long)g_events < g_n + 1) {
        t0 = now_ns();
        websock_server_dispatch(srv, 256, &n);
        ns += now_ns() - t0;
    }
    printf("queued:    %lu events, %.1f ns/event inside dispatch (batches of 256)\n", g_events, ns / g_events);
    close((int)(intptr_t)fd);
    websock_server_free(srv);
}

static void streaming(void)
{
    websock_server *srv = start();
    pthread_t t;
    void *fd;
    double ns = 0, t0, wall0 = now_ns();
    size_t n;
    unsigned long calls = 0;
    g_events = 0;
    pthread_create(&t, NULL, sender, NULL);
    while ((long)g_events < g_n + 1) {
        if (websock_server_wait_events(srv, 1000) != WEBSOCK_RESULT_OK)
            break;
        t0 = now_ns();
        websock_server_dispatch(srv, 0, &n);
        ns += now_ns() - t0;
        calls += n > 0;
    }
    printf("streaming: %lu events, %.1f ns/event inside dispatch, mean batch %.1f, %.0f events/s end to end\n",
           g_events, ns / g_events, (double)g_events / calls, g_events / ((now_ns() - wall0) / 1e9));
    pthread_join(t, &fd);
    close((int)(intptr_t)fd);
    websock_server_free(srv);
}

int main(int argc, char **argv)
{
    g_n = argc > 1 ? atol(argv[1]) : 200000;
    queued();
    streaming();
    return 0;
}
