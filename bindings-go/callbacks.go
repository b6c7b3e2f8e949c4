// The Go ends of the C callbacks (reached through the trampolines in shims.c). They run
// only inside websock_server_dispatch(), called by Server.pump with s.mu held, so the
// connection map needs no other lock. Handler panics are recovered here: a panic must
// never unwind through the Rust frames below (they would skip their cleanup).

package websock

/*
#include "shims.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"runtime/debug"
	"unsafe"
)

func serverOf(h C.uintptr_t) *Server {
	return cgo.Handle(h).Value().(*Server)
}

// guard runs a handler method; a panic is logged and closes the connection with 1011.
func (s *Server) guard(c *Conn, what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.logf("websock: panic in %s for connection %d: %v\n%s", what, c.id, p, debug.Stack())
			_ = c.Close(CloseInternalError, "internal error")
		}
	}()
	f()
}

//export wsgoOnUpgrade
func wsgoOnUpgrade(h C.uintptr_t, id C.uint64_t, req *C.websock_request) (status C.uint16_t) {
	s := serverOf(h)
	if s.check == nil {
		return 0
	}
	r := readRequest(req)
	defer func() {
		if p := recover(); p != nil {
			s.logf("websock: panic in CheckUpgrade for %s: %v\n%s", r.Path, p, debug.Stack())
			status = 500
		}
	}()
	err := s.check(r)
	if err == nil {
		return 0
	}
	var rej *RejectError
	if errors.As(err, &rej) && rej.Status >= 400 && rej.Status <= 599 {
		return C.uint16_t(rej.Status)
	}
	return 403
}

//export wsgoOnOpen
func wsgoOnOpen(h C.uintptr_t, id C.uint64_t, req *C.websock_request) {
	s := serverOf(h)
	c := &Conn{srv: s, id: uint64(id), req: readRequest(req)}
	s.conns[c.id] = c
	s.guard(c, "OnOpen", func() { s.handler.OnOpen(c) })
}

//export wsgoOnMessage
func wsgoOnMessage(h C.uintptr_t, id C.uint64_t, data *C.uint8_t, n C.size_t, text C.bool) {
	s := serverOf(h)
	c := s.conns[uint64(id)]
	if c == nil {
		return
	}
	b := make([]byte, int(n))
	if n > 0 {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
	}
	typ := BinaryMessage
	if text {
		typ = TextMessage
	}
	s.guard(c, "OnMessage", func() { s.handler.OnMessage(c, typ, b) })
}

//export wsgoOnDrain
func wsgoOnDrain(h C.uintptr_t, id C.uint64_t) {
	s := serverOf(h)
	if c := s.conns[uint64(id)]; c != nil {
		s.guard(c, "OnDrain", func() { s.handler.OnDrain(c) })
	}
}

//export wsgoOnClose
func wsgoOnClose(h C.uintptr_t, id C.uint64_t, code C.uint16_t, reason *C.char, n C.size_t, kind C.uint32_t) {
	s := serverOf(h)
	c := s.conns[uint64(id)]
	if c == nil {
		return
	}
	delete(s.conns, c.id)
	info := CloseInfo{Code: int(code), Reason: C.GoStringN(reason, C.int(n)), Kind: CloseKind(kind)}
	s.guard(c, "OnClose", func() { s.handler.OnClose(c, info) })
}

//export wsgoOnShutdown
func wsgoOnShutdown(h C.uintptr_t) {
	serverOf(h).finished = true
}

//export wsgoOnTag
func wsgoOnTag(h C.uintptr_t, tag *C.char, n C.size_t) {
	list := cgo.Handle(h).Value().(*[]string)
	*list = append(*list, C.GoStringN(tag, C.int(n)))
}
