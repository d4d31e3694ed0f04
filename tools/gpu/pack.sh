#!/usr/bin/env bash
# Packs what a GPU run needs (tools/gpu/run.sh) for a machine that has the NVIDIA driver and PyTorch but no .NET SDK
# and no network, within the device tool's 64 MiB carry: the test app (xunit v3, self-executing) and Grokfast.Bench,
# published self-contained into one folder. libtorch's CPU build is left out: run.sh loads the machine's own
# PyTorch libraries (a CUDA build) beside TorchSharp's libLibTorchSharp.so, which stays.
# Usage: pack.sh [OUTPUT_FOLDER]   (default .gpu in the repository; it gets app.tar.xz, run.sh, torch_anchor.py, reference.py, build-info.txt)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/.gpu}" && cd "${1:-$root/.gpu}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for project in Grokfast.Tests Grokfast.Bench; do
  dotnet publish "$root/$project" -c Release -r linux-x64 --self-contained -o "$work/app" -v quiet -nologo
done
find "$work/app" -maxdepth 1 -name '*.so*' \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' -o -name 'libbackend_with_compiler*' \
    -o -name 'libjitbackend_test*' -o -name 'libtorchbind_test*' -o -name 'libaoti_custom_ops*' -o -name 'libnnapi_backend*' -o -name 'libshm*' \) -delete
rm -f "$out/app.tar.xz"
# xz level 3 on every core: ~55 MB in ~12 s on 2 cores (the default level 6 saves 5 MB for a minute of one core).
XZ_OPT="-T0 -3" tar -cJf "$out/app.tar.xz" -C "$work" app
cp "$root/tools/gpu/run.sh" "$root/tools/gpu/torch_anchor.py" "$root/tools/grokking/reference.py" "$out/"
# What was packed, for run.sh to put beside its output: the commit, and whether the tree had changes beyond it — a
# tree with uncommitted changes is never called its commit.
changes=$(git -C "$root" status --short)
{
  echo "commit $(git -C "$root" rev-parse HEAD)${changes:+ with uncommitted changes (listed below)}"
  echo "packed $(date -u +%FT%TZ) with .NET SDK $(dotnet --version)"
  [ -z "$changes" ] || printf 'git status --short:\n%s\n' "$changes"
} > "$out/build-info.txt"
cat "$out/build-info.txt"
ls -l "$out/app.tar.xz"
