package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const gnarly = `# a comment with [brackets] and key = "value"
top = 1
"quoted.key" = 2 # trailing comment
'literal key' = 3

[buffer]
  max_bytes = "64MiB"
dotted.inner.leaf = true

[[sensor]]
name = "a"
text = """
[[sensor]]
name = "not a key"
\"""still inside\"""
"""
after = 'x'

[[sensor]]
	name = "b"
lit = '''
interval = 'nope'
'''
arr = [
  1, # comment ]
  [2, 3],
  { k = "v", n.m = 4 },
]
inline = { x = 1, y = { z = "}" } }

[sensor.calibration]
gain = 1.5

[[sensor.channel]]
pin = 4

[[sensor.channel]]
pin = 5

[[stream]]
name = "raw"
match = ["a.*",
         "b.*"]
"tricky \"q\"" = 1
`

func TestScanKeysPositions(t *testing.T) {
	if _, err := toml.Decode(gnarly, new(map[string]any)); err != nil {
		t.Fatalf("fixture is not valid TOML: %v", err)
	}
	ix := ScanKeys([]byte(gnarly))
	want := map[string]Pos{
		"top":                           {2, 1},
		`"quoted.key"`:                  {3, 1},
		`"literal key"`:                 {4, 1},
		"buffer":                        {6, 1},
		"buffer.max_bytes":              {7, 3},
		"buffer.dotted":                 {8, 1},
		"buffer.dotted.inner.leaf":      {8, 1},
		"sensor":                        {10, 1},
		"sensor[0]":                     {10, 1},
		"sensor[0].name":                {11, 1},
		"sensor[0].text":                {12, 1},
		"sensor[0].after":               {17, 1},
		"sensor[1]":                     {19, 1},
		"sensor[1].name":                {20, 2},
		"sensor[1].lit":                 {21, 1},
		"sensor[1].arr":                 {24, 1},
		"sensor[1].arr[0]":              {25, 3},
		"sensor[1].arr[1]":              {26, 3},
		"sensor[1].arr[1][1]":           {26, 7},
		"sensor[1].arr[2].k":            {27, 5},
		"sensor[1].arr[2].n.m":          {27, 14},
		"sensor[1].inline.x":            {29, 12},
		"sensor[1].inline.y.z":          {29, 25},
		"sensor[1].calibration":         {31, 1},
		"sensor[1].calibration.gain":    {32, 1},
		"sensor[1].channel[0].pin":      {35, 1},
		"sensor[1].channel[1]":          {37, 1},
		"sensor[1].channel[1].pin":      {38, 1},
		"stream[0].name":                {41, 1},
		"stream[0].match[1]":            {43, 10},
		`stream[0]."tricky \"q\""`:      {44, 1},
		"sensor[0].text.not-registered": {}, // absent: strings are not scanned
	}
	for path, p := range want {
		got, ok := ix.Lookup(path)
		if p == (Pos{}) {
			if ok {
				t.Errorf("%s: indexed at %v, want absent", path, got)
			}
			continue
		}
		if !ok || got != p {
			t.Errorf("%s: got %v (found %v), want %v", path, got, ok, p)
		}
	}
	// Nothing inside the multi-line strings was taken for a key.
	for _, bad := range []string{"sensor[2]", "interval", "sensor[1].interval"} {
		if _, ok := ix.Lookup(bad); ok {
			t.Errorf("%s indexed from inside a string", bad)
		}
	}
	if got := ix.Find("sensor[1].timeout"); got != (Pos{19, 1}) {
		t.Errorf("Find of an unwritten key = %v, want its table's header", got)
	}
	if got := ix.Find("nosuch.key"); got != (Pos{}) {
		t.Errorf("Find of nothing = %v", got)
	}
}

func TestParentKey(t *testing.T) {
	for in, want := range map[string]string{
		"sensor[2].interval":      "sensor[2]",
		"sensor[2]":               "sensor",
		"sensor":                  "",
		`a."b.c"`:                 "a",
		`a."b[1]"[3]`:             `a."b[1]"`,
		`stream[0]."x \"y.z\"".w`: `stream[0]."x \"y.z\""`,
	} {
		if got := ParentKey(in); got != want {
			t.Errorf("ParentKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := JoinKey("a", "b.c"); got != `a."b.c"` {
		t.Errorf("JoinKey = %q", got)
	}
}

// TestScanKeysTOMLTestSuite runs the scanner over every valid document of the
// toml-test suite that ships inside the BurntSushi/toml module and checks
// that each key the parser sees is indexed. It skips when the module source
// is not in the module cache.
func TestScanKeysTOMLTestSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/BurntSushi/toml").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "toml-test", "tests", "valid")
	if _, statErr := os.Stat(dir); err != nil || statErr != nil {
		t.Skipf("toml-test suite not found (%v %v)", err, statErr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.toml"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
	files = append(files, more...)
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			continue // the suite holds some TOML 1.1 documents this version rejects
		}
		ix := ScanKeys(data)
		lines := strings.Split(string(data), "\n")
		var missing []string
		walkPaths("", m, func(path string) {
			p, ok := ix.Lookup(path)
			if !ok {
				missing = append(missing, path)
				return
			}
			// A bare key's line holds the key (a dotted key or a header
			// names it with its parents on one line).
			last := path[len(ParentKey(path)):]
			last = strings.TrimPrefix(last, ".")
			if isBareKey(last) && (p.Line > len(lines) || !strings.Contains(lines[p.Line-1], last)) {
				t.Errorf("%s: %s indexed at %v, whose line lacks it", filepath.Base(f), path, p)
			}
		})
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: not indexed: %q", filepath.Base(f), missing)
		}
		checked++
	}
	t.Logf("%d of %d documents checked", checked, len(files))
	if checked < 100 {
		t.Errorf("only %d documents checked", checked)
	}
}

func walkPaths(path string, v any, visit func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := JoinKey(path, k)
			visit(p)
			walkPaths(p, e, visit)
		}
	case []map[string]any:
		for i, e := range x {
			p := IndexKey(path, i)
			visit(p)
			walkPaths(p, e, visit)
		}
	case []any:
		for i, e := range x {
			p := IndexKey(path, i)
			visit(p)
			walkPaths(p, e, visit)
		}
	}
}

// TestScanKeysInvalidInput feeds the scanner every invalid document of the
// suite: it must end and not panic, whatever it indexes.
func TestScanKeysInvalidInput(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/BurntSushi/toml").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "toml-test", "tests", "invalid")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Skipf("toml-test suite not found (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ScanKeys(data)
	}
}

func FuzzScanKeys(f *testing.F) {
	f.Add([]byte(gnarly))
	f.Add([]byte("a = [\n{b = \"\"\"\n"))
	f.Add([]byte("[[x]]\n[x.y\n'''"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix := ScanKeys(data)
		n := strings.Count(string(data), "\n") + 1
		for path, p := range ix.paths() {
			if p.Line < 1 || p.Line > n || p.Col < 1 {
				t.Fatalf("%s at impossible %v", path, p)
			}
		}
	})
}

// nestedShapes are documents whose structure is n levels deep, each a way
// to build a long key path: arrays in arrays, inline tables in inline
// tables, one dotted key of n parts, one table header of n parts.
var nestedShapes = map[string]func(n int) []byte{
	"arrays": func(n int) []byte {
		return []byte("version = 22\nx = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n")
	},
	"inline tables": func(n int) []byte {
		return []byte("x = " + strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n) + "\n")
	},
	"dotted key": func(n int) []byte { return []byte(strings.Repeat("a.", n) + "b = 1\n") },
	"header":     func(n int) []byte { return []byte("[" + strings.Repeat("a.", n) + "b]\nc = 1\n") },
}

// allocated is the heap bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestScanKeysLinear: locating keys costs memory in proportion to the
// document, whatever its depth. A path per nested element used to be
// built from its parent's, so 20k nested arrays cost four times what 10k
// did (quadratic: 627 MB against 155 MB).
func TestScanKeysLinear(t *testing.T) {
	for name, shape := range nestedShapes {
		small, large := shape(10000), shape(20000)
		a := allocated(func() { ScanKeys(small) })
		b := allocated(func() { ScanKeys(large) })
		t.Logf("%s: %d bytes for depth 10k (%d-byte document), %d for 20k", name, a, len(small), b)
		if b > a*5/2 {
			t.Errorf("%s: %d bytes allocated at depth 20k, %d at 10k: grows faster than the document", name, b, a)
		}
		if per := b / uint64(len(large)); per > 256 {
			t.Errorf("%s: %d bytes allocated per document byte at depth 20k", name, per)
		}
	}
}

// BenchmarkScanKeysNested times the locator on 100k nested arrays (a
// 200 kB document).
func BenchmarkScanKeysNested(b *testing.B) {
	doc := nestedShapes["arrays"](100000)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		ScanKeys(doc)
	}
}

// paths lists every written path with its position (quadratic in the
// depth: for tests on small documents).
func (x *KeyIndex) paths() map[string]Pos {
	name := make([]string, len(x.nodes))
	done := make([]bool, len(x.nodes))
	done[0] = true
	edges := make([]keyEdge, len(x.nodes))
	for e, n := range x.kids {
		edges[n] = e
	}
	var pathOf func(n int) string
	pathOf = func(n int) string {
		if !done[n] {
			e := edges[n]
			if e.index >= 0 {
				name[n] = IndexKey(pathOf(e.parent), e.index)
			} else {
				name[n] = JoinKey(pathOf(e.parent), e.name)
			}
			done[n] = true
		}
		return name[n]
	}
	out := map[string]Pos{}
	for n := 1; n < len(x.nodes); n++ {
		if p := x.nodes[n].pos; p != (Pos{}) {
			out[pathOf(n)] = p
		}
	}
	return out
}

// treeDepth is the key-path depth of a decoded TOML value: one per name
// and one per array index; an array counts its level even when empty.
func treeDepth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, 1+treeDepth(e))
		}
	case []map[string]any:
		d = 1
		for _, e := range x {
			d = max(d, 1+treeDepth(e))
		}
	case []any:
		d = 1
		for _, e := range x {
			d = max(d, 1+treeDepth(e))
		}
	}
	return d
}

func TestCheckDepth(t *testing.T) {
	for _, c := range []struct {
		doc   string
		depth int
		line  int // where depth-1 is exceeded
	}{
		{"a = 1\n", 1, 1},
		{"a.b.c = 1\n", 3, 1},
		{"[a.b]\nc = 1\n", 3, 2},
		{"[[a]]\nb = 1\n", 3, 2},
		{"x = [1, [2, [3]]]\n", 4, 1},
		{"x = {a = {b.c = 1}}\n", 4, 1},
		{"x = [{a = [1]}]\n", 4, 1},
		{"x = \"[[[[\" # {{{{\ny = 2\n", 1, 1},
		{"x = '''[[[\n]]]'''\ny = \"\"\"\n{{{{\\\"\"\"\"\n", 1, 1},
		{"x = [\n  [1],\n  # [[[\n  [2, \"]\"],\n]\nz = 1\n", 3, 2},
		{gnarly, 6, 27},
		{`{"a":{"b":[1]}}`, 3, 1},
		{"\n {\"a\":\"[[[[\\\"[[\", \"b\": [[2]]}", 3, 2},
	} {
		if err := CheckDepth("f", []byte(c.doc), c.depth); err != nil {
			t.Errorf("%q: depth %d refused: %v", c.doc, c.depth, err)
		}
		err := CheckDepth("f", []byte(c.doc), c.depth-1)
		errs, ok := AsErrors(err)
		if !ok || len(errs) != 1 || errs[0].Line != c.line || errs[0].File != "f" || !strings.Contains(errs[0].Msg, fmt.Sprintf("depth limit is %d", c.depth-1)) {
			t.Errorf("%q at limit %d: %v, want one error at line %d naming the limit", c.doc, c.depth-1, err, c.line)
		}
	}
	for name, shape := range nestedShapes {
		doc := shape(100000)
		if err := CheckDepth("f", doc, MaxDepth); err == nil {
			t.Errorf("%s: 100k levels accepted", name)
		}
	}
}

// TestCheckDepthTOMLTestSuite: on every valid document of the toml-test
// suite, CheckDepth measures what the decoder builds: the document passes
// at its tree's depth and fails one below.
func TestCheckDepthTOMLTestSuite(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/BurntSushi/toml").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "toml-test", "tests", "valid")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Skipf("toml-test suite not found (%v)", err)
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			continue
		}
		want := treeDepth(m)
		if err := CheckDepth(f, data, want); err != nil {
			t.Errorf("%s: refused at its depth %d: %v", filepath.Base(f), want, err)
		}
		if want > 0 && CheckDepth(f, data, want-1) == nil {
			t.Errorf("%s: accepted below its depth %d", filepath.Base(f), want)
		}
		checked++
	}
	t.Logf("%d documents checked", checked)
}

func FuzzCheckDepth(f *testing.F) {
	f.Add([]byte(gnarly))
	f.Add([]byte("a = [\n{b = \"\"\"\n"))
	f.Add([]byte(`{"a":[{"b":"]"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckDepth("f", data, 4)
		var m map[string]any
		if _, derr := toml.Decode(string(data), &m); derr == nil {
			if d := treeDepth(m); (d <= 4) != (err == nil) {
				t.Fatalf("tree depth %d, CheckDepth(4): %v", d, err)
			}
		}
	})
}

// TestParseRefusesDeepNesting: a local file nested 100k deep (`check` on
// it ran past 60 s) is refused before decoding, with its position.
func TestParseRefusesDeepNesting(t *testing.T) {
	for name, shape := range nestedShapes {
		doc := shape(100000)
		_, _, err := Parse("deep.toml", doc)
		errs, ok := AsErrors(err)
		if !ok || len(errs) != 1 || errs[0].Line == 0 || errs[0].Col == 0 || !strings.Contains(errs[0].Error(), "deep.toml:") {
			t.Errorf("%s: Parse = %v, want one positioned error", name, err)
			continue
		}
		t.Logf("%s: %v", name, errs[0])
	}
}
