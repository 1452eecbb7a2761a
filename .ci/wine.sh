#!/usr/bin/env bash
# The Wine that `npm run test:windows` runs msm.exe under: Bun's Windows runtime needs Wine >= 8.13, and Debian 12
# ships 8.0 (bcryptprimitives.dll missing). So: a Debian 13 (trixie) chroot with its Wine 10, made with debootstrap in
# .cache/wine/root (ignored by git; ~1.5 GB, ~1-2 min from the Debian mirror). Cached: a second run finds the stamp
# and does nothing; a change of KEY (release, packages, this recipe) rebuilds it. Needs root. Prints why on failure;
# test:windows then says it is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

DIR=.cache/wine
ROOT="$PWD/$DIR/root"
MIRROR=http://deb.debian.org/debian
KEY="debian trixie; wine64 --no-install-recommends; recipe 1"

if [ -f "$DIR/ready" ] && [ "$(cat "$DIR/ready")" = "$KEY" ] && [ -x "$ROOT/usr/lib/wine/wine64" ]; then
  echo "wine chroot: cached in $DIR ($(chroot "$ROOT" dpkg-query -W -f='${Version}' wine64 2>/dev/null))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "wine chroot: not built (needs root for debootstrap and chroot)"; exit 1; fi

started=$(date +%s)
if ! command -v debootstrap >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } || { echo "wine chroot: could not install debootstrap"; exit 1; }
fi
# A half-built or outdated chroot is rebuilt from scratch. Mounts test:windows makes live only in its own mount
# namespace, so nothing under $ROOT is mounted here; refuse anyway if something is, rather than delete through it.
if grep -q " $ROOT/" /proc/mounts; then echo "wine chroot: something is mounted under $ROOT; not touching it"; exit 1; fi
rm -rf "$ROOT" "$DIR/ready"
mkdir -p "$DIR"
if ! debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" > "$DIR/debootstrap.log" 2>&1; then
  echo "wine chroot: debootstrap failed (last lines of $DIR/debootstrap.log):"; tail -5 "$DIR/debootstrap.log"; exit 1
fi
# wine64 alone: a 64-bit-only prefix (no multiarch i386), which is all a 64-bit msm.exe needs.
if ! chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends wine64 && apt-get clean' > "$DIR/apt.log" 2>&1; then
  echo "wine chroot: installing wine64 failed (last lines of $DIR/apt.log):"; tail -5 "$DIR/apt.log"; exit 1
fi
echo "$KEY" > "$DIR/ready"
echo "wine chroot: built in $DIR in $(( $(date +%s) - started )) s (wine $(chroot "$ROOT" dpkg-query -W -f='${Version}' wine64))"
