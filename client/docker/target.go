package docker

import (
	"os"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format/snapshot"
)

// Target is what one Docker backup reads: the options it fills in for
// [client.Repository.Backup] and the containers --pause would pause.
type Target struct {
	Paths  []string
	Source snapshot.Source
	Grafts map[string]string
	// Pause are the running, unpaused containers that use the data (IDs),
	// with their names for messages.
	Pause []Container
	stage string  // staging directory to remove, "" if none
	c     *Client // the engine that pauses
}

// Container names a container by ID and name (without the leading /).
type Container struct{ ID, Name string }

// Apply sets the paths, source and grafts of opts.
func (t *Target) Apply(opts *client.BackupOptions) {
	opts.Paths, opts.Source, opts.Grafts = t.Paths, t.Source, t.Grafts
}

// Close removes the staging directory, if any.
func (t *Target) Close() error {
	if t.stage == "" {
		return nil
	}
	return os.RemoveAll(t.stage)
}
