package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/karana-energy/karana-edge/packed"
	"github.com/karana-energy/karana-edge/uplink/format"
)

const decodeUsage = `usage: karana-edge decode [-batch] [FILE]

Turns a packed payload (as published by a stream with format = "packed",
optionally gzip- or zstd-compressed: the magic bytes tell) back into JSON
lines, one reading per line with the json format's reading fields:

  {"seq":101,"name":"sim1.value","ts":"2026-11-21T22:00:00.100Z","value":101,"unit":""}

"flags" is added when non-zero (1: the clock was not synchronized). FILE "-"
or no FILE reads stdin. -batch prints the json format's whole batch document
instead (device, stream, first_seq, last_seq, count, dropped, readings).
`

// cmdDecode is `karana-edge decode`. Bad input exits 1 with
// "decode FILE: what is wrong", the command line 2.
func cmdDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, decodeUsage) }
	asBatch := fs.Bool("batch", false, "print the json batch document instead of JSON lines")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "karana-edge decode: one FILE at most, got %d\n\n%s", fs.NArg(), decodeUsage)
		return exitConfig
	}
	name, data, err := readPayload(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "decode %s: %v\n", name, err)
		return exitFailure
	}
	plain, err := format.Decompress(data)
	if err != nil {
		fmt.Fprintf(stderr, "decode %s: %v\n", name, err)
		return exitFailure
	}
	b, err := packed.Decode(plain)
	if err != nil {
		if c := format.CompressionOf(data); c != format.CompressNone {
			err = fmt.Errorf("%w, after %s decompression", err, c)
		}
		fmt.Fprintf(stderr, "decode %s: %v\n", name, err)
		return exitFailure
	}

	w := bufio.NewWriterSize(stdout, 64<<10)
	if *asBatch {
		doc, err := format.JSON{}.Format(&format.Batch{Device: b.Device, Stream: b.Stream,
			FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Dropped: b.Dropped, Readings: b.Readings, Tags: b.Tags})
		if err != nil {
			fmt.Fprintf(stderr, "decode %s: %v\n", name, err)
			return exitFailure
		}
		w.Write(append(doc, '\n'))
	} else {
		var line []byte
		for i := range b.Readings {
			line = format.AppendJSONReading(line[:0], &b.Readings[i])
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "decode %s: write: %v\n", name, err)
		return exitFailure
	}
	return exitOK
}

// readPayload reads FILE, or stdin for "" and "-", up to the size that
// Decompress would accept.
func readPayload(file string, stdin io.Reader) (name string, data []byte, err error) {
	var r io.Reader
	switch file {
	case "", "-":
		name, r = "stdin", stdin
	default:
		f, err := os.Open(file)
		if err != nil {
			return file, nil, err // *PathError already names the file
		}
		defer f.Close()
		name, r = file, f
	}
	data, err = io.ReadAll(io.LimitReader(r, format.MaxDecompressed+1))
	if err != nil {
		return name, nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > format.MaxDecompressed {
		return name, nil, fmt.Errorf("payload larger than %d bytes", format.MaxDecompressed)
	}
	return name, data, nil
}
