package index

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestLogger: Pebble's routine messages go to debug, its errors to warn,
// and a Fatalf does not return.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o, err := Options{Logger: log}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	po := o.pebbleOptions(nil, nil, nil)
	po.Logger.Infof("flushed %d tables", 3)
	po.Logger.Errorf("background error: %s", "disk on fire")
	po.EventListener.BackgroundError(errors.New("compaction failed"))
	po.EventListener.DataCorruption(pebble.DataCorruptionInfo{Path: "000001.sst", Details: errors.New("bad checksum")})
	out := buf.String()
	for _, want := range []string{
		"level=WARN msg=\"background error: disk on fire\" component=pebble",
		"level=WARN msg=\"background error\" component=pebble err=\"compaction failed\"",
		"level=ERROR msg=\"data corruption\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "flushed") {
		t.Errorf("an Infof reached a warn-level logger:\n%s", out)
	}
	defer func() {
		if recover() == nil {
			t.Error("Fatalf returned")
		}
	}()
	po.Logger.Fatalf("cannot go on")
}

// TestOptions: the defaults keep the block cache at CacheSize with both
// memtables full, and every level has a bloom filter.
func TestOptions(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.pebbleCacheSize(), int64(DefaultCacheSize+2*DefaultMemTableSize); got != want {
		t.Errorf("pebble cache %d, want %d", got, want)
	}
	po := o.pebbleOptions(nil, nil, nil)
	for i, l := range po.Levels {
		if l.FilterPolicy == nil || l.FilterPolicy.Name() == pebble.NoFilterPolicy.Name() {
			t.Errorf("level %d has no filter", i)
		}
	}
	if po.DisableWAL || po.MemTableSize != DefaultMemTableSize || po.MemTableStopWritesThreshold != 2 {
		t.Errorf("unexpected options: WAL disabled %v, memtable %d × %d",
			po.DisableWAL, po.MemTableSize, po.MemTableStopWritesThreshold)
	}
}

// TestPresenceMemoryOption: 0 is the default, negative is off, and a
// positive bound under the minimum is refused with a clear error.
func TestPresenceMemoryOption(t *testing.T) {
	if o, err := (Options{}).withDefaults(); err != nil || o.PresenceMemory != DefaultPresenceMemory {
		t.Fatalf("default: %d, %v", o.PresenceMemory, err)
	}
	if o, err := (Options{PresenceMemory: -1}).withDefaults(); err != nil || o.PresenceMemory != -1 {
		t.Fatalf("off: %d, %v", o.PresenceMemory, err)
	}
	_, err := Options{PresenceMemory: 4096}.withDefaults()
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "presence memory 4096 bytes") {
		t.Fatalf("4 KiB bound: %v", err)
	}
}
