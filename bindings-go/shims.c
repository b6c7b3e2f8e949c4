/* shims.c - C trampolines from websock.h's callbacks to the exported Go functions
 * (callbacks.go). The server's userdata is the Go server's cgo.Handle, an integer
 * stored in the void * slot: it is turned back into an integer here, so Go never
 * receives a fake pointer. Callbacks run only inside websock_server_dispatch(), on the
 * goroutine's own thread (the thread contract of websock.h). */
#include "shims.h"
#include "_cgo_export.h"

static uint16_t tr_upgrade(void *ud, websock_server *s, websock_conn_id id, const websock_request *r) {
	(void)s;
	return wsgoOnUpgrade((uintptr_t)ud, id, (websock_request *)r);
}

static void tr_open(void *ud, websock_server *s, websock_conn_id id, const websock_request *r) {
	(void)s;
	wsgoOnOpen((uintptr_t)ud, id, (websock_request *)r);
}

static void tr_message(void *ud, websock_server *s, websock_conn_id id, const uint8_t *data, size_t len, bool text) {
	(void)s;
	wsgoOnMessage((uintptr_t)ud, id, (uint8_t *)data, len, text);
}

static void tr_drain(void *ud, websock_server *s, websock_conn_id id) {
	(void)s;
	wsgoOnDrain((uintptr_t)ud, id);
}

static void tr_close(void *ud, websock_server *s, websock_conn_id id, uint16_t code, const char *reason, size_t len,
                     websock_close_kind kind) {
	(void)s;
	wsgoOnClose((uintptr_t)ud, id, code, (char *)reason, len, (uint32_t)kind);
}

static void tr_shutdown(void *ud, websock_server *s) {
	(void)s;
	wsgoOnShutdown((uintptr_t)ud);
}

wsgo_rc wsgo_server_new(const websock_options *opts, uintptr_t handle, bool with_upgrade, uintptr_t *out) {
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
	websock_result r = websock_server_new(opts, &cbs, (void *)handle, NULL, &s);
	if (r == WEBSOCK_RESULT_OK) {
		*out = (uintptr_t)s;
	}
	return wsgo_ret(r);
}

static void tr_tag(void *ud, const char *tag, size_t len) {
	wsgoOnTag((uintptr_t)ud, (char *)tag, len);
}

wsgo_rc wsgo_conn_tags(uintptr_t s, uint64_t id, uintptr_t list, size_t *count) {
	return wsgo_ret(websock_conn_tags(WSGO_S(s), id, tr_tag, (void *)list, count));
}
