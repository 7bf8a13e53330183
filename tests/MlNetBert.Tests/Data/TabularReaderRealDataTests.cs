using MlNetBert.Data;

namespace MlNetBert.Tests.Data;

/// <summary>The shared data sets (see data/README.md), each with the quirk that breaks naive readers.</summary>
[TestClass]
public sealed class TabularReaderRealDataTests
{
    private static string DataFile(string relative)
    {
        string? root = Environment.GetEnvironmentVariable("MLNETBERT_DATA");
        if (string.IsNullOrEmpty(root))
        {
            Assert.Inconclusive("MLNETBERT_DATA is not set; point it at the shared data folder to read the real data sets.");
        }
        return Path.Combine(root, relative);
    }

    private static Dictionary<string, int> LabelCounts(TabularData data) =>
        data.Rows.GroupBy(r => r.Label!).ToDictionary(g => g.Key, g => g.Count());

    [TestMethod]
    public void Sst2Train_Reads67349Rows_FromSentenceAndLabel()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("sst2/train.tsv")));
        Assert.HasCount(67_349, data.Rows);
        Assert.IsEmpty(data.SkippedRows);
        Assert.AreEqual((new TabularColumn(0, "sentence"), new TabularColumn(1, "label")), (data.Columns.Text, data.Columns.Label));
        Assert.AreEqual(new TabularRow("hide new secretions from the parental units ", null, "0", null, 2), data.Rows[0]);
        CollectionAssert.AreEquivalent(new Dictionary<string, int> { ["0"] = 29_780, ["1"] = 37_569 }, LabelCounts(data));
    }

    [TestMethod]
    public void StsbDev_ReadsAs1500PairsWithScores_QuotingOff()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("stsb/dev.tsv"))
        {
            TextColumn = "sentence1",
            Text2Column = "sentence2",
            LabelColumn = "score",
            LabelKind = LabelKind.Numeric,
        });
        Assert.HasCount(1_500, data.Rows);
        Assert.IsFalse(data.Columns.Quoting);
        Assert.AreEqual(
            new TabularRow("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", "5.000", 5f, 2), data.Rows[0]);
        Assert.IsTrue(data.Rows.All(r => r.Score is >= 0f and <= 5f));
        Assert.IsTrue(data.Rows.Any(r => r.Text.Contains('"') || r.Text2!.Contains('"')));
    }

    [TestMethod]
    public void MrpcDev_WithBom_Reads408Pairs()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("mrpc/dev.tsv"))
        {
            TextColumn = "#1 String",
            Text2Column = "#2 String",
            LabelColumn = "Quality",
        });
        CollectionAssert.AreEqual(new[] { "Quality", "#1 ID", "#2 ID", "#1 String", "#2 String" }, data.Columns.Header!.ToArray());
        Assert.HasCount(408, data.Rows);
        Assert.AreEqual("\"The foodservice pie business does not fit our long-term growth strategy.", data.Rows[0].Text2);
        CollectionAssert.AreEquivalent(new Dictionary<string, int> { ["0"] = 129, ["1"] = 279 }, LabelCounts(data));
    }

    [TestMethod]
    public void AgNewsTest_QuotedCsvWithoutHeader_Reads7600Rows()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("ag_news/test.csv"))
        {
            HasHeader = false,
            LabelColumn = "0",
            TextColumn = "2",
        });
        Assert.HasCount(7_600, data.Rows);
        Assert.IsTrue(data.Columns.Quoting);
        Assert.StartsWith("Unions representing workers at Turner   Newall", data.Rows[0].Text);
        Assert.AreEqual(data.Rows.Count, data.Rows[^1].Line);
        CollectionAssert.AreEquivalent(
            new Dictionary<string, int> { ["1"] = 1_900, ["2"] = 1_900, ["3"] = 1_900, ["4"] = 1_900 }, LabelCounts(data));
    }

    [TestMethod]
    public void ImdbLabelled_WithNextLineCharacters_Reads1000Rows()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("sentiment_labelled_sentences/imdb_labelled.txt"))
        {
            HasHeader = false,
        });
        Assert.HasCount(1_000, data.Rows);
        Assert.AreEqual((0, 1), (data.Columns.Text.Index, data.Columns.Label.Index));
        Assert.AreEqual(2, data.Rows.Count(r => r.Text.Contains('\u0085')));
        CollectionAssert.AreEquivalent(new Dictionary<string, int> { ["0"] = 500, ["1"] = 500 }, LabelCounts(data));
    }

    [TestMethod]
    public void TrecTrain_WithCoarseLabels_Reads5452Questions()
    {
        var data = TabularReader.Read(new TabularReadOptions(DataFile("trec/train.tsv")) { LabelColumn = "coarse_label" });
        Assert.HasCount(5_452, data.Rows);
        Assert.AreEqual(new TabularColumn(2, "question"), data.Columns.Text);
        CollectionAssert.AreEqual(
            new[] { "ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM" },
            LabelSet.FromTraining(data.Rows, data.Path, data.Columns.Label).Labels.ToArray());
    }

    [TestMethod]
    public void MaxRows_OnSst2Train_IsTheSameSubsampleForTheSameSeedOnly()
    {
        string path = DataFile("sst2/train.tsv");
        int[] Lines(int seed) => TabularReader.Read(new TabularReadOptions(path) { MaxRows = 1_000, Seed = seed })
            .Rows.Select(r => r.Line).ToArray();

        int[] first = Lines(42);
        Assert.HasCount(1_000, first);
        CollectionAssert.AreEqual(first, Lines(42));
        CollectionAssert.AreNotEqual(first, Lines(43));
    }
}
