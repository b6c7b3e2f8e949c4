// File upload on the websock Go binding. A client sends the text "put <name>", then the
// file as binary messages (any number of chunks), then "done"; the server answers
// "stored <name> <bytes> sha256:<hex>". Writing files is slow work, so it does not run
// in the handler (which would hold up every connection): each upload has a goroutine
// fed by a channel, and that goroutine answers through the Conn, as any goroutine may.
//
//	go run ./upload -dir /tmp/uploads
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"websock.dev/go/websock"
)

// upload is one file in progress; chunks go to its writer goroutine in order.
type upload struct {
	chunks chan []byte
}

type uploads struct {
	dir string
}

func (h *uploads) OnOpen(*websock.Conn) {}

func (h *uploads) OnMessage(c *websock.Conn, typ websock.MessageType, data []byte) {
	cur, _ := c.Value().(*upload)
	switch {
	case typ == websock.TextMessage && strings.HasPrefix(string(data), "put "):
		name := filepath.Base(strings.TrimSpace(strings.TrimPrefix(string(data), "put ")))
		if cur != nil || name == "." || name == "/" {
			_ = c.Close(websock.ClosePolicyViolation, "bad put")
			return
		}
		u := &upload{chunks: make(chan []byte, 64)}
		c.SetValue(u)
		go h.write(c, name, u.chunks)
	case typ == websock.BinaryMessage && cur != nil:
		cur.chunks <- data // data belongs to us: no copy needed
	case typ == websock.TextMessage && string(data) == "done" && cur != nil:
		close(cur.chunks)
		c.SetValue(nil)
	default:
		_ = c.Close(websock.ClosePolicyViolation, "send put, chunks, done")
	}
}

// write stores one upload and reports the result to the client.
func (h *uploads) write(c *websock.Conn, name string, chunks <-chan []byte) {
	f, err := os.CreateTemp(h.dir, name+".part-*")
	if err != nil {
		_ = c.SendText("error: " + err.Error())
		for range chunks {
		}
		return
	}
	sum := sha256.New()
	n, werr := copyChunks(io.MultiWriter(f, sum), chunks)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(h.dir, name))
	}
	if werr != nil {
		os.Remove(f.Name())
		_ = c.SendText("error: " + werr.Error())
		return
	}
	_ = c.SendText(fmt.Sprintf("stored %s %d sha256:%s", name, n, hexOf(sum)))
}

func copyChunks(w io.Writer, chunks <-chan []byte) (int64, error) {
	var n int64
	var err error
	for b := range chunks {
		if err != nil {
			continue // keep draining so the handler never blocks
		}
		var k int
		k, err = w.Write(b)
		n += int64(k)
	}
	return n, err
}

func hexOf(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func (h *uploads) OnClose(c *websock.Conn, _ websock.CloseInfo) {
	if u, ok := c.Value().(*upload); ok { // closed mid-upload: end the writer
		close(u.chunks)
	}
}

func (h *uploads) OnDrain(*websock.Conn) {}

func newServer(addr, dir string) (*websock.Server, error) {
	return websock.NewServer(websock.Options{Addr: addr, MaxMessageSize: 1 << 20}, &uploads{dir: dir})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	dir := flag.String("dir", os.TempDir(), "where files are stored")
	flag.Parse()
	srv, err := newServer(*addr, *dir)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("upload on ws://%s/, storing in %s", srv.Addr(), *dir)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil && err != context.Canceled {
		log.Fatal(err)
	}
}
