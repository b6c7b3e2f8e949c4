/* chat.c - a chat server with rooms, built on tags.
 *
 * Connect to ws://HOST:PORT/chat?name=alice&room=lobby. Every connection carries the
 * tags "user:<name>" and "room:<room>". Text messages go to everyone in the sender's
 * room as "<name>: <text>"; two commands exist:
 *   /join <room>          leave the current room (untag) and join another (tag)
 *   /msg <name> <text>    private message: websock_send_text_by_tag(srv, "user:<name>", …)
 * Usage: chat [address]   (default 127.0.0.1:9002); prints "READY <port>".
 * Callbacks run inside websock_server_run() on the main thread. Per-connection state
 * (name, room) lives in the tags themselves, read back with websock_conn_tags().
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <websock.h>

#define TAG_MAX 128

static websock_server *g_server;
static sigset_t g_signals;

static void *signal_thread(void *arg)
{
    int sig;
    (void)arg;
    if (sigwait(&g_signals, &sig) == 0)
        websock_server_stop(g_server, 2000);
    return NULL;
}

/* Copies the value of `key` from a query string ("name=alice&room=lobby"). */
static void query_value(const char *q, size_t qlen, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key), i = 0;
    out[0] = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&')
            end++;
        if (end - i > klen && memcmp(q + i, key, klen) == 0 && q[i + klen] == '=') {
            size_t vlen = end - i - klen - 1;
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, q + i + klen + 1, vlen);
            out[vlen] = 0;
            return;
        }
        i = end + 1;
    }
}

/* Tag visitor: finds the tag that starts with the prefix in *ctx. */
struct find_tag {
    const char *prefix;
    char found[TAG_MAX];
};

static void find_tag_cb(void *ud, const char *tag, size_t len)
{
    struct find_tag *f = ud;
    size_t plen = strlen(f->prefix);
    if (len > plen && len < TAG_MAX && strncmp(tag, f->prefix, plen) == 0)
        memcpy(f->found, tag, len + 1); /* tags come NUL-terminated */
}

static void tag_with_prefix(websock_server *srv, websock_conn_id id, const char *prefix, char out[TAG_MAX])
{
    struct find_tag f;
    f.prefix = prefix;
    f.found[0] = 0;
    websock_conn_tags(srv, id, find_tag_cb, &f, NULL);
    memcpy(out, f.found, TAG_MAX);
}

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    const char *q;
    size_t qlen;
    char name[64], room[64], tag[TAG_MAX];
    (void)ud;
    if (websock_request_query(req, &q, &qlen) != WEBSOCK_RESULT_OK)
        qlen = 0;
    query_value(q, qlen, "name", name, sizeof name);
    query_value(q, qlen, "room", room, sizeof room);
    if (name[0] == 0) {
        websock_close(srv, id, 4000, "name required");
        return;
    }
    snprintf(tag, sizeof tag, "user:%s", name);
    websock_tag(srv, id, tag);
    snprintf(tag, sizeof tag, "room:%s", room[0] ? room : "lobby");
    websock_tag(srv, id, tag);
    websock_send_text(srv, id, "welcome");
}

static void on_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *data,
                       size_t len, bool is_text)
{
    char user[TAG_MAX], room[TAG_MAX], out[4096];
    const char *text = (const char *)data;
    (void)ud;
    if (!is_text)
        return;
    tag_with_prefix(srv, id, "user:", user);
    tag_with_prefix(srv, id, "room:", room);
    if (len > 6 && strncmp(text, "/join ", 6) == 0) {
        char tag[TAG_MAX];
        snprintf(tag, sizeof tag, "room:%.*s", (int)(len - 6), text + 6);
        if (room[0])
            websock_untag(srv, id, room);
        if (websock_tag(srv, id, tag) == WEBSOCK_RESULT_OK) {
            snprintf(out, sizeof out, "joined %s", tag + 5);
            websock_send_text(srv, id, out);
        }
    } else if (len > 5 && strncmp(text, "/msg ", 5) == 0) {
        const char *to = text + 5, *sp = memchr(to, ' ', len - 5);
        char tag[TAG_MAX];
        size_t n = 0;
        if (sp == NULL)
            return;
        snprintf(tag, sizeof tag, "user:%.*s", (int)(sp - to), to);
        snprintf(out, sizeof out, "[%s] %.*s", user + 5, (int)(len - (size_t)(sp + 1 - text)), sp + 1);
        /* The libwebsock 2.0 idiom: send to a user by tag. */
        websock_send_text_by_tag_len(srv, tag, strlen(tag), out, strlen(out), &n);
        if (n == 0)
            websock_send_text(srv, id, "no such user");
    } else if (room[0]) {
        snprintf(out, sizeof out, "%s: %.*s", user + 5, (int)len, text);
        websock_send_text_by_tag(srv, room, out);
    }
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9002";
    websock_options *opts = websock_options_new();
    websock_callbacks cbs;
    pthread_t waiter;
    uint16_t port = 0;
    websock_result rc;

    sigemptyset(&g_signals);
    sigaddset(&g_signals, SIGINT);
    sigaddset(&g_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_signals, NULL);

    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    /* Shared permessage-deflate: no compression memory per idle member; a room message over
     * the 1 KiB threshold is compressed once for the whole room. */
    if (opts == NULL || websock_options_set_address(opts, addr) != WEBSOCK_RESULT_OK ||
        websock_options_set_compression(opts, WEBSOCK_COMPRESSION_MODE_SHARED, 0) != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "options: %s\n", websock_last_error_message());
        return 1;
    }
    rc = websock_server_new(opts, &cbs, NULL, NULL, &g_server);
    websock_options_free(opts);
    if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "websock_server_new: %s\n", websock_last_error_message());
        return 1;
    }
    websock_server_local_port(g_server, &port);
    printf("READY %u\n", port);
    fflush(stdout);
    pthread_create(&waiter, NULL, signal_thread, NULL);
    rc = websock_server_run(g_server);
    pthread_kill(waiter, SIGTERM); /* wake the signal thread if it still waits, then join */
    pthread_join(waiter, NULL);
    websock_server_free(g_server);
    return rc == WEBSOCK_RESULT_OK ? 0 : 1;
}
