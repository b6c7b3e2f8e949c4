// Runs the upload example: a 3 MiB file in chunks arrives intact with its checksum.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestUpload(t *testing.T) {
	dir := t.TempDir()
	srv, err := newServer("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	file := make([]byte, 3<<20+17)
	for i := range file {
		file[i] = byte(i * 7)
	}
	c.WriteMessage(websocket.TextMessage, []byte("put report.bin"))
	for off := 0; off < len(file); off += 256 << 10 {
		end := min(off+256<<10, len(file))
		if err := c.WriteMessage(websocket.BinaryMessage, file[off:end]); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteMessage(websocket.TextMessage, []byte("done"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, reply, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	want := fmt.Sprintf("stored report.bin %d sha256:%s", len(file), hex.EncodeToString(sum[:]))
	if string(reply) != want {
		t.Fatalf("reply %q, want %q", reply, want)
	}
	got, err := os.ReadFile(filepath.Join(dir, "report.bin"))
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("stored file differs (%d bytes, %v)", len(got), err)
	}
}
