#!/usr/bin/env bash
# Packs what a GPU run needs (tools/gpu/run.sh) for a machine that has the NVIDIA driver and PyTorch but no .NET SDK
# and no network, within the device tool's 64 MiB carry: the test app (xunit v3, self-executing) and Grokfast.Bench,
# published self-contained into one folder. libtorch's CPU build is left out: run.sh loads the machine's own
# PyTorch libraries (a CUDA build) beside TorchSharp's libLibTorchSharp.so, which stays. Output: .gpu/app.tar.xz
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu && mkdir -p .gpu
for project in Grokfast.Tests Grokfast.Bench; do
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -o .gpu/app -v quiet -nologo
done
find .gpu/app -maxdepth 1 -name '*.so*' \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' -o -name 'libbackend_with_compiler*' \
    -o -name 'libjitbackend_test*' -o -name 'libtorchbind_test*' -o -name 'libaoti_custom_ops*' -o -name 'libnnapi_backend*' -o -name 'libshm*' \) -delete
tar -cJf .gpu/app.tar.xz -C .gpu app
rm -rf .gpu/app
cp tools/gpu/run.sh tools/gpu/torch_anchor.py .gpu/
ls -l .gpu/app.tar.xz
