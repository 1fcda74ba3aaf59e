package s3

import (
	"context"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Config
	}{
		{"s3://bucket", Config{Bucket: "bucket"}},
		{"s3://bucket/", Config{Bucket: "bucket"}},
		{"s3://bucket/a/b/", Config{Bucket: "bucket", Prefix: "a/b"}},
		{"s3://b/p?region=eu-west-1", Config{Bucket: "b", Prefix: "p", Region: "eu-west-1"}},
		{"s3://b/p?endpoint=http://127.0.0.1:7070&region=R",
			Config{Bucket: "b", Prefix: "p", Endpoint: "http://127.0.0.1:7070", Region: "R", PathStyle: true}},
		{"s3://b?endpoint=https%3A%2F%2Fs3.example.com&path_style=false",
			Config{Bucket: "b", Endpoint: "https://s3.example.com"}},
		{"s3://b?path_style=true", Config{Bucket: "b", PathStyle: true}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestParseURLRefuses(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"http://bucket/p", "scheme"},
		{"s3:///p", "no bucket"},
		{"s3://AKIAEXAMPLE:sekrit@bucket/p", "credentials"},
		{"s3://bucket/p?secret_key=sekrit", "unknown parameter"},
		{"s3://bucket/p?region=a&region=b", "2 times"},
		{"s3://bucket/p?path_style=maybe", "boolean"},
		{"s3://bucket/p?endpoint=ftp://x", "endpoint"},
		{"s3://bucket/p?endpoint=http://user:sekrit@host", "endpoint"},
		{"s3://bucket/a/../b", "invalid object name"},
		{"s3://bucket/a//b", "invalid object name"},
	} {
		_, err := ParseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseURL(%q): got %v, want an error about %q", tc.url, err, tc.msg)
			continue
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("ParseURL(%q): error repeats a secret: %v", tc.url, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Bucket: "b", Prefix: "/p/"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Prefix != "p" || c.PartSize != DefaultPartSize || c.MaxRetries != DefaultMaxRetries ||
		c.MaxBackoff != DefaultMaxBackoff {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []Config{
		{},
		{Bucket: "b", AccessKey: "only-access"},
		{Bucket: "b", PartSize: MinPartSize - 1},
		{Bucket: "b/c"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
	if c, _ := (Config{Bucket: "b", MaxRetries: -1}).withDefaults(); c.MaxRetries != 0 {
		t.Errorf("MaxRetries -1 became %d, want 0", c.MaxRetries)
	}
}

func TestStringIsRedacted(t *testing.T) {
	b, err := New(context.Background(), Config{
		Bucket: "bkt", Prefix: "pre/fix", Endpoint: "http://127.0.0.1:1",
		AccessKey: "AKIAEXAMPLE", SecretKey: "sekrit", Region: "r",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "s3://bkt/pre/fix" {
		t.Fatalf("String() = %q, want s3://bkt/pre/fix", got)
	}
}
