// Tests of the driven loop (the default: Options.Loops 0 or 1, Serve's goroutine turns
// the loop) against real gorilla clients: sends by tag from many goroutines wake the idle
// loop at once, timers (handshake timeout) fire with no traffic, a slow handler delays
// its replies but keeps their order, Shutdown and Close end Serve (also without Serve),
// and the loop-thread modes (Loops > 1, Threaded) still echo.

package websock_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

// TestDrivenWakeFromOtherGoroutines: while the server is idle (no timer due for a long
// time: keepalive off), 50 goroutines send by tag; the first message arrives at once
// (the loop's descriptor woke Serve's goroutine, not a timer) and every client gets
// every message, each producer's in order.
func TestDrivenWakeFromOtherGoroutines(t *testing.T) {
	const clients, producers, perProducer = 10, 50, 20
	rec := newRecorder(false)
	srv, url := serve(t, websock.Options{PingInterval: -1, IdleTimeout: -1, HandshakeTimeout: time.Minute}, rec)
	if st := srv.Stats(); st.Loops != 1 {
		t.Fatalf("driven server has %d loops, want 1", st.Loops)
	}
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, url, nil)
		waitOpen(t, rec).Tag("t")
	}
	time.Sleep(300 * time.Millisecond) // Serve's goroutine is waiting in poll(2)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < producers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < perProducer; k++ {
				if n, err := srv.SendTextByTag("t", fmt.Sprintf("%d:%d", g, k)); n != clients || err != nil {
					t.Errorf("SendTextByTag = %d %v", n, err)
				}
			}
		}(g)
	}
	var firstAt time.Duration
	for i, c := range conns {
		next := make([]int, producers)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for m := 0; m < producers*perProducer; m++ {
			_, b, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("client %d after %d messages: %v", i, m, err)
			}
			if i == 0 && m == 0 {
				firstAt = time.Since(start)
			}
			var g, k int
			fmt.Sscanf(string(b), "%d:%d", &g, &k)
			if k != next[g] {
				t.Fatalf("client %d: producer %d sent %d, expected %d", i, g, k, next[g])
			}
			next[g]++
		}
	}
	wg.Wait()
	t.Logf("first message after %v", firstAt)
	if firstAt > 250*time.Millisecond {
		t.Errorf("the first send took %v: the idle loop was not woken", firstAt)
	}
}

// TestDrivenHandshakeTimeout: a TCP connection that never sends its upgrade is closed
// by the handshake timeout while nothing else happens: Serve honours the turn's wait.
func TestDrivenHandshakeTimeout(t *testing.T) {
	_, url := serve(t, websock.Options{HandshakeTimeout: 300 * time.Millisecond}, newRecorder(false))
	c, err := net.Dial("tcp", url[len("ws://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err = c.Read(b[:])
	el := time.Since(start)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || el >= 5*time.Second {
		t.Fatalf("read = %v after %v, want the server to close", err, el)
	}
	if el < 250*time.Millisecond || el > 3*time.Second {
		t.Errorf("closed after %v, want about 300ms", el)
	}
}

// TestDrivenSlowHandlerDelaysButKeepsOrder: on a driven loop a handler runs between two
// turns, so what it sends is written when it returns (keep handlers quick; hand slow work
// to goroutines) — in order, and the next message is still delivered.
func TestDrivenSlowHandlerDelaysButKeepsOrder(t *testing.T) {
	rec := newRecorder(false)
	rec.onMsg = func(c *websock.Conn, _ websock.MessageType, b []byte) {
		_ = c.SendText("early:" + string(b))
		if string(b) == "slow" {
			time.Sleep(200 * time.Millisecond)
		}
		_ = c.SendText("late:" + string(b))
	}
	_, url := serve(t, websock.Options{}, rec)
	c := dial(t, url, nil)
	c.WriteMessage(websocket.TextMessage, []byte("slow"))
	c.WriteMessage(websocket.TextMessage, []byte("next"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"early:slow", "late:slow", "early:next", "late:next"} {
		if _, b, err := c.ReadMessage(); err != nil || string(b) != want {
			t.Fatalf("got %q %v, want %q", b, err, want)
		}
	}
}

// TestDrivenShutdownEndsServe: Shutdown from another goroutine while clients are
// connected and idle: they get 1001, every OnClose runs, Serve returns ErrServerClosed.
func TestDrivenShutdownEndsServe(t *testing.T) {
	rec := newRecorder(true)
	srv, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:0"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	url := "ws://" + srv.Addr().String()
	a, b := dial(t, url, nil), dial(t, url, nil)
	waitOpen(t, rec)
	waitOpen(t, rec)
	codes := make(chan int, 2)
	for _, c := range []*websocket.Conn{a, b} {
		go func(c *websocket.Conn) { // reads until the close frame, which gorilla answers
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						codes <- ce.Code
					} else {
						codes <- -1
					}
					return
				}
			}
		}(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Shutdown took %v with clients answering the close", el)
	}
	for i := 0; i < 2; i++ {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Errorf("close %d, want 1001", code)
		}
	}
	select {
	case err := <-served:
		if !errors.Is(err, websock.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if len(rec.closeCh) != 2 {
		t.Errorf("%d OnClose, want 2", len(rec.closeCh))
	}
	if err := srv.Serve(context.Background()); !errors.Is(err, websock.ErrServerClosed) {
		t.Errorf("Serve after shutdown = %v", err)
	}
}

// TestDrivenShutdownWithoutServe: nobody turns a driven loop before Serve, so a client's
// handshake waits; Close turns the loop itself to the end and returns, and the client
// is let go.
func TestDrivenShutdownWithoutServe(t *testing.T) {
	srv, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:0"}, newRecorder(false))
	if err != nil {
		t.Fatal(err)
	}
	dialed := make(chan error, 1)
	go func() {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		c, _, err := d.Dial("ws://"+srv.Addr().String(), nil)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err = c.ReadMessage() // the close
			c.Close()
		}
		dialed <- err
	}()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	<-srv.Done()
	select {
	case err := <-dialed:
		if err == nil {
			t.Error("the client was neither refused nor closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client was left hanging")
	}
}

// TestThreadedLoopsEcho: Loops > 1 and Threaded with one loop use loop threads; both
// echo from several clients at once.
func TestThreadedLoopsEcho(t *testing.T) {
	for _, opts := range []websock.Options{{Loops: 3}, {Loops: 1, Threaded: true}} {
		t.Run(fmt.Sprintf("loops=%d,threaded=%v", opts.Loops, opts.Threaded), func(t *testing.T) {
			srv, url := serve(t, opts, newRecorder(true))
			want := opts.Loops
			if st := srv.Stats(); st.Loops != want {
				t.Errorf("Loops = %d, want %d", st.Loops, want)
			}
			var wg sync.WaitGroup
			for i := 0; i < 6; i++ {
				c := dial(t, url, nil)
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					for k := 0; k < 50; k++ {
						msg := fmt.Sprintf("%d/%d", i, k)
						c.WriteMessage(websocket.TextMessage, []byte(msg))
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						if _, b, err := c.ReadMessage(); err != nil || string(b) != msg {
							t.Errorf("got %q %v, want %q", b, err, msg)
							return
						}
					}
				}(i)
			}
			wg.Wait()
		})
	}
}
