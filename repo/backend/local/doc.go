// Package local is a [backend.Backend] that keeps objects as files under a
// directory: the object "r/packs/ab/x.03" is the file DIR/r/packs/ab/x.03.
//
// # Durability
//
// Put writes the object to a temporary file ".tmp-<random>" in the object's
// final directory, fsyncs it, renames it over the final name and fsyncs the
// directory. Directories it creates on the way are fsynced into their parents.
// So after Put returns the object survives a crash or power loss, and before
// the rename no reader can see any of it: a crash leaves either no object or
// the whole object, plus perhaps a stale temporary file, which List never
// reports and [Backend.CleanTemp] removes. Delete does not fsync: a delete
// lost in a crash brings back an orphan that garbage collection removes again.
//
// # Unmounted disks
//
// New records the device of the directory. Put and List fail with
// [backend.ErrUnavailable] once the directory is gone or lies on another
// device (a disk unmounted under the server leaves its mount point, a
// directory of the parent file system): nothing is written onto the wrong
// disk, and an empty mount point is not listed as an empty store. Reads of
// missing objects then say ErrUnavailable as well as ErrNotExist.
//
// # Store marker
//
// [MarkerName] in the directory names the store it is ([Backend.Marker],
// [Backend.Mark]); the engine checks it when it opens and makes a
// directory that is not its store unavailable ([Backend.SetUnavailable]):
// an empty mount point of a disk that is not mounted, or another store's
// disk.
//
// # Errors
//
// Errors name the object, never the store's directory. Out-of-space,
// read-only and permission errors wrap both [backend.ErrFull],
// [backend.ErrReadOnly] or [backend.ErrPermission] and the original
// [syscall.Errno], so errors.Is(err, syscall.ENOSPC) keeps working.
//
// Files are created with mode 0600 and directories with 0700: the data is
// encrypted, but the store is still nobody else's business.
package local
