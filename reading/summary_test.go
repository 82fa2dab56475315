package reading

import (
	"math"
	"testing"
)

func TestSummary(t *testing.T) {
	var s Summary
	if !math.IsNaN(s.Mean()) {
		t.Error("empty summary has a mean")
	}
	for _, v := range []float64{3, math.NaN(), -1, math.Inf(1), 4} {
		s.Add(v)
	}
	if s.Finite != 3 || s.Min != -1 || s.Max != 4 || s.Sum != 6 || s.Mean() != 2 {
		t.Errorf("summary %+v mean %v", s, s.Mean())
	}
}
