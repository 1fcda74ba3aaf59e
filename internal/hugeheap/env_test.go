package hugeheap

import "testing"

// TestEnv: "off" and values that are not understood turn huge pages off;
// only the latter are reported.
func TestEnv(t *testing.T) {
	for _, c := range []struct {
		value   string
		off, ok bool
	}{
		{"", false, true},
		{"on", false, true},
		{"off", true, true},
		{"0", true, false},
		{"false", true, false},
	} {
		t.Setenv(EnvVar, c.value)
		if got := off(); got != c.off {
			t.Errorf("%s=%q: off() = %v, want %v", EnvVar, c.value, got, c.off)
		}
		if err := CheckEnv(); (err == nil) != c.ok {
			t.Errorf("%s=%q: CheckEnv() = %v", EnvVar, c.value, err)
		}
	}
	t.Setenv(EnvVar, "off")
	if Advise(64 << 20) {
		t.Errorf("Advise with %s=off advised", EnvVar)
	}
}
