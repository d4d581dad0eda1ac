#!/bin/sh
# Helper for samples/workflow.txt and samples/loop.txt: prints 1, 2, 3, ... on successive
# calls made by the same tasker run, one number per call.
#
# The count lives in one small file, "<run key> <count>", in $TMPDIR (or /tmp). The run key is
# our parent's process ID: with exec=local tasker starts this script directly, so the parent is
# the tasker process and every new run starts again at 1 without any reset step.
# TASKER_SAMPLE_COUNTER names another state file; deleting the file also resets the count.
state=${TASKER_SAMPLE_COUNTER:-${TMPDIR:-/tmp}/tasker_sample_counter}
key=$PPID
count=0
if [ -r "$state" ]; then
    read -r saved_key saved_count < "$state" || true
    if [ "${saved_key:-}" = "$key" ]; then
        case ${saved_count:-} in
            ''|*[!0-9]*) count=0 ;;
            *) count=$saved_count ;;
        esac
    fi
fi
count=$((count + 1))
printf '%s %s\n' "$key" "$count" > "$state"
echo "$count"
