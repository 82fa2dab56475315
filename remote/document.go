package remote

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/karana-energy/karana-edge/config"
)

// Limits of a remote document, checked before it is decoded, cheapest
// first: the payload's length (before it is even copied), then the depth
// of the document (config.MaxDepth: the TOML decoder's cost grows with the
// square of the nesting), then the decoder. Together they bound the whole
// path (decode, key location, merge, validation) for any payload the
// broker delivers: a hostile document of MaxDocument bytes at the depth
// limit costs tens of MB and about a second on a laptop core, once per
// pass.
const (
	// MaxDocument bounds a config/set payload: a real config is a few kB
	// (the annotated example with every option is 17 kB), and the box has
	// little memory.
	MaxDocument = 256 << 10
	// MaxVersion is the highest version a document may carry: 2^53, the
	// largest integer a JSON number (a float64 in most tooling) carries
	// exactly.
	MaxVersion = 1 << 53
	// MaxVersionStep is how far above the current version a document may
	// go, so that one mistaken or hostile version cannot use up the range
	// and lock every later document out: 10^10 lets a box that has never
	// taken a document (version 0) take a counter, unix seconds or
	// YYYYMMDDnn (10 digits), and refuses a version typed with a digit too
	// many. Unix milliseconds and 14-digit timestamps are too far from 0.
	// [remote] version_reset in the local file sets the current version
	// (agent).
	MaxVersionStep = 10_000_000_000
)

// Doc is one parsed config/set document.
type Doc struct {
	Version int64
	// TOML is the document as TOML text: the payload itself for TOML, an
	// encoding of it for JSON (then FromJSON is set and its lines mean
	// nothing to the sender). It carries version and is what is persisted.
	TOML     []byte
	FromJSON bool
	// Sections are the top-level sections the document replaces, sorted.
	Sections []string
	// Keys are the keys each table section sets (sorted); an array of
	// tables ([[sensor]]) has no entry.
	Keys map[string][]string
}

// Parse opens payload (verifying its signature with key when key is set)
// and parses the document. Mistakes come as config.Errors with file
// "config/set" and, for TOML, the line in the document.
func Parse(payload []byte, key ed25519.PublicKey) (*Doc, error) {
	if err := CheckSize(len(payload)); err != nil {
		return nil, err
	}
	raw, err := Open(payload, key)
	if err != nil {
		return nil, docErr("", 0, "%v", err)
	}
	if err := config.CheckDepth("config/set", raw, config.MaxDepth); err != nil {
		return nil, err
	}
	var tree map[string]any
	d := &Doc{}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		d.FromJSON = true
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, docErr("", 0, "JSON: %v", err)
		}
		if dec.More() {
			return nil, docErr("", 0, "JSON: trailing data after the document")
		}
		m, _ := v.(map[string]any)
		conv, err := fromJSON(m, "")
		if err != nil {
			return nil, err
		}
		tree = conv.(map[string]any)
	} else {
		if _, err := toml.Decode(string(raw), &tree); err != nil {
			var pe toml.ParseError
			if errors.As(err, &pe) {
				return nil, docErr("", pe.Position.Line, "syntax error: %s", pe.Message)
			}
			return nil, docErr("", 0, "%v", err)
		}
		d.TOML = raw
	}
	v, ok := tree["version"]
	if !ok {
		return nil, docErr("version", 0, "missing: a remote document carries a top-level integer version")
	}
	n, ok := v.(int64)
	if !ok || n <= 0 {
		return nil, docErr("version", lineOf(raw, d.FromJSON, "version"), "must be a positive integer, got %v", v)
	}
	if n > MaxVersion {
		return nil, docErr("version", lineOf(raw, d.FromJSON, "version"), "%d is above the version limit 2^53 (%d), the largest a JSON number carries exactly", n, int64(MaxVersion))
	}
	d.Version = n
	d.Keys = map[string][]string{}
	for k, v := range tree {
		if k == "version" {
			continue
		}
		switch t := v.(type) {
		case map[string]any:
			d.Keys[k] = slices.Sorted(maps.Keys(t))
		case []map[string]any:
		default:
			return nil, docErr(k, lineOf(raw, d.FromJSON, k), "top-level keys other than version must be sections such as [[sensor]] or [[stream]]")
		}
		d.Sections = append(d.Sections, k)
	}
	sort.Strings(d.Sections)
	if len(d.Sections) == 0 {
		return nil, docErr("", 0, "document sets no section")
	}
	if d.FromJSON {
		var b bytes.Buffer
		fmt.Fprintf(&b, "version = %d\n", n)
		delete(tree, "version")
		if err := toml.NewEncoder(&b).Encode(tree); err != nil {
			return nil, docErr("", 0, "cannot encode as TOML: %v", err)
		}
		d.TOML = b.Bytes()
	}
	return d, nil
}

// CheckSize refuses a payload longer than MaxDocument by its length alone.
func CheckSize(n int) error {
	if n > MaxDocument {
		return docErr("", 0, "document is %d bytes; the size limit is %d bytes (%d KiB)", n, MaxDocument, MaxDocument>>10)
	}
	return nil
}

// CheckVersion says whether a document's version v may follow the current
// version cur: above it (else it is a replay), by at most MaxVersionStep,
// and at most MaxVersion.
func CheckVersion(v, cur int64) error {
	switch {
	case v <= cur:
		return docErr("version", 0, "replay: version %d is not above the current version %d", v, cur)
	case v > MaxVersion:
		return docErr("version", 0, "%d is above the version limit 2^53 (%d)", v, int64(MaxVersion))
	case v-cur > MaxVersionStep:
		return docErr("version", 0, "version %d is %d above the current version %d; the version step limit is %d (set [remote] version_reset in the local file to move the current version)", v, v-cur, cur, int64(MaxVersionStep))
	}
	return nil
}

// sniffWindow is how far into a payload SniffVersion looks.
const sniffWindow = 4 << 10

// SniffVersion finds a payload's version without parsing it, for the
// result of a payload refused unread (too large, or the queue full): a
// top-level `version = N` line or a JSON "version": N in the first 4 KiB,
// inside a signature envelope too. It returns 0 when it finds none; it is
// a label for the operator, never a decision.
func SniffVersion(payload []byte) int64 {
	p := bytes.TrimLeft(payload[:min(len(payload), sniffWindow)], " \t\r\n")
	if len(p) > 0 && p[0] == '{' {
		if i := bytes.Index(p, []byte(`"doc"`)); i >= 0 && bytes.Contains(p, []byte(`"sig"`)) {
			rest := bytes.TrimLeft(p[i+5:], " \t\r\n:")
			if len(rest) > 0 && rest[0] == '"' {
				rest = rest[1:]
				if end := bytes.IndexByte(rest, '"'); end >= 0 {
					rest = rest[:end]
				}
				rest = rest[:len(rest)/4*4]
				doc := make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
				n, _ := base64.StdEncoding.Decode(doc, rest)
				return SniffVersion(doc[:n])
			}
		}
		return sniffNumber(p, `"version"`, ':')
	}
	for line := range bytes.Lines(p) {
		if v := sniffNumber(bytes.TrimLeft(line, " \t"), "version", '='); v > 0 {
			return v
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '[' {
			return 0 // past the top-level keys
		}
	}
	return 0
}

// sniffNumber reads `<key> <sep> <digits>`: the first occurrence of key in
// p for JSON, a line starting with it for TOML.
func sniffNumber(p []byte, key string, sep byte) int64 {
	i := bytes.Index(p, []byte(key))
	if i < 0 || (sep == '=' && i != 0) {
		return 0
	}
	rest := bytes.TrimLeft(p[i+len(key):], " \t")
	if len(rest) == 0 || rest[0] != sep {
		return 0
	}
	rest = bytes.TrimLeft(rest[1:], " \t")
	end := 0
	for end < len(rest) && end < 19 && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil || v <= 0 {
		return 0
	}
	return v
}

// fromJSON turns JSON numbers into int64 or float64 and arrays of objects
// into []map[string]any, the shapes the TOML decoder produces.
func fromJSON(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := fromJSON(e, joinKey(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		if len(x) > 0 {
			if _, ok := x[0].(map[string]any); ok {
				out := make([]map[string]any, len(x))
				for i, e := range x {
					m, ok := e.(map[string]any)
					if !ok {
						return nil, docErr(config.IndexKey(path, i), 0, "mixes tables and values in one array")
					}
					c, err := fromJSON(m, config.IndexKey(path, i))
					if err != nil {
						return nil, err
					}
					out[i] = c.(map[string]any)
				}
				return out, nil
			}
		}
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromJSON(e, config.IndexKey(path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, docErr(path, 0, "number %s out of range", x)
		}
		return f, nil
	case nil:
		if path == "" {
			return nil, docErr("", 0, "JSON document must be an object")
		}
		return nil, docErr(path, 0, "null is not a TOML value")
	}
	return v, nil
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// lineOf finds a top-level key's line in a TOML document (0 for JSON).
func lineOf(raw []byte, fromJSON bool, key string) int {
	if fromJSON {
		return 0
	}
	return config.ScanKeys(raw).Find(key).Line
}

func docErr(key string, line int, format string, args ...any) error {
	return config.Errors{{File: "config/set", Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}}
}

// Merge builds the merged document: d's text, then the sections of local
// (a whole local config file) that d does not replace. overlayLines is
// the number of lines belonging to d.
func Merge(local []byte, d *Doc) (merged []byte, overlayLines int, err error) {
	var tree map[string]any
	if _, err := toml.Decode(string(local), &tree); err != nil {
		return nil, 0, fmt.Errorf("remote: local config: %w", err)
	}
	var b bytes.Buffer
	b.Write(blankVersion(d.TOML))
	if !bytes.HasSuffix(d.TOML, []byte("\n")) {
		b.WriteByte('\n')
	}
	overlayLines = bytes.Count(b.Bytes(), []byte("\n"))
	rest := map[string]any{}
	for k, v := range tree {
		if !slices.Contains(d.Sections, k) {
			rest[k] = v
		}
	}
	if len(rest) > 0 {
		if err := toml.NewEncoder(&b).Encode(rest); err != nil {
			return nil, 0, fmt.Errorf("remote: re-encoding local sections: %w", err)
		}
	}
	return b.Bytes(), overlayLines, nil
}

// MapErrors turns the errors of validating a merged document into the
// overlay's terms: the "version" key is not an error, lines past the
// overlay (or in a document that came as JSON) are dropped, the file is
// "config/set".
func MapErrors(errs config.Errors, overlayLines int, fromJSON bool) config.Errors {
	var out config.Errors
	for _, e := range errs {
		if e.Key == "version" || strings.HasPrefix(e.Key, "version.") {
			continue
		}
		c := *e
		c.File = "config/set"
		if fromJSON || c.Line > overlayLines {
			c.Line, c.Col = 0, 0
		}
		out = append(out, &c)
	}
	return out
}

// blankVersion empties the line of the top-level version key (the local
// schema has no such key), keeping every other line where it was.
func blankVersion(doc []byte) []byte {
	line := config.ScanKeys(doc).Find("version").Line
	if line == 0 {
		return doc
	}
	lines := bytes.SplitAfter(doc, []byte("\n"))
	out := make([]byte, 0, len(doc))
	for i, l := range lines {
		if i == line-1 {
			if bytes.HasSuffix(l, []byte("\n")) {
				out = append(out, '\n')
			}
			continue
		}
		out = append(out, l...)
	}
	return out
}
