package uplink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// BenchmarkDrain drains a backlog of 1,000,000 readings (50 series) to the
// embedded broker at QoS 1 in the json format: the catch-up after a long
// outage. Every iteration is a fresh stream (own cursor) over the same
// buffer, timed from Run to the cursor reaching the last seq.
func BenchmarkDrain(b *testing.B) {
	const n = 1_000_000
	broker, err := testbroker.Start(b, "")
	if err != nil {
		b.Fatal(err)
	}
	src := newMemSource(50)
	src.Append(n)
	for _, tc := range []struct{ batch, inflight int }{
		{1000, 1}, {1000, 4}, {1000, 16}, {100, 4}, {5000, 4},
	} {
		b.Run(fmt.Sprintf("batch=%d/inflight=%d", tc.batch, tc.inflight), func(b *testing.B) {
			benchDrain(b, broker.URL(), src, n, tc.batch, tc.inflight)
		})
	}
}

// BenchmarkDrainRTT is BenchmarkDrain through a proxy that adds a round
// trip of 20 ms (a good 3G link; 2G is worse): the PUBACK wait of each
// batch is what the window hides.
func BenchmarkDrainRTT(b *testing.B) {
	const n = 100_000
	broker, err := testbroker.Start(b, "")
	if err != nil {
		b.Fatal(err)
	}
	proxy := latencyProxy(b, broker.Addr(), 10*time.Millisecond)
	src := newMemSource(50)
	src.Append(n)
	for _, inflight := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("rtt=20ms/batch=1000/inflight=%d", inflight), func(b *testing.B) {
			benchDrain(b, "tcp://"+proxy, src, n, 1000, inflight)
		})
	}
}

var benchRun int

func benchDrain(b *testing.B, broker string, src *memSource, n uint64, batch, inflight int) {
	var bytes uint64
	for range b.N {
		b.StopTimer()
		benchRun++
		name := fmt.Sprintf("drain%d", benchRun)
		cfg := testConfig(broker)
		cfg.Inflight = inflight
		cfg.PublishTimeout.Duration = time.Minute
		u, err := New(cfg, []StreamConfig{streamCfg(name, time.Hour, batch)}, src,
			Options{DeviceID: dev, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- u.Run(ctx) }()
		for src.Cursor(name) < n {
			time.Sleep(200 * time.Microsecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		st := u.Stats().Streams[0]
		if st.Readings != n || st.Cursor != n {
			b.Fatalf("drained %d readings to cursor %d, want %d", st.Readings, st.Cursor, n)
		}
		bytes += st.Bytes
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)*float64(b.N)/secs, "readings/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}

// latencyProxy forwards TCP to target, delaying every chunk by oneWay in
// each direction (bandwidth unlimited); it returns its address.
func latencyProxy(b *testing.B, target string, oneWay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn) {
		type chunk struct {
			at   time.Time
			data []byte
		}
		ch := make(chan chunk, 4096)
		go func() {
			defer close(ch)
			for {
				buf := make([]byte, 64<<10)
				k, err := src.Read(buf)
				if k > 0 {
					ch <- chunk{time.Now().Add(oneWay), buf[:k]}
				}
				if err != nil {
					return
				}
			}
		}()
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go pipe(t, c)
			go pipe(c, t)
		}
	}()
	return ln.Addr().String()
}
