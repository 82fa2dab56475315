package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

func decodeBatch() *format.Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 100_000_000, time.UTC)
	b := &format.Batch{Device: "site-042", Stream: "raw", FirstSeq: 101, Dropped: 1, Tags: map[string]string{"site": "x"}}
	seq := uint64(101)
	for k := range 30 {
		for _, r := range []reading.Reading{
			{Name: "sim1.value", Value: float64(101 + k)},
			{Name: "battery.voltage", Value: 52.5 + float64(k%7)/1000, Unit: "V"},
			{Name: "ambient.temperature", Value: 31.4 - float64(k)/100, Unit: "°C"},
		} {
			r.Seq, r.Time = seq, t0.Add(time.Duration(k)*10*time.Second)
			if k < 2 {
				r.Flags = reading.ClockUnsynced
			}
			b.Readings = append(b.Readings, r)
			seq++
		}
		if k == 10 {
			seq++ // the dropped one
		}
	}
	b.LastSeq = seq - 1
	return b
}

// wantLines is the json format's "readings" of b, one per line: decode must
// print exactly these.
func wantLines(t *testing.T, b *format.Batch) string {
	t.Helper()
	doc, err := format.JSON{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Readings []json.RawMessage `json:"readings"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, r := range d.Readings {
		sb.Write(r)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func writePayload(t *testing.T, name, compress string, b *format.Batch) string {
	t.Helper()
	p, err := format.Packed{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = format.AppendCompressed(compress, nil, p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, p, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodeCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runCLI(append([]string{"decode"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDecodeFile(t *testing.T) {
	b := decodeBatch()
	want := wantLines(t, b)
	if !strings.Contains(want, `{"seq":101,"name":"sim1.value","ts":"2026-11-21T22:00:00.100Z","value":101,"unit":"","flags":1}`) {
		t.Fatalf("test batch does not print like the contract: %.200s", want)
	}
	for _, c := range format.Compressions() {
		t.Run(c, func(t *testing.T) {
			path := writePayload(t, "batch."+c, c, b)
			code, out, errs := decodeCLI(path)
			if code != exitOK || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			if out != want {
				t.Errorf("decode printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestDecodeStdin(t *testing.T) {
	b := decodeBatch()
	p, _ := format.Packed{}.Format(b)
	z, _ := format.AppendCompressed(format.CompressZstd, nil, p)
	for _, args := range [][]string{nil, {"-"}} {
		var out, errb bytes.Buffer
		if code := cmdDecode(args, bytes.NewReader(z), &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		if out.String() != wantLines(t, b) {
			t.Errorf("%v: stdin decoded to\n%s", args, out.String())
		}
	}
}

func TestDecodeBatchDocument(t *testing.T) {
	b := decodeBatch()
	want, _ := format.JSON{}.Format(b)
	code, out, errs := decodeCLI("-batch", writePayload(t, "b", format.CompressGzip, b))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != string(want)+"\n" {
		t.Errorf("-batch printed\n%s\nwant the json format's document\n%s", out, want)
	}
}

func TestDecodeEmptyBatch(t *testing.T) {
	code, out, errs := decodeCLI(writePayload(t, "empty", format.CompressNone,
		&format.Batch{Device: "d", Stream: "s", FirstSeq: 5, LastSeq: 9, Dropped: 5}))
	if code != exitOK || out != "" || errs != "" {
		t.Errorf("empty batch: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestDecodeErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := format.Packed{}.Format(decodeBatch())
	zjson, _ := format.AppendCompressed(format.CompressZstd, nil, []byte(`{"device":"d"}`))
	files := map[string][]byte{
		"json":      []byte(`{"device":"d","readings":[]}`),
		"v2":        append([]byte("KP\x02"), good[3:]...),
		"truncated": good[:len(good)/2],
		"zjson":     zjson,
		"badzstd":   {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3},
		"badgzip":   {0x1f, 0x8b, 0, 0},
	}
	for name, data := range files {
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{filepath.Join(dir, "json")}, exitFailure, "decode " + filepath.Join(dir, "json") + `: not a packed payload (magic "{\"de", want "KP")`},
		{[]string{filepath.Join(dir, "v2")}, exitFailure, ": unsupported packed version 2 (this decoder reads version 1"},
		{[]string{filepath.Join(dir, "truncated")}, exitFailure, ": truncated packed payload"},
		{[]string{filepath.Join(dir, "zjson")}, exitFailure, "not a packed payload (magic \"{\\\"de\", want \"KP\"), after zstd decompression"},
		{[]string{filepath.Join(dir, "badzstd")}, exitFailure, "zstd payload"},
		{[]string{filepath.Join(dir, "badgzip")}, exitFailure, "gzip payload"},
		{[]string{filepath.Join(dir, "missing")}, exitFailure, "decode " + filepath.Join(dir, "missing") + ": open "},
		{[]string{"a", "b"}, exitConfig, "one FILE at most"},
		{[]string{"-nope"}, exitConfig, "flag provided but not defined"},
	} {
		code, out, errs := decodeCLI(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("decode %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
		if out != "" {
			t.Errorf("decode %v printed %q on error", tc.args, out)
		}
	}
}

func TestDecodeInUsage(t *testing.T) {
	var out, errb bytes.Buffer
	runCLI([]string{"help"}, &out, &errb)
	if !strings.Contains(out.String(), "karana-edge decode") {
		t.Errorf("usage lacks the decode verb:\n%s", out.String())
	}
}
