package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzAgent is an agent that is built but not running (no broker needed):
// handlers run against its real buffer and config.
func fuzzAgent(f *testing.F) *Agent {
	dir := f.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(localFile(dir, "tcp://127.0.0.1:1", "")), 0o600); err != nil {
		f.Fatal(err)
	}
	cfg, err := LoadEffective(file, nil)
	if err != nil {
		f.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "fuzz"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.ring.Close() })
	return a
}

// FuzzCommand: no body or name crashes a command, and every reply is JSON
// carrying a valid id.
func FuzzCommand(f *testing.F) {
	a := fuzzAgent(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	for _, s := range []struct{ name, body string }{
		{"ping", `{"id":1}`}, {"read", `{"id":"x","sensors":["a"]}`}, {"status", `{"id":[1]}`},
		{"buffer", `{"id":{}}`}, {"flush", `{"id":null}`}, {"restart", `{"id":1}`}, {"nope", `{`},
		{"read", `{"id":1,"sensors":"a"}`}, {"ping", `{"id":1,"x":2}`},
	} {
		f.Add(s.name, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		r := a.handleCmd(ctx, name, body)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("reply not JSON: %v", err)
		}
		if !r.OK && r.Error == "" {
			t.Fatalf("failed reply without error: %s", b)
		}
	})
}

// FuzzConfigSet: no payload crashes config/set handling; a rejection always
// says why.
func FuzzConfigSet(f *testing.F) {
	a := fuzzAgent(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	for _, s := range []string{
		"version = 1\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\ninterval = \"1s\"\n",
		`{"version":2,"sensor":[{"name":"a","driver":"sim","interval":"1s"}]}`,
		"version = 1\n[mqtt]\nbroker = \"tcp://x:1\"\n",
		"version = 1\n[[sensor]]\nname = \"x\"\ndriver = \"exec\"\ncommand = [\"/bin/sh\"]\n",
		`{"alg":"ed25519","doc":"AAAA","sig":"AAAA"}`,
		"version = 1\n[[stream]]\nname = \"raw\"\nformat = \"exec\"\n",
	} {
		f.Add([]byte(s))
	}
	for _, s := range hostileDocs() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		res := a.handleSet(ctx, payload)
		switch res.Status {
		case StatusApplied:
		case StatusRejected:
			if len(res.Errors) == 0 {
				t.Fatalf("rejected without errors: %q", payload)
			}
		default:
			t.Fatalf("status %q", res.Status)
		}
	})
}

// hostileDocs are config/set payloads under the size limit shaped to make
// parsing expensive: the report's 240 KB of nested arrays after a version,
// and the shapes that cost BurntSushi/toml the square of their depth.
func hostileDocs() []string {
	const n = 120000
	return []string{
		"version = 22\nx = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n",
		`{"version":22,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}",
		"version = 22\n[[stream]]\nname = \"raw\"\nx = " + strings.Repeat("{a=", n/2) + "1" + strings.Repeat("}", n/2) + "\n",
		"version = 22\n[[stream]]\n" + strings.Repeat("a.", n) + "b = 1\n",
		"version = 22\n[" + strings.Repeat("stream.", n/4) + "b]\n",
		`{"version":22,"stream":[` + strings.Repeat(`{"a":`, n/3) + "1" + strings.Repeat("}", n/3) + "]}",
		"version = 9223372036854775807\n[[stream]]\nname = \"raw\"\n",
	}
}
