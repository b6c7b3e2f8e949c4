// Request: what the application learns about the HTTP upgrade request. It is copied out
// of the library once, when the connection opens (or when CheckUpgrade runs), so it is
// plain Go data, safe to keep and to read from any goroutine.

package websock

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
	// Extensions is the Sec-WebSocket-Extensions value of the server's 101 answer: what
	// was agreed, e.g. "permessage-deflate; server_no_context_takeover" ("" when
	// nothing was, and always "" in CheckUpgrade, which runs before the answer; the
	// client's offer is in the sec-websocket-extensions header there).
	Extensions string
	// PermessageDeflate reports whether permessage-deflate was negotiated (see
	// Options.Compression).
	PermessageDeflate bool
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
