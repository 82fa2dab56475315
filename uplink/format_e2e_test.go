package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// rawCollector keeps every payload published under data/, by topic.
type rawCollector struct {
	mu  sync.Mutex
	got map[string][][]byte
}

func (c *rawCollector) add(topic string, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[topic] = append(c.got[topic], append([]byte(nil), p...))
}

func (c *rawCollector) payloads(topic string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.got[topic]...)
}

func (c *rawCollector) topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ts []string
	for t := range c.got {
		ts = append(ts, t)
	}
	return ts
}

// runFormatStreams runs an uplink with the streams against the embedded
// broker and collects what it publishes.
func runFormatStreams(t *testing.T, src *memSource, streams []StreamConfig) (*Uplink, *rawCollector) {
	t.Helper()
	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	col := &rawCollector{got: map[string][][]byte{}}
	if err := b.Subscribe("karana/"+dev+"/data/#", col.add); err != nil {
		t.Fatal(err)
	}
	u, err := New(testConfig(b.URL()), streams, src, Options{DeviceID: dev, Version: "test", Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
	return u, col
}

// TestCompressedAndTemplateStreams drains one backlog through a zstd json
// stream, a gzip influx stream and a template stream at once, and checks
// what a backend receives on each topic.
func TestCompressedAndTemplateStreams(t *testing.T) {
	const n = 2500
	src := newMemSource(4)
	src.Append(n)
	tags := map[string]string{"site": "kisumu-3"}
	zj := streamCfg("zraw", time.Hour, 1000)
	zj.Compress, zj.Tags = format.CompressZstd, tags
	gi := streamCfg("lines", time.Hour, 700)
	gi.Format, gi.Compress, gi.Tags = "influx", format.CompressGzip, tags
	tp := streamCfg("tpl", time.Hour, 400)
	tp.Format, tp.Tags = "template", tags
	tp.Options = &format.TemplateOptions{Template: "{{$.Tags.site}} {{.FirstSeq}}-{{.LastSeq}}:{{range .Readings}} {{.Seq}}={{.Value}}{{end}}\n"}
	_, col := runFormatStreams(t, src, []StreamConfig{zj, gi, tp})

	for _, s := range []string{"zraw", "lines", "tpl"} {
		waitFor(t, "cursor of "+s, func() bool { return src.Cursor(s) >= n })
	}
	prefix := "karana/" + dev + "/data/"

	// zstd json: on data/zraw/zst only, each payload a zstd frame holding a
	// contract batch with the tags
	waitFor(t, "zraw batches", func() bool { return coveredUpTo(jsonBatches(t, col.payloads(prefix+"zraw/zst"))) >= n })
	for _, p := range col.payloads(prefix + "zraw/zst") {
		if format.CompressionOf(p) != format.CompressZstd {
			t.Fatalf("zraw payload is not zstd: % x", p[:min(8, len(p))])
		}
		var withTags struct {
			Tags map[string]string `json:"tags"`
		}
		raw, _ := format.Decompress(p)
		if err := json.Unmarshal(raw, &withTags); err != nil || withTags.Tags["site"] != "kisumu-3" {
			t.Errorf("zraw batch tags %v, %v", withTags.Tags, err)
		}
	}
	checkDelivery(t, jsonBatches(t, col.payloads(prefix+"zraw/zst")), 1, n, nil)

	// gzip influx: the standard library's gzip and InfluxDB's parser read it
	waitFor(t, "influx values", func() bool { return len(influxValues(t, col.payloads(prefix+"lines/gz"))) >= n })
	vals := influxValues(t, col.payloads(prefix+"lines/gz"))
	for s := 1; s <= n; s++ {
		if !vals[float64(s)] {
			t.Fatalf("influx stream lacks the reading with value %d", s)
		}
	}

	// template: plain text, every seq with its value
	seen := map[int]bool{}
	waitFor(t, "template payloads", func() bool {
		for _, p := range col.payloads(prefix + "tpl") {
			line := strings.TrimSuffix(string(p), "\n")
			head, body, ok := strings.Cut(line, ":")
			if !ok || !strings.HasPrefix(head, "kisumu-3 ") {
				t.Fatalf("template payload %q", p)
			}
			for _, kv := range strings.Fields(body) {
				k, v, _ := strings.Cut(kv, "=")
				if k != v {
					t.Fatalf("template reading %q: value is not the seq", kv)
				}
				s, _ := strconv.Atoi(k)
				seen[s] = true
			}
		}
		return len(seen) >= n
	})

	for _, topic := range col.topics() {
		switch topic {
		case prefix + "zraw/zst", prefix + "lines/gz", prefix + "tpl":
		default:
			t.Errorf("publish on unexpected topic %s", topic)
		}
	}
}

func jsonBatches(t *testing.T, payloads [][]byte) []gotBatch {
	t.Helper()
	var out []gotBatch
	for _, p := range payloads {
		raw, err := format.Decompress(p)
		if err != nil {
			t.Fatal(err)
		}
		var b gotBatch
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatalf("batch %s: %v", raw, err)
		}
		out = append(out, b)
	}
	return out
}

func coveredUpTo(bs []gotBatch) uint64 {
	var high uint64
	for _, b := range bs {
		high = max(high, b.LastSeq)
	}
	return high
}

func influxValues(t *testing.T, payloads [][]byte) map[float64]bool {
	t.Helper()
	vals := map[float64]bool{}
	for _, p := range payloads {
		if format.CompressionOf(p) != format.CompressGzip {
			t.Fatalf("influx payload is not gzip: % x", p[:min(8, len(p))])
		}
		raw, err := format.Decompress(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := lineprotocol.NewDecoderWithBytes(raw)
		for dec.Next() {
			if m, err := dec.Measurement(); err != nil || !bytes.HasPrefix(m, []byte("sim")) {
				t.Fatalf("measurement %q: %v", m, err)
			}
			for {
				k, _, err := dec.NextTag()
				if err != nil {
					t.Fatal(err)
				}
				if k == nil {
					break
				}
			}
			for {
				k, v, err := dec.NextField()
				if err != nil {
					t.Fatal(err)
				}
				if k == nil {
					break
				}
				vals[v.FloatV()] = true
			}
		}
	}
	return vals
}

// TestFormatErrorKeepsTheCursor: a format that fails (an exec command
// exiting non-zero) publishes nothing and never moves the cursor; once the
// command succeeds, the same range goes out from the cursor.
func TestFormatErrorKeepsTheCursor(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	const n = 50
	src := newMemSource(2)
	src.Append(n)
	marker := filepath.Join(t.TempDir(), "second-run")
	flaky := streamCfg("flaky", time.Hour, 1000)
	flaky.Format = "exec"
	// fails on its first run, then passes the json batch through
	flaky.Options = &format.ExecOptions{Command: []string{sh, "-c", `if [ -e "$1" ]; then cat; else : > "$1"; echo "backend down" >&2; exit 2; fi`, "sh", marker}}
	broken := streamCfg("broken", time.Hour, 1000)
	broken.Format = "exec"
	broken.Options = &format.ExecOptions{Command: []string{sh, "-c", `echo "always down" >&2; exit 1`}}
	u, col := runFormatStreams(t, src, []StreamConfig{flaky, broken})

	waitFor(t, "the broken stream to report its error", func() bool {
		for _, s := range u.Stats().Streams {
			if s.Name == "broken" && strings.Contains(s.LastError, "always down") && strings.Contains(s.LastError, "exit status 1") {
				return true
			}
		}
		return false
	})
	waitFor(t, "the flaky stream to deliver", func() bool { return src.Cursor("flaky") >= n })
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the flaky command never failed first: %v", err)
	}
	prefix := "karana/" + dev + "/data/"
	waitFor(t, "the flaky batch at the subscriber", func() bool { return len(col.payloads(prefix+"flaky")) > 0 })
	bs := jsonBatches(t, col.payloads(prefix+"flaky"))
	if bs[0].FirstSeq != 1 {
		t.Errorf("first delivered batch starts at %d: the failed range was skipped", bs[0].FirstSeq)
	}
	checkDelivery(t, bs, 1, n, nil)

	// the broken stream tried and moved nothing
	if c := src.Cursor("broken"); c != 0 {
		t.Errorf("broken stream's cursor moved to %d", c)
	}
	if p := col.payloads(prefix + "broken"); len(p) != 0 {
		t.Errorf("broken stream published %d payloads", len(p))
	}
}
