namespace MlNetBert.Training;

/// <summary>
/// What this machine's CPU can do, read at run time: machines differ (some have AVX-512 with VNNI and BF16, some only
/// AVX2), so nothing about speed is decided at build time.
/// </summary>
public static class CpuFeatures
{
    private static readonly Lazy<IReadOnlySet<string>> Flags = new(ReadFlags);

    /// <summary>
    /// The CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX-BF16), so libtorch's oneDNN kernels can run bf16
    /// matrix products faster than fp32 ones. Elsewhere bf16 is emulated and slower, so mixed precision stays off.
    /// </summary>
    public static bool HasNativeBFloat16 => Flags.Value.Contains("avx512_bf16") || Flags.Value.Contains("amx_bf16");

    /// <summary>The vector extensions that matter for the kernels libtorch and ONNX Runtime pick, for reports.</summary>
    public static string Summary
    {
        get
        {
            string[] interesting = ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"];
            var present = interesting.Where(Flags.Value.Contains).ToList();
            return present.Count == 0 ? "no AVX2 or AVX-512 flags reported" : string.Join(' ', present);
        }
    }

    // .NET's System.Runtime.Intrinsics answers for the instructions the JIT emits (AVX-512F, VNNI), but has no
    // property for AVX-512 BF16 or AMX, so Linux's own list in /proc/cpuinfo is read instead. Elsewhere: no flags,
    // which keeps every speed-dependent choice at its safe default.
    private static IReadOnlySet<string> ReadFlags()
    {
        const string cpuinfo = "/proc/cpuinfo";
        try
        {
            if (!File.Exists(cpuinfo))
                return new HashSet<string>();
            foreach (var line in File.ReadLines(cpuinfo))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal) || line.IndexOf(':') is not (> 0 and var colon))
                    continue;
                return line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new HashSet<string>();
    }
}
