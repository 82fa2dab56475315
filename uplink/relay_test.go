package uplink

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// relay is a TCP proxy that counts every byte it forwards, both ways: the
// link as a SIM sees it at the socket, independent of the uplink's own
// counter.
type relay struct {
	ln      net.Listener
	target  string
	up      atomic.Int64 // box → broker
	down    atomic.Int64 // broker → box
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
	accepts atomic.Int64
	upReads atomic.Int64 // reads of the box's side: about one per packet it writes when idle
}

func startRelay(t testing.TB, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) total() int64 { return r.up.Load() + r.down.Load() }

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepts.Add(1)
		b, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, b)
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			var both sync.WaitGroup
			both.Add(2)
			go func() { defer both.Done(); r.pipe(b, c, &r.up, &r.upReads) }()
			go func() { defer both.Done(); r.pipe(c, b, &r.down, nil) }()
			both.Wait()
			c.Close()
			b.Close()
		}()
	}
}

// pipe copies src to dst, counting what src sends, and half-closes dst
// when src ends: the other direction may still carry bytes (a TLS
// close_notify after the broker's close).
func (r *relay) pipe(dst, src net.Conn, n, reads *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		n.Add(int64(k)) // sent by one side, billed, whether or not the other still reads
		if k > 0 && reads != nil {
			reads.Add(1)
		}
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// cut drops every connection, as a dead link or a NAT timeout would.
func (r *relay) cut() {
	r.mu.Lock()
	cs := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// drain stops accepting and waits (at most 10 s) for the connections to
// end by themselves, so the last bytes either side sends are counted.
func (r *relay) drain() {
	r.ln.Close()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.cut()
	r.wg.Wait()
}

// brokerFiles writes the broker's certificate and key of testPKI's
// server config next to its CA, for Mosquitto.
func brokerFiles(t testing.TB, dir string, srv *tls.Config) (cert, key string) {
	t.Helper()
	c := srv.Certificates[0]
	der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "broker.pem"), filepath.Join(dir, "broker.key")
	for path, blk := range map[string]*pem.Block{cert: {Type: "CERTIFICATE", Bytes: c.Certificate[0]}, key: {Type: "EC PRIVATE KEY", Bytes: der}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}
