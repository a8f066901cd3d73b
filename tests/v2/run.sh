#!/bin/sh
# The cgroup-v2 lane: boots Debian's own kernel under QEMU (software emulation: the /dev/kvm of
# these machines cannot boot a stock kernel) with an initramfs holding sbx, the probe, busybox and
# the cgroup, namespace and attack test files (the hardening on another kernel); the guest mounts cgroup2 alone at /sys/fs/cgroup (a pure v2 host), runs
# `sbx test` and prints TAP on the serial console, which is read back here.
#   tests/v2/run.sh BUILD_DIR [TEST.lua ...]     exit 77 = skipped (qemu or a kernel missing)
set -eu
build=$(cd "$1" && pwd)
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "$src/tests/isolation/limits.lua" "$src/tests/isolation/cgroup.lua" "$src/tests/isolation/namespaces.lua" \
  "$src/tests/isolation/attacks.lua" "$src/tests/isolation/events.lua" "$src/tests/isolation/policies.lua" "$src/tests/isolation/on_call.lua" "$src/tests/isolation/hooks.lua" \
  "$src/tests/isolation/delegation.lua"

qemu=$(command -v qemu-system-x86_64 || true)
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
if [ -z "$qemu" ]; then echo "SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"; exit 77; fi
if [ -z "$kernel" ]; then echo "SKIP: no kernel in /boot (apt-get install linux-image-amd64)"; exit 77; fi
if [ ! -x /bin/busybox ]; then echo "SKIP: /bin/busybox missing (apt-get install busybox-static)"; exit 77; fi
command -v cpio > /dev/null || { echo "SKIP: cpio is not installed"; exit 77; }

work=$(mktemp -d /tmp/sbx-v2-lane.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/root
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/etc" \
         "$root/var/cache" "$root/tests" "$root/root"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
# sbx and the shared libraries it needs (glibc stays dynamic; the rest is linked in)
cp "$build/sbx" "$root/bin/sbx"
ln -sf sbx "$root/bin/sbx-oci"  # the OCI runtime is the same binary by that name
cp "$build/sbx-probe" "$root/bin/sbx-probe"
for lib in $(ldd "$build/sbx" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
for t in "$@"; do cp "$t" "$root/tests/"; done
mkdir -p "$root/recipes" && cp "$src"/recipes/*.lua "$root/recipes/"  # the recipes tests/isolation/policies.lua runs
# overlayfs is a module in Debian's kernel: decompressed here, loaded by /init
kver=$(basename "$kernel" | sed 's/^vmlinuz-//')
ovl=$(ls /lib/modules/"$kver"/kernel/fs/overlayfs/overlay.ko* 2>/dev/null | head -n 1 || true)
case "$ovl" in
  *.xz) xz -dc "$ovl" > "$root/overlay.ko" ;;
  *.zst) zstd -dqc "$ovl" > "$root/overlay.ko" ;;
  *.ko) cp "$ovl" "$root/overlay.ko" ;;
esac
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
touch /run/sbx-v2-lane  # (tests that change the guest's /etc/passwd and cgroup root look for it)
[ -f /overlay.ko ] && insmod /overlay.ko
ip link set lo up
export HOME=/root PATH=/bin SBX_PROBE=/bin/sbx-probe SBX_BIN=/bin/sbx SBX_SOURCE=/
echo "SBX-V2-LANE-BEGIN kernel $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
sbx test /tests/*.lua 2>&1
echo "SBX-V2-LANE-END status=$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initrd"

timeout 900 "$qemu" -accel tcg -cpu max -m 1024 -smp 2 -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
  > "$work/console" 2>&1 || true
# the whole console stays in the build directory for whoever reads a failure later
cp "$work/console" "$build/v2-lane-console.log" 2>/dev/null || true
tr -d '\r' < "$work/console" | sed -n '/SBX-V2-LANE-BEGIN/,/SBX-V2-LANE-END/p' > "$work/tap"
if ! grep -q 'SBX-V2-LANE-END' "$work/tap"; then
  echo "the guest did not finish; its console:"; tail -n 40 "$work/console"; exit 1
fi
cat "$work/tap"
status=$(sed -n 's/.*SBX-V2-LANE-END status=\([0-9]*\).*/\1/p' "$work/tap")
[ "$status" = 0 ]
