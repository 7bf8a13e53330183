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
                try
                {
                    sessionOptions.AppendExecutionProvider_CUDA(options.DeviceId);
                    provider = "cuda";
                }
                // The CPU-only runtime reports a missing provider as OnnxRuntimeException; missing CUDA libraries can
                // surface as DllNotFoundException or EntryPointNotFoundException, depending on which piece is absent.
                catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
                {
                    if (options.RequireCuda)
                        throw new BadInputException(
                            $"CUDA was required but the CUDA execution provider (device {options.DeviceId}) cannot be used: {BertOnnxModel.FirstLine(ex.Message)}. " +
                            "Reference Microsoft.ML.OnnxRuntime.Gpu and install matching CUDA and cuDNN libraries, or allow CPU.", ex);
                    options.Log?.Invoke($"CUDA execution provider unavailable ({BertOnnxModel.FirstLine(ex.Message)}); running on CPU");
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


    /// <summary>A CPU session over <paramref name="path"/> with <see cref="CreateOptions"/>'s settings.</summary>
    public static InferenceSession OpenCpu(string path, int? intraOpThreads = null)
    {
        using var options = CreateOptions(new BertOnnxOptions { IntraOpThreads = intraOpThreads }, out _);
        return new InferenceSession(path, options);
    }
}
