package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// Files under <data_dir>/update. state.json is shared by three processes
// of possibly different versions (the launcher, the guard, the daemon), so
// its fields keep their meaning across releases; each read-modify-write
// holds an flock on the lock file.
const (
	Dir          = "update"
	StateFile    = "state.json"
	LockFile     = "lock"
	BinDir       = "bin"
	DownloadDoc  = "download.doc"      // the signed document being fetched
	DownloadProg = "download.progress" // verified chunks so far
	DownloadPart = "download.part"     // the payload's verified chunks
)

// Result values of State.Last.
const (
	Applied    = "applied"
	Rejected   = "rejected"
	RolledBack = "rolled_back"
)

// Binary is a self-updated binary in BinDir.
type Binary struct {
	Version   string    `json:"version"`
	SHA256    string    `json:"sha256"`
	Path      string    `json:"path"`
	Installed time.Time `json:"installed"`
}

// Trial is a binary on probation: started by the launcher at most
// MaxStarts times, it must confirm within the confirm timeout or the
// previous binary runs again.
type Trial struct {
	Binary
	// Starts counts the launcher's starts of it; the guard of start n only
	// acts while Starts is still n.
	Starts int `json:"starts"`
	// Bytes is what the download cost on the wire.
	Bytes int64 `json:"bytes"`
}

// Result is the outcome of the last update.
type Result struct {
	Version string    `json:"version"`
	SHA256  string    `json:"sha256,omitempty"`
	Result  string    `json:"result"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
	Bytes   int64     `json:"bytes"`
}

// State is state.json.
type State struct {
	// Current is the confirmed self-update; nil: the packaged binary runs.
	Current *Binary `json:"current,omitempty"`
	Trial   *Trial  `json:"trial,omitempty"`
	Last    *Result `json:"last,omitempty"`
	// CurrentStarts counts starts of Current since it last produced
	// readings: a confirmed binary that crash-loops later (the card, a
	// changed config) gives way to the package after MaxCurrentStarts.
	CurrentStarts int `json:"current_starts,omitempty"`
}

// MaxCurrentStarts is how many starts in a row a confirmed self-update may
// take without producing readings before the package runs instead.
const MaxCurrentStarts = 10

// Store is the update directory of one data dir.
type Store struct{ dir string }

// NewStore returns the store under dataDir (created on first write).
func NewStore(dataDir string) *Store { return &Store{dir: filepath.Join(dataDir, Dir)} }

// Path returns a file's path in the store.
func (s *Store) Path(parts ...string) string {
	return filepath.Join(append([]string{s.dir}, parts...)...)
}

// Read returns the state; a missing file is the empty state, a damaged one
// too (with the error): the packaged binary then runs, which always works.
func (s *Store) Read() (State, error) {
	var st State
	b, err := os.ReadFile(s.Path(StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("update state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("update state %s: %w", s.Path(StateFile), err)
	}
	return st, nil
}

// Update runs fn on the state under the lock and writes what it leaves,
// durably, unless fn returns an error.
func (s *Store) Update(fn func(*State) error) error {
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("update state: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, rerr := s.Read()
	if rerr != nil {
		st = State{} // damaged: start over from the package
	}
	if err := fn(&st); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("update state: %w", err)
	}
	return durable.WriteFile(s.Path(StateFile), append(b, '\n'), 0o640)
}

func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(s.Path(LockFile), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("update lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("update lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Prune removes binaries in BinDir that the state no longer names.
func (s *Store) Prune(st State) {
	keep := map[string]bool{}
	if st.Current != nil {
		keep[st.Current.Path] = true
	}
	if st.Trial != nil {
		keep[st.Trial.Path] = true
	}
	ents, _ := os.ReadDir(s.Path(BinDir))
	for _, e := range ents {
		p := s.Path(BinDir, e.Name())
		if !keep[p] {
			os.Remove(p)
		}
	}
}
