using MlNetBert.Analysis;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class CkaMeasuresTests
{
    [TestMethod]
    [DataRow(50, 10)] // more points than dimensions: d×d form
    [DataRow(10, 50)] // fewer points than dimensions: n×n Gram form
    public void Cka_OfARepresentationWithItself_IsOne(int n, int d)
    {
        float[][] x = RandomPoints.Gaussian(n, d, seed: 1);
        Assert.AreEqual(1.0, Cka.Linear(x, x), 1e-9);
    }

    [TestMethod]
    [DataRow(100, 16)]
    [DataRow(12, 16)]
    public void Cka_IsInvariantToOrthogonalTransform(int n, int d)
    {
        float[][] x = RandomPoints.Gaussian(n, d, seed: 2);
        float[][] rotated = RandomPoints.Times(x, RandomPoints.Orthogonal(d, seed: 3));
        float[][] other = PartlyRelated(x, seed: 4);

        Assert.AreEqual(1.0, Cka.Linear(x, rotated), 1e-6);
        Assert.AreEqual(Cka.Linear(x, other), Cka.Linear(rotated, other), 1e-6);
    }

    [TestMethod]
    public void Cka_IsInvariantToIsotropicScaling()
    {
        float[][] x = RandomPoints.Gaussian(100, 16, seed: 5);
        float[][] scaled = x.Select(row => row.Select(v => v * 3.7f).ToArray()).ToArray();
        float[][] other = PartlyRelated(x, seed: 6);

        Assert.AreEqual(1.0, Cka.Linear(x, scaled), 1e-6);
        Assert.AreEqual(Cka.Linear(x, other), Cka.Linear(scaled, other), 1e-6);
    }

    [TestMethod]
    public void Cka_OfIndependentRandomRepresentations_IsSmall()
    {
        double cka = Cka.Linear(RandomPoints.Gaussian(200, 20, seed: 7), RandomPoints.Gaussian(200, 20, seed: 8));
        Assert.IsTrue(cka < 0.3, $"CKA {cka}");
    }

    [TestMethod]
    public void Cka_ComparesRepresentationsOfDifferentWidths()
    {
        // Appending a copy of every feature doubles the Gram matrix, which CKA does not see.
        float[][] x = RandomPoints.Gaussian(30, 6, seed: 9);
        float[][] doubled = x.Select(row => row.Concat(row).ToArray()).ToArray();
        Assert.AreEqual(1.0, Cka.Linear(x, doubled), 1e-9);
    }

    [TestMethod]
    [DataRow(40, 8, 12)]
    [DataRow(8, 40, 30)]
    public void GramForm_EqualsFeatureForm(int n, int d1, int d2)
    {
        var x = Matrix.FromRows(RandomPoints.Gaussian(n, d1, seed: 10), "x").CenterColumns();
        var y = Matrix.FromRows(RandomPoints.Gaussian(n, d2, seed: 11), "y").CenterColumns();
        Assert.AreEqual(Cka.FeatureForm(x, y), Cka.GramForm(x, y), 1e-12);
    }

    [TestMethod]
    public void Cka_OfConstantRepresentation_IsNaN()
    {
        float[][] x = RandomPoints.Gaussian(5, 3, seed: 12);
        float[][] constant = Enumerable.Repeat(new[] { 1f, 2f }, 5).ToArray();
        Assert.IsTrue(double.IsNaN(Cka.Linear(x, constant)));
    }

    [TestMethod]
    public void Cka_RejectsDifferentRowCounts()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => Cka.Linear(RandomPoints.Gaussian(5, 3, 1), RandomPoints.Gaussian(6, 3, 1)));
        StringAssert.Contains(e.Message, "x has 5 rows but y has 6");
    }

    // A representation that shares some structure with x (a random linear map of it, plus noise),
    // so CKA against it is strictly between 0 and 1 and an invariance check is not trivially 1 = 1.
    private static float[][] PartlyRelated(float[][] x, int seed)
    {
        int d = x[0].Length;
        float[][] mixed = RandomPoints.Times(x, RandomPoints.Gaussian(d, 9, seed).Select(r => r.Select(v => (double)v).ToArray()).ToArray());
        float[][] noise = RandomPoints.Gaussian(x.Length, 9, seed + 100);
        return mixed.Zip(noise, (a, b) => a.Zip(b, (u, v) => u + (2 * v)).ToArray()).ToArray();
    }
}
