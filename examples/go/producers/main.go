// Many goroutines producing by tag on the websock Go binding. Each of -sensors
// goroutines publishes a reading every -every to the tag "sensor:<n>" and to "all" with
// SendTextByTag, directly from its own goroutine (every Server method is safe from any
// goroutine; the frame is encoded once per call whatever the number of receivers).
// Clients subscribe with /sensor/<n> or /all.
//
//	go run ./producers -sensors 100
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"websock.dev/go/websock"
)

type subscriptions struct{}

func (subscriptions) OnOpen(c *websock.Conn) {
	switch p := c.Request().Path; {
	case p == "/all":
		_ = c.Tag("all")
	case strings.HasPrefix(p, "/sensor/"):
		_ = c.Tag("sensor:" + strings.TrimPrefix(p, "/sensor/"))
	default:
		_ = c.Close(websock.ClosePolicyViolation, "subscribe to /all or /sensor/<n>")
	}
}

func (subscriptions) OnMessage(*websock.Conn, websock.MessageType, []byte) {}
func (subscriptions) OnClose(*websock.Conn, websock.CloseInfo)             {}
func (subscriptions) OnDrain(*websock.Conn)                                {}

// produce runs n sensor goroutines until ctx ends; each message is "<sensor> <seq>".
func produce(ctx context.Context, srv *websock.Server, n int, every time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			tag := fmt.Sprintf("sensor:%d", i)
			for seq := 0; ; seq++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				msg := fmt.Sprintf("%d %d", i, seq)
				if _, err := srv.SendTextByTag(tag, msg); err != nil {
					return // the server shut down
				}
				srv.SendTextByTag("all", msg)
			}
		}(i)
	}
	return &wg
}

func newServer(addr string) (*websock.Server, error) {
	return websock.NewServer(websock.Options{Addr: addr}, subscriptions{})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	sensors := flag.Int("sensors", 100, "producer goroutines")
	every := flag.Duration("every", 100*time.Millisecond, "interval of each producer")
	flag.Parse()
	srv, err := newServer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	wg := produce(ctx, srv, *sensors, *every)
	log.Printf("%d producers; subscribe at ws://%s/all or /sensor/<n>", *sensors, srv.Addr())
	if err := srv.Serve(ctx); err != nil && err != context.Canceled {
		log.Fatal(err)
	}
	wg.Wait()
}
