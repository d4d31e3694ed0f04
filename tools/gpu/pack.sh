#!/usr/bin/env bash
# Packs Grokfast.Bench as a self-contained linux-x64 app for a GPU machine that has the NVIDIA driver but no
# .NET SDK and no network, small enough for the device tool's 64 MiB carry: libtorch's native libraries are
# left out, since `gpu-check` runs the kernels through the CUDA driver API alone. Output: .gpu/bench.tar.xz
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu && mkdir -p .gpu
dotnet publish Grokfast.Bench -c Release -r linux-x64 --self-contained -o .gpu/bench -v quiet -nologo
# libtorch (CPU build) and the plotting natives are what make the publish large; gpu-check needs neither.
find .gpu/bench -maxdepth 1 -name '*.so*' \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' -o -name 'libLibTorchSharp*' \
    -o -name 'libSkiaSharp*' -o -name 'libHarfBuzzSharp*' -o -name 'libbackend_with_compiler*' -o -name 'libjitbackend_test*' \
    -o -name 'libtorchbind_test*' -o -name 'libaoti_custom_ops*' -o -name 'libnnapi_backend*' -o -name 'libshm*' \) -delete
tar -cJf .gpu/bench.tar.xz -C .gpu bench
rm -rf .gpu/bench
ls -l .gpu/bench.tar.xz
