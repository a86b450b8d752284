#!/bin/sh
# Children per hour with K separate `cellc worker` processes on this
# machine: a `cellc search` with no local workers (--workers 0) over
# specs/search/tiny.yaml (40 synthetic children, no retraining), and K
# worker processes pulling from its embedded NATS server. Each child uses
# one compute worker (--child-workers 1), so K processes run K children at
# once.
#
#   scripts/search-throughput.sh 1 2 4     (needs bin/cellc: make build)
set -eu
CELLC=${CELLC:-bin/cellc}
SPACE=${SPACE:-specs/search/tiny.yaml}
[ $# -gt 0 ] || set -- 1 2 4
for k in "$@"; do
	dir=$(mktemp -d)
	start=$(date +%s.%N)
	$CELLC search "$dir/s" --space "$SPACE" --workers 0 --retrain 0 >"$dir/search.out" 2>"$dir/search.err" &
	search=$!
	while [ ! -s "$dir/s/nats.url" ]; do
		kill -0 $search 2>/dev/null || { cat "$dir/search.err"; exit 1; }
		sleep 0.05
	done
	url=$(cat "$dir/s/nats.url")
	i=0
	while [ $i -lt "$k" ]; do
		$CELLC worker --nats "$url" --child-workers 1 --idle-exit 5s --name "w$i" >/dev/null 2>&1 &
		i=$((i + 1))
	done
	wait $search
	end=$(date +%s.%N)
	n=$(wc -l <"$dir/s/results.jsonl")
	awk -v k="$k" -v n="$n" -v s="$start" -v e="$end" 'BEGIN {
		w = e - s; printf "%d worker process(es): %d children in %.1f s = %.0f children/hour\n", k, n, w, n * 3600 / w }'
	workers=$(awk -F'"worker":"' 'NF > 1 {split($2, a, "\""); print a[1]}' "$dir/s/results.jsonl" | sort | uniq -c | tr '\n' ' ')
	echo "  results per worker: $workers"
	wait
	rm -rf "$dir"
done
