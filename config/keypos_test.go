package config

import (
	"os"
	"os/exec"
	"path/filepath"
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
		for path, p := range ix.pos {
			if p.Line < 1 || p.Line > n || p.Col < 1 {
				t.Fatalf("%s at impossible %v", path, p)
			}
		}
	})
}
