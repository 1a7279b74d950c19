#!/usr/bin/env bash
# Print this machine's own Debian mirror (deb822 sources first, then the one-line format);
# never a hard-coded host. The security archive has no full suite, so it is skipped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  awk '{print $2}' | grep -v security | head -1 || true)
if [ -z "$uri" ]; then
  uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{print $2}' | grep -v security | head -1 || true)
fi
if [ -z "$uri" ]; then
  die "no Debian mirror found in /etc/apt/sources.list{,.d/*}"
fi
echo "$uri"
