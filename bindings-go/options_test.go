// Options over real sockets: wss:// with an in-memory certificate, backpressure with
// OnDrain and BufferedAmount, the DropNewest slow-consumer policy, keepalive pings,
// and the idle timeout.

package websock_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"websock.dev/go/websock"
)

// selfSigned makes a certificate for 127.0.0.1 and returns it and its key as PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "websock test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pool
}

func TestTLS(t *testing.T) {
	certPEM, keyPEM, pool := selfSigned(t)
	rec := newRecorder(true)
	srv, _ := serve(t, websock.Options{TLS: &websock.TLSConfig{CertPEM: certPEM, KeyPEM: keyPEM}}, rec)
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c, _, err := d.Dial("wss://"+srv.Addr().String()+"/secure", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("over TLS"))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "over TLS" {
		t.Fatalf("echo over TLS: %q %v", m, err)
	}
	// A plain-text client gets no WebSocket from a TLS port.
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/", nil); err == nil {
		t.Error("plain ws:// handshake succeeded on a TLS server")
	}
}

func TestBackpressureAndDrain(t *testing.T) {
	drained := make(chan int, 16)
	var srvConn *websock.Conn
	opened := make(chan *websock.Conn, 1)
	h := websock.HandlerFuncs{
		Open:  func(c *websock.Conn) { opened <- c },
		Drain: func(c *websock.Conn) { n, _ := c.BufferedAmount(); drained <- n },
	}
	_, url := serve(t, websock.Options{MaxBuffered: 64 << 20, DrainThreshold: 64 << 10}, h)
	c := dial(t, url, nil)
	srvConn = <-opened
	// The client does not read: fill the socket buffers and the outbound queue.
	chunk := make([]byte, 256<<10)
	for i := 0; i < 64; i++ {
		if err := srvConn.SendBinary(chunk); err != nil {
			t.Fatal(err)
		}
	}
	var queued int
	for deadline := time.Now().Add(5 * time.Second); queued <= 64<<10; time.Sleep(10 * time.Millisecond) {
		queued, _ = srvConn.BufferedAmount()
		if time.Now().After(deadline) {
			t.Fatalf("BufferedAmount stayed at %d", queued)
		}
	}
	// Now read everything: the queue drains and OnDrain fires once it is back at the
	// threshold.
	go func() {
		for i := 0; i < 64; i++ {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// An OnDrain may also come early, when the queue dipped under the threshold while
	// the sends were still being applied; wait for one that finds it drained.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n := <-drained:
			if n <= 64<<10 {
				return
			}
		case <-timeout:
			t.Fatalf("no OnDrain at or under the threshold (queued %d)", queued)
		}
	}
}

func TestDropNewestKeepsConnection(t *testing.T) {
	rec := newRecorder(false)
	srv, url := serve(t, websock.Options{MaxBuffered: 1 << 20, DrainThreshold: 1 << 10,
		SlowConsumer: websock.SlowConsumerPolicy{DropNewest: true}}, rec)
	c := dial(t, url, nil)
	conn := waitOpen(t, rec)
	chunk := make([]byte, 256<<10)
	for i := 0; i < 64; i++ { // 16 MiB to a client that does not read
		conn.SendBinary(chunk)
	}
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().Dropped == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing dropped over MaxBuffered")
		}
	}
	if !conn.IsOpen() {
		t.Fatal("DropNewest closed the connection")
	}
	c.Close()
}

func TestSlowConsumerClose(t *testing.T) {
	rec := newRecorder(false)
	_, url := serve(t, websock.Options{MaxBuffered: 1 << 20, SlowConsumer: websock.SlowConsumerPolicy{CloseCode: 4008}}, rec)
	dial(t, url, nil)
	conn := waitOpen(t, rec)
	chunk := make([]byte, 256<<10)
	for i := 0; i < 64; i++ {
		conn.SendBinary(chunk)
	}
	if info := waitClose(t, rec); info.Kind != websock.ClosedSlowConsumer {
		t.Errorf("OnClose %+v, want slow_consumer", info)
	}
}

func TestKeepalivePingAndIdleTimeout(t *testing.T) {
	rec := newRecorder(false)
	_, url := serve(t, websock.Options{PingInterval: 100 * time.Millisecond, IdleTimeout: 600 * time.Millisecond}, rec)
	c := dial(t, url, nil)
	pinged := make(chan struct{}, 8)
	c.SetPingHandler(func(string) error { pinged <- struct{}{}; return nil }) // no pong: look idle
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive ping")
	}
	if info := waitClose(t, rec); info.Kind != websock.ClosedTimeout {
		t.Errorf("OnClose %+v, want timeout", info)
	}
}
