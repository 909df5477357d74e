package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// histogram counts durations in microseconds: exactly below 64 µs, then
// in 32 buckets per power of two, so a reported percentile is within
// about 3% of the true value. Recording is lock-free and allocation-free;
// the zero value is ready to use.
type histogram struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Int64
	sum    atomic.Int64 // microseconds
	max    atomic.Int64 // nanoseconds
}

const nBuckets = 64 + 58*32

func bucketOf(us uint64) int {
	if us < 64 {
		return int(us)
	}
	shift := bits.Len64(us) - 6 // 1…58
	top := us >> shift          // 32…63
	return 64 + (shift-1)*32 + int(top-32)
}

// bucketMid returns the middle of bucket i in microseconds.
func bucketMid(i int) float64 {
	if i < 64 {
		return float64(i)
	}
	j := i - 64
	shift := j/32 + 1
	low := uint64(j%32+32) << shift
	return float64(low) + float64(uint64(1)<<shift)/2
}

// record adds one duration in nanoseconds; negative ones count as 0.
func (h *histogram) record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	us := uint64(ns / 1000)
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(int64(us))
	for {
		old := h.max.Load()
		if ns <= old || h.max.CompareAndSwap(old, ns) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q ≤ 1) in milliseconds, or 0 when
// nothing was recorded.
func (h *histogram) quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			return math.Min(bucketMid(i)/1000, h.maxMS())
		}
	}
	return h.maxMS()
}

func (h *histogram) maxMS() float64 { return float64(h.max.Load()) / 1e6 }

// Latency summarizes a histogram in milliseconds.
type Latency struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func (h *histogram) summary() Latency {
	l := Latency{
		N:    h.n.Load(),
		P50:  round3(h.quantile(0.50)),
		P90:  round3(h.quantile(0.90)),
		P99:  round3(h.quantile(0.99)),
		P999: round3(h.quantile(0.999)),
		Max:  round3(h.maxMS()),
	}
	if l.N > 0 {
		l.Mean = round3(float64(h.sum.Load()) / float64(l.N) / 1000)
	}
	return l
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
