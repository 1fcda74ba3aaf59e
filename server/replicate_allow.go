package server

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// AllowedTarget is one entry of holdfastd's --replicate-allow: a host
// name or IP address, and a port unless any port will do.
type AllowedTarget struct {
	Host string // lower case; an IPv6 address without brackets
	Port string // empty: any port
}

// ParseReplicateAllow parses --replicate-allow entries, HOST or HOST:PORT
// (IPv6 in brackets: [::1]:8433). Without such a list, an admin of any
// repository can make the server open connections to any address it can
// reach, internal services included; with it, only to these.
func ParseReplicateAllow(entries []string) ([]AllowedTarget, error) {
	var out []AllowedTarget
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" || strings.Contains(e, "/") {
			return nil, fmt.Errorf("replicate-allow %q: want HOST or HOST:PORT, no scheme or path", e)
		}
		host, port := e, ""
		if h, p, err := net.SplitHostPort(e); err == nil {
			host, port = h, p
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("replicate-allow %q: port %q is not a number from 1 to 65535", e, p)
			}
		} else if strings.Count(e, ":") == 1 || strings.HasPrefix(e, "[") {
			return nil, fmt.Errorf("replicate-allow %q: want HOST or HOST:PORT, no scheme or path", e)
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if host == "" {
			return nil, fmt.Errorf("replicate-allow %q: empty host", e)
		}
		out = append(out, AllowedTarget{Host: host, Port: port})
	}
	return out, nil
}

// allowTarget checks a Replicate RPC's target URL against the allow list.
// The URL has passed ReplicationTarget.validate.
func (s *Server) allowTarget(target string) error {
	if len(s.allow) == 0 {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target URL: %v", err)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range s.allow {
		if a.Host == host && (a.Port == "" || a.Port == port) {
			return nil
		}
	}
	return fmt.Errorf("target %s is not in this server's --replicate-allow list", net.JoinHostPort(host, port))
}
