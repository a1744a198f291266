#!/usr/bin/env bash
# Install the system packages erm uses when they are missing: Chromium (plotly and table rendering),
# Tesseract with English data (OCR in the critic), fontconfig's tools (fc-cache primes the cache of erm's
# pinned fonts; fc-match checks them), bubblewrap (the sandbox). No font package: every renderer uses only
# erm's pinned font set (matplotlib's bundled TTFs + erm's Liberation Sans), whatever fonts are installed.
# Installs with apt-get when running as root on Debian/Ubuntu; otherwise prints the command to run.
# Never fails the build: erm degrades with a clear message where a package is absent.
set -u
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || need+=(tesseract-ocr-eng)
command -v fc-cache >/dev/null 2>&1 || need+=(fontconfig)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
# libseccomp (the sandbox's seccomp filter, through pyseccomp); part of a Debian base system, checked anyway
ls /usr/lib/*/libseccomp.so.2 /lib/*/libseccomp.so.2 >/dev/null 2>&1 || need+=(libseccomp2)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present (chromium, tesseract-ocr + eng, fontconfig, bubblewrap, libseccomp2)"
  exit 0
fi
echo "system packages missing: ${need[*]}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || echo "warning: apt-get update failed; trying the install anyway"
  if apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/erm-apt.log 2>&1; then
    echo "installed: ${need[*]}"
  else
    echo "warning: apt-get install failed (see /tmp/erm-apt.log); erm will run without: ${need[*]}"
  fi
else
  echo "not root or no apt-get: install them yourself, e.g. 'sudo apt-get install ${need[*]}'."
  echo "erm still runs: table/plotly rendering needs Chromium, the critic's OCR needs Tesseract (or 'pip install erm-cli[ocr]')."
fi
exit 0
