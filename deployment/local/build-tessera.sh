#!/usr/bin/env bash
# build-tessera.sh builds Tessera's conformance personalities (cmd/conformance/mysql
# and cmd/conformance/posix) at the version of github.com/transparency-dev/tessera
# pinned in go.mod, into bin/tessera-mysql and bin/tessera-posix, for `make bench`.
# They need modules the repository's go.sum does not list, so they are built in a
# throwaway module outside the repository (its go.mod requires only Tessera);
# the repository's go.mod and go.sum are not touched. Prints the module's
# directory (its storage/mysql/schema.sql initialises the MySQL log).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mod=github.com/transparency-dev/tessera
version=$(go list -m -f '{{.Version}}' "$mod")
stamp=$root/bin/.tessera-$version
if [ ! -f "$stamp" ] || [ ! -x "$root/bin/tessera-mysql" ] || [ ! -x "$root/bin/tessera-posix" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	printf 'module htlog.localhost/tessera-bench\n\ngo 1.24\n\nrequire %s %s\n' "$mod" "$version" >"$tmp/go.mod"
	mkdir -p "$root/bin"
	(cd "$tmp" && GOFLAGS=-mod=mod go mod download "$mod@$version" &&
		GOFLAGS=-mod=mod go build -o "$root/bin/tessera-mysql" "$mod/cmd/conformance/mysql" &&
		GOFLAGS=-mod=mod go build -o "$root/bin/tessera-posix" "$mod/cmd/conformance/posix") >&2
	rm -f "$root"/bin/.tessera-v*
	touch "$stamp"
fi
go list -m -f '{{.Dir}}' "$mod"
