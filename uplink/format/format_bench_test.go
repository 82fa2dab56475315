package format

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkFormatCost is the CPU side of the wire figures: per format and
// compression, the time to format and compress the reference site's 15 min
// batches (3,600 readings each, refDay in wire_bench_test.go) and the bytes
// per reading over the whole day.
//
//	go test ./uplink/format -run '^$' -bench FormatCost -benchtime 96x
//
// With -benchtime 96x every batch of the day is formatted once, night and
// day alike. template uses a one-line-per-reading template; exec pipes
// through cat, so its time is the fork and pipe cost on top of json.
func BenchmarkFormatCost(b *testing.B) {
	bs := refBatches(refDay(b, true), 1<<30)
	type variant struct {
		name string
		f    Formatter
	}
	var vs []variant
	for _, n := range wireFormats() {
		f, _ := Configure(n, nil, nil)
		vs = append(vs, variant{n, f})
	}
	if f, err := Configure("template", &TemplateOptions{Template: benchTemplate}, nil); err == nil {
		vs = append(vs, variant{"template", f})
	}
	if cat, err := exec.LookPath("cat"); err == nil {
		f, _ := Configure("exec", &ExecOptions{Command: []string{cat}}, nil)
		vs = append(vs, variant{"exec(cat)", f})
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-12s %-6s %10s %12s %10s\n", "format", "comp", "B/reading", "ns/reading", "KiB/batch")
	for _, v := range vs {
		for _, c := range Compressions() {
			b.Run("format="+v.name+"/compress="+c, func(b *testing.B) {
				var day, readings int
				var buf []byte
				for _, bt := range bs { // bytes over the whole day, untimed
					p, err := v.f.Format(bt)
					if err != nil {
						b.Fatal(err)
					}
					buf, _ = AppendCompressed(c, buf[:0], p)
					day += len(buf)
					readings += len(bt.Readings)
				}
				n, i := 0, 0
				b.ReportAllocs()
				for b.Loop() {
					bt := bs[i%len(bs)]
					i++
					p, err := v.f.Format(bt)
					if err != nil {
						b.Fatal(err)
					}
					if buf, err = AppendCompressed(c, buf[:0], p); err != nil {
						b.Fatal(err)
					}
					n += len(bt.Readings)
				}
				perReading := float64(b.Elapsed().Nanoseconds()) / float64(n)
				bpr := float64(day) / float64(readings)
				b.ReportMetric(perReading, "ns/reading")
				b.ReportMetric(bpr, "B/reading")
				fmt.Fprintf(&table, "%-12s %-6s %10.3f %12.0f %10.1f\n", v.name, c, bpr, perReading, float64(day)/float64(len(bs))/1024)
			})
		}
	}
	b.Log(table.String())
}

const benchTemplate = `{{range .Readings}}{{.Seq}} {{.Name}} {{unixms .Time}} {{json .Value}}
{{end}}`
