package server

import (
	"strings"
	"testing"
)

// TestReplicateAllow: entries parse with and without ports (IPv6 too),
// bad ones are refused, and a target passes only on a host match and, when
// the entry names one, a port match (the scheme's default port counts).
func TestReplicateAllow(t *testing.T) {
	allow, err := ParseReplicateAllow([]string{"DR.example", "10.0.0.7:8433", "[::1]:9000"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{allow: allow}
	for target, ok := range map[string]bool{
		"https://dr.example:8433":     true,
		"https://dr.example":          true,
		"http://DR.EXAMPLE:1":         true,
		"https://dr.example.evil:443": false,
		"https://10.0.0.7:8433":       true,
		"https://10.0.0.7:8434":       false,
		"https://10.0.0.7":            false, // 443 is not 8433
		"http://[::1]:9000":           true,
		"http://[::1]:9001":           false,
		"http://169.254.169.254":      false,
	} {
		err := s.allowTarget(target)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", target, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--replicate-allow") {
			t.Errorf("%s: error %q does not name the setting", target, err)
		}
	}
	if err := (&Server{}).allowTarget("http://169.254.169.254"); err != nil {
		t.Errorf("no list: %v, want any target allowed", err)
	}
	for _, bad := range []string{"", "https://dr.example", "dr.example:http", "dr.example:0", "dr.example:70000", "dr/x", "[::1", ":8433"} {
		if _, err := ParseReplicateAllow([]string{bad}); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
