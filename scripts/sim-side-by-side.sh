#!/usr/bin/env bash
# Compares the simulator's CPU time of two builds of shoal on this machine.
# Sequential runs of one build vary by ±5–10 % here, so the two run at
# once, one worker each, and then again with their places swapped; each
# line gives a build's user CPU seconds, its events and its digest (the
# same digest means the same run).
#
#   go build -o /tmp/shoal-old ./cmd/shoal      # at the old commit
#   go build -o /tmp/shoal-new ./cmd/shoal      # at the new one
#   scripts/sim-side-by-side.sh /tmp/shoal-old /tmp/shoal-new 30s
#
# Further arguments go to shoal sim (default: live-steady, 1,000 viewers).
set -euo pipefail
if [ $# -lt 3 ]; then
	echo "usage: $0 OLD-BINARY NEW-BINARY DURATION [shoal sim flags...]" >&2
	exit 2
fi
a=$1 b=$2 dur=$3
shift 3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

one() { # binary, tag, shoal sim flags
	local bin=$1 tag=$2 TIMEFORMAT=%U
	shift 2
	if ! { time "$bin" sim --duration "$dur" --workers 1 --json "$@" >"$out/$tag.json" 2>"$out/$tag.err"; } 2>"$out/$tag.time"; then
		echo "$bin failed: $(head -n 1 "$out/$tag.err")" >&2
		return 1
	fi
}
both() { # first binary and tag, second binary and tag, shoal sim flags
	local x=$1 xt=$2 y=$3 yt=$4 px py
	shift 4
	one "$x" "$xt" "$@" & px=$!
	one "$y" "$yt" "$@" & py=$!
	wait "$px"
	wait "$py"
	report "$x" "$xt"
	report "$y" "$yt"
}
report() { # binary, tag
	local j
	j=$(cat "$out/$2.json")
	printf '%-24s %8s user-s  events %s  digest %s\n' "$(basename "$1")" "$(cat "$out/$2.time")" \
		"$(grep -o '"events":[0-9]*' <<<"$j" | cut -d: -f2)" \
		"$(grep -o '"digest":"[0-9a-f]\{12\}' <<<"$j" | cut -d'"' -f4)"
}
for round in 1 2; do
	both "$a" a "$b" b "$@"
	both "$b" b "$a" a "$@"
done
