/* Bench server for wsload (../shared/bench/peers/CONTRACT.md) on the websock C API:
 * "/echo" and "/" echo every message; "/sub" connections carry the tag "all"; every
 * message on "/pub" goes to "all" with websock_send_by_tag_len() (one frame encoded once,
 * shared by every subscriber). All handlers are C callbacks delivered by the event pump
 * (websock_server_run) on the main thread; sends cross back to the loops' queues.
 *
 * Changed defaults (contract): none. Library defaults allow 64 MiB messages and 64 MiB
 * of outbound queue per connection; keepalive pings every 30 s and a 120 s idle timeout
 * are within the contract. Backlog 4096 as in the Rust bench server. LOOPS (default:
 * one per CPU the process may use) sets the event-loop count.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <websock.h>

enum role { ECHO = 1, SUB = 2, PUB = 3 };

/* Connection id -> role: open addressing, linear probing, tombstones on delete. */
struct table {
    uint64_t *keys; /* 0 = empty, 1 = deleted (real ids are never 0 or 1 here: see put) */
    uint8_t *vals;
    size_t cap, used;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Ids are stored +2 so that 0 and 1 stay free as the empty and deleted markers. */
static void put(struct table *t, uint64_t id, uint8_t role);

/* Rehashes into a table sized for the live entries (tombstones are dropped), so churn
 * does not make it grow without bound. */
static void grow(struct table *t)
{
    size_t i, live = 0, cap = 1024;
    struct table n;
    for (i = 0; i < t->cap; i++)
        live += t->keys[i] > 1;
    while (cap < live * 4)
        cap *= 2;
    n.keys = calloc(cap, 8);
    n.vals = calloc(cap, 1);
    n.cap = cap;
    n.used = 0;
    if (n.keys == NULL || n.vals == NULL)
        abort();
    for (i = 0; i < t->cap; i++)
        if (t->keys[i] > 1)
            put(&n, t->keys[i] - 2, t->vals[i]);
    free(t->keys);
    free(t->vals);
    *t = n;
}

static void put(struct table *t, uint64_t id, uint8_t role)
{
    size_t i;
    if ((t->used + 1) * 2 > t->cap)
        grow(t);
    i = mix(id) & (t->cap - 1);
    while (t->keys[i] > 1)
        i = (i + 1) & (t->cap - 1);
    t->keys[i] = id + 2;
    t->vals[i] = role;
    t->used++;
}

static size_t find(const struct table *t, uint64_t id)
{
    size_t i = mix(id) & (t->cap - 1);
    while (t->keys[i] != 0) {
        if (t->keys[i] == id + 2)
            return i;
        i = (i + 1) & (t->cap - 1);
    }
    return (size_t)-1;
}

static struct table g_roles;
static websock_server *g_server;
static sigset_t g_signals;

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    const char *p;
    size_t n;
    uint8_t role = ECHO;
    (void)ud;
    if (websock_request_path(req, &p, &n) == WEBSOCK_RESULT_OK) {
        if (n == 4 && memcmp(p, "/sub", 4) == 0) {
            role = SUB;
            websock_tag(srv, id, "all");
        } else if (n == 4 && memcmp(p, "/pub", 4) == 0) {
            role = PUB;
        }
    }
    put(&g_roles, id, role);
}

static void on_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *data,
                       size_t len, bool is_text)
{
    size_t i = find(&g_roles, id);
    uint8_t role = i == (size_t)-1 ? ECHO : g_roles.vals[i];
    (void)ud;
    if (role == PUB)
        websock_send_by_tag_len(srv, "all", 3, data, len, is_text, NULL);
    else if (role == ECHO)
        websock_send(srv, id, data, len, is_text);
}

static void on_close(void *ud, websock_server *srv, websock_conn_id id, uint16_t code,
                     const char *reason, size_t reason_len, websock_close_kind kind)
{
    size_t i = find(&g_roles, id);
    (void)ud; (void)srv; (void)code; (void)reason; (void)reason_len; (void)kind;
    if (i != (size_t)-1) {
        g_roles.keys[i] = 1; /* tombstone; counted in `used` until the next grow */
    }
}

static void *signal_thread(void *arg)
{
    int sig;
    (void)arg;
    if (sigwait(&g_signals, &sig) == 0)
        websock_server_stop(g_server, 1000);
    return NULL;
}

int main(void)
{
    const char *host = getenv("HOST") ? getenv("HOST") : "127.0.0.1";
    const char *port = getenv("PORT") ? getenv("PORT") : "9001";
    const char *loops = getenv("LOOPS");
    char addr[128];
    websock_options *o = websock_options_new();
    websock_callbacks cbs;
    pthread_t waiter;
    websock_result rc;

    sigemptyset(&g_signals);
    sigaddset(&g_signals, SIGINT);
    sigaddset(&g_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_signals, NULL);

    g_roles.cap = 1024;
    g_roles.keys = calloc(g_roles.cap, 8);
    g_roles.vals = calloc(g_roles.cap, 1);
    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    cbs.on_close = on_close;
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    if (o == NULL || websock_options_set_address(o, addr) != WEBSOCK_RESULT_OK ||
        websock_options_set_backlog(o, 4096) != WEBSOCK_RESULT_OK ||
        (loops && websock_options_set_loops(o, (size_t)atoi(loops)) != WEBSOCK_RESULT_OK)) {
        fprintf(stderr, "websock C bench server: %s\n", websock_last_error_message());
        return 1;
    }
    rc = websock_server_new(o, &cbs, NULL, NULL, &g_server);
    websock_options_free(o);
    if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "websock C bench server: %s\n", websock_last_error_message());
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    pthread_create(&waiter, NULL, signal_thread, NULL);
    rc = websock_server_run(g_server);
    pthread_kill(waiter, SIGTERM); /* wake the signal thread if it still waits, then join */
    pthread_join(waiter, NULL);
    websock_server_free(g_server);
    free(g_roles.keys);
    free(g_roles.vals);
    return rc == WEBSOCK_RESULT_OK ? 0 : 1;
}
