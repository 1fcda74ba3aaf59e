package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Config selects a bucket and prefix and says how to reach them.
type Config struct {
	Bucket string
	// Prefix is prepended, with a "/", to every object name; "" stores
	// names at the top of the bucket. It follows the rules of
	// [backend.Name]; leading and trailing slashes are trimmed.
	Prefix string
	// Endpoint is the service URL ("http://127.0.0.1:7070"); "" means AWS.
	Endpoint string
	// Region defaults to the AWS configuration's region, else us-east-1.
	Region string
	// PathStyle addresses the bucket in the URL path instead of the host
	// name, as most self-hosted S3 implementations need.
	PathStyle bool
	// AccessKey and SecretKey are static credentials. Leave both empty to
	// use the default AWS credential chain.
	AccessKey string
	SecretKey string
	// PartSize is the multipart threshold and part size: payloads larger
	// than it are uploaded in parts of this size. Default 16 MiB, at least
	// 5 MiB (the S3 minimum part size).
	PartSize int64
	// MaxRetries is how often a failed request is retried (default 4);
	// negative disables retries.
	MaxRetries int
	// MaxBackoff caps the jittered exponential delay between retries
	// (default 20s, the SDK's).
	MaxBackoff time.Duration
	// ResponseTimeout bounds the wait for a response's headers once a
	// request is sent (default 60s). Without it a request to an endpoint
	// that stops answering without closing the connection (a partition
	// that drops packets) waits forever: the SDK's client sets none.
	ResponseTimeout time.Duration
}

const (
	// DefaultPartSize is the default [Config.PartSize].
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (except the last).
	MinPartSize = 5 << 20
	// DefaultMaxRetries is the default [Config.MaxRetries].
	DefaultMaxRetries = 4
	// DefaultMaxBackoff is the default [Config.MaxBackoff].
	DefaultMaxBackoff = 20 * time.Second
	// DefaultResponseTimeout is the default [Config.ResponseTimeout]:
	// long enough for a server that syncs a 16 MiB part before it
	// answers, short enough that nothing waits on a silent one for good.
	DefaultResponseTimeout = time.Minute
	maxParts               = 10000
)

// String returns the redacted locator "s3://bucket/prefix".
func (c Config) String() string {
	s := "s3://" + c.Bucket
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		s += "/" + p
	}
	return s
}

// withDefaults checks c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Bucket == "" || strings.ContainsAny(c.Bucket, "/?#") {
		return c, fmt.Errorf("s3: invalid bucket name %q", c.Bucket)
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Prefix != "" {
		if err := backend.Name(c.Prefix).Validate(); err != nil {
			return c, fmt.Errorf("s3: prefix: %w", err)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return c, errors.New("s3: endpoint must be an http or https URL without credentials")
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return c, errors.New("s3: give both access key and secret key, or neither")
	}
	switch {
	case c.PartSize == 0:
		c.PartSize = DefaultPartSize
	case c.PartSize < MinPartSize:
		return c, fmt.Errorf("s3: part size %d is below the S3 minimum %d", c.PartSize, MinPartSize)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = DefaultResponseTimeout
	}
	return c, nil
}

// ParseURL parses a store URL of the form
//
//	s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true
//
// All query parameters are optional; path_style defaults to true when an
// endpoint is given. Credentials in the URL are refused: they belong in the
// environment or the AWS shared configuration.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New("s3: store URL does not parse")
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3: store URL scheme is %q, want s3", u.Scheme)
	}
	if u.User != nil {
		return Config{}, errors.New("s3: store URL must not contain credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the shared AWS config")
	}
	if u.Host == "" {
		return Config{}, errors.New("s3: store URL has no bucket (s3://BUCKET/PREFIX)")
	}
	cfg := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, errors.New("s3: store URL query does not parse")
	}
	pathStyleSet := false
	for key, vals := range q {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("s3: store URL parameter %q given %d times", key, len(vals))
		}
		v := vals[0]
		switch key {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("s3: store URL: path_style=%q is not a boolean", v)
			}
			cfg.PathStyle, pathStyleSet = b, true
		default:
			return Config{}, fmt.Errorf("s3: store URL: unknown parameter %q (known: endpoint, region, path_style)", key)
		}
	}
	if !pathStyleSet && cfg.Endpoint != "" {
		cfg.PathStyle = true
	}
	if _, err := cfg.withDefaults(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
