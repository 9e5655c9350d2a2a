#!/usr/bin/env bash
# Puts Mesa 25 lavapipe (software Vulkan from Debian bookworm-backports, faster than
# SwiftShader; docs/without-a-gpu.md) under $1 without touching the system's apt sources or
# packages.
# Result: $1/lvp_icd.json, picked up automatically by src/gpu/node-gpu.ts.
set -euo pipefail
DEST=$(realpath -m "${1:-.cache/lavapipe}")
if [ -f "$DEST/lvp_icd.json" ]; then echo "lavapipe $(cat "$DEST/VERSION") already at $DEST"; exit 0; fi
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/parts" "$W/lists/partial" "$W/cache/archives/partial" "$DEST"
awk 'BEGIN{RS=""} NR==1{print; exit}' /etc/apt/sources.list.d/debian.sources \
  | sed 's/^Suites:.*/Suites: bookworm-backports/' > "$W/parts/bpo.sources"
APTO=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$W/parts"
      -o Dir::State::Lists="$W/lists" -o Dir::Cache="$W/cache" -o APT::Sandbox::User=root)
apt-get "${APTO[@]}" -qq update
(cd "$W" && apt-get "${APTO[@]}" -qq download mesa-vulkan-drivers)
dpkg -x "$W"/mesa-vulkan-drivers_*.deb "$W/x"
LIB="$DEST/libvulkan_lvp.so"
cp "$W/x/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" "$LIB"
printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$LIB" > "$DEST/lvp_icd.json"
dpkg-deb -f "$W"/mesa-vulkan-drivers_*.deb Version > "$DEST/VERSION"
echo "lavapipe $(cat "$DEST/VERSION") -> $DEST/lvp_icd.json"
