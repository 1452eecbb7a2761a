#!/bin/sh
# Installs msm on Linux or macOS from a release:
#   curl -fsSL https://github.com/mcp-session-manager/msm/releases/latest/download/install.sh | sh
#   sh install.sh --version 0.2.0 --dir /usr/local/bin
# Picks the archive for this OS, CPU, C library (glibc or musl) and CPU features (no AVX2 -> baseline), checks it
# against the release's SHA256SUMS and refuses on a mismatch, then puts `msm` in ~/.local/bin (or --dir).
#   MSM_INSTALL_BASE_URL  a folder (URL) holding a release: SHA256SUMS and the archives (mirrors, tests)
#   MSM_INSTALL_DIR       where msm goes (default ~/.local/bin)
set -eu

REPO="mcp-session-manager/msm"
version=""
dir="${MSM_INSTALL_DIR:-}"
target=""
print_target=""

say() { printf '%s\n' "$*" >&2; }
die() { say "msm install: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value (e.g. --version 0.2.0)"; version="${2#v}"; shift 2 ;;
    --version=*) version="${1#--version=}"; version="${version#v}"; shift ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a folder"; dir="$2"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    --target) [ $# -ge 2 ] || die "--target needs a value (e.g. linux-x64-baseline)"; target="$2"; shift 2 ;;
    --print-target) print_target=1; shift ;;
    -h|--help)
      sed -n '2,9p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//' >&2 || true
      say "options: --version X.Y.Z  --dir FOLDER  --target OS-ARCH[-musl][-baseline]  --print-target"
      exit 0 ;;
    *) die "unknown option \"$1\" (try --help)" ;;
  esac
done
[ -n "$dir" ] || dir="${HOME:?HOME is not set}/.local/bin"

# ---- which archive -------------------------------------------------------------------------------------------
detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$os" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    MINGW*|MSYS*|CYGWIN*) die "on Windows use install.ps1: irm https://github.com/$REPO/releases/latest/download/install.ps1 | iex" ;;
    *) die "no msm build for $os; build from source (npm ci && npm run build)" ;;
  esac
  case "$arch" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no msm build for the $arch CPU; build from source (npm ci && npm run build)" ;;
  esac
  # A shell under Rosetta reports x86_64 on Apple silicon: the native build is faster and needs no translation.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    arch=arm64
  fi
  libc=""
  if [ "$os" = linux ]; then
    if ls /lib/ld-musl-* >/dev/null 2>&1 || (ldd --version 2>&1 || true) | grep -qi musl; then libc="-musl"; fi
  fi
  simd=""
  if [ "$arch" = x64 ]; then
    # Bun's default x64 build uses AVX2; CPUs without it (older Xeons, some VMs) need the baseline build.
    if [ "$os" = linux ]; then
      grep -qw avx2 /proc/cpuinfo 2>/dev/null || simd="-baseline"
    else
      sysctl -n machdep.cpu.leaf7_features 2>/dev/null | grep -qi avx2 || simd="-baseline"
    fi
  fi
  printf '%s-%s%s%s' "$os" "$arch" "$libc" "$simd"
}
[ -n "$target" ] || target=$(detect_target)
if [ -n "$print_target" ]; then echo "$target"; exit 0; fi
case "$target" in
  windows-*) ext=zip ;;
  *) ext=tar.gz ;;
esac

if [ -n "${MSM_INSTALL_BASE_URL:-}" ]; then
  base="${MSM_INSTALL_BASE_URL%/}"
elif [ -n "$version" ]; then
  base="https://github.com/$REPO/releases/download/v$version"
else
  base="https://github.com/$REPO/releases/latest/download"
fi

# ---- download ------------------------------------------------------------------------------------------------
fetch() { # url file
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "neither curl nor wget is installed; install one of them and run this again"
  fi
}
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else die "no sha256sum or shasum to check the download with"
  fi
}

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t msm)
trap 'rm -rf "$tmp"' EXIT INT TERM

fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not download $base/SHA256SUMS (is the version right? is the network up?)"
# Without --version the newest archive for this target in SHA256SUMS is it (the file holds one release).
if [ -n "$version" ]; then
  name="msm-$version-$target.$ext"
  line=$(grep "  $name\$" "$tmp/SHA256SUMS" || true)
else
  line=$(grep -E "  msm-[^ ]+-$target\.$ext\$" "$tmp/SHA256SUMS" | tail -1 || true)
  name=${line##* }
fi
[ -n "$line" ] || die "the release at $base has no build for $target${version:+ version $version} (see SHA256SUMS there)"
expected=${line%% *}
version=${name#msm-}
version=${version%-"$target".*}

say "downloading $name"
fetch "$base/$name" "$tmp/$name" || die "could not download $base/$name"
actual=$(sha256 "$tmp/$name")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $name: SHA256SUMS says $expected, the download is $actual. Nothing was installed; the download may be corrupt or tampered with."
fi

mkdir -p "$tmp/x"
case "$ext" in
  tar.gz) tar -xzf "$tmp/$name" -C "$tmp/x" ;;
  zip) unzip -q "$tmp/$name" -d "$tmp/x" ;;
esac
bin="$tmp/x/msm"
[ -f "$bin" ] || die "$name holds no msm binary"
chmod 755 "$bin"
if [ "$(uname -s)" = Darwin ]; then
  # Browsers and some tools mark downloads as quarantined; Gatekeeper would then refuse to run msm.
  xattr -d com.apple.quarantine "$bin" 2>/dev/null || true
  # Apple silicon runs only signed code; a binary cross-built on Linux may carry no signature: sign it ad hoc.
  codesign --verify "$bin" 2>/dev/null || codesign --force --sign - "$bin" 2>/dev/null || true
fi

# ---- install -------------------------------------------------------------------------------------------------
mkdir -p "$dir" || die "could not create $dir (pick another folder with --dir or MSM_INSTALL_DIR)"
previous=""
[ -x "$dir/msm" ] && previous=$("$dir/msm" --version 2>/dev/null || echo "unknown version")
# Copied beside the old one, then renamed over it: a running msm keeps its file, nothing sees half a binary.
cp "$bin" "$dir/.msm.new" || die "could not write to $dir (pick another folder with --dir or MSM_INSTALL_DIR)"
mv -f "$dir/.msm.new" "$dir/msm"
if ! now=$("$dir/msm" --version 2>/dev/null); then
  case "$target" in
    *-musl*) die "installed $dir/msm but it does not run: musl builds need the C++ runtime (Alpine: apk add libstdc++ libgcc)" ;;
    *) die "installed $dir/msm but it does not run on this machine (target $target); try --target with another build" ;;
  esac
fi

if [ -n "$previous" ]; then
  say "upgraded $dir/msm: $previous -> $now"
  say "daemons already running keep the old version until you run: msm restart --all"
else
  say "installed $dir/msm: $now"
fi
case ":$PATH:" in
  *":$dir:"*) ;;
  *) say "note: $dir is not on your PATH; add it, e.g.: echo 'export PATH=\"$dir:\$PATH\"' >> ~/.profile" ;;
esac
say "next: msm install    (adds msm to your editors' MCP config)"
