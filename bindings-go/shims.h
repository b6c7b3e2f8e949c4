/* shims.h - the C side of the Go binding: integer-handle wrappers around websock.h.
 *
 * Why: a websock_server * is a registry key, not an address, and a cgo.Handle is a small
 * integer. Neither may ever sit in a Go pointer variable (the garbage collector checks
 * pointers that fall into its heap range), so Go holds both as uintptr_t and these
 * wrappers turn them into the header's types on the C side only. Each wrapper also
 * copies the thread-local error message before returning, because the goroutine may
 * run on another OS thread by the time Go could ask for it. */
#ifndef WEBSOCK_GO_SHIMS_H
#define WEBSOCK_GO_SHIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "websock.h"

/* A result code plus, on failure, a malloc'd copy of the detailed message (Go frees it). */
typedef struct {
	uint32_t code;
	char *msg;
} wsgo_rc;

static inline wsgo_rc wsgo_ret(websock_result r) {
	wsgo_rc o = {(uint32_t)r, NULL};
	if (r != WEBSOCK_RESULT_OK) {
		o.msg = strdup(websock_last_error_message());
	}
	return o;
}

#define WSGO_S(h) ((websock_server *)(h))

/* Event kinds in the arena (see shims.c). */
enum { WSGO_EV_OPEN = 1, WSGO_EV_MESSAGE = 2, WSGO_EV_DRAIN = 3, WSGO_EV_CLOSE = 4, WSGO_EV_SHUTDOWN = 5, WSGO_EV_UPGRADE = 6 };

/* One event record's header; `len` payload bytes follow, then padding to 8. */
typedef struct {
	uint32_t kind;
	uint32_t aux; /* message: 1 = text; close: websock_close_kind */
	uint32_t code; /* close code */
	uint32_t pad;
	uint64_t id;
	uint64_t len;
} wsgo_ev;

/* Per-server userdata: the batch arena filled during one dispatch. C memory, owned by
 * the Go Server. */
typedef struct {
	uint8_t *buf;
	size_t len, cap;
	size_t count;
	int oom;
	/* Outputs of wsgo_drive (kept here so Go passes no pointers to its own variables,
	 * which would make them escape to the heap on every call). */
	size_t dispatched;
	uint32_t wait_ms;
	bool finished;
} wsgo_ctx;

/* Defined in shims.c. */
wsgo_ctx *wsgo_ctx_new(void);
void wsgo_ctx_free(wsgo_ctx *c);
wsgo_rc wsgo_server_new(const websock_options *opts, wsgo_ctx *ctx, bool with_upgrade, uintptr_t *out);
wsgo_rc wsgo_dispatch(uintptr_t s, wsgo_ctx *c, size_t max, size_t *n);
wsgo_rc wsgo_drive(uintptr_t s, wsgo_ctx *c, size_t max);
wsgo_rc wsgo_conn_tags(uintptr_t s, uint64_t id, wsgo_ctx *c, size_t *count);

static inline void wsgo_server_free(uintptr_t s) { websock_server_free(WSGO_S(s)); }
/* Blocks until the loop's descriptor is readable or timeout_ms passes (poll(2)). */
static inline int wsgo_wait(int fd, int timeout_ms) {
	struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
	return poll(&p, 1, timeout_ms);
}
static inline wsgo_rc wsgo_loop_fd(uintptr_t s, int *fd) { return wsgo_ret(websock_server_loop_fd(WSGO_S(s), 0, fd)); }
static inline wsgo_rc wsgo_event_fd(uintptr_t s, int *fd) { return wsgo_ret(websock_server_event_fd(WSGO_S(s), fd)); }
static inline wsgo_rc wsgo_stop(uintptr_t s, uint32_t ms) { return wsgo_ret(websock_server_stop(WSGO_S(s), ms)); }
static inline wsgo_rc wsgo_local_addr(uintptr_t s, char *buf, size_t cap, size_t *len) { return wsgo_ret(websock_server_local_addr(WSGO_S(s), buf, cap, len)); }
static inline wsgo_rc wsgo_stats(uintptr_t s, websock_stats *out) { return wsgo_ret(websock_server_stats(WSGO_S(s), out)); }

static inline wsgo_rc wsgo_send(uintptr_t s, uint64_t id, const void *d, size_t n, bool text) { return wsgo_ret(websock_send(WSGO_S(s), id, (const uint8_t *)d, n, text)); }
static inline wsgo_rc wsgo_ping(uintptr_t s, uint64_t id, const void *d, size_t n) { return wsgo_ret(websock_ping(WSGO_S(s), id, (const uint8_t *)d, n)); }
static inline wsgo_rc wsgo_close(uintptr_t s, uint64_t id, uint16_t code, const char *reason) { return wsgo_ret(websock_close(WSGO_S(s), id, code, reason)); }
static inline wsgo_rc wsgo_is_live(uintptr_t s, uint64_t id, bool *out) { return wsgo_ret(websock_is_live(WSGO_S(s), id, out)); }
static inline wsgo_rc wsgo_buffered(uintptr_t s, uint64_t id, uint64_t *out) { return wsgo_ret(websock_buffered_amount(WSGO_S(s), id, out)); }
static inline wsgo_rc wsgo_tag(uintptr_t s, uint64_t id, const void *t, size_t n) { return wsgo_ret(websock_tag_len(WSGO_S(s), id, (const char *)t, n)); }
static inline wsgo_rc wsgo_untag(uintptr_t s, uint64_t id, const void *t, size_t n) { return wsgo_ret(websock_untag_len(WSGO_S(s), id, (const char *)t, n)); }
static inline wsgo_rc wsgo_count_by_tag(uintptr_t s, const void *t, size_t tn, size_t *out) {
	return wsgo_ret(websock_count_by_tag_len(WSGO_S(s), (const char *)t, tn, out));
}
static inline wsgo_rc wsgo_send_by_tag(uintptr_t s, const void *t, size_t tn, const void *d, size_t n, bool text, size_t *count) {
	return wsgo_ret(websock_send_by_tag_len(WSGO_S(s), (const char *)t, tn, (const uint8_t *)d, n, text, count));
}
static inline wsgo_rc wsgo_close_by_tag(uintptr_t s, const void *t, size_t tn, uint16_t code, const void *r, size_t rn, size_t *count) {
	return wsgo_ret(websock_close_by_tag_len(WSGO_S(s), (const char *)t, tn, code, (const char *)r, rn, count));
}
static inline wsgo_rc wsgo_broadcast(uintptr_t s, const void *d, size_t n, bool text, size_t *count) { return wsgo_ret(websock_broadcast(WSGO_S(s), (const uint8_t *)d, n, text, count)); }

/* Answering an upgrade deferred by the shim (tr_upgrade returns WEBSOCK_UPGRADE_DEFER). */
static inline wsgo_rc wsgo_upgrade_add_header(uintptr_t s, uint64_t id, const char *n, const char *v) { return wsgo_ret(websock_upgrade_add_header(WSGO_S(s), id, n, v)); }
static inline wsgo_rc wsgo_upgrade_set_subprotocol(uintptr_t s, uint64_t id, const char *p) { return wsgo_ret(websock_upgrade_set_subprotocol(WSGO_S(s), id, p)); }
static inline wsgo_rc wsgo_upgrade_set_body(uintptr_t s, uint64_t id, const void *b, size_t n) { return wsgo_ret(websock_upgrade_set_body(WSGO_S(s), id, (const uint8_t *)b, n)); }
static inline wsgo_rc wsgo_accept_upgrade(uintptr_t s, uint64_t id) { return wsgo_ret(websock_accept_upgrade(WSGO_S(s), id)); }
static inline wsgo_rc wsgo_reject_upgrade(uintptr_t s, uint64_t id, uint16_t status) { return wsgo_ret(websock_reject_upgrade(WSGO_S(s), id, status)); }

#endif
