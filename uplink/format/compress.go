package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compressions a stream can apply to its payloads (key compress).
//
// How the backend tells: the topic. A compressed stream publishes on
// <prefix>/data/<stream>/gz or .../zst instead of <prefix>/data/<stream>,
// and the payload is a plain gzip member or zstd frame, nothing around it.
// Why not an envelope: MQTT 3.1.1 has no message properties to say so, an
// envelope costs bytes on every batch, and it would hide the standard
// stream from standard tools (zcat, zstd -d, Telegraf's gzip decoder). The
// extra topic level lets a consumer subscribe per encoding ("data/+" takes
// only uncompressed batches, "data/+/gz" only gzip), so a consumer that
// cannot decompress never sees bytes it cannot read. The payload also
// identifies itself by its magic bytes; Decompress relies on that.
const (
	CompressNone = "none"
	CompressGzip = "gzip"
	CompressZstd = "zstd"
)

// Compressions lists the valid values of compress.
func Compressions() []string { return []string{CompressNone, CompressGzip, CompressZstd} }

// ValidCompression reports whether kind is a known compression ("" is none).
func ValidCompression(kind string) bool {
	switch kind {
	case "", CompressNone, CompressGzip, CompressZstd:
		return true
	}
	return false
}

// CompressTopicLevel is the topic level a stream with this compression
// appends after data/<stream>: "gz", "zst", or "" for none.
func CompressTopicLevel(kind string) string {
	switch kind {
	case CompressGzip:
		return "gz"
	case CompressZstd:
		return "zst"
	}
	return ""
}

// MaxDecompressed bounds what Decompress inflates, so a hostile or corrupt
// payload cannot exhaust memory; a batch of 100,000 readings is far below.
const MaxDecompressed = 256 << 20

// gzip writers are pooled: each holds ~1 MiB of deflate state.
// BestCompression: on the reference site's batches it is 10-18% smaller
// than level 7 and the default, for ~10x their time (130 ms for a 360 KiB
// json batch on a server core, about a second on a Pi; a 15 min batch
// affords that). zstd is both smaller and faster; gzip is for backends that
// can only gunzip.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	return w
}}

// zstdEncoder is shared: EncodeAll is safe for concurrent use (calls queue
// for the one encoder). Measured on the reference site's 15 min batches:
// SpeedBetterCompression is 12-15% smaller than the default level at about
// twice its time; SpeedBestCompression another 4-7% smaller at 3-5x the
// time and 36 MiB of tables, too much for a Pi Zero. The lower-memory mode
// and a 1 MiB window (a 3,600-reading json batch is 360 KiB) keep the
// encoder at ~5 MiB. Zero frames: an empty payload still decompresses to
// an empty one.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true),
		zstd.WithWindowSize(1<<20),
		zstd.WithZeroFrames(true))
})

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(MaxDecompressed))
})

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// AppendCompressed appends src compressed with kind ("none" or "" appends
// it as is) to dst. It is safe for concurrent use.
func AppendCompressed(kind string, dst, src []byte) ([]byte, error) {
	switch kind {
	case "", CompressNone:
		return append(dst, src...), nil
	case CompressGzip:
		zw := gzipPool.Get().(*gzip.Writer)
		aw := &appendWriter{b: dst}
		zw.Reset(aw)
		_, err := zw.Write(src)
		if err == nil {
			err = zw.Close()
		}
		zw.Reset(nil) // drop the reference to dst before pooling
		gzipPool.Put(zw)
		if err != nil {
			return dst, fmt.Errorf("format: gzip: %w", err)
		}
		return aw.b, nil
	case CompressZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, fmt.Errorf("format: zstd encoder: %w", err)
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("format: unknown compression %q (want none, gzip or zstd)", kind)
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// CompressionOf names the compression b starts with, from its magic bytes:
// "gzip", "zstd" or "none". No format's uncompressed payload starts with
// either magic (json '{', senml '[', senml-cbor 0x8_/0x9_, influx and csv
// with text).
func CompressionOf(b []byte) string {
	switch {
	case bytes.HasPrefix(b, gzipMagic):
		return CompressGzip
	case bytes.HasPrefix(b, zstdMagic):
		return CompressZstd
	}
	return CompressNone
}

// maxDecompressed is MaxDecompressed; tests lower it.
var maxDecompressed int64 = MaxDecompressed

// ErrTooLarge is returned by Decompress for a payload that inflates beyond
// MaxDecompressed.
var ErrTooLarge = errors.New("decompressed payload exceeds the limit")

// Decompress returns b decompressed when it starts with the gzip (1f 8b) or
// zstd (28 b5 2f fd) magic bytes, and b itself otherwise, so that a payload
// saved from any topic can be decoded without knowing its topic.
// Concatenated gzip members or zstd frames decompress to their
// concatenation.
func Decompress(b []byte) ([]byte, error) {
	switch CompressionOf(b) {
	case CompressGzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("format: gzip payload: %w", err)
		}
		var out bytes.Buffer
		n, err := io.Copy(&out, io.LimitReader(zr, maxDecompressed+1))
		if err != nil {
			return nil, fmt.Errorf("format: gzip payload: %w", err)
		}
		if n > maxDecompressed {
			return nil, fmt.Errorf("format: gzip payload: %w (%d bytes)", ErrTooLarge, maxDecompressed)
		}
		return out.Bytes(), nil
	case CompressZstd:
		dec, err := zstdDecoder()
		if err != nil {
			return nil, fmt.Errorf("format: zstd decoder: %w", err)
		}
		out, err := dec.DecodeAll(b, nil)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				err = fmt.Errorf("%w (%d bytes): %w", ErrTooLarge, maxDecompressed, err)
			}
			return nil, fmt.Errorf("format: zstd payload: %w", err)
		}
		if int64(len(out)) > maxDecompressed {
			return nil, fmt.Errorf("format: zstd payload: %w (%d bytes)", ErrTooLarge, maxDecompressed)
		}
		return out, nil
	}
	return b, nil
}
