package faulty

import "strings"

// Op is a set of store operations, a bit mask.
type Op uint8

// The operations of [backend.Backend].
const (
	OpPut Op = 1 << iota
	OpGet
	OpStat
	OpList
	OpDelete

	// OpAll is every operation; injectors given no operations use it.
	OpAll = OpPut | OpGet | OpStat | OpList | OpDelete
)

// Ops returns the union of ops; no ops means [OpAll].
func Ops(ops ...Op) Op {
	var o Op
	for _, op := range ops {
		o |= op
	}
	if o == 0 {
		return OpAll
	}
	return o
}

var opNames = []string{"put", "get", "stat", "list", "delete"}

// String returns the operation names joined by "|", e.g. "put|get".
func (o Op) String() string {
	if o == OpAll {
		return "any"
	}
	var names []string
	for i, name := range opNames {
		if o&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}
