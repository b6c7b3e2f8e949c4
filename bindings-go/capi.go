// The cgo boundary: link flags, result codes to Go errors, and Options to a
// websock_options builder. Every C call of the package goes through shims.h, which
// takes the server handle as an integer (see the comment there).

package websock

/*
#cgo CFLAGS: -I${SRCDIR}/include -O2
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/lib/linux_amd64/libwebsock.a -ldl -lm -lpthread
#cgo linux,arm64 LDFLAGS: ${SRCDIR}/lib/linux_arm64/libwebsock.a -ldl -lm -lpthread
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Result codes of websock.h (WEBSOCK_RESULT_*).
const (
	rcOK                = 0
	rcNullPointer       = 9001
	rcInvalidUTF8       = 9002
	rcInvalidArgument   = 9003
	rcUnknownConnection = 9004
	rcServerClosed      = 9005
	rcStaleHandle       = 9006
	rcTLS               = 9007
	rcIO                = 9008
	rcBusy              = 9009
	rcTimeout           = 9010
	rcNotFound          = 9011
	rcBufferTooSmall    = 9012
	rcPanic             = 9013
)

// kindOf maps a result code to its sentinel: the one place where this happens.
func kindOf(code uint32) error {
	switch code {
	case rcInvalidUTF8, rcInvalidArgument, rcNotFound, rcBufferTooSmall:
		return ErrInvalidArgument
	case rcUnknownConnection:
		return ErrUnknownConnection
	case rcServerClosed, rcStaleHandle:
		return ErrServerClosed
	case rcTLS:
		return ErrTLS
	case rcIO:
		return ErrIO
	case rcBusy:
		return ErrBusy
	default: // NULL pointer, panic, timeout: a bug on one side of the boundary
		return ErrInternal
	}
}

// check turns a wsgo_rc into nil or an *Error, freeing the C copy of the message.
func check(op string, r C.wsgo_rc) error {
	if r.code == rcOK {
		return nil
	}
	msg := ""
	if r.msg != nil {
		msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return &Error{Op: op, Code: int(r.code), Msg: msg, Kind: kindOf(uint32(r.code))}
}

// goErr builds an *Error for a failure found on the Go side.
func goErr(op string, kind error, format string, args ...any) error {
	return &Error{Op: op, Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// bytesPtr gives C a pointer to b's bytes (nil for an empty slice, allowed with length 0).
// The bytes are only read during the call: cgo's pointer rules hold (no Go pointers inside).
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// strPtr is bytesPtr for a string, without copying it.
func strPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// cstring is a NUL-terminated Go copy of s for the calls that take C strings; it stays
// in Go memory (no malloc/free pair), which is fine because C only reads it during the call.
func cstring(s string) *C.char {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// Library defaults, used when only one of a pair of settings is given.
const (
	defMaxSize        = 64 << 20
	defHandshake      = 10 * time.Second
	defCloseTimeout   = 5 * time.Second
	defPing           = 30 * time.Second
	defIdle           = 120 * time.Second
	defMaxBuffered    = 64 << 20
	defDrainThreshold = 64 << 10
	defShutdown       = 5 * time.Second
)

func ms(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	if d < time.Millisecond {
		return 1
	}
	return C.uint64_t(d / time.Millisecond)
}

// buildOptions fills a websock_options builder from o; the caller frees it.
func buildOptions(o *Options) (*C.websock_options, error) {
	const op = "NewServer"
	set := 0
	for _, b := range []bool{o.Addr != "", o.Listener != nil, o.FD != 0} {
		if b {
			set++
		}
	}
	if set > 1 {
		return nil, goErr(op, ErrInvalidArgument, "set only one of Addr, Listener and FD")
	}
	// The setters report errors through a thread-local message read by a second C
	// call: keep both on one OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	co := C.websock_options_new()
	if co == nil {
		return nil, goErr(op, ErrInternal, "out of memory")
	}
	err := fillOptions(co, o)
	if err != nil {
		C.websock_options_free(co)
		return nil, err
	}
	return co, nil
}

func fillOptions(co *C.websock_options, o *Options) error {
	const op = "NewServer"
	c := func(r C.websock_result) error { return check(op, C.wsgo_ret(r)) }
	var errs []error
	add := func(e error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	switch {
	case o.Addr != "":
		add(c(C.websock_options_set_address(co, cstring(o.Addr))))
	case o.Listener != nil:
		fd, err := dupListener(o.Listener)
		if err != nil {
			return goErr(op, ErrIO, "listener: %v", err)
		}
		if err := c(C.websock_options_set_fd(co, C.int(fd))); err != nil {
			syscall.Close(fd)
			return err
		}
	case o.FD != 0:
		add(c(C.websock_options_set_fd(co, C.int(o.FD))))
	}
	if t := o.TLS; t != nil {
		switch {
		case t.CertFile != "" || t.KeyFile != "":
			add(c(C.websock_options_set_tls_files(co, cstring(t.CertFile), cstring(t.KeyFile))))
		default:
			add(c(C.websock_options_set_tls_pem(co, (*C.uint8_t)(bytesPtr(t.CertPEM)), C.size_t(len(t.CertPEM)),
				(*C.uint8_t)(bytesPtr(t.KeyPEM)), C.size_t(len(t.KeyPEM)))))
		}
	}
	for _, v := range o.Origins {
		add(c(C.websock_options_add_origin(co, cstring(v))))
	}
	for _, v := range o.Subprotocols {
		add(c(C.websock_options_add_subprotocol(co, cstring(v))))
	}
	for _, v := range o.KeepHeaders {
		if v == "*" {
			add(c(C.websock_options_keep_all_headers(co)))
		} else {
			add(c(C.websock_options_keep_header(co, cstring(v))))
		}
	}
	for _, v := range o.TrustedProxies {
		add(c(C.websock_options_add_trusted_proxy(co, cstring(v))))
	}
	if o.Loops < 0 || o.Backlog < 0 || o.MaxMessageSize < 0 || o.MaxFrameSize < 0 || o.MaxRequestHead < 0 ||
		o.MaxBuffered < 0 || o.DrainThreshold < 0 || o.HandshakeTimeout < 0 || o.CloseTimeout < 0 {
		add(goErr(op, ErrInvalidArgument, "negative count, size or timeout"))
	}
	if o.Loops > 0 {
		add(c(C.websock_options_set_loops(co, C.size_t(o.Loops))))
	}
	if o.driven() {
		add(c(C.websock_options_set_driven(co, true)))
	}
	if o.Backlog > 0 {
		add(c(C.websock_options_set_backlog(co, C.int(o.Backlog))))
	}
	if o.ReusePort {
		add(c(C.websock_options_set_reuse_port(co, true)))
	}
	if o.MaxMessageSize > 0 || o.MaxFrameSize > 0 {
		m, f := or(o.MaxMessageSize, defMaxSize), or(o.MaxFrameSize, defMaxSize)
		add(c(C.websock_options_set_max_message_size(co, C.size_t(m), C.size_t(f))))
	}
	if o.MaxRequestHead > 0 {
		add(c(C.websock_options_set_max_request_head(co, C.size_t(o.MaxRequestHead))))
	}
	if o.HandshakeTimeout > 0 || o.CloseTimeout > 0 {
		h, cl := orD(o.HandshakeTimeout, defHandshake), orD(o.CloseTimeout, defCloseTimeout)
		add(c(C.websock_options_set_timeouts(co, ms(h), ms(cl))))
	}
	if o.PingInterval != 0 || o.IdleTimeout != 0 {
		// 0 keeps the default, negative turns off (C: 0 = off).
		p, i := orD(o.PingInterval, defPing), orD(o.IdleTimeout, defIdle)
		add(c(C.websock_options_set_keepalive(co, ms(p), ms(i))))
	}
	if o.MaxBuffered > 0 || o.DrainThreshold > 0 || o.SlowConsumer != (SlowConsumerPolicy{}) {
		mb, dt := or(o.MaxBuffered, defMaxBuffered), or(o.DrainThreshold, defDrainThreshold)
		policy, code := C.uint32_t(0), C.uint16_t(or(o.SlowConsumer.CloseCode, ClosePolicyViolation))
		if o.SlowConsumer.DropNewest {
			policy = 1
		}
		add(c(C.websock_options_set_backpressure(co, C.size_t(mb), C.size_t(dt), policy, code)))
	}
	if z := o.Compression; z != nil {
		add(fillCompression(co, z))
	}
	return errors.Join(errs...)
}

// fillCompression maps Compression onto websock_options_set_compression*; the core
// checks the values (window bits, level) and its messages come back as errors.
func fillCompression(co *C.websock_options, z *Compression) error {
	const op = "NewServer"
	c := func(r C.websock_result) error { return check(op, C.wsgo_ret(r)) }
	var mode C.uint32_t
	switch z.Mode {
	case CompressionDisabled:
		mode = C.WEBSOCK_COMPRESSION_MODE_DISABLED
	case CompressionShared:
		mode = C.WEBSOCK_COMPRESSION_MODE_SHARED
	case CompressionDedicated:
		if z.WindowBits == 0 {
			return goErr(op, ErrInvalidArgument, "Compression.WindowBits (9..15) is required with CompressionDedicated")
		}
		mode = C.WEBSOCK_COMPRESSION_MODE_DEDICATED
	default:
		return goErr(op, ErrInvalidArgument, "unknown CompressionMode %d", int(z.Mode))
	}
	if z.WindowBits < 0 || z.WindowBits > 255 || z.Level < 0 || z.Level > 255 {
		return goErr(op, ErrInvalidArgument, "Compression.WindowBits must be 9..15 and Level 1..9")
	}
	if err := c(C.websock_options_set_compression(co, mode, C.uint8_t(z.WindowBits))); err != nil {
		return err
	}
	if z.Threshold != 0 {
		if err := c(C.websock_options_set_compression_threshold(co, C.size_t(max(z.Threshold, 0)))); err != nil {
			return err
		}
	}
	if z.Level != 0 {
		if err := c(C.websock_options_set_compression_level(co, C.uint8_t(z.Level))); err != nil {
			return err
		}
	}
	if z.MaxDedicated != 0 {
		if err := c(C.websock_options_set_max_dedicated_compression(co, C.size_t(max(z.MaxDedicated, 0)))); err != nil {
			return err
		}
	}
	return nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orD(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// dupListener returns a close-on-exec duplicate of a listener's descriptor, which the
// server then owns; the application keeps (and may close) its own listener.
func dupListener(l net.Listener) (int, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no file descriptor", l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd, derr := -1, error(nil)
	err = rc.Control(func(fd uintptr) {
		nfd, derr = syscall.Dup(int(fd))
		if derr == nil {
			syscall.CloseOnExec(nfd)
		}
	})
	if err != nil {
		return -1, err
	}
	return nfd, derr
}
