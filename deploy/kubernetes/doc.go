// Package kubernetes holds the test that validates the Kubernetes
// manifests in this directory (cronjob.yaml, daemonset.yaml,
// configmap.yaml, secret.example.yaml) against the Kubernetes API types and
// the holdfast client's flags and environment. It is its own module so
// that k8s.io stays out of the main module's dependency graph; `make test`
// runs it. See README.md for the manifests themselves.
package kubernetes
