namespace MlNetBert.Tests.Metrics;

/// <summary>Seeded Gaussian point clouds and random rotations for the analysis-measure tests.</summary>
internal static class RandomPoints
{
    public static float[][] Gaussian(int n, int d, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => (float)Normal(random)).ToArray()).ToArray();
    }

    /// <summary>
    /// A random d×d orthogonal matrix: Gram–Schmidt on the rows of a Gaussian matrix. Rows are orthonormal
    /// (checked), so the matrix is a rotation or reflection.
    /// </summary>
    public static double[][] Orthogonal(int d, int seed)
    {
        var random = new Random(seed);
        var q = new double[d][];
        for (int i = 0; i < d; i++)
        {
            double[] v = Enumerable.Range(0, d).Select(_ => Normal(random)).ToArray();
            for (int pass = 0; pass < 2; pass++)
            {
                for (int j = 0; j < i; j++)
                {
                    double along = Dot(v, q[j]);
                    for (int c = 0; c < d; c++)
                    {
                        v[c] -= along * q[j][c];
                    }
                }
            }

            double norm = Math.Sqrt(Dot(v, v));
            q[i] = v.Select(x => x / norm).ToArray();
        }

        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                Assert.AreEqual(i == j ? 1.0 : 0.0, Dot(q[i], q[j]), 1e-12, "not orthonormal");
            }
        }

        return q;
    }

    /// <summary>Each row of <paramref name="x"/> (length k) times <paramref name="m"/> (k × w).</summary>
    public static float[][] Times(float[][] x, double[][] m) =>
        x.Select(row => Enumerable.Range(0, m[0].Length).Select(c => (float)Enumerable.Range(0, row.Length).Sum(k => row[k] * m[k][c])).ToArray()).ToArray();

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
