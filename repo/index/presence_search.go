package index

// searchFences returns the first i in [lo, len(f)) with f[i] > head, or
// len(f), for fences f sorted in ascending order whose entries below lo
// are all at most head (the caller's lower bound).
//
// A lookup batch walks its IDs in ascending order, so lo is where the
// previous ID's search ended. The probes start at a guess interpolated
// between f[lo] and the last fence (chunk IDs are uniform hashes, so it
// lands close), gallop outward from it and finish with a binary search
// of the bracket: they touch a few neighbouring cache lines, where a
// binary search over millions of fences misses the cache at most of its
// twenty levels.
func searchFences(f []uint64, head uint64, lo int) int {
	n := len(f)
	if lo >= n || f[lo] > head {
		return lo
	}
	if f[n-1] <= head {
		return n
	}
	// Now f[lo] <= head < f[n-1]: the answer is in (lo, n-1].
	g := lo + int(float64(head-f[lo])/float64(f[n-1]-f[lo])*float64(n-1-lo))
	g = min(max(g, lo), n-1)
	a, b := lo, n-1 // f[a] <= head < f[b]
	if f[g] <= head {
		a = g
		for step := 1; g+step < b; step *= 2 {
			if f[g+step] > head {
				b = g + step
				break
			}
			a = g + step
		}
	} else {
		b = g
		for step := 1; g-step > a; step *= 2 {
			if f[g-step] <= head {
				a = g - step
				break
			}
			b = g - step
		}
	}
	for a+1 < b {
		m := int(uint(a+b) >> 1)
		if f[m] > head {
			b = m
		} else {
			a = m
		}
	}
	return b
}
