#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a Linux x86-64 GPU machine without internet, npm or
# apt into one xz tarball (at most 50 MiB): the running Node binary, the webgpu package with
# its linux-x64 dawn.node only, the built CLI (dist/*.js, bin/, a minimal package.json), the
# golden cases, Debian's libvulkan1 loader (and libstdc++ for older systems), the check scripts
# and a MANIFEST of files and sizes.
#
#   scripts/pack-gpu-check.sh [--no-build] [OUT.tar.xz]   (default nitro-d-gpu-check.tar.xz)
#
# XZ_OPT (e.g. -0) picks the compression level (default -6). GPU_CHECK_PACK_LIMIT_MIB changes
# the size limit (default 50). Unpack with `tar -xJf OUT.tar.xz` and run
# `nitro-d-gpu-check/scripts/gpu-check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUILD=1
OUTFILE=nitro-d-gpu-check.tar.xz
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -*) echo "pack-gpu-check: unknown option $arg" >&2; exit 2 ;;
    *) OUTFILE=$arg ;;
  esac
done
LIMIT_MIB=${GPU_CHECK_PACK_LIMIT_MIB:-50}
fail() { echo "pack-gpu-check: $*" >&2; exit 1; }

NODE_BIN=$(readlink -f "$(command -v node)")
[ "$(node -p 'process.platform + "-" + process.arch')" = linux-x64 ] ||
  fail "$NODE_BIN is not a linux-x64 Node; the bundle is for Linux x86-64"
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || fail "$DAWN missing (npm install in the checkout)"

if [ "$BUILD" = 1 ]; then npm run build >&2; fi
[ -f dist/cli.js ] || fail "dist/cli.js missing (run npm run build, or drop --no-build)"

# Debian's Vulkan loader: the installed package, else its .deb from apt.
LOADER=""
if dpkg -L libvulkan1 >/dev/null 2>&1; then
  LOADER=$(dpkg -L libvulkan1 | grep -E '/libvulkan\.so\.1\.[0-9.]+$' | head -1)
  LOADER_VERSION=$(dpkg-query -W -f '${Version}' libvulkan1)
  LOADER_COPYRIGHT=/usr/share/doc/libvulkan1/copyright
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$LOADER" ] || [ ! -f "$LOADER" ]; then
  (cd "$WORK" && apt-get download libvulkan1 >&2) || fail "libvulkan1 neither installed nor downloadable"
  dpkg -x "$WORK"/libvulkan1_*.deb "$WORK/deb"
  LOADER=$(find "$WORK/deb" -name 'libvulkan.so.1.*' | head -1)
  LOADER_VERSION=$(dpkg-deb -f "$WORK"/libvulkan1_*.deb Version)
  LOADER_COPYRIGHT="$WORK/deb/usr/share/doc/libvulkan1/copyright"
fi

STAGE="$WORK/nitro-d-gpu-check"
mkdir -p "$STAGE"/{bin,dist,scripts,docs,test,runtime/lib,node_modules/webgpu/dist/linux-x64}
cp bin/nitro-d.js "$STAGE/bin/"
cp dist/*.js "$STAGE/dist/"
cp scripts/gpu-check.sh scripts/gpu-check.mjs "$STAGE/scripts/"
cp docs/gpu-check.md "$STAGE/docs/"
cp -r test/golden "$STAGE/test/"
cp node_modules/webgpu/{index.js,package.json,LICENSE.md} "$STAGE/node_modules/webgpu/"
cp "$DAWN" "$STAGE/$DAWN"
cp "$NODE_BIN" "$STAGE/runtime/node"
cp "$LOADER" "$STAGE/runtime/lib/libvulkan.so.1"
# dawn.node needs GLIBCXX_3.4.30 (GCC 12's libstdc++); gpu-check.sh uses this copy only on a
# machine whose own libstdc++ is older.
mkdir -p "$STAGE/runtime/compat"
STDCXX=$(readlink -f "$(gcc -print-file-name=libstdc++.so.6 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/libstdc++.so.6)")
[ -f "$STDCXX" ] || STDCXX=$(readlink -f /usr/lib/x86_64-linux-gnu/libstdc++.so.6)
grep -qa GLIBCXX_3.4.30 "$STDCXX" || fail "$STDCXX lacks GLIBCXX_3.4.30, which dawn.node needs"
cp "$STDCXX" "$STAGE/runtime/compat/libstdc++.so.6"
[ -f "${LOADER_COPYRIGHT:-}" ] && cp "$LOADER_COPYRIGHT" "$STAGE/runtime/lib/libvulkan1.copyright"
VERSION=$(node -p 'require("./package.json").version')
# Only what the CLI needs at run time: ESM, its name and version.
printf '{\n  "name": "nitro-d",\n  "version": "%s",\n  "type": "module",\n  "private": true\n}\n' \
  "$VERSION" >"$STAGE/package.json"
{
  echo "nitro-d gpu-check bundle"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  echo "nitro-d: $VERSION; node: $(node --version) linux-x64; webgpu: $(node -p 'require("./node_modules/webgpu/package.json").version'); libvulkan1: $LOADER_VERSION"
  echo "run: nitro-d-gpu-check/scripts/gpu-check.sh [OUTDIR]"
  echo
  echo "bytes path"
  (cd "$STAGE" && find . -type f ! -name MANIFEST -printf '%s %P\n' | sort -k2)
} >"$STAGE/MANIFEST"

mkdir -p "$(dirname "$OUTFILE")"
LEVEL=()
[ -z "${XZ_OPT:-}" ] && LEVEL=(-6)
tar -C "$WORK" --owner=0 --group=0 -cf - nitro-d-gpu-check | xz "${LEVEL[@]}" -c >"$OUTFILE.tmp"
mv "$OUTFILE.tmp" "$OUTFILE"

# The bundle must hold every piece the check uses.
LISTING=$(tar -tJf "$OUTFILE")
for f in MANIFEST runtime/node runtime/lib/libvulkan.so.1 runtime/compat/libstdc++.so.6 bin/nitro-d.js dist/cli.js package.json \
  scripts/gpu-check.sh scripts/gpu-check.mjs "$DAWN" node_modules/webgpu/index.js \
  test/golden/micro_mlp_step/model.json; do
  grep -qx "nitro-d-gpu-check/$f" <<<"$LISTING" || fail "$OUTFILE lacks $f"
done
if grep -q 'node_modules/webgpu/dist/' <<<"$LISTING" && grep 'node_modules/webgpu/dist/' <<<"$LISTING" |
  grep -v '/$' | grep -vqx "nitro-d-gpu-check/$DAWN"; then
  fail "$OUTFILE holds dawn.node builds other than linux-x64"
fi

SIZE=$(stat -c %s "$OUTFILE")
RAW=$(du -sb "$STAGE" | cut -f1)
echo "pack-gpu-check: $OUTFILE: $SIZE bytes ($((SIZE / 1048576)) MiB; $((RAW / 1048576)) MiB unpacked, $(grep -c . <<<"$LISTING") entries)"
if [ "$SIZE" -gt $((LIMIT_MIB * 1048576)) ]; then
  rm -f "$OUTFILE"
  fail "$SIZE bytes is above the ${LIMIT_MIB} MiB limit; removed $OUTFILE"
fi
