package hugeheap

import "os"

// EnvVar turns Advise off when set to "off".
const EnvVar = "HOLDFAST_HUGE_PAGES"

// off reports whether the environment turns huge pages off.
func off() bool { return os.Getenv(EnvVar) == "off" }
