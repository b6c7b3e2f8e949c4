/* bad_input.c - the C API's contract under bad input and lifecycle edges, each check
 * asserting the exact websock_result: NULL pointers, bad UTF-8 (tag, text, address),
 * invalid arguments, unknown connection ids, a closed server, a stale (freed) server
 * handle, a forged handle, pump re-entry (BUSY), and the upgrade hook's reject path.
 * Talks to the server over real sockets with rawclient.h. Prints one line per check and
 * "N passed, M failed"; exits 1 on any failure. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <websock.h>

#include "checks.h"
#include "rawclient.h"


/* What the callbacks saw. */
struct state {
    int frees;
    int opens, closes, shutdowns, upgrades;
    websock_conn_id last_id;
    websock_result reentry_dispatch, reentry_run;
    websock_result send_in_close; /* a send made inside on_close, to the closing id */
    char path[64];
};

static void ud_free(void *p) { ((struct state *)p)->frees++; }

static uint16_t on_upgrade(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    struct state *st = ud;
    const char *p;
    size_t n;
    (void)srv; (void)id;
    st->upgrades++;
    if (websock_request_path(req, &p, &n) == OK && n == 5 && memcmp(p, "/deny", 5) == 0)
        return 401;
    return 0;
}

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    struct state *st = ud;
    const char *p;
    size_t n;
    st->opens++;
    st->last_id = id;
    if (websock_request_path(req, &p, &n) == OK)
        snprintf(st->path, sizeof st->path, "%.*s", (int)n, p);
    st->reentry_dispatch = websock_server_dispatch(srv, 0, NULL);
    st->reentry_run = websock_server_run(srv);
}

static void on_close(void *ud, websock_server *srv, websock_conn_id id, uint16_t code,
                     const char *reason, size_t len, websock_close_kind kind)
{
    (void)code; (void)reason; (void)len; (void)kind;
    ((struct state *)ud)->send_in_close = websock_send_text(srv, id, "late");
    ((struct state *)ud)->closes++;
}

static void on_shutdown(void *ud, websock_server *srv)
{
    (void)srv;
    ((struct state *)ud)->shutdowns++;
}

/* Pumps events until *counter reaches target or 5 s pass. */
static int pump_until_count(websock_server *srv, int *counter, int target)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < target) {
        if (websock_server_wait_events(srv, 50) == OK)
            websock_server_dispatch(srv, 0, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 5)
            return -1;
    }
    return 0;
}

/* Pumps events until *flag becomes non-zero or 5 s pass. */
static int pump_until(websock_server *srv, int *flag)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
        if (websock_server_wait_events(srv, 50) == OK)
            websock_server_dispatch(srv, 0, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 5)
            return -1;
    }
    return 0;
}

struct connect_job {
    uint16_t port;
    const char *path;
    char status[16];
    int fd;
    int done;
    char head[2048];
};

static void *connect_thread(void *arg)
{
    struct connect_job *j = arg;
    j->fd = raw_connect(j->port, j->path, j->status);
    memcpy(j->head, raw_last_head, sizeof j->head);
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Connects from a helper thread while this thread pumps (the upgrade hook needs the pump). */
static int connect_pumped(websock_server *srv, uint16_t port, const char *path, char status[16])
{
    struct connect_job j = {port, path, {0}, -1, 0, {0}};
    pthread_t t;
    pthread_create(&t, NULL, connect_thread, &j);
    pump_until(srv, &j.done);
    pthread_join(t, NULL);
    memcpy(status, j.status, 16);
    memcpy(raw_last_head, j.head, sizeof j.head);
    return j.fd;
}

/* The upgrade hook's answers: headers, refusal body, deferral resolved from a thread. */
struct upgrade_state {
    websock_result bad_header, add_header;
    websock_conn_id deferred;
    int deferred_seen;
};

static uint16_t hook(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    struct upgrade_state *u = ud;
    const char *p;
    size_t n;
    if (websock_request_path(req, &p, &n) != OK)
        return 500;
    if (n == 7 && memcmp(p, "/cookie", 7) == 0) {
        u->add_header = websock_upgrade_add_header(srv, id, "Set-Cookie", "sid=42");
        u->bad_header = websock_upgrade_add_header(srv, id, "X-Bad\r\nInjected", "1");
        return 0;
    }
    if (n == 5 && memcmp(p, "/auth", 5) == 0) {
        websock_upgrade_set_body(srv, id, (const uint8_t *)"login first", 11);
        websock_upgrade_add_header(srv, id, "WWW-Authenticate", "Bearer");
        return 401;
    }
    if (n == 6 && memcmp(p, "/later", 6) == 0) {
        u->deferred = id;
        __atomic_store_n(&u->deferred_seen, 1, __ATOMIC_SEQ_CST);
        return WEBSOCK_UPGRADE_DEFER;
    }
    return 0;
}

struct accept_job {
    websock_server *srv;
    websock_conn_id id;
    websock_result rc;
};

static void *accept_thread(void *arg)
{
    struct accept_job *a = arg;
    a->rc = websock_accept_upgrade(a->srv, a->id);
    return NULL;
}

/* The event fd is level-triggered readiness; drain fires after a backlog is written. */
struct drain_state {
    int opens, drains, messages;
    websock_conn_id id;
};

static void d_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    struct drain_state *d = ud;
    (void)srv; (void)req;
    d->id = id;
    d->opens++;
}

static void d_drain(void *ud, websock_server *srv, websock_conn_id id)
{
    struct drain_state *d = ud;
    (void)srv;
    if (id == d->id)
        d->drains++;
}

static void d_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *data, size_t len, bool t)
{
    (void)srv; (void)id; (void)data; (void)len; (void)t;
    ((struct drain_state *)ud)->messages++;
}

static void check_pump_and_drain(void)
{
    struct drain_state d;
    websock_callbacks cbs;
    websock_options *o = websock_options_new();
    websock_server *srv = NULL;
    uint16_t port = 0;
    char status[16];
    int fd, evfd = -1, i;
    size_t n = 0, total = 0;
    uint64_t buffered = 0;
    uint8_t *big = calloc(1, 8 << 20);
    static uint8_t buf[65536];
    struct pollfd p;
    memset(&d, 0, sizeof d);
    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = d_open;
    cbs.on_drain = d_drain;
    cbs.on_message = d_message;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, 1);
    CHECK_RC(websock_options_set_backpressure(o, 64 << 20, 1024, WEBSOCK_SLOW_POLICY_CLOSE, 1008), OK);
    CHECK_RC(websock_server_new(o, &cbs, &d, NULL, &srv), OK);
    websock_options_free(o);
    websock_server_local_port(srv, &port);
    websock_server_event_fd(srv, &evfd);

    fd = raw_connect(port, "/", status);
    CHECK(strcmp(status, "HTTP/1.1 101") == 0);
    /* Three messages queued: the fd turns readable; dispatch(1) leaves it readable;
     * dispatch(0) takes the rest and it turns quiet. */
    raw_send(fd, 1, "a", 1);
    raw_send(fd, 1, "b", 1);
    p.fd = evfd;
    p.events = POLLIN;
    for (i = 0; i < 100; i++) {
        websock_stats st;
        websock_server_stats(srv, &st);
        if (st.messages_in >= 2)
            break;
        usleep(10000);
    }
    CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
    CHECK_RC(websock_server_dispatch(srv, 1, &n), OK);
    CHECK(n == 1 && d.opens == 1);
    CHECK(poll(&p, 1, 0) == 1);
    CHECK_RC(websock_server_dispatch(srv, 0, &n), OK);
    CHECK(n == 2 && d.messages == 2);
    CHECK(poll(&p, 1, 0) == 0);
    CHECK_RC(websock_server_dispatch(srv, 0, &n), OK);
    CHECK(n == 0);

    /* 8 MiB to a client that is not reading: a backlog above the drain threshold... */
    CHECK_RC(websock_send_binary(srv, d.id, big, 8 << 20), OK);
    for (i = 0; i < 100 && buffered == 0; i++) {
        usleep(10000);
        websock_buffered_amount(srv, d.id, &buffered);
    }
    CHECK(buffered > 1024);
    /* ...then the client reads it all and the drain event follows. */
    while (total < (size_t)(8 << 20)) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    CHECK(total >= (size_t)(8 << 20));
    pump_until(srv, &d.drains);
    CHECK(d.drains == 1);
    close(fd);
    websock_server_free(srv);
    free(big);
}

static void check_upgrades(void)
{
    struct upgrade_state u;
    websock_callbacks cbs;
    websock_options *o = websock_options_new();
    websock_server *srv = NULL;
    uint16_t port = 0;
    char status[16];
    int fd;
    memset(&u, 0, sizeof u);
    memset(&cbs, 0, sizeof cbs);
    cbs.on_upgrade = hook;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, 1);
    CHECK_RC(websock_server_new(o, &cbs, &u, NULL, &srv), OK);
    websock_options_free(o);
    websock_server_local_port(srv, &port);

    fd = connect_pumped(srv, port, "/cookie", status);
    CHECK(strcmp(status, "HTTP/1.1 101") == 0);
    CHECK(strstr(raw_last_head, "\r\nSet-Cookie: sid=42\r\n") != NULL);
    CHECK(strstr(raw_last_head, "Injected") == NULL);
    CHECK(u.add_header == OK);
    CHECK(u.bad_header == WEBSOCK_RESULT_INVALID_ARGUMENT);
    close(fd);

    fd = connect_pumped(srv, port, "/auth", status);
    CHECK(strcmp(status, "HTTP/1.1 401") == 0);
    CHECK(strstr(raw_last_head, "WWW-Authenticate: Bearer") != NULL);
    CHECK(strstr(raw_last_head, "ontent-Length: 11") != NULL || strstr(raw_last_head, "ontent-length: 11") != NULL);
    close(fd);

    /* Deferred: the hook returns at once; another thread accepts later. */
    {
        struct connect_job j = {port, "/later", {0}, -1, 0, {0}};
        struct accept_job a = {srv, 0, WEBSOCK_RESULT_PANIC};
        pthread_t ct, at;
        pthread_create(&ct, NULL, connect_thread, &j);
        pump_until(srv, &u.deferred_seen);
        CHECK(u.deferred_seen == 1);
        CHECK_RC(websock_upgrade_add_header(srv, u.deferred, "X-Later", "yes"), OK);
        a.id = u.deferred;
        pthread_create(&at, NULL, accept_thread, &a);
        pthread_join(at, NULL);
        CHECK(a.rc == OK);
        pump_until(srv, &j.done);
        pthread_join(ct, NULL);
        CHECK(strcmp(j.status, "HTTP/1.1 101") == 0);
        CHECK(strstr(j.head, "X-Later: yes") != NULL);
        CHECK_RC(websock_accept_upgrade(srv, u.deferred), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
        CHECK_RC(websock_upgrade_add_header(srv, u.deferred, "X", "y"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
        CHECK_RC(websock_reject_upgrade(srv, 424242, 401), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
        close(j.fd);
    }
    websock_server_free(srv);
    CHECK_RC(websock_accept_upgrade(srv, 1), WEBSOCK_RESULT_STALE_HANDLE);
}

/* Sends 1000 numbered messages by tag from a thread that is not the pump's. */
static void *tag_sender(void *arg)
{
    websock_server *srv = arg;
    char msg[32];
    int i;
    for (i = 0; i < 1000; i++) {
        snprintf(msg, sizeof msg, "n%d", i);
        if (websock_send_text_by_tag(srv, "jonnywhatshisface", msg) != WEBSOCK_RESULT_OK)
            break;
    }
    return (void *)(intptr_t)i;
}

static void check_options(void)
{
    websock_options *o = websock_options_new();
    CHECK(o != NULL);
    CHECK_RC(websock_options_set_address(NULL, "127.0.0.1:0"), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_options_set_address(o, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_options_set_address(o, "127.0.0.1:\xff"), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_options_set_address(o, ""), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_fd(o, -1), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_backlog(o, 0), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_add_trusted_proxy(o, "not-an-ip"), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_add_trusted_proxy(o, "10.0.0.1"), OK);
    CHECK_RC(websock_options_set_backpressure(o, 10, 20, WEBSOCK_SLOW_POLICY_CLOSE, 1008), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_backpressure(o, 20, 10, 7, 1008), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_max_message_size(o, 0, 10), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_max_request_head(o, 10), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_timeouts(o, 0, 10), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_tls_files(o, "/nonexistent/cert.pem", "/nonexistent/key.pem"), WEBSOCK_RESULT_TLS);
    CHECK_RC(websock_options_set_tls_pem(o, (const uint8_t *)"junk", 4, (const uint8_t *)"junk", 4), WEBSOCK_RESULT_TLS);
    CHECK_RC(websock_options_set_tls_pem(o, NULL, 4, NULL, 0), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_options_add_origin(o, "https://app.example"), OK);
    CHECK_RC(websock_options_add_subprotocol(o, "chat.v1"), OK);
    CHECK_RC(websock_options_keep_header(o, "Cookie"), OK);
    CHECK_RC(websock_options_set_keepalive(o, 0, 0), OK);
    /* permessage-deflate settings are checked when set (the core's own rules). */
    CHECK_RC(websock_options_set_compression(NULL, WEBSOCK_COMPRESSION_MODE_SHARED, 0), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_options_set_compression(o, 3, 0), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_DEDICATED, 8), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_DEDICATED, 16), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_DEDICATED, 9), OK);
    CHECK_RC(websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_SHARED, 0), OK);
    CHECK_RC(websock_options_set_compression_level(o, 0), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_compression_level(o, 10), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_options_set_compression_level(o, 1), OK);
    CHECK_RC(websock_options_set_compression_threshold(o, 0), OK);
    CHECK_RC(websock_options_set_max_dedicated_compression(o, 0), OK);
    CHECK_RC(websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_DISABLED, 0), OK);
    websock_options_free(o);
    websock_options_free(NULL); /* no-op */

    /* A bad address fails at start, and the out-parameter is left alone. */
    {
        websock_callbacks cbs;
        websock_server *srv = (websock_server *)(uintptr_t)0x5555;
        memset(&cbs, 0, sizeof cbs);
        o = websock_options_new();
        websock_options_set_address(o, "not an address");
        CHECK_RC(websock_server_new(o, &cbs, NULL, NULL, &srv), WEBSOCK_RESULT_IO);
        CHECK(srv == (websock_server *)(uintptr_t)0x5555);
        CHECK(strlen(websock_last_error_message()) > 0);
        CHECK_RC(websock_server_new(NULL, &cbs, NULL, NULL, &srv), WEBSOCK_RESULT_NULL_POINTER);
        CHECK_RC(websock_server_new(o, NULL, NULL, NULL, &srv), WEBSOCK_RESULT_NULL_POINTER);
        CHECK_RC(websock_server_new(o, &cbs, NULL, NULL, NULL), WEBSOCK_RESULT_NULL_POINTER);
        /* An invalid subprotocol name is refused by the core's option validation. */
        websock_options_set_address(o, "127.0.0.1:0");
        websock_options_add_subprotocol(o, "bad name");
        CHECK_RC(websock_server_new(o, &cbs, NULL, NULL, &srv), WEBSOCK_RESULT_INVALID_ARGUMENT);
        websock_options_free(o);
    }
}

static void check_results(void)
{
    CHECK(strcmp(websock_result_str(WEBSOCK_RESULT_OK), "ok") == 0);
    CHECK(strcmp(websock_result_str(WEBSOCK_RESULT_STALE_HANDLE), "the server handle was freed (stale handle)") == 0);
    CHECK(strcmp(websock_result_str(12345), "unknown websock_result") == 0);
    CHECK(websock_result_str(WEBSOCK_RESULT_PANIC) != NULL);
    CHECK(strcmp(websock_version(), "0.1.0") == 0);
}

int main(void)
{
    struct state st;
    websock_callbacks cbs;
    websock_options *o = websock_options_new();
    websock_server *srv = NULL;
    uint16_t port = 0;
    char status[16];
    uint8_t buf[4096];
    size_t n = 0, count = 99;
    int fd, fd2, op, evfd = -1;
    bool live = true, fin = false;
    char addr[64];
    char tiny[4];
    websock_stats stats;

    check_results();
    check_options();
    check_upgrades();
    check_pump_and_drain();

    memset(&st, 0, sizeof st);
    memset(&cbs, 0, sizeof cbs);
    cbs.on_upgrade = on_upgrade;
    cbs.on_open = on_open;
    cbs.on_close = on_close;
    cbs.on_shutdown = on_shutdown;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, 2);
    CHECK_RC(websock_server_new(o, &cbs, &st, ud_free, &srv), OK);
    websock_options_free(o);
    CHECK_RC(websock_server_local_port(srv, &port), OK);
    CHECK(port != 0);
    CHECK_RC(websock_server_local_port(srv, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_server_local_addr(srv, tiny, sizeof tiny, &n), WEBSOCK_RESULT_BUFFER_TOO_SMALL);
    CHECK(n > sizeof tiny);
    CHECK_RC(websock_server_local_addr(srv, addr, sizeof addr, &n), OK);
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0 && n == strlen(addr));
    CHECK_RC(websock_server_event_fd(srv, &evfd), OK);
    CHECK(evfd >= 0);
    CHECK_RC(websock_server_wait_events(srv, 10), WEBSOCK_RESULT_TIMEOUT);

    /* The upgrade hook refuses /deny with 401 and accepts the rest. */
    fd2 = connect_pumped(srv, port, "/deny", status);
    CHECK(strcmp(status, "HTTP/1.1 401") == 0);
    close(fd2);
    fd = connect_pumped(srv, port, "/room?x=1", status);
    CHECK(strcmp(status, "HTTP/1.1 101") == 0);
    pump_until(srv, &st.opens);
    CHECK(st.upgrades == 2 && st.opens == 1);
    CHECK(strcmp(st.path, "/room") == 0);
    CHECK(st.reentry_dispatch == WEBSOCK_RESULT_BUSY);
    CHECK(st.reentry_run == WEBSOCK_RESULT_BUSY);

    /* Sends and tags on a live connection, and bad input against it. */
    CHECK_RC(websock_is_live(srv, st.last_id, &live), OK);
    CHECK(live);
    CHECK_RC(websock_tag(srv, st.last_id, "jonnywhatshisface"), OK);
    CHECK_RC(websock_tag(srv, st.last_id, "\xc3\x28"), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_tag(srv, st.last_id, ""), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_tag(srv, st.last_id, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_count_by_tag(srv, "jonnywhatshisface", &count), OK);
    CHECK(count == 1);
    CHECK_RC(websock_send_text_by_tag(srv, "jonnywhatshisface", "Private message\xe2\x80\xa6"), OK);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 1 && n == 18 && memcmp(buf, "Private message\xe2\x80\xa6", 18) == 0);
    CHECK_RC(websock_send_text_by_tag(srv, "\xff", "x"), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_send_text_by_tag(srv, "", "x"), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_send_text_by_tag(srv, "t", "\xc0\xaf"), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_send_text_by_tag_len(srv, "jonnywhatshisface!", 17, "abc", 2, &count), OK);
    CHECK(count == 1);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 1 && n == 2 && memcmp(buf, "ab", 2) == 0);
    CHECK_RC(websock_send_binary(srv, st.last_id, (const uint8_t *)"\0\1\2", 3), OK);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 2 && n == 3 && buf[2] == 2);
    CHECK_RC(websock_send_text(srv, st.last_id, "\xff\xfe"), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_send(srv, st.last_id, (const uint8_t *)"\xff", 1, true), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_send_binary(srv, st.last_id, NULL, 5), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_send_binary(srv, st.last_id, NULL, 0), OK);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 2 && n == 0);
    /* Ping, broadcast and untag on the live connection. */
    CHECK_RC(websock_ping(srv, st.last_id, (const uint8_t *)"hb", 2), OK);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 9 && n == 2 && memcmp(buf, "hb", 2) == 0);
    CHECK_RC(websock_broadcast(srv, (const uint8_t *)"all", 3, true, &count), OK);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 1 && n == 3 && memcmp(buf, "all", 3) == 0);
    CHECK_RC(websock_tag_len(srv, st.last_id, "room:1xyz", 6), OK);
    CHECK_RC(websock_count_by_tag(srv, "room:1", &count), OK);
    CHECK(count == 1);
    CHECK_RC(websock_count_by_tag_len(srv, "room:1xyz", 6, &count), OK);
    CHECK(count == 1);
    CHECK_RC(websock_count_by_tag_len(srv, "room:1xyz", 7, &count), OK);
    CHECK(count == 0);
    CHECK_RC(websock_count_by_tag_len(srv, "\xff", 1, &count), WEBSOCK_RESULT_INVALID_UTF8);
    CHECK_RC(websock_count_by_tag_len(srv, NULL, 3, &count), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_count_by_tag_len(srv, "room:1", 6, NULL), WEBSOCK_RESULT_NULL_POINTER);
    CHECK_RC(websock_untag(srv, st.last_id, "room:1"), OK);
    CHECK_RC(websock_count_by_tag(srv, "room:1", &count), OK);
    CHECK(count == 0);
    CHECK_RC(websock_conn_tags(srv, st.last_id, NULL, NULL, &count), OK);
    CHECK(count == 1);
    {
        uint64_t buffered = 99;
        CHECK_RC(websock_buffered_amount(srv, st.last_id, &buffered), OK);
        CHECK(buffered < 99);
    }
    /* Sends from another thread while this one could be pumping: all arrive, in order. */
    {
        pthread_t t;
        void *sent;
        int i, in_order = 1;
        pthread_create(&t, NULL, tag_sender, srv);
        for (i = 0; i < 1000; i++) {
            char want[32];
            snprintf(want, sizeof want, "n%d", i);
            op = raw_recv(fd, buf, sizeof buf, &n);
            if (op != 1 || n != strlen(want) || memcmp(buf, want, n) != 0) {
                in_order = 0;
                break;
            }
        }
        pthread_join(t, &sent);
        CHECK((intptr_t)sent == 1000 && in_order);
    }
    CHECK_RC(websock_close(srv, st.last_id, 999, NULL), WEBSOCK_RESULT_INVALID_ARGUMENT);
    memset(buf, 'p', 126);
    CHECK_RC(websock_ping(srv, st.last_id, buf, 126), WEBSOCK_RESULT_INVALID_ARGUMENT);
    CHECK_RC(websock_send_text(srv, 12345, "x"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
    CHECK_RC(websock_send_text(srv, st.last_id + 1, "x"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
    CHECK_RC(websock_tag(srv, 0xffffffffffffffffull, "t"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
    CHECK_RC(websock_close(srv, 77, 1000, "bye"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);

    /* close_by_tag closes a second connection with the code and reason given. */
    {
        websock_conn_id first = st.last_id;
        int fd3 = connect_pumped(srv, port, "/second", status);
        size_t closed = 0;
        CHECK(strcmp(status, "HTTP/1.1 101") == 0);
        pump_until_count(srv, &st.opens, 2);
        CHECK(st.opens == 2 && st.last_id != first);
        CHECK_RC(websock_tag(srv, st.last_id, "kick"), OK);
        CHECK_RC(websock_close_by_tag_len(srv, "kick", 4, 999, NULL, 0, &closed), WEBSOCK_RESULT_INVALID_ARGUMENT);
        CHECK_RC(websock_close_by_tag_len(srv, "kick", 4, 4001, NULL, 3, &closed), WEBSOCK_RESULT_NULL_POINTER);
        CHECK_RC(websock_close_by_tag_len(srv, "kick", 4, 4001, "\xc3\x28", 2, &closed), WEBSOCK_RESULT_INVALID_UTF8);
        CHECK_RC(websock_close_by_tag(srv, "nobody", 4001, "bye", &closed), OK);
        CHECK(closed == 0);
        CHECK_RC(websock_close_by_tag_len(srv, "nobody", 6, 4001, NULL, 0, &closed), OK);
        CHECK(closed == 0);
        CHECK_RC(websock_close_by_tag_len(srv, "kickme", 4, 4001, "byebye", 3, &closed), OK);
        CHECK(closed == 1);
        op = raw_recv(fd3, buf, sizeof buf, &n);
        CHECK(op == 8 && n == 5 && buf[0] == 0x0f && buf[1] == 0xa1 && memcmp(buf + 2, "bye", 3) == 0);
        close(fd3);
        pump_until(srv, &st.closes);
        CHECK(st.closes == 1);
        CHECK(st.send_in_close == WEBSOCK_RESULT_UNKNOWN_CONNECTION);
        CHECK_RC(websock_send_text(srv, st.last_id, "gone"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
        st.closes = 0;
        st.last_id = first;
    }

    /* The client leaves: its id is dead from the close event on, at once (the socket may
     * still linger; the client's fd is kept open until the checks are done). */
    raw_send(fd, 8, "\x03\xe8", 2);
    op = raw_recv(fd, buf, sizeof buf, &n);
    CHECK(op == 8 && n >= 2 && buf[0] == 0x03 && buf[1] == 0xe8);
    pump_until(srv, &st.closes);
    CHECK(st.closes == 1);
    CHECK(st.send_in_close == WEBSOCK_RESULT_UNKNOWN_CONNECTION);
    CHECK_RC(websock_send_text(srv, st.last_id, "late"), WEBSOCK_RESULT_UNKNOWN_CONNECTION);
    CHECK_RC(websock_is_live(srv, st.last_id, &live), OK);
    CHECK(!live);
    close(fd);

    /* A closed server refuses new work; run() returns after on_shutdown. */
    CHECK_RC(websock_server_stop(srv, 100), OK);
    CHECK_RC(websock_server_run(srv), OK);
    CHECK(st.shutdowns == 1);
    CHECK_RC(websock_server_is_finished(srv, &fin), OK);
    CHECK(fin);
    CHECK_RC(websock_send_text_by_tag(srv, "jonnywhatshisface", "x"), WEBSOCK_RESULT_SERVER_CLOSED);
    CHECK_RC(websock_broadcast_text(srv, "x"), WEBSOCK_RESULT_SERVER_CLOSED);
    CHECK_RC(websock_server_stats(srv, &stats), OK);
    CHECK(stats.opened == 2 && stats.rejected >= 1 && stats.loops == 2);
    CHECK_RC(websock_server_loop_stats(srv, 2, &stats), WEBSOCK_RESULT_INVALID_ARGUMENT);

    /* Use after free through the stale handle is an error, never a crash. */
    CHECK(st.frees == 0);
    websock_server_free(srv);
    CHECK(st.frees == 1);
    CHECK_RC(websock_send_text(srv, 1, "x"), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_send_text_by_tag(srv, "jonnywhatshisface", "x"), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_server_run(srv), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_server_dispatch(srv, 0, NULL), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_server_stop(srv, 0), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_server_event_fd(srv, &evfd), WEBSOCK_RESULT_STALE_HANDLE);
    websock_server_free(srv); /* a second free is detected and ignored */
    CHECK(st.frees == 1);
    CHECK_RC(websock_send_text((websock_server *)(uintptr_t)0xdeadbeef, 1, "x"), WEBSOCK_RESULT_STALE_HANDLE);
    CHECK_RC(websock_send_text(NULL, 1, "x"), WEBSOCK_RESULT_NULL_POINTER);
    websock_server_free(NULL);

    /* A new server may reuse the registry slot; the old handle must stay stale. */
    {
        websock_server *srv2 = NULL;
        memset(&cbs, 0, sizeof cbs);
        o = websock_options_new();
        websock_options_set_address(o, "127.0.0.1:0");
        websock_options_set_loops(o, 1);
        CHECK_RC(websock_server_new(o, &cbs, NULL, NULL, &srv2), OK);
        websock_options_free(o);
        CHECK(srv2 != srv);
        CHECK_RC(websock_server_stop(srv, 0), WEBSOCK_RESULT_STALE_HANDLE);
        CHECK_RC(websock_server_shutdown(srv2, 0), OK);
        websock_server_free(srv2);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
