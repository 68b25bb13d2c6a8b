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
#	revocation/revoked                             0444: the revocation list,
#	                                               SRC/crl.pem (the CRL of
#	                                               server certs revoke) where
#	                                               it exists, else
#	                                               SRC/revoked.txt (the older
#	                                               text list), else an empty list
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
# have until they are recreated. But for DST/revocation: the directory is
# kept (moved into the new DST, the same directory), and its list is
# replaced by a rename, so that a running central, which generar-compose.sh
# gives the directory (a file bind-mounted alone keeps the inode it was
# mounted with), reads the new list at its next look (every 2 s) or on
# SIGHUP. SRC holding both crl.pem and a revoked.txt that lists serials is
# an error: the central reads one list, and neither may be dropped
# silently. OWNER=uid:gid changes the owner.
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
# The revocation list: the CRL where server certs revoke made one.
list=
if [ -f "$src/crl.pem" ]; then
	if [ -f "$src/revoked.txt" ] && grep -qvE '^[[:space:]]*(#.*)?$' "$src/revoked.txt"; then
		fail "$src holds both crl.pem and revoked.txt with serials, and the central reads one list: revoke those agencies with server certs revoke (crl.pem then holds them too), then delete revoked.txt"
	fi
	list=$src/crl.pem
elif [ -f "$src/revoked.txt" ]; then
	list=$src/revoked.txt
fi

tmp=$(mktemp -d "$dst.tmp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
for f in "${certs[@]}"; do
	install -m 0444 "$src/$f" "$tmp/$f"
done
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

# The revocation list, last: into DST's revocation directory where there
# is one (a running central's mount), by a rename, so that the central
# reads the old list or the new one, whole.
rev=$dst/revocation
if [ ! -d "$rev" ] || [ -L "$rev" ]; then
	rev=$tmp/revocation
	mkdir "$rev"
fi
chmod 0755 "$rev"
new=$(mktemp "$rev/.revoked-XXXXXX")
if [ -n "$list" ]; then
	cat "$list" >"$new"
else
	printf '# Revoked certificate serials, one per line (SERVER_TLS_REVOKED): none.\n' >"$new"
fi
chmod 0444 "$new"
mv -f "$new" "$rev/revoked"

trap - EXIT # from here on, tmp may hold the kept revocation directory
[ "$rev" = "$tmp/revocation" ] || mv "$rev" "$tmp/revocation"
rm -rf "$dst"
mv "$tmp" "$dst"
echo "deploy-certs: $dst: ${#certs[@]} certificates, ${#keys[@]} keys (owned by $owner), revocation/revoked (${list:-an empty list}); no ca.key" >&2
