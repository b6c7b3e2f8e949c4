// Runs the chat example with real gorilla/websocket clients: rooms, /join, /who, leave.
package main

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func start(t *testing.T) string {
	srv, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	t.Cleanup(func() { srv.Close() })
	return "ws://" + srv.Addr().String()
}

func dial(t *testing.T, url string) *websocket.Conn {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func expect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, m, err := c.ReadMessage()
	if err != nil || string(m) != want {
		t.Fatalf("got %q (%v), want %q", m, err, want)
	}
}

func TestChatRooms(t *testing.T) {
	url := start(t)
	ann := dial(t, url+"/room/go?nick=ann")
	expect(t, ann, "* ann joined go")
	bob := dial(t, url+"/room/go?nick=bob")
	expect(t, ann, "* bob joined go")
	expect(t, bob, "* bob joined go")
	cat := dial(t, url+"/room/rust?nick=cat")
	expect(t, cat, "* cat joined rust")

	ann.WriteMessage(websocket.TextMessage, []byte("hello gophers"))
	expect(t, ann, "ann: hello gophers")
	expect(t, bob, "ann: hello gophers")

	bob.WriteMessage(websocket.TextMessage, []byte("/who"))
	expect(t, bob, "* 2 in go")

	bob.WriteMessage(websocket.TextMessage, []byte("/join rust"))
	expect(t, ann, "* bob left")
	expect(t, bob, "* bob joined rust")
	expect(t, cat, "* bob joined rust")
	cat.WriteMessage(websocket.TextMessage, []byte("hi bob"))
	expect(t, bob, "cat: hi bob")
	expect(t, cat, "cat: hi bob")

	cat.Close()
	expect(t, bob, "* cat left")
	ann.WriteMessage(websocket.TextMessage, []byte("still only go"))
	expect(t, ann, "ann: still only go")
}
