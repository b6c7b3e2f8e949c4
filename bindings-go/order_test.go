// Ordering of what a handler sends: messages keep their order with later by-tag sends,
// pings and closes, and a slow handler does not hold back what it already sent (both
// would break if replies were ever collected per batch; see BENCH-NOTES.md, run 4).

package websock_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

func TestRepliesKeepOrderWithCloseAndByTag(t *testing.T) {
	rec := newRecorder(false)
	rec.onMsg = func(c *websock.Conn, _ websock.MessageType, b []byte) {
		switch string(b) {
		case "tag":
			_ = c.Tag("t")
			_ = c.SendText("1")
			_, _ = c.Server().SendTextByTag("t", "2")
			_ = c.SendText("3")
			_ = c.Ping([]byte("p"))
			_ = c.SendText("4")
		case "bye":
			_ = c.SendText("last words")
			_ = c.Close(4000, "done")
		}
	}
	_, url := serve(t, websock.Options{}, rec)
	c := dial(t, url, nil)
	pinged := make(chan string, 1)
	c.SetPingHandler(func(p string) error { pinged <- p; return nil })
	c.WriteMessage(websocket.TextMessage, []byte("tag"))
	for _, want := range []string{"1", "2", "3", "4"} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := c.ReadMessage(); err != nil || string(b) != want {
			t.Fatalf("got %q %v, want %q", b, err, want)
		}
		if want == "3" {
			select {
			case <-pinged:
				t.Fatal("the ping overtook message 3")
			default:
			}
		}
	}
	select {
	case p := <-pinged:
		if p != "p" {
			t.Errorf("ping payload %q", p)
		}
	default:
		t.Error("the ping did not arrive before message 4")
	}
	c.WriteMessage(websocket.TextMessage, []byte("bye"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "last words" {
		t.Fatalf("before the close: %q %v", b, err)
	}
	if code := readClose(t, c); code != 4000 {
		t.Errorf("close code %d", code)
	}
}

// With loop threads (Options.Threaded), a reply is written while the handler that sent
// it is still running. (A driven loop writes it when the handler returns: see
// TestDrivenSlowHandlerDelaysButKeepsOrder.)
func TestSlowHandlerDoesNotHoldEarlierReplies(t *testing.T) {
	const slow = 400 * time.Millisecond
	rec := newRecorder(false)
	rec.onMsg = func(c *websock.Conn, _ websock.MessageType, b []byte) {
		_ = c.SendText("early")
		time.Sleep(slow) // a handler that should have used a goroutine
		_ = c.SendText("late")
	}
	_, url := serve(t, websock.Options{Threaded: true}, rec)
	c := dial(t, url, nil)
	start := time.Now()
	c.WriteMessage(websocket.TextMessage, []byte("go"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "early" {
		t.Fatalf("%q %v", b, err)
	}
	if el := time.Since(start); el > slow/2 {
		t.Errorf("the first reply took %v: held until the slow handler returned", el)
	}
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "late" {
		t.Fatalf("%q %v", b, err)
	}
}
