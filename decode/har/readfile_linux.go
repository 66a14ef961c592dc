package har

import (
	"io"
	"os"
	"syscall"
)

// readData reads a HAR file into memory that asks for transparent huge
// pages: a 100,000-entry HAR is ~100 MB, and on a VM each 4 KiB page's first
// touch is a costly fault (measured: ~20% of explain's faults were this
// buffer). The memory is not Go's heap: release unmaps it, which is safe
// once parsing is done (decoding copies every string out). Small files and
// any mmap failure take os.ReadFile.
func readData(path string, size int64) (data []byte, release func(), err error) {
	const minHuge = 8 << 20
	if size < minHuge {
		data, err = os.ReadFile(path)
		return data, func() {}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		data, err = io.ReadAll(f)
		return data, func() {}, err
	}
	_ = syscall.Madvise(mem, syscall.MADV_HUGEPAGE) // advice only
	release = func() { _ = syscall.Munmap(mem) }
	// A file written while we read (a live capture) may have changed size
	// since the stat: read what is there, up to the size we mapped.
	n, err := io.ReadFull(f, mem)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		release()
		return nil, nil, err
	}
	return mem[:n], release, nil
}
