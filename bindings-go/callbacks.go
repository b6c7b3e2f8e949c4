// Delivering a batch of events: Server.pump calls wsgo_dispatch (shims.c), which fills
// the server's C arena with every event of the batch; deliver walks that arena and calls
// the handler, on the pumping goroutine, with s.mu held (so the connection map needs no
// other lock). Handler panics are recovered here, logged, and close that connection with
// 1011. Upgrade requests arrive the same way; each is decided on a goroutine of its own
// (upgrade.go), so nothing in C ever calls into Go.

package websock

/*
#include "shims.h"
*/
import "C"

import (
	"encoding/binary"
	"net/netip"
	"runtime/debug"
	"strings"
	"unsafe"
)

const evHeaderSize = int(unsafe.Sizeof(C.wsgo_ev{}))

// reader walks a serialized arena (native byte order: it never leaves the process).
type reader struct {
	b   []byte
	off int
}

func (r *reader) u32() uint32 {
	v := binary.NativeEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

// str copies one length-prefixed string out of C memory.
func (r *reader) str() string {
	n := int(r.u32())
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

// decodeRequest rebuilds a Request from its arena form (put_request in shims.c).
// Path and Query share the target's one allocation.
func decodeRequest(b []byte) *Request {
	r := &reader{b: b}
	target := r.str()
	req := &Request{Method: "GET"}
	if m := r.str(); m != "GET" {
		req.Method = m
	}
	if i := strings.IndexByte(target, '?'); i >= 0 {
		req.Path, req.Query = target[:i], target[i+1:]
	} else {
		req.Path = target
	}
	req.Subprotocol = r.str()
	req.RemoteAddr, _ = netip.ParseAddrPort(r.str())
	req.ClientIP, _ = netip.ParseAddr(r.str())
	req.Extensions = r.str()
	req.PermessageDeflate = r.u32() != 0
	if n := int(r.u32()); n > 0 {
		req.Headers = make([]Header, n)
		for i := range req.Headers {
			req.Headers[i].Name = r.str()
			req.Headers[i].Value = r.str()
		}
	}
	return req
}

// deliver hands the events of one dispatch to the handler, in order.
func (s *Server) deliver() {
	if s.ctx.len == 0 {
		return
	}
	arena := unsafe.Slice((*byte)(unsafe.Pointer(s.ctx.buf)), int(s.ctx.len))
	for off := 0; off < len(arena); {
		ev := (*C.wsgo_ev)(unsafe.Pointer(&arena[off]))
		start := off + evHeaderSize
		n := int(ev.len)
		payload := arena[start : start+n]
		off = (start + n + 7) &^ 7
		id := uint64(ev.id)
		switch ev.kind {
		case C.WSGO_EV_UPGRADE:
			go s.decide(id, decodeRequest(payload))
		case C.WSGO_EV_OPEN:
			c := &Conn{srv: s, id: id, req: decodeRequest(payload)}
			if v, ok := s.accepted.take(id); ok {
				c.SetValue(v)
			}
			s.conns[id] = c
			s.call(c, evOpen, 0, nil, CloseInfo{})
		case C.WSGO_EV_MESSAGE:
			if c := s.conns[id]; c != nil {
				data := make([]byte, n)
				copy(data, payload)
				typ := BinaryMessage
				if ev.aux != 0 {
					typ = TextMessage
				}
				s.call(c, evMessage, typ, data, CloseInfo{})
			}
		case C.WSGO_EV_DRAIN:
			if c := s.conns[id]; c != nil {
				s.call(c, evDrain, 0, nil, CloseInfo{})
			}
		case C.WSGO_EV_CLOSE:
			if c := s.conns[id]; c != nil {
				delete(s.conns, id)
				c.closed.Store(true)
				info := CloseInfo{Code: int(ev.code), Reason: string(payload), Kind: CloseKind(ev.aux)}
				s.call(c, evClose, 0, nil, info)
			}
		case C.WSGO_EV_SHUTDOWN:
			s.finished = true
		}
	}
}

const (
	evOpen = iota
	evMessage
	evDrain
	evClose
)

var evNames = [...]string{"OnOpen", "OnMessage", "OnDrain", "OnClose"}

// call runs one handler method; a panic is logged and closes the connection with 1011
// (net/http likewise survives a panicking handler).
func (s *Server) call(c *Conn, ev int, typ MessageType, data []byte, info CloseInfo) {
	defer func() {
		if p := recover(); p != nil {
			s.logf("websock: panic in %s for connection %d: %v\n%s", evNames[ev], c.id, p, debug.Stack())
			_ = c.Close(CloseInternalError, "internal error")
		}
	}()
	switch ev {
	case evOpen:
		s.handler.OnOpen(c)
	case evMessage:
		s.handler.OnMessage(c, typ, data)
	case evDrain:
		s.handler.OnDrain(c)
	case evClose:
		s.handler.OnClose(c, info)
	}
}
