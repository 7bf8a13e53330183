using MlNetBert.Evaluation;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class ClassificationMetricsTests
{
    // Six examples over three classes, worked out by hand:
    //   truth      0 0 0 1 1 2
    //   predicted  0 0 1 1 0 0
    // confusion (rows truth): [2 1 0] [1 1 0] [1 0 0]
    // cat:  precision 2/4, recall 2/3, F1 4/7;  dog: 1/2, 1/2, 1/2;  bird: never predicted → 0, 0, 0.
    private static readonly string[] Labels = ["cat", "dog", "bird"];
    private static readonly int[] Truth = [0, 0, 0, 1, 1, 2];
    private static readonly int[] Predicted = [0, 0, 1, 1, 0, 0];

    // p(true class): 1/2, 1/4, 1/2, 1/2, 0 (clamped to 1e-15), 1/4.
    private static readonly float[][] Probabilities =
    [
        [0.5f, 0.25f, 0.25f],
        [0.25f, 0.5f, 0.25f],
        [0.5f, 0.5f, 0f],
        [0.5f, 0.5f, 0f],
        [1f, 0f, 0f],
        [0.75f, 0f, 0.25f],
    ];

    private static ClassificationMetrics Example() => ClassificationMetrics.Compute(Truth, Predicted, Probabilities, Labels);

    [TestMethod]
    public void Accuracy_IsShareCorrect()
    {
        var m = Example();
        Assert.AreEqual(0.5, m.Accuracy);
        Assert.AreEqual(6, m.Count);
    }

    [TestMethod]
    public void ConfusionMatrix_RowsAreTruth_ColumnsArePredictions()
    {
        var m = Example();
        CollectionAssert.AreEqual(new[] { 2, 1, 0 }, m.ConfusionMatrix[0]);
        CollectionAssert.AreEqual(new[] { 1, 1, 0 }, m.ConfusionMatrix[1]);
        CollectionAssert.AreEqual(new[] { 1, 0, 0 }, m.ConfusionMatrix[2]);
    }

    [TestMethod]
    public void PerClass_MatchesHandComputedValues()
    {
        var m = Example();
        var cat = m.PerClass[0];
        Assert.AreEqual(("cat", 0.5, 3), (cat.Label, cat.Precision, cat.Support));
        Assert.AreEqual(2.0 / 3, cat.Recall, 1e-15);
        Assert.AreEqual(4.0 / 7, cat.F1, 1e-15);
        Assert.AreEqual(new ClassMetrics("dog", 0.5, 0.5, 0.5, 2), m.PerClass[1]);
    }

    [TestMethod]
    public void NeverPredictedClass_HasPrecisionZero_NotNaN()
    {
        Assert.AreEqual(new ClassMetrics("bird", 0, 0, 0, 1), Example().PerClass[2]);
    }

    [TestMethod]
    public void MacroAverages_AreUnweightedMeansOverClasses()
    {
        var m = Example();
        Assert.AreEqual(5.0 / 14, m.MacroF1, 1e-15);
        Assert.AreEqual(1.0 / 3, m.MacroPrecision, 1e-15);
        Assert.AreEqual(7.0 / 18, m.MacroRecall, 1e-15);
    }

    [TestMethod]
    public void LogLoss_IsMeanNegativeLogOfTrueClass_ClampedAt1e15()
    {
        double expected = ((7 * Math.Log(2)) + (15 * Math.Log(10))) / 6;
        Assert.AreEqual(expected, Example().LogLoss, 1e-12);
    }

    [TestMethod]
    public void LogLoss_IsNaN_WithoutProbabilities()
    {
        var m = ClassificationMetrics.Compute(Truth, Predicted, null, Labels);
        Assert.IsTrue(double.IsNaN(m.LogLoss));
        Assert.IsNull(m.ToJsonObject()["log_loss"]);
    }

    [TestMethod]
    public void ClassAbsentFromTruthAndPredictions_IsLeftOutOfMacroAverages()
    {
        var m = ClassificationMetrics.Compute([0, 1, 1], [0, 1, 0], null, ["a", "b", "unused"]);

        // a: P 1/2 R 1 F1 2/3; b: P 1 R 1/2 F1 2/3; "unused" still listed, with support 0.
        Assert.AreEqual(2.0 / 3, m.MacroF1, 1e-15);
        Assert.AreEqual(0.75, m.MacroPrecision, 1e-15);
        Assert.AreEqual(new ClassMetrics("unused", 0, 0, 0, 0), m.PerClass[2]);
    }

    [TestMethod]
    public void ToJsonObject_HasTheDocumentedKeys()
    {
        var json = Example().ToJsonObject();
        Assert.AreEqual(0.5, (double)json["accuracy"]!);
        Assert.AreEqual(5.0 / 14, (double)json["macro_f1"]!, 1e-15);
        Assert.AreEqual(1.0 / 3, (double)json["macro_precision"]!, 1e-15);
        Assert.AreEqual(7.0 / 18, (double)json["macro_recall"]!, 1e-15);
        Assert.AreEqual(Example().LogLoss, (double)json["log_loss"]!);
        Assert.AreEqual("bird", (string)json["per_class"]![2]!["label"]!);
        Assert.AreEqual(1, (int)json["per_class"]![2]!["support"]!);
        Assert.AreEqual("[[2,1,0],[1,1,0],[1,0,0]]", json["confusion_matrix"]!.ToJsonString());
    }

    [TestMethod]
    public void ToMarkdown_HasPerClassTable_AndConfusionMatrix()
    {
        string md = Example().ToMarkdown();
        StringAssert.Contains(md, "| cat | 0.5000 | 0.6667 | 0.5714 | 3 |");
        StringAssert.Contains(md, "| bird | 0.0000 | 0.0000 | 0.0000 | 1 |");
        StringAssert.Contains(md, "| truth \\ predicted | cat | dog | bird |");
        StringAssert.Contains(md, "| cat | 2 | 1 | 0 |");
        StringAssert.Contains(md, "| bird | 1 | 0 | 0 |");
    }

    [TestMethod]
    public void Compute_RejectsOutOfRangeLabel_NamingThePosition()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ClassificationMetrics.Compute([0, 3], [0, 1], null, ["a", "b"]));
        StringAssert.Contains(e.Message, "truth[1] is 3");
    }

    [TestMethod]
    public void Compute_RejectsMismatchedLengths()
    {
        Assert.ThrowsExactly<ArgumentException>(() => ClassificationMetrics.Compute([0, 1], [0], null, ["a", "b"]));
        Assert.ThrowsExactly<ArgumentException>(() => ClassificationMetrics.Compute([0, 1], [0, 1], [[1f, 0f]], ["a", "b"]));
    }
}
