namespace MlNetBert.Analysis;

/// <summary>
/// Principal component analysis down to two dimensions, for plotting embeddings. Deterministic: the
/// same points give the same picture on every run and machine.
/// </summary>
/// <example>
/// <code>
/// foreach (var (x, y) in Pca.Project2D(clsVectors)) { writer.WriteLine($"{x}\t{y}"); }
/// </code>
/// </example>
public static class Pca
{
    private const int MaxIterations = 2000;
    private const double ConvergedStep = 1e-10;

    /// <summary>
    /// Projects each row onto the top two principal components of the column-centered rows.
    /// </summary>
    /// <remarks>
    /// The components come from power iteration with deflation, on the d×d scatter matrix Xcᵀ Xc, or on
    /// the n×n Gram matrix Xc Xcᵀ when there are fewer points than dimensions (the scores are then the
    /// eigenvectors scaled by the square roots of their eigenvalues). An eigenvector's sign is arbitrary,
    /// so each axis is flipped to make its largest-magnitude score positive. When the points span fewer
    /// than two directions, the missing axis is all zeros.
    /// </remarks>
    /// <param name="points">n rows of d values.</param>
    /// <returns>One (X, Y) pair per row, in the order given.</returns>
    /// <exception cref="ArgumentException">The rows are empty or ragged.</exception>
    public static (float X, float Y)[] Project2D(IReadOnlyList<float[]> points)
    {
        Matrix xc = Matrix.FromRows(points, nameof(points)).CenterColumns();
        var axes = new double[2][];
        if (xc.Rows < xc.Cols)
        {
            var components = TopEigenvectors(xc.Gram(), 2);
            for (int a = 0; a < 2; a++)
            {
                double scale = Math.Sqrt(components[a].Value);
                axes[a] = components[a].Vector.Select(u => u * scale).ToArray();
            }
        }
        else
        {
            var components = TopEigenvectors(xc.TransposeTimes(xc), 2);
            for (int a = 0; a < 2; a++)
            {
                axes[a] = xc.Times(components[a].Vector);
            }
        }

        foreach (double[] axis in axes)
        {
            MakeLargestPositive(axis);
        }

        var projected = new (float X, float Y)[xc.Rows];
        for (int r = 0; r < projected.Length; r++)
        {
            projected[r] = ((float)axes[0][r], (float)axes[1][r]);
        }

        return projected;
    }

    /// <summary>
    /// The <paramref name="count"/> leading eigenpairs of a symmetric positive semi-definite matrix, by
    /// power iteration; each later vector is kept orthogonal to the earlier ones (deflation). An eigenvalue
    /// that is negligible against the trace is reported as 0 with a zero vector.
    /// </summary>
    internal static (double[] Vector, double Value)[] TopEigenvectors(Matrix symmetric, int count)
    {
        int m = symmetric.Rows;
        double trace = 0;
        for (int i = 0; i < m; i++)
        {
            trace += symmetric[i, i];
        }

        double negligible = 1e-12 * trace;
        var found = new (double[] Vector, double Value)[count];

        // A fixed pseudo-random start: deterministic, and (unlike all-ones) not orthogonal to the leading
        // eigenvectors of a centered Gram matrix, whose null space contains the all-ones vector.
        var random = new Random(20190514);
        for (int c = 0; c < count; c++)
        {
            double[] v = Enumerable.Range(0, m).Select(_ => random.NextDouble() - 0.5).ToArray();
            double value = 0;
            if (!Normalize(v, found.AsSpan(0, c), out _) || trace <= 0)
            {
                found[c] = (new double[m], 0);
                continue;
            }

            bool isZero = false;
            for (int iteration = 0; iteration < MaxIterations; iteration++)
            {
                double[] w = symmetric.Times(v);
                if (!Normalize(w, found.AsSpan(0, c), out value) || value <= negligible)
                {
                    isZero = true;
                    break;
                }

                double step = 0;
                for (int i = 0; i < m; i++)
                {
                    double diff = w[i] - v[i];
                    step += diff * diff;
                }

                v = w;
                if (Math.Sqrt(step) < ConvergedStep)
                {
                    break;
                }
            }

            found[c] = isZero ? (new double[m], 0) : (v, value);
        }

        return found;
    }

    /// <summary>
    /// Removes the components along <paramref name="previous"/> vectors, then scales to unit length.
    /// Returns false (and leaves the vector unusable) when nothing is left.
    /// </summary>
    private static bool Normalize(double[] v, ReadOnlySpan<(double[] Vector, double Value)> previous, out double norm)
    {
        foreach (var (p, _) in previous)
        {
            double along = Matrix.Dot(v, p);
            for (int i = 0; i < v.Length; i++)
            {
                v[i] -= along * p[i];
            }
        }

        norm = Math.Sqrt(Matrix.Dot(v, v));
        if (norm == 0 || double.IsNaN(norm))
        {
            return false;
        }

        for (int i = 0; i < v.Length; i++)
        {
            v[i] /= norm;
        }

        return true;
    }

    private static void MakeLargestPositive(double[] axis)
    {
        int largest = 0;
        for (int i = 1; i < axis.Length; i++)
        {
            if (Math.Abs(axis[i]) > Math.Abs(axis[largest]))
            {
                largest = i;
            }
        }

        if (axis.Length > 0 && axis[largest] < 0)
        {
            for (int i = 0; i < axis.Length; i++)
            {
                axis[i] = -axis[i];
            }
        }
    }
}
