#!/usr/bin/env bash
# Make sure the browser the console tests drive is installed: Debian's Chromium (Playwright's
# own browser download is not reachable here) and the Noto CJK fonts (without them the
# screenshots show Chinese as empty boxes). Installs them with apt-get when missing.
# Never skips: if the install fails the browser tests fail, as CI requires.
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "warning: ${missing[*]} missing and not root; the browser tests will fail" >&2
  exit 0
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run apt-get update -qq >/dev/null 2>&1 || true
if ! run apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "warning: could not install ${missing[*]}; the browser tests will fail" >&2
fi
exit 0
