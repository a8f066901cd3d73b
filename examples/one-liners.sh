#!/bin/sh
# One-liners a newcomer copies. Run from the repository root after building (build/sbx).
set -x
SBX=${SBX:-build/sbx}
# a shell command in a busybox root, everything isolated
$SBX run --busybox --hostname box -- /bin/sh -c 'hostname; id; ps'
# the host's own root, read-only, with a private /tmp
$SBX run -- sh -c 'touch /etc/x || echo "the host root is read-only"; touch /tmp/x && echo "/tmp is private"'
# keep the host's network, a time namespace ten days ahead
$SBX run --busybox --share-net --boottime 10d -- cat /proc/uptime
# the plan as JSON, nothing run
$SBX run --busybox --bind /etc/hostname:/tmp/hostname --print-spec -- cat /tmp/hostname
# util-linux unshare: a shell that is PID 1 of a new pid namespace with its own /proc
$SBX unshare -fp --mount-proc -- ps
# nsenter: join the namespaces of a running process
$SBX run --busybox --hostname joined -- sleep 5 & sleep 0.5
$SBX nsenter -t "$(pgrep -n -x sbx-init)" -u -- hostname
wait
