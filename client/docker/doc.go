// Package docker is the Docker source of the Holdfast client: it talks to
// the Docker Engine API (the official Go client, DOCKER_HOST honoured, API
// version negotiated, so a 20.10 engine with API 1.41 works) to turn a
// volume or a container into what [client.Repository.Backup] reads, to
// pause containers around the read, to run hook commands, and to create
// the volume a snapshot is restored into. SPEC.md §12.7.2 is the contract.
//
// # Volume
//
// [Client.Volume] resolves a named volume to its mount point (the local
// driver keeps the data at /var/lib/docker/volumes/NAME/_data) and backs
// that directory up as the snapshot's root, source kind docker-volume.
// The labels record the driver and the root directory's owner and mode,
// which a directory root does not otherwise keep.
//
// # Container
//
// [Client.Container] inspects a container and lays its data out as one
// tree:
//
//	/container.json                  the Engine API's inspect object, indented
//	/mounts/<destination>/...        each volume and bind mount, at the path
//	                                 where the container sees it
//
// The root is a staging directory holding container.json and empty
// placeholders for the mounts; [client.BackupOptions.Grafts] makes the walk
// read each mount's source in place of its placeholder. tmpfs mounts hold
// no data on the host and are left out.
//
// # Pause and hooks
//
// [Run] runs one backup: hook-before, pause, the backup, unpause,
// hook-after. Only containers this run paused are unpaused, always: on
// success, on error and when the context is cancelled (SIGINT, SIGTERM),
// with a fresh context. Hooks run with `sh -c` where a shell exists, else
// as words split on white space; each has a timeout.
package docker
