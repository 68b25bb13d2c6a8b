#!/usr/bin/env bash
# Runs a whole lottery on this machine: the central and its agencies, each a
# real process on 127.0.0.1, and prints each agency's winner count
# (README.md, "Draw day"). `make lottery` runs it.
#
# The agencies' files are DATA/agency-{1..N}.csv where DATA is set (the
# course dataset unzipped there: N is how many agency-I.csv follow one
# another from 1, or AGENCIES), else .data/agency-{1..5}.csv, generated
# where missing (bin/gendata).
# They speak mutual TLS with the certificates of certs/ (CERTS), which
# `bin/server certs` makes where missing (the central's certificate names
# 127.0.0.1); TLS=off runs them in plaintext instead (the central logs a
# WARNING line that agencies are not authenticated).
# The central serves its admin endpoint (SERVER_ADMIN_ADDRESS=127.0.0.1:0:
# a free port on loopback), whose URL is printed once it listens; each
# agency writes its winners' documents to winners/agency-I.txt in the run's
# directory (CLI_WINNERS_FILE), printed at the end.
# The central stops once the agencies are done, unless KEEP=1: it is then
# left running, its admin page up, and `scripts/lottery.sh stop` (make
# lottery-stop) stops it; KEEP_FILE (.lottery-kept) records it meanwhile.
# Logs are kept in a temporary directory, printed at the end.
# BIN_DIR (bin/) is where the binaries are.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-$root/bin}
certs=${CERTS:-$root/certs}
kept=${KEEP_FILE:-$root/.lottery-kept}

# kept_pid prints the PID of the central that KEEP_FILE records, where that
# process is still a central; nothing otherwise.
kept_pid() {
	[ -f "$kept" ] || return 0
	local pid
	read -r pid _ <"$kept" || true
	if [ -n "$pid" ] && [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = server ]; then
		echo "$pid"
	fi
}

# stop_kept stops the central an earlier KEEP=1 run left up (SIGTERM, as
# Ctrl-C would) and waits for it to exit.
stop_kept() {
	local pid run
	pid=$(kept_pid)
	if [ -z "$pid" ]; then
		echo "no central kept up by make lottery KEEP=1"
		rm -f "$kept"
		return 0
	fi
	read -r _ run _ <"$kept"
	kill -TERM "$pid"
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "the central (PID $pid) has not exited 15 s after SIGTERM; see $run/server.log" >&2
		return 1
	fi
	rm -f "$kept"
	echo "stopped the central (PID $pid); its log: $run/server.log"
}

case ${1:-} in
stop) stop_kept; exit ;;
"") ;;
*) echo "usage: scripts/lottery.sh [stop] (settings in the environment: DATA, AGENCIES, TLS, KEEP)" >&2; exit 2 ;;
esac

if [ -n "${DATA:-}" ]; then
	data=$(cd "$DATA" 2>/dev/null && pwd) || { echo "DATA=$DATA: not a directory" >&2; exit 2; }
	n=0
	while [ -f "$data/agency-$((n + 1)).csv" ]; do n=$((n + 1)); done
	agencies=${AGENCIES:-$n}
	for i in $(seq "$agencies"); do
		[ -f "$data/agency-$i.csv" ] || { echo "DATA=$DATA: no agency-$i.csv there (unzip the course dataset into it: README.md, Draw day)" >&2; exit 2; }
	done
	[ "$agencies" -gt 0 ] || { echo "DATA=$DATA: no agency-1.csv there (unzip the course dataset into it: README.md, Draw day)" >&2; exit 2; }
else
	data=$root/.data
	agencies=${AGENCIES:-5}
	"$bin/gendata" -dir "$data" -agencies "$agencies" -missing-only >/dev/null
fi
if [ "${KEEP:-}" = 1 ] && pid=$(kept_pid) && [ -n "$pid" ]; then
	echo "a central kept up by an earlier make lottery KEEP=1 is still running (PID $pid): make lottery-stop first" >&2
	exit 1
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/lottery-run-XXXXXX")
server_env=()
case ${TLS:-on} in
on)
	"$bin/server" certs -dir "$certs" -agencies "$agencies" >"$run/certs.log"
	server_env=(SERVER_TLS_CERT="$certs/central.crt" SERVER_TLS_KEY="$certs/central.key"
		SERVER_TLS_CLIENT_CA="$certs/ca.crt")
	# The revocation list: the CRL `server certs revoke` writes, else the
	# text list of earlier versions.
	if [ -f "$certs/crl.pem" ]; then
		server_env+=(SERVER_TLS_REVOKED="$certs/crl.pem")
	elif [ -f "$certs/revoked.txt" ]; then
		server_env+=(SERVER_TLS_REVOKED="$certs/revoked.txt")
	fi
	echo "mutual TLS with the certificates of $certs"
	;;
off) echo "plaintext (TLS=off): agencies are not authenticated" ;;
*) echo "TLS=${TLS}: want on or off" >&2; exit 2 ;;
esac
echo "agency files: $data/agency-I.csv, I = 1..$agencies"
(cd "$run" && exec env "${server_env[@]}" SERVER_IP=127.0.0.1 SERVER_PORT=0 SERVER_ADMIN_ADDRESS=127.0.0.1:0 AGENCIES_AMOUNT="$agencies" \
	"$bin/server" >server.log 2>&1) &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT

# The central logs its address once it listens.
address=""
for _ in $(seq 100); do
	address=$(sed -n 's/.*action: accept_connections | result: in_progress | address: //p' "$run/server.log" 2>/dev/null || true)
	[ -n "$address" ] && break
	sleep 0.05
done
[ -n "$address" ] || { echo "the central did not start; see $run/server.log" >&2; exit 1; }
# The admin endpoint is up by then (it starts before the agencies' port).
admin=$(sed -n 's/.*action: admin | result: in_progress | address: \([^ |]*\).*/\1/p' "$run/server.log")
echo "admin: http://${admin:-?}/ (/healthz, /readyz, /metrics, /status) while the central runs"
mkdir "$run/winners"

pids=()
for i in $(seq "$agencies"); do
	client_env=()
	if [ "${TLS:-on}" = on ]; then
		client_env=(CLI_TLS_CA="$certs/ca.crt" CLI_TLS_CERT="$certs/agency-$i.crt" CLI_TLS_KEY="$certs/agency-$i.key")
	fi
	(cd "$run" && exec env "${client_env[@]}" CLI_ID="$i" CLI_SERVER_ADDRESS="$address" CLI_DATA_FILE="$data/agency-$i.csv" \
		CLI_WINNERS_FILE="$run/winners/agency-$i.txt" \
		"$bin/client" >"client$i.log" 2>&1) &
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
echo "winners files: $run/winners/agency-I.txt (one document a line)"
echo "logs: $run"
if [ "${KEEP:-}" = 1 ]; then
	trap - EXIT
	echo "$server $run http://$admin/" >"$kept"
	echo "central kept up (KEEP=1), PID $server: http://$admin/ until make lottery-stop (or kill $server)"
	exit $status
fi
kill -TERM $server
wait $server || status=1
trap - EXIT
exit $status
