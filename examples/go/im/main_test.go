// Runs the IM example with real clients: delivery by user tag to every device,
// offline notice, and the upgrade hook refusing a missing user with 401.
package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestIMByTag(t *testing.T) {
	srv, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()
	url := "ws://" + srv.Addr().String()
	dial := func(q string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial(url+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	expect := func(c *websocket.Conn, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, m, err := c.ReadMessage(); err != nil || string(m) != want {
			t.Fatalf("got %q (%v), want %q", m, err, want)
		}
	}
	alice := dial("/?user=alice")
	bobPhone, bobLaptop := dial("/?user=bob"), dial("/?user=bob")
	// Wait until bob's two devices are tagged (the open events run on Serve).
	for deadline := time.Now().Add(5 * time.Second); srv.CountByTag("user:bob") < 2; {
		if time.Now().After(deadline) {
			t.Fatal("bob's devices never tagged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	alice.WriteMessage(websocket.TextMessage, []byte("bob lunch?"))
	expect(bobPhone, "from alice: lunch?")
	expect(bobLaptop, "from alice: lunch?")
	bobPhone.WriteMessage(websocket.TextMessage, []byte("alice yes"))
	expect(alice, "from bob: yes")
	alice.WriteMessage(websocket.TextMessage, []byte("carol hi"))
	expect(alice, "carol is offline")

	_, resp, err := websocket.DefaultDialer.Dial(url+"/", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no user: %v %v, want 401", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "set the user cookie first\n" {
		t.Errorf("401 body %q", body)
	}
}
