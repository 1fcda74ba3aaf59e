package hugeheap

import (
	"fmt"
	"os"
)

// EnvVar turns Advise and AdviseHeap off when set to "off". Any value but
// "on", "off" or none also turns them off, and CheckEnv says why.
const EnvVar = "HOLDFAST_HUGE_PAGES"

// off reports whether the environment turns huge pages off.
func off() bool { return CheckEnv() != nil || os.Getenv(EnvVar) == "off" }

// CheckEnv returns an error naming EnvVar's value if it is neither "on"
// nor "off" (nor unset), for the program to tell its user: such a value
// leaves huge pages off.
func CheckEnv() error {
	switch v := os.Getenv(EnvVar); v {
	case "", "on", "off":
		return nil
	default:
		return fmt.Errorf("%s=%q is not on or off; huge pages stay off", EnvVar, v)
	}
}
