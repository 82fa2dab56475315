package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// At most once per command id. With a persistent session the broker
// delivers cmd/* at QoS 1, and QoS 1 is at least once: a PUBACK lost with
// the link, or the box restarting before paho sent it, brings the same
// message again at the next connect, and a second `restart` is a second
// outage. So the ids of the commands run last are kept, with the
// command's name (an id is the sender's and may be reused across
// commands), in data_dir/remote.cmdids, written durably before the
// command runs; a command whose name and id are in it is answered
// "already run" and not run again. Commands are a few a day at most, so a
// file write each costs the card nothing next to the readings.
//
// The ring holds the last cmdIDRing commands: a sender that reuses ids
// must let that many others pass before an id runs again.
const (
	RemoteCmdIDsFile = "remote.cmdids"
	cmdIDRing        = 64
	// cmdKeyMax bounds a key kept whole; a longer id (a body may be 16
	// KiB) is kept as its sha256.
	cmdKeyMax = 200
)

// cmdIDs is the persisted ring; the zero value loads on first use.
type cmdIDs struct {
	mu     sync.Mutex
	dir    string // data_dir the ring was loaded from
	loaded bool
	keys   []string // oldest first
}

// cmdKey is the ring's key for a command: its name and its id as compact
// JSON (so 7 and 7.0 differ, as they do to the sender, but spacing does
// not), hashed when long. JSON escapes control characters, so a key never
// holds a newline.
func cmdKey(name string, id json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, id) != nil {
		b.Reset()
		b.Write(id)
	}
	k := name + " " + b.String()
	if len(k) > cmdKeyMax || strings.ContainsAny(k, "\r\n") {
		sum := sha256.Sum256([]byte(k))
		k = name + " sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// load reads the ring from dir once; an unreadable file starts an empty
// ring (logged by the caller), never blocks a command.
func (c *cmdIDs) load(dir string) error {
	if c.loaded && c.dir == dir {
		return nil
	}
	c.loaded, c.dir, c.keys = true, dir, nil
	b, err := os.ReadFile(filepath.Join(dir, RemoteCmdIDsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remote: command ids: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if k := strings.TrimRight(line, "\n"); k != "" {
			c.keys = append(c.keys, k)
		}
	}
	c.keys = c.keys[max(0, len(c.keys)-cmdIDRing):]
	return nil
}

// ran reports whether the command name/id is in the ring.
func (c *cmdIDs) ran(dir, name string, id json.RawMessage) bool {
	k := cmdKey(name, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load(dir) // an unreadable ring holds nothing: the command is answered as usual
	return slices.Contains(c.keys, k)
}

// claim reports whether the command name/id has not run yet, and if so
// records it, durably, before it runs. A failed write is returned with
// fresh true: the command runs (a card that fails must not take remote
// restart away) and the in-memory ring still stops a redelivery until the
// process ends.
func (c *cmdIDs) claim(dir, name string, id json.RawMessage) (fresh bool, err error) {
	k := cmdKey(name, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	lerr := c.load(dir)
	if slices.Contains(c.keys, k) {
		return false, lerr
	}
	c.keys = append(c.keys, k)
	if len(c.keys) > cmdIDRing {
		c.keys = slices.Delete(c.keys, 0, len(c.keys)-cmdIDRing)
	}
	data := strings.Join(c.keys, "\n") + "\n"
	if err := durable.WriteFile(filepath.Join(dir, RemoteCmdIDsFile), []byte(data), 0o640); err != nil {
		return true, fmt.Errorf("remote: command id not recorded (a redelivery after a restart would run again): %w", err)
	}
	return true, lerr
}
