// Errors are values: one sentinel per kind of failure, and *Error, which carries the
// operation and the library's detailed message and matches its sentinel with errors.Is.

package websock

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Every error returned by this package matches one of these with
// errors.Is; use errors.As with *Error for the operation and the detailed message.
var (
	// ErrUnknownConnection: the connection is closed (or never existed). Sends to a
	// connection that went away report it; it is normal and safe to ignore.
	ErrUnknownConnection = errors.New("websock: no such connection (closed or never opened)")
	// ErrServerClosed: the server is shutting down or has shut down. Serve returns it
	// after Shutdown, as net/http does.
	ErrServerClosed = errors.New("websock: server closed")
	// ErrInvalidArgument: an argument or option was rejected (close code, tag, limits…).
	ErrInvalidArgument = errors.New("websock: invalid argument")
	// ErrTLS: the TLS certificate or key could not be loaded.
	ErrTLS = errors.New("websock: TLS configuration")
	// ErrIO: an operating-system error (bind, listen, descriptor).
	ErrIO = errors.New("websock: I/O error")
	// ErrBusy: Serve is already running for this server.
	ErrBusy = errors.New("websock: already serving")
	// ErrInternal: a bug inside the library was caught at the boundary.
	ErrInternal = errors.New("websock: internal error")
)

// Error is the error type of every failed call. It unwraps to its sentinel, so
// errors.Is(err, websock.ErrUnknownConnection) works on it.
type Error struct {
	Op   string // the call that failed, e.g. "SendText"
	Code int    // the C API's websock_result code (9001 and up), 0 if from Go
	Msg  string // the library's detailed message
	Kind error  // the sentinel
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("websock: %s: %v", e.Op, e.Kind)
	}
	return fmt.Sprintf("websock: %s: %s", e.Op, e.Msg)
}

// Unwrap returns the sentinel (ErrUnknownConnection, ErrServerClosed, …).
func (e *Error) Unwrap() error { return e.Kind }

// RejectError, returned by Options.CheckUpgrade, refuses an upgrade with an HTTP
// response: Status (400-599; other values give 403), optional response headers (e.g.
// WWW-Authenticate) and a body (e.g. a short text/plain explanation).
//
//	return nil, &websock.RejectError{Status: http.StatusUnauthorized,
//		Header: http.Header{"Www-Authenticate": {"Bearer"}}, Body: []byte("log in first\n")}
type RejectError struct {
	Status int
	Header http.Header
	Body   []byte
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("websock: upgrade rejected with HTTP %d", e.Status)
}

// Reject refuses an upgrade from Options.CheckUpgrade with this HTTP status (400-599,
// e.g. 401) and no body. Any other non-nil error from CheckUpgrade answers 403.
func Reject(status int) error {
	return &RejectError{Status: status}
}
