using MlNetBert.Evaluation;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class RegressionMetricsTests
{
    [TestMethod]
    public void Pearson_OfLinearRelation_IsOne()
    {
        float[] truth = [1, 2, 3, 4, 5];
        var m = RegressionMetrics.Compute(truth, truth.Select(t => (2 * t) + 1).ToArray());
        Assert.AreEqual(1.0, m.Pearson, 1e-12);
    }

    [TestMethod]
    public void Spearman_OfMonotoneNonlinearRelation_IsOne_WhilePearsonIsNot()
    {
        float[] truth = [0, 1, 2, 3, 4, 5];
        var m = RegressionMetrics.Compute(truth, truth.Select(t => MathF.Exp(t)).ToArray());
        Assert.AreEqual(1.0, m.Spearman, 1e-12);
        Assert.IsTrue(m.Pearson < 0.95, $"Pearson {m.Pearson}");
    }

    [TestMethod]
    public void Spearman_GivesTiesTheirAverageRank()
    {
        // Ranks: truth 1, 2.5, 2.5, 4 and predicted 1, 3, 2, 4; deviations from 2.5 give
        // covariance 4.5 and variances 4.5 and 5, so ρ = 4.5 / √22.5 = √0.9.
        var m = RegressionMetrics.Compute([1, 2, 2, 3], [1, 3, 2, 4]);
        Assert.AreEqual(Math.Sqrt(0.9), m.Spearman, 1e-12);
    }

    [TestMethod]
    public void MseAndMae_AreMeansOfSquaredAndAbsoluteErrors()
    {
        // Errors 1, 0, 2, -2: squares sum to 9, absolute values to 5.
        var m = RegressionMetrics.Compute([0, 1, 2, 6], [1, 1, 4, 4]);
        Assert.AreEqual(9.0 / 4, m.Mse);
        Assert.AreEqual(5.0 / 4, m.Mae);
        Assert.AreEqual(4, m.Count);
    }

    [TestMethod]
    public void Correlations_OfConstantPredictions_AreNaN_AndNullInJson()
    {
        var m = RegressionMetrics.Compute([1, 2, 3], [2, 2, 2]);
        Assert.IsTrue(double.IsNaN(m.Pearson));
        Assert.IsTrue(double.IsNaN(m.Spearman));
        var json = m.ToJsonObject();
        Assert.IsNull(json["pearson"]);
        Assert.AreEqual(2.0 / 3, (double)json["mse"]!, 1e-15);
    }

    [TestMethod]
    public void ToJsonObject_HasTheDocumentedKeys()
    {
        var json = RegressionMetrics.Compute([1, 2, 3], [1, 2, 4]).ToJsonObject();
        foreach (string key in new[] { "pearson", "spearman", "mse", "mae", "count" })
        {
            Assert.IsTrue(json.ContainsKey(key), key);
        }

        Assert.AreEqual(1.0, (double)json["spearman"]!, 1e-12);
    }

    [TestMethod]
    public void Compute_RejectsMismatchedLengths()
    {
        Assert.ThrowsExactly<ArgumentException>(() => RegressionMetrics.Compute([1, 2], [1]));
    }
}
