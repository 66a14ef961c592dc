package logs

import (
	"runtime"
	"sync"
)

// parallelMin is the fewest items worth splitting across cores (a
// variable: tests split a few).
var parallelMin = 2048

// inParts runs fn over n items in contiguous [lo, hi) parts, at once, one
// per core when there are enough to be worth it (else one part), and
// returns when all are done. part numbers the parts 0, 1, … in order, so
// each can fill a slot of its own.
func inParts(n int, fn func(part, lo, hi int)) {
	parts := partsOf(n)
	if parts == 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p, n*p/parts, n*(p+1)/parts)
		}()
	}
	wg.Wait()
}

// partsOf is how many parts inParts splits n items into.
func partsOf(n int) int {
	if p := runtime.GOMAXPROCS(0); n >= parallelMin && p >= 2 {
		return p
	}
	return 1
}
