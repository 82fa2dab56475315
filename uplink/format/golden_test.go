package format

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// checkGolden compares got with testdata/<dir>/<name>, rewriting the file
// with -update.
func checkGolden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", dir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s output differs from %s\n got: %q\nwant: %q", dir, golden, got, want)
	}
}

// taggedBatch is goldenBatch with stream tags.
func taggedBatch() *Batch {
	b := goldenBatch()
	b.Tags = map[string]string{"site": "kisumu-3", "customer": "acme"}
	return b
}
