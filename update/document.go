package update

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/karana-energy/karana-edge/remote"
)

// Kind is the "kind" of every update document: a document signed for
// another purpose (a remote config) is never taken for an update.
const Kind = "karana-edge-update"

// Encodings of a payload.
const (
	// EncZstd is the binary compressed as one zstd frame.
	EncZstd = "zstd"
	// EncZstdDelta is the binary compressed as one zstd frame with the
	// binary whose SHA-256 is the payload's base as a raw dictionary: a
	// patch against that build, for the boxes that run it.
	EncZstdDelta = "zstd-delta"
)

// Limits a box checks before it trusts anything in a document.
const (
	// MaxDocument bounds a signed document (envelope included): a 16 MiB
	// binary in 4 KiB chunks lists ~4,100 hashes of 67 bytes.
	MaxDocument = 512 << 10
	// MaxChunk bounds one chunk message. The box's inbound limit
	// (uplink MaxInbound, 256 KiB) must let a chunk through whole.
	MaxChunk = 192 << 10
	// MinChunk is the smallest chunk size release accepts.
	MinChunk = 1 << 10
	// MaxBinary bounds the binary a document describes (the armv6 build is
	// ~12 MiB).
	MaxBinary = 64 << 20
)

// Target is the platform a binary is built for: GOARM only for arm.
type Target struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	GOARM  string `json:"goarm,omitempty"`
}

func (t Target) String() string {
	s := t.GOOS + "/" + t.GOARCH
	if t.GOARM != "" {
		s += "v" + t.GOARM
	}
	return s
}

// Running is the target of this process's own binary.
func Running() Target {
	t := Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if t.GOARCH == "arm" {
		t.GOARM = "7" // the toolchain's default
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" {
					t.GOARM = s.Value
				}
			}
		}
	}
	return t
}

// Document describes one release of the binary: what it is, for which
// platform, and how its bytes travel (one or more payloads, each in
// chunks). It is carried inside the signature envelope of package remote.
type Document struct {
	Kind    string `json:"kind"`
	Version string `json:"version"`
	Target  Target `json:"target"`
	// Size and SHA256 are the binary's, uncompressed.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Payloads are the ways to get the binary; a box takes the smallest it
	// can use (a delta only against the binary it runs).
	Payloads []Payload `json:"payloads"`
}

// Payload is one encoding of the binary, cut into chunks.
type Payload struct {
	Encoding string `json:"encoding"`
	// Base is the SHA-256 of the binary a delta applies to.
	Base string `json:"base_sha256,omitempty"`
	// Topic is where chunk i is published (retained): Topic + "/" + i.
	Topic string `json:"topic"`
	// Size and SHA256 are the whole payload's.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// ChunkSize is every chunk's length but the last's.
	ChunkSize int `json:"chunk_size"`
	// Chunks are the SHA-256 of each chunk, in order.
	Chunks []string `json:"chunks"`
}

// ChunkTopic is the topic of chunk i.
func (p *Payload) ChunkTopic(i int) string { return fmt.Sprintf("%s/%d", p.Topic, i) }

// ChunkLen is the length of chunk i.
func (p *Payload) ChunkLen(i int) int {
	if i == len(p.Chunks)-1 {
		return int(p.Size - int64(i)*int64(p.ChunkSize))
	}
	return p.ChunkSize
}

// hexSHA is a SHA-256 as the document writes it: 64 lowercase hex digits.
// (Functions, not regexps: a compiled {64} repetition was 190 KB of heap
// at every start of the daemon, update or not.)
var hexSHA = matcher(func(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
})

// topicRE is what a chunk topic may be: MQTT topic characters without
// wildcards, 1 to 200 of letters, digits, '_', '.', '-' and '/'.
var topicRE = matcher(func(s string) bool {
	if len(s) < 1 || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/') {
			return false
		}
	}
	return true
})

// matcher gives a check the MatchString of the regexps it replaced.
type matcher func(string) bool

func (m matcher) MatchString(s string) bool { return m(s) }

// Validate checks the document's own consistency.
func (d *Document) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.Kind != Kind {
		bad("kind %q: not an update document (want %q)", d.Kind, Kind)
	}
	if _, err := ParseVersion(d.Version); err != nil {
		bad("%v", err)
	}
	if d.Target.GOOS == "" || d.Target.GOARCH == "" {
		bad("target: goos and goarch are required")
	}
	if d.Size <= 0 || d.Size > MaxBinary {
		bad("size %d: want 1 to %d bytes", d.Size, MaxBinary)
	}
	if !hexSHA.MatchString(d.SHA256) {
		bad("sha256 %q: want 64 lowercase hex digits", d.SHA256)
	}
	if len(d.Payloads) == 0 {
		bad("payloads: none")
	}
	for i := range d.Payloads {
		if err := d.Payloads[i].validate(); err != nil {
			bad("payloads[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Payload) validate() error {
	switch p.Encoding {
	case EncZstd:
		if p.Base != "" {
			return errors.New("base_sha256 is for zstd-delta only")
		}
	case EncZstdDelta:
		if !hexSHA.MatchString(p.Base) {
			return fmt.Errorf("base_sha256 %q: want 64 lowercase hex digits", p.Base)
		}
	default:
		return fmt.Errorf("encoding %q: want %s or %s", p.Encoding, EncZstd, EncZstdDelta)
	}
	if !topicRE.MatchString(p.Topic) || bytes.Contains([]byte(p.Topic), []byte("//")) {
		return fmt.Errorf("topic %q: letters, digits, '_', '.', '-' and '/' only (no wildcards), at most 200", p.Topic)
	}
	if p.ChunkSize < MinChunk || p.ChunkSize > MaxChunk {
		return fmt.Errorf("chunk_size %d: want %d to %d", p.ChunkSize, MinChunk, MaxChunk)
	}
	if p.Size <= 0 || p.Size > MaxBinary {
		return fmt.Errorf("size %d: want 1 to %d bytes", p.Size, MaxBinary)
	}
	if !hexSHA.MatchString(p.SHA256) {
		return fmt.Errorf("sha256 %q: want 64 lowercase hex digits", p.SHA256)
	}
	want := (p.Size + int64(p.ChunkSize) - 1) / int64(p.ChunkSize)
	if int64(len(p.Chunks)) != want {
		return fmt.Errorf("%d chunk hashes for %d bytes in chunks of %d: want %d", len(p.Chunks), p.Size, p.ChunkSize, want)
	}
	for i, c := range p.Chunks {
		if !hexSHA.MatchString(c) {
			return fmt.Errorf("chunks[%d] %q: want 64 lowercase hex digits", i, c)
		}
	}
	return nil
}

// Sign returns the document signed with key, as the envelope a box takes.
func Sign(key ed25519.PrivateKey, d *Document) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("update document: %w", err)
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("update document: %w", err)
	}
	return remote.Sign(key, doc)
}

// Open verifies a signed document with key and decodes it. An unsigned
// document is never accepted, whatever the box's remote config does.
func Open(envelope []byte, key ed25519.PublicKey) (*Document, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, errors.New("update document: no public key to verify it with ([update] public_key, or [remote] public_key)")
	}
	if len(envelope) > MaxDocument {
		return nil, fmt.Errorf("update document: %d bytes, at most %d", len(envelope), MaxDocument)
	}
	raw, err := remote.Open(envelope, key)
	if err != nil {
		return nil, fmt.Errorf("update document: %w", err)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("update document: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("update document: %w", err)
	}
	return &d, nil
}

// Box is what a box checks a document against.
type Box struct {
	Target         Target
	Version        string // the running binary's
	AllowDowngrade bool
}

// ErrSameVersion is Accept's answer for the version the box runs: not a
// rejection worth reporting (a retained document is seen at every
// reconnect).
var ErrSameVersion = errors.New("update document: this version is the one running")

// Accept reports why b must refuse d, nil when it may take it.
func (b Box) Accept(d *Document) error {
	if d.Target != b.Target {
		return fmt.Errorf("update %s is for %s; this box is %s", d.Version, d.Target, b.Target)
	}
	if d.Version == b.Version {
		return ErrSameVersion
	}
	if !b.AllowDowngrade && !Newer(d.Version, b.Version) {
		return fmt.Errorf("update %s is not above the running %s (a downgrade needs [update] allow_downgrade = true in the local file)", d.Version, b.Version)
	}
	return nil
}

// Choose picks the payload to fetch: the delta against the running binary
// (runningSHA) when there is one and it is smaller, else the smallest full
// payload.
func (d *Document) Choose(runningSHA string) *Payload {
	var best *Payload
	for i := range d.Payloads {
		p := &d.Payloads[i]
		if p.Encoding == EncZstdDelta && p.Base != runningSHA {
			continue
		}
		if best == nil || p.Size < best.Size {
			best = p
		}
	}
	return best
}

// index is p's position in d.Payloads.
func (d *Document) index(p *Payload) int {
	for i := range d.Payloads {
		if &d.Payloads[i] == p {
			return i
		}
	}
	return 0
}

// hexSum is the lowercase hex SHA-256 of b's digest.
func hexSum(sum [32]byte) string { return hex.EncodeToString(sum[:]) }
