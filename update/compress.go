package update

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// Compression. A full payload is one zstd frame at the encoder's best
// level. A delta is the same with the base binary as a raw dictionary
// (zstd's "patch-from"): every stretch of the new build that the old one
// already has costs a few bytes of match instead of its content. The
// window must span the dictionary and the output, or matches far back in
// the base would be out of reach; the decoder needs that much memory once,
// while it installs.

// dictID names the base in a delta frame; a raw dictionary has no ID of its
// own, and the payload's base_sha256 is what ties the frame to its base.
const dictID = 0x6b617261 // "kara"

// minWindow is the smallest window used; zstd's maximum is far above any
// binary (MaxBinary).
const minWindow = 1 << 20

// windowFor is the window a frame over n bytes of history needs: the next
// power of two.
func windowFor(n int) int {
	if n <= minWindow {
		return minWindow
	}
	return 1 << bits.Len(uint(n-1))
}

// Compress returns bin as one zstd frame; with base, as a delta against it.
// fast trades ~7% of a full payload's size for 4-5 times less time; a
// delta is always made at the best level, the only one that finds most of
// the base (a build that differs in its version string only: 1.8 KB at
// best, 690 KB at "better", nothing at default, of a 4.6 MB full payload).
func Compress(bin, base []byte, fast bool) ([]byte, error) {
	level := zstd.SpeedBestCompression
	if fast && base == nil {
		level = zstd.SpeedBetterCompression
	}
	opts := []zstd.EOption{
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(windowFor(len(bin) + len(base))),
		zstd.WithEncoderCRC(true),
	}
	if base != nil {
		opts = append(opts, zstd.WithEncoderDictRaw(dictID, base))
	}
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(bin, make([]byte, 0, len(bin)/3)), nil
}

// Decompress writes the binary a payload holds to w, checking its size and
// SHA-256; base is the running binary for a delta.
func Decompress(p *Payload, payload io.Reader, base []byte, size int64, sha string, w io.Writer) error {
	opts := []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(uint64(windowFor(int(size) + len(base)))),
		zstd.WithDecoderMaxMemory(uint64(size) + 1),
	}
	if p.Encoding == EncZstdDelta {
		if base == nil {
			return errors.New("delta payload without its base binary")
		}
		if got := hexSum(sha256.Sum256(base)); got != p.Base {
			return fmt.Errorf("delta base: the running binary's SHA-256 is %s, the delta wants %s", got, p.Base)
		}
		opts = append(opts, zstd.WithDecoderDictRaw(dictID, base))
	}
	dec, err := zstd.NewReader(payload, opts...)
	if err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	defer dec.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(dec, size+1))
	if err != nil {
		return fmt.Errorf("decompressing the %s payload: %w", p.Encoding, err)
	}
	if n != size {
		return fmt.Errorf("decompressed %d bytes, the document says %d", n, size)
	}
	if got := hexSum([32]byte(h.Sum(nil))); got != sha {
		return fmt.Errorf("decompressed binary's SHA-256 is %s, the document says %s", got, sha)
	}
	return nil
}

// DecompressBytes is Decompress into memory (release's self-check).
func DecompressBytes(p *Payload, payload, base []byte, size int64, sha string) ([]byte, error) {
	var out bytes.Buffer
	if err := Decompress(p, bytes.NewReader(payload), base, size, sha, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
