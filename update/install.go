package update

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// install decompresses the downloaded payload beside the running binary
// (BinDir, fsync, rename), records it as the trial and asks the daemon to
// re-execute the launcher, which starts it.
func (u *Updater) install(d *Document, p *Payload, wire int64) error {
	s := u.o.Store
	var base []byte
	if p.Encoding == EncZstdDelta {
		b, err := os.ReadFile(u.o.Self)
		if err != nil {
			return fmt.Errorf("delta base: %w", err)
		}
		base = b
	}
	part, err := os.Open(s.Path(DownloadPart))
	if err != nil {
		return err
	}
	defer part.Close()
	if err := os.MkdirAll(s.Path(BinDir), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Path(BinDir), ".karana-edge-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing there
	w := &faultWriter{w: tmp, at: d.Size / 2, fault: func() { u.o.Fault("write") }}
	err = Decompress(p, part, base, d.Size, d.SHA256, w)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	final := s.Path(BinDir, "karana-edge-"+d.Version)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	if err := durable.SyncDir(s.Path(BinDir)); err != nil {
		return err
	}
	u.o.Fault("rename")
	err = s.Update(func(st *State) error {
		st.Trial = &Trial{Binary: Binary{Version: d.Version, SHA256: d.SHA256, Path: final, Installed: time.Now().UTC()}, Bytes: wire}
		return nil
	})
	if err != nil {
		return err
	}
	u.clearDownload()
	u.log.Info("update: installed on trial; restarting into it", "version", d.Version, "path", final, "wire_bytes", wire)
	u.PublishState()
	u.o.Fault("installed")
	if u.o.Installed != nil {
		u.o.Installed()
	}
	return nil
}

// faultWriter calls fault once when at bytes have been written.
type faultWriter struct {
	w     io.Writer
	n, at int64
	fault func()
}

func (f *faultWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	before := f.n
	f.n += int64(n)
	if before < f.at && f.n >= f.at {
		f.fault()
	}
	return n, err
}

// StateDoc is <prefix>/update/state (retained).
type StateDoc struct {
	// Running is the version of the running binary; From says whether it
	// is the package's or a self-update.
	Running string `json:"running"`
	From    string `json:"from"`
	// Trial is the version on trial, when there is one.
	Trial string `json:"trial,omitempty"`
	// Downloading is a download in progress.
	Downloading *Downloading `json:"downloading,omitempty"`
	// Last is the outcome of the last update.
	Last *Result `json:"last,omitempty"`
	// BytesTransferred is what the current download, else the last
	// update, cost on the wire.
	BytesTransferred int64 `json:"bytes_transferred"`
}

// Downloading is a download in progress.
type Downloading struct {
	Version  string `json:"version"`
	Encoding string `json:"encoding"`
	Chunks   int    `json:"chunks"`
	Verified int    `json:"verified"`
	Size     int64  `json:"size"`
}

// State returns the state document as of now.
func (u *Updater) State() StateDoc {
	st, _ := u.o.Store.Read()
	doc := StateDoc{Running: u.o.Box.Version, From: "package", Last: st.Last}
	if u.o.Role != "" {
		doc.From = "update"
	}
	if st.Trial != nil {
		doc.Trial = st.Trial.Version
		doc.BytesTransferred = st.Trial.Bytes
	} else if st.Last != nil {
		doc.BytesTransferred = st.Last.Bytes
	}
	var prog progress
	env, err1 := os.ReadFile(u.o.Store.Path(DownloadDoc))
	b, err2 := os.ReadFile(u.o.Store.Path(DownloadProg))
	if err1 == nil && err2 == nil && json.Unmarshal(b, &prog) == nil {
		if d, err := Open(env, u.o.Key); err == nil && prog.Payload < len(d.Payloads) {
			p := d.Payloads[prog.Payload]
			doc.Downloading = &Downloading{Version: d.Version, Encoding: p.Encoding, Chunks: len(p.Chunks), Verified: prog.Verified, Size: p.Size}
			doc.BytesTransferred = prog.Bytes
		}
	}
	return doc
}

// PublishState publishes the state document (retained) in the background;
// a failure waits for the next session, which publishes it again.
func (u *Updater) PublishState() { u.publishState(true) }

// publishState publishes the state, or with always false only when it
// differs from the last one the broker took: the broker retains it, and a
// flapping metered link must not pay for the same document at every
// reconnect.
func (u *Updater) publishState(always bool) {
	b, err := json.Marshal(u.State())
	if err != nil {
		return
	}
	u.pubMu.Lock()
	same := bytes.Equal(b, u.lastPub)
	u.pubMu.Unlock()
	if same && !always {
		return
	}
	l := u.o.Link()
	go func() {
		if err := l.Publish(u.o.StateTopic, b, true); err == nil {
			l.CountWire(publishCost(u.o.StateTopic, len(b)))
			u.pubMu.Lock()
			u.lastPub = b
			u.pubMu.Unlock()
		}
	}()
}

// Confirm is the trial's side: once healthy() holds, the binary running
// (SHA-256 selfSHA) becomes the confirmed one. It returns whether it
// confirmed; false when ctx ended first or the trial was rolled back
// meanwhile (the guard then stops this process).
func Confirm(ctx context.Context, s *Store, selfSHA string, healthy func() bool, poll time.Duration) (bool, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-t.C:
		}
		if !healthy() {
			continue
		}
		ok := false
		err := s.Update(func(st *State) error {
			if st.Trial == nil || st.Trial.SHA256 != selfSHA {
				return nil
			}
			t := st.Trial
			st.Current = &Binary{Version: t.Version, SHA256: t.SHA256, Path: t.Path, Installed: t.Installed}
			st.CurrentStarts = 0
			st.Last = &Result{Version: t.Version, SHA256: t.SHA256, Result: Applied, At: time.Now().UTC(), Bytes: t.Bytes}
			st.Trial = nil
			ok = true
			return nil
		})
		if err == nil && ok {
			st, _ := s.Read()
			s.Prune(st)
		}
		return ok, err
	}
}

// Healthy is the confirmed self-update's side: once healthy() holds (the
// sampler produces readings), its count of failed starts goes back to 0.
func Healthy(ctx context.Context, s *Store, healthy func() bool, poll time.Duration) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for !healthy() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return s.Update(func(st *State) error {
		st.CurrentStarts = 0
		return nil
	})
}

// SelfSHA is the SHA-256 of the running binary.
func SelfSHA(path string) (string, error) { return fileSHA(path) }
