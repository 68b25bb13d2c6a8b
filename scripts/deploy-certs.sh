#!/usr/bin/env bash
# scripts/deploy-certs.sh SRC DST
#
# Makes DST, the containers' copy of the certificates in SRC (the
# operator's directory of `server certs`, which holds the CA's key). The
# containers run as the images' user 10001:10001 and read their keys
# through read-only bind mounts, which keep the host's owner and mode;
# `server certs` writes keys 0600 for whoever ran it, so the containers
# could not read SRC's keys. DST holds:
#
#	ca.crt, central.crt, probe.crt, agency-N.crt   0444
#	central.key, probe.key, agency-N.key           0400, owned by 10001:10001
#	revoked.txt                                    0444: SRC/revoked.txt, or
#	                                               an empty list where SRC has none
#
# and never ca.key: it stays in SRC. DST itself is 0700, owned by whoever
# runs this (root): the Docker engine, not the container, opens a bind
# mount's source, so no other user of the host can read a key. Every
# agency-N.crt of SRC is copied with its key; generar-compose.sh mounts
# into agency N's container only agency-N's.
#
# Giving a file to 10001 takes root (chown), as does running Docker here
# anyway. DST is rebuilt whole on every run (written beside it, then
# swapped in), so a certificate renewed, added or deleted in SRC is
# renewed, added or gone in DST; running containers keep the files they
# have until they are recreated. OWNER=uid:gid changes the owner.
# Prints one line; exit 0, 1 on an error (DST left as it was), 2 on bad
# usage.
set -euo pipefail

usage() {
	echo "usage: $0 SRC DST   (SRC: the certificates of server certs; DST: the containers' copy, rebuilt)" >&2
	exit 2
}
[ "$#" -eq 2 ] && [ -n "$1" ] && [ -n "$2" ] || usage
src=${1%/}
dst=${2%/}
owner=${OWNER:-10001:10001}

fail() {
	echo "deploy-certs: $*" >&2
	exit 1
}

[ -d "$src" ] || fail "$src is not a directory: make the certificates first (make certs)"
[ "$(cd "$src" && pwd -P)" != "$(mkdir -p "$dst" && cd "$dst" && pwd -P)" ] || fail "SRC and DST are the same directory"

certs=(ca.crt central.crt probe.crt)
keys=(central.key probe.key)
for crt in "$src"/agency-*.crt; do
	[ -e "$crt" ] || continue
	name=$(basename "$crt" .crt)
	[[ "$name" =~ ^agency-[1-9][0-9]*$ ]] || continue
	certs+=("$name.crt")
	keys+=("$name.key")
done
for f in "${certs[@]}" "${keys[@]}"; do
	[ -f "$src/$f" ] || fail "$src/$f is missing: run server certs on $src again"
done

tmp=$(mktemp -d "$dst.tmp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
for f in "${certs[@]}"; do
	install -m 0444 "$src/$f" "$tmp/$f"
done
if [ -f "$src/revoked.txt" ]; then
	install -m 0444 "$src/revoked.txt" "$tmp/revoked.txt"
else
	printf '# Revoked certificate serials, one per line (SERVER_TLS_REVOKED): none.\n' >"$tmp/revoked.txt"
	chmod 0444 "$tmp/revoked.txt"
fi
for f in "${keys[@]}"; do
	# Created 0600 before the key is written into it, so that the key is
	# never readable by another user, not even for a moment.
	(umask 0177 && : >"$tmp/$f")
	cat "$src/$f" >"$tmp/$f"
done
chmod 0400 "${keys[@]/#/$tmp/}"
if ! chown "$owner" "${keys[@]/#/$tmp/}" 2>/dev/null; then
	fail "cannot give the keys to $owner (the containers' user): that takes root; run it as root (sudo)"
fi

rm -rf "$dst"
mv "$tmp" "$dst"
trap - EXIT
echo "deploy-certs: $dst: ${#certs[@]} certificates, ${#keys[@]} keys (owned by $owner), revoked.txt; no ca.key" >&2
