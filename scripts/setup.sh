#!/usr/bin/env bash
# Prepares a Debian 12 machine (with or without a GPU) to train and to run every test suite:
#   1. apt packages: the Vulkan loader and Mesa's drivers (dawn.node, Deno), Debian Chromium
#      (browser tests, and its SwiftShader Vulkan driver for Node), Fashion-MNIST, nats-server
#      (the data-parallel tests start their own; the package's system service is not used).
#      Skipped when all are installed; needs root (or passwordless sudo) otherwise.
#   2. Mesa 25 lavapipe into .cache/lavapipe (optional; faster than SwiftShader in Node).
#      The checkout keeps its own copy (CI caches it, scripts/test-deno.sh and every worktree
#      use it, and setting up a checkout writes nothing into the user's home); an installed
#      nitro-d fetches the same driver into the user cache with `nitro-d doctor --fetch-fallback`.
#   3. npm ci (when package-lock.json changed since the last install), then the build.
# Safe to re-run. Options: --no-build (leave the build to `npm test`), --clean (always npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
CLEAN=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --clean) CLEAN=1 ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done

PACKAGES=(libvulkan1 mesa-vulkan-drivers chromium dataset-fashion-mnist nats-server)
PROBLEMS=()

# --- 1. apt -----------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: apt packages already installed (${PACKAGES[*]})"
else
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else SUDO=(none); fi
  fi
  if [ "${SUDO[0]:-}" = none ]; then
    echo "setup: missing apt packages: ${missing[*]}" >&2
    echo "setup: as root, run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    PROBLEMS+=("apt packages not installed: ${missing[*]}")
  else
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq </dev/null
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" </dev/null
  fi
fi

# --- 2. lavapipe (optional) ---------------------------------------------------------------------
if timeout 300 bash scripts/fetch-lavapipe.sh .cache/lavapipe </dev/null; then
  :
else
  echo "setup: could not fetch Mesa 25 lavapipe; Node will use SwiftShader (/usr/lib/chromium/vk_swiftshader_icd.json), which is slower" >&2
fi

# --- 3. npm -------------------------------------------------------------------------------------
# Dependencies' install scripts are not needed on Linux (they fix up macOS binaries or add bin
# shortcuts). The package's own build runs below, so a build failure is reported as such.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
STAMP=node_modules/.nitro-d-lock.sha256
LOCK_SHA=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$CLEAN" -eq 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$LOCK_SHA" ]; then
  echo "setup: node_modules matches package-lock.json"
else
  NPM_LOG=$(mktemp)
  if npm ci --ignore-scripts --no-audit --no-fund </dev/null >"$NPM_LOG" 2>&1; then
    grep -v 'npm warn' "$NPM_LOG" || true
  else
    # npm ci also resolves the optional binaries of other platforms (darwin, win32, musl...) and
    # calls the lock "out of sync" when the registry (a mirror for this platform) lacks them.
    # npm install with the same lock installs exactly the locked versions and leaves it unchanged.
    if grep -qE 'EUSAGE|are in sync' "$NPM_LOG"; then
      echo "setup: npm ci cannot resolve other platforms' optional packages here; installing the locked versions with npm install" >&2
      npm install --ignore-scripts --no-audit --no-fund --no-save </dev/null
    else
      cat "$NPM_LOG" >&2
      rm -f "$NPM_LOG"
      exit 1
    fi
  fi
  rm -f "$NPM_LOG"
  echo "$LOCK_SHA" >"$STAMP"
fi

if [ "$BUILD" -eq 1 ]; then
  npm run --silent build </dev/null || PROBLEMS+=("the build (npm run build) failed")
fi

if [ -f .cache/lavapipe/lvp_icd.json ]; then
  echo "setup: software WebGPU for Node: lavapipe $(cat .cache/lavapipe/VERSION)"
elif [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  echo "setup: software WebGPU for Node: SwiftShader"
fi
if [ ${#PROBLEMS[@]} -gt 0 ]; then
  printf 'setup: %s\n' "${PROBLEMS[@]}" >&2
  exit 1
fi
echo "setup: done"
