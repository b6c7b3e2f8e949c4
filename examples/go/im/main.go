// Instant messages by tag on the websock Go binding. Each client connects with
// ?user=<name> (the upgrade hook refuses a missing or malformed name with 401) and
// gets the tag "user:<name>", so all of a user's devices receive their messages. A text
// "<to> <message>" is delivered with SendTextByTag("user:<to>", …): no lookup table,
// whichever loop each device sits on.
//
//	go run ./im     then connect to ws://127.0.0.1:8081/?user=alice and send "bob hi"
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"strings"
	"syscall"

	"websock.dev/go/websock"
)

func userOf(r *websock.Request) string {
	for _, kv := range strings.Split(r.Query, "&") {
		if v, ok := strings.CutPrefix(kv, "user="); ok {
			return v
		}
	}
	return ""
}

func validUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for _, r := range u {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

type im struct {
	srv *websock.Server
}

func (h *im) OnOpen(c *websock.Conn) {
	_ = c.Tag("user:" + userOf(c.Request()))
}

func (h *im) OnMessage(c *websock.Conn, typ websock.MessageType, data []byte) {
	from := userOf(c.Request())
	to, text, ok := strings.Cut(string(data), " ")
	if typ != websock.TextMessage || !ok || !validUser(to) {
		_ = c.SendText("error: send \"<user> <message>\"")
		return
	}
	n, err := h.srv.SendTextByTag("user:"+to, "from "+from+": "+text)
	switch {
	case err != nil:
		_ = c.SendText("error: " + err.Error())
	case n == 0:
		_ = c.SendText(to + " is offline")
	}
}

func (h *im) OnClose(*websock.Conn, websock.CloseInfo) {}
func (h *im) OnDrain(*websock.Conn)                    {}

func newServer(addr string) (*websock.Server, error) {
	h := &im{}
	srv, err := websock.NewServer(websock.Options{
		Addr: addr,
		CheckUpgrade: func(r *websock.Request) (*websock.Accept, error) {
			if !validUser(userOf(r)) {
				return nil, &websock.RejectError{Status: http.StatusUnauthorized,
					Body: []byte("set the user cookie first\n")}
			}
			return nil, nil
		},
	}, h)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return srv, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	srv, err := newServer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("IM on ws://%s/?user=<name>", srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil && err != context.Canceled {
		log.Fatal(err)
	}
}
