package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink"
)

// BenchmarkBacklogDrain is the drain figure with real parts only:
// 1,000,000 readings committed to a real bbolt ring, drained by a real
// stream at QoS 1 to a local broker — the embedded one, and Mosquitto when
// it is installed. Each iteration drains the whole backlog with a fresh
// stream name (its own cursor) over the same file.
func BenchmarkBacklogDrain(b *testing.B) {
	const n = 1_000_000
	ring := filledRing(b, n)
	defer ring.Close()

	brokers := map[string]string{}
	emb, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Stop()
	brokers["embedded"] = "tcp://" + emb.Addr()
	if addr, stop := startMosquitto(b); addr != "" {
		defer stop()
		brokers["mosquitto"] = "tcp://" + addr
	}
	run := 0
	for name, url := range brokers {
		for _, format := range []string{"json"} {
			b.Run(name+"/"+format, func(b *testing.B) {
				for range b.N {
					run++
					stream := fmt.Sprintf("drain%d", run)
					// "hold" never acks, so the ring prunes nothing and every
					// iteration drains the full million.
					ring.SetStreams([]string{"hold", stream})
					sc := uplink.DefaultStreamConfig()
					sc.Name, sc.Period, sc.Format = stream, config.D(time.Hour), format
					mc := uplink.DefaultMQTTConfig()
					mc.Broker, mc.ClientID = url, stream
					up, err := uplink.New(mc, []uplink.StreamConfig{sc}, ring, uplink.Options{DeviceID: "bench"})
					if err != nil {
						b.Fatal(err)
					}
					ctx, cancel := context.WithCancel(context.Background())
					start := time.Now()
					go up.Run(ctx)
					for ring.Cursor(stream) < n {
						time.Sleep(5 * time.Millisecond)
					}
					elapsed := time.Since(start)
					if first, _ := ring.Bounds(); first != 1 {
						b.Fatalf("the ring was pruned (first seq %d): later iterations would drain less", first)
					}
					up.Shutdown(time.Second)
					cancel()
					b.ReportMetric(float64(n)/elapsed.Seconds(), "readings/s")
				}
			})
		}
	}
}

func filledRing(b *testing.B, n int) *buffer.Ring {
	b.Helper()
	cfg := buffer.DefaultConfig()
	cfg.MaxBytes = 256 << 20
	ring, err := buffer.Open(filepath.Join(b.TempDir(), "buffer.db"), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ring.SetStreams(nil)
	t0 := time.Unix(1_800_000_000, 0)
	batch := make([]reading.Reading, 0, 10_000)
	for i := 0; i < n; i++ {
		batch = append(batch, reading.Reading{
			Name:  "s" + strconv.Itoa(i%50) + ".value",
			Time:  t0.Add(time.Duration(i/50) * time.Second),
			Value: float64(i%977) / 10,
			Unit:  "W",
		})
		if len(batch) == cap(batch) {
			ring.Append(batch)
			if err := ring.Flush(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, last := ring.Bounds(); last != uint64(n) {
		b.Fatalf("ring holds up to seq %d, want %d", last, n)
	}
	return ring
}

// startMosquitto runs a local mosquitto on a free port when it is installed.
func startMosquitto(b *testing.B) (addr string, stop func()) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		b.Log("mosquitto not installed: draining to the embedded broker only")
		return "", nil
	}
	port := 20000 + os.Getpid()%20000
	dir := b.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\nmax_queued_messages 0\n", port)), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		b.Log("mosquitto:", err)
		return "", nil
	}
	time.Sleep(300 * time.Millisecond)
	return fmt.Sprintf("127.0.0.1:%d", port), func() { cmd.Process.Kill(); cmd.Wait() }
}
