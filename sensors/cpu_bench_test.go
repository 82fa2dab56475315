//go:build unix

package sensors

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSamplerCPU reports what the sampler costs the box: the process's
// CPU time (user+system, from getrusage, so the runtime, timers and GC are
// in it) as a percentage of one core, while fake sensors that read
// instantly run on their slots. One op is one second of sampling; run it
// with -benchtime 20x or so. "idle" is the same process with no sensors:
// the floor the Go runtime itself costs.
func BenchmarkSamplerCPU(b *testing.B) {
	for _, c := range []struct {
		n  int
		iv time.Duration
	}{{0, time.Second}, {50, time.Second}, {40, 20 * time.Millisecond}} {
		name := fmt.Sprintf("%dx%s", c.n, c.iv)
		if c.n == 0 {
			name = "idle"
		}
		b.Run(name, func(b *testing.B) {
			var list []Configured
			for i := range c.n {
				list = append(list, Configured{cfg(fmt.Sprintf("s%02d", i), c.iv, c.iv), &fake{}})
			}
			s := NewSampler(list, nil, SamplerOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			// Let every sensor settle into its schedule (first reads,
			// goroutine stacks) before measuring.
			time.Sleep(c.iv + 100*time.Millisecond)

			cpu0, wall0 := processCPU(b), time.Now()
			reads0 := s.Progress()
			b.ResetTimer()
			time.Sleep(time.Duration(b.N) * time.Second)
			b.StopTimer()
			cpu, wall := processCPU(b)-cpu0, time.Since(wall0)
			reads := s.Progress() - reads0
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			b.ReportMetric(float64(reads)/wall.Seconds(), "reads/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
