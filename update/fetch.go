package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// Link is what the updater needs from the MQTT uplink.
type Link interface {
	// Session identifies the live connection (0: none); subscriptions die
	// with it.
	Session() uint64
	// Ready reports whether a chunk may be fetched now (connected, inside
	// a link window, budget left), and why not.
	Ready() (bool, string)
	Subscribe(topic string, handler func(topic string, payload []byte)) error
	Unsubscribe(topic string) error
	// CountWire adds bytes to the data budget's counters.
	CountWire(n int64)
	// Publish sends at QoS 1 and waits for the PUBACK.
	Publish(topic string, payload []byte, retained bool) error
}

// Options configure an Updater.
type Options struct {
	Store *Store
	Box   Box
	Key   ed25519.PublicKey
	// Self is the running binary (/proc/self/exe): a delta's base.
	Self string
	// DocTopic is where documents arrive; StateTopic where the state goes.
	DocTopic, StateTopic string
	Link                 func() Link
	// Installed is called once a binary is installed on trial: the daemon
	// re-executes the launcher.
	Installed func()
	// Role is the launcher's LaunchEnv ("" for the packaged binary).
	Role string
	// ChunkWait bounds the wait for one chunk after its SUBACK; Retry
	// spaces attempts while a chunk is missing or the link is not ready.
	ChunkWait, Retry time.Duration
	// Fault is a test hook called at named install steps; nil: none.
	Fault func(step string)
	Log   *slog.Logger
}

// Updater fetches, verifies and installs signed updates.
type Updater struct {
	o       Options
	selfSHA string
	docs    chan []byte
	session atomic.Uint64
	refused map[string]bool // documents whose download failed in this run (Run's goroutine only)
	pubMu   sync.Mutex
	lastPub []byte // the last state document the broker took
	log     *slog.Logger
}

// progress is download.progress.
type progress struct {
	Payload  int   `json:"payload"`  // index in the document
	Verified int   `json:"verified"` // chunks verified and stored, from 0
	Bytes    int64 `json:"bytes"`    // wire bytes spent so far
}

// New returns an Updater; Run starts it.
func New(o Options) (*Updater, error) {
	if o.ChunkWait == 0 {
		o.ChunkWait = 30 * time.Second
	}
	if o.Retry == 0 {
		o.Retry = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Fault == nil {
		o.Fault = func(string) {}
	}
	sum, err := fileSHA(o.Self)
	if err != nil {
		return nil, fmt.Errorf("update: the running binary: %w", err)
	}
	return &Updater{o: o, selfSHA: sum, docs: make(chan []byte, 1), refused: map[string]bool{}, log: o.Log}, nil
}

// fileSHA hashes a file as it streams: the binary is ~12 MB, and reading
// it whole at every start would grow the daemon's heap by as much.
func fileSHA(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hexSum([32]byte(h.Sum(nil))), nil
}

// errSuperseded stops a download when a different document arrives.
var errSuperseded = errors.New("a newer document arrived")

// Run subscribes to the document topic on every session, resumes a
// download left by a restart, and handles documents until ctx ends.
func (u *Updater) Run(ctx context.Context) {
	if env, err := os.ReadFile(u.o.Store.Path(DownloadDoc)); err == nil {
		u.offer(env)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		u.watchSession()
		select {
		case <-ctx.Done():
			return
		case env := <-u.docs:
			u.handle(ctx, env)
		case <-tick.C:
		}
	}
}

// offer queues a document, the newest replacing one not yet handled.
func (u *Updater) offer(env []byte) {
	for {
		select {
		case u.docs <- env:
			return
		default:
		}
		select {
		case <-u.docs:
		default:
		}
	}
}

// watchSession subscribes to the document topic on a new session and
// publishes the state there.
func (u *Updater) watchSession() {
	l := u.o.Link()
	s := l.Session()
	if s == 0 || s == u.session.Load() {
		return
	}
	err := l.Subscribe(u.o.DocTopic, func(_ string, payload []byte) {
		if len(payload) == 0 {
			return // a retained document cleared
		}
		u.offer(bytes.Clone(payload))
	})
	if err != nil {
		u.log.Warn("update: subscribe failed; retrying", "topic", u.o.DocTopic, "err", err)
		return
	}
	u.session.Store(s)
	u.publishState(false)
}

// handle takes one signed document through verification, download and
// install.
func (u *Updater) handle(ctx context.Context, env []byte) {
	for env != nil && ctx.Err() == nil {
		next, err := u.process(ctx, env)
		if errors.Is(err, errSuperseded) {
			env = next
			continue
		}
		return
	}
}

// docSum identifies an envelope (Result.SHA256 of a rejection).
func docSum(env []byte) string { return hexSum(sha256.Sum256(env)) }

func (u *Updater) process(ctx context.Context, env []byte) ([]byte, error) {
	st, _ := u.o.Store.Read()
	d, err := Open(env, u.o.Key)
	if err == nil {
		err = u.o.Box.Accept(d)
	}
	switch {
	case errors.Is(err, ErrSameVersion):
		u.clearDownload()
		return nil, nil
	case err != nil:
		version := "" // unknown when the signature does not verify
		if d != nil {
			version = d.Version
		}
		u.reject(st, version, docSum(env), err.Error(), 0)
		return nil, nil
	case st.Trial != nil:
		u.log.Info("update: a binary is on trial; the document waits for its outcome", "trial", st.Trial.Version, "document", d.Version)
		return nil, nil
	case st.Last != nil && st.Last.Version == d.Version && st.Last.SHA256 == d.SHA256 && st.Last.Result == RolledBack:
		return nil, nil // answered already: a retained document comes back at every connect
	case u.refused[docSum(env)]:
		return nil, nil // its download failed in this run: not again at every reconnect
	}
	p := d.Choose(u.selfSHA)
	prog, err := u.startDownload(env, d.index(p))
	if err != nil {
		u.log.Error("update: download not started", "version", d.Version, "err", err)
		return nil, nil
	}
	next, err := u.fetch(ctx, d, p, &prog)
	switch {
	case errors.Is(err, errSuperseded):
		return next, err
	case ctx.Err() != nil:
		return nil, nil // resumed at the next start
	case err != nil:
		u.refused[docSum(env)] = true
		u.clearDownload()
		u.reject(st, d.Version, d.SHA256, err.Error(), prog.Bytes)
		return nil, nil
	}
	if err := u.install(d, p, prog.Bytes); err != nil {
		u.refused[docSum(env)] = true
		u.clearDownload()
		u.reject(st, d.Version, d.SHA256, "install: "+err.Error(), prog.Bytes)
	}
	return nil, nil
}

// startDownload returns the progress of a download of env's payload idx,
// resumed when that is the one on disk, else started afresh.
func (u *Updater) startDownload(env []byte, idx int) (progress, error) {
	s := u.o.Store
	var prog progress
	old, err := os.ReadFile(s.Path(DownloadDoc))
	if err == nil && bytes.Equal(old, env) {
		if b, err := os.ReadFile(s.Path(DownloadProg)); err == nil && json.Unmarshal(b, &prog) == nil && prog.Payload == idx {
			return prog, nil
		}
	}
	u.clearDownload()
	if err := os.MkdirAll(s.Path(), 0o750); err != nil {
		return prog, err
	}
	prog = progress{Payload: idx}
	if err := u.saveProgress(prog); err != nil {
		return prog, err
	}
	return prog, durable.WriteFile(s.Path(DownloadDoc), env, 0o640)
}

func (u *Updater) saveProgress(p progress) error {
	b, _ := json.Marshal(p)
	return durable.WriteFile(u.o.Store.Path(DownloadProg), b, 0o640)
}

func (u *Updater) clearDownload() {
	for _, f := range []string{DownloadDoc, DownloadProg, DownloadPart} {
		if err := os.Remove(u.o.Store.Path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.log.Warn("update: removing a download file", "file", f, "err", err)
		}
	}
}

// reject records and reports a refused document.
func (u *Updater) reject(st State, version, sum, reason string, bytes int64) {
	if st.Last != nil && st.Last.Result == Rejected && st.Last.SHA256 == sum && st.Last.Reason == reason {
		return // the same retained document again
	}
	u.log.Warn("update: rejected", "version", version, "reason", reason)
	err := u.o.Store.Update(func(st *State) error {
		st.Last = &Result{Version: version, SHA256: sum, Result: Rejected, Reason: reason, At: time.Now().UTC(), Bytes: bytes}
		return nil
	})
	if err != nil {
		u.log.Error("update: rejection not recorded", "err", err)
	}
	u.PublishState()
}

// Rescan subscribes to the document topic again, so the broker delivers
// the retained document once more (one that waited for a trial's outcome).
func (u *Updater) Rescan() { u.session.Store(0) }
