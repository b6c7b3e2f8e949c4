// The application's side: the Handler interface with its four events, the HandlerFuncs
// adapter, and the small value types the events carry.

package websock

// MessageType says whether a message is UTF-8 text or binary data.
type MessageType int

const (
	// TextMessage is a UTF-8 text message (opcode 1); the server has validated it.
	TextMessage MessageType = 1
	// BinaryMessage is a binary message (opcode 2).
	BinaryMessage MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "unknown"
}

// Handler receives a server's events. They are delivered one at a time, in order, on
// the goroutine that runs Server.Serve: a slow handler delays every connection, so
// hand long work to another goroutine (every Conn and Server method may be called from
// any goroutine). Every OnOpen is followed by exactly one OnClose.
type Handler interface {
	// OnOpen: the connection is upgraded; it may be sent to and tagged from now on.
	OnOpen(c *Conn)
	// OnMessage: a whole message arrived (fragments joined). data belongs to the
	// handler: it may keep it.
	OnMessage(c *Conn, typ MessageType, data []byte)
	// OnClose: the connection ended; sends to it now fail with ErrUnknownConnection.
	OnClose(c *Conn, info CloseInfo)
	// OnDrain: the connection's outbound queue fell back to Options.DrainThreshold.
	OnDrain(c *Conn)
}

// HandlerFuncs adapts plain functions to a Handler; nil fields are skipped.
//
//	websock.HandlerFuncs{Message: func(c *websock.Conn, t websock.MessageType, b []byte) {
//		c.Send(t, b)
//	}}
type HandlerFuncs struct {
	Open    func(c *Conn)
	Message func(c *Conn, typ MessageType, data []byte)
	Close   func(c *Conn, info CloseInfo)
	Drain   func(c *Conn)
}

func (h HandlerFuncs) OnOpen(c *Conn) {
	if h.Open != nil {
		h.Open(c)
	}
}

func (h HandlerFuncs) OnMessage(c *Conn, typ MessageType, data []byte) {
	if h.Message != nil {
		h.Message(c, typ, data)
	}
}

func (h HandlerFuncs) OnClose(c *Conn, info CloseInfo) {
	if h.Close != nil {
		h.Close(c, info)
	}
}

func (h HandlerFuncs) OnDrain(c *Conn) {
	if h.Drain != nil {
		h.Drain(c)
	}
}

// CloseKind says why a connection ended.
type CloseKind int

const (
	ClosedByPeer        CloseKind = iota // the peer sent a close frame (Code is its code; 1005 if none)
	ClosedLocally                        // the application closed it (Close, CloseByTag)
	ClosedAbnormally                     // TCP ended without a closing handshake: code 1006
	ClosedTimeout                        // no traffic within the idle timeout: code 1006
	ClosedProtocolError                  // the peer broke the protocol: 1002, 1007 or 1009
	ClosedSlowConsumer                   // its outbound queue passed Options.MaxBuffered
	ClosedShutdown                       // the server shut down: code 1001
)

var closeKindNames = [...]string{"peer", "local", "abnormal", "timeout", "protocol_error", "slow_consumer", "shutdown"}

func (k CloseKind) String() string {
	if k >= 0 && int(k) < len(closeKindNames) {
		return closeKindNames[k]
	}
	return "unknown"
}

// CloseInfo is what OnClose reports.
type CloseInfo struct {
	Code   int // the WebSocket close code (1000 normal, 1001 going away, 1006 abnormal …)
	Reason string
	Kind   CloseKind
}

// Common close codes (RFC 6455 section 7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005
	CloseAbnormal        = 1006
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
)
