package format

// Version is the release version of Holdfast: both binaries report it with
// --version and the server returns it from InfoService.GetInfo. Set at build
// time with -ldflags "-X github.com/holdfast-backup/holdfast/format.Version=…".
var Version = "0.1.0-dev"

// APIVersion is the major version of the RPC API (package holdfast.v1).
const APIVersion = 1
