#!/usr/bin/env bash
# validar-servidor.sh [NETWORK]
#
# Asks the central of a running deployment whether it serves, from inside
# the deployment's Docker network: no port is published and nothing is
# installed on the host. It runs `client probe` (the protocol's Health
# message to server.address) in a throwaway client:latest container and
# prints exactly one line:
#
#	action: test_server | result: success     exit 0
#	action: test_server | result: fail        exit 1
#
# NETWORK is the Docker network to probe from. Without it, the network of
# the compose project COMPOSE_PROJECT_NAME (default tp0, the Makefile's) is
# used. The probe reads ./client/config.yaml (mounted read-only) for
# server.address; SERVER_ADDRESS=host:port overrides it.
#
# Mutual TLS: where the network's container "server" has the probe's
# certificate mounted (/run/certs/probe.crt, probe.key and ca.crt, as
# generar-compose.sh with a certificate directory writes it), the probe
# mounts the same host files read-only and presents the probe's
# certificate (CLI_TLS_CA, CLI_TLS_CERT, CLI_TLS_KEY), which may ask
# Health only. CERTS_DIR=DIR takes ca.crt, probe.crt and probe.key from DIR
# instead (probe.key readable by the image's user 10001, as
# scripts/deploy-certs.sh leaves it). Otherwise it speaks plaintext.
set -uo pipefail

readonly success="action: test_server | result: success"
readonly fail="action: test_server | result: fail"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "$#" -gt 1 ]; then
	echo "usage: $0 [NETWORK]" >&2
	exit 2
fi

network=${1:-}
if [ -z "$network" ]; then
	project=${COMPOSE_PROJECT_NAME:-tp0}
	network=$(docker network ls --quiet --filter "label=com.docker.compose.project=$project" 2>/dev/null | head -n 1)
fi
if [ -z "$network" ]; then
	echo "validar-servidor: no Docker network of compose project ${project:-?}: is the deployment up?" >&2
	echo "$fail"
	exit 1
fi

# The probe runs as the deployment's agencies do: the image's non-root
# user, a read-only root, no capability.
args=(run --rm --network "$network" --read-only --cap-drop ALL --security-opt no-new-privileges:true)
if [ -f "$here/client/config.yaml" ]; then
	args+=(--volume "$here/client/config.yaml:/app/config.yaml:ro")
fi
if [ -n "${SERVER_ADDRESS:-}" ]; then
	args+=(--env "CLI_SERVER_ADDRESS=$SERVER_ADDRESS")
fi

# The probe's certificate: from CERTS_DIR, or the host files that the
# central's container mounts.
readonly certs_in=/run/certs
declare -A source=()
if [ -n "${CERTS_DIR:-}" ]; then
	dir=$(cd "$CERTS_DIR" 2>/dev/null && pwd) || {
		echo "validar-servidor: CERTS_DIR=$CERTS_DIR is not a directory" >&2
		echo "$fail"
		exit 1
	}
	for f in ca.crt probe.crt probe.key; do
		source[$f]=$dir/$f
	done
elif docker network inspect --format '{{range .Containers}}{{.Name}}{{"\n"}}{{end}}' "$network" 2>/dev/null | grep -qx server; then
	while IFS='=' read -r dest src; do
		case $dest in
		"$certs_in/ca.crt" | "$certs_in/probe.crt" | "$certs_in/probe.key") source[${dest#"$certs_in/"}]=$src ;;
		esac
	done < <(docker inspect --format '{{range .Mounts}}{{.Destination}}={{.Source}}{{"\n"}}{{end}}' server 2>/dev/null)
fi
if [ -n "${source[probe.key]:-}" ]; then
	for f in ca.crt probe.crt probe.key; do
		if [ -z "${source[$f]:-}" ]; then
			echo "validar-servidor: the central has $certs_in/probe.key but no $certs_in/$f" >&2
			echo "$fail"
			exit 1
		fi
		args+=(--volume "${source[$f]}:$certs_in/$f:ro")
	done
	args+=(--env "CLI_TLS_CA=$certs_in/ca.crt" --env "CLI_TLS_CERT=$certs_in/probe.crt" --env "CLI_TLS_KEY=$certs_in/probe.key")
fi
args+=(--env CLI_SERVER_TIMEOUT=5s client:latest probe)

# The probe prints the result line on stdout and its reason on stderr,
# which is passed through. Anything else (docker failing to run it) is a
# fail.
out=$(docker "${args[@]}")
if [ "$out" = "$success" ]; then
	echo "$success"
	exit 0
fi
echo "$fail"
exit 1
