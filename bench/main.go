// Command bench turns `go test -bench` output on stdin into the one markdown
// table `make bench-footprint` prints: per benchmark and metric, the min,
// median and max over the runs (-count), and the target where one
// applies, judged on the median (this machine is shared and noisy; the
// median of several runs is the figure, min/max show the noise).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// target is a bound on a metric's median.
type target struct {
	less  bool
	bound float64
	text  string
}

// targets are the issue's, keyed by metric unit and (optionally) a
// benchmark name prefix.
var targets = []struct {
	bench, unit string
	t           target
}{
	{"DaemonFootprint", "peak-RSS-MiB", target{true, 15, "< 15 MiB"}},
	{"DaemonFootprint", "CPU-%core", target{true, 1, "< 1 %"}},
	{"DiskWrites/ref-site", "B/commit", target{true, 1.5 * 8192, "≤ 1.5 × 8 KiB"}},
	{"DiskWrites/ref-site/commit=1s", "MB/day", target{true, 150, "< 150 MB/day (default commit)"}},
	{"RefSiteWrites", "x-floor", target{true, 1.5, "≤ 1.5 × floor"}},
	{"IdleWrites", "idle-write-B", target{true, 0.5, "0"}},
	{"IdleWrites", "idle-commits", target{true, 0.5, "0"}},
	{"BacklogDrain", "readings/s", target{false, 100_000, "> 100,000"}},
	{"Lateness", "p99-late-µs", target{true, 2000, "< 2,000 µs"}},
	{"BinarySize", "MiB", target{true, 12, "< 12 MiB"}},
}

var procSuffix = regexp.MustCompile(`-\d+$`)

type key struct{ bench, unit string }

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	vals := map[key][]float64{}
	var order []key
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil || f[i+1] == "ns/op" || strings.HasSuffix(f[i+1], "/op") {
				continue
			}
			k := key{name, f[i+1]}
			if _, seen := vals[k]; !seen {
				order = append(order, k)
			}
			vals[k] = append(vals[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading benchmark output: %w", err)
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark figures in the input")
	}
	fmt.Fprintln(out, "| Benchmark | Metric | min | median | max | runs | target |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---|")
	for _, k := range order {
		v := vals[k]
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %d | %s |\n", k.bench, k.unit, num(v[0]), num(med), num(v[len(v)-1]), len(v), judge(k, med))
	}
	return nil
}

func judge(k key, med float64) string {
	for _, t := range targets {
		if t.unit != k.unit || !strings.HasPrefix(k.bench, t.bench) {
			continue
		}
		ok := med < t.t.bound
		if !t.t.less {
			ok = med > t.t.bound
		}
		if ok {
			return t.t.text + " ✓"
		}
		return t.t.text + " ✗ MISSED"
	}
	return ""
}

func num(v float64) string {
	switch {
	case v >= 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
