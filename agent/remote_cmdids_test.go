package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCmdIDsRing(t *testing.T) {
	dir := t.TempDir()
	var c cmdIDs
	claim := func(c *cmdIDs, name, id string) bool {
		t.Helper()
		fresh, err := c.claim(dir, name, json.RawMessage(id))
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if !claim(&c, "restart", `7`) || claim(&c, "restart", `7`) {
		t.Fatal("restart id 7: want the first claim fresh and the second not")
	}
	// the name is part of the key; spacing of the id is not, its JSON is
	if !claim(&c, "ping", `7`) || claim(&c, "ping", ` 7 `) || !claim(&c, "ping", `"7"`) {
		t.Error("keys: name and compact JSON id")
	}
	if !claim(&c, "ping", `{"a": 1, "b": [1, 2]}`) || claim(&c, "ping", `{"a":1,"b":[1,2]}`) {
		t.Error("object ids compare compacted")
	}
	long := `"` + strings.Repeat("x", 1000) + `"`
	if !claim(&c, "ping", long) || claim(&c, "ping", long) {
		t.Error("a long id is kept (hashed)")
	}
	b, _ := os.ReadFile(filepath.Join(dir, RemoteCmdIDsFile))
	if strings.Contains(string(b), strings.Repeat("x", 300)) {
		t.Error("a long id is written whole")
	}

	// a new process reads the ring back
	var c2 cmdIDs
	if claim(&c2, "restart", `7`) {
		t.Error("restart id 7 runs again after a restart")
	}
	// the ring holds the last cmdIDRing commands: after that many others
	// the oldest id is forgotten, the newest kept
	for i := range cmdIDRing {
		claim(&c2, "ping", fmt.Sprint(1000+i))
	}
	var c3 cmdIDs
	if !claim(&c3, "restart", `7`) {
		t.Error("the oldest id is still held after the ring turned over")
	}
	if claim(&c3, "ping", fmt.Sprint(1000+cmdIDRing-1)) {
		t.Error("the newest id was forgotten")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, RemoteCmdIDsFile)); strings.Count(string(b), "\n") != cmdIDRing {
		t.Errorf("file holds %d lines, want %d", strings.Count(string(b), "\n"), cmdIDRing)
	}
}

// A data dir that cannot be written loses the durability, not the
// command: it runs, and the ring in memory still stops a redelivery.
func TestCmdIDsUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	var c cmdIDs
	fresh, err := c.claim(dir, "restart", json.RawMessage(`1`))
	if !fresh || err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("claim in an unwritable dir: fresh %v, err %v", fresh, err)
	}
	if fresh, _ := c.claim(dir, "restart", json.RawMessage(`1`)); fresh {
		t.Error("redelivery ran again in the same process")
	}
}
