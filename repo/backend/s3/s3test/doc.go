// Package s3test runs a real S3 server, versitygw, on loopback for tests in
// any package:
//
//	srv := s3test.Start(t, s3test.Options{})
//	b := srv.NewBackend(t, false) // a fresh bucket
//
// The binary comes from $HOLDFAST_VERSITYGW or <module root>/.tools/bin,
// where scripts/install-versitygw.sh builds it. Without it the test is
// skipped, or fails when $CI is set, so that CI cannot silently skip S3.
//
// The server runs as
//
//	versitygw --port 127.0.0.1:PORT --quiet posix --versioning-dir VERDIR DATADIR
//
// with ROOT_ACCESS_KEY_ID/ROOT_SECRET_ACCESS_KEY in its environment. It
// serves path-style S3 with versioning, so buckets can have Object Lock, and
// enforces retention like AWS. It is stopped (SIGTERM, then SIGKILL) when
// the test ends.
package s3test
