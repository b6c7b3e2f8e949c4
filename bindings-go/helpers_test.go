// Small test helpers.

package websock_test

import (
	"log"
	"strings"
	"sync"
)

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newLogger(b *strings.Builder, mu *sync.Mutex) *log.Logger {
	return log.New(lockedWriter{b, mu}, "", 0)
}
