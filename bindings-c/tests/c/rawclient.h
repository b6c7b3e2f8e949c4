/* rawclient.h - a tiny blocking WebSocket client over a plain TCP socket, for the C
 * tests and the pump-cost program: connect + upgrade (fixed RFC 6455 example key), send
 * masked frames, read one unfragmented server frame. Test code only: no TLS, no
 * fragmentation, frames up to 64 KiB. */
#ifndef RAWCLIENT_H
#define RAWCLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole response head of the last raw_connect() on this thread. */
static __thread char raw_last_head[2048];

/* Connects to 127.0.0.1:port and sends an upgrade for `path`; returns the socket, and
 * copies the response status line start ("HTTP/1.1 101") into status (16 bytes). */
static inline int raw_connect(uint16_t port, const char *path, char status[16])
{
    struct sockaddr_in a;
    char req[512], resp[2048];
    size_t got = 0;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    /* Read the response head byte by byte so no frame bytes are consumed. */
    while (got < sizeof resp - 1) {
        ssize_t n = read(fd, resp + got, 1);
        if (n <= 0)
            break;
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[got] = 0;
    memcpy(raw_last_head, resp, got + 1);
    snprintf(status, 16, "%.12s", resp);
    return fd;
}

/* Sends one masked frame (opcode 1 text, 2 binary, 8 close). */
static inline int raw_send(int fd, int opcode, const void *data, size_t len)
{
    uint8_t buf[65536 + 14];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t h = 0, i;
    if (len > 65535)
        return -1;
    buf[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        buf[h++] = (uint8_t)(0x80 | len);
    } else {
        buf[h++] = 0x80 | 126;
        buf[h++] = (uint8_t)(len >> 8);
        buf[h++] = (uint8_t)len;
    }
    memcpy(buf + h, mask, 4);
    h += 4;
    for (i = 0; i < len; i++)
        buf[h + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
    return write(fd, buf, h + len) == (ssize_t)(h + len) ? 0 : -1;
}

static inline int read_full(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one server frame; returns its opcode (or -1) and the payload in buf/len. */
static inline int raw_recv(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t h[2], ext[8];
    size_t n;
    if (read_full(fd, h, 2) != 0)
        return -1;
    n = h[1] & 0x7f;
    if (n == 126) {
        if (read_full(fd, ext, 2) != 0)
            return -1;
        n = ((size_t)ext[0] << 8) | ext[1];
    } else if (n == 127) {
        return -1;
    }
    if (n > cap || read_full(fd, buf, n) != 0)
        return -1;
    *len = n;
    return h[0] & 0x0f;
}

#endif
