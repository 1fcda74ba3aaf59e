package docker

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dclient "github.com/docker/docker/client"
)

// Client is a connection to the Docker Engine.
type Client struct {
	api *dclient.Client
}

// New connects to the engine named by DOCKER_HOST (and DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY), else the default unix socket, and negotiates the API
// version, so older engines (20.10, API 1.41) work. It pings the engine
// first so an unreachable one is one clear error.
func New(ctx context.Context) (*Client, error) {
	api, err := dclient.NewClientWithOpts(dclient.FromEnv, dclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := api.Ping(pctx); err != nil {
		api.Close()
		return nil, fmt.Errorf("%w at %s (is the socket mounted and readable? set DOCKER_HOST to point elsewhere)", ErrUnreachable, api.DaemonHost())
	}
	return &Client{api: api}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.api.Close() }

// apiErr wraps an engine error with what was asked; a missing object
// becomes ErrNotFound.
func apiErr(what string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
