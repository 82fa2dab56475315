package remote

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/karana-energy/karana-edge/config"
)

// MaxDocument bounds a config/set payload: a real config is a few kB, and
// the box has little memory.
const MaxDocument = 256 << 10

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
}

// Parse opens payload (verifying its signature with key when key is set)
// and parses the document. Mistakes come as config.Errors with file
// "config/set" and, for TOML, the line in the document.
func Parse(payload []byte, key ed25519.PublicKey) (*Doc, error) {
	if len(payload) > MaxDocument {
		return nil, docErr("", 0, "document is %d bytes; at most %d", len(payload), MaxDocument)
	}
	raw, err := Open(payload, key)
	if err != nil {
		return nil, docErr("", 0, "%v", err)
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
	d.Version = n
	for k, v := range tree {
		if k == "version" {
			continue
		}
		switch v.(type) {
		case map[string]any, []map[string]any:
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
