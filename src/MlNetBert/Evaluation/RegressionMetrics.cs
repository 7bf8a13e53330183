using System.Text.Json.Nodes;

namespace MlNetBert.Evaluation;

/// <summary>
/// The standard measures of a regressor (for example an STS-B similarity score): Pearson and Spearman
/// correlation, mean squared error and mean absolute error. All sums are taken in double.
/// </summary>
/// <example>
/// <code>
/// var m = RegressionMetrics.Compute(goldScores, predictedScores);
/// Console.WriteLine($"Pearson {m.Pearson:F4}, Spearman {m.Spearman:F4}");
/// </code>
/// </example>
/// <param name="Pearson">Linear correlation; <see cref="double.NaN"/> when either side is constant.</param>
/// <param name="Spearman">
/// Pearson correlation of the ranks, tied values sharing the mean of their ranks; <see cref="double.NaN"/>
/// when either side is constant.
/// </param>
/// <param name="Mse">Mean of (predicted − truth)².</param>
/// <param name="Mae">Mean of |predicted − truth|.</param>
/// <param name="Count">How many pairs were scored.</param>
public sealed record RegressionMetrics(double Pearson, double Spearman, double Mse, double Mae, int Count)
{
    /// <summary>Scores predictions against the truth.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or are empty.</exception>
    public static RegressionMetrics Compute(IReadOnlyList<float> truth, IReadOnlyList<float> predicted)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        if (truth.Count == 0)
        {
            throw new ArgumentException("truth is empty: there are no examples to score.", nameof(truth));
        }

        if (predicted.Count != truth.Count)
        {
            throw new ArgumentException(
                $"truth has {truth.Count} entries but predicted has {predicted.Count} (expected one prediction per example).", nameof(predicted));
        }

        int n = truth.Count;
        var t = new double[n];
        var p = new double[n];
        double squared = 0, absolute = 0;
        for (int i = 0; i < n; i++)
        {
            t[i] = truth[i];
            p[i] = predicted[i];
            double error = p[i] - t[i];
            squared += error * error;
            absolute += Math.Abs(error);
        }

        return new RegressionMetrics(Correlation(t, p), Correlation(Ranks(t), Ranks(p)), squared / n, absolute / n, n);
    }

    /// <summary>
    /// The metrics as JSON: <c>count</c>, <c>pearson</c>, <c>spearman</c>, <c>mse</c>, <c>mae</c>; a value
    /// that is not a number (a correlation of constant data) is written as null.
    /// </summary>
    public JsonObject ToJsonObject() => new()
    {
        ["count"] = Count,
        ["pearson"] = OrNull(Pearson),
        ["spearman"] = OrNull(Spearman),
        ["mse"] = OrNull(Mse),
        ["mae"] = OrNull(Mae),
    };

    private static JsonNode? OrNull(double value) => double.IsFinite(value) ? value : null;

    private static double Correlation(double[] a, double[] b)
    {
        double meanA = a.Average(), meanB = b.Average();
        double covariance = 0, varianceA = 0, varianceB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double da = a[i] - meanA, db = b[i] - meanB;
            covariance += da * db;
            varianceA += da * da;
            varianceB += db * db;
        }

        return varianceA == 0 || varianceB == 0 ? double.NaN : covariance / Math.Sqrt(varianceA * varianceB);
    }

    /// <summary>1-based ranks; a run of equal values gets the mean of the ranks it spans.</summary>
    private static double[] Ranks(double[] values)
    {
        int[] order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
            {
                end++;
            }

            double rank = ((start + end) / 2.0) + 1;
            for (int j = start; j <= end; j++)
            {
                ranks[order[j]] = rank;
            }

            start = end + 1;
        }

        return ranks;
    }
}
