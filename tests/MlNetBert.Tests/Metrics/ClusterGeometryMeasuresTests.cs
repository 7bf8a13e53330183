using MlNetBert.Analysis;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class ClusterGeometryMeasuresTests
{
    // Two clusters chosen so every distance is exact:
    //   "a": (0,0), (6,8)                    centroid (3,4),  distances 5, 5        → mean 5, max 5
    //   "b": (15,7), (15,7), (15,7), (15,15)  centroid (15,9), distances 2, 2, 2, 6  → mean 3, max 6
    // Centroids are 13 apart ((12, 5) → 13). Closest cross pair: (6,8)–(15,7), √(81 + 1) = √82.
    // Separation = 13 / ((5 + 3) / 2) = 3.25.
    private static readonly float[][] Points = [[0, 0], [15, 7], [6, 8], [15, 7], [15, 15], [15, 7]];
    private static readonly string[] Labels = ["a", "b", "a", "b", "b", "b"];

    [TestMethod]
    public void PerLabel_CentroidCountAndDistances_MatchHandComputedValues()
    {
        var g = ClusterGeometry.Compute(Points, Labels);

        Assert.HasCount(2, g.Clusters);
        var a = g.Clusters[0];
        Assert.AreEqual(("a", 2, 5.0, 5.0), (a.Label, a.Count, a.MeanDistanceToCentroid, a.MaxDistanceToCentroid));
        CollectionAssert.AreEqual(new[] { 3.0, 4.0 }, a.Centroid);

        var b = g.Clusters[1];
        Assert.AreEqual(("b", 4, 3.0, 6.0), (b.Label, b.Count, b.MeanDistanceToCentroid, b.MaxDistanceToCentroid));
        CollectionAssert.AreEqual(new[] { 15.0, 9.0 }, b.Centroid);
    }

    [TestMethod]
    public void MinInterLabelDistance_IsClosestPairWithDifferentLabels()
    {
        Assert.AreEqual(Math.Sqrt(82), ClusterGeometry.Compute(Points, Labels).MinInterLabelDistance);
    }

    [TestMethod]
    public void CentroidDistances_AreSymmetricWithZeroDiagonal()
    {
        var d = ClusterGeometry.Compute(Points, Labels).CentroidDistances;
        CollectionAssert.AreEqual(new[] { 0.0, 13.0 }, d[0]);
        CollectionAssert.AreEqual(new[] { 13.0, 0.0 }, d[1]);
    }

    [TestMethod]
    public void SeparationRatio_IsMeanCentroidDistanceOverMeanSpread()
    {
        Assert.AreEqual(3.25, ClusterGeometry.Compute(Points, Labels).SeparationRatio);
    }

    [TestMethod]
    public void SingleLabel_HasNoInterLabelMeasures()
    {
        var g = ClusterGeometry.Compute(Points, Enumerable.Repeat("only", Points.Length).ToArray());
        Assert.IsTrue(double.IsNaN(g.MinInterLabelDistance));
        Assert.IsTrue(double.IsNaN(g.SeparationRatio));
    }

    [TestMethod]
    public void Compute_RejectsOneLabelTooFew()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ClusterGeometry.Compute(Points, Labels[..5]));
        StringAssert.Contains(e.Message, "points has 6 rows but labels has 5");
    }
}
