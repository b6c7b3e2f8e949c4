// Package websock is the Go binding of websock, a WebSocket (RFC 6455) server library
// whose networking runs in a Rust core: a pool of event loops, tags with send-by-tag
// that encodes a frame once for every receiver, and sends that are safe from any
// goroutine.
//
// A Server listens as soon as NewServer returns. Serve delivers its events to a
// Handler on the calling goroutine until Shutdown or the context ends it. By default
// (Options.Loops 0 or 1) that goroutine drives the server's one event loop itself: it
// waits for the loop's descriptor (poll(2)), then one cgo call reads every
// ready connection and collects the events, the handlers run, and the next call writes
// their replies; no library thread ever calls into Go, and no message crosses threads.
// With Loops > 1 (or Options.Threaded) the loops run on threads of their own and Serve
// pulls their events in batches:
//
//	srv, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:8080"},
//		websock.HandlerFuncs{Message: func(c *websock.Conn, t websock.MessageType, b []byte) {
//			c.Send(t, b) // echo
//		}})
//	if err != nil { ... }
//	err = srv.Serve(ctx)
//
// Errors are values: every error matches a sentinel (ErrUnknownConnection,
// ErrServerClosed, …) with errors.Is, and errors.As gives the *Error with details.
//
// The package links libwebsock.a (built from the websock repository by build-lib.sh
// into lib/<os>_<arch>/, with websock.h in include/); see README.md.
package websock

/*
#include "shims.h"
*/
import "C"

import (
	"context"

	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// batchSize is how many events one dispatch call delivers at most.
const batchSize = 1024

// Server is a running WebSocket server. Every method is safe from any goroutine.
type Server struct {
	h       uintptr     // the C handle (a registry key, never a Go pointer)
	ctx     *C.wsgo_ctx // C memory: the batch arena (userdata of the C server)
	handler Handler
	check   func(*Request) (*Accept, error)
	// accepted holds Accept.Value from CheckUpgrade until the connection's open event.
	accepted pendingValues
	logger   *log.Logger
	grace    time.Duration
	addr     *net.TCPAddr
	driven   bool // Serve's goroutine turns the one event loop (Options.Loops <= 1)

	pumping  atomic.Bool // some goroutine (Serve, or Shutdown without Serve) runs the pump
	closing  atomic.Bool // shutdown has begun
	mu       sync.Mutex  // held while events are delivered: the state below is the pump's
	conns    map[uint64]*Conn
	finished bool // the shutdown event was delivered
	done     chan struct{}
	doneOnce sync.Once
}

// NewServer binds (or adopts the listener in opts) and starts the server. With loop
// threads (Options.Loops > 1 or Threaded) it accepts and upgrades connections at once
// and their events wait until Serve runs; a driven server (the default) leaves them in
// the listen backlog until Serve (or Shutdown) turns its loop.
func NewServer(opts Options, handler Handler) (*Server, error) {
	if handler == nil {
		return nil, goErr("NewServer", ErrInvalidArgument, "handler is nil")
	}
	co, err := buildOptions(&opts)
	if err != nil {
		return nil, err
	}
	defer C.websock_options_free(co)
	s := &Server{
		handler: handler,
		check:   opts.CheckUpgrade,
		logger:  opts.ErrorLog,
		grace:   orD(opts.ShutdownTimeout, defShutdown),
		driven:  opts.driven(),
		conns:   make(map[uint64]*Conn),
		done:    make(chan struct{}),
	}
	s.ctx = C.wsgo_ctx_new()
	if s.ctx == nil {
		return nil, goErr("NewServer", ErrInternal, "out of memory")
	}
	var h C.uintptr_t
	if err := check("NewServer", C.wsgo_server_new(co, s.ctx, C.bool(s.check != nil), &h)); err != nil {
		C.wsgo_ctx_free(s.ctx)
		return nil, err
	}
	s.h = uintptr(h)
	if err := s.init(); err != nil {
		C.wsgo_server_free(C.uintptr_t(s.h))
		C.wsgo_ctx_free(s.ctx)
		return nil, err
	}
	return s, nil
}

// init reads the bound address.
func (s *Server) init() error {
	var buf [80]C.char
	var n C.size_t
	if err := check("NewServer", C.wsgo_local_addr(C.uintptr_t(s.h), &buf[0], C.size_t(len(buf)), &n)); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(C.GoStringN(&buf[0], C.int(n)))
	if err != nil {
		return goErr("NewServer", ErrInternal, "local address: %v", err)
	}
	s.addr = net.TCPAddrFromAddrPort(ap)
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() *net.TCPAddr { return s.addr }

// Serve delivers events to the handler on the calling goroutine until the server has
// shut down; on a driven server (the default) the same goroutine also turns the event
// loop (reads, writes, timers). When ctx ends, Serve starts a graceful shutdown (Options.ShutdownTimeout),
// delivers the remaining close events and returns ctx.Err(); after Shutdown it returns
// ErrServerClosed, as net/http does. Only one Serve may run per server.
func (s *Server) Serve(ctx context.Context) error {
	if s.closing.Load() && !s.pumping.Load() {
		select {
		case <-s.done:
			return ErrServerClosed
		default:
		}
	}
	if !s.pumping.CompareAndSwap(false, true) {
		if s.closing.Load() {
			return ErrServerClosed
		}
		return goErr("Serve", ErrBusy, "Serve is already running")
	}
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		select {
		case <-ctx.Done():
			s.stop(s.grace)
		case <-stopWatch:
		}
	}()
	err := s.pump()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrServerClosed
}

// Shutdown closes every connection with 1001 (going away), lets queued messages
// drain until ctx's deadline (or Options.ShutdownTimeout when it has none), then
// force-closes, and waits until every OnClose has run. Without a running Serve it
// delivers the remaining events itself. It returns ctx.Err() if ctx ends first.
// Do not call it from a handler and wait for it there: the handler blocks the events
// Shutdown waits for (use `go srv.Shutdown(ctx)`).
func (s *Server) Shutdown(ctx context.Context) error {
	grace := s.grace
	if dl, ok := ctx.Deadline(); ok {
		grace = time.Until(dl)
	}
	return s.shutdown(ctx, grace)
}

// Close shuts down at once: connections get a 1001 close without waiting for queued
// messages; it returns when every OnClose has run.
func (s *Server) Close() error {
	return s.shutdown(context.Background(), 0)
}

func (s *Server) shutdown(ctx context.Context, grace time.Duration) error {
	s.stop(grace)
	if s.pumping.CompareAndSwap(false, true) {
		go s.pump() // nobody serves: deliver the close events here
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop begins the graceful shutdown (once; later calls do nothing).
func (s *Server) stop(grace time.Duration) {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	if grace < 0 {
		grace = 0
	}
	msec := grace / time.Millisecond
	if msec > 1<<31 {
		msec = 1 << 31
	}
	// A failure means the server is already gone, which is what stop wants.
	_ = check("Shutdown", C.wsgo_stop(C.uintptr_t(s.h), C.uint32_t(msec)))
}

// pump delivers events until the shutdown event, then frees the C server and closes
// done. The goroutine parks in Go's netpoller on a duplicate of the library's readiness
// descriptor (readable while events are queued) and, when woken, drains the queue in
// batches with short cgo calls. Parking in Go rather than blocking inside a cgo call
// keeps the scheduler's P with the Go side: a long blocking cgo call made the runtime
// hand the P to another thread and take it back on every batch (futex storms in perf).
func (s *Server) pump() error {
	if s.driven {
		return s.drive()
	}
	var fd C.int
	if err := check("Serve", C.wsgo_event_fd(C.uintptr_t(s.h), &fd)); err != nil {
		return err
	}
	// The library owns its descriptor; Go polls a duplicate (same socket, so the same
	// readiness) that it may register with epoll and close itself.
	dup, err := syscall.Dup(int(fd))
	if err != nil {
		return goErr("Serve", ErrIO, "event descriptor: %v", err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "websock-events")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return goErr("Serve", ErrIO, "event descriptor: %v", err)
	}
	var perr error
	// Read calls the function, and while it returns false waits for readability. An
	// event queued after a drain emptied the queue writes a new byte (under the queue's
	// lock), which is a new readiness edge after that drain, so no event is left waiting.
	err = rc.Read(func(uintptr) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if perr = s.dispatchAll(); perr != nil {
			return true
		}
		return s.finished
	})
	if perr == nil && err != nil {
		perr = goErr("Serve", ErrIO, "event descriptor: %v", err)
	}
	if perr == nil {
		s.release()
	}
	return perr
}

// drive turns the server's driven loop until it finishes (after a shutdown), then frees
// the C server and closes done. The cycle (core/src/driven.rs): one cgo call,
// wsgo_drive, turns the loop (accept, read, write, timers) and, if that produced
// events, holds the loop's wake-ups and dispatches them into the C arena; the handlers
// run; while events came the next call follows at once, as it writes the replies the
// handlers queued and reads what arrived meanwhile. When a turn produced nothing the
// goroutine waits in poll(2) on the loop's epoll descriptor (wsgo_wait, a blocking cgo
// call) for at most the turn's wait (timers: handshake, idle and close timeouts, pings);
// the core reports a wait of 0 when it left ready work, so the loop never waits on work.
// Sends from other goroutines wake the descriptor (unless the loop is about to be
// turned anyway: wake-ups are held while the handlers of a batch run).
//
// Why not Go's netpoller: a descriptor registered there stays registered (edge-
// triggered) while the loop is being turned, so with GOMAXPROCS=1 every new socket
// event woke the M parked in netpoll while the serving goroutine was busy in cgo: ~14k
// context switches per second at 215k echoes per second, and the serving thread
// preempted inside send(2). Waiting in poll(2) only while idle cut them to ~5k and the
// CPU per echo from 4.5 to 4.0 µs (bindings-go/BENCH-NOTES.md).
func (s *Server) drive() error {
	var fd C.int
	if err := check("Serve", C.wsgo_loop_fd(C.uintptr_t(s.h), &fd)); err != nil {
		return err
	}
	var perr error
	done := false
	// Turns until a turn produces nothing; returns how long to wait then (ms), or -1 when
	// the loop has ended or failed.
	cycle := func() C.int {
		s.mu.Lock()
		defer s.mu.Unlock()
		for {
			err := check("Serve", C.wsgo_drive(C.uintptr_t(s.h), s.ctx, batchSize))
			s.deliver() // also what was collected before an error
			if err != nil {
				perr = err
				return -1
			}
			if s.ctx.dispatched > 0 {
				continue // this turn writes the replies and reads the next input
			}
			if bool(s.ctx.finished) {
				done = true
				return -1
			}
			if s.ctx.wait_ms == 0 {
				continue // work is left that readiness will not announce
			}
			return C.int(s.ctx.wait_ms)
		}
	}
	for perr == nil && !done {
		if wait := cycle(); wait >= 0 {
			// EINTR (Go preempts threads with signals) just means one more turn.
			C.wsgo_wait(fd, wait)
		}
	}
	if perr != nil {
		// Nothing will turn this loop again: end the server now (freeing it finishes
		// its loops) rather than leave Shutdown and Done waiting forever.
		s.stop(0)
	}
	s.release()
	return perr
}

// dispatchAll delivers events in batches until the queue is empty (a short batch).
// Called with s.mu held.
func (s *Server) dispatchAll() error {
	for !s.finished {
		var n C.size_t
		err := check("Serve", C.wsgo_dispatch(C.uintptr_t(s.h), s.ctx, batchSize, &n))
		s.deliver() // also what was collected before an error
		if err != nil {
			return err
		}
		if n < batchSize {
			break
		}
	}
	return nil
}

// release frees the C side after the shutdown event: later calls report
// ErrServerClosed.
func (s *Server) release() {
	s.doneOnce.Do(func() {
		C.wsgo_server_free(C.uintptr_t(s.h))
		C.wsgo_ctx_free(s.ctx)
		close(s.done)
	})
}

// Done is closed once the server has shut down and every OnClose has run.
func (s *Server) Done() <-chan struct{} { return s.done }

// SendTextByTag sends one text message to every connection tagged tag; the frame is
// encoded once and shared by all receivers. It returns how many carried the tag.
func (s *Server) SendTextByTag(tag, text string) (int, error) {
	return s.sendByTag("SendTextByTag", tag, strPtr(text), len(text), true)
}

// SendBinaryByTag sends one binary message to every connection tagged tag.
func (s *Server) SendBinaryByTag(tag string, data []byte) (int, error) {
	return s.sendByTag("SendBinaryByTag", tag, bytesPtr(data), len(data), false)
}

// SendByTag sends a message of the given type to every connection tagged tag.
func (s *Server) SendByTag(tag string, typ MessageType, data []byte) (int, error) {
	return s.sendByTag("SendByTag", tag, bytesPtr(data), len(data), typ == TextMessage)
}

func (s *Server) sendByTag(op, tag string, p unsafe.Pointer, n int, text bool) (int, error) {
	var count C.size_t
	err := check(op, C.wsgo_send_by_tag(C.uintptr_t(s.h), strPtr(tag), C.size_t(len(tag)), p, C.size_t(n), C.bool(text), &count))
	return int(count), err
}

// Broadcast sends a message to every open connection (frame encoded once) and returns
// how many were open.
func (s *Server) Broadcast(typ MessageType, data []byte) (int, error) {
	var count C.size_t
	err := check("Broadcast", C.wsgo_broadcast(C.uintptr_t(s.h), bytesPtr(data), C.size_t(len(data)), C.bool(typ == TextMessage), &count))
	return int(count), err
}

// BroadcastText sends a text message to every open connection.
func (s *Server) BroadcastText(text string) (int, error) {
	var count C.size_t
	err := check("BroadcastText", C.wsgo_broadcast(C.uintptr_t(s.h), strPtr(text), C.size_t(len(text)), true, &count))
	return int(count), err
}

// CloseByTag closes every connection tagged tag with code and reason and returns how
// many carried it.
func (s *Server) CloseByTag(tag string, code int, reason string) (int, error) {
	if code < 0 || code > 0xffff {
		return 0, goErr("CloseByTag", ErrInvalidArgument, "close code %d out of range", code)
	}
	var count C.size_t
	err := check("CloseByTag", C.wsgo_close_by_tag(C.uintptr_t(s.h), strPtr(tag), C.size_t(len(tag)), C.uint16_t(code),
		strPtr(reason), C.size_t(len(reason)), &count))
	return int(count), err
}

// CountByTag is the number of connections carrying tag now (0 for an invalid tag or a
// closed server).
func (s *Server) CountByTag(tag string) int {
	var n C.size_t
	if check("CountByTag", C.wsgo_count_by_tag(C.uintptr_t(s.h), strPtr(tag), C.size_t(len(tag)), &n)) != nil {
		return 0
	}
	return int(n)
}

// Stats returns the server's counters (zero after shutdown).
func (s *Server) Stats() Stats {
	var cs C.websock_stats
	if check("Stats", C.wsgo_stats(C.uintptr_t(s.h), &cs)) != nil {
		return Stats{}
	}
	return Stats{
		Connections: uint64(cs.connections), Accepted: uint64(cs.accepted), Opened: uint64(cs.opened),
		Rejected: uint64(cs.rejected), MessagesIn: uint64(cs.messages_in), MessagesOut: uint64(cs.messages_out),
		BytesIn: uint64(cs.bytes_in), BytesOut: uint64(cs.bytes_out), Dropped: uint64(cs.dropped),
		ProtocolErrors: uint64(cs.protocol_errors), Loops: int(cs.loops),
		CompressionBytes: uint64(cs.compression_bytes), DedicatedCompression: uint64(cs.dedicated_compression),
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) String() string { return fmt.Sprintf("websock.Server(%s)", s.addr) }
