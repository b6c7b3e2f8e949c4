// Examples for godoc; ExampleNewServer runs (with a gorilla/websocket client) and
// checks its output.

package websock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

// An echo server: every message goes back to its sender.
func ExampleNewServer() {
	srv, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:0"},
		websock.HandlerFuncs{Message: func(c *websock.Conn, typ websock.MessageType, data []byte) {
			_ = c.Send(typ, data)
		}})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Shutdown(context.Background())

	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, reply, _ := c.ReadMessage()
	fmt.Println(string(reply))
	// Output: hello
}

// Rooms are tags: one call reaches every member, from any goroutine.
func ExampleServer_SendTextByTag() {
	var srv *websock.Server
	h := websock.HandlerFuncs{
		Open: func(c *websock.Conn) {
			room := strings.TrimPrefix(c.Request().Path, "/room/")
			_ = c.Tag("room:" + room)
		},
		Message: func(c *websock.Conn, _ websock.MessageType, data []byte) {
			room := strings.TrimPrefix(c.Request().Path, "/room/")
			_, _ = srv.SendTextByTag("room:"+room, string(data))
		},
	}
	srv, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:8080"}, h)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Serve(context.Background()))
}

// The upgrade hook sees every header before the 101 and can refuse with a status
// (or a *websock.RejectError with headers and a body), or accept with an *Accept;
// KeepHeaders keeps the cookie for the connection's lifetime.
func ExampleOptions_checkUpgrade() {
	opts := websock.Options{
		Addr:        "127.0.0.1:8080",
		Origins:     []string{"https://app.example"},
		KeepHeaders: []string{"Cookie"},
		CheckUpgrade: func(r *websock.Request) (*websock.Accept, error) {
			if _, ok := r.Cookie("session"); !ok {
				return nil, websock.Reject(http.StatusUnauthorized)
			}
			return nil, nil
		},
	}
	srv, err := websock.NewServer(opts, websock.HandlerFuncs{Open: func(c *websock.Conn) {
		session, _ := c.Request().Cookie("session")
		_ = c.Tag("session:" + session)
	}})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Serve(context.Background()))
}

// Errors are values: match the sentinel with errors.Is, get details with errors.As.
func ExampleError() {
	_, err := websock.NewServer(websock.Options{Addr: "127.0.0.1:0", FD: 3}, websock.HandlerFuncs{})
	var we *websock.Error
	if errors.Is(err, websock.ErrInvalidArgument) && errors.As(err, &we) {
		fmt.Println(we.Op, "refused the options:", we.Msg)
	}
	// Output: NewServer refused the options: set only one of Addr, Listener and FD
}
