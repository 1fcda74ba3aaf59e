package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/holdfast-backup/holdfast/client"
)

// Job is one backup with its pause and hooks.
type Job struct {
	Target *Target // nil: no Docker source (hooks only)
	Pause  bool    // pause Target.Pause while the files are read
	Before Hook    // before the pause; its failure aborts the backup
	After  Hook    // after the unpause, always, even when the backup failed
	// Log, if set, is told what the job does to containers ("paused
	// db"), one line at a time.
	Log func(msg string)
}

// BackupFunc runs the backup itself, e.g. a [client.Repository.Backup]
// with the options the target filled in and readDone as
// [client.BackupOptions.ReadDone]: the containers are unpaused there, once
// every file is read, not after the upload and commit.
type BackupFunc func(ctx context.Context, readDone func()) (*client.BackupSummary, error)

// Run runs job around backup, in this order: the hook before, the pause,
// backup, the unpause, the hook after. The unpause comes as soon as backup
// has read every file (readDone), or else when it returns: whatever backup
// did, also when ctx was cancelled (it uses a fresh context). The
// hook after runs whenever the hook before was attempted, with
// HOLDFAST_BACKUP_STATUS=ok or failed (and HOLDFAST_SNAPSHOT on success).
//
// The summary is returned whenever a snapshot was committed, even if
// unpausing or the hook after then failed: the error says so.
func Run(ctx context.Context, job Job, backup BackupFunc) (*client.BackupSummary, error) {
	env := job.env()
	job.Before.Env = append(job.Before.Env, env...)
	job.Before.Env = append(job.Before.Env, "HOLDFAST_HOOK=before")
	sum, err := pauseAndBackup(ctx, job, backup, job.Before.Run)
	after := job.After
	after.Env = append(append(after.Env, env...), "HOLDFAST_HOOK=after")
	if err != nil {
		after.Env = append(after.Env, "HOLDFAST_BACKUP_STATUS=failed")
	} else {
		after.Env = append(after.Env, "HOLDFAST_BACKUP_STATUS=ok", "HOLDFAST_SNAPSHOT="+sum.SnapshotID.String())
	}
	// The hook after runs even when ctx was cancelled: it undoes what the
	// hook before did (say, a database's backup mode).
	if aerr := after.Run(context.WithoutCancel(ctx)); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if err != nil && sum != nil {
		err = fmt.Errorf("snapshot %s committed, but %w", sum.SnapshotID.Short(), err)
	}
	return sum, err
}

// pauseAndBackup runs the hook before, pauses, backs up and unpauses. A
// failed unpause is an error even when the backup succeeded.
func pauseAndBackup(ctx context.Context, job Job, backup BackupFunc, before func(context.Context) error) (sum *client.BackupSummary, err error) {
	if err := before(ctx); err != nil {
		return nil, err
	}
	if job.Pause && job.Target != nil && len(job.Target.Pause) > 0 {
		p, err := job.Target.c.Pause(ctx, job.Target.Pause)
		if err != nil {
			return nil, err
		}
		job.log("paused %s", names(p.Held()))
		var once sync.Once
		var rerr error
		resume := func() {
			once.Do(func() {
				held := p.Held()
				if rerr = p.Resume(); rerr == nil {
					job.log("unpaused %s", names(held))
				}
			})
		}
		defer func() {
			resume()
			err = errors.Join(err, rerr)
		}()
		return backup(ctx, resume)
	}
	return backup(ctx, func() {})
}

func (j Job) env() []string {
	if j.Target == nil {
		return nil
	}
	return []string{
		"HOLDFAST_SOURCE_KIND=" + j.Target.Source.Kind,
		"HOLDFAST_SOURCE_NAME=" + j.Target.Source.Name,
	}
}

func (j Job) log(format string, args ...any) {
	if j.Log != nil {
		j.Log(fmt.Sprintf(format, args...))
	}
}

func names(cs []Container) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return strings.Join(out, ", ")
}
