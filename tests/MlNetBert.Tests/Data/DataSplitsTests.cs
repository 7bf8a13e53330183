using MlNetBert.Data;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class DataSplitsTests
{
    private static readonly TabularColumn LabelColumn = new(1, "label");

    private static List<TabularRow> Rows(params (string Label, int Count)[] groups) =>
        groups.SelectMany(g => Enumerable.Repeat(g.Label, g.Count))
            .Select((label, i) => new TabularRow($"text {i}", null, label, null, i + 2))
            .ToList();

    [TestMethod]
    public void StratifiedSplit_KeepsEachLabelsShare_AndFileOrder()
    {
        var rows = Rows(("neg", 80), ("pos", 20));
        var (train, valid) = DataSplits.StratifiedSplit(rows, 0.1, seed: 42);

        Assert.AreEqual((90, 10), (train.Count, valid.Count));
        Assert.AreEqual(8, valid.Count(r => r.Label == "neg"));
        Assert.AreEqual(2, valid.Count(r => r.Label == "pos"));
        CollectionAssert.AreEquivalent(rows, train.Concat(valid).ToList());
        CollectionAssert.AreEqual(train.OrderBy(r => r.Line).ToList(), train.ToList());
        CollectionAssert.AreEqual(valid.OrderBy(r => r.Line).ToList(), valid.ToList());
    }

    [TestMethod]
    public void StratifiedSplit_IsDeterministicPerSeed()
    {
        var rows = Rows(("a", 50), ("b", 30), ("c", 20));
        int[] Valid(int seed) => DataSplits.StratifiedSplit(rows, 0.2, seed).Valid.Select(r => r.Line).ToArray();
        CollectionAssert.AreEqual(Valid(1), Valid(1));
        CollectionAssert.AreNotEqual(Valid(1), Valid(2));
    }

    [TestMethod]
    public void StratifiedSplit_GivesOddRowsToLargestRemainders_ButKeepsALabelsLastRowInTraining()
    {
        var rows = Rows(("a", 4), ("b", 4), ("rare", 1));
        var (train, valid) = DataSplits.StratifiedSplit(rows, 0.5, seed: 3);
        // 5 validation rows; shares a 2.22, b 2.22, rare 0.56. rare has the largest remainder but only one row,
        // so the odd row goes to the next largest remainder, a (ties go to the first label).
        Assert.AreEqual(5, valid.Count);
        Assert.AreEqual(3, valid.Count(r => r.Label == "a"));
        Assert.AreEqual(2, valid.Count(r => r.Label == "b"));
        Assert.AreEqual(1, train.Count(r => r.Label == "rare"));
    }

    [TestMethod]
    public void StratifiedSplit_OfScores_IsAPlainSeededSample()
    {
        var rows = Enumerable.Range(0, 50).Select(i => new TabularRow($"t{i}", $"u{i}", $"{i / 10f}", i / 10f, i + 2)).ToList();
        var (train, valid) = DataSplits.StratifiedSplit(rows, 0.1, seed: 42);
        Assert.AreEqual((45, 5), (train.Count, valid.Count));
        CollectionAssert.AreEqual(valid.ToList(), DataSplits.StratifiedSplit(rows, 0.1, seed: 42).Valid.ToList());
    }

    [TestMethod]
    public void StratifiedSplit_OfOneRow_IsRefused()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => DataSplits.StratifiedSplit(Rows(("a", 1)), 0.1, 42));
        Assert.AreEqual("too few rows to split off a validation set (1 row; at least 2 are needed)", ex.Message);
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(1.0)]
    [DataRow(double.NaN)]
    public void StratifiedSplit_FractionOutsideZeroToOne_IsRefused(double fraction) =>
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DataSplits.StratifiedSplit(Rows(("a", 5)), fraction, 42));

    [TestMethod]
    public void LabelSet_SortsIntegersAsNumbers_AndOtherLabelsOrdinally()
    {
        CollectionAssert.AreEqual(new[] { "-1", "2", "10" }, new LabelSet(["10", "2", "-1", "2"]).Labels.ToArray());
        CollectionAssert.AreEqual(new[] { "ABBR", "DESC", "LOC" }, new LabelSet(["LOC", "DESC", "ABBR"]).Labels.ToArray());
    }

    [TestMethod]
    public void LabelSet_FromTraining_GivesClassIdsInSortedOrder()
    {
        var labels = LabelSet.FromTraining(Rows(("pos", 2), ("neg", 3)), "train.tsv", LabelColumn);
        Assert.AreEqual((0, 1, -1), (labels.IndexOf("neg"), labels.IndexOf("pos"), labels.IndexOf("other")));
    }

    [TestMethod]
    public void LabelSet_FromTraining_WithOneLabel_IsRefused()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => LabelSet.FromTraining(Rows(("1", 4)), "train.tsv", LabelColumn));
        Assert.AreEqual("train.tsv: fewer than two distinct labels in column 'label' (found: 1)", ex.Message);
    }

    [TestMethod]
    public void LabelSet_CheckKnown_NamesTheFirstUnknownLabel()
    {
        var labels = new LabelSet(["0", "1"]);
        var valid = new[] { new TabularRow("a", null, "1", null, 2), new TabularRow("b", null, "2", null, 3) };
        var ex = Assert.ThrowsExactly<BadInputException>(() => LabelSet.CheckKnown(valid, labels, "dev.tsv", LabelColumn));
        Assert.AreEqual("dev.tsv:3: label '2' in column 'label' does not occur in the training data (known: 0, 1)", ex.Message);
    }

    [TestMethod]
    public void LabelSet_CheckKnown_AcceptsKnownLabels() =>
        LabelSet.CheckKnown([new TabularRow("a", null, "0", null, 2)], new LabelSet(["0", "1"]), "dev.tsv", LabelColumn);
}
