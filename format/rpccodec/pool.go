package rpccodec

import (
	"math/bits"
	"sync/atomic"

	"github.com/holdfast-backup/holdfast/format"
)

// Buffers come in power-of-two size classes from 4 KiB to 8 MiB, plus one
// that holds the largest envelope, so a buffer is at most twice what it
// holds (a PutChunks message of a little under 8 MiB, what the client
// sends, takes an 8 MiB buffer). A larger request gets a buffer of its
// own, which is not kept.
const (
	minClassBits = 12 // 4 KiB
	maxClassBits = 23 // 8 MiB
	numClasses   = maxClassBits - minClassBits + 2
)

// maxKept bounds the bytes of free buffers kept for reuse, over all
// classes: what the process holds on to between bulk messages. Little is
// needed: a message's buffer comes back as the next one arrives, so two
// 8 MiB buffers serve a server's upload streams. Every kept byte is live
// heap, which the collector's goal doubles: with 48 MiB kept, the
// server's peak RSS in the issue-5 backup was 573 MiB; with 16, 497.
//
// Free buffers are kept in bounded lists, not a sync.Pool: a pool is
// emptied by every garbage collection, and a server receiving a backup
// collects every few messages, so nearly every message took a fresh
// buffer, which costs a page fault per 4 KiB on a virtual machine that
// hands freed memory back to its host.
const maxKept = 16 << 20

var (
	free [numClasses]chan []byte
	kept atomic.Int64 // bytes in the free lists
)

func init() {
	for i := range free {
		free[i] = make(chan []byte, min(max(4, maxKept/classSize(i)), 1024))
	}
}

func classSize(i int) int {
	if i == numClasses-1 {
		return format.MaxEnvelopeSize
	}
	return 1 << (minClassBits + i)
}

// classOf returns the class of buffers that hold n bytes, or -1.
func classOf(n int) int {
	switch {
	case n <= 1<<minClassBits:
		return 0
	case n <= 1<<maxClassBits:
		return bits.Len(uint(n-1)) - minClassBits
	case n <= format.MaxEnvelopeSize:
		return numClasses - 1
	}
	return -1
}

// getBuf returns an empty buffer with room for n bytes.
func getBuf(n int) []byte {
	i := classOf(n)
	if i < 0 {
		return make([]byte, 0, n)
	}
	select {
	case b := <-free[i]:
		kept.Add(-int64(cap(b)))
		return b
	default:
		return make([]byte, 0, classSize(i))
	}
}

// putBuf keeps b for reuse if it has a class size and the free lists have
// room; otherwise it is left to the collector.
func putBuf(b []byte) {
	i := classOf(cap(b))
	if i < 0 || cap(b) != classSize(i) {
		return
	}
	if kept.Add(int64(cap(b))) > maxKept {
		kept.Add(-int64(cap(b)))
		return
	}
	select {
	case free[i] <- b[:0]:
	default:
		kept.Add(-int64(cap(b)))
	}
}
