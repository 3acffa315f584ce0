#!/bin/bash
# The Prometheus endpoint, [daemon] metrics = ADDR:PORT.
#
# First tests/promcheck.sh itself: it must reject each broken exposition
# below with the right message, and accept the valid ones. Then a daemon on
# the simulated host (demo scenario, paced, dry run): its exposition passes
# promcheck and has the series the scenario implies; HEAD, other methods,
# unknown paths get the right status; a second daemon on the same port, bad
# addresses and names that do not resolve fail with a clear message and exit
# 1. Last, guest names that need escaping, through libvirt's test driver.
# HTTP is spoken through bash's /dev/tcp: no curl needed, and we see the
# bytes exactly as sent.
. "$(dirname "$0")/lib.sh"

PROMCHECK=tests/promcheck.sh
PROM_TYPE='text/plain; version=0.0.4; charset=utf-8'
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# --- promcheck.sh must be able to fail -------------------------------------

# rejects WHAT PATTERN SNIPPET: promcheck exits 1 on SNIPPET (printf %b) and
# prints PATTERN
rejects() {
	printf '%b' "$3" >"$TMP/snippet"
	"$PROMCHECK" "$TMP/snippet" >"$TMP/pc" 2>&1
	local rc=$?
	if [ $rc -ne 1 ]; then
		fail "promcheck: $1: exit $rc, want 1"
	elif ! grep -Eq -- "$2" "$TMP/pc"; then
		fail "promcheck: $1: no message matching /$2/"
		sed 's/^/    /' "$TMP/pc" | head -6
	fi
}

# accepts WHAT SNIPPET: promcheck exits 0 and prints nothing
accepts() {
	printf '%b' "$2" >"$TMP/snippet"
	"$PROMCHECK" "$TMP/snippet" >"$TMP/pc" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] || [ -s "$TMP/pc" ]; then
		fail "promcheck: $1: exit $rc, want 0"
		sed 's/^/    /' "$TMP/pc" | head -6
	fi
}

accepts "gauge with HELP and TYPE" '# HELP a_b Some help.\n# TYPE a_b gauge\na_b 1\n'
accepts "counter named _total" '# TYPE x_total counter\nx_total{k="v"} 0\n'
accepts "special values, exponent, timestamp" \
	'# TYPE a gauge\na{x="1"} NaN\na{x="2"} +Inf\na{x="3"} -Inf\na{x="4"} -1.5e-3\na{x="5"} .5 1700000000000\n'
accepts "escaped label values" '# TYPE a gauge\na{g="a\\"b\\\\c\\nd"} 1\n'
accepts "UTF-8 label value" '# TYPE a gauge\na{g="g\xc3\xa4st"} 1\n'
accepts "comments, blank lines, trailing comma" \
	'# a comment\n\n# TYPE a gauge\na{x="1",} 1\n# HELPER not a directive\n'
accepts "histogram" \
	'# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1.5\nh_count 2\n'
accepts "summary" '# TYPE s summary\ns{quantile="0.9"} 3\ns_sum 9\ns_count 4\n'
accepts "empty exposition" ''

rejects "sample without TYPE" 'without a # TYPE' 'a 1\n'
rejects "TYPE after the sample" 'comes after its samples' 'a 1\n# TYPE a gauge\n'
rejects "two TYPE lines" 'second # TYPE for a' '# TYPE a gauge\n# TYPE a gauge\na 1\n'
rejects "two HELP lines" 'second # HELP for a' '# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n'
rejects "unknown type" 'is not counter, gauge' '# TYPE a meter\na 1\n'
rejects "TYPE without a type" 'is not counter, gauge' '# TYPE a\na 1\n'
rejects "counter not named _total" 'not named \*_total' '# TYPE a counter\na 1\n'
rejects "value not a float" 'not a float' '# TYPE a gauge\na 1.2.3\n'
rejects "value Inf without a sign" 'not a float' '# TYPE a gauge\na Inf\n'
rejects "value nan in lower case" 'not a float' '# TYPE a gauge\na nan\n'
rejects "value -1 written as words" 'not a float' '# TYPE a gauge\na unknown\n'
rejects "no value" 'no value' '# TYPE a gauge\na\n'
rejects "no blank before the value" 'blank before the value' '# TYPE a gauge\na{x="1"}1\n'
rejects "timestamp not an integer" 'timestamp' '# TYPE a gauge\na 1 1.5\n'
rejects "duplicate series" 'duplicate series a' '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'
rejects "duplicate series, labels reordered" 'duplicate series a' \
	'# TYPE a gauge\na{x="1",y="2"} 1\na{y="2",x="1"} 2\n'
rejects "label given twice" 'label x appears twice' '# TYPE a gauge\na{x="1",x="2"} 1\n'
rejects "family split by another" 'family a is split' \
	'# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n'
rejects "HELP and TYPE of another family in between" 'family a is split' \
	'# TYPE a gauge\n# TYPE b gauge\na 1\n'
rejects "histogram split" 'family h is split' \
	'# TYPE h histogram\nh_bucket{le="+Inf"} 1\n# TYPE g gauge\ng 1\nh_count 1\n'
rejects "histogram bucket without le" 'without an le label' '# TYPE h histogram\nh_bucket 1\n'
rejects "invalid escape in a label value" 'invalid escape' '# TYPE a gauge\na{g="a\\qb"} 1\n'
rejects "unescaped quote in a label value" 'expected , or }' '# TYPE a gauge\na{g="a"b"} 1\n'
rejects "unterminated label value" 'unterminated' '# TYPE a gauge\na{g="ab} 1\n'
rejects "label value without quotes" 'not in double quotes' '# TYPE a gauge\na{g=ab} 1\n'
rejects "invalid label name" 'invalid label name' '# TYPE a gauge\na{1g="a"} 1\n'
rejects "reserved label name" '__name__ is reserved' '# TYPE a gauge\na{__name__="b"} 1\n'
rejects "invalid metric name" 'invalid metric name' '# TYPE 1a gauge\n1a 1\n'
rejects "invalid escape in HELP" 'invalid escape sequence in the docstring' \
	'# HELP a tab\\there\n# TYPE a gauge\na 1\n'
rejects "invalid UTF-8" 'not valid UTF-8' '# TYPE a gauge\na{g="\xff"} 1\n'
rejects "CRLF line ends" 'carriage return' '# TYPE a gauge\r\na 1\r\n'
rejects "no newline at the end" 'does not end with a newline' '# TYPE a gauge\na 1'

# --- a daemon on the simulated host ----------------------------------------

[ -x "$VNUMAD" ] || { fail "no $VNUMAD: build it first"; done_testing; }

# waits until FILE matches PATTERN or process PID is gone, up to 10 s
wait_for() {
	for _ in $(seq 100); do
		grep -Eq -- "$1" "$2" && return 0
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && break
		sleep 0.1
	done
	grep -Eq -- "$1" "$2"
}

# a port nobody listens on now, from a high range
pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# conf FILE ADDRESS [LINES...]: a configuration serving metrics at ADDRESS,
# with a control socket of its own so that daemons do not meet there
conf() {
	local f=$1 a=$2
	shift 2
	{
		printf '[daemon]\nmetrics = %s\ncontrol = %s.sock\nstate_dir = %s\n' \
			"$a" "$f" "$TMP/state"
		printf '%s\n' "$@"
	} >"$f"
}

# http METHOD PATH [HOST [PORT]]: one request; $status is the status line,
# $TMP/headers the headers (no CR), $TMP/body the body as sent
http() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$2" "$3" >&3
		cat <&3' "${3:-127.0.0.1}" "${4:-$port}" "$1" "$2" >"$TMP/resp" 2>/dev/null
	status=$(head -n 1 "$TMP/resp" | tr -d '\r')
	sed -n '2,/^\r$/p' "$TMP/resp" | tr -d '\r' | sed '/^$/d' >"$TMP/headers"
	sed '1,/^\r$/d' "$TMP/resp" >"$TMP/body"
}

# header NAME: the value of a response header of the last request
header() {
	awk -v n="$1" 'tolower(substr($0, 1, length(n) + 2)) == tolower(n) ": " {
		print substr($0, length(n) + 3); exit }' "$TMP/headers"
}

# value SERIES: the value of that exact series in the last body
value() {
	S=$1 awk 'BEGIN { s = ENVIRON["S"] " " }
		index($0, s) == 1 { print substr($0, length(s) + 1); exit }' "$TMP/body"
}

# expect SERIES OP NUMBER: the series is there and its value compares so
expect() {
	local v
	v=$(value "$1")
	if [ -z "$v" ]; then
		fail "no series $1"
		return
	fi
	awk -v v="$v" -v op="$2" -v n="$3" 'BEGIN {
		v += 0; n += 0
		if (op == "==") ok = v == n
		else if (op == ">") ok = v > n
		else if (op == "<") ok = v < n
		else if (op == ">=") ok = v >= n
		exit !ok
	}' || fail "$1 is $v, want $2 $3"
}

# promcheck_body WHAT: the last body passes promcheck
promcheck_body() {
	if ! "$PROMCHECK" "$TMP/body" >"$TMP/pc" 2>&1; then
		fail "$1: the exposition fails promcheck"
		sed 's/^/    /' "$TMP/pc" | head -20
	fi
}

# Starts the daemon; a port taken meanwhile by someone else means another try.
for _ in 1 2 3; do
	port=$(pick_port) || { fail "no free port found"; done_testing; }
	conf "$TMP/main.conf" "127.0.0.1:$port"
	"$VNUMAD" -c "$TMP/main.conf" --backend sim --pace --interval 100ms --dry-run \
		>"$TMP/stdout" 2>"$TMP/stderr" &
	pid=$!
	pids+=("$pid")
	wait_for "metrics on http://127\.0\.0\.1:$port/metrics" "$TMP/stderr" "$pid" && break
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -q EADDRINUSE "$TMP/stderr" || break
done
if ! grep -q "metrics on http://127\.0\.0\.1:$port/metrics" "$TMP/stderr"; then
	fail "the daemon did not announce its metrics endpoint"
	sed 's/^/    /' "$TMP/stderr" | head -10
	done_testing
fi
# the figures need a few ticks: counters are read twice before a ratio exists
wait_for '^tick 5 ' "$TMP/stdout" "$pid" || fail "the daemon did not reach tick 5"

http GET /metrics
[ "$status" = "HTTP/1.1 200 OK" ] || fail "GET /metrics: '$status'"
[ "$(header Content-Type)" = "$PROM_TYPE" ] ||
	fail "GET /metrics: Content-Type '$(header Content-Type)', want '$PROM_TYPE'"
[ "$(header Content-Length)" = "$(wc -c <"$TMP/body")" ] ||
	fail "GET /metrics: Content-Length $(header Content-Length), body $(wc -c <"$TMP/body") bytes"
promcheck_body "GET /metrics"
cp "$TMP/body" "$TMP/first"

expect 'vnumad_build_info{version="'"$("$VNUMAD" -V | awk '{ print $2 }')"'"}' == 1
expect 'vnumad_run_info{backend="sim",sampler="sim",policy="place"}' == 1
expect vnumad_dry_run == 1
expect vnumad_policy_disabled == 0
expect vnumad_ticks_total '>=' 5
expect vnumad_decisions_total '>=' 1
expect vnumad_tick_duration_seconds '>' 0
expect vnumad_tick_duration_seconds '<' 1
expect vnumad_tick_cpu_seconds '>=' 0
expect vnumad_tick_cpu_seconds_total '>=' 0
expect vnumad_tick_duration_seconds_total '>' 0
expect vnumad_tick_interval_seconds == 0.1
expect vnumad_guests == 6
# web1 and web2 want moving, and in a dry run nothing moves
expect vnumad_proposals_total '>' 0
expect 'vnumad_moves_total{kind="vcpu"}' == 0
expect 'vnumad_moves_total{kind="memory"}' == 0
expect 'vnumad_verdicts_total{verdict="kept"}' == 0
expect 'vnumad_verdicts_total{verdict="reverted"}' == 0
expect vnumad_migrated_bytes_total == 0
expect vnumad_sample_errors_total == 0
expect vnumad_actuation_errors_total == 0
expect 'vnumad_proposals_dropped_total{reason="pinned"}' '>=' 0
expect vnumad_trials == 0
expect vnumad_quarantines == 0
# two nodes of 16 CPUs and 64 GiB
for n in 0 1; do
	expect "vnumad_node_cpus{node=\"$n\"}" == 16
	expect "vnumad_node_memory_bytes{node=\"$n\"}" == 68719476736
	expect "vnumad_node_memory_free_bytes{node=\"$n\"}" '>' 0
	expect "vnumad_node_cpu_load_ratio{node=\"$n\"}" '>' 0
	expect "vnumad_node_memory_bandwidth_bytes_per_second{node=\"$n\"}" '>' 0
	# bw_used is charged from the vCPUs; the demo host, like most real ones,
	# publishes no bw_max ([host] bandwidth_info = none)
	expect "vnumad_node_memory_bandwidth_source{node=\"$n\",figure=\"used\",source=\"estimate\"}" == 1
	expect "vnumad_node_memory_bandwidth_source{node=\"$n\",figure=\"max\",source=\"none\"}" == 1
done
# web1 runs on node 1 with its 8 GiB on node 0: every access is remote
expect 'vnumad_guest_remote_ratio{guest="web1"}' '>' 0.9
expect 'vnumad_guest_instructions_total{guest="web1"}' '>' 0
expect 'vnumad_guest_memory_bytes{guest="web1",node="0"}' == 8589934592
expect 'vnumad_guest_memory_bytes{guest="web1",node="1"}' == 0
expect 'vnumad_guest_vcpus{guest="web1"}' == 4
# the simulated guests have no UUID: no info series for them
grep -q '^vnumad_guest_info' "$TMP/body" && fail "a UUID for a simulated guest"
for v in 0 1 2 3; do
	expect "vnumad_vcpu_node{guest=\"web1\",vcpu=\"$v\"}" == 1
	expect "vnumad_vcpu_remote_ratio{guest=\"web1\",vcpu=\"$v\"}" '>' 0.9
	expect "vnumad_vcpu_instructions_total{guest=\"web1\",vcpu=\"$v\"}" '>' 0
	expect "vnumad_vcpu_cycles_total{guest=\"web1\",vcpu=\"$v\"}" '>' 0
	expect "vnumad_vcpu_cpu_seconds_total{guest=\"web1\",vcpu=\"$v\"}" '>' 0
	# every access remote: none local
	expect "vnumad_vcpu_dram_accesses_total{guest=\"web1\",vcpu=\"$v\",locality=\"remote\"}" '>' 0
	expect "vnumad_vcpu_dram_accesses_total{guest=\"web1\",vcpu=\"$v\",locality=\"local\"}" '<' \
		"$(value "vnumad_vcpu_dram_accesses_total{guest=\"web1\",vcpu=\"$v\",locality=\"remote\"}")"
	expect "vnumad_vcpu_source_info{guest=\"web1\",vcpu=\"$v\",source=\"sim\"}" == 1
	# db is local
	expect "vnumad_vcpu_node{guest=\"db\",vcpu=\"$v\"}" == 0
	expect "vnumad_vcpu_remote_ratio{guest=\"db\",vcpu=\"$v\"}" '<' 0.1
done
expect 'vnumad_guest_remote_ratio{guest="db"}' '<' 0.1
expect 'vnumad_guest_flag{guest="legacy",flag="pinned"}' == 1
expect 'vnumad_guest_flag{guest="web1",flag="pinned"}' == 0
for g in web1 web2 db batch cache legacy; do
	grep -q "^vnumad_guest_remote_ratio{guest=\"$g\"} " "$TMP/body" ||
		fail "no remote ratio for guest $g"
done
# 4 + 4 + 4 + 4 + 2 + 2 vCPUs, all measured by the simulator
expect 'vnumad_vcpus{source="sim"}' == 20
expect 'vnumad_vcpus{source="none"}' == 0
expect 'vnumad_vcpus{source="pmu"}' == 0
# no value series carries the source: it has a series of its own
grep -E '^vnumad_vcpu_[a-z_]+\{[^}]*source=' "$TMP/body" | grep -v '^vnumad_vcpu_source_info' &&
	fail "a value series has a source label"
# the process, under the names of Prometheus' client libraries
expect process_cpu_seconds_total '>' 0
expect process_resident_memory_bytes '>' 1000000
expect process_virtual_memory_bytes '>' 1000000
expect process_open_fds '>' 3
expect process_max_fds '>' 100
expect process_start_time_seconds '>' $(($(date +%s) - 600))
expect process_start_time_seconds '<' $(($(date +%s) + 2))
expect vnumad_config_last_reload_successful == 1
expect vnumad_config_last_reload_success_timestamp_seconds '>' $(($(date +%s) - 600))
# promtool's lint of names, types and units, where Prometheus is installed
if command -v promtool >/dev/null; then
	promtool check metrics <"$TMP/body" >"$TMP/promtool" 2>&1 ||
		{ fail "promtool check metrics"; sed 's/^/    /' "$TMP/promtool" | head -20; }
else
	echo "note: no promtool (Debian: prometheus); its lint not run"
fi
# unknown figures are left out, never written as -1
grep -E '^[^#].* -1$' "$TMP/body" && fail "a series has the value -1"

# counters move between scrapes of different ticks
sleep 0.5
http GET '/metrics?from=test'
[ "$status" = "HTTP/1.1 200 OK" ] || fail "GET /metrics?from=test: '$status'"
promcheck_body "second GET /metrics"
a=$(S=vnumad_ticks_total awk '$1 == ENVIRON["S"] { print $2 }' "$TMP/first")
b=$(value vnumad_ticks_total)
if [ -z "$a" ] || [ -z "$b" ] || [ "$b" -le "$a" ]; then
	fail "vnumad_ticks_total did not grow between scrapes ($a, then $b)"
fi
# the rates are Prometheus': the counters behind them grow
s='vnumad_vcpu_instructions_total{guest="web1",vcpu="0"}'
a=$(S=$s awk 'index($0, ENVIRON["S"] " ") == 1 { print $2 }' "$TMP/first")
b=$(value "$s")
awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b + 0 > a + 0) }' ||
	fail "$s did not grow between scrapes ($a, then $b)"
grep -E '^# TYPE [a-z_]+_per_second ' "$TMP/body" | grep -v '_bandwidth_' &&
	fail "a rate is exported as a gauge"


# the Grafana dashboard queries only what is exported: every vnumad_* and
# process_* name in its queries is a family of this exposition
dash=etc/grafana-vnumad.json
if command -v python3 >/dev/null; then
	python3 -m json.tool "$dash" >/dev/null 2>"$TMP/json" ||
		{ fail "$dash is not valid JSON"; sed 's/^/    /' "$TMP/json"; }
fi
grep -E '"(expr|definition)": ' "$dash" | grep -oE '\<(vnumad|process)_[a-z_]+' | sort -u >"$TMP/queried"
[ "$(wc -l <"$TMP/queried")" -ge 20 ] || fail "$dash queries $(wc -l <"$TMP/queried") metrics only"
# (a family without samples on this host, such as the node bandwidth
# maximum of a host that publishes none, is looked up in the exporter)
while read -r name; do
	grep -q "^# TYPE $name " "$TMP/body" || grep -q "family(r, \"$name\"" rebalancer/daemon/metrics.c ||
		fail "$dash queries $name, which vnumad does not export"
done <"$TMP/queried"

# a reload refused, then one that succeeds
t0=$(value vnumad_config_last_reload_success_timestamp_seconds)
cp "$TMP/main.conf" "$TMP/main.good"
echo 'no such line' >>"$TMP/main.conf"
kill -HUP "$pid"
wait_for 'reload rejected' "$TMP/stderr" "$pid" || fail "the broken configuration was not refused"
http GET /metrics
expect vnumad_config_last_reload_successful == 0
expect vnumad_config_last_reload_success_timestamp_seconds == "$t0"
cp "$TMP/main.good" "$TMP/main.conf"
sleep 0.1
kill -HUP "$pid"
for _ in $(seq 50); do
	http GET /metrics
	[ "$(value vnumad_config_last_reload_successful)" = 1 ] && break
	sleep 0.1
done
expect vnumad_config_last_reload_successful == 1
expect vnumad_config_last_reload_success_timestamp_seconds '>' "$t0"

http HEAD /metrics
[ "$status" = "HTTP/1.1 200 OK" ] || fail "HEAD /metrics: '$status'"
[ "$(header Content-Type)" = "$PROM_TYPE" ] || fail "HEAD /metrics: Content-Type '$(header Content-Type)'"
[ "$(header Content-Length)" -gt 1000 ] 2>/dev/null ||
	fail "HEAD /metrics: Content-Length '$(header Content-Length)', want the GET's length"
[ -s "$TMP/body" ] && fail "HEAD /metrics sent a body of $(wc -c <"$TMP/body") bytes"

for m in POST PUT DELETE OPTIONS PATCH; do
	http $m /metrics
	[ "$status" = "HTTP/1.1 405 Method Not Allowed" ] || fail "$m /metrics: '$status', want 405"
	[ "$(header Allow)" = "GET, HEAD" ] || fail "$m /metrics: Allow '$(header Allow)'"
done

for p in /nope /metrics/ /metricsx /favicon.ico; do
	http GET $p
	[ "$status" = "HTTP/1.1 404 Not Found" ] || fail "GET $p: '$status', want 404"
done
grep -q '/metrics' "$TMP/body" || fail "the 404 page does not point at /metrics"

http GET /
[ "$status" = "HTTP/1.1 200 OK" ] || fail "GET /: '$status'"
case $(header Content-Type) in text/html*) ;; *) fail "GET /: Content-Type '$(header Content-Type)'" ;; esac
grep -q 'href="/metrics"' "$TMP/body" || fail "GET /: no link to /metrics"

# --- hostile clients ---------------------------------------------------------

CONNHOLD=$B/tests/connhold
[ -x "$CONNHOLD" ] || fail "no $CONNHOLD: build it first (make check does)"
# a header byte every half second: evhttp's timeout was one of inactivity,
# so this held the connection for hours; the deadline is 10 s from accept
"$CONNHOLD" -T 14 -t 500 -w 'GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaa' \
	"127.0.0.1:$port" >"$TMP/slow" &
slow=$!
# at most 16 connections at once, whoever holds them
fds0=$(ls "/proc/$pid/fd" | wc -l)
"$CONNHOLD" -n 100 -T 3 "127.0.0.1:$port" >"$TMP/held" &
held=$!
sleep 1.5
fds1=$(ls "/proc/$pid/fd" | wc -l)
[ "$fds1" -le $((fds0 + 16)) ] ||
	fail "100 connections held took $((fds1 - fds0)) descriptors of the daemon, want at most 16"
wait $held
# a request head over 8 KiB is refused with 431
long=$(head -c 9000 /dev/zero | tr '\0' a)
timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
	printf "GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Long: %s\r\n\r\n" "$1" >&3
	cat <&3' "$port" "$long" >"$TMP/resp" 2>/dev/null
[ "$(head -n 1 "$TMP/resp" | tr -d '\r')" = "HTTP/1.1 431 Request Header Fields Too Large" ] ||
	fail "a 9000-byte header: '$(head -n 1 "$TMP/resp" | tr -d '\r')', want 431"
# the exposition is rendered at most once a tick, whatever the scrapes
http GET /metrics
r0=$(value vnumad_metrics_renders_total) t0=$(value vnumad_ticks_total)
for _ in $(seq 20); do http GET /metrics; done
r1=$(value vnumad_metrics_renders_total) t1=$(value vnumad_ticks_total)
if [ -z "$r0" ] || [ -z "$r1" ]; then
	fail "no series vnumad_metrics_renders_total"
elif [ $((r1 - r0)) -gt $((t1 - t0)) ]; then
	fail "21 scrapes over $((t1 - t0)) ticks rendered the exposition $((r1 - r0)) times"
fi
promcheck_body "a scrape served from the tick's copy"
wait $slow
grep -Eq '^closed 1 after (9|1[01])\.[0-9] s$' "$TMP/slow" ||
	fail "a request sent a byte at a time was not cut at 10 s: $(tail -1 "$TMP/slow")"
http GET /metrics
[ "$status" = "HTTP/1.1 200 OK" ] || fail "GET /metrics after the hostile clients: '$status'"

# --- start-up errors ---------------------------------------------------------

# a second daemon on the same port says so and exits 1; the first carries on
conf "$TMP/second.conf" "127.0.0.1:$port"
expect_exit 1 "second daemon on port $port" -- \
	timeout 20 "$VNUMAD" -c "$TMP/second.conf" --backend sim --pace --interval 100ms --dry-run
expect_output "metrics '127\.0\.0\.1:$port': cannot listen: .*in use.*EADDRINUSE" "second daemon"
kill -0 "$pid" 2>/dev/null || fail "the first daemon died"
http GET /metrics
[ "$status" = "HTTP/1.1 200 OK" ] || fail "the first daemon stopped serving: '$status'"

# the configuration check knows the key needs a port
conf "$TMP/bad.conf" nowhere
expect_exit 1 "vnumad -n with metrics = nowhere" -- "$VNUMAD" -n -c "$TMP/bad.conf"
expect_output "\[daemon\] metrics: 'nowhere': expected ADDRESS:PORT" "vnumad -n, metrics = nowhere"
conf "$TMP/good.conf" 127.0.0.1:9464
expect_exit 0 "vnumad -n with metrics = 127.0.0.1:9464" -- "$VNUMAD" -n -c "$TMP/good.conf"
conf "$TMP/off.conf" ""
expect_exit 0 "vnumad -n with metrics empty (off)" -- "$VNUMAD" -n -c "$TMP/off.conf"

# addresses that are wrong beyond the colon: refused by -n or at start
while IFS='|' read -r addr why; do
	conf "$TMP/bad.conf" "$addr"
	expect_exit 1 "metrics = $addr" -- \
		timeout 20 "$VNUMAD" -c "$TMP/bad.conf" --backend sim --pace --interval 100ms --dry-run
	expect_output "metrics.*$why" "metrics = $addr"
done <<'EOF'
127.0.0.1:0|port is out of range \(1 to 65535\)
127.0.0.1:65536|port is out of range \(1 to 65535\)
127.0.0.1:99999999999999999999|port is out of range \(1 to 65535\)
127.0.0.1:http|port is not a number
127.0.0.1:|no port after ':'
:9464|no address before the port
::1:9464|IPv6 address needs brackets
[::1]9464|expected ':PORT' after '\]'
[::1:9464|no '\]' after the IPv6 address
EOF

# a name that does not resolve (.invalid never does, RFC 6761)
conf "$TMP/bad.conf" "nowhere.invalid:$port"
"$VNUMAD" -c "$TMP/bad.conf" --backend sim --pace --interval 100ms --dry-run >"$TMP/out" 2>&1 &
p=$!
pids+=("$p")
for _ in $(seq 300); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
if kill -0 $p 2>/dev/null; then
	# a resolver that times out is the host's business, not ours
	echo "note: resolving nowhere.invalid took over 30 s; not judged"
	kill $p
	wait $p 2>/dev/null
else
	wait $p
	rc=$?
	[ $rc -eq 1 ] || fail "metrics = nowhere.invalid:$port: exit $rc, want 1"
	expect_output "metrics 'nowhere\.invalid:$port': cannot resolve 'nowhere\.invalid'" \
		"metrics = nowhere.invalid"
	# and vnumad -n refuses what the daemon refused
	expect_exit 1 "vnumad -n with metrics = nowhere.invalid" -- \
		timeout 40 "$VNUMAD" -n -c "$TMP/bad.conf"
	expect_output "\[daemon\] metrics: 'nowhere\.invalid:$port': cannot resolve" \
		"vnumad -n, metrics = nowhere.invalid"
fi

# --- other addresses: a host name, IPv6 ------------------------------------

kill "$pid"
wait "$pid" 2>/dev/null || fail "the daemon did not stop cleanly"

# serve ADDRESS HOST PORT: a daemon at ADDRESS answers GET /metrics at HOST
serve() {
	conf "$TMP/other.conf" "$1"
	"$VNUMAD" -c "$TMP/other.conf" --backend sim --pace --interval 100ms --dry-run \
		>/dev/null 2>"$TMP/other.err" &
	local p=$!
	pids+=("$p")
	if wait_for "metrics on http://$(printf '%s' "$1" | sed 's/[].[]/\\&/g')/metrics" \
		"$TMP/other.err" $p; then
		http GET /metrics "$2" "$3"
		[ "$status" = "HTTP/1.1 200 OK" ] || fail "metrics = $1: GET at $2: '$status'"
		promcheck_body "metrics = $1"
	else
		fail "metrics = $1: no endpoint"
		sed 's/^/    /' "$TMP/other.err" | head -5
	fi
	kill $p 2>/dev/null
	wait $p 2>/dev/null
}

if getent hosts localhost | grep -q '^127\.0\.0\.1'; then
	port=$(pick_port)
	serve "localhost:$port" 127.0.0.1 "$port"
	grep -q "metrics on http://localhost:$port/metrics (127\.0\.0\.1)" "$TMP/other.err" ||
		fail "metrics = localhost: the log does not name the address resolved"
else
	echo "note: localhost does not resolve to 127.0.0.1 first here; host name not tried"
fi
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	port=$(pick_port)
	serve "[::1]:$port" ::1 "$port"
else
	echo "note: no IPv6 loopback; [::1] not tried"
fi

# --- label escaping: guest names from libvirt's test driver -----------------

cat >"$TMP/node.xml" <<'EOF'
<node>
  <cpu>
    <nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
    <active>2</active><mhz>2000</mhz><model>x86_64</model>
  </cpu>
  <memory>8388608</memory>
  <domain type="test">
    <name>a"b\c</name><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os>
  </domain>
  <domain type="test">
    <name>new&#10;line</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
  <domain type="test">
    <name>gäst {x="1"},y</name><memory>1048576</memory><vcpu>3</vcpu><os><type>hvm</type></os>
  </domain>
</node>
EOF
port=$(pick_port)
conf "$TMP/lv.conf" "127.0.0.1:$port" '[backend]' 'type = libvirt' "uri = test://$TMP/node.xml"
"$VNUMAD" -c "$TMP/lv.conf" --interval 100ms --dry-run >/dev/null 2>"$TMP/lv.err" &
p=$!
pids+=("$p")
if wait_for 'backend libvirt,' "$TMP/lv.err" $p; then
	wait_for 'guest gäst' "$TMP/lv.err" $p
	http GET /metrics
	promcheck_body "guests with odd names"
	expect 'vnumad_guest_vcpus{guest="a\"b\\c"}' == 2
	# control characters in a name are shown as '?', so names cannot forge lines
	expect 'vnumad_guest_vcpus{guest="new?line"}' == 1
	expect 'vnumad_guest_vcpus{guest="gäst {x=\"1\"},y"}' == 3
	# the hypervisor's UUID, on a series of its own
	grep -Eq '^vnumad_guest_info\{guest="a\\"b\\\\c",uuid="[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"\} 1$' "$TMP/body" ||
		{ fail "no vnumad_guest_info with the guest's UUID"; grep '^vnumad_guest_info' "$TMP/body" | sed 's/^/    /'; }
	# the test driver's guests have no threads to count: nothing is known
	if [ "$(value 'vnumad_vcpus{source="none"}')" = 6 ]; then
		grep -E '^vnumad_(guest|vcpu)_(remote_ratio|instructions_total)' "$TMP/body" &&
			fail "figures nobody measured are exported"
	else
		echo "note: the test driver's vCPUs have figures; unknown figures not tried"
	fi
elif grep -Eq 'backend libvirt is not available|test driver|virConnect|no connection driver' "$TMP/lv.err"; then
	echo "note: no libvirt backend or test driver here; label escaping not tried"
	sed 's/^/    /' "$TMP/lv.err" | tail -3
else
	fail "the daemon on libvirt's test driver did not start"
	sed 's/^/    /' "$TMP/lv.err" | tail -5
fi
kill $p 2>/dev/null
wait $p 2>/dev/null

done_testing
