#!/usr/bin/env bash
# Make sure system tools are installed: `scripts/system-packages.sh COMMAND:PACKAGE ...`.
# As root with apt-get, a missing command's Debian package is installed (a failed
# install is an error); otherwise a warning names what to install, and the tests
# that need it skip saying so. Services a package starts by itself (Debian's own
# nginx or prometheus on their default ports) are left alone: firstcome runs its
# own instances on other ports.
set -euo pipefail

missing=()
for pair in "$@"; do
  command=${pair%%:*}
  package=${pair#*:}
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null 2>&1; then
    missing+=("$package")
  fi
done
((${#missing[@]})) || exit 0
# one package may provide several commands
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
else
  echo "warning: ${missing[*]} not installed; the tests that need them will be skipped (sudo apt-get install ${missing[*]})" >&2
fi
