/* deflate.c - permessage-deflate through the C API, driven by a real client
 * (tests/client.py deflate-*, Python `websockets`, which offers the extension by default).
 *
 * Usage: deflate MODE [THRESHOLD]   MODE: off | shared | dedicated:BITS
 * An echo server on 127.0.0.1 (a free port, printed as "READY <port>") with one loop and
 * the compression set through websock_options_set_compression(), _threshold(), _level()
 * and _max_dedicated_compression(). On open it first sends "open ext=<what the 101 agreed,
 * websock_request_extensions(), or -> pmd=<websock_request_permessage_deflate()>", so the
 * client can compare it with the header it received. Text "stats" is answered with the counters as
 * "key=value ..." (so the client can check what went over the wire); text "stop" starts
 * the graceful shutdown. Everything else is echoed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <websock.h>

static void on_open(void *ud, websock_server *srv, websock_conn_id id, const websock_request *req)
{
    const char *ext = NULL;
    size_t ext_len = 0;
    bool pmd = true;
    char line[256];
    websock_result rc;

    (void)ud;
    rc = websock_request_extensions(req, &ext, &ext_len);
    if (rc == WEBSOCK_RESULT_NOT_FOUND) {
        ext = "-";
        ext_len = 1;
    } else if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "websock_request_extensions: %s\n", websock_result_str(rc));
        exit(1);
    }
    if (websock_request_permessage_deflate(req, &pmd) != WEBSOCK_RESULT_OK ||
        websock_request_permessage_deflate(req, NULL) != WEBSOCK_RESULT_NULL_POINTER ||
        websock_request_extensions(NULL, &ext, &ext_len) != WEBSOCK_RESULT_NULL_POINTER) {
        fprintf(stderr, "websock_request_permessage_deflate: %s\n", websock_last_error_message());
        exit(1);
    }
    snprintf(line, sizeof line, "open ext=%.*s pmd=%d", (int)ext_len, ext, pmd ? 1 : 0);
    websock_send_text(srv, id, line);
}

static void on_message(void *ud, websock_server *srv, websock_conn_id id, const uint8_t *data,
                       size_t len, bool is_text)
{
    (void)ud;
    if (is_text && len == 5 && memcmp(data, "stats", 5) == 0) {
        websock_stats st;
        char line[512];
        if (websock_server_stats(srv, &st) != WEBSOCK_RESULT_OK) {
            websock_send_text(srv, id, "stats failed");
            return;
        }
        snprintf(line, sizeof line,
                 "connections=%llu messages_in=%llu bytes_in=%llu bytes_out=%llu "
                 "dedicated_compression=%llu compression_bytes=%llu",
                 (unsigned long long)st.connections, (unsigned long long)st.messages_in,
                 (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
                 (unsigned long long)st.dedicated_compression,
                 (unsigned long long)st.compression_bytes);
        websock_send_text(srv, id, line);
        return;
    }
    if (is_text && len == 4 && memcmp(data, "stop", 4) == 0) {
        websock_server_stop(srv, 1000);
        return;
    }
    if (websock_send(srv, id, data, len, is_text) != WEBSOCK_RESULT_OK)
        fprintf(stderr, "send: %s\n", websock_last_error_message());
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "shared";
    websock_options *o = websock_options_new();
    websock_callbacks cbs;
    websock_server *srv = NULL;
    websock_result rc = WEBSOCK_RESULT_OK;
    uint16_t port = 0;

    if (o == NULL)
        return 1;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_open = on_open;
    cbs.on_message = on_message;
    websock_options_set_address(o, "127.0.0.1:0");
    websock_options_set_loops(o, 1);
    if (strcmp(mode, "shared") == 0)
        rc = websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_SHARED, 0);
    else if (strncmp(mode, "dedicated:", 10) == 0)
        rc = websock_options_set_compression(o, WEBSOCK_COMPRESSION_MODE_DEDICATED,
                                             (uint8_t)atoi(mode + 10));
    else if (strcmp(mode, "off") != 0)
        rc = WEBSOCK_RESULT_INVALID_ARGUMENT;
    if (rc == WEBSOCK_RESULT_OK && argc > 2)
        rc = websock_options_set_compression_threshold(o, (size_t)atol(argv[2]));
    if (rc == WEBSOCK_RESULT_OK)
        rc = websock_options_set_compression_level(o, 6);
    if (rc == WEBSOCK_RESULT_OK)
        rc = websock_options_set_max_dedicated_compression(o, 100);
    if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "options (%s): %s\n", mode, websock_last_error_message());
        return 1;
    }
    rc = websock_server_new(o, &cbs, NULL, NULL, &srv);
    websock_options_free(o);
    if (rc != WEBSOCK_RESULT_OK) {
        fprintf(stderr, "websock_server_new: %s\n", websock_last_error_message());
        return 1;
    }
    websock_server_local_port(srv, &port);
    printf("READY %u\n", port);
    fflush(stdout);
    rc = websock_server_run(srv);
    websock_server_free(srv);
    return rc == WEBSOCK_RESULT_OK ? 0 : 1;
}
