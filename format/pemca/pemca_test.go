package pemca_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/format/pemca"
	"github.com/holdfast-backup/holdfast/format/pemca/pemcatest"
)

func TestParse(t *testing.T) {
	files := pemcatest.New(t, t.TempDir())
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ca, cert, key := read(files.CA), read(files.Cert), read(files.Key)
	// A block whose body is damaged: one base64 character replaced.
	body := strings.Index(cert, "\n") + 10
	damaged := cert[:body] + "!" + cert[body+1:]
	placeholder := "-----BEGIN CERTIFICATE-----\nREPLACE WITH THE PEM OF THE CA\n-----END CERTIFICATE-----\n"
	noEnd := strings.Replace(cert, "-----END CERTIFICATE-----", "", 1)
	lines := func(s string) int { return strings.Count(s, "\n") }

	for _, tc := range []struct {
		name, raw string
		want      string // "" for success, else a substring of the error
	}{
		{"one CA", ca, ""},
		{"bundle with comments", "# Issuer: test CA\n" + ca + "\n# Issuer: server\n" + cert, ""},
		{"empty", "", "no PEM certificate"},
		{"no block", "not a certificate\n", "no PEM certificate"},
		{"placeholder that is base64", placeholder, "PEM block 1 (line 1): certificate: "},
		{"placeholder that is not", strings.Replace(placeholder, "THE CA", "THE SERVER'S CA", 1), "PEM block 1 (line 1): does not decode"},
		{"damaged middle block", ca + damaged + cert, "PEM block 2 (line " + strconv.Itoa(lines(ca)+1) + "): does not decode"},
		{"missing END", ca + noEnd, "PEM block 2 (line " + strconv.Itoa(lines(ca)+1) + "): does not decode"},
		{"private key", ca + key, `PEM block 2 (line ` + strconv.Itoa(lines(ca)+1) + `): is a "`},
		{"too large", strings.Repeat("#", pemca.MaxSize+1), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pemca.Parse([]byte(tc.raw))
			switch {
			case tc.want == "" && (err != nil || pool == nil):
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Parse accepted it, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
