package remote

import (
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
)

func TestParseTOMLAndJSON(t *testing.T) {
	d, err := Parse([]byte("version = 3\n[[sensor]]\nname = \"a\"\n[[stream]]\nname = \"raw\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 3 || d.FromJSON || strings.Join(d.Sections, ",") != "sensor,stream" {
		t.Errorf("toml: %+v", d)
	}
	j, err := Parse([]byte(`{"version":4,"sensor":[{"name":"a","interval":"1s","address":64,"gain":1.5}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.Version != 4 || !j.FromJSON || !strings.Contains(string(j.TOML), "address = 64") || !strings.Contains(string(j.TOML), "gain = 1.5") {
		t.Errorf("json: %+v\n%s", j, j.TOML)
	}
	// the JSON's TOML form parses back to the same document
	back, err := Parse(j.TOML, nil)
	if err != nil || back.Version != 4 || strings.Join(back.Sections, ",") != "sensor" {
		t.Errorf("json round trip: %+v %v", back, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, key, msg string
		line          int
	}{
		{"[[sensor]]\nname = \"a\"\n", "version", "missing", 0},
		{"version = \"3\"\n[log]\n", "version", "positive integer", 1},
		{"version = -1\n[log]\n", "version", "positive integer", 1},
		{"version = 1\n", "", "no section", 0},
		{"version = 1\nfoo = 2\n", "foo", "sections", 2},
		{"version = 1\n[[sensor]\n", "", "syntax error", 0},
		{`{"version":1,"sensor":[{"a":1},2]}`, "sensor[1]", "mixes", 0},
		{`{"version":1,"log":{"level":null}}`, "log.level", "null", 0},
		{`[1,2]`, "", "", 0},
		{`{"version":1} x`, "", "", 0},
	} {
		_, err := Parse([]byte(tc.doc), nil)
		errs, ok := config.AsErrors(err)
		if !ok || len(errs) != 1 {
			t.Errorf("%q: %v", tc.doc, err)
			continue
		}
		e := errs[0]
		if e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) || (tc.line > 0 && e.Line != tc.line) || e.File != "config/set" {
			t.Errorf("%q: got %+v", tc.doc, e)
		}
	}
}

func TestMergeKeepsOverlayLines(t *testing.T) {
	local := []byte("[device]\nid = \"x\"\n\n[[sensor]]\nname = \"old\"\n\n[[stream]]\nname = \"raw\"\n")
	d, err := Parse([]byte("# set by ops\nversion = 2\n[[sensor]]\nname = \"new\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	merged, n, err := Merge(local, d)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("overlay lines %d, want 4", n)
	}
	lines := strings.Split(string(merged), "\n")
	if lines[1] != "" || lines[3] != `name = "new"` {
		t.Errorf("version not blanked in place:\n%s", merged)
	}
	s := string(merged)
	if strings.Contains(s, "old") || !strings.Contains(s, "[device]") || !strings.Contains(s, "[[stream]]") {
		t.Errorf("merged:\n%s", s)
	}
	errs := MapErrors(config.Errors{
		{Line: 4, Key: "sensor[0].name", Msg: "in overlay"},
		{Line: 9, Key: "device.id", Msg: "in local part"},
		{Line: 2, Key: "version", Msg: "unknown"},
	}, n, false)
	if len(errs) != 2 || errs[0].Line != 4 || errs[1].Line != 0 || errs[1].Key != "device.id" {
		t.Errorf("mapped: %v", errs)
	}
}

func TestEnvelope(t *testing.T) {
	privPEM, pubB64, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey([]byte(pubB64))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("version = 1\n[log]\nlevel = \"debug\"\n")
	env, err := Sign(priv, doc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(env, pub); err != nil || string(got) != string(doc) {
		t.Errorf("open: %v %q", err, got)
	}
	if _, err := Open(doc, pub); err != ErrUnsigned {
		t.Errorf("unsigned with key: %v", err)
	}
	if got, err := Open(env, nil); err != nil || string(got) != string(doc) {
		t.Errorf("envelope without key: %v", err)
	}
	bad := []byte(strings.Replace(string(env), `"sig":"`, `"sig":"AAAA`, 1))
	if _, err := Open(bad, pub); err == nil {
		t.Error("bad signature accepted")
	}
	if _, err := ParsePublicKey([]byte("AAAA")); err == nil {
		t.Error("short key accepted")
	}
	if err := testSchema(t).CheckAllowEntry("mqtt.broker"); err != nil {
		t.Error(err)
	}
	if err := testSchema(t).CheckAllowEntry("everything"); err == nil {
		t.Error("unknown allow entry accepted")
	}
	if p := NewPolicy(nil); !p.Section("sensor") || p.Section("mqtt") || p.Guard(GuardExec) {
		t.Errorf("default policy %v", p.Allow())
	}
}

// FuzzParse: no payload crashes the parser, and every accepted document
// merges into valid TOML whose version line is gone.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"version = 1\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n",
		`{"version":2,"stream":[{"name":"raw","period":"10s"}]}`,
		`{"alg":"ed25519","doc":"dmVyc2lvbiA9IDEK","sig":"AAAA"}`,
		"version = 9223372036854775807\n[log]\n",
		"version = 1\n[sensor.x]\na = [1, [2]]\n",
	} {
		f.Add([]byte(s))
	}
	for _, s := range hostile() {
		f.Add([]byte(s))
	}
	local := []byte("[device]\nid = \"x\"\n[[sensor]]\nname = \"a\"\n")
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := Parse(payload, nil)
		if err != nil {
			if _, ok := config.AsErrors(err); !ok {
				t.Fatalf("error is not config.Errors: %v", err)
			}
			return
		}
		merged, _, err := Merge(local, d)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		if _, err := Parse(append([]byte("version = 1\n"), merged...), nil); err != nil {
			if errs, ok := config.AsErrors(err); ok && strings.Contains(errs[0].Msg, "syntax") {
				t.Fatalf("merged document is not TOML: %v\n%s", err, merged)
			}
		}
	})
}
