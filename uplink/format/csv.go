package format

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
)

// CSV is the "csv" format: comma-separated values with RFC 4180 quoting
// (encoding/csv), one row per reading with the columns of `buffer export
// -format csv`. Rows end in "\n" rather than RFC 4180's CRLF: every CSV
// reader takes both, and it is a byte less per row.
//
//	seq,name,ts,value,unit,flags
//	101,sim1.value,2026-11-21T22:00:00.100Z,101,,0
//
// ts is RFC 3339 UTC with milliseconds, as in the json format; value is
// written like the json format writes it, and NaN, +Inf, -Inf as those
// words (which strconv.ParseFloat and spreadsheets read back); flags is the
// reading.Flags number (1 = clock not synchronized, 2 = re-stamped after the
// sync, 4 = implausible date; see the json format). Fields with commas,
// quotes or line breaks are quoted by encoding/csv.
//
// The header row is written unless csv_header = false. The stream's tags
// and the batch's range and drops are not in the payload: CSV has one row
// shape, and a column repeated on every row would cost more than it says.
// Use the topic (the stream) to tell batches apart, or json.
type CSV struct {
	noHeader bool
}

// CSVOptions are the csv format's keys in a [[stream]] table.
type CSVOptions struct {
	// Header writes the header row (default true).
	Header bool `toml:"csv_header"`
}

// KeyCSVHeader is CSVOptions.Header's key.
const KeyCSVHeader = "csv_header"

func init() {
	RegisterOptions("csv", CSV{}, func() CSVOptions { return CSVOptions{Header: true} },
		func(o *CSVOptions, _ map[string]string) (Formatter, error) { return CSV{noHeader: !o.Header}, nil })
}

// ContentType implements Formatter.
func (CSV) ContentType() string { return "text/csv; charset=utf-8" }

var csvHeader = []string{"seq", "name", "ts", "value", "unit", "flags"}

// Format implements Formatter.
func (f CSV) Format(b *Batch) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(64 * (len(b.Readings) + 1))
	w := csv.NewWriter(&buf)
	if !f.noHeader {
		if err := w.Write(csvHeader); err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
	}
	rec := make([]string, len(csvHeader))
	var tc timeCache
	var scratch []byte
	for i := range b.Readings {
		r := &b.Readings[i]
		rec[0] = strconv.FormatUint(r.Seq, 10)
		rec[1] = r.Name
		scratch = tc.append(scratch[:0], r.Time)
		rec[2] = string(scratch)
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			rec[3] = strconv.FormatFloat(r.Value, 'g', -1, 64)
		} else {
			rec[3] = string(appendJSONFloat(scratch[:0], r.Value))
		}
		rec[4] = r.Unit
		rec[5] = strconv.Itoa(int(r.Flags))
		if err := w.Write(rec); err != nil {
			return nil, fmt.Errorf("csv: reading seq %d: %w", r.Seq, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	return buf.Bytes(), nil
}
