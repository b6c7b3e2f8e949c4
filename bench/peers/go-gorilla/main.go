// Peer "go-gorilla" for wsload (contract: /work/shared/bench/peers/CONTRACT.md):
// gorilla/websocket v1.5.3 on net/http. "/echo" and "/" echo every message back;
// "/sub" joins the hub; every message on "/pub" goes to every subscriber.
//
// The code follows gorilla's own examples: examples/echo (ReadMessage/WriteMessage
// loop) and examples/chat (a Hub goroutine owning the client set, and per client a
// buffered send channel drained by a writePump goroutine, the only writer).
//
// Changed knobs (and why), everything else is the library default:
//   - No read limit, read deadline or ping ticker (the chat example sets 512 B and
//     60 s): the contract needs 16 MiB messages and no idle timeout under 5 minutes.
//     gorilla's default read limit is "none", its default deadline "none".
//   - The hub never drops a slow client (the chat example closes a client whose
//     256-slot channel is full): the contract forbids drops, so the hub blocks on
//     that client's channel until it has room or the client is gone.
//   - The writePump sends one WebSocket message per queued message (the chat example
//     joins queued chat lines with '\n' into one message, which would merge frames).
//   - HOST/PORT from the environment; READY is printed once the socket listens.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{} // library defaults (4 KiB buffers from net/http)

// message keeps the frame type so text stays text and binary stays binary.
type message struct {
	typ  int
	data []byte
}

// client is a subscriber: its send channel is drained by writePump.
type client struct {
	conn *websocket.Conn
	send chan message
	done chan struct{} // closed when writePump returns, so the hub never blocks on a dead client
}

// hub owns the subscriber set, as in gorilla's chat example.
type hub struct {
	clients    map[*client]bool
	broadcast  chan message
	register   chan *client
	unregister chan *client
}

func newHub() *hub {
	return &hub{
		clients:    make(map[*client]bool),
		broadcast:  make(chan message),
		register:   make(chan *client),
		unregister: make(chan *client),
	}
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if h.clients[c] {
				delete(h.clients, c)
				close(c.send)
			}
		case m := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- m:
				case <-c.done:
				}
			}
		}
	}
}

func (c *client) writePump() {
	defer func() {
		close(c.done)
		c.conn.Close()
	}()
	for m := range c.send {
		if err := c.conn.WriteMessage(m.typ, m.data); err != nil {
			return
		}
	}
	c.conn.WriteMessage(websocket.CloseMessage, []byte{})
}

// readPump discards what a subscriber sends and unregisters it when it goes away.
func (c *client) readPump(h *hub) {
	defer func() {
		h.unregister <- c
		c.conn.Close()
	}()
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
	}
}

func serveSub(h *hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan message, 256), done: make(chan struct{})}
	h.register <- c
	go c.writePump()
	go c.readPump(h)
}

func servePub(h *hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		h.broadcast <- message{typ: mt, data: data}
	}
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(mt, data); err != nil {
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
	h := newHub()
	go h.run()
	mux := http.NewServeMux()
	mux.HandleFunc("/sub", func(w http.ResponseWriter, r *http.Request) { serveSub(h, w, r) })
	mux.HandleFunc("/pub", func(w http.ResponseWriter, r *http.Request) { servePub(h, w, r) })
	mux.HandleFunc("/", serveEcho) // "/" and "/echo" (and anything else) echo
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("READY")
	log.Fatal(http.Serve(ln, mux))
}
