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
