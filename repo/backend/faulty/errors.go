package faulty

import (
	"errors"
	"fmt"
)

// ErrInjected matches (with [errors.Is]) every error an injector returns.
var ErrInjected = errors.New("faulty: injected failure")

// InjectedError is the error an injector returns. Its message names the
// operation number and the operation: "faulty: injected failure at op #3
// (put r/packs/ab/x.01)". It wraps the injector's configured error, if any.
type InjectedError struct {
	Seq  int    // operation number, from 0, in order of arrival
	Op   Op     // the failed operation
	Name string // object name, or List prefix
	Err  error  // configured error (Err, ENOSPC), or nil
}

func (e *InjectedError) Error() string {
	name := e.Name
	if e.Op == OpList {
		name = fmt.Sprintf("%q", name)
	}
	msg := fmt.Sprintf("faulty: injected failure at op #%d (%s %s)", e.Seq, e.Op, name)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the configured error.
func (e *InjectedError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrInjected].
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }
