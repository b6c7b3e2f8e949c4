/* echo.c - the smallest websock server in C: every message is sent back as it came.
 *
 * Usage: echo [address [cert.pem key.pem]]   (default 127.0.0.1:9001; port 0 picks a free
 *        port; with a PEM certificate and key it serves wss://)
 * Prints "READY <port>" once listening; SIGINT/SIGTERM stop it gracefully.
 * Callbacks run inside websock_server_run() on this (the main) thread; a second thread
 * waits for the signal and calls websock_server_stop(), which is safe from any thread
 * (but not from a signal handler, which is why the signal is taken with sigwait).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <websock.h>

static websock_server *g_server;

static sigset_t g_signals;

/* Waits for SIGINT/SIGTERM (blocked in every thread) and starts the graceful shutdown. */
static void *signal_thread(void *arg)
{
    int sig;
    (void)arg;
    if (sigwait(&g_signals, &sig) == 0)
        websock_server_stop(g_server, 2000);
    return NULL;
}

static void on_message(void *userdata, websock_server *srv, websock_conn_id id,
                       const uint8_t *data, size_t len, bool is_text)
{
    unsigned long *count = userdata;
    websock_result rc = websock_send(srv, id, data, len, is_text);
    if (rc != WEBSOCK_RESULT_OK)
        fprintf(stderr, "send: %s\n", websock_last_error_message());
    (*count)++;
}

static void on_close(void *userdata, websock_server *srv, websock_conn_id id, uint16_t code,
                     const char *reason, size_t reason_len, websock_close_kind kind)
{
    (void)userdata; (void)srv; (void)reason_len; (void)kind;
    fprintf(stderr, "closed %llu code %u reason \"%s\"\n", (unsigned long long)id, code, reason);
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9001";
    unsigned long *count = calloc(1, sizeof *count);
    websock_options *opts = websock_options_new();
    websock_callbacks cbs;
    uint16_t port = 0;

    pthread_t waiter;

    /* Block the signals before any thread exists, so every thread inherits the mask. */
    sigemptyset(&g_signals);
    sigaddset(&g_signals, SIGINT);
    sigaddset(&g_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_signals, NULL);

    memset(&cbs, 0, sizeof cbs);
    cbs.on_message = on_message;
    cbs.on_close = on_close;

    if (opts == NULL || count == NULL)
        return 1;
    if (websock_options_set_address(opts, addr) != WEBSOCK_RESULT_OK ||
        websock_options_set_loops(opts, 1) != WEBSOCK_RESULT_OK ||
        (argc > 3 && websock_options_set_tls_files(opts, argv[2], argv[3]) != WEBSOCK_RESULT_OK)) {
        fprintf(stderr, "options: %s\n", websock_last_error_message());
        return 1;
    }
    /* The server owns `count` from now on and frees it with free(). */
    websock_result rc = websock_server_new(opts, &cbs, count, free, &g_server);
    websock_options_free(opts);
    if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "websock_server_new: %s (%s)\n", websock_result_str(rc),
                websock_last_error_message());
        free(count);
        return 1;
    }
    websock_server_local_port(g_server, &port);
    printf("READY %u\n", port);
    fflush(stdout);

    pthread_create(&waiter, NULL, signal_thread, NULL);
    rc = websock_server_run(g_server); /* returns after the graceful shutdown */
    /* Wake the signal thread if it is still waiting (run() may end for other reasons)
     * and join it, so no thread outlives main. */
    pthread_kill(waiter, SIGTERM);
    pthread_join(waiter, NULL);
    fprintf(stderr, "echoed %lu messages\n", *count);
    websock_server_free(g_server);
    return rc == WEBSOCK_RESULT_OK ? 0 : 1;
}
