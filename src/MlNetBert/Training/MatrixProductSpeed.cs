using System.Diagnostics;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>One measured matrix product: <c>[M, K] x [K, N]</c> in one number format.</summary>
/// <param name="Shape">The product's dimensions and what it stands for.</param>
/// <param name="DType">The number format of both operands.</param>
/// <param name="Gflops">2·M·K·N floating-point operations divided by the best of the timed repeats.</param>
public sealed record MatrixProductTiming(string Shape, ScalarType DType, double Gflops);

/// <summary>
/// How fast libtorch multiplies matrices on this machine, in fp32 and bf16, for a large square product and for the
/// shapes one BERT training step actually runs: the numbers behind the choice of training precision.
/// </summary>
public static class MatrixProductSpeed
{
    /// <summary>GFLOP/s of <c>[m, k] x [k, n]</c> in <paramref name="dtype"/>: one unmeasured product, then the best of <paramref name="repeats"/>.</summary>
    public static double Measure(ScalarType dtype, long m, long k, long n, int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var a = randn(m, k).to(dtype);
        var b = randn(k, n).to(dtype);
        a.matmul(b).Dispose();
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.matmul(b);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * m * k * n / best / 1e9;
    }

    /// <summary>The fp32 peak used as the yardstick in <c>bench train</c>: a 1536 x 1536 product.</summary>
    public static double Fp32Peak() => Measure(ScalarType.Float32, 1536, 1536, 1536);

    /// <summary>
    /// The square product and a BERT layer's three kinds of projection for <paramref name="tokens"/> tokens a batch
    /// (hidden → hidden, hidden → intermediate, intermediate → hidden), each in fp32 and bf16.
    /// </summary>
    public static IReadOnlyList<MatrixProductTiming> Survey(int hidden, int intermediate, int tokens)
    {
        var shapes = new (string Name, long M, long K, long N)[]
        {
            ("1536x1536x1536", 1536, 1536, 1536),
            ($"{tokens}x{hidden}x{hidden} (attention projection)", tokens, hidden, hidden),
            ($"{tokens}x{hidden}x{intermediate} (feed-forward in)", tokens, hidden, intermediate),
            ($"{tokens}x{intermediate}x{hidden} (feed-forward out)", tokens, intermediate, hidden),
        };
        var timings = new List<MatrixProductTiming>();
        foreach (var (name, m, k, n) in shapes)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                timings.Add(new MatrixProductTiming(name, dtype, Measure(dtype, m, k, n)));
        return timings;
    }
}
