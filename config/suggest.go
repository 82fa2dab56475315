package config

import "strings"

// Suggest returns the candidate nearest to key when it is within an edit
// distance of 2 (case ignored) and of a third of key's length (at least 1),
// so a typo gets a "did you mean" but an unrelated short key ("foo" for
// "log") does not. Ties go to the candidate listed first.
func Suggest(key string, candidates []string) string {
	limit := min(2, max(1, len(key)/3))
	best, bestDist := "", limit+1
	k := strings.ToLower(key)
	for _, c := range candidates {
		if len(c) > len(k)+limit || len(k) > len(c)+limit {
			continue // the lengths alone are further apart than the limit
		}
		d := editDistance(k, strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// adjacent bytes that turn a into b (optimal string alignment distance): a
// swap is the commonest typo ("gian", "wavefrom") and counts as one.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
