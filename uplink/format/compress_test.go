package format

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

func compressInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	big, _ := JSON{}.Format(benchBatch(5000))
	return map[string][]byte{
		"empty":  {},
		"one":    {'x'},
		"json":   mustFormat(JSON{}, goldenBatch()),
		"big":    big,
		"random": random, // incompressible
	}
}

func mustFormat(f Formatter, b *Batch) []byte {
	out, err := f.Format(b)
	if err != nil {
		panic(err)
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	for name, in := range compressInputs() {
		for _, kind := range Compressions() {
			prefix := []byte("keep:")
			out, err := AppendCompressed(kind, append([]byte(nil), prefix...), in)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, kind, err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("%s/%s: dst prefix lost", name, kind)
			}
			payload := out[len(prefix):]
			if got := CompressionOf(payload); got != kind && !(kind == CompressNone) {
				t.Errorf("%s/%s: sniffed as %s", name, kind, got)
			}
			back, err := Decompress(payload)
			if err != nil {
				t.Fatalf("%s/%s: decompress: %v", name, kind, err)
			}
			if !bytes.Equal(back, in) {
				t.Errorf("%s/%s: round trip differs (%d → %d → %d bytes)", name, kind, len(in), len(payload), len(back))
			}
			if name == "big" && kind != CompressNone && len(payload)*5 > len(in) {
				t.Errorf("%s/%s: %d → %d bytes, expected at least 5x smaller", name, kind, len(in), len(payload))
			}
			t.Logf("%s/%s: %d → %d bytes", name, kind, len(in), len(payload))
		}
	}
}

// TestGzipIsStandard: the standard library (and so zcat, Telegraf) reads it.
func TestGzipIsStandard(t *testing.T) {
	in := mustFormat(JSON{}, taggedBatch())
	out, err := AppendCompressed(CompressGzip, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := stdgzip.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(back, in) {
		t.Errorf("compress/gzip reads back %d bytes, %v", len(back), err)
	}
}

func TestDecompressPassesPlainPayloads(t *testing.T) {
	for _, f := range []Formatter{JSON{}, Influx{}, SenML{}, SenMLCBOR{}, CSV{}} {
		in := mustFormat(f, goldenBatch())
		if CompressionOf(in) != CompressNone {
			t.Errorf("%T payload sniffed as compressed", f)
		}
		out, err := Decompress(in)
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%T payload changed by Decompress: %v", f, err)
		}
	}
}

func TestDecompressCorrupt(t *testing.T) {
	in := mustFormat(JSON{}, benchBatch(200))
	for kind, magic := range map[string]int{CompressGzip: 2, CompressZstd: 4} {
		out, _ := AppendCompressed(kind, nil, in)
		for name, bad := range map[string][]byte{
			"truncated":  out[:len(out)/2],
			"flipped":    flip(out, len(out)/2),
			"magic only": out[:magic],
		} {
			if _, err := Decompress(bad); err == nil {
				t.Errorf("%s %s: no error", kind, name)
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestDecompressBound(t *testing.T) {
	old := maxDecompressed
	maxDecompressed = 1 << 20
	defer func() { maxDecompressed = old }()
	bomb := make([]byte, 2<<20)
	for _, kind := range []string{CompressGzip, CompressZstd} {
		out, _ := AppendCompressed(kind, nil, bomb)
		if _, err := Decompress(out); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %d → %d bytes: got %v, want ErrTooLarge", kind, len(bomb), len(out), err)
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	inputs := [][]byte{mustFormat(JSON{}, benchBatch(100)), mustFormat(Influx{}, benchBatch(200)), mustFormat(CSV{}, goldenBatch())}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Go(func() {
			for i := range 6 {
				in := inputs[(g+i)%len(inputs)]
				kind := []string{CompressGzip, CompressZstd}[(g+i)%2]
				out, err := AppendCompressed(kind, nil, in)
				if err == nil {
					var back []byte
					back, err = Decompress(out)
					if err == nil && !bytes.Equal(back, in) {
						err = errors.New(kind + ": round trip differs")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompressNames(t *testing.T) {
	if _, err := AppendCompressed("brotli", nil, []byte("x")); err == nil {
		t.Error("unknown compression accepted")
	}
	for kind, level := range map[string]string{"": "", CompressNone: "", CompressGzip: "gz", CompressZstd: "zst"} {
		if got := CompressTopicLevel(kind); got != level {
			t.Errorf("topic level of %q: %q, want %q", kind, got, level)
		}
		if !ValidCompression(kind) {
			t.Errorf("%q invalid", kind)
		}
	}
	if ValidCompression("lz4") {
		t.Error("lz4 valid")
	}
}

// FuzzDecompress: any input gives a result or an error, never a panic or
// an unbounded allocation (decode reads files from anywhere).
func FuzzDecompress(f *testing.F) {
	in := mustFormat(JSON{}, goldenBatch())
	for _, kind := range Compressions() {
		out, _ := AppendCompressed(kind, nil, in)
		f.Add(out)
	}
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Decompress(b)
		if err == nil && CompressionOf(b) == CompressNone && !bytes.Equal(out, b) {
			t.Errorf("plain input changed")
		}
		if int64(len(out)) > maxDecompressed {
			t.Errorf("%d bytes out, over the bound", len(out))
		}
	})
}
