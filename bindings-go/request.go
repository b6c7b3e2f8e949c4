// Request: what the application learns about the HTTP upgrade request. It is copied out
// of the library once, when the connection opens (or when CheckUpgrade runs), so it is
// plain Go data, safe to keep and to read from any goroutine.

package websock

/*
#include "shims.h"
*/
import "C"

import (
	"net/netip"
	"strings"
)

// Header is one request header: a lower-case name and its value as sent.
type Header struct {
	Name, Value string
}

// Request describes the upgrade request of a connection.
type Request struct {
	Method string
	// Path is the request path ("/chat/room1"), not percent-decoded; Query is what
	// follows '?' ("" when none), not decoded.
	Path, Query string
	// Subprotocol is the one negotiated from Options.Subprotocols ("" when none).
	Subprotocol string
	// RemoteAddr is the TCP peer; ClientIP is the peer or, behind one of
	// Options.TrustedProxies, the address it forwarded for.
	RemoteAddr netip.AddrPort
	ClientIP   netip.Addr
	// Headers holds every header in CheckUpgrade, and afterwards only those named by
	// Options.KeepHeaders, in request order.
	Headers []Header
}

// Header returns the first value of the named header (case-insensitive), "" if absent.
func (r *Request) Header(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Cookie returns the value of a cookie from the Cookie header(s); ok is false if absent.
func (r *Request) Cookie(name string) (value string, ok bool) {
	for _, h := range r.Headers {
		if h.Name != "cookie" {
			continue
		}
		for _, kv := range strings.Split(h.Value, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(kv), "=")
			if found && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// OfferedSubprotocols lists the subprotocols the client offered, in its order (needs
// the Sec-WebSocket-Protocol header: always present in CheckUpgrade).
func (r *Request) OfferedSubprotocols() []string {
	var out []string
	for _, h := range r.Headers {
		if h.Name != "sec-websocket-protocol" {
			continue
		}
		for _, p := range strings.Split(h.Value, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// borrowed reads a (pointer, length) string the library lends for the callback; ok is
// false when it reports NOT_FOUND (or any error).
func borrowed(f func(**C.char, *C.size_t) C.websock_result) (string, bool) {
	var p *C.char
	var n C.size_t
	if f(&p, &n) != C.WEBSOCK_RESULT_OK {
		return "", false
	}
	return C.GoStringN(p, C.int(n)), true
}

// copied reads a string the library copies into a buffer (addresses: short).
func copied(f func(*C.char, C.size_t, *C.size_t) C.websock_result) string {
	var buf [80]C.char
	var n C.size_t
	if f(&buf[0], C.size_t(len(buf)), &n) != C.WEBSOCK_RESULT_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(n))
}

// readRequest copies a borrowed websock_request into Go memory. The target is read as
// one string and Path/Query are slices of it (one allocation instead of two).
func readRequest(r *C.websock_request) *Request {
	req := &Request{}
	target, _ := borrowed(func(p **C.char, n *C.size_t) C.websock_result { return C.websock_request_target(r, p, n) })
	if i := strings.IndexByte(target, '?'); i >= 0 {
		req.Path, req.Query = target[:i], target[i+1:]
	} else {
		req.Path = target
	}
	if m, _ := borrowed(func(p **C.char, n *C.size_t) C.websock_result { return C.websock_request_method(r, p, n) }); m != "GET" {
		req.Method = m
	} else {
		req.Method = "GET" // the constant: no allocation per connection
	}
	req.Subprotocol, _ = borrowed(func(p **C.char, n *C.size_t) C.websock_result { return C.websock_request_subprotocol(r, p, n) })
	remote := copied(func(b *C.char, c C.size_t, n *C.size_t) C.websock_result {
		return C.websock_request_remote_addr(r, b, c, n)
	})
	req.RemoteAddr, _ = netip.ParseAddrPort(remote)
	client := copied(func(b *C.char, c C.size_t, n *C.size_t) C.websock_result {
		return C.websock_request_client_ip(r, b, c, n)
	})
	req.ClientIP, _ = netip.ParseAddr(client)
	var count C.size_t
	if C.websock_request_header_count(r, &count) == C.WEBSOCK_RESULT_OK && count > 0 {
		req.Headers = make([]Header, 0, int(count))
		for i := C.size_t(0); i < count; i++ {
			var np, vp *C.char
			var nn, vn C.size_t
			if C.websock_request_header_at(r, i, &np, &nn, &vp, &vn) != C.WEBSOCK_RESULT_OK {
				break
			}
			req.Headers = append(req.Headers, Header{Name: C.GoStringN(np, C.int(nn)), Value: C.GoStringN(vp, C.int(vn))})
		}
	}
	return req
}
