// Chat with rooms on the websock Go binding. A client connects to /room/<name>?nick=<nick>
// and joins that room (default "lobby"); every text it sends goes to everyone in the
// room. "/join <room>" moves to another room, "/who" counts the room. Rooms are tags:
// the server keeps no member lists, SendTextByTag reaches a room in one call.
//
//	go run ./chat -addr 127.0.0.1:8080      then connect to ws://127.0.0.1:8080/room/go?nick=ann
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"strings"
	"syscall"

	"websock.dev/go/websock"
)

// member is the per-connection state, kept on the connection with SetValue.
type member struct {
	nick, room string
}

type chat struct {
	srv *websock.Server
}

func roomTag(room string) string { return "room:" + room }

func (h *chat) join(c *websock.Conn, m *member, room string) {
	if m.room != "" {
		_ = c.Untag(roomTag(m.room))
		h.srv.SendTextByTag(roomTag(m.room), fmt.Sprintf("* %s left", m.nick))
	}
	m.room = room
	_ = c.Tag(roomTag(room))
	h.srv.SendTextByTag(roomTag(room), fmt.Sprintf("* %s joined %s", m.nick, room))
}

func (h *chat) OnOpen(c *websock.Conn) {
	r := c.Request()
	room := strings.TrimPrefix(r.Path, "/room/")
	if room == "" || room == r.Path {
		room = "lobby"
	}
	nick := "guest"
	for _, kv := range strings.Split(r.Query, "&") {
		if v, ok := strings.CutPrefix(kv, "nick="); ok && v != "" {
			nick = v
		}
	}
	m := &member{nick: nick}
	c.SetValue(m)
	h.join(c, m, room)
}

func (h *chat) OnMessage(c *websock.Conn, typ websock.MessageType, data []byte) {
	m := c.Value().(*member)
	text := string(data)
	switch {
	case typ != websock.TextMessage:
		_ = c.SendText("* only text, please")
	case strings.HasPrefix(text, "/join "):
		h.join(c, m, strings.TrimSpace(strings.TrimPrefix(text, "/join ")))
	case text == "/who":
		_ = c.SendText(fmt.Sprintf("* %d in %s", h.srv.CountByTag(roomTag(m.room)), m.room))
	default:
		h.srv.SendTextByTag(roomTag(m.room), m.nick+": "+text)
	}
}

func (h *chat) OnClose(c *websock.Conn, _ websock.CloseInfo) {
	// The connection's tags are gone already; tell the room it left.
	if m, ok := c.Value().(*member); ok {
		h.srv.SendTextByTag(roomTag(m.room), fmt.Sprintf("* %s left", m.nick))
	}
}

func (h *chat) OnDrain(*websock.Conn) {}

// newServer starts the chat server on addr (the tests use port 0).
func newServer(addr string) (*websock.Server, error) {
	h := &chat{}
	srv, err := websock.NewServer(websock.Options{Addr: addr}, h)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return srv, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	srv, err := newServer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("chat on ws://%s/room/<name>?nick=<nick>", srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil && err != context.Canceled {
		log.Fatal(err)
	}
}
