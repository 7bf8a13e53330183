using MlNetBert.Data;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class TabularReaderErrorTests
{
    private static readonly TempDirectory Temp = new();

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private static string ErrorOf(TabularReadOptions options) =>
        Assert.ThrowsExactly<BadInputException>(() => TabularReader.Read(options)).Message;

    private static string ErrorOf(string path) => ErrorOf(new TabularReadOptions(path));

    [TestMethod]
    public void EmptyLabel_NamesLineAndColumn()
    {
        string p = Temp.Write("empty-label.tsv", "sentence\tlabel\ngood\t1\nbad\t  \n");
        Assert.AreEqual($"{p}:3: column 'label' is empty", ErrorOf(p));
    }

    [TestMethod]
    public void EmptyLabel_WithoutHeader_NamesColumnByIndex()
    {
        string p = Temp.Write("empty-label-noheader.txt", "good\t1\nbad\t\n");
        Assert.AreEqual($"{p}:2: column 1 is empty", ErrorOf(new TabularReadOptions(p) { HasHeader = false }));
    }

    [TestMethod]
    public void RaggedRow_SaysExpectedAndFoundFieldCounts()
    {
        string p = Temp.Write("ragged.tsv", "sentence\tlabel\na\t0\nb\t1\textra\n");
        Assert.AreEqual($"{p}:3: expected 2 fields (tab-separated), found 3", ErrorOf(p));
    }

    [TestMethod]
    public void RaggedRow_InCsv_SaysCommaSeparated()
    {
        string p = Temp.Write("ragged.csv", "text,label\nno, quotes here,1\n");
        Assert.AreEqual($"{p}:2: expected 2 fields (comma-separated), found 3", ErrorOf(p));
    }

    [TestMethod]
    public void UnknownColumnName_ListsTheColumns()
    {
        string p = Temp.Write("names.tsv", "sentence\tlabel\na\t0\n");
        Assert.AreEqual($"{p}: no column named 'txt' (columns: sentence, label)", ErrorOf(new TabularReadOptions(p) { TextColumn = "txt" }));
    }

    [TestMethod]
    [DataRow("abc", "is not a number")]
    [DataRow("1,5", "is not a number")]
    [DataRow("NaN", "is not a finite number")]
    [DataRow("Infinity", "is not a finite number")]
    [DataRow("-Infinity", "is not a finite number")]
    [DataRow("1e40", "is not a finite number")]
    public void BadScore_IsRejected(string value, string reason)
    {
        string p = Temp.Write($"score-{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(value))}.tsv", $"sentence\tscore\nfine\t2.5\nbroken\t{value}\n");
        var options = new TabularReadOptions(p) { LabelColumn = "score", LabelKind = LabelKind.Numeric };
        Assert.AreEqual($"{p}:3: column 'score' value '{value}' {reason}", ErrorOf(options));
    }

    [TestMethod]
    public void LongBadValue_IsShortenedInTheMessage()
    {
        string p = Temp.Write("long-score.tsv", $"sentence\tscore\nx\t{new string('a', 60)}\n");
        var options = new TabularReadOptions(p) { LabelColumn = "score", LabelKind = LabelKind.Numeric };
        Assert.AreEqual($"{p}:2: column 'score' value '{new string('a', 37)}...' is not a number", ErrorOf(options));
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("\uFEFF")]
    [DataRow("\n\r\n\n")]
    public void EmptyFile_SaysSo(string content)
    {
        string p = Temp.Write($"empty-{content.Length}.tsv", content);
        Assert.AreEqual($"{p}: file is empty", ErrorOf(p));
    }

    [TestMethod]
    public void HeaderOnly_SaysThereAreNoRows()
    {
        string p = Temp.Write("header-only.tsv", "sentence\tlabel\n");
        Assert.AreEqual($"{p}: only a header, no rows", ErrorOf(p));
    }

    [TestMethod]
    public void InvalidUtf8_NamesTheLineOfTheBadByte()
    {
        byte[] bytes = [.. "sentence\tlabel\ncafé\t1\nok\t0\n"u8, (byte)'b', 0xFF, (byte)'d', .. "\t1\nlater\t0\n"u8];
        string p = Temp.WriteBytes("bad-utf8.tsv", bytes);
        Assert.AreEqual($"{p}:4: invalid UTF-8", ErrorOf(p));
    }

    [TestMethod]
    public void TruncatedUtf8AtEndOfFile_NamesTheLastLine()
    {
        byte[] bytes = [.. "sentence\tlabel\nx\t1\ny\t"u8, 0xC3];
        string p = Temp.WriteBytes("truncated-utf8.tsv", bytes);
        Assert.AreEqual($"{p}:3: invalid UTF-8", ErrorOf(p));
    }

    [TestMethod]
    public void Directory_IsNotAFile()
    {
        string dir = Directory.CreateDirectory(Path.Combine(Temp.Path, "data")).FullName;
        Assert.AreEqual($"{dir}: is a directory, expected a file", ErrorOf(dir));
    }

    [TestMethod]
    public void MissingFile_IsNotFound()
    {
        string p = Path.Combine(Temp.Path, "x.tsv");
        Assert.AreEqual($"{p}: file not found", ErrorOf(p));
    }

    [TestMethod]
    public void UnclosedQuote_NamesTheLineWhereTheFieldStarts()
    {
        string p = Temp.Write("unclosed.csv", "label,text\n1,fine\n2,\"never\nends, at all\n3,x\n");
        Assert.AreEqual($"{p}:3: unclosed quote (the quoted field starting here never ends)", ErrorOf(p));
    }

    [TestMethod]
    public void TextAfterClosingQuote_IsARowError()
    {
        string p = Temp.Write("after-quote.csv", "label,text\n1,\"quoted\" tail\n");
        Assert.AreEqual($"{p}:2: field 2 has text after its closing quote", ErrorOf(p));
    }

    [TestMethod]
    public void ColumnIndexOutOfRange_SaysHowManyColumnsThereAre()
    {
        string p = Temp.Write("index.txt", "a\t0\n");
        var options = new TabularReadOptions(p) { HasHeader = false, TextColumn = "5" };
        Assert.AreEqual($"{p}: column index 5 is out of range (the file has 2 columns, 0 to 1)", ErrorOf(options));
    }

    [TestMethod]
    public void ColumnName_WithoutHeader_AsksForAnIndex()
    {
        string p = Temp.Write("no-header.txt", "a\t0\n");
        var options = new TabularReadOptions(p) { HasHeader = false, TextColumn = "sentence" };
        Assert.AreEqual(
            $"{p}: column 'sentence' is a name, but the file has no header; give a 0-based index (the file has 2 columns and no header)",
            ErrorOf(options));
    }

    [TestMethod]
    public void DuplicateHeaderName_AsksForAnIndex()
    {
        string p = Temp.Write("duplicate.tsv", "text\ttext\tlabel\na\tb\t0\n");
        Assert.AreEqual($"{p}: the header names column 'text' 2 times (at 0, 1); give its 0-based index instead", ErrorOf(p));
    }

    [TestMethod]
    public void UnknownExtension_AsksForASeparator()
    {
        string p = Temp.Write("data.dat", "sentence|label\na|0\n");
        Assert.AreEqual(
            $"{p}: cannot tell the separator from the file name (.tsv and .txt mean tab, .csv means comma); pass --separator",
            ErrorOf(p));
    }

    [TestMethod]
    public void QuoteAsSeparator_WithQuotingOn_IsRefused()
    {
        string p = Temp.Write("quote-separated.csv", "a\"b\n");
        Assert.AreEqual(
            $"{p}: '\"'-separated is not possible; choose another separator",
            ErrorOf(new TabularReadOptions(p) { Separator = '"', Quoting = true }));
    }

    [TestMethod]
    public void SameColumnAsTextAndLabel_IsRefused()
    {
        // TREC's layout: no 'label' column, so the default label is the last column, which is also the text.
        string p = Temp.Write("trec-like.tsv", "coarse_label\tfine_label\tquestion\nLOC\tcity\tWhere ?\n");
        Assert.AreEqual(
            $"{p}: column 'question' cannot be both the text and the label column (columns: coarse_label, fine_label, question)",
            ErrorOf(p));
    }

    [TestMethod]
    public void NonPositiveMaxRows_IsRefused()
    {
        string p = Temp.Write("max.tsv", "sentence\tlabel\na\t0\n");
        Assert.AreEqual($"{p}: the row limit must be a positive number (got 0)", ErrorOf(new TabularReadOptions(p) { MaxRows = 0 }));
    }

    [TestMethod]
    public void SkipBadRows_CollectsRowErrorsInFileOrder()
    {
        string p = Temp.Write("skip.tsv", "sentence\tlabel\na\t0\nb\t1\tx\nc\t1\nd\t\ne\t0\n");
        var data = TabularReader.Read(new TabularReadOptions(p) { SkipBadRows = true });
        CollectionAssert.AreEqual(
            new[] { $"{p}:3: expected 2 fields (tab-separated), found 3", $"{p}:5: column 'label' is empty" },
            data.SkippedRows.ToArray());
        CollectionAssert.AreEqual(new[] { 2, 4, 6 }, data.Rows.Select(r => r.Line).ToArray());
    }

    [TestMethod]
    public void SkipBadRows_StillThrowsForFileErrors()
    {
        string p = Temp.Write("skip-unclosed.csv", "label,text\n1,\"open\n");
        var options = new TabularReadOptions(p) { SkipBadRows = true };
        Assert.AreEqual($"{p}:2: unclosed quote (the quoted field starting here never ends)", ErrorOf(options));
    }

    [TestMethod]
    public void SkipBadRows_WithNoGoodRowLeft_Throws()
    {
        string p = Temp.Write("all-bad.tsv", "sentence\tlabel\na\t\n");
        var options = new TabularReadOptions(p) { SkipBadRows = true };
        Assert.AreEqual($"{p}: no usable rows (1 skipped; the first: {p}:2: column 'label' is empty)", ErrorOf(options));
    }
}
