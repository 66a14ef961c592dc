package logs

import (
	"runtime"
	"sync"
	"sync/atomic"
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

// aheadBlock is how many items readAhead reads as one (a variable: tests
// read in small blocks).
var aheadBlock = 8192

// readAhead reads items [0, n) with read on every core, in blocks, a few
// blocks ahead of the caller, which takes the results with at(i), i = 0, 1,
// 2 … in turn: a reader's pass over its lines in order then costs
// only its own work, what each line says alone having been read on other
// cores, and only the blocks ahead are held. stop must be called when the
// caller is done. A short input is read by at itself.
func readAhead[T any](n int, read func(i int) T) (at func(i int) T, stop func()) {
	if partsOf(n) == 1 {
		return read, func() {}
	}
	workers, block := runtime.GOMAXPROCS(0), aheadBlock
	nb := (n + block - 1) / block
	done := make([]chan []T, nb)
	for b := range done {
		done[b] = make(chan []T, 1)
	}
	// A worker takes a slot, then the next block: the blocks that hold
	// slots are always the lowest not yet taken by the caller, so the one
	// it waits for is being read.
	slots := make(chan struct{}, 2*workers)
	quit := make(chan struct{})
	var next atomic.Int64
	for range workers {
		go func() {
			for {
				select {
				case slots <- struct{}{}:
				case <-quit:
					return
				}
				b := int(next.Add(1)) - 1
				if b >= nb {
					return
				}
				lo, hi := b*block, min(n, (b+1)*block)
				out := make([]T, hi-lo)
				for i := lo; i < hi; i++ {
					out[i-lo] = read(i)
				}
				done[b] <- out
			}
		}()
	}
	var cur []T
	curB := -1
	at = func(i int) T {
		if b := i / block; b != curB {
			cur, curB = <-done[b], b
			<-slots
		}
		return cur[i-curB*block]
	}
	return at, func() { close(quit) }
}
