// permessage-deflate through Options.Compression against gorilla/websocket with
// EnableCompression (gorilla offers "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover"): negotiation, what Request reports, large messages both
// ways, the server's byte counters, dedicated-mode stats and bad settings.

package websock_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

// bigJSON is ~140 KB of repetitive JSON: it compresses more than 10x.
func bigJSON() string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"user": "alice", "room": "lobby", "text": "hello there", "seq": %d}`, i)
	}
	b.WriteString("]")
	return b.String()
}

func dialDeflate(t *testing.T, url string, compress bool) (*websocket.Conn, string) {
	t.Helper()
	d := websocket.Dialer{EnableCompression: compress}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

// roundTrips echoes big text and binary messages (the client compresses its side too)
// and returns the payload bytes sent one way.
func roundTrips(t *testing.T, c *websocket.Conn, compress bool) int {
	t.Helper()
	c.EnableWriteCompression(compress)
	big := bigJSON()
	sent := 0
	for i := 0; i < 5; i++ {
		msg := big + fmt.Sprint(i)
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, b, err := c.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(b) != msg {
			t.Fatalf("text echo %d: type %d, %d bytes, %v", i, typ, len(b), err)
		}
		sent += len(msg)
	}
	c.WriteMessage(websocket.BinaryMessage, []byte(big))
	typ, b, err := c.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage || !bytes.Equal(b, []byte(big)) {
		t.Fatalf("binary echo: %v", err)
	}
	sent += len(big)
	c.WriteMessage(websocket.TextMessage, []byte("hi")) // under the threshold
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "hi" {
		t.Fatalf("short echo: %q %v", b, err)
	}
	return sent
}

func waitStats(t *testing.T, srv *websock.Server, ok func(websock.Stats) bool) websock.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := srv.Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCompressionSharedWithGorilla(t *testing.T) {
	rec := newRecorder(true)
	srv, url := serve(t, websock.Options{Loops: 1, Compression: &websock.Compression{}}, rec)
	c, ext := dialDeflate(t, url, true)
	if !strings.HasPrefix(ext, "permessage-deflate") || !strings.Contains(ext, "server_no_context_takeover") {
		t.Fatalf("Sec-WebSocket-Extensions = %q", ext)
	}
	conn := waitOpen(t, rec)
	if r := conn.Request(); !r.PermessageDeflate || r.Extensions != ext {
		t.Errorf("Request.Extensions %q PermessageDeflate %v, want %q true", r.Extensions, r.PermessageDeflate, ext)
	}
	sent := roundTrips(t, c, true)
	st := waitStats(t, srv, func(s websock.Stats) bool { return s.MessagesOut >= 7 })
	// Both directions crossed the wire compressed (the server counts wire bytes).
	if st.BytesIn > uint64(sent/5) || st.BytesOut > uint64(sent/5) {
		t.Errorf("sent %d payload bytes, wire in %d out %d: not compressed", sent, st.BytesIn, st.BytesOut)
	}
	if st.DedicatedCompression != 0 || st.CompressionBytes != 0 {
		t.Errorf("shared mode holds dedicated contexts: %+v", st)
	}

	// A client that does not offer the extension gets none.
	c2, ext2 := dialDeflate(t, url, false)
	if ext2 != "" {
		t.Errorf("no offer, answered %q", ext2)
	}
	if r := waitOpen(t, rec).Request(); r.PermessageDeflate || r.Extensions != "" {
		t.Errorf("no offer: Request %q %v", r.Extensions, r.PermessageDeflate)
	}
	c2.WriteMessage(websocket.TextMessage, []byte("plain"))
	if _, b, err := c2.ReadMessage(); err != nil || string(b) != "plain" {
		t.Fatalf("plain echo: %q %v", b, err)
	}
}

func TestCompressionDisabledByDefault(t *testing.T) {
	for _, z := range []*websock.Compression{nil, {Mode: websock.CompressionDisabled}} {
		rec := newRecorder(true)
		srv, url := serve(t, websock.Options{Loops: 1, Compression: z}, rec)
		c, ext := dialDeflate(t, url, true)
		if ext != "" {
			t.Fatalf("compression %+v: answered %q", z, ext)
		}
		if r := waitOpen(t, rec).Request(); r.PermessageDeflate {
			t.Errorf("PermessageDeflate true without compression")
		}
		sent := roundTrips(t, c, false)
		st := waitStats(t, srv, func(s websock.Stats) bool { return s.MessagesOut >= 7 })
		if st.BytesOut < uint64(sent) {
			t.Errorf("compression %+v: %d bytes out for %d sent", z, st.BytesOut, sent)
		}
	}
}

func TestCompressionDedicatedThresholdLevelCap(t *testing.T) {
	rec := newRecorder(true)
	z := &websock.Compression{Mode: websock.CompressionDedicated, WindowBits: 12, Threshold: 1024, Level: 6, MaxDedicated: 1}
	srv, url := serve(t, websock.Options{Loops: 1, Compression: z}, rec)
	// gorilla asks for server_no_context_takeover: the server honours it (no context
	// kept for this connection) and still compresses.
	c1, ext1 := dialDeflate(t, url, true)
	if !strings.HasPrefix(ext1, "permessage-deflate") || !strings.Contains(ext1, "server_no_context_takeover") {
		t.Fatalf("dedicated, gorilla's offer: answered %q", ext1)
	}
	sent := roundTrips(t, c1, true)
	st := waitStats(t, srv, func(s websock.Stats) bool { return s.MessagesOut >= 7 })
	if st.BytesOut > uint64(sent/5) || st.DedicatedCompression != 0 {
		t.Errorf("dedicated, gorilla: %d bytes out for %d sent, %d dedicated", st.BytesOut, sent, st.DedicatedCompression)
	}
	// A client that lets the server keep its context (plain "permessage-deflate", as
	// browsers offer) gets a dedicated 4 KiB window: counted in the stats.
	raw1 := rawDeflateClient(t, srv.Addr().String())
	if !strings.Contains(raw1.ext, "server_max_window_bits=12") || strings.Contains(raw1.ext, "server_no_context_takeover") {
		t.Fatalf("dedicated answer %q", raw1.ext)
	}
	for i := 0; i < 3; i++ {
		raw1.echoCompressed(t, bigJSON()[:20000]+fmt.Sprint(i))
	}
	st = waitStats(t, srv, func(s websock.Stats) bool { return s.DedicatedCompression == 1 && s.CompressionBytes > 0 })
	if st.DedicatedCompression != 1 || st.CompressionBytes == 0 || st.CompressionBytes > 2*4096 {
		t.Errorf("dedicated: %d contexts, %d bytes, want 1 and 1..8192", st.DedicatedCompression, st.CompressionBytes)
	}
	// Past MaxDedicated (1) the next connection is negotiated as shared.
	raw2 := rawDeflateClient(t, srv.Addr().String())
	if !strings.Contains(raw2.ext, "server_no_context_takeover") {
		t.Errorf("over the cap: answered %q", raw2.ext)
	}
	raw2.echoCompressed(t, bigJSON()[:5000])
	raw1.nc.Close()
	if st = waitStats(t, srv, func(s websock.Stats) bool { return s.DedicatedCompression == 0 }); st.DedicatedCompression != 0 {
		t.Errorf("the dedicated context outlived its connection: %+v", st)
	}
	// Threshold: a 3000-byte message goes compressed at 1024, plain at 4096.
	for _, tc := range []struct {
		threshold  int
		compressed bool
	}{{4096, false}, {-1, true}} {
		rec := newRecorder(true)
		srv, url := serve(t, websock.Options{Loops: 1, Compression: &websock.Compression{Threshold: tc.threshold, Level: 1}}, rec)
		c, _ := dialDeflate(t, url, true)
		msg := bigJSON()[:3000]
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		if _, b, err := c.ReadMessage(); err != nil || string(b) != msg {
			t.Fatalf("threshold %d: echo %v", tc.threshold, err)
		}
		st := waitStats(t, srv, func(s websock.Stats) bool { return s.MessagesOut >= 1 })
		if tc.compressed != (st.BytesOut < uint64(len(msg)/3)) {
			t.Errorf("threshold %d: %d bytes out for %d", tc.threshold, st.BytesOut, len(msg))
		}
	}
}

func TestCompressionBadSettings(t *testing.T) {
	for _, z := range []websock.Compression{
		{Mode: websock.CompressionDedicated},                 // WindowBits required
		{Mode: websock.CompressionDedicated, WindowBits: 8},  // 9..15
		{Mode: websock.CompressionDedicated, WindowBits: 16}, // 9..15
		{Level: 10},
		{Mode: websock.CompressionMode(7)},
	} {
		_, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:0", Compression: &z}, websock.HandlerFuncs{})
		var we *websock.Error
		if !errors.Is(err, websock.ErrInvalidArgument) || !errors.As(err, &we) {
			t.Errorf("%+v: %v, want ErrInvalidArgument", z, err)
		}
	}
}

// rawConn is a minimal client speaking permessage-deflate by hand (compress/flate), for
// the offer gorilla does not make: plain "permessage-deflate", which lets the server
// keep its compression context between messages.
type rawConn struct {
	nc   net.Conn
	br   *bufio.Reader
	ext  string
	dict []byte // the last 4 KiB the server compressed: its window (dedicated mode)
}

func rawDeflateClient(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("raw handshake: %v %v", resp, err)
	}
	return &rawConn{nc: nc, br: br, ext: resp.Header.Get("Sec-WebSocket-Extensions")}
}

// echoCompressed sends msg as one compressed, masked text frame and checks that the
// echo comes back compressed (RSV1) and inflates to msg.
func (c *rawConn) echoCompressed(t *testing.T, msg string) {
	t.Helper()
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, 6)
	fw.Write([]byte(msg))
	fw.Flush()
	payload := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	frame := []byte{0x80 | 0x40 | 0x1} // FIN, RSV1, text
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n < 65536:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if h[0] != 0x80|0x40|0x1 {
		t.Fatalf("echo frame header %#x, want FIN|RSV1|text", h[0])
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		io.ReadFull(c.br, e[:])
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		io.ReadFull(c.br, e[:])
		n = binary.BigEndian.Uint64(e[:])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		t.Fatal(err)
	}
	// The server keeps its window across messages (dedicated mode): inflate with the
	// last 4 KiB of earlier output as the dictionary, which is what that window holds.
	// The stream ends at a sync flush, hence ErrUnexpectedEOF after the data.
	fr := flate.NewReaderDict(io.MultiReader(bytes.NewReader(body), bytes.NewReader([]byte{0, 0, 0xff, 0xff})), c.dict)
	out, err := io.ReadAll(fr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	if string(out) != msg {
		t.Fatalf("compressed echo differs: %d bytes, want %d", len(out), len(msg))
	}
	c.dict = append(c.dict, out...)
	if len(c.dict) > 4096 {
		c.dict = c.dict[len(c.dict)-4096:]
	}
}
