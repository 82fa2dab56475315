package sim

import (
	"math"
	"time"
)

// Salts keep the random streams of one seed independent of each other.
const (
	saltNoise uint64 = iota + 1
	saltWalk
	saltCounter
	saltCloud
	saltDay
)

// counterEpoch is where counters start: totals look like a meter that has
// run for a few years, not like a Unix timestamp.
var counterEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// phase is t's position in its period, in [0, 1), computed on integer
// nanoseconds so that float rounding of a 1.8e18 ns timestamp doesn't blur it.
func phase(t time.Time, p time.Duration) float64 {
	return float64(floorMod(t.UnixNano(), int64(p))) / float64(p)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// counter is the total, in amplitude units, at t: it grows by one per period
// on average, at a rate that swings ±50% over the day (a load, a pump), and
// each tick adds a jittered amount. Closed form, so it depends on t alone:
//
//	total(n) = F(n·P) + u(n)/2,  F(x) = ∫₀ˣ rate/P,  rate ≥ ½,  u ∈ [0, 1)
//
// so total(n+1) − total(n) ≥ ½ − ½ ≥ 0: it never decreases.
func counter(t time.Time, p time.Duration, seed uint64) float64 {
	n := floorDiv(t.Sub(counterEpoch).Nanoseconds(), int64(p))
	const day = float64(24 * time.Hour)
	x := float64(n) * float64(p) // ns since the epoch; only the daily swing uses it
	phi := 2 * math.Pi * uniform(seed, saltCounter, math.MinInt64)
	f := float64(n) + 0.5*day/(2*math.Pi*float64(p))*(math.Cos(phi)-math.Cos(2*math.Pi*x/day+phi))
	return f + 0.5*uniform(seed, saltCounter, n)
}

// step moves a walk in [-1, 1] by d, reflecting at the bounds.
func step(x, d float64) float64 {
	x += d
	for x > 1 || x < -1 {
		if x > 1 {
			x = 2 - x
		} else {
			x = -2 - x
		}
	}
	return x
}

// Solar day, as fractions of the period: sunrise 06:00, sunset 18:00 UTC.
const sunrise, sunset = 0.25, 0.75

// cloudWindow: each window of this length may hold one cloud.
const cloudWindow = 15 * time.Minute

// solar is the clear-sky bell times the cloud factor at t, in [0, 1].
func solar(t time.Time, p time.Duration, seed uint64) float64 {
	f := phase(t, p)
	if f <= sunrise || f >= sunset {
		return 0
	}
	bell := math.Pow(math.Sin(math.Pi*(f-sunrise)/(sunset-sunrise)), 1.5)
	return bell * clouds(t, p, seed)
}

// clouds is the fraction of sunlight that gets through at t, in [0.2, 1].
// A cloud lasts 2–10 minutes, shorter than a window, so only the current
// window's cloud and the previous one's can cover t.
func clouds(t time.Time, p time.Duration, seed uint64) float64 {
	w := floorDiv(t.UnixNano(), int64(cloudWindow))
	return min(cloudIn(w, t, p, seed), cloudIn(w-1, t, p, seed))
}

func cloudIn(w int64, t time.Time, p time.Duration, seed uint64) float64 {
	start := w * int64(cloudWindow)
	day := floorDiv(start, int64(p))
	cover := 0.1 + 0.6*uniform(seed, saltDay, day) // some days are cloudier
	r := newStream(seed, saltCloud, w)
	if r.float() >= cover {
		return 1
	}
	at := float64(start) + r.float()*float64(cloudWindow)
	dur := float64(2*time.Minute) + r.float()*float64(8*time.Minute)
	depth := 0.2 + 0.6*r.float()
	x := (float64(t.UnixNano()) - at) / dur
	if x <= 0 || x >= 1 {
		return 1
	}
	s := math.Sin(math.Pi * x) // soft edges: a cloud drifts in and out
	return 1 - depth*s*s
}

// Randomness is a hash of (seed, salt, x) — a splitmix64 stream — so it
// depends on the time alone, never on what was drawn before.
type stream uint64

func newStream(seed, salt uint64, x int64) *stream {
	s := stream(seed ^ mix(salt*0x9e3779b97f4a7c15) ^ mix(uint64(x)+0x632be59bd9b4e019))
	return &s
}

func (s *stream) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix(uint64(*s))
}

// float returns a uniform float64 in [0, 1).
func (s *stream) float() float64 { return float64(s.next()>>11) / (1 << 53) }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func uniform(seed, salt uint64, x int64) float64 {
	return newStream(seed, salt, x).float()
}

// gauss is a standard normal deviate (Box–Muller).
func gauss(seed, salt uint64, x int64) float64 {
	r := newStream(seed, salt, x)
	u1 := 1 - r.float() // (0, 1]: log(0) is -Inf
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}
