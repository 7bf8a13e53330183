using MlNetBert.Analysis;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class PcaMeasuresTests
{
    [TestMethod]
    [DataRow(3)]  // more points than dimensions: scatter-matrix path
    [DataRow(40)] // fewer points than dimensions: Gram-matrix path
    public void PointsOnALine_ProjectOntoTheFirstAxis_AtTheirPositionsAlongIt(int d)
    {
        // p(t) = offset + t·u with ‖u‖ = 3; the t values are lopsided so the sign rule has a clear winner.
        float[] ts = [-1, 0, 1, 2, 5];
        var u = Enumerable.Range(0, d).Select(i => i % 3 == 0 ? 1.0 : -0.5).ToArray();
        double scale = 3 / Math.Sqrt(u.Sum(v => v * v));
        float[][] points = ts.Select(t => Enumerable.Range(0, d).Select(i => (float)(0.5 + i + (t * u[i] * scale))).ToArray()).ToArray();

        var projected = Pca.Project2D(points);

        // Centered positions are 3·(t − 1.4); the largest in magnitude (t = 5) is positive.
        for (int i = 0; i < ts.Length; i++)
        {
            Assert.AreEqual(3 * (ts[i] - 1.4), projected[i].X, 1e-4);
            Assert.AreEqual(0, projected[i].Y, 1e-4);
        }
    }

    [TestMethod]
    [DataRow(6, 20)]
    [DataRow(30, 5)]
    public void PlanarPoints_KeepAllPairwiseDistances(int n, int d)
    {
        // A 2-D cloud, stretched so the two axes have distinct variances, placed in d dimensions by an
        // orthonormal pair of directions: projecting onto the top two components is then an isometry.
        float[][] flat = RandomPoints.Gaussian(n, 2, seed: 21).Select(p => new[] { 3 * p[0], p[1] }).ToArray();
        double[][] basis = RandomPoints.Orthogonal(d, seed: 22)[..2];
        float[][] points = RandomPoints.Times(flat, basis);

        var projected = Pca.Project2D(points);

        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                double original = Math.Sqrt(Math.Pow(flat[i][0] - flat[j][0], 2) + Math.Pow(flat[i][1] - flat[j][1], 2));
                double seen = Math.Sqrt(Math.Pow(projected[i].X - projected[j].X, 2) + Math.Pow(projected[i].Y - projected[j].Y, 2));
                Assert.AreEqual(original, seen, 1e-4);
            }
        }
    }

    [TestMethod]
    public void EachAxis_HasItsLargestMagnitudeValuePositive_AndFirstAxisHasMoreVariance()
    {
        var projected = Pca.Project2D(RandomPoints.Gaussian(50, 8, seed: 23));

        float[] xs = projected.Select(p => p.X).ToArray(), ys = projected.Select(p => p.Y).ToArray();
        Assert.IsTrue(xs.MaxBy(Math.Abs) > 0);
        Assert.IsTrue(ys.MaxBy(Math.Abs) > 0);
        Assert.IsTrue(xs.Sum(v => v * v) >= ys.Sum(v => v * v));
    }

    [TestMethod]
    public void Projection_IsDeterministic()
    {
        float[][] points = RandomPoints.Gaussian(20, 30, seed: 24);
        CollectionAssert.AreEqual(Pca.Project2D(points), Pca.Project2D(points));
    }

    [TestMethod]
    public void IdenticalPoints_ProjectToTheOrigin()
    {
        var projected = Pca.Project2D(Enumerable.Repeat(new[] { 1f, 2f, 3f }, 4).ToArray());
        CollectionAssert.AreEqual(new (float, float)[] { (0, 0), (0, 0), (0, 0), (0, 0) }, projected);
    }
}
