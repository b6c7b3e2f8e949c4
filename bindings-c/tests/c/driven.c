/* driven.c - driven loops through the C API (websock_options_set_driven), with this
 * program's main thread as the driver, waiting with poll(2) on websock_server_loop_fd():
 *  - argument checks (not driven, no such loop, NULL outputs, event_fd on a driven
 *    server, BUSY when drive is re-entered from a callback);
 *  - echo over two loops driven by the primitives (turn, hold_wakeups, dispatch) with
 *    client threads on raw sockets; every callback runs on the driving thread;
 *  - a send by tag from another thread wakes the idle driver at once;
 *  - the handshake timeout fires while the driver only honours the turn's wait;
 *  - stop from another thread: the driver turns until finished, every open gets its
 *    close, on_shutdown once;
 *  - websock_server_run() serves a driven server by itself;
 *  - websock_server_free() of a driven server with open connections (valgrind: no leak).
 * Prints one line per check and "N passed, M failed"; exits 1 on any failure. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <websock.h>

#include "checks.h"
#include "rawclient.h"

#define MAX_LOOPS 4

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* What the callbacks saw. */
struct state {
    pthread_t driver;
    int wrong_thread;
    int opens, closes, shutdowns, messages;
    websock_result reentry;
};

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    struct state *st = ud;
    const char *p;
    size_t n;
    st->opens++;
    if (!pthread_equal(pthread_self(), st->driver))
        st->wrong_thread++;
    if (websock_request_path(req, &p, &n) == OK && n == 5 && memcmp(p, "/late", 5) == 0)
        websock_tag(srv, id, "late");
}

static void on_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *data, size_t len,
                       bool is_text)
{
    struct state *st = ud;
    st->messages++;
    if (!pthread_equal(pthread_self(), st->driver))
        st->wrong_thread++;
    if (is_text && len == 7 && memcmp(data, "reenter", 7) == 0) {
        size_t d;
        uint32_t w;
        bool f;
        st->reentry = websock_server_drive(srv, 0, 0, &d, &w, &f);
    }
    websock_send(srv, id, data, len, is_text);
}

static void on_close(void *ud, websock_server *srv, websock_conn_id id, uint16_t code, const char *reason,
                     size_t reason_len, websock_close_kind kind)
{
    struct state *st = ud;
    (void)srv, (void)id, (void)code, (void)reason, (void)reason_len, (void)kind;
    st->closes++;
}

static void on_shutdown(void *ud, websock_server *srv)
{
    struct state *st = ud;
    (void)srv;
    st->shutdowns++;
}

static websock_server *start(struct state *st, size_t loops, uint64_t handshake_ms)
{
    websock_callbacks cbs;
    websock_options *o = websock_options_new();
    websock_server *srv = NULL;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    cbs.on_close = on_close;
    cbs.on_shutdown = on_shutdown;
    memset(st, 0, sizeof *st);
    st->driver = pthread_self();
    st->reentry = OK;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, loops);
    websock_options_set_driven(o, true);
    if (handshake_ms)
        websock_options_set_timeouts(o, handshake_ms, 1000);
    if (websock_server_new(o, &cbs, st, NULL, &srv) != OK) {
        printf("FAIL websock_server_new: %s\n", websock_last_error_message());
        exit(1);
    }
    websock_options_free(o);
    return srv;
}

/* Drives every loop until each reports finished, or until *stop_flag is set (then
 * returns without finishing). `primitives`: turn + hold_wakeups + dispatch; otherwise
 * websock_server_drive. Returns the number of turns. */
static long drive(websock_server *srv, int primitives, volatile int *stop_flag)
{
    size_t loops = 0, i;
    int fds[MAX_LOOPS];
    bool fin[MAX_LOOPS] = {false};
    long turns = 0;
    websock_server_loop_count(srv, &loops);
    for (i = 0; i < loops; i++)
        websock_server_loop_fd(srv, i, &fds[i]);
    for (;;) {
        uint32_t wait = 1000;
        int again = 0, active = 0;
        struct pollfd p[MAX_LOOPS];
        nfds_t np = 0;
        if (stop_flag && __atomic_load_n(stop_flag, __ATOMIC_SEQ_CST))
            return turns;
        for (i = 0; i < loops; i++) {
            size_t n = 0;
            uint32_t w = 0;
            bool f = false;
            websock_result rc;
            if (fin[i])
                continue;
            turns++;
            if (primitives) {
                rc = websock_server_turn(srv, i, &w, &f);
                if (rc == OK) {
                    /* Events queued? Hold wake-ups while the callbacks reply. */
                    websock_server_hold_wakeups(srv, i);
                    rc = websock_server_dispatch(srv, 0, &n);
                }
            } else {
                rc = websock_server_drive(srv, i, 0, &n, &w, &f);
            }
            if (rc != OK) {
                printf("FAIL driving loop %zu: %s\n", i, websock_last_error_message());
                failed++;
                return turns;
            }
            if (n > 0)
                again = 1;
            else if (f)
                fin[i] = true;
            if (!fin[i]) {
                active++;
                if (w < wait)
                    wait = w;
            }
        }
        if (!active)
            return turns;
        if (again || wait == 0)
            continue;
        for (i = 0; i < loops; i++)
            if (!fin[i]) {
                p[np].fd = fds[i];
                p[np].events = POLLIN;
                np++;
            }
        poll(p, np, (int)wait);
    }
}

/* ---- client threads ---- */

struct client_arg {
    uint16_t port;
    int msgs;
    int ok;
};

static void *echo_client(void *p)
{
    struct client_arg *a = p;
    char status[16], msg[64];
    uint8_t buf[256];
    size_t len;
    int k, fd = raw_connect(a->port, "/echo", status);
    if (fd < 0 || strcmp(status, "HTTP/1.1 101") != 0)
        return NULL;
    for (k = 0; k < a->msgs; k++) {
        int n = snprintf(msg, sizeof msg, "message %d", k);
        if (raw_send(fd, 1, msg, (size_t)n) != 0 || raw_recv(fd, buf, sizeof buf, &len) != 1 ||
            len != (size_t)n || memcmp(buf, msg, len) != 0) {
            close(fd);
            return NULL;
        }
    }
    raw_send(fd, 8, "\x03\xe8", 2);
    raw_recv(fd, buf, sizeof buf, &len); /* the close reply */
    close(fd);
    a->ok = 1;
    return NULL;
}

struct late_arg {
    websock_server *srv;
    uint16_t port;
    double elapsed_ms;
    int got;
    volatile int done;
};

/* Opens /late, waits while the driver idles in poll, then sends by tag from this thread
 * and measures how long the frame takes to arrive. */
static void *late_client(void *p)
{
    struct late_arg *a = p;
    char status[16];
    uint8_t buf[256];
    size_t len, count = 0;
    double t0;
    int fd = raw_connect(a->port, "/late", status);
    if (fd >= 0) {
        usleep(300 * 1000);
        t0 = now_ms();
        if (websock_send_text_by_tag(a->srv, "late", "wake up") == OK && count == 0 &&
            raw_recv(fd, buf, sizeof buf, &len) == 1 && len == 7 && memcmp(buf, "wake up", 7) == 0) {
            a->elapsed_ms = now_ms() - t0;
            a->got = 1;
        }
        close(fd);
    }
    __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Sends "reenter" (the server's on_message calls websock_server_drive, which must be
 * BUSY) and reads the echo. */
static void *reenter_client(void *p)
{
    struct late_arg *a = p;
    char status[16];
    uint8_t buf[64];
    size_t len;
    int fd = raw_connect(a->port, "/echo", status);
    if (fd >= 0) {
        if (raw_send(fd, 1, "reenter", 7) == 0 && raw_recv(fd, buf, sizeof buf, &len) == 1 && len == 7)
            a->got = 1;
        close(fd);
    }
    __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

struct stop_arg {
    websock_server *srv;
    struct client_arg clients[8];
    int nclients;
};

/* Runs echo clients, then stops the server from this (non-driving) thread. */
static void *clients_then_stop(void *p)
{
    struct stop_arg *a = p;
    pthread_t t[8];
    int i;
    for (i = 0; i < a->nclients; i++)
        pthread_create(&t[i], NULL, echo_client, &a->clients[i]);
    for (i = 0; i < a->nclients; i++)
        pthread_join(t[i], NULL);
    websock_server_stop(a->srv, 1000);
    return NULL;
}

struct idle_arg {
    uint16_t port;
    double closed_after_ms;
    volatile int done;
};

/* A TCP connection that never sends its upgrade: the handshake timeout closes it. */
static void *silent_client(void *p)
{
    struct idle_arg *a = p;
    struct sockaddr_in sa;
    char b;
    double t0 = now_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(a->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->closed_after_ms = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (read(fd, &b, 1) <= 0)
            a->closed_after_ms = now_ms() - t0;
    }
    close(fd);
    __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *run_thread(void *p)
{
    websock_server *srv = p;
    static websock_result rc;
    rc = websock_server_run(srv);
    return &rc;
}

int main(void)
{
    struct state st;
    websock_server *srv;
    uint16_t port = 0;
    int fd = -1;
    size_t n = 0;
    uint32_t w = 0;
    bool b = false;

    /* ---- argument checks ---- */
    {
        websock_callbacks cbs;
        websock_options *o = websock_options_new();
        memset(&cbs, 0, sizeof cbs);
        websock_options_set_address(o, "127.0.0.1:0");
        websock_options_set_loops(o, 1);
        CHECK_RC(websock_options_set_driven(NULL, true), WEBSOCK_RESULT_NULL_POINTER);
        CHECK_RC(websock_server_new(o, &cbs, NULL, NULL, &srv), OK);
        CHECK_RC(websock_server_is_driven(srv, &b), OK);
        CHECK(b == false);
        CHECK_RC(websock_server_loop_count(srv, &n), OK);
        CHECK(n == 1);
        CHECK_RC(websock_server_loop_fd(srv, 0, &fd), WEBSOCK_RESULT_INVALID_ARGUMENT);
        CHECK_RC(websock_server_turn(srv, 0, &w, &b), WEBSOCK_RESULT_INVALID_ARGUMENT);
        CHECK_RC(websock_server_drive(srv, 0, 0, &n, &w, &b), WEBSOCK_RESULT_INVALID_ARGUMENT);
        CHECK_RC(websock_server_hold_wakeups(srv, 0), WEBSOCK_RESULT_INVALID_ARGUMENT);
        websock_server_free(srv);
        CHECK_RC(websock_server_loop_count(srv, &n), WEBSOCK_RESULT_STALE_HANDLE);
        CHECK_RC(websock_server_turn(srv, 0, &w, &b), WEBSOCK_RESULT_STALE_HANDLE);
        websock_options_free(o);
    }

    srv = start(&st, 0, 0);
    CHECK_RC(websock_server_is_driven(srv, &b), OK);
    CHECK(b == true);
    CHECK_RC(websock_server_loop_count(srv, &n), OK);
    CHECK(n == 1); /* 0 loops = one loop when driven */
    CHECK_RC(websock_server_loop_fd(srv, 0, &fd), OK);
    CHECK(fd >= 0);
    CHECK_RC(websock_server_loop_fd(srv, 1, &fd), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_server_loop_fd(srv, 0, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_turn(srv, 0, NULL, &b), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_turn(srv, 0, &w, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_turn(srv, 7, &w, &b), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_server_drive(srv, 0, 0, NULL, &w, &b), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_turn(NULL, 0, &w, &b), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_event_fd(srv, &fd), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_server_wait_events(srv, 0), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_server_turn(srv, 0, &w, &b), OK);
    CHECK(b == false);
    CHECK(w > 0); /* idle: nothing to do before the next timer */

    /* ---- a send by tag from another thread wakes the idle driver ---- */
    {
        struct late_arg la;
        pthread_t t;
        memset(&la, 0, sizeof la);
        websock_server_local_port(srv, &port);
        la.srv = srv;
        la.port = port;
        pthread_create(&t, NULL, late_client, &la);
        drive(srv, 0, &la.done);
        pthread_join(t, NULL);
        CHECK(la.got == 1);
        printf("     tag send delivered after %.1f ms\n", la.elapsed_ms);
        CHECK(la.elapsed_ms < 250);
    }

    /* ---- BUSY: drive re-entered from a callback ---- */
    {
        struct late_arg ra;
        pthread_t t;
        memset(&ra, 0, sizeof ra);
        ra.port = port;
        pthread_create(&t, NULL, reenter_client, &ra);
        drive(srv, 0, &ra.done);
        pthread_join(t, NULL);
        CHECK_RC(st.reentry, WEBSOCK_RESULT_BUSY);
        CHECK(ra.got == 1); /* and the message was still echoed */
    }

    /* ---- stop from another thread: the driver turns until finished ---- */
    {
        struct stop_arg sa;
        pthread_t t;
        int i, ok = 0;
        long turns;
        memset(&sa, 0, sizeof sa);
        sa.srv = srv;
        sa.nclients = 4;
        for (i = 0; i < sa.nclients; i++) {
            sa.clients[i].port = port;
            sa.clients[i].msgs = 200;
        }
        pthread_create(&t, NULL, clients_then_stop, &sa);
        turns = drive(srv, 0, NULL);
        pthread_join(t, NULL);
        for (i = 0; i < sa.nclients; i++)
            ok += sa.clients[i].ok;
        printf("     %ld turns\n", turns);
        CHECK(ok == 4);
        CHECK(st.shutdowns == 1);
        CHECK(st.opens == st.closes);
        CHECK(st.wrong_thread == 0);
        CHECK_RC(websock_server_turn(srv, 0, &w, &b), OK);
        CHECK(b == true); /* a finished loop stays finished */
        websock_server_free(srv);
    }

    /* ---- two loops driven from one thread with the primitives ---- */
    {
        struct stop_arg sa;
        pthread_t t;
        websock_stats s0, s1;
        int i, ok = 0;
        srv = start(&st, 2, 0);
        CHECK_RC(websock_server_loop_count(srv, &n), OK);
        CHECK(n == 2);
        websock_server_local_port(srv, &port);
        memset(&sa, 0, sizeof sa);
        sa.srv = srv;
        sa.nclients = 8;
        for (i = 0; i < sa.nclients; i++) {
            sa.clients[i].port = port;
            sa.clients[i].msgs = 300;
        }
        pthread_create(&t, NULL, clients_then_stop, &sa);
        drive(srv, 1, NULL);
        pthread_join(t, NULL);
        for (i = 0; i < sa.nclients; i++)
            ok += sa.clients[i].ok;
        CHECK(ok == 8);
        CHECK(st.messages == 8 * 300);
        CHECK(st.opens == 8 && st.closes == 8 && st.shutdowns == 1);
        CHECK(st.wrong_thread == 0);
        CHECK_RC(websock_server_loop_stats(srv, 0, &s0), OK);
        CHECK_RC(websock_server_loop_stats(srv, 1, &s1), OK);
        printf("     loop 0 opened %llu, loop 1 opened %llu\n", (unsigned long long)s0.opened,
               (unsigned long long)s1.opened);
        CHECK(s0.opened > 0 && s1.opened > 0);
        websock_server_free(srv);
    }

    /* ---- timers: the handshake timeout fires through the turn's wait ---- */
    {
        struct idle_arg ia;
        pthread_t t;
        srv = start(&st, 1, 300);
        websock_server_local_port(srv, &port);
        memset(&ia, 0, sizeof ia);
        ia.port = port;
        pthread_create(&t, NULL, silent_client, &ia);
        drive(srv, 0, &ia.done);
        pthread_join(t, NULL);
        printf("     silent connection closed after %.0f ms\n", ia.closed_after_ms);
        CHECK(ia.closed_after_ms >= 250 && ia.closed_after_ms < 3000);
        websock_server_free(srv);
    }

    /* ---- websock_server_run() serves a driven server ---- */
    {
        struct stop_arg sa;
        pthread_t t, r;
        void *rv;
        int i, ok = 0;
        srv = start(&st, 2, 0);
        websock_server_local_port(srv, &port);
        memset(&sa, 0, sizeof sa);
        sa.srv = srv;
        sa.nclients = 3;
        for (i = 0; i < sa.nclients; i++) {
            sa.clients[i].port = port;
            sa.clients[i].msgs = 100;
        }
        pthread_create(&r, NULL, run_thread, srv);
        pthread_create(&t, NULL, clients_then_stop, &sa);
        pthread_join(t, NULL);
        pthread_join(r, &rv);
        for (i = 0; i < sa.nclients; i++)
            ok += sa.clients[i].ok;
        CHECK(ok == 3);
        CHECK_RC(*(websock_result *)rv, OK);
        CHECK(st.messages == 300 && st.shutdowns == 1 && st.opens == st.closes);
        websock_server_free(srv);
    }

    /* ---- free with open connections and no driver: the loop is finished by free ---- */
    {
        uint8_t buf[16];
        int c;
        srv = start(&st, 1, 0);
        websock_server_local_port(srv, &port);
        c = socket(AF_INET, SOCK_STREAM, 0);
        {
            struct sockaddr_in sa;
            memset(&sa, 0, sizeof sa);
            sa.sin_family = AF_INET;
            sa.sin_port = htons(port);
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
        }
        /* Turn a few times so the connection is accepted (it holds memory in the loop). */
        {
            int k;
            for (k = 0; k < 20; k++) {
                websock_server_turn(srv, 0, &w, &b);
                usleep(2000);
            }
        }
        websock_server_free(srv);
        CHECK(read(c, buf, sizeof buf) <= 0); /* free closed it */
        close(c);
        CHECK_RC(websock_server_drive(srv, 0, 0, &n, &w, &b), WEBSOCK_RESULT_STALE_HANDLE);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
