package update

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeLink is a broker holding retained chunk messages, with a switch for
// readiness (link window, budget) and a count of every subscription.
type fakeLink struct {
	mu       sync.Mutex
	retained map[string][]byte
	ready    bool
	why      string
	subs     map[string]int
	wire     int64
	pubs     map[string][]byte
}

func newFakeLink() *fakeLink {
	return &fakeLink{retained: map[string][]byte{}, ready: true, subs: map[string]int{}, pubs: map[string][]byte{}}
}

func (f *fakeLink) Session() uint64 { return 1 }
func (f *fakeLink) Ready() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready, f.why
}
func (f *fakeLink) Subscribe(topic string, h func(string, []byte)) error {
	f.mu.Lock()
	f.subs[topic]++
	b, ok := f.retained[topic]
	f.mu.Unlock()
	if ok {
		go h(topic, b)
	}
	return nil
}
func (f *fakeLink) Unsubscribe(string) error { return nil }
func (f *fakeLink) CountWire(n int64)        { f.mu.Lock(); f.wire += n; f.mu.Unlock() }
func (f *fakeLink) Publish(topic string, b []byte, _ bool) error {
	f.mu.Lock()
	f.pubs[topic] = b
	f.mu.Unlock()
	return nil
}
func (f *fakeLink) set(ready bool, why string) {
	f.mu.Lock()
	f.ready, f.why = ready, why
	f.mu.Unlock()
}
func (f *fakeLink) subCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for t, c := range f.subs {
		if t != "box/update/doc" {
			n += c
		}
	}
	return n
}

// TestFetchWaitsForReadyLink: while the link is not ready (outside the
// [mqtt] windows, budget spent) no chunk is asked for; once it is, the
// release is fetched, counted in the budget, and installed on trial.
func TestFetchWaitsForReadyLink(t *testing.T) {
	pub, priv := newKey(t)
	dir := t.TempDir()
	self := filepath.Join(dir, "self")
	// Small stand-ins for two builds (NewRelease's own checks are tested
	// on real binaries elsewhere): 64 KiB that differ in a few places.
	old := make([]byte, 64<<10)
	for i := range old {
		old[i] = byte(i*7 + i/251)
	}
	bin := append([]byte(nil), old...)
	copy(bin[1000:], "v1.1.0")
	copy(bin[40000:], "a change in the middle")
	if err := os.WriteFile(self, old, 0o755); err != nil {
		t.Fatal(err)
	}
	rel := &Release{Doc: Document{Kind: Kind, Version: "v1.1.0", Target: Running(), Size: int64(len(bin)), SHA256: hexSumBytes(bin)}}
	full, err := Compress(bin, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	delta, err := Compress(bin, old, true)
	if err != nil {
		t.Fatal(err)
	}
	rel.add(EncZstd, "", "rel/full", full, MinChunk)
	rel.add(EncZstdDelta, hexSumBytes(old), "rel/delta", delta, MinChunk)
	env, err := Sign(priv, &rel.Doc)
	if err != nil {
		t.Fatal(err)
	}
	link := newFakeLink()
	for i, p := range rel.Doc.Payloads {
		for j, c := range rel.Chunks[i] {
			link.retained[p.ChunkTopic(j)] = c
		}
	}
	link.set(false, "outside the [mqtt] windows")
	installed := make(chan struct{})
	store := NewStore(filepath.Join(dir, "data"))
	u, err := New(Options{Store: store, Box: Box{Target: rel.Doc.Target, Version: "v1.0.0"}, Key: pub, Self: self,
		DocTopic: "box/update/doc", StateTopic: "box/update/state", Link: func() Link { return link },
		Installed: func() { close(installed) }, Retry: 20 * time.Millisecond, ChunkWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	u.offer(env)
	time.Sleep(300 * time.Millisecond)
	if n := link.subCount(); n != 0 {
		t.Fatalf("%d chunk subscriptions while the link was not ready", n)
	}
	link.set(true, "")
	select {
	case <-installed:
	case <-time.After(20 * time.Second):
		t.Fatal("not installed once the link was ready")
	}
	cancel()
	<-done
	st, err := store.Read()
	if err != nil || st.Trial == nil || st.Trial.Version != "v1.1.0" {
		t.Fatalf("state after install: %+v, %v", st, err)
	}
	got, err := os.ReadFile(st.Trial.Path)
	if err != nil || string(got) != string(bin) {
		t.Fatalf("installed binary differs from the release: %v", err)
	}
	// The delta was chosen (the box runs its base), each chunk fetched once.
	var want int64
	p := rel.Doc.Choose(hexSumBytes(old))
	if p.Encoding != EncZstdDelta {
		t.Fatalf("chose %s", p.Encoding)
	}
	for j := range p.Chunks {
		want += ChunkWire(p.ChunkTopic(j), p.ChunkLen(j))
		link.mu.Lock()
		if n := link.subs[p.ChunkTopic(j)]; n != 1 {
			t.Errorf("chunk %d fetched %d times", j, n)
		}
		link.mu.Unlock()
	}
	if st.Trial.Bytes != want {
		t.Errorf("wire bytes recorded %d, want %d", st.Trial.Bytes, want)
	}
	link.mu.Lock()
	defer link.mu.Unlock()
	if link.wire < want {
		t.Errorf("budget counted %d bytes, the chunks cost %d", link.wire, want)
	}
}
