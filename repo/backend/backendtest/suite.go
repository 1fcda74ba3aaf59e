package backendtest

import (
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Option adjusts the suite.
type Option func(*config)

type config struct {
	largeSize int64
}

// LargeSize sets the size of the large-object test (default 6 MiB). An S3
// store passes more than its multipart threshold so that multipart upload is
// exercised.
func LargeSize(n int64) Option { return func(c *config) { c.largeSize = n } }

type test struct {
	name string
	fn   func(t *testing.T, b backend.Backend, c config)
}

var tests = []test{
	{"Absent", testAbsent},
	{"PutGet", testPutGet},
	{"RangeGet", testRangeGet},
	{"StatSize", testStatSize},
	{"ListPrefix", testListPrefix},
	{"ListStops", testListStops},
	{"IdempotentPut", testIdempotentPut},
	{"Overwrite", testOverwrite},
	{"DoubleDelete", testDoubleDelete},
	{"ConcurrentPuts", testConcurrentPuts},
	{"Large", testLarge},
	{"InvalidNames", testInvalidNames},
	{"PayloadLength", testPayloadLength},
	{"Canceled", testCanceled},
	{"CanceledDuringPut", testCanceledDuringPut},
}

// Run runs the conformance suite, one subtest per property, each on a fresh
// store from newBackend.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend, opts ...Option) {
	c := config{largeSize: 6 << 20}
	for _, o := range opts {
		o(&c)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Logf("store: %s", b)
			tc.fn(t, b, c)
		})
	}
}
