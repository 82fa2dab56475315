package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Client is the part of paho's mqtt.Client the uplink uses; mqtt.Client
// satisfies it. Tests wrap it to inject faults.
type Client interface {
	Connect() mqtt.Token
	Publish(topic string, qos byte, retained bool, payload any) mqtt.Token
	Disconnect(quiesce uint)
	IsConnectionOpen() bool
}

func newPahoClient(o *mqtt.ClientOptions) Client { return mqtt.NewClient(o) }

// transport is what New reads from files once: credentials and TLS.
type transport struct {
	url      *url.URL
	password string
	tls      *tls.Config // nil for tcp:// and ws://
}

func isTLSScheme(s string) bool {
	switch s {
	case "tls", "ssl", "mqtts", "wss":
		return true
	}
	return false
}

// tlsSessionCache is how many TLS sessions are kept for resumption: one
// broker, with room for a ticket or two it sends ahead.
const tlsSessionCache = 4

// loadTransport reads password_file and the TLS files, naming the file in
// every error.
func loadTransport(cfg *MQTTConfig) (*transport, error) {
	u, err := url.Parse(cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("uplink: broker %q: %w", cfg.Broker, err)
	}
	tr := &transport{url: u}
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: password_file: %w", err)
		}
		tr.password = strings.TrimRight(string(b), "\r\n")
		if tr.password == "" {
			return nil, fmt.Errorf("uplink: password_file %s is empty", cfg.PasswordFile)
		}
		if cfg.Username == "" {
			return nil, fmt.Errorf("uplink: password_file %s is set but username is empty (MQTT 3.1.1 sends a password only with a username)", cfg.PasswordFile)
		}
	}
	if !isTLSScheme(u.Scheme) {
		for key, f := range map[string]string{"ca_file": cfg.CAFile, "cert_file": cfg.CertFile, "key_file": cfg.KeyFile} {
			if f != "" {
				return nil, fmt.Errorf("uplink: %s %s is set but broker %q is not TLS (use tls://, ssl://, mqtts:// or wss://)", key, f, cfg.Broker)
			}
		}
		return tr, nil
	}
	// TLS 1.2 at least: older versions have no AEAD suites left that a
	// current broker offers, and a downgrade must fail rather than succeed.
	//
	// The session cache lets a reconnect resume the TLS session (TLS 1.3
	// tickets, TLS 1.2 tickets or ids): no certificate chain and no key
	// exchange signatures cross the link again, a fraction of the full
	// handshake. It lives as long as the process; a restart pays one full
	// handshake.
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName,
		ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCache)}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("uplink: ca_file %s: no PEM certificate found", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, fmt.Errorf("uplink: cert_file (%q) and key_file (%q) must be set together", cfg.CertFile, cfg.KeyFile)
		}
		for _, f := range []string{cfg.CertFile, cfg.KeyFile} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("uplink: client certificate: %w", err)
			}
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: cert_file %s / key_file %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.tls = tc
	return tr, nil
}

// session is one MQTT connection: a paho client used for exactly one
// successful Connect. A new client per connection means no paho state
// (message ids, store, in-flight tokens) outlives the connection it belongs to.
type session struct {
	client      Client
	broker      string
	connectedAt time.Time

	done   chan struct{} // closed once the connection is lost or abandoned
	once   sync.Once
	reason error

	connMu sync.Mutex
	conn   net.Conn // the socket paho uses, so the uplink can cut it abruptly
	tls    *tls.ConnectionState
}

func newSession(broker string) *session {
	return &session{broker: broker, done: make(chan struct{})}
}

// end marks the session lost (first reason wins).
func (s *session) end(reason error) {
	s.once.Do(func() {
		if reason == nil {
			reason = errors.New("connection closed")
		}
		s.reason = reason
		close(s.done)
	})
}

func (s *session) lost() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// cut closes the socket under paho without an MQTT DISCONNECT: paho fails
// every in-flight token at once, and the broker publishes our will (the
// retained offline status), which is the truth when we give up on a link.
func (s *session) cut() {
	s.connMu.Lock()
	c := s.conn
	s.connMu.Unlock()
	if c != nil {
		c.Close()
	}
}

// dialer opens the network connection for paho (CustomOpenConnectionFn), so
// that the session holds the socket and can cut it; it also fills in the
// default MQTT ports paho does not. The TCP socket is wrapped to count the
// bytes on the wire (wire.go) before TLS goes on top of it.
//
// No TCP keepalive (KeepAlive -1): MQTT's own keepalive already proves the
// link, and TCP's would add a probe and its ACK (two bare segments of
// ~52 B at the IP level, which no socket counter sees) every 30 s of
// silence, as this dialer had it: ~300 kB a day on an idle link.
func (u *Uplink) dialer(s *session) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
		defer cancel()
		var conn net.Conn
		var err error
		nd := &net.Dialer{KeepAlive: -1}
		switch uri.Scheme {
		case "ws", "wss":
			d := *uri
			d.User = nil
			conn, err = mqtt.NewWebsocket(d.String(), u.tr.tls, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
			if err == nil {
				conn = u.wire.wrap(conn)
			}
		case "tls", "ssl", "mqtts":
			conn, err = u.dialTLS(ctx, nd, s, hostPort(uri.Host, "8883"))
		default:
			conn, err = nd.DialContext(ctx, "tcp", hostPort(uri.Host, "1883"))
			if err == nil {
				conn = u.wire.wrap(conn)
			}
		}
		if err != nil {
			return nil, err
		}
		s.connMu.Lock()
		s.conn = conn
		s.connMu.Unlock()
		if s.lost() { // abandoned while dialing
			conn.Close()
		}
		return newLimitConn(conn, u.opts.MaxInbound), nil
	}
}

// dialTLS is tls.Dialer with the counter between TCP and TLS; it records
// the handshake's state (DidResume) on s.
func (u *Uplink) dialTLS(ctx context.Context, nd *net.Dialer, s *session, addr string) (net.Conn, error) {
	raw, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := u.tr.tls.Clone() // the clone shares the session cache
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		cfg.ServerName = host
	}
	tc := tls.Client(u.wire.wrap(raw), cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	st := tc.ConnectionState()
	s.connMu.Lock()
	s.tls = &st
	s.connMu.Unlock()
	return tc, nil
}

// tlsState is the handshake's state of a TLS session, nil otherwise.
func (s *session) tlsState() *tls.ConnectionState {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.tls
}

func hostPort(host, port string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// clientOptions builds paho's options for one session.
//
// The choices, checked against paho v1.5.1's client.go:
//   - AutoReconnect off, ConnectRetry off. With AutoReconnect on, paho keeps
//     in-flight publish tokens pending across a connection loss and, in
//     reconnect(), resends the stored messages itself (resume() runs even
//     with CleanSession) while we resend from the cursor: two senders,
//     reordering, and tokens that never fail. With it off, internalConnLost
//     calls messageIds.cleanUp(), which fails every pending token with
//     "connection lost before Publish completed", and the uplink reconnects
//     with its own jittered backoff, on a fresh client.
//   - The memory store: nothing is carried between connections on our
//     side; the buffer cursor is the only resume point for data. With
//     clean_session = false (the default) the broker keeps the
//     subscriptions and queues QoS 1 messages for us while we are offline;
//     batches paho had in flight are not resent by paho (a fresh client,
//     an empty store) but by the stream from its cursor.
//   - WriteTimeout = PublishTimeout: Publish blocks while paho's writer is
//     busy sending an earlier batch; on 2G a 100 kB batch takes tens of
//     seconds, which must not count as a failure.
//   - PingTimeout = keepalive: a PINGREQ queues behind a large batch in the
//     socket buffer; paho's default of 10 s would call a slow but healthy link
//     dead in the middle of a drain.
//   - ProtocolVersion 4 (3.1.1): no silent fallback attempt to 3.1.
func (u *Uplink) clientOptions(s *session) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions()
	o.AddBroker(u.cfg.Broker)
	o.SetClientID(u.clientID)
	if u.cfg.Username != "" {
		o.SetUsername(u.cfg.Username)
		o.SetPassword(u.tr.password)
	}
	o.SetTLSConfig(u.tr.tls)
	o.SetCleanSession(u.cfg.CleanSession)
	o.SetStore(mqtt.NewMemoryStore())
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetProtocolVersion(4)
	o.SetKeepAlive(u.cfg.Keepalive.Duration)
	o.SetPingTimeout(max(10*time.Second, u.cfg.Keepalive.Duration))
	o.SetConnectTimeout(u.cfg.ConnectTimeout.Duration)
	o.SetWriteTimeout(u.cfg.PublishTimeout.Duration)
	// In order: config/set and cmd/* reach Options.Inbound one at a time,
	// in the order the broker sent them, on paho's router goroutine (which
	// is why Inbound only queues). Out of order, paho runs each in its own
	// goroutine and a burst of config/set races into the queue shuffled.
	o.SetOrderMatters(true)
	if u.opts.Inbound != nil {
		// A persistent session's queued messages arrive right after
		// CONNACK, before our SUBSCRIBE is even sent: paho routes them by
		// the subscriptions it knows, and would leave them unacknowledged
		// without a default handler.
		o.SetDefaultPublishHandler(u.deliverInbound)
	}
	o.SetBinaryWill(u.topicStatus, u.offlineDoc(""), 1, true)
	o.SetCustomOpenConnectionFn(u.dialer(s))
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.end(err) })
	return o
}
