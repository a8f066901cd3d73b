#!/bin/sh
# After `cmake --install`, plain luajit can `require "sbx"` and the installed sbx runs from any
# directory (the Lua library is bytecode inside the binary).
set -eu
build=$1
prefix=$(mktemp -d /tmp/sbx-install-test.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > /dev/null
cd /
out=$(LUA_CPATH="$prefix/lib/lua/5.1/?.so;;" luajit -e 'local sbx = require "sbx"; io.write(type(sbx.container), " ", #sbx.ns.kinds)')
[ "$out" = "function 8" ] || { echo "require \"sbx\" from luajit gave: $out"; exit 1; }
out=$("$prefix/bin/sbx" -e 'io.write(sbx.version)')
[ -n "$out" ] || { echo "installed sbx -e printed nothing"; exit 1; }
oci=$("$prefix/bin/sbx-oci" --version | head -1)
case "$oci" in "sbx-oci version "*) ;; *) echo "installed sbx-oci --version gave: $oci"; exit 1 ;; esac
# the completions and the man page, where bash-completion, zsh and man look
for f in share/bash-completion/completions/sbx share/zsh/vendor-completions/_sbx share/man/man1/sbx.1; do
  [ -s "$prefix/$f" ] || { echo "not installed: $prefix/$f"; exit 1; }
done
bash -n "$prefix/share/bash-completion/completions/sbx" || { echo "the installed bash completion does not parse"; exit 1; }
MANPATH="$prefix/share/man" man -w sbx > /dev/null || { echo "man does not find the installed sbx.1"; exit 1; }
echo "installed: luajit require \"sbx\" ok, sbx $out runs from /, $oci, completions, sbx.1"
