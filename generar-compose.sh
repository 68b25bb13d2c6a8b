#!/usr/bin/env bash
# generar-compose.sh OUTPUT N [CERTDIR]
#
# Writes to OUTPUT a compose file for the central (service and container
# "server") and N agencies (services and containers client1 .. clientN) on
# one private network, with no port published to the host. The file is
# accepted by both `docker compose` (v2) and `docker-compose` (v1.29):
# compose file format 2.4 (the 2.x formats have depends_on with
# condition: service_healthy in v1; 3.x do not) and no top-level name:.
#
# Paths in it are relative to the directory that holds OUTPUT:
#   ./server/config.ini       -> server:/app/config.ini (read-only)
#   ./client/config.yaml      -> clientI:/app/config.yaml (read-only)
#   ./.data/agency-I.csv      -> clientI:/app/.data/agency-I.csv (read-only)
#
# Mutual TLS only when CERTDIR is given (never guessed from what exists,
# so that `./generar-compose.sh OUTPUT N`, the course's invocation, always
# writes the plaintext file it always wrote). CERTDIR, like the paths
# above, is relative to OUTPUT's directory unless absolute; it is the
# containers' copy of the certificates (scripts/deploy-certs.sh), which
# holds no ca.key. Each file is mounted read-only under /run/certs/:
#   server:  ca.crt, central.crt, central.key, probe.crt, probe.key, and
#            the directory revocation/ (its list, revoked), with
#            SERVER_TLS_CERT, _KEY, _CLIENT_CA, _PROBE_CERT, _PROBE_KEY
#            and _REVOKED=/run/certs/revocation/revoked naming them. The
#            list's directory is mounted, not the file alone: a file
#            bind-mounted alone keeps the inode it was mounted with, so a
#            list replaced on the host (server certs revoke, then
#            scripts/deploy-certs.sh) would never reach the running
#            central; through its directory, the central reads it at its
#            next look (every 2 s) or on SIGHUP (docker kill -s HUP server)
#   clientI: ca.crt, agency-I.crt, agency-I.key (its own key, no other),
#            with CLI_TLS_CA, CLI_TLS_CERT, CLI_TLS_KEY
# A file missing from CERTDIR, or a key the containers' user 10001 cannot
# read, is a warning on stderr (Docker would mount an empty directory
# for a missing file); the file is written all the same.
#
# Least privilege: every service keeps its image's non-root user
# (10001:10001), has a read-only root file system (read_only), drops every
# capability and sets no-new-privileges. The central's one writable path is
# its store, STORAGE_FILEPATH=/app/storage/bets.csv on the service's
# anonymous volume at /app/storage: a restart of the container (also by
# restart: on-failure) and a recreation by up keep it, while after a plain
# down the next up makes a new, empty one (a new lottery; down leaves the
# old volume behind: docs/DEPLOY.md says how to remove it).
#
# The central serves its admin endpoint (SERVER_ADMIN_ADDRESS=0.0.0.0:9090:
# /healthz, /readyz, /metrics, /status, /) on the private network only:
# the port is exposed to the other containers, never published to the host
# (docs/OPERATIONS.md says how to reach it). Each agency writes its winners
# (CLI_WINNERS_FILE=/app/winners/agency-I.txt, mode 0600) to a named volume
# of its own, "winners-I" (the project's <project>_winners-I), mounted
# read-write at /app/winners: its one writable path, and no other agency's
# (every agency runs as 10001, so only separate volumes keep agency I from
# reading or replacing agency J's winners). A fresh named volume takes the
# owner of the client image's /app/winners (10001), so it works with no
# host directory to prepare, also for the course's plain `docker compose
# up` (a missing bind-mount source would be made root-owned, and the
# agency's write would fail). The volumes outlive down and rm -v; each
# lottery replaces agency-I.txt atomically (docs/DEPLOY.md, "Winners
# files").
#
# N is a non-negative integer up to 65535 (the most agencies a draw can wait
# for). With N = 0 the file has the central alone and no AGENCIES_AMOUNT,
# which the central then reads from config.ini (it refuses 0). CERTDIR is a non-empty path of letters, digits, '.', '_', '-' and
# '/'. Bad arguments print a usage line on stderr and exit 2; nothing is
# written then. The output depends only on the arguments, so regenerating
# gives the same bytes.
set -euo pipefail

usage() {
	echo "usage: $0 OUTPUT N [CERTDIR]   (OUTPUT: compose file to write; N: agencies, an integer 0..65535; CERTDIR: certificates for mutual TLS)" >&2
	exit 2
}

[ "$#" -eq 2 ] || [ "$#" -eq 3 ] || usage
output=$1
n=$2
certdir=${3-}
[ -n "$output" ] || usage
[[ "$n" =~ ^[0-9]{1,12}$ ]] || usage
n=$((10#$n)) # leading zeros are decimal, not octal
[ "$n" -le 65535 ] || usage
if [ "$#" -eq 3 ]; then
	[[ "$certdir" =~ ^[A-Za-z0-9._/-]+$ ]] || usage
	certdir=${certdir%/}
	[ -n "$certdir" ] || certdir=/
	# A bind mount's source must start with . or / (else compose reads a
	# named volume).
	case $certdir in
	/* | ./* | ../* | . | ..) ;;
	*) certdir=./$certdir ;;
	esac
fi

# The containers' user: the images' USER.
readonly uid=10001 gid=10001
readonly certs_in=/run/certs
# The central's admin endpoint, inside the network only (expose, never
# ports), and the agencies' winners files, agency I's on its own named
# volume "winners-I".
readonly admin_port=9090
readonly winners_in=/app/winners

# check_cert_file warns when a file the compose file mounts is missing
# from CERTDIR, or, for a key (private: $2 = key), when the containers'
# user cannot read it or every user can.
check_cert_file() {
	local f=$certdir_on_host/$1
	if [ ! -f "$f" ]; then
		echo "generar-compose: warning: $f is missing: make it before up (make certs, then scripts/deploy-certs.sh)" >&2
		return
	fi
	[ "${2-}" = key ] || return 0
	local st
	st=$(stat -c '%u %g %a' -- "$f" 2>/dev/null) || return 0
	local u g mode
	read -r u g mode <<<"$st"
	mode=$((8#$mode))
	if ((mode & 8#004)); then
		echo "generar-compose: warning: $f is readable by every user: a private key must not be (scripts/deploy-certs.sh writes it 0400, owned by $uid)" >&2
	elif ! { [ "$u" = "$uid" ] && ((mode & 8#400)); } && ! { [ "$g" = "$gid" ] && ((mode & 8#040)); }; then
		echo "generar-compose: warning: $f (owner $u:$g, mode $(printf %o "$mode")) is not readable by the containers' user $uid: copy the certificates with scripts/deploy-certs.sh" >&2
	fi
}

compose() {
	if [ -z "$certdir" ]; then
		cat <<YAML
# Generated by ./generar-compose.sh for $1 agencies: do not edit, regenerate.
YAML
	else
		cat <<YAML
# Generated by ./generar-compose.sh for $1 agencies with mutual TLS
# (certificates of $certdir): do not edit, regenerate.
YAML
	fi
	cat <<YAML
version: "2.4"

services:
  server:
    container_name: server
    image: server:latest
    environment:
YAML
	# With no agency here, the central waits for config.ini's
	# AGENCIES_AMOUNT (0 is refused: a draw held at once, on no bet).
	if [ "$1" -gt 0 ]; then
		echo "      - AGENCIES_AMOUNT=$1"
	fi
	cat <<YAML
      - STORAGE_FILEPATH=/app/storage/bets.csv
      - SERVER_ADMIN_ADDRESS=0.0.0.0:$admin_port
YAML
	if [ -n "$certdir" ]; then
		cat <<YAML
      - SERVER_TLS_CERT=$certs_in/central.crt
      - SERVER_TLS_KEY=$certs_in/central.key
      - SERVER_TLS_CLIENT_CA=$certs_in/ca.crt
      - SERVER_TLS_REVOKED=$certs_in/revocation/revoked
      - SERVER_TLS_PROBE_CERT=$certs_in/probe.crt
      - SERVER_TLS_PROBE_KEY=$certs_in/probe.key
YAML
	fi
	cat <<YAML
    volumes:
      - ./server/config.ini:/app/config.ini:ro
      - /app/storage
YAML
	if [ -n "$certdir" ]; then
		local f
		for f in ca.crt central.crt central.key probe.crt probe.key; do
			echo "      - $certdir/$f:$certs_in/$f:ro"
		done
		echo "      - $certdir/revocation:$certs_in/revocation:ro"
	fi
	cat <<YAML
    expose:
      - "$admin_port"
    read_only: true
    cap_drop:
      - ALL
    security_opt:
      - no-new-privileges:true
    networks:
      - lottery_net
    restart: on-failure
    healthcheck:
      test: ["CMD", "/server", "healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 30
YAML
	local i
	for ((i = 1; i <= $1; i++)); do
		cat <<YAML

  client$i:
    container_name: client$i
    image: client:latest
    environment:
      - CLI_ID=$i
      - CLI_WINNERS_FILE=$winners_in/agency-$i.txt
YAML
		if [ -n "$certdir" ]; then
			cat <<YAML
      - CLI_TLS_CA=$certs_in/ca.crt
      - CLI_TLS_CERT=$certs_in/agency-$i.crt
      - CLI_TLS_KEY=$certs_in/agency-$i.key
YAML
		fi
		cat <<YAML
    volumes:
      - ./client/config.yaml:/app/config.yaml:ro
      - ./.data/agency-$i.csv:/app/.data/agency-$i.csv:ro
      - winners-$i:$winners_in
YAML
		if [ -n "$certdir" ]; then
			cat <<YAML
      - $certdir/ca.crt:$certs_in/ca.crt:ro
      - $certdir/agency-$i.crt:$certs_in/agency-$i.crt:ro
      - $certdir/agency-$i.key:$certs_in/agency-$i.key:ro
YAML
		fi
		cat <<YAML
    read_only: true
    cap_drop:
      - ALL
    security_opt:
      - no-new-privileges:true
    networks:
      - lottery_net
    depends_on:
      server:
        condition: service_healthy
YAML
	done
	cat <<YAML

networks:
  lottery_net:
    driver: bridge
YAML
	if [ "$1" -gt 0 ]; then
		printf '\nvolumes:\n'
		for ((i = 1; i <= $1; i++)); do
			echo "  winners-$i: {}"
		done
	fi
}

content=$(compose "$n")
printf '%s\n' "$content" >"$output"
if [ -n "$certdir" ]; then
	echo "generar-compose: wrote $output (server and $n agencies, mutual TLS with the certificates of $certdir)" >&2
	case $certdir in
	/*) certdir_on_host=$certdir ;;
	*) certdir_on_host=$(dirname -- "$output")/${certdir#./} ;;
	esac
	if [ ! -d "$certdir_on_host" ]; then
		echo "generar-compose: warning: $certdir_on_host does not exist: make it before up (make certs, then scripts/deploy-certs.sh)" >&2
		exit 0
	fi
	if [ -e "$certdir_on_host/ca.key" ]; then
		echo "generar-compose: warning: $certdir_on_host holds ca.key: it is mounted nowhere, but the CA's key belongs only in the operator's directory; give the containers' copy (scripts/deploy-certs.sh)" >&2
	fi
	for f in ca.crt central.crt probe.crt revocation/revoked; do
		check_cert_file "$f"
	done
	check_cert_file central.key key
	check_cert_file probe.key key
	for ((i = 1; i <= n; i++)); do
		check_cert_file "agency-$i.crt"
		check_cert_file "agency-$i.key" key
	done
else
	echo "generar-compose: wrote $output (server and $n agencies, plaintext)" >&2
fi
