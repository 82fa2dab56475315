package buffer

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/karana-energy/karana-edge/reading"
)

// tsLayout is RFC 3339 in UTC with milliseconds, as in the JSON batch.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// exportChunk readings are read per transaction: an export of the whole
// ring to a slow writer never holds a transaction (which would delay a
// remap, and with it the commit).
const exportChunk = 2048

// Export writes the readings with from <= seq <= to (to 0: up to the last
// committed) in format "jsonl" (one JSON object per line: seq, name, ts,
// value, unit, flags) or "csv" (header seq,name,ts,value,unit,flags).
// Values that JSON cannot hold (NaN, ±Inf) are written as null in jsonl.
func (r *Ring) Export(w io.Writer, format string, from, to uint64) error {
	var write func(*bufio.Writer, *reading.Reading) error
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	switch format {
	case "jsonl":
		write = writeJSONL
	case "csv":
		cw = csv.NewWriter(bw)
		if err := cw.Write([]string{"seq", "name", "ts", "value", "unit", "flags"}); err != nil {
			return fmt.Errorf("buffer export: %w", err)
		}
		rec := make([]string, 6)
		write = func(_ *bufio.Writer, x *reading.Reading) error {
			rec[0] = strconv.FormatUint(x.Seq, 10)
			rec[1] = x.Name
			rec[2] = x.Time.UTC().Format(tsLayout)
			rec[3] = string(appendFloat(nil, x.Value))
			rec[4] = x.Unit
			rec[5] = strconv.Itoa(int(x.Flags))
			return cw.Write(rec)
		}
	default:
		return fmt.Errorf("buffer export: unknown format %q (want jsonl or csv)", format)
	}
	if to == 0 {
		_, to = r.Bounds()
	} else if from > to {
		return fmt.Errorf("buffer export: from %d is after to %d", from, to)
	}
	for from <= to {
		rs, err := r.Read(from, exportChunk)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			break
		}
		for i := range rs {
			if rs[i].Seq > to {
				from = to + 1
				break
			}
			if err := write(bw, &rs[i]); err != nil {
				return fmt.Errorf("buffer export: %w", err)
			}
			from = rs[i].Seq + 1
		}
		if rs[len(rs)-1].Seq >= to {
			break
		}
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("buffer export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("buffer export: %w", err)
	}
	return nil
}

func writeJSONL(w *bufio.Writer, x *reading.Reading) error {
	b := make([]byte, 0, 128)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, x.Seq, 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, x.Name)
	b = append(b, `,"ts":"`...)
	b = x.Time.UTC().AppendFormat(b, tsLayout)
	b = append(b, `","value":`...)
	if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, x.Value)
	}
	b = append(b, `,"unit":`...)
	b = appendJSONString(b, x.Unit)
	b = append(b, `,"flags":`...)
	b = strconv.AppendUint(b, uint64(x.Flags), 10)
	b = append(b, "}\n"...)
	_, err := w.Write(b)
	return err
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendFloat writes the shortest exact decimal, like encoding/json: plain
// notation except for very small or very large magnitudes.
func appendFloat(b []byte, v float64) []byte {
	f := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		f = 'e'
	}
	return strconv.AppendFloat(b, v, f, -1, 64)
}
