package remote

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
)

// hostile are remote documents shaped to make parsing expensive, each
// under MaxDocument: the 240 KB document of the report (120,000 nested
// arrays after the version) and its cousins.
func hostile() map[string]string {
	const n = 120000
	return map[string]string{
		"nested arrays":         "version = 22\nx = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n",
		"nested arrays (json)":  `{"version":22,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}",
		"nested inline tables":  "version = 22\n[log]\nx = " + strings.Repeat("{a=", n/2) + "1" + strings.Repeat("}", n/2) + "\n",
		"long dotted key":       "version = 22\n[log]\n" + strings.Repeat("a.", n) + "b = 1\n",
		"long header":           "version = 22\n[" + strings.Repeat("a.", n) + "b]\n",
		"nested objects (json)": `{"version":22,"log":` + strings.Repeat(`{"a":`, n/3) + "1" + strings.Repeat("}", n/3) + "}",
	}
}

// TestParseRefusesDeepDocuments: depth is refused before decoding, with
// the limit named and, for TOML, the line.
func TestParseRefusesDeepDocuments(t *testing.T) {
	for name, doc := range hostile() {
		if len(doc) > MaxDocument {
			t.Fatalf("%s: %d bytes, over MaxDocument", name, len(doc))
		}
		_, err := Parse([]byte(doc), nil)
		errs, ok := config.AsErrors(err)
		if !ok || len(errs) != 1 || !strings.Contains(errs[0].Msg, fmt.Sprintf("depth limit is %d", config.MaxDepth)) {
			t.Errorf("%s: %v, want one error naming the depth limit %d", name, err, config.MaxDepth)
			continue
		}
		if !strings.Contains(name, "json") && errs[0].Line == 0 {
			t.Errorf("%s: no line: %+v", name, errs[0])
		}
	}
	// inside a signature envelope (verified or not) the document is
	// measured too
	env := fmt.Sprintf(`{"alg":"ed25519","doc":%q,"sig":"AAAA"}`, base64.StdEncoding.EncodeToString([]byte(hostile()["nested arrays"][:150000])))
	if _, err := Parse([]byte(env), nil); err == nil || !strings.Contains(err.Error(), "depth limit") {
		t.Errorf("deep document in an envelope: %v", err)
	}
}

// TestParseSizeLimit: a payload over MaxDocument is refused by its length
// alone, naming the limit.
func TestParseSizeLimit(t *testing.T) {
	big := []byte("version = 1\n[log]\n#" + strings.Repeat("x", MaxDocument))
	_, err := Parse(big, nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(MaxDocument)) {
		t.Errorf("oversize: %v", err)
	}
}

// TestVersionLimits: versions are positive, at most 2^53 (exact in a JSON
// number), and at most MaxVersionStep above the current one.
func TestVersionLimits(t *testing.T) {
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{"version = 9007199254740992\n[log]\n", true}, // 2^53
		{"version = 9007199254740993\n[log]\n", false},
		{"version = 9223372036854775807\n[log]\n", false}, // 2^63-1, the one that locked boxes out
		{`{"version":9223372036854775807,"log":{}}`, false},
	} {
		_, err := Parse([]byte(tc.doc), nil)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.doc, err, tc.ok)
			continue
		}
		if err != nil {
			if errs, _ := config.AsErrors(err); len(errs) != 1 || errs[0].Key != "version" || !strings.Contains(errs[0].Msg, "2^53") {
				t.Errorf("%q: %v, want an error at version naming 2^53", tc.doc, err)
			}
		}
	}
	for _, tc := range []struct {
		v, cur int64
		ok     bool
	}{
		{1, 0, true},
		{1, 1, false}, // replay
		{0, 0, false},
		{1763700000, 0, true},                   // unix seconds, from a fresh box
		{2026112101, 0, true},                   // YYYYMMDDnn, from a fresh box
		{2026112102, 2026112101, true},          // the next one
		{20261121010, 2026112101, false},        // a digit too many
		{1763700000000, 0, false},               // unix milliseconds
		{MaxVersionStep, 0, true},               // the largest jump
		{MaxVersionStep + 1, 0, false},          // one more
		{MaxVersion, MaxVersion - 1, true},      // the ceiling
		{MaxVersion + 1, MaxVersion - 1, false}, // above it
	} {
		err := CheckVersion(tc.v, tc.cur)
		if (err == nil) != tc.ok {
			t.Errorf("CheckVersion(%d, current %d) = %v, want ok=%v", tc.v, tc.cur, err, tc.ok)
		}
		if errs, _ := config.AsErrors(err); err != nil && (len(errs) != 1 || errs[0].Key != "version") {
			t.Errorf("CheckVersion(%d, %d): %v, want an error at version", tc.v, tc.cur, err)
		}
	}
}

// TestSniffVersion: the version of a payload that is refused unread (too
// large, queue full) is found when it is near the start.
func TestSniffVersion(t *testing.T) {
	pad := strings.Repeat("#"+strings.Repeat("x", 70)+"\n", 10)
	for payload, want := range map[string]int64{
		"version = 17\n[log]\n":    17,
		pad + "  version=18 # c\n": 18,
		"[log]\nversion = 3\n":     0, // not top-level
		`{"log":{},"version":19}`:  19,
		`{ "version" : 20 }`:       20,
		`{"alg":"ed25519","doc":"dmVyc2lvbiA9IDIxCg==","sig":"x"}`: 21,
		"xversion = 4\n":    0,
		"version = \"5\"\n": 0,
		strings.Repeat("x", 5000) + "\nversion = 6\n": 0, // too far in
		"": 0,
	} {
		if got := SniffVersion([]byte(payload)); got != want {
			t.Errorf("SniffVersion(%.40q) = %d, want %d", payload, got, want)
		}
	}
}
