#!/usr/bin/env bash
# Builds the inference tests with ONNX Runtime's GPU package (-p:OnnxRuntimeFlavor=Gpu) into a separate artifacts
# folder and runs the CUDA fallback tests against the real libonnxruntime_providers_cuda.so: on a machine without
# CUDA, --provider cuda must fall back to CPU with one line naming the provider's real load failure, and RequireCuda
# must fail with it. Prints the test summary lines; exit status is the test run's.
set -uo pipefail
cd "$(dirname "$0")/.."
artifacts="${GPU_ARTIFACTS:-$(mktemp -d)}"
trap '[ -z "${GPU_ARTIFACTS:-}" ] && rm -rf "$artifacts"' EXIT
dotnet build tests/MlNetBert.Inference.Tests -p:OnnxRuntimeFlavor=Gpu --artifacts-path "$artifacts" -v quiet -nologo || exit 1
exe="$artifacts/bin/MlNetBert.Inference.Tests/debug/MlNetBert.Inference.Tests"
test -f "$artifacts/bin/MlNetBert.Inference.Tests/debug/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so" \
  || { echo "the GPU flavour did not bring libonnxruntime_providers_cuda.so" >&2; exit 1; }
"$exe" --filter "FullyQualifiedName~Cuda_" --output detailed
