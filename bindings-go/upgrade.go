// The upgrade hook: Options.CheckUpgrade runs on a goroutine of its own for every
// upgrade request (the C side answered WEBSOCK_UPGRADE_DEFER and keeps the request
// waiting), so a slow check (a database, an auth service) never holds up the events of
// other connections. Its answer is handed back with websock_upgrade_* and
// websock_accept_upgrade / websock_reject_upgrade, which are safe from any thread.

package websock

/*
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// Accept is CheckUpgrade's yes with details. A nil *Accept (with a nil error) accepts
// plainly.
type Accept struct {
	// Subprotocol overrides the server's choice; it must be one the client offered
	// (Request.OfferedSubprotocols), otherwise the server's own negotiation stands.
	Subprotocol string
	// Header is added to the 101 response (e.g. Set-Cookie).
	Header http.Header
	// Value becomes the connection's Value() when it opens (the authenticated user,
	// say), before OnOpen runs.
	Value any
}

// decide runs the hook for one waiting upgrade and answers it.
func (s *Server) decide(id uint64, r *Request) {
	acc, err := s.runCheck(r)
	h, cid := C.uintptr_t(s.h), C.uint64_t(id)
	if err == nil {
		if acc != nil {
			if bad := badHeader(acc.Header); bad != "" {
				s.logf("websock: CheckUpgrade for %s: %s; answering 500", r.Path, bad)
				s.answer(id, r, C.wsgo_reject_upgrade(h, cid, 500))
				return
			}
			for _, kv := range sortedHeader(acc.Header) {
				if s.answer(id, r, C.wsgo_upgrade_add_header(h, cid, cstring(kv[0]), cstring(kv[1]))) != nil {
					return
				}
			}
			if acc.Subprotocol != "" {
				// cstring would cut a name at a NUL: such a name was offered by nobody.
				if strings.IndexByte(acc.Subprotocol, 0) < 0 &&
					s.answer(id, r, C.wsgo_upgrade_set_subprotocol(h, cid, cstring(acc.Subprotocol))) != nil {
					return
				}
			}
			if acc.Value != nil {
				s.accepted.put(s, id, acc.Value)
			}
		}
		if s.answer(id, r, C.wsgo_accept_upgrade(h, cid)) != nil && acc != nil && acc.Value != nil {
			s.accepted.take(id)
		}
		return
	}
	status := 403
	var rej *RejectError
	if errors.As(err, &rej) {
		if rej.Status >= 400 && rej.Status <= 599 {
			status = rej.Status
		}
		if bad := badHeader(rej.Header); bad != "" {
			s.logf("websock: CheckUpgrade for %s: %s; answering 500", r.Path, bad)
			s.answer(id, r, C.wsgo_reject_upgrade(h, cid, 500))
			return
		}
		for _, kv := range sortedHeader(rej.Header) {
			if s.answer(id, r, C.wsgo_upgrade_add_header(h, cid, cstring(kv[0]), cstring(kv[1]))) != nil {
				return
			}
		}
		if len(rej.Body) > 0 && s.answer(id, r, C.wsgo_upgrade_set_body(h, cid, bytesPtr(rej.Body), C.size_t(len(rej.Body)))) != nil {
			return
		}
	}
	s.answer(id, r, C.wsgo_reject_upgrade(h, cid, C.uint16_t(status)))
}

// runCheck calls the hook; a panic is logged and answered with 500.
func (s *Server) runCheck(r *Request) (acc *Accept, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.logf("websock: panic in CheckUpgrade for %s: %v\n%s", r.Path, p, debug.Stack())
			acc, err = nil, &RejectError{Status: 500}
		}
	}()
	return s.check(r)
}

// answer checks one C call of the answer for connection id. The connection going away
// meanwhile (the client left, the handshake timed out) or the server closing is normal
// and silent; anything else is logged and the upgrade refused with 500, so it does not
// wait for the handshake timeout.
func (s *Server) answer(id uint64, r *Request, rc C.wsgo_rc) error {
	err := check("CheckUpgrade", rc)
	if err != nil && !errors.Is(err, ErrUnknownConnection) && !errors.Is(err, ErrServerClosed) {
		s.logf("websock: answering the upgrade of %s: %v", r.Path, err)
		_ = check("CheckUpgrade", C.wsgo_reject_upgrade(C.uintptr_t(s.h), C.uint64_t(id), 500))
	}
	return err
}

// badHeader explains why a header cannot go into a response ("" when it can).
func badHeader(h http.Header) string {
	for name, vals := range h {
		if name == "" || strings.ContainsAny(name, "\r\n\x00: ") {
			return fmt.Sprintf("invalid response header name %q", name)
		}
		for _, v := range vals {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Sprintf("invalid value for response header %q", name)
			}
		}
	}
	return ""
}

// sortedHeader lists (name, value) pairs with names in a stable order.
func sortedHeader(h http.Header) [][2]string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	var out [][2]string
	for _, n := range names {
		for _, v := range h[n] {
			out = append(out, [2]string{n, v})
		}
	}
	return out
}

// pendingValues keeps Accept.Value between the accept and the open event. An accepted
// connection that leaves before opening never gets an open event: its entry is pruned
// (by liveness) as new values arrive.
type pendingValues struct {
	mu   sync.Mutex
	m    map[uint64]any
	puts int
}

func (p *pendingValues) put(s *Server, id uint64, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[uint64]any)
	}
	p.puts++
	if p.puts >= 64 && len(p.m) >= 64 {
		p.puts = 0
		for k := range p.m {
			var live C.bool
			if check("CheckUpgrade", C.wsgo_is_live(C.uintptr_t(s.h), C.uint64_t(k), &live)) != nil || !bool(live) {
				delete(p.m, k)
			}
		}
	}
	p.m[id] = v
}

func (p *pendingValues) take(id uint64) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[id]
	if ok {
		delete(p.m, id)
	}
	return v, ok
}
