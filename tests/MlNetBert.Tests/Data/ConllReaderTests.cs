using MlNetBert.Data.TokenClassification;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class ConllReaderTests
{
    private static readonly TempDirectory Temp = new();

    // CoNLL-2003 layout: four space-separated columns, IOB1 tags, a -DOCSTART- line and blank lines between sentences.
    private const string Conll2003Sample =
        "-DOCSTART- -X- -X- O\n" +
        "\n" +
        "EU NNP B-NP I-ORG\n" +
        "rejects VBZ B-VP O\n" +
        "German JJ B-NP I-MISC\n" +
        "call NN I-NP O\n" +
        ". . O O\n" +
        "\n" +
        "Peter NNP B-NP I-PER\n" +
        "Blackburn NNP I-NP I-PER\n" +
        "\n";

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private static string ErrorOf(ConllReadOptions options) =>
        Assert.ThrowsExactly<BadInputException>(() => ConllReader.Read(options)).Message;

    [TestMethod]
    public void Conll2003Sample_SkipsDocStart_DetectsIob1_AndReturnsBio()
    {
        string p = Temp.Write("sample.conll", Conll2003Sample);
        var data = ConllReader.Read(new ConllReadOptions(p));

        Assert.AreEqual(TagScheme.Iob1, data.SourceScheme);
        Assert.HasCount(2, data.Sentences);
        CollectionAssert.AreEqual(new[] { "EU", "rejects", "German", "call", "." }, data.Sentences[0].Words);
        CollectionAssert.AreEqual(new[] { "B-ORG", "O", "B-MISC", "O", "O" }, data.Sentences[0].Tags);
        CollectionAssert.AreEqual(new[] { 3, 4, 5, 6, 7 }, data.Sentences[0].Lines);
        CollectionAssert.AreEqual(new[] { "B-PER", "I-PER" }, data.Sentences[1].Tags);
        CollectionAssert.AreEqual(new[] { "O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER" }, data.Labels.ToArray());
    }

    [TestMethod]
    public void SchemeBio_GivenExplicitly_KeepsTagsAsWritten()
    {
        string p = Temp.Write("sample-bio.conll", Conll2003Sample);
        var data = ConllReader.Read(new ConllReadOptions(p) { Scheme = TagScheme.Bio });
        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        CollectionAssert.AreEqual(new[] { "I-ORG", "O", "I-MISC", "O", "O" }, data.Sentences[0].Tags);
    }

    [TestMethod]
    public void TagColumn_CanPickAnotherColumn_HereTheChunkTags()
    {
        string p = Temp.Write("sample-chunks.conll", Conll2003Sample);
        var data = ConllReader.Read(new ConllReadOptions(p) { TagColumn = 2 });
        CollectionAssert.AreEqual(new[] { "B-NP", "B-VP", "B-NP", "I-NP", "O" }, data.Sentences[0].Tags);
    }

    [TestMethod]
    public void TokenColumn_CanPickAnotherColumn()
    {
        string p = Temp.Write("sample-pos.conll", Conll2003Sample);
        var data = ConllReader.Read(new ConllReadOptions(p) { TokenColumn = 1 });
        CollectionAssert.AreEqual(new[] { "NNP", "VBZ", "JJ", "NN", "." }, data.Sentences[0].Words);
    }

    [TestMethod]
    public void WnutLayout_TabOnlyLineEndsASentence_AndHyphenatedTypesStayWhole()
    {
        string p = Temp.Write("wnut.conll", "Watching\tO\nStar\tB-creative-work\nWars\tI-creative-work\n\t\n@paul\tB-person\n\n");
        var data = ConllReader.Read(new ConllReadOptions(p));

        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        Assert.HasCount(2, data.Sentences);
        CollectionAssert.AreEqual(new[] { "O", "B-creative-work", "I-creative-work" }, data.Sentences[0].Tags);
        CollectionAssert.AreEqual(new[] { "O", "B-creative-work", "I-creative-work", "B-person", "I-person" }, data.Labels.ToArray());
    }

    [TestMethod]
    public void CrLfLineEnds_AndNoFinalBlankLine_AreRead()
    {
        string p = Temp.Write("crlf.conll", "Paris\tB-LOC\r\nis\tO\r\n\r\nnice\tO");
        var data = ConllReader.Read(new ConllReadOptions(p));
        Assert.HasCount(2, data.Sentences);
        CollectionAssert.AreEqual(new[] { "B-LOC", "O" }, data.Sentences[0].Tags);
        CollectionAssert.AreEqual(new[] { "nice" }, data.Sentences[1].Words);
    }

    [TestMethod]
    public void BadTag_NamesFileLineAndColumn()
    {
        string p = Temp.Write("bad-tag.conll", "EU NNP B-NP I-ORG\nrejects VBZ B-VP X-ORG\n");
        Assert.AreEqual($"{p}:2: column 3: tag 'X-ORG' is not O, B-TYPE or I-TYPE", ErrorOf(new ConllReadOptions(p)));
    }

    [TestMethod]
    public void TagWithoutType_IsRejected()
    {
        string p = Temp.Write("bad-tag-b.conll", "EU\tB-\n");
        Assert.AreEqual($"{p}:1: column 1: tag 'B-' is not O, B-TYPE or I-TYPE", ErrorOf(new ConllReadOptions(p)));
    }

    [TestMethod]
    public void OneColumn_SaysATagIsMissing()
    {
        string p = Temp.Write("no-tags.conll", "EU\nrejects\n");
        Assert.AreEqual($"{p}:1: found 1 column; expected a token and a tag separated by spaces or a tab", ErrorOf(new ConllReadOptions(p)));
    }

    [TestMethod]
    public void ColumnCountChange_NamesBothLines()
    {
        string p = Temp.Write("ragged.conll", "EU NNP B-NP I-ORG\nrejects B-VP O\n");
        Assert.AreEqual(
            $"{p}:2: found 3 columns, but line 1 has 4 (columns are separated by spaces or tabs)", ErrorOf(new ConllReadOptions(p)));
    }

    [TestMethod]
    public void TagColumnOutOfRange_SaysHowManyColumnsAreNeeded()
    {
        string p = Temp.Write("narrow.conll", "EU\tB-ORG\n");
        Assert.AreEqual(
            $"{p}:1: found 2 columns; token column 0 and tag column 3 need 4", ErrorOf(new ConllReadOptions(p) { TagColumn = 3 }));
    }

    [TestMethod]
    public void EmptyFile_AndDocStartOnly_AreRejected()
    {
        string empty = Temp.Write("empty.conll", "");
        Assert.AreEqual($"{empty}: file is empty", ErrorOf(new ConllReadOptions(empty)));
        string docOnly = Temp.Write("doc-only.conll", "-DOCSTART- -X- -X- O\n\n\t\n");
        Assert.AreEqual($"{docOnly}: no sentences (only blank lines and -DOCSTART- lines)", ErrorOf(new ConllReadOptions(docOnly)));
    }

    [TestMethod]
    public void ValidationTagUnseenInTraining_NamesFileAndLine()
    {
        string train = Temp.Write("train.conll", "Ada\tB-PER\nLovelace\tI-PER\n");
        string dev = Temp.Write("dev.conll", "Paris\tO\n\nParis\tB-LOC\n");
        var labels = ConllReader.Read(new ConllReadOptions(train)).Labels;
        var devData = ConllReader.Read(new ConllReadOptions(dev));
        var error = Assert.ThrowsExactly<BadInputException>(() => devData.RequireLabelsIn(labels));
        Assert.AreEqual($"{dev}:3: tag 'B-LOC' does not occur in the training data (labels: O, B-PER, I-PER)", error.Message);
    }

    [TestMethod]
    public void MissingFile_IsBadInput()
    {
        string p = Path.Combine(Temp.Path, "missing.conll");
        Assert.AreEqual($"{p}: file not found", ErrorOf(new ConllReadOptions(p)));
    }
}
