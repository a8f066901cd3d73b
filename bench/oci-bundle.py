#!/usr/bin/env python3
# The bench bundle, shared by bench/oci.sh and bench/startup.sh: a `runc spec` config.json edited
# to run /bin/true on ROOTFS (read-only) with memory, CPU and pids limits.
#   bench/oci-bundle.py CONFIG.json ROOTFS
import json
import sys

path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "cpu": {"quota": 50000, "period": 100000},
                           "pids": {"limit": 64}}
json.dump(c, open(path, "w"))
