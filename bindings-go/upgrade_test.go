// Tests of the upgrade hook against gorilla/websocket: refusal with status, headers and
// body; acceptance with Set-Cookie, a chosen subprotocol and a connection value; panics;
// and that a slow hook (it runs on its own goroutine) does not delay other connections.

package websock_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

func TestUpgradeHookRejectWithHeadersAndBody(t *testing.T) {
	rec := newRecorder(true)
	opts := websock.Options{
		CheckUpgrade: func(r *websock.Request) (*websock.Accept, error) {
			if r.Header("Authorization") == "Bearer ok" {
				return nil, nil
			}
			return nil, &websock.RejectError{
				Status: http.StatusUnauthorized,
				Header: http.Header{"Www-Authenticate": {`Bearer realm="chat"`}},
				Body:   []byte("log in first\n"),
			}
		},
	}
	srv, url := serve(t, opts, rec)
	_, resp, err := websocket.DefaultDialer.Dial(url+"/chat", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without token: %v %v, want HTTP 401", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "log in first\n" {
		t.Errorf("refusal body %q", body)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="chat"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	c := dial(t, url+"/chat", http.Header{"Authorization": {"Bearer ok"}})
	waitOpen(t, rec)
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "hi" {
		t.Fatalf("echo after accept: %q %v", b, err)
	}
	if st := srv.Stats(); st.Rejected != 1 || st.Opened != 1 {
		t.Errorf("stats: rejected %d opened %d, want 1 and 1", st.Rejected, st.Opened)
	}
}

func TestUpgradeHookAcceptWithCookieSubprotocolAndValue(t *testing.T) {
	rec := newRecorder(false)
	opts := websock.Options{
		Subprotocols: []string{"chat.v1", "chat.v2"},
		CheckUpgrade: func(r *websock.Request) (*websock.Accept, error) {
			acc := &websock.Accept{
				Header: http.Header{"Set-Cookie": {"session=s3cr3t; HttpOnly", "theme=dark"}},
				Value:  "user:" + r.Query,
			}
			// The server prefers chat.v1; this hook picks v2 when offered.
			for _, p := range r.OfferedSubprotocols() {
				if p == "chat.v2" {
					acc.Subprotocol = p
				}
			}
			if r.Query == "bad-header" {
				acc.Header.Set("X-Bad", "a\r\nInjected: yes")
			}
			if r.Query == "panic" {
				panic("hook bug")
			}
			return acc, nil
		},
	}
	var logMu sync.Mutex
	var logs strings.Builder
	opts.ErrorLog = newLogger(&logs, &logMu)
	_, url := serve(t, opts, rec)
	d := websocket.Dialer{Subprotocols: []string{"chat.v1", "chat.v2"}}
	c, resp, err := d.Dial(url+"/?alice", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	cookies := map[string]string{}
	for _, ck := range resp.Cookies() {
		cookies[ck.Name] = ck.Value
	}
	if cookies["session"] != "s3cr3t" || cookies["theme"] != "dark" {
		t.Errorf("Set-Cookie seen by the client: %v", resp.Header.Values("Set-Cookie"))
	}
	if c.Subprotocol() != "chat.v2" {
		t.Errorf("client subprotocol %q, want chat.v2 (chosen by the hook)", c.Subprotocol())
	}
	conn := waitOpen(t, rec)
	if conn.Value() != "user:alice" {
		t.Errorf("Conn.Value() = %v, want the Accept.Value", conn.Value())
	}
	if conn.Request().Subprotocol != "chat.v2" {
		t.Errorf("Request.Subprotocol = %q", conn.Request().Subprotocol)
	}
	// Without the hook's choice the server's preference stands.
	d1 := websocket.Dialer{Subprotocols: []string{"chat.v1"}}
	c1, _, err := d1.Dial(url+"/?bob", nil)
	if err != nil {
		t.Fatalf("dial v1: %v", err)
	}
	defer c1.Close()
	if c1.Subprotocol() != "chat.v1" {
		t.Errorf("subprotocol %q, want chat.v1", c1.Subprotocol())
	}
	// A header with CR/LF and a panicking hook are answered 500, never sent.
	for _, q := range []string{"bad-header", "panic"} {
		_, resp, err := websocket.DefaultDialer.Dial(url+"/?"+q, nil)
		if err == nil || resp == nil || resp.StatusCode != 500 {
			t.Errorf("%s: %v %v, want HTTP 500", q, err, resp)
		} else if resp.Header.Get("Injected") != "" {
			t.Errorf("%s: the header was injected", q)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "invalid value for response header") || !strings.Contains(logs.String(), "panic in CheckUpgrade") {
		t.Errorf("log: %s", logs.String())
	}
}

// A hook that takes a second (a slow auth service) keeps only its own upgrade waiting:
// another connection's echoes go on meanwhile, and the slow one opens afterwards.
func TestSlowUpgradeHookDoesNotBlockOtherConnections(t *testing.T) {
	const slow = 1500 * time.Millisecond
	rec := newRecorder(true)
	entered := make(chan struct{}, 1)
	opts := websock.Options{
		CheckUpgrade: func(r *websock.Request) (*websock.Accept, error) {
			if r.Path == "/slow" {
				entered <- struct{}{}
				time.Sleep(slow)
			}
			return nil, nil
		},
	}
	_, url := serve(t, opts, rec)
	fast := dial(t, url+"/fast", nil)
	waitOpen(t, rec)

	slowDone := make(chan error, 1)
	var slowConn *websocket.Conn
	start := time.Now()
	go func() {
		c, _, err := websocket.DefaultDialer.Dial(url+"/slow", nil)
		slowConn = c
		slowDone <- err
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow hook never ran")
	}
	// 50 echo round trips on the open connection while the slow hook sleeps.
	for i := 0; i < 50; i++ {
		msg := []byte{byte(i)}
		fast.WriteMessage(websocket.BinaryMessage, msg)
		fast.SetReadDeadline(time.Now().Add(slow / 2))
		_, b, err := fast.ReadMessage()
		if err != nil || !bytes.Equal(b, msg) {
			t.Fatalf("echo %d during the slow hook: %v %v", i, b, err)
		}
	}
	if el := time.Since(start); el > slow*2/3 {
		t.Errorf("50 echoes took %v while a hook slept %v: the hook blocked the pump", el, slow)
	}
	// And a third connection upgrades (its hook runs too) while the slow one waits.
	third := dial(t, url+"/third", nil)
	third.WriteMessage(websocket.TextMessage, []byte("3"))
	if _, b, err := third.ReadMessage(); err != nil || string(b) != "3" {
		t.Fatalf("third: %q %v", b, err)
	}
	if err := <-slowDone; err != nil {
		t.Fatalf("slow dial: %v", err)
	}
	defer slowConn.Close()
	if el := time.Since(start); el < slow {
		t.Errorf("the slow upgrade finished after %v, before its hook returned", el)
	}
}
