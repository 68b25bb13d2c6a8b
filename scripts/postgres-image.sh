#!/usr/bin/env bash
# postgres-image.sh builds the image quiniela-postgres:15 without a
# registry: a root file system made of this machine's Debian PostgreSQL 15
# (postgresql-15, postgresql-client-15), the shared libraries its programs
# load (as ldd lists them), dash as /bin/sh (initdb and pg_ctl run their
# commands through it), the time zone data, a postgres user 70:70, and
# pgentrypoint (cmd/pgentrypoint) as the entrypoint; `docker import` makes
# it an image. docs/DEPLOY.md, "PostgreSQL", describes the image.
#
#	scripts/postgres-image.sh            (make postgres-image)
#
# Environment:
#	IMAGE         the tag (default quiniela-postgres:15)
#	PGENTRYPOINT  a pgentrypoint binary to use instead of building one with go
#
# The image is labelled with a digest of everything it is made of (every
# file, the entrypoint and this script): when the image with that digest
# exists, the script says so and returns without importing anything. Where
# PostgreSQL 15 is not installed, it installs it with apt-get if run as root.
set -euo pipefail

IMAGE=${IMAGE:-quiniela-postgres:15}
PG_UID=70
PG_GID=70
PGBIN=/usr/lib/postgresql/15/bin
PGLIB=/usr/lib/postgresql/15/lib
PGSHARE=/usr/share/postgresql/15
ZONEINFO=/usr/share/zoneinfo
ENTRYPOINT=/usr/local/bin/pgentrypoint
DIGEST_LABEL=org.quiniela.postgres.inputs
# The programs the entrypoint runs, and those an operator wants in
# `docker exec`.
PROGRAMS=(postgres initdb pg_ctl pg_basebackup pg_isready psql pg_controldata pg_rewind pg_dump pg_dumpall pg_restore)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script="$repo/scripts/$(basename "${BASH_SOURCE[0]}")"

work= # the temporary directory, removed at exit

die() { echo "postgres-image: $*" >&2; exit 1; }

# ensure_postgres installs PostgreSQL 15 where its programs are missing.
ensure_postgres() {
	local p missing=0
	for p in "${PROGRAMS[@]}"; do
		[[ -x $PGBIN/$p ]] || missing=1
	done
	((missing)) || return 0
	[[ $(id -u) -eq 0 ]] || die "PostgreSQL 15 is not installed ($PGBIN); as root: apt-get install postgresql-15"
	echo "postgres-image: installing postgresql-15 with apt-get" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15
}

# build_entrypoint puts the static pgentrypoint into $1.
build_entrypoint() {
	if [[ -n ${PGENTRYPOINT:-} ]]; then
		cp "$PGENTRYPOINT" "$1"
		return
	fi
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$1" ./cmd/pgentrypoint)
}

# elf_files lists the programs and modules the image holds: the server's
# modules but llvmjit (JIT is off: LLVM is 100 MB).
elf_files() {
	local p
	for p in "${PROGRAMS[@]}"; do
		echo "$PGBIN/$p"
	done
	find "$PGLIB" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' | sort
	readlink -f /bin/sh
}

# libraries lists, once each, the shared libraries (and the dynamic
# loader) that the files named on stdin load, as ldd resolves them here.
libraries() {
	local f out
	while read -r f; do
		out=$(ldd "$f") || die "ldd $f failed"
		if grep -q 'not found' <<<"$out"; then
			die "$f needs a library this machine lacks: $(grep 'not found' <<<"$out")"
		fi
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
	done | sort -u
}

# inputs_digest is a digest of every file the image is made of, so that an
# upgraded package, a changed entrypoint or a changed script makes a new
# image.
inputs_digest() {
	local entrypoint=$1
	shift
	{
		{
			find "$PGSHARE" "$ZONEINFO" -path "$PGSHARE/man" -prune -o -type f -print
			printf '%s\n' "$@"
		} | sort -u | xargs -d '\n' sha256sum
		sha256sum <"$entrypoint"
		sha256sum <"$script"
	} | sha256sum | cut -d' ' -f1
}

# image_id prints the ID of the image, or nothing.
image_id() {
	docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true
}

# current_digest prints the digest label of the image, or nothing.
current_digest() {
	docker image inspect --format "{{index .Config.Labels \"$DIGEST_LABEL\"}}" "$IMAGE" 2>/dev/null || true
}

# copy_file copies $1 (following links) to the same path under root $2.
copy_file() {
	install -D -m "$(stat -L -c %a "$1")" "$1" "$2$1"
}

# assemble writes the root file system into $1.
assemble() {
	local root=$1 entrypoint=$2 f
	shift 2
	for f in "$@"; do
		copy_file "$f" "$root"
	done
	mkdir -p "$root/bin" "$root/usr/share/postgresql" "$root/usr/local/bin"
	ln -s "$(readlink -f /bin/sh)" "$root/bin/sh"
	cp -a "$PGSHARE" "$root/usr/share/postgresql/"
	rm -rf "$root$PGSHARE/man"
	cp -a "$ZONEINFO" "$root/usr/share/"
	install -m 0755 "$entrypoint" "$root$ENTRYPOINT"
	mkdir -p "$root/etc" "$root/tmp" "$root/run/postgresql" "$root/var/lib/postgresql/data"
	ln -s ../run "$root/var/run"
	chmod 1777 "$root/tmp"
	chmod 2775 "$root/run/postgresql"
	chmod 0700 "$root/var/lib/postgresql/data"
	printf 'root:x:0:0:root:/root:/bin/false\npostgres:x:%d:%d:PostgreSQL:/var/lib/postgresql:/bin/false\n' \
		"$PG_UID" "$PG_GID" >"$root/etc/passwd"
	printf 'root:x:0:\npostgres:x:%d:\n' "$PG_GID" >"$root/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# pack writes the tar of root $1 into $2: everything owned by root, but
# the directories postgres writes in, owned by postgres.
pack() {
	local root=$1 tarball=$2
	local -a owned=(./run/postgresql ./var/lib/postgresql)
	tar -C "$root" --numeric-owner --owner=0 --group=0 \
		--exclude=./run/postgresql --exclude=./var/lib/postgresql -cf "$tarball" .
	tar -C "$root" --numeric-owner --owner="$PG_UID" --group="$PG_GID" -rf "$tarball" "${owned[@]}"
}

main() {
	command -v docker >/dev/null || die "docker is not installed"
	ensure_postgres
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	build_entrypoint "$work/pgentrypoint"
	local -a elves libs
	mapfile -t elves < <(elf_files)
	mapfile -t libs < <(printf '%s\n' "${elves[@]}" | libraries)
	local digest
	digest=$(inputs_digest "$work/pgentrypoint" "${elves[@]}" "${libs[@]}")
	if [[ $(current_digest) == "$digest" ]]; then
		echo "postgres-image: $IMAGE is up to date ($DIGEST_LABEL=${digest:0:12})"
		return
	fi
	assemble "$work/root" "$work/pgentrypoint" "${elves[@]}" "${libs[@]}"
	pack "$work/root" "$work/root.tar"
	local version old
	old=$(image_id)
	version=$(dpkg-query -W -f '${Version}' postgresql-15 2>/dev/null || echo unknown)
	docker import \
		--change "LABEL $DIGEST_LABEL=$digest" \
		--change "LABEL org.opencontainers.image.title=quiniela-postgres org.opencontainers.image.version=$version" \
		--change "ENV PATH=$PGBIN:/usr/local/bin:/usr/bin:/bin" \
		--change 'ENV PGDATA=/var/lib/postgresql/data' \
		--change 'ENV TZ=UTC' \
		--change "USER $PG_UID:$PG_GID" \
		--change 'WORKDIR /var/lib/postgresql' \
		--change 'VOLUME /var/lib/postgresql/data' \
		--change 'EXPOSE 5432' \
		--change 'HEALTHCHECK --interval=2s --timeout=5s --retries=30 CMD ["pg_isready", "-q", "-h", "/var/run/postgresql"]' \
		--change "ENTRYPOINT [\"$ENTRYPOINT\"]" \
		"$work/root.tar" "$IMAGE" >/dev/null
	# The image it replaces would stay behind untagged; one a container
	# still uses stays anyway.
	if [[ -n $old && $old != "$(image_id)" ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
	echo "postgres-image: built $IMAGE (postgresql-15 $version, $(du -sh "$work/root" | cut -f1), $DIGEST_LABEL=${digest:0:12})"
}

main "$@"
