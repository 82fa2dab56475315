package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// DefaultChunk is release's chunk size: small enough that a cut on a 2G
// link loses little (a chunk is fetched again only when it was not
// verified), big enough that per-chunk overhead (subscribe, unsubscribe,
// topic) stays near 0.1%.
const DefaultChunk = 64 << 10

// ReleaseOptions say how to cut a release.
type ReleaseOptions struct {
	Version string
	// Topic is the chunk topic root; each payload gets a level under it.
	Topic     string
	ChunkSize int
	// Bases are earlier builds to make deltas against (the ones running in
	// the fleet); a delta is kept only when smaller than the full payload.
	Bases [][]byte
	// Fast compresses at zstd's default level instead of its best.
	Fast bool
}

// Release is a document and the chunks of each of its payloads.
type Release struct {
	Doc    Document
	Chunks [][][]byte // Chunks[payload][i]
}

// buildInfoMagic starts the build-info blob the Go linker writes (Go 1.18
// and later: the strings follow the 32-byte header inline), as
// debug/buildinfo reads it; reading it here keeps debug/elf and its kin
// (~0.7 MiB) out of the device binary.
var buildInfoMagic = []byte("\xff Go buildinf:")

// TargetOf reads a Go binary's platform from its build settings.
func TargetOf(bin []byte) (Target, error) {
	mod, err := modInfo(bin)
	if err != nil {
		return Target{}, err
	}
	var t Target
	for line := range strings.SplitSeq(mod, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "build\t"), "=")
		if !ok || !strings.HasPrefix(line, "build\t") {
			continue
		}
		switch k {
		case "GOOS":
			t.GOOS = v
		case "GOARCH":
			t.GOARCH = v
		case "GOARM":
			t.GOARM = v
		}
	}
	if t.GOOS == "" || t.GOARCH == "" {
		return Target{}, fmt.Errorf("build info has no GOOS/GOARCH")
	}
	if t.GOARCH == "arm" && t.GOARM == "" {
		t.GOARM = "7"
	}
	return t, nil
}

// modInfo returns the module and build settings text of a Go binary.
func modInfo(bin []byte) (string, error) {
	for off := 0; ; {
		i := bytes.Index(bin[off:], buildInfoMagic)
		if i < 0 {
			return "", fmt.Errorf("not a Go binary with build info (Go 1.18 or later)")
		}
		off += i
		if off%16 != 0 || len(bin)-off < 32 || bin[off+15]&2 == 0 {
			off++
			continue
		}
		rest := bin[off+32:]
		var mod []byte
		for range 2 { // the Go version, then the module info
			n, w := binary.Uvarint(rest)
			if w <= 0 || n > uint64(len(rest)-w) {
				return "", fmt.Errorf("damaged build info")
			}
			mod, rest = rest[w:w+int(n)], rest[w+int(n):]
		}
		// runtime/debug's framing: 16 sentinel bytes on each side.
		if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
			return string(mod[16 : len(mod)-16]), nil
		}
		return "", fmt.Errorf("build info without module info (built outside module mode)")
	}
}

// NewRelease builds the document and chunks for bin.
func NewRelease(bin []byte, o ReleaseOptions) (*Release, error) {
	if _, err := ParseVersion(o.Version); err != nil {
		return nil, err
	}
	if !bytes.Contains(bin, []byte(o.Version)) {
		// A box would install it, report the version stamped inside, and
		// take the same document again as an update.
		return nil, fmt.Errorf("the binary does not contain the version string %q: build it with -ldflags '-X main.version=%s'", o.Version, o.Version)
	}
	if len(bin) > MaxBinary {
		return nil, fmt.Errorf("binary is %d bytes, at most %d", len(bin), MaxBinary)
	}
	t, err := TargetOf(bin)
	if err != nil {
		return nil, err
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunk
	}
	if o.ChunkSize < MinChunk || o.ChunkSize > MaxChunk {
		return nil, fmt.Errorf("chunk size %d: want %d to %d", o.ChunkSize, MinChunk, MaxChunk)
	}
	root := o.Topic
	if root == "" {
		root = "karana/updates/" + o.Version + "/" + t.GOOS + "-" + t.GOARCH + t.GOARM
	}
	r := &Release{Doc: Document{Kind: Kind, Version: o.Version, Target: t, Size: int64(len(bin)), SHA256: hexSum(sha256.Sum256(bin))}}
	full, err := Compress(bin, nil, o.Fast)
	if err != nil {
		return nil, err
	}
	r.add(EncZstd, "", root+"/full", full, o.ChunkSize)
	for _, base := range o.Bases {
		delta, err := Compress(bin, base, o.Fast)
		if err != nil {
			return nil, err
		}
		if len(delta) >= len(full) {
			continue
		}
		bsum := hexSum(sha256.Sum256(base))
		r.add(EncZstdDelta, bsum, root+"/delta-"+bsum[:16], delta, o.ChunkSize)
	}
	// What a box will do, done once here: a payload that does not give the
	// binary back is never published.
	for i := range r.Doc.Payloads {
		p := &r.Doc.Payloads[i]
		var base []byte
		if p.Encoding == EncZstdDelta {
			base = o.Bases[baseIndex(o.Bases, p.Base)]
		}
		if _, err := DecompressBytes(p, bytes.Join(r.Chunks[i], nil), base, r.Doc.Size, r.Doc.SHA256); err != nil {
			return nil, fmt.Errorf("self-check of payload %s: %w", p.Encoding, err)
		}
	}
	return r, r.Doc.Validate()
}

func baseIndex(bases [][]byte, sum string) int {
	for i, b := range bases {
		if hexSum(sha256.Sum256(b)) == sum {
			return i
		}
	}
	return -1
}

func (r *Release) add(enc, base, topic string, data []byte, chunk int) {
	p := Payload{Encoding: enc, Base: base, Topic: topic, Size: int64(len(data)), SHA256: hexSum(sha256.Sum256(data)), ChunkSize: chunk}
	var chunks [][]byte
	for off := 0; off < len(data); off += chunk {
		c := data[off:min(off+chunk, len(data))]
		chunks = append(chunks, c)
		p.Chunks = append(p.Chunks, hexSum(sha256.Sum256(c)))
	}
	r.Doc.Payloads = append(r.Doc.Payloads, p)
	r.Chunks = append(r.Chunks, chunks)
}
