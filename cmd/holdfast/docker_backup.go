package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/client/docker"
)

// dockerBackup holds the backup command's Docker and hook flags.
type dockerBackup struct {
	volume, container     string
	pause                 bool
	hookBefore, hookAfter string
	hookTimeout           time.Duration
}

const dockerBackupHelp = `
Docker (the engine at DOCKER_HOST, else /var/run/docker.sock):

--docker-volume NAME backs up the volume's data (its mount point, e.g.
/var/lib/docker/volumes/NAME/_data) as the snapshot's root, source kind
docker-volume; the labels keep its driver and the root's owner and mode.

--docker-container NAME backs up the container into one snapshot, source
kind docker-container: /container.json is its inspect JSON and
/mounts/DEST holds each volume and bind mount at its destination DEST
(e.g. /mounts/var/lib/postgresql/data). tmpfs mounts are left out.

--pause pauses the container (--docker-container), or every running
container that mounts the volume (--docker-volume), while the backup
reads the files: it runs again before the last chunks are uploaded and
the snapshot committed, and is not paused during the hooks. Containers that were already paused are left alone;
those it paused are always unpaused, also on errors and Ctrl-C.

--hook-before CMD runs before the pause (e.g. a database dump into the
volume); if it fails the backup is not made and the exit code is 1.
--hook-after CMD runs after the unpause, always, even when the backup or
the hook before failed. Hooks run with "sh -c CMD" where a shell exists
(else CMD is split on spaces and run directly), with stdout and stderr on
holdfast's stderr, and are killed after --hook-timeout. They see
HOLDFAST_HOOK (before|after), HOLDFAST_SOURCE_KIND, HOLDFAST_SOURCE_NAME,
and after: HOLDFAST_BACKUP_STATUS (ok|failed) and HOLDFAST_SNAPSHOT; never
HOLDFAST_PASSWORD or HOLDFAST_TOKEN.`

func (d *dockerBackup) register(f *pflag.FlagSet) {
	f.StringVar(&d.volume, "docker-volume", "", "back up the Docker volume `NAME`")
	f.StringVar(&d.container, "docker-container", "", "back up the Docker container `NAME`: its mounts and inspect JSON")
	f.BoolVar(&d.pause, "pause", false, "pause the container(s) using the data while it is read")
	f.StringVar(&d.hookBefore, "hook-before", "", "run `CMD` before the backup (and before --pause)")
	f.StringVar(&d.hookAfter, "hook-after", "", "run `CMD` after the backup, whatever its outcome")
	f.DurationVar(&d.hookTimeout, "hook-timeout", docker.DefaultHookTimeout, "kill a hook after `DUR`")
}

// args checks the positional paths against the Docker flags.
func (d *dockerBackup) args(args []string) error {
	sources := 0
	for _, set := range []bool{len(args) > 0, d.volume != "", d.container != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return usagef("want at least one PATH, or --docker-volume NAME, or --docker-container NAME")
	case sources > 1:
		return usagef("give PATHs, --docker-volume or --docker-container, not several")
	case d.pause && d.volume == "" && d.container == "":
		return usagef("--pause needs --docker-volume or --docker-container")
	case d.hookTimeout <= 0:
		return usagef("--hook-timeout must be positive")
	}
	return nil
}

// backup runs the backup: a plain one for PATHs without hooks, started
// while the keys are unwrapped, else through docker.Run with its pause and
// hooks, once the keys are (a wrong password runs no hook).
func (d *dockerBackup) backup(ctx context.Context, u *client.Unlocking, opts client.BackupOptions, paths []string, stderr io.Writer) (*client.BackupSummary, error) {
	opts.Paths = paths
	if d.volume == "" && d.container == "" && d.hookBefore == "" && d.hookAfter == "" {
		return u.Backup(ctx, opts)
	}
	r, err := u.Wait()
	if err != nil {
		return nil, err
	}
	job := docker.Job{
		Pause:  d.pause,
		Before: docker.Hook{Flag: "--hook-before", Command: d.hookBefore, Timeout: d.hookTimeout, Output: stderr},
		After:  docker.Hook{Flag: "--hook-after", Command: d.hookAfter, Timeout: d.hookTimeout, Output: stderr},
		Log:    func(msg string) { fmt.Fprintf(stderr, "holdfast: %s\n", msg) },
	}
	if d.volume != "" || d.container != "" {
		dc, err := docker.New(ctx)
		if err != nil {
			return nil, err
		}
		defer dc.Close()
		var t *docker.Target
		if d.volume != "" {
			t, err = dc.Volume(ctx, d.volume)
		} else {
			t, err = dc.Container(ctx, d.container)
		}
		if err != nil {
			return nil, err
		}
		defer t.Close()
		t.Apply(&opts)
		job.Target = t
	}
	return docker.Run(ctx, job, func(ctx context.Context, readDone func()) (*client.BackupSummary, error) {
		opts.ReadDone = readDone
		return r.Backup(ctx, opts)
	})
}
