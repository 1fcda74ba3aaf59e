package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicateConfig checks the configuration file's rules: a token in a
// file others may read is refused, unknown fields and ambiguous tokens are
// refused, and no error quotes the token.
func TestReplicateConfig(t *testing.T) {
	dir := t.TempDir()
	const tok = "hf_secretsecretsecretsecretsecretsecretsecret"
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokFile := write("tok", tok+"\n", 0o600)
	openTokFile := write("tok-open", tok, 0o644)
	for name, c := range map[string]struct {
		body string
		mode os.FileMode
		want string // "" = valid
	}{
		"token file":       {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token_file":"` + tokFile + `","rescan":"5s"}]}`, 0o644, ""},
		"inline, private":  {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token":"` + tok + `"}]}`, 0o600, ""},
		"inline, readable": {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token":"` + tok + `"}]}`, 0o644, "chmod 600"},
		"token file open":  {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token_file":"` + openTokFile + `"}]}`, 0o600, "chmod 600"},
		"both":             {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token":"` + tok + `","token_file":"` + tokFile + `"}]}`, 0o600, "not both"},
		"unknown field":    {`{"targets":[{"repo":"web","urll":"x"}]}`, 0o600, "unknown field"},
		"no repo":          {`{"targets":[{"url":"http://127.0.0.1:1","token_file":"` + tokFile + `"}]}`, 0o600, "repo is required"},
		"bad ca_file":      {`{"targets":[{"repo":"web","url":"https://127.0.0.1:1","token_file":"` + tokFile + `","ca_file":"` + tokFile + `"}]}`, 0o600, "ca_file: CA file"},
		"bad duration":     {`{"targets":[{"repo":"web","url":"http://127.0.0.1:1","token_file":"` + tokFile + `","max_backoff":"soon"}]}`, 0o600, "max_backoff"},
	} {
		t.Run(name, func(t *testing.T) {
			p := write(strings.ReplaceAll(name, " ", "-")+".json", c.body, c.mode)
			targets, err := loadReplicateConfig(p)
			if c.want == "" {
				if err != nil || len(targets) != 1 || targets[0].Token != tok {
					t.Fatalf("got %v, %v", targets, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), tok) {
				t.Fatal("the error quotes the token")
			}
		})
	}
}
