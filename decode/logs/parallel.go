package logs

import "runtime"

// parallelMin is the fewest items worth splitting across cores (a
// variable: tests split a few).
var parallelMin = 2048

// inParts splits n items into contiguous [lo, hi) parts, one per core when
// there are enough to be worth it, else one.
func inParts(n int) [][2]int {
	parts := runtime.GOMAXPROCS(0)
	if n < parallelMin || parts < 2 {
		return [][2]int{{0, n}}
	}
	out := make([][2]int, parts)
	for p := range parts {
		out[p] = [2]int{n * p / parts, n * (p + 1) / parts}
	}
	return out
}
