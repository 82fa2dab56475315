package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The page is served by a small HTTP/1.1 loop of its own rather than
// net/http's Server: that one brings its HTTP/2 server and the TLS server
// handshake into the binary (about 0.5 MiB of armv6 text: a box's binary
// has to stay under 12 MiB), none of which a read-only page on a LAN
// needs. Requests are parsed by net/http (http.ReadRequest) and handled
// by ordinary http.Handlers; each connection carries one request and is
// closed after the response (Connection: close), so there is no
// keep-alive, pipelining or chunking to get wrong, and a response without
// a length ends when the connection does (the event stream).

const (
	// headerTimeout bounds reading a request: a client that opens a
	// connection and says nothing holds nothing for long.
	headerTimeout = 10 * time.Second
	// writeTimeout bounds each write: a client that stops reading (a phone
	// that went to sleep) is dropped.
	writeTimeout = 30 * time.Second
	// maxHeaderBytes bounds a request's head, as net/http's default does.
	maxHeaderBytes = 64 << 10
	// maxConns bounds the connections served at once; more wait in the
	// kernel's accept queue.
	maxConns = 16
)

// loop serves ln until it is closed, then waits for open connections,
// which ctx's end tells to finish.
type loop struct {
	ctx context.Context
	h   http.Handler
	log func(msg string, args ...any)

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (l *loop) serve(ln net.Listener) {
	slots := make(chan struct{}, maxConns)
	for {
		slots <- struct{}{}
		c, err := ln.Accept()
		if err != nil {
			<-slots
			if errors.Is(err, net.ErrClosed) {
				break
			}
			l.log("http: accept", "err", err)
			time.Sleep(100 * time.Millisecond) // out of file descriptors: let some close
			continue
		}
		l.mu.Lock()
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, c)
				l.mu.Unlock()
				c.Close()
				<-slots
				l.wg.Done()
			}()
			l.serveConn(c)
		}()
	}
	l.wg.Wait()
}

// closeAll closes every open connection (after ctx's end gave the
// handlers their chance to finish).
func (l *loop) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

func (l *loop) serveConn(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(headerTimeout))
	br := bufio.NewReader(io.LimitReader(c, maxHeaderBytes))
	req, err := http.ReadRequest(br)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nbad request\n")
		}
		return
	}
	c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	// Nothing more is read from a connection that carries one request: a
	// read that returns means the client closed it (or broke the protocol),
	// and a long response (the event stream) stops.
	go func() {
		var b [1]byte
		c.Read(b[:])
		cancel()
	}()
	req.RemoteAddr = c.RemoteAddr().String()
	w := &response{c: c, bw: bufio.NewWriter(c), header: http.Header{}, head: req.Method == http.MethodHead}
	l.h.ServeHTTP(w, req.WithContext(ctx))
	w.finish()
}

// response is the http.ResponseWriter of one connection.
type response struct {
	c       net.Conn
	bw      *bufio.Writer
	header  http.Header
	head    bool // HEAD: headers only
	written bool
	err     error
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.written {
		return
	}
	w.written = true
	w.header.Del("Transfer-Encoding")
	w.header.Set("Connection", "close")
	w.deadline()
	fmt.Fprintf(w.bw, "HTTP/1.1 %03d %s\r\n", code, http.StatusText(code))
	w.header.Write(w.bw)
	w.bw.WriteString("\r\n")
}

func (w *response) Write(p []byte) (int, error) {
	if !w.written {
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.head {
		return len(p), nil
	}
	w.deadline()
	n, err := w.bw.Write(p)
	w.err = err
	return n, err
}

// Flush sends what is buffered (the event stream flushes each update).
func (w *response) Flush() {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if w.err == nil {
		w.deadline()
		w.err = w.bw.Flush()
	}
}

func (w *response) deadline() { w.c.SetWriteDeadline(time.Now().Add(writeTimeout)) }

func (w *response) finish() {
	if !w.written {
		w.header.Set("Content-Length", strconv.Itoa(0))
		w.WriteHeader(http.StatusOK)
	}
	w.Flush()
}
