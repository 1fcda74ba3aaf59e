#!/bin/sh
# install-versitygw.sh builds the versitygw S3 gateway that the S3 store tests
# run against, into <repo>/.tools/bin. Idempotent: does nothing when the binary
# is already there. Override the install directory with HOLDFAST_TOOLS_BIN.
set -eu

VERSION=v1.8.0
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOLDFAST_TOOLS_BIN:-$root/.tools/bin}

if [ -x "$bin/versitygw" ]; then
	echo "versitygw: already installed at $bin/versitygw"
	exit 0
fi

mkdir -p "$bin"
GOBIN=$bin go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >/dev/null
echo "versitygw: installed $VERSION at $bin/versitygw"
