#!/bin/sh
# flaky.sh COUNTER FAILURES: fail (exit 1) the first FAILURES times it is called with COUNTER, then succeed.
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$1"
if [ "$n" -le "$2" ]; then echo "attempt $n fails"; exit 1; fi
echo "attempt $n succeeds"
