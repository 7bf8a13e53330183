using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;

namespace MlNetBert.Inference;

/// <summary>
/// The one place ONNX Runtime sessions are configured, so inference, serving, export parity checks and benchmarks
/// run the same graph optimisations and thread settings.
/// </summary>
public static class OnnxSessions
{
    /// <summary>Builds session options for the requested provider, falling back to CPU (with one log line) when CUDA is unavailable.</summary>
    public static SessionOptions CreateOptions(BertOnnxOptions options, out string provider)
    {
        var sessionOptions = new SessionOptions();
        try
        {
            if (options.IntraOpThreads is int threads)
                sessionOptions.IntraOpNumThreads = threads;
            provider = "cpu";
            if (options.Provider == "cuda")
            {
                // ONNX Runtime logs the provider's load failure itself (to stderr, as an error) before throwing a
                // generic "Failed to load shared library"; the reason is given once, in our own line, instead.
                var env = OrtEnv.Instance();
                var level = env.EnvLogLevel;
                env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
                try
                {
                    sessionOptions.AppendExecutionProvider_CUDA(options.DeviceId);
                    provider = "cuda";
                }
                // The CPU-only runtime reports a missing provider as OnnxRuntimeException; missing CUDA libraries can
                // surface as DllNotFoundException or EntryPointNotFoundException, depending on which piece is absent.
                catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
                {
                    string reason = CudaProviderLoadFailure() ?? BertOnnxModel.FirstLine(ex.Message);
                    if (options.RequireCuda)
                        throw new BadInputException(
                            $"CUDA was required but the CUDA execution provider (device {options.DeviceId}) cannot be used: {reason}. " +
                            "Reference Microsoft.ML.OnnxRuntime.Gpu.Linux (or build with -p:OnnxRuntimeFlavor=Gpu) and install the CUDA and cuDNN libraries it needs, or allow CPU.", ex);
                    options.Log?.Invoke($"CUDA execution provider unavailable ({reason}); running on CPU");
                }
                finally
                {
                    env.EnvLogLevel = level;
                }
            }
            if (provider == "cpu")
                sessionOptions.AddSessionConfigEntry(BertOnnxOptions.DisabledOptimizersConfigKey, BertOnnxOptions.CpuDisabledOptimizers);
            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>The CUDA provider library's file name on Linux.</summary>
    public const string CudaProviderLibrary = "libonnxruntime_providers_cuda.so";

    /// <summary>
    /// Why the CUDA provider cannot load, in the loader's words: the provider library is absent (the CPU build of ONNX
    /// Runtime), or loading it fails on a missing dependency (for example <c>libcublasLt.so.13: cannot open shared
    /// object file</c>). Null when the library loads (then ONNX Runtime's own message is the better reason).
    /// </summary>
    public static string? CudaProviderLoadFailure()
    {
        // Where the native package puts it in a build output folder, and where publish flattens it.
        string[] candidates =
        [
            System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", CudaProviderLibrary),
            System.IO.Path.Combine(AppContext.BaseDirectory, CudaProviderLibrary),
        ];
        string? path = candidates.FirstOrDefault(File.Exists);
        if (path is null)
            return $"{CudaProviderLibrary} is not part of this application: it was built with the CPU package of ONNX Runtime";
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return null;
        }
        catch (DllNotFoundException ex)
        {
            // dlerror's text ends the message: "<dependency>: cannot open shared object file: No such file or directory".
            var missing = Regex.Match(ex.Message, @"[\w.+-]+\.so[\w.]*: cannot open shared object file[^\r\n]*");
            return $"{CudaProviderLibrary} cannot be loaded: " + (missing.Success ? missing.Value : BertOnnxModel.FirstLine(ex.Message));
        }
    }

    /// <summary>A CPU session over <paramref name="path"/> with <see cref="CreateOptions"/>'s settings.</summary>
    public static InferenceSession OpenCpu(string path, int? intraOpThreads = null)
    {
        using var options = CreateOptions(new BertOnnxOptions { IntraOpThreads = intraOpThreads }, out _);
        return new InferenceSession(path, options);
    }
}
