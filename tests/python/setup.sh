#!/usr/bin/env bash
# Makes .python/venv (ignored by git) hold exactly tests/python/requirements.txt: the Python MCP servers, FastMCP
# and the Python SDK client the transparency tests run. A venv that already matches (same Python, same
# requirements file) is left alone, so a re-run costs nothing. .ci/run calls this; the tests call it too when the
# venv is missing or stale, and skip (saying why) only when it cannot be made.
# Needs Python >= 3.10 with venv (Debian: python3-venv) and PyPI; PYTHON=/path/to/python picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.python/venv
requirements=tests/python/requirements.txt

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      python=$(command -v "$candidate")
      break
    fi
  done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "no Python 3.10 or newer found${PYTHON:+ at PYTHON=$PYTHON} (the MCP Python SDK needs it): install python3, or set PYTHON" >&2
  exit 1
fi

# What the venv was made from: the interpreter's version and the exact requirements.
want="$("$python" -c 'import sys; print(sys.version.split()[0])') $(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -f "$venv/.made-from" ] && [ "$(cat "$venv/.made-from")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "python venv up to date ($venv)"
  exit 0
fi

started=$(date +%s)
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! "$python" -m venv "$venv"; then
  rm -rf "$venv"
  echo "$python cannot make a venv (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
if ! "$venv/bin/pip" install --disable-pip-version-check --no-input --quiet -r "$requirements"; then
  rm -rf "$venv"
  echo "pip could not install $requirements (is PyPI reachable?)" >&2
  exit 1
fi
# Written last: a venv interrupted half-way has no stamp and is made again.
echo "$want" >"$venv/.made-from"
echo "python venv made in $(($(date +%s) - started)) s ($venv, $("$venv/bin/python" -V))"
