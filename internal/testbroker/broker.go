// Package testbroker runs a real MQTT broker (mochi-mqtt) inside the process,
// for tests and demos that need a broker without installing one.
//
// It is a real MQTT 3.1.1/5 broker on a real TCP port: clients connect,
// publish at QoS 1 and get PUBACKs, retained messages and wills behave as on
// Mosquitto. On top of that it offers the faults a field link produces:
// stopping and restarting on the same port (Restart), abrupt connection drops
// that fire the client's will (DropClients), slow or held PUBACKs
// (SetPublishDelay, HoldPublishes), and dropping a connection on a chosen
// publish before it is acknowledged (DropOnPublish).
//
// Facts that tests rely on:
//   - Restart starts an empty broker: retained messages and sessions do not
//     survive it (like a Mosquitto without persistence); the inspection
//     subscriptions made with Subscribe do.
//   - Hooks run in the publishing client's read loop, before the PUBACK is
//     written and before subscribers get the message: a held publish also
//     holds every later packet of that connection, as a slow broker would.
//   - Subscribe handlers run synchronously in that same loop, in the order
//     the broker received the publishes; keep them short.
//
// It imports no testing machinery beyond the testing.TB interface, so a
// non-test main (a demo) can use it with a nil TB.
package testbroker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is an embedded MQTT broker on one TCP address.
type Broker struct {
	addr string // host:port, fixed at Start so Restart reuses the port
	log  *slog.Logger
	tls  *tls.Config // non-nil: the listener speaks TLS

	mu      sync.Mutex
	srv     *mqtt.Server
	stopped chan struct{} // closed when the current server stops; releases held publishes
	subs    []subscription
	nextSub int

	// faults, shared by every server instance across restarts
	delay     atomic.Int64 // ns added before each client publish is processed
	held      atomic.Int64 // publishes currently waiting on a hold
	published atomic.Int64 // client publishes seen
	faultMu   sync.Mutex
	user      string // non-empty: CONNECT must carry this user and password
	password  string
	gate      chan struct{} // non-nil while HoldPublishes is in force
	gatePfx   string
	dropPfx   string
	dropAfter int // drop the connection on the dropAfter-th matching publish; 0 = off
}

type subscription struct {
	id     int
	filter string
	fn     func(topic string, payload []byte)
}

// Start runs a broker on addr ("" or "127.0.0.1:0" picks a free port on the
// loopback). With a non-nil t the broker is stopped when the test ends.
func Start(t testing.TB, addr string) (*Broker, error) {
	return StartTLS(t, addr, nil)
}

// StartTLS is Start with a TLS listener using cfg (nil: plain TCP).
func StartTLS(t testing.TB, addr string, cfg *tls.Config) (*Broker, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b := &Broker{log: slog.New(slog.DiscardHandler), tls: cfg}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testbroker: listen on %s: %w", addr, err)
	}
	b.addr = ln.Addr().String()
	if err := b.serve(ln); err != nil {
		ln.Close()
		return nil, err
	}
	if t != nil {
		t.Cleanup(b.Stop)
	}
	return b, nil
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address as a client URL, "tcp://127.0.0.1:port"
// ("tls://..." for a TLS broker).
func (b *Broker) URL() string {
	if b.tls != nil {
		return "tls://" + b.addr
	}
	return "tcp://" + b.addr
}

// SetCredentials makes the broker refuse connections without this user
// name and password ("" user: anyone may connect, the default).
func (b *Broker) SetCredentials(user, password string) {
	b.faultMu.Lock()
	b.user, b.password = user, password
	b.faultMu.Unlock()
}

func (b *Broker) serve(ln net.Listener) error {
	if b.tls != nil {
		ln = tls.NewListener(ln, b.tls)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: b.log})
	stopped := make(chan struct{})
	if err := srv.AddHook(&faultHook{b: b, stopped: stopped}, nil); err != nil {
		return fmt.Errorf("testbroker: add hook: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		return fmt.Errorf("testbroker: add listener %s: %w", b.addr, err)
	}
	if err := srv.Serve(); err != nil {
		return fmt.Errorf("testbroker: serve %s: %w", b.addr, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if err := srv.Subscribe(s.filter, s.id, inlineHandler(s.fn)); err != nil {
			srv.Close()
			return fmt.Errorf("testbroker: resubscribe %q: %w", s.filter, err)
		}
	}
	b.srv, b.stopped = srv, stopped
	return nil
}

// Stop closes the listener and every client connection. It is idempotent.
// Clients see a DISCONNECT (MQTT 5) or a closed socket, and wills fire.
func (b *Broker) Stop() {
	b.mu.Lock()
	srv, stopped := b.srv, b.stopped
	b.srv, b.stopped = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return
	}
	close(stopped) // release held publishes so their client loops can end
	srv.Close()
}

// Restart stops the broker if it runs and starts an empty one on the same
// port. Inspection subscriptions and fault settings carry over.
func (b *Broker) Restart() error {
	b.Stop()
	var ln net.Listener
	var err error
	for range 50 { // the old listener's port may take a moment to be free
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("testbroker: restart on %s: %w", b.addr, err)
	}
	if err := b.serve(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// Running reports whether the broker is serving.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv != nil
}

func (b *Broker) server() *mqtt.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv
}

func inlineHandler(fn func(string, []byte)) mqtt.InlineSubFn {
	return func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, append([]byte(nil), pk.Payload...))
	}
}

// Subscribe calls fn for every message published on topics matching filter
// (MQTT wildcards allowed), including retained ones present now. The
// subscription survives Restart.
func (b *Broker) Subscribe(filter string, fn func(topic string, payload []byte)) error {
	b.mu.Lock()
	b.nextSub++
	s := subscription{id: b.nextSub, filter: filter, fn: fn}
	b.subs = append(b.subs, s)
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return nil // added when the broker restarts
	}
	if err := srv.Subscribe(filter, s.id, inlineHandler(fn)); err != nil {
		return fmt.Errorf("testbroker: subscribe %q: %w", filter, err)
	}
	return nil
}

// Publish sends a message from the broker itself (e.g. a command to a device).
func (b *Broker) Publish(topic string, payload []byte, retain bool) error {
	srv := b.server()
	if srv == nil {
		return errors.New("testbroker: publish: broker stopped")
	}
	return srv.Publish(topic, payload, retain, 1)
}

// Retained returns the retained message on topic, if any.
func (b *Broker) Retained(topic string) ([]byte, bool) {
	srv := b.server()
	if srv == nil {
		return nil, false
	}
	for _, pk := range srv.Topics.Messages(topic) {
		if pk.TopicName == topic {
			return append([]byte(nil), pk.Payload...), true
		}
	}
	return nil, false
}

// Clients lists the ids of the connected network clients.
func (b *Broker) Clients() []string {
	srv := b.server()
	if srv == nil {
		return nil
	}
	var ids []string
	for id, cl := range srv.Clients.GetAll() {
		if !cl.Net.Inline && !cl.Closed() {
			ids = append(ids, id)
		}
	}
	return ids
}

// DropClients closes the TCP connection of the client with this id (all
// network clients when id is ""), as a dead link would: no DISCONNECT, so the
// broker publishes the client's will. It returns how many it dropped.
func (b *Broker) DropClients(id string) int {
	srv := b.server()
	if srv == nil {
		return 0
	}
	n := 0
	for cid, cl := range srv.Clients.GetAll() {
		if cl.Net.Inline || (id != "" && cid != id) {
			continue
		}
		dropConn(cl)
		n++
	}
	return n
}

// dropConn closes the client's socket under mochi, as a dead link would.
// Not cl.Stop: that also cancels the client's context, and if its read loop
// sees the cancelled context before the read error it ends "cleanly" and
// discards the will.
func dropConn(cl *mqtt.Client) {
	if cl.Net.Conn != nil {
		cl.Net.Conn.Close()
	}
}

// SetPublishDelay makes the broker wait d before processing each client
// publish (and so before its PUBACK). Zero turns it off.
func (b *Broker) SetPublishDelay(d time.Duration) { b.delay.Store(int64(d)) }

// HoldPublishes stops client publishes on topics starting with topicPrefix
// ("" = all) before they are acknowledged or delivered, until release is
// called or the broker stops. Only one hold is in force at a time.
func (b *Broker) HoldPublishes(topicPrefix string) (release func()) {
	gate := make(chan struct{})
	b.faultMu.Lock()
	b.gate, b.gatePfx = gate, topicPrefix
	b.faultMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.faultMu.Lock()
			if b.gate == gate {
				b.gate = nil
			}
			b.faultMu.Unlock()
			close(gate)
		})
	}
}

// Held is the number of publishes waiting on HoldPublishes now.
func (b *Broker) Held() int { return int(b.held.Load()) }

// Published is the number of client publishes the broker has received.
func (b *Broker) Published() int { return int(b.published.Load()) }

// DropOnPublish drops the publishing client's connection when it sends its
// nth publish (counting from now, n >= 1) on a topic starting with
// topicPrefix: that publish is neither acknowledged nor delivered, as when a
// link dies with a message on the wire. It fires once.
func (b *Broker) DropOnPublish(topicPrefix string, n int) {
	b.faultMu.Lock()
	b.dropPfx, b.dropAfter = topicPrefix, n
	b.faultMu.Unlock()
}

// faultHook is the mochi hook that lets every client in and injects the faults.
type faultHook struct {
	mqtt.HookBase
	b       *Broker
	stopped chan struct{}
}

func (h *faultHook) ID() string { return "testbroker-faults" }

func (h *faultHook) Provides(kind byte) bool {
	return kind == mqtt.OnConnectAuthenticate || kind == mqtt.OnACLCheck || kind == mqtt.OnPublish
}

func (h *faultHook) OnConnectAuthenticate(_ *mqtt.Client, pk packets.Packet) bool {
	h.b.faultMu.Lock()
	defer h.b.faultMu.Unlock()
	return h.b.user == "" || (string(pk.Connect.Username) == h.b.user && string(pk.Connect.Password) == h.b.password)
}

func (h *faultHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func (h *faultHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	b := h.b
	b.published.Add(1)

	b.faultMu.Lock()
	drop := false
	if b.dropAfter > 0 && strings.HasPrefix(pk.TopicName, b.dropPfx) {
		b.dropAfter--
		drop = b.dropAfter == 0
	}
	gate := b.gate
	if gate != nil && !strings.HasPrefix(pk.TopicName, b.gatePfx) {
		gate = nil
	}
	b.faultMu.Unlock()

	if drop {
		dropConn(cl)
		return pk, packets.ErrRejectPacket
	}
	if d := time.Duration(b.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-h.stopped:
		}
	}
	if gate != nil {
		b.held.Add(1)
		select {
		case <-gate:
		case <-h.stopped:
		}
		b.held.Add(-1)
	}
	return pk, nil
}
