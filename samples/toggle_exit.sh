#!/bin/sh
# Helper for samples/workflow.txt: alternates between success and failure from one call to
# the next (across runs), and reports the exit code it chose:
#   1st, 3rd, 5th ... call: prints 0 on stdout, exits 0
#   2nd, 4th, 6th ... call: prints 1 on stderr, exits 1
#
# The last exit code is kept in $TMPDIR (or /tmp)/tasker_sample_toggle, or in the file named by
# TASKER_SAMPLE_TOGGLE. Delete that file to start again with a success.
state=${TASKER_SAMPLE_TOGGLE:-${TMPDIR:-/tmp}/tasker_sample_toggle}
last=1
if [ -r "$state" ]; then
    read -r last < "$state" || true
fi
if [ "${last:-1}" = 0 ]; then
    echo 1 > "$state"
    echo 1 >&2
    exit 1
fi
echo 0 > "$state"
echo 0
exit 0
