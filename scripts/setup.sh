#!/bin/sh
# Installs everything sbx needs to build, test and benchmark on Debian 12 (run as root).
# Idempotent: packages already present are not touched, and apt-get update runs only when
# something is missing.
set -eu
PACKAGES="build-essential cmake pkg-config luajit libluajit-5.1-dev libseccomp-dev libcap-dev
  nlohmann-json3-dev catch2 busybox-static bubblewrap util-linux iproute2 hyperfine procps
  qemu-system-x86 linux-image-amd64 cpio xz-utils tmux crun runc python3 podman skopeo umoci debootstrap
  libarchive-dev libssl-dev libnl-route-3-dev libnftables-dev nftables wrk curl libedit-dev uidmap
  clang-14 libclang-rt-14-dev clang-format containerd golang-go strace passt slirp4netns
  zsh bash-completion groff-base man-db"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages:$missing (run this script as root)" >&2
    exit 1
  fi
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
echo "setup: all build and test dependencies are installed"
