#!/usr/bin/env bash
# Runs a whole lottery on this machine: the central and 5 agencies, each a
# real process on 127.0.0.1, and prints each agency's winner count.
# .data/agency-{1..5}.csv are generated where missing (bin/gendata).
# They speak mutual TLS with the certificates of certs/, which
# `bin/server certs` makes where missing (the central's certificate names
# 127.0.0.1); TLS=off runs them in plaintext instead, as before TLS (the
# central logs a WARNING line that agencies are not authenticated).
# The central serves its admin endpoint (SERVER_ADMIN_ADDRESS=127.0.0.1:0:
# a free port on loopback), whose URL is printed once it listens; each
# agency writes its winners' documents to winners/agency-I.txt in the run's
# directory (CLI_WINNERS_FILE), printed at the end.
# Logs are kept in a temporary directory, printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

agencies=${AGENCIES:-5}
bin/gendata -dir .data -agencies "$agencies" -missing-only >/dev/null

run=$(mktemp -d "${TMPDIR:-/tmp}/lottery-run-XXXXXX")
root=$PWD
certs=$root/certs
server_env=()
case ${TLS:-on} in
on)
	bin/server certs -dir "$certs" -agencies "$agencies" >"$run/certs.log"
	server_env=(SERVER_TLS_CERT="$certs/central.crt" SERVER_TLS_KEY="$certs/central.key"
		SERVER_TLS_CLIENT_CA="$certs/ca.crt")
	[ ! -f "$certs/revoked.txt" ] || server_env+=(SERVER_TLS_REVOKED="$certs/revoked.txt")
	echo "mutual TLS with the certificates of $certs"
	;;
off) echo "plaintext (TLS=off): agencies are not authenticated" ;;
*) echo "TLS=${TLS}: want on or off" >&2; exit 2 ;;
esac
(cd "$run" && exec env "${server_env[@]}" SERVER_IP=127.0.0.1 SERVER_PORT=0 SERVER_ADMIN_ADDRESS=127.0.0.1:0 AGENCIES_AMOUNT="$agencies" \
	"$root/bin/server" >server.log 2>&1) &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT

# The central logs its address once it listens.
address=""
for _ in $(seq 100); do
	address=$(sed -n 's/.*action: accept_connections | result: in_progress | address: //p' "$run/server.log")
	[ -n "$address" ] && break
	sleep 0.05
done
[ -n "$address" ] || { echo "the central did not start; see $run/server.log" >&2; exit 1; }
# The admin endpoint is up by then (it starts before the agencies' port).
admin=$(sed -n 's/.*action: admin | result: in_progress | address: //p' "$run/server.log")
echo "admin: http://${admin:-?}/ (/healthz, /readyz, /metrics, /status) while the lottery runs"
mkdir "$run/winners"

pids=()
for i in $(seq "$agencies"); do
	client_env=()
	if [ "${TLS:-on}" = on ]; then
		client_env=(CLI_TLS_CA="$certs/ca.crt" CLI_TLS_CERT="$certs/agency-$i.crt" CLI_TLS_KEY="$certs/agency-$i.key")
	fi
	(cd "$run" && exec env "${client_env[@]}" CLI_ID=$i CLI_SERVER_ADDRESS=$address CLI_DATA_FILE="$root/.data/agency-$i.csv" \
		CLI_WINNERS_FILE="$run/winners/agency-$i.txt" \
		"$root/bin/client" >"client$i.log" 2>&1) &
	pids+=($!)
done
status=0
for i in $(seq "$agencies"); do
	if ! wait "${pids[$((i - 1))]}"; then
		status=1
	fi
	count=$(sed -n 's/.*action: consulta_ganadores | result: success | cant_ganadores: \([0-9]*\).*/\1/p' "$run/client$i.log")
	echo "agency $i: ${count:-?} winners"
done
kill -TERM $server
wait $server || status=1
trap - EXIT
echo "winners files: $run/winners/agency-I.txt (one document a line)"
echo "logs: $run"
exit $status
