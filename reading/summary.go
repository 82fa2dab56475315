package reading

import "math"

// Summary accumulates the finite values of a group of readings: min, max
// and sum over the finite ones (NaN and ±Inf would poison them). Both the
// uplink's aggregates and the buffer's thinning use it, so the two agree on
// what a minute's "mean" is.
type Summary struct {
	Finite        int // values that entered Min, Max and Sum
	Min, Max, Sum float64
}

// Add takes one value; a NaN or infinite one is left out.
func (s *Summary) Add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if s.Finite == 0 || v < s.Min {
		s.Min = v
	}
	if s.Finite == 0 || v > s.Max {
		s.Max = v
	}
	s.Sum += v
	s.Finite++
}

// Mean is Sum/Finite; NaN when no finite value was added.
func (s Summary) Mean() float64 {
	if s.Finite == 0 {
		return math.NaN()
	}
	return s.Sum / float64(s.Finite)
}
