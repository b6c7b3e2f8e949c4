// Peer "go-coder" for wsload (contract: /work/shared/bench/peers/CONTRACT.md):
// github.com/coder/websocket v1.8.15 on net/http. "/echo" and "/" echo every message
// back; "/sub" subscribes; every message on "/pub" goes to every subscriber.
//
// The code follows coder/websocket's own examples: the echo example (Read a message,
// Write it back with the same type) and the chat example (a chatServer with a
// mutex-guarded subscriber set; each subscriber has a buffered message channel that
// its own handler goroutine drains with c.Write, the only writer of that connection).
//
// Changed knobs (and why), everything else is the library default:
//   - c.SetReadLimit(16 MiB): the default is 32 KiB, the contract needs 16 MiB messages.
//   - No write timeout and no "closeSlow" (the chat example closes a subscriber whose
//     16-slot channel is full after 5 s): the contract forbids drops, so publish
//     blocks until the subscriber has room or is gone.
//   - Subscribers' input is read and discarded by a small loop (the chat example uses
//     c.CloseRead, which closes the connection if a data message arrives; the contract
//     lets subscribers send data that is ignored).
//   - HOST/PORT from the environment; READY is printed once the socket listens.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/coder/websocket"
)

const readLimit = 16 << 20

// message keeps the frame type so text stays text and binary stays binary.
type message struct {
	typ  websocket.MessageType
	data []byte
}

type subscriber struct {
	msgs chan message
	done chan struct{} // closed when the subscriber's handler returns
}

// chatServer holds the subscribers, as in coder/websocket's chat example.
type chatServer struct {
	subscriberMessageBuffer int
	mu                      sync.Mutex
	subscribers             map[*subscriber]struct{}
}

func (cs *chatServer) addSubscriber(s *subscriber) {
	cs.mu.Lock()
	cs.subscribers[s] = struct{}{}
	cs.mu.Unlock()
}

func (cs *chatServer) deleteSubscriber(s *subscriber) {
	cs.mu.Lock()
	delete(cs.subscribers, s)
	cs.mu.Unlock()
}

// publish queues m on every subscriber, waiting for room rather than dropping.
func (cs *chatServer) publish(m message) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for s := range cs.subscribers {
		select {
		case s.msgs <- m:
		case <-s.done:
		}
	}
}

func (cs *chatServer) subscribe(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(readLimit)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := &subscriber{msgs: make(chan message, cs.subscriberMessageBuffer), done: make(chan struct{})}
	cs.addSubscriber(s)
	// Deferred calls run last-first: done is closed before the delete takes the lock,
	// so a publish blocked on this subscriber lets go first.
	defer cs.deleteSubscriber(s)
	defer close(s.done)
	go func() { // discard input; a close or error ends the subscription
		defer cancel()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case m := <-s.msgs:
			if err := c.Write(ctx, m.typ, m.data); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (cs *chatServer) publishHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(readLimit)
	ctx := r.Context()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		cs.publish(message{typ: typ, data: data})
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(readLimit)
	ctx := r.Context()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func main() {
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "9001"
	}
	cs := &chatServer{subscriberMessageBuffer: 16, subscribers: make(map[*subscriber]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/sub", cs.subscribe)
	mux.HandleFunc("/pub", cs.publishHandler)
	mux.HandleFunc("/", echo) // "/" and "/echo" (and anything else) echo
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("READY")
	log.Fatal(http.Serve(ln, mux))
}
