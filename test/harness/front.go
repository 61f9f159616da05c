package harness

import (
	"io"
	"net"
	"sync"
)

// Front listens where the API server calls the admission webhooks and forwards
// each connection (TLS passes through untouched) to a live manager, as a Service
// in front of the manager's replicas would. A manager that is down refuses the
// connection and the next one is tried; with none alive the API server sees the
// webhook fail, and partnergov's webhooks fail closed.
type Front struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     int
}

func newFront(addr string) (*Front, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &Front{ln: ln}
	go f.serve()
	return f, nil
}

func (f *Front) serve() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.forward(conn)
	}
}

func (f *Front) forward(in net.Conn) {
	defer in.Close()
	f.mu.Lock()
	backends := append([]string(nil), f.backends...)
	start := f.next
	f.next++
	f.mu.Unlock()
	for i := range backends {
		out, err := net.Dial("tcp", backends[(start+i)%len(backends)])
		if err != nil {
			continue
		}
		defer out.Close()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
		go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
		<-done
		return
	}
}

func (f *Front) add(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends = append(f.backends, addr)
}

func (f *Front) remove(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range f.backends {
		if b == addr {
			f.backends = append(f.backends[:i], f.backends[i+1:]...)
			return
		}
	}
}

// Close stops listening.
func (f *Front) Close() { _ = f.ln.Close() }
