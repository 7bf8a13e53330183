using MlNetBert.Data;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class TabularReaderTests
{
    private static readonly TempDirectory Temp = new();

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private static TabularData Read(string name, string content, Func<TabularReadOptions, TabularReadOptions>? configure = null)
    {
        var options = new TabularReadOptions(Temp.Write(name, content));
        return TabularReader.Read(configure is null ? options : configure(options));
    }

    [TestMethod]
    public void Csv_QuotedFieldsHoldSeparatorsEscapedQuotesAndNewlines_AndRowsKeepTheirStartLine()
    {
        var data = Read("quoted.csv", "label,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,plain \"mid\" quotes\n5,\"\"\n");
        CollectionAssert.AreEqual(
            new[] { "a, b", "say \"hi\"", "two\nlines", "plain \"mid\" quotes", "" }, data.Rows.Select(r => r.Text).ToArray());
        CollectionAssert.AreEqual(new[] { 2, 3, 4, 6, 7 }, data.Rows.Select(r => r.Line).ToArray());
        Assert.IsTrue(data.Columns.Quoting);
    }

    [TestMethod]
    public void Tsv_QuotingIsOffByDefault_SoRawQuotesAreText()
    {
        var data = Read("raw-quotes.tsv", "sentence\tlabel\n\"quoted\" start\t1\nhe said \"hi\t0\n");
        CollectionAssert.AreEqual(new[] { "\"quoted\" start", "he said \"hi" }, data.Rows.Select(r => r.Text).ToArray());
        Assert.IsFalse(data.Columns.Quoting);
    }

    [TestMethod]
    public void QuotingOn_InTsv_UnquotesFields()
    {
        var data = Read("quoted.tsv", "sentence\tlabel\n\"tab\tinside\"\t1\n", o => o with { Quoting = true });
        Assert.AreEqual("tab\tinside", data.Rows.Single().Text);
    }

    [TestMethod]
    public void LinesEndAtLineFeedOnly_CrBeforeItIsDropped_OtherBreaksAreText()
    {
        var data = Read("breaks.tsv", "sentence\tlabel\r\na\u0085b\u2028c\t1\r\nd\re\t0\r\n");
        CollectionAssert.AreEqual(new[] { "a\u0085b\u2028c", "d\re" }, data.Rows.Select(r => r.Text).ToArray());
        CollectionAssert.AreEqual(new[] { "1", "0" }, data.Rows.Select(r => r.Label).ToArray());
    }

    [TestMethod]
    public void LastLineWithoutNewline_IsARow_AndEmptyLinesAreSkipped()
    {
        var data = Read("no-final-newline.tsv", "sentence\tlabel\na\t0\n\nb\t1");
        CollectionAssert.AreEqual(new[] { 2, 4 }, data.Rows.Select(r => r.Line).ToArray());
    }

    [TestMethod]
    public void Bom_IsStripped_SoTheFirstHeaderNameMatches()
    {
        var data = Read("bom.tsv", "\uFEFFlabel\tsentence\n1\thi\n");
        Assert.AreEqual(new TabularColumn(0, "label"), data.Columns.Label);
        Assert.AreEqual(new TabularColumn(1, "sentence"), data.Columns.Text);
    }

    [TestMethod]
    [DataRow("id\tsentence\ttext\tlabel", 1, 3)]
    [DataRow("id\ttext\tlabel", 1, 2)]
    [DataRow("label\tquestion", 1, 0)]
    [DataRow("a\tb\tc", 0, 2)]
    [DataRow("label\tcomment", 1, 0)]
    public void DefaultColumns_PreferSentenceTextQuestion_AndLabelElseLast(string header, int text, int label)
    {
        var data = Read($"defaults-{header.Replace('\t', '-')}.tsv", $"{header}\n{string.Join('\t', header.Split('\t').Select((_, i) => $"v{i}"))}\n");
        Assert.AreEqual((text, label), (data.Columns.Text.Index, data.Columns.Label.Index));
    }

    [TestMethod]
    public void DefaultColumns_WithoutHeader_AreFirstAndLast()
    {
        var data = Read("no-header.txt", "hello\tx\t1\n", o => o with { HasHeader = false });
        Assert.AreEqual(new TabularColumn(0, null), data.Columns.Text);
        Assert.AreEqual(new TabularColumn(2, null), data.Columns.Label);
        Assert.IsNull(data.Columns.Header);
        Assert.AreEqual(("hello", "1"), (data.Rows[0].Text, data.Rows[0].Label));
    }

    [TestMethod]
    public void Digits_AreAnIndex_UnlessAHeaderNameMatches()
    {
        var byIndex = Read("digits.tsv", "sentence\tlabel\nhi\t1\n", o => o with { TextColumn = "0", LabelColumn = "1" });
        Assert.AreEqual(new TabularColumn(0, "sentence"), byIndex.Columns.Text);

        var byName = Read("digit-names.tsv", "1\t0\nhi\tyes\n", o => o with { TextColumn = "0", LabelColumn = "1" });
        Assert.AreEqual(("yes", "hi"), (byName.Rows[0].Text, byName.Rows[0].Label));
    }

    [TestMethod]
    public void Labels_AreTrimmed_TextsAreKeptAsWritten()
    {
        var data = Read("trim.tsv", "sentence\tlabel\n  padded text  \t 1 \n");
        Assert.AreEqual(("  padded text  ", "1"), (data.Rows[0].Text, data.Rows[0].Label));
    }

    [TestMethod]
    public void Pairs_ReadTheSecondText_AndNumericLabelsAScore()
    {
        var data = Read("pairs.tsv", "sentence1\tsentence2\tscore\na\tb\t2.5\nc\td\t-1e-3\n", o => o with
        {
            TextColumn = "sentence1",
            Text2Column = "sentence2",
            LabelColumn = "score",
            LabelKind = LabelKind.Numeric,
        });
        Assert.AreEqual(new TabularRow("a", "b", "2.5", 2.5f, 2), data.Rows[0]);
        Assert.AreEqual(-0.001f, data.Rows[1].Score);
        Assert.AreEqual(LabelKind.Numeric, data.LabelKind);
    }

    [TestMethod]
    public void CategoricalLabels_HaveNoScore()
    {
        var data = Read("categorical.tsv", "sentence\tlabel\na\t1\n");
        Assert.AreEqual(new TabularRow("a", null, "1", null, 2), data.Rows[0]);
    }

    [TestMethod]
    public void ExplicitSeparator_OverridesTheExtension()
    {
        var data = Read("pipes.dat", "sentence|label\na, b|1\n", o => o with { Separator = '|' });
        Assert.AreEqual(("a, b", "1"), (data.Rows[0].Text, data.Rows[0].Label));
        Assert.AreEqual('|', data.Columns.Separator);
    }

    [TestMethod]
    public void MaxRows_IsASeededSubsampleInFileOrder()
    {
        string content = "sentence\tlabel\n" + string.Concat(Enumerable.Range(0, 200).Select(i => $"row {i}\t{i % 2}\n"));
        int[] Lines(int seed) => Read($"sample-{seed}.tsv", content, o => o with { MaxRows = 20, Seed = seed })
            .Rows.Select(r => r.Line).ToArray();

        int[] first = Lines(42);
        Assert.HasCount(20, first);
        CollectionAssert.AllItemsAreUnique(first);
        CollectionAssert.AreEqual(first.Order().ToArray(), first);
        CollectionAssert.AreEqual(first, Lines(42));
        CollectionAssert.AreNotEqual(first, Lines(7));
    }

    [TestMethod]
    public void MaxRows_AboveTheRowCount_KeepsEveryRow()
    {
        var data = Read("small.tsv", "sentence\tlabel\na\t0\nb\t1\n", o => o with { MaxRows = 10 });
        Assert.HasCount(2, data.Rows);
    }
}
