package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/cmd/internal/cafile"
	"github.com/holdfast-backup/holdfast/server"
)

// replicateConfig is the file --replicate-config names (SPEC.md §12.5):
//
//	{"targets": [{"repo": "web01", "url": "https://dr.example:8433",
//	  "token_file": "/etc/holdfast/dr-web01.token", "parallel": 2,
//	  "ca_file": "/etc/holdfast/dr-ca.pem"}]}
type replicateConfig struct {
	Targets []replicateTargetConfig `json:"targets"`
}

type replicateTargetConfig struct {
	Repo       string `json:"repo"`
	URL        string `json:"url"`
	TargetRepo string `json:"target_repo"`
	Token      string `json:"token"`
	TokenFile  string `json:"token_file"`
	Prune      bool   `json:"prune"`
	BWLimit    int64  `json:"bwlimit"`
	Parallel   int    `json:"parallel"`
	Rescan     string `json:"rescan"`
	MinBackoff string `json:"min_backoff"`
	MaxBackoff string `json:"max_backoff"`
	CAFile     string `json:"ca_file"`
}

// loadReplicateConfig reads and checks the configuration. A file or token
// file that holds a token must not be readable by group or others, like
// DATA/admin.token. Errors name the file and field, never a token.
func loadReplicateConfig(path string) ([]server.ReplicationTarget, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replication config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cfg replicateConfig
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("replication config %s: %v", path, err)
	}
	var out []server.ReplicationTarget
	for i, tc := range cfg.Targets {
		t, err := tc.target(path)
		if err != nil {
			return nil, fmt.Errorf("replication config %s: target %d: %w", path, i+1, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (tc replicateTargetConfig) target(cfgPath string) (server.ReplicationTarget, error) {
	t := server.ReplicationTarget{
		Repo: tc.Repo, URL: tc.URL, TargetRepo: tc.TargetRepo,
		Prune: tc.Prune, BWLimit: tc.BWLimit, Parallel: tc.Parallel,
	}
	if tc.Repo == "" {
		return t, fmt.Errorf("repo is required")
	}
	switch {
	case tc.Token != "" && tc.TokenFile != "":
		return t, fmt.Errorf("give token or token_file, not both")
	case tc.Token != "":
		if err := privateFile(cfgPath); err != nil {
			return t, err
		}
		t.Token = tc.Token
	case tc.TokenFile != "":
		if err := privateFile(tc.TokenFile); err != nil {
			return t, err
		}
		b, err := os.ReadFile(tc.TokenFile)
		if err != nil {
			return t, fmt.Errorf("token_file: %w", err)
		}
		t.Token = strings.TrimSpace(string(b))
	default:
		return t, fmt.Errorf("token or token_file is required")
	}
	if tc.CAFile != "" {
		pool, err := cafile.Load(tc.CAFile)
		if err != nil {
			return t, fmt.Errorf("ca_file: %w", err)
		}
		t.RootCAs = pool
	}
	for _, d := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"rescan", tc.Rescan, &t.Rescan}, {"min_backoff", tc.MinBackoff, &t.MinBackoff}, {"max_backoff", tc.MaxBackoff, &t.MaxBackoff}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil || v <= 0 {
			return t, fmt.Errorf("%s %q: want a positive duration such as 30s", d.name, d.in)
		}
		*d.out = v
	}
	return t, nil
}

// privateFile refuses a token-bearing file that group or others may read.
func privateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s holds a token but has mode %04o: run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}
