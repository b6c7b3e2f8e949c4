// Runs the producers example: 100 goroutines publish by tag; a subscriber of one sensor
// sees only that sensor, in order, and an /all subscriber sees every sensor.
package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestManyProducersByTag(t *testing.T) {
	srv, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()
	url := "ws://" + srv.Addr().String()
	one, _, err := websocket.DefaultDialer.Dial(url+"/sensor/42", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	all, _, err := websocket.DefaultDialer.Dial(url+"/all", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	for deadline := time.Now().Add(5 * time.Second); srv.CountByTag("sensor:42")+srv.CountByTag("all") < 2; {
		if time.Now().After(deadline) {
			t.Fatal("subscribers never tagged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wg := produce(ctx, srv, 100, 5*time.Millisecond)
	defer func() { cancel(); wg.Wait() }()

	one.SetReadDeadline(time.Now().Add(10 * time.Second))
	last := -1
	for i := 0; i < 20; i++ {
		_, m, err := one.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var sensor, seq int
		fmt.Sscanf(string(m), "%d %d", &sensor, &seq)
		if sensor != 42 || seq <= last {
			t.Fatalf("sensor subscriber got %q after seq %d", m, last)
		}
		last = seq
	}
	seen := map[int]bool{}
	all.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(seen) < 100 {
		_, m, err := all.ReadMessage()
		if err != nil {
			t.Fatalf("after %d sensors: %v", len(seen), err)
		}
		var sensor int
		fmt.Sscanf(string(m), "%d", &sensor)
		seen[sensor] = true
	}
}
