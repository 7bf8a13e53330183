namespace MlNetBert.Analysis;

/// <summary>
/// Centered kernel alignment (Kornblith et al., 2019, "Similarity of Neural Network Representations
/// Revisited"): how alike two representations of the same n inputs are, from 0 (unrelated) to 1 (the
/// same up to rotation and scale). Use it to compare a layer before and after fine-tuning, or two layers.
/// </summary>
/// <example>
/// <code>
/// // cls0[i] and cls1[i] are the [CLS] vectors of sentence i from the pretrained and fine-tuned model.
/// double similarity = Cka.Linear(cls0, cls1);
/// </code>
/// </example>
public static class Cka
{
    /// <summary>
    /// Linear CKA with column centering: <c>‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F)</c>. Row i of
    /// <paramref name="x"/> and of <paramref name="y"/> must describe the same input; the widths may differ.
    /// The result is invariant to orthogonal transforms and isotropic scaling of either side.
    /// </summary>
    /// <param name="x">n rows of the first representation (n × d₁).</param>
    /// <param name="y">n rows of the second representation (n × d₂).</param>
    /// <returns>A value in [0, 1]; <see cref="double.NaN"/> when either side has no variance (all rows equal).</returns>
    /// <exception cref="ArgumentException">The row counts differ, or a side is empty or ragged.</exception>
    public static double Linear(IReadOnlyList<float[]> x, IReadOnlyList<float[]> y)
    {
        Matrix xc = Matrix.FromRows(x, nameof(x)).CenterColumns();
        Matrix yc = Matrix.FromRows(y, nameof(y)).CenterColumns();
        if (xc.Rows != yc.Rows)
        {
            throw new ArgumentException(
                $"x has {xc.Rows} rows but y has {yc.Rows}; CKA compares two representations of the same inputs, row by row.",
                nameof(y));
        }

        // Both forms give the same number; pick the cheaper. Feature form costs about n·(d₁² + d₂² + d₁d₂)
        // multiply-adds, the Gram form about n²·(d₁ + d₂)/2 + n², so Gram wins whenever n < d and
        // somewhat beyond.
        double n = xc.Rows, d1 = xc.Cols, d2 = yc.Cols;
        double featureCost = n * ((d1 * d1) + (d2 * d2) + (d1 * d2));
        double gramCost = (n * n * (d1 + d2) / 2) + (n * n);
        return gramCost < featureCost ? GramForm(xc, yc) : FeatureForm(xc, yc);
    }

    /// <summary>The d×d form, from column-centered inputs.</summary>
    internal static double FeatureForm(Matrix xc, Matrix yc)
    {
        double cross = yc.TransposeTimes(xc).FrobeniusNorm();
        double xx = xc.TransposeTimes(xc).FrobeniusNorm();
        double yy = yc.TransposeTimes(yc).FrobeniusNorm();
        return Ratio(cross * cross, xx, yy);
    }

    /// <summary>
    /// The n×n form, from column-centered inputs: with K = Xc Xcᵀ and L = Yc Ycᵀ,
    /// ‖Ycᵀ Xc‖²_F = tr(K L) = ⟨K, L⟩ and ‖Xcᵀ Xc‖_F = ‖K‖_F.
    /// </summary>
    internal static double GramForm(Matrix xc, Matrix yc)
    {
        Matrix k = xc.Gram();
        Matrix l = yc.Gram();
        return Ratio(Matrix.FrobeniusInner(k, l), k.FrobeniusNorm(), l.FrobeniusNorm());
    }

    private static double Ratio(double numerator, double xNorm, double yNorm) =>
        xNorm == 0 || yNorm == 0 ? double.NaN : numerator / (xNorm * yNorm);
}
