/* shims.c - the C side of the event pump. websock_server_dispatch() calls these
 * callbacks on the calling goroutine's thread; instead of calling into Go once per event
 * (a cgo callback each, and the Go scheduler hands the P around while a long cgo call
 * runs), they append each event to a per-server arena. Go reads the whole batch after
 * dispatch returns: one cgo crossing per batch. Nothing here calls into Go: even the
 * upgrade hook is an arena record, answered later (WEBSOCK_UPGRADE_DEFER) from the
 * goroutine that runs Options.CheckUpgrade.
 *
 * Arena record: a wsgo_ev header, then `len` payload bytes, padded to 8. Payloads:
 * message = data; close = reason; open and upgrade = request (see put_request). */
#include "shims.h"

static void arena_put(wsgo_ctx *c, const void *p, size_t n) {
	if (c->oom) {
		return;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 64 * 1024;
		while (cap < c->len + n) {
			cap *= 2;
		}
		uint8_t *b = realloc(c->buf, cap);
		if (b == NULL) {
			c->oom = 1;
			return;
		}
		c->buf = b;
		c->cap = cap;
	}
	if (n) {
		memcpy(c->buf + c->len, p, n);
	}
	c->len += n;
}

static void arena_pad(wsgo_ctx *c) {
	static const uint8_t zero[8];
	size_t r = c->len % 8;
	if (r) {
		arena_put(c, zero, 8 - r);
	}
}

/* Starts a record; returns the header's offset so its len can be patched. */
static size_t ev_begin(wsgo_ctx *c, uint32_t kind, uint32_t aux, uint32_t code, uint64_t id) {
	wsgo_ev e = {kind, aux, code, 0, id, 0};
	size_t at = c->len;
	arena_put(c, &e, sizeof e);
	return at;
}

static void ev_end(wsgo_ctx *c, size_t at) {
	if (c->oom) {
		return;
	}
	((wsgo_ev *)(c->buf + at))->len = c->len - at - sizeof(wsgo_ev);
	arena_pad(c);
}

static void put_str(wsgo_ctx *c, const char *p, size_t n) {
	uint32_t n32 = (uint32_t)n;
	arena_put(c, &n32, sizeof n32);
	arena_put(c, p, n);
}

typedef websock_result (*str_getter)(const websock_request *, const char **, size_t *);
typedef websock_result (*buf_getter)(const websock_request *, char *, size_t, size_t *);

static void put_borrowed(wsgo_ctx *c, const websock_request *r, str_getter f) {
	const char *p = NULL;
	size_t n = 0;
	if (f(r, &p, &n) != WEBSOCK_RESULT_OK) {
		p = NULL;
		n = 0;
	}
	put_str(c, p, n);
}

static void put_copied(wsgo_ctx *c, const websock_request *r, buf_getter f) {
	char buf[80];
	size_t n = 0;
	if (f(r, buf, sizeof buf, &n) != WEBSOCK_RESULT_OK) {
		n = 0;
	}
	put_str(c, buf, n);
}

/* Request payload: target, method, subprotocol, remote addr, client ip, extensions (each
 * u32 length + bytes), a u32 permessage-deflate flag, then a u32 header count and that
 * many (name, value) pairs. */
static void put_request(wsgo_ctx *c, const websock_request *r) {
	put_borrowed(c, r, websock_request_target);
	put_borrowed(c, r, websock_request_method);
	put_borrowed(c, r, websock_request_subprotocol);
	put_copied(c, r, websock_request_remote_addr);
	put_copied(c, r, websock_request_client_ip);
	put_borrowed(c, r, websock_request_extensions);
	bool pmd = false;
	if (websock_request_permessage_deflate(r, &pmd) != WEBSOCK_RESULT_OK) {
		pmd = false;
	}
	uint32_t pmd32 = pmd ? 1 : 0;
	arena_put(c, &pmd32, sizeof pmd32);
	size_t count = 0;
	if (websock_request_header_count(r, &count) != WEBSOCK_RESULT_OK) {
		count = 0;
	}
	uint32_t n32 = (uint32_t)count;
	arena_put(c, &n32, sizeof n32);
	for (size_t i = 0; i < count; i++) {
		const char *np = NULL, *vp = NULL;
		size_t nn = 0, vn = 0;
		if (websock_request_header_at(r, i, &np, &nn, &vp, &vn) != WEBSOCK_RESULT_OK) {
			np = vp = NULL;
			nn = vn = 0;
		}
		put_str(c, np, nn);
		put_str(c, vp, vn);
	}
}

/* The upgrade waits (DEFER) while Go decides on a goroutine of its own: a slow check
 * never holds up the other events of the batch. */
static uint16_t tr_upgrade(void *ud, websock_server *s, websock_conn_id id, const websock_request *r) {
	(void)s;
	wsgo_ctx *c = ud;
	size_t at = ev_begin(c, WSGO_EV_UPGRADE, 0, 0, id);
	put_request(c, r);
	ev_end(c, at);
	c->count++;
	return WEBSOCK_UPGRADE_DEFER;
}

static void tr_open(void *ud, websock_server *s, websock_conn_id id, const websock_request *r) {
	(void)s;
	wsgo_ctx *c = ud;
	size_t at = ev_begin(c, WSGO_EV_OPEN, 0, 0, id);
	put_request(c, r);
	ev_end(c, at);
	c->count++;
}

static void tr_message(void *ud, websock_server *s, websock_conn_id id, const uint8_t *data, size_t len, bool text) {
	(void)s;
	wsgo_ctx *c = ud;
	size_t at = ev_begin(c, WSGO_EV_MESSAGE, text ? 1 : 0, 0, id);
	arena_put(c, data, len);
	ev_end(c, at);
	c->count++;
}

static void tr_drain(void *ud, websock_server *s, websock_conn_id id) {
	(void)s;
	wsgo_ctx *c = ud;
	ev_end(c, ev_begin(c, WSGO_EV_DRAIN, 0, 0, id));
	c->count++;
}

static void tr_close(void *ud, websock_server *s, websock_conn_id id, uint16_t code, const char *reason, size_t len,
                     websock_close_kind kind) {
	(void)s;
	wsgo_ctx *c = ud;
	size_t at = ev_begin(c, WSGO_EV_CLOSE, (uint32_t)kind, code, id);
	arena_put(c, reason, len);
	ev_end(c, at);
	c->count++;
}

static void tr_shutdown(void *ud, websock_server *s) {
	(void)s;
	wsgo_ctx *c = ud;
	ev_end(c, ev_begin(c, WSGO_EV_SHUTDOWN, 0, 0, 0));
	c->count++;
}

wsgo_rc wsgo_server_new(const websock_options *opts, wsgo_ctx *ctx, bool with_upgrade, uintptr_t *out) {
	websock_callbacks cbs;
	memset(&cbs, 0, sizeof cbs);
	if (with_upgrade) {
		cbs.on_upgrade = tr_upgrade;
	}
	cbs.on_open = tr_open;
	cbs.on_message = tr_message;
	cbs.on_drain = tr_drain;
	cbs.on_close = tr_close;
	cbs.on_shutdown = tr_shutdown;
	websock_server *s = NULL;
	/* The context is freed by Go (wsgo_ctx_free) after websock_server_free(). */
	websock_result r = websock_server_new(opts, &cbs, ctx, NULL, &s);
	if (r == WEBSOCK_RESULT_OK) {
		*out = (uintptr_t)s;
	}
	return wsgo_ret(r);
}

wsgo_rc wsgo_dispatch(uintptr_t s, wsgo_ctx *c, size_t max, size_t *n) {
	c->len = 0;
	c->count = 0;
	c->oom = 0;
	wsgo_rc r = wsgo_ret(websock_server_dispatch(WSGO_S(s), max, n));
	if (r.code == WEBSOCK_RESULT_OK && c->oom) {
		r.code = WEBSOCK_RESULT_PANIC;
		r.msg = strdup("out of memory while collecting events");
	}
	return r;
}

/* One driven cycle of loop 0 in one crossing: websock_server_drive turns the loop (read,
 * write, timers) and, if that queued events, holds the loop's wake-ups and dispatches
 * them into the arena. Go then runs the handlers and calls again at once while events
 * came (that turn writes the replies). Outputs land in the context. */
wsgo_rc wsgo_drive(uintptr_t s, wsgo_ctx *c, size_t max) {
	c->len = 0;
	c->count = 0;
	c->oom = 0;
	c->dispatched = 0;
	wsgo_rc r = wsgo_ret(websock_server_drive(WSGO_S(s), 0, max, &c->dispatched, &c->wait_ms, &c->finished));
	if (r.code == WEBSOCK_RESULT_OK && c->oom) {
		r.code = WEBSOCK_RESULT_PANIC;
		r.msg = strdup("out of memory while collecting events");
	}
	return r;
}

wsgo_ctx *wsgo_ctx_new(void) {
	return calloc(1, sizeof(wsgo_ctx));
}

void wsgo_ctx_free(wsgo_ctx *c) {
	if (c) {
		free(c->buf);
		free(c);
	}
}

static void tr_tag(void *ud, const char *tag, size_t len) {
	wsgo_ctx *c = ud;
	put_str(c, tag, len);
}

wsgo_rc wsgo_conn_tags(uintptr_t s, uint64_t id, wsgo_ctx *c, size_t *count) {
	c->len = 0;
	c->oom = 0;
	wsgo_rc r = wsgo_ret(websock_conn_tags(WSGO_S(s), id, tr_tag, c, count));
	if (r.code == WEBSOCK_RESULT_OK && c->oom) {
		r.code = WEBSOCK_RESULT_PANIC;
		r.msg = strdup("out of memory while listing tags");
	}
	return r;
}
