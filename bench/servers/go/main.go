// Bench server for wsload (/work/shared/bench/peers/CONTRACT.md) on the Go binding:
// "/echo" and "/" echo, "/sub" tags the connection "all", "/pub" sends every message
// to "all" with SendByTag (one frame encoded once, shared by every subscriber).
//
// Changed defaults (contract): none needed. Messages up to 64 MiB and a 64 MiB
// outbound queue per connection are the library defaults; keepalive pings every 30 s
// and a 120 s idle timeout are within the contract (wsload answers pings).
// Backlog 4096 as the Rust bench server. LOOPS (default 0: one loop driven by Serve's
// goroutine, the binding's default) sets the event-loop count; THREADED=1 runs the
// loop(s) on threads of their own (the binding's pre-driven model, for A/B runs).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"websock.dev/go/websock"
)

type bench struct{ srv *websock.Server }

func (b *bench) OnOpen(c *websock.Conn) {
	if c.Request().Path == "/sub" {
		_ = c.Tag("all")
	}
}

func (b *bench) OnMessage(c *websock.Conn, typ websock.MessageType, data []byte) {
	switch c.Request().Path {
	case "/pub":
		_, _ = b.srv.SendByTag("all", typ, data)
	case "/sub":
	default:
		_ = c.Send(typ, data)
	}
}

func (b *bench) OnClose(*websock.Conn, websock.CloseInfo) {}
func (b *bench) OnDrain(*websock.Conn)                    {}

func main() {
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "9001"
	}
	loops, _ := strconv.Atoi(os.Getenv("LOOPS"))
	threaded := os.Getenv("THREADED") == "1"
	b := &bench{}
	srv, err := websock.NewServer(websock.Options{Addr: net.JoinHostPort(host, port), Loops: loops, Threaded: threaded, Backlog: 4096}, b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "websock go bench server:", err)
		os.Exit(1)
	}
	b.srv = srv
	fmt.Println("READY")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	_ = srv.Serve(ctx)
}
