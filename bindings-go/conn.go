// Conn: one WebSocket connection as the handler sees it. A Conn is a small value
// around the connection's integer id; every method is safe from any goroutine, also
// after the connection closed (then they fail with ErrUnknownConnection).

package websock

/*
#include "shims.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// Conn is one connection. The same *Conn is passed to every event of the connection,
// so it can be stored (in a map of rooms, say) and used from other goroutines.
type Conn struct {
	srv *Server
	id  uint64
	req *Request
	val atomic.Pointer[any]
	// closed is set before OnClose runs: from then on every call reports
	// ErrUnknownConnection, even while the core is still tearing the slot down.
	closed atomic.Bool
}

// gone is the error of a call on a connection whose OnClose was delivered.
func (c *Conn) gone(op string) error {
	return &Error{Op: op, Msg: "no such connection (closed)", Kind: ErrUnknownConnection}
}

// ID is the connection's id: unique for the server's whole life (a closed
// connection's id is never reused).
func (c *Conn) ID() uint64 { return c.id }

// Server returns the server the connection belongs to.
func (c *Conn) Server() *Server { return c.srv }

// Request returns the upgrade request (only the headers named in
// Options.KeepHeaders). Never nil for a Conn given to a handler.
func (c *Conn) Request() *Request { return c.req }

// SetValue attaches any value to the connection (a user name, a session); safe from
// any goroutine.
func (c *Conn) SetValue(v any) { c.val.Store(&v) }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	if p := c.val.Load(); p != nil {
		return *p
	}
	return nil
}

// SendText queues a text message (s must be valid UTF-8). It never blocks; messages
// to one connection keep their order.
func (c *Conn) SendText(s string) error {
	if c.closed.Load() {
		return c.gone("SendText")
	}
	return check("SendText", C.wsgo_send(C.uintptr_t(c.srv.h), C.uint64_t(c.id), strPtr(s), C.size_t(len(s)), true))
}

// SendBinary queues a binary message; b is copied before the call returns.
func (c *Conn) SendBinary(b []byte) error {
	if c.closed.Load() {
		return c.gone("SendBinary")
	}
	return check("SendBinary", C.wsgo_send(C.uintptr_t(c.srv.h), C.uint64_t(c.id), bytesPtr(b), C.size_t(len(b)), false))
}

// Send queues a message of the given type (handy for echo).
func (c *Conn) Send(typ MessageType, data []byte) error {
	if c.closed.Load() {
		return c.gone("Send")
	}
	return check("Send", C.wsgo_send(C.uintptr_t(c.srv.h), C.uint64_t(c.id), bytesPtr(data), C.size_t(len(data)), C.bool(typ == TextMessage)))
}

// Ping sends a ping with up to 125 bytes of payload.
func (c *Conn) Ping(payload []byte) error {
	if c.closed.Load() {
		return c.gone("Ping")
	}
	return check("Ping", C.wsgo_ping(C.uintptr_t(c.srv.h), C.uint64_t(c.id), bytesPtr(payload), C.size_t(len(payload))))
}

// Close starts the closing handshake with code (1000-1003, 1007-1014, 3000-4999) and
// reason (cut to 123 bytes). OnClose follows.
func (c *Conn) Close(code int, reason string) error {
	if c.closed.Load() {
		return c.gone("Close")
	}
	if code < 0 || code > 0xffff {
		return goErr("Close", ErrInvalidArgument, "close code %d out of range", code)
	}
	return check("Close", C.wsgo_close(C.uintptr_t(c.srv.h), C.uint64_t(c.id), C.uint16_t(code), cstring(reason)))
}

// Tag adds a tag (1-1024 bytes of UTF-8) to the connection: by-tag sends, closes and
// counts reach it from now on. Tags go away with the connection.
func (c *Conn) Tag(tag string) error {
	if c.closed.Load() {
		return c.gone("Tag")
	}
	return check("Tag", C.wsgo_tag(C.uintptr_t(c.srv.h), C.uint64_t(c.id), strPtr(tag), C.size_t(len(tag))))
}

// Untag removes a tag; removing one the connection does not have is not an error.
func (c *Conn) Untag(tag string) error {
	if c.closed.Load() {
		return c.gone("Untag")
	}
	return check("Untag", C.wsgo_untag(C.uintptr_t(c.srv.h), C.uint64_t(c.id), strPtr(tag), C.size_t(len(tag))))
}

// Tags lists the connection's tags in the order they were added.
func (c *Conn) Tags() ([]string, error) {
	if c.closed.Load() {
		return nil, c.gone("Tags")
	}
	// A private arena: Tags may run on any goroutine, next to the pump.
	tmp := C.wsgo_ctx_new()
	if tmp == nil {
		return nil, goErr("Tags", ErrInternal, "out of memory")
	}
	defer C.wsgo_ctx_free(tmp)
	var n C.size_t
	if err := check("Tags", C.wsgo_conn_tags(C.uintptr_t(c.srv.h), C.uint64_t(c.id), tmp, &n)); err != nil {
		return nil, err
	}
	list := make([]string, 0, int(n))
	if tmp.len > 0 {
		r := &reader{b: unsafe.Slice((*byte)(unsafe.Pointer(tmp.buf)), int(tmp.len))}
		for i := 0; i < int(n) && r.off < len(r.b); i++ {
			list = append(list, r.str())
		}
	}
	return list, nil
}

// BufferedAmount is the number of bytes queued for the connection and not yet handed
// to the kernel.
func (c *Conn) BufferedAmount() (int, error) {
	if c.closed.Load() {
		return 0, c.gone("BufferedAmount")
	}
	var n C.uint64_t
	if err := check("BufferedAmount", C.wsgo_buffered(C.uintptr_t(c.srv.h), C.uint64_t(c.id), &n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// IsOpen reports whether the connection is still live.
func (c *Conn) IsOpen() bool {
	if c.closed.Load() {
		return false
	}
	var live C.bool
	return check("IsOpen", C.wsgo_is_live(C.uintptr_t(c.srv.h), C.uint64_t(c.id), &live)) == nil && bool(live)
}
