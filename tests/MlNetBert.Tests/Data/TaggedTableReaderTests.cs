using MlNetBert.Data.TokenClassification;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class TaggedTableReaderTests
{
    private static readonly TempDirectory Temp = new();

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private static string ErrorOf(TaggedTableReadOptions options) =>
        Assert.ThrowsExactly<BadInputException>(() => TaggedTableReader.Read(options)).Message;

    [TestMethod]
    public void Tsv_WordsAndTagsColumns_ReadOneSentenceARow()
    {
        string p = Temp.Write("ner.tsv", "words\ttags\nEU rejects German call\tB-ORG O B-MISC O\nAda  Lovelace\tB-PER I-PER\n");
        var data = TaggedTableReader.Read(new TaggedTableReadOptions(p) { WordsColumn = "words", TagsColumn = "tags" });

        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        Assert.HasCount(2, data.Sentences);
        CollectionAssert.AreEqual(new[] { "EU", "rejects", "German", "call" }, data.Sentences[0].Words);
        CollectionAssert.AreEqual(new[] { "Ada", "Lovelace" }, data.Sentences[1].Words);
        CollectionAssert.AreEqual(new[] { 3, 3 }, data.Sentences[1].Lines);
        CollectionAssert.AreEqual(new[] { "O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER" }, data.Labels.ToArray());
    }

    [TestMethod]
    public void QuotedCsv_WithIob1Tags_IsConvertedToBio()
    {
        string p = Temp.Write("ner.csv", "text,label\n\"Peter Blackburn , of course\",I-PER I-PER O O O\n");
        var data = TaggedTableReader.Read(new TaggedTableReadOptions(p));
        Assert.AreEqual(TagScheme.Iob1, data.SourceScheme);
        CollectionAssert.AreEqual(new[] { "Peter", "Blackburn", ",", "of", "course" }, data.Sentences[0].Words);
        CollectionAssert.AreEqual(new[] { "B-PER", "I-PER", "O", "O", "O" }, data.Sentences[0].Tags);
    }

    [TestMethod]
    public void WordAndTagCountsDiffer_NamesLineAndColumn()
    {
        string p = Temp.Write("mismatch.tsv", "words\ttags\nAda Lovelace\tB-PER I-PER\nEU rejects German call\tB-ORG O B-MISC\n");
        Assert.AreEqual(
            $"{p}:3: column 'tags': 4 words but 3 tags",
            ErrorOf(new TaggedTableReadOptions(p) { WordsColumn = "words", TagsColumn = "tags" }));
    }

    [TestMethod]
    public void BadTag_NamesLineColumnAndWord()
    {
        string p = Temp.Write("bad-tag.tsv", "words\ttags\nEU rejects\tB-ORG Q\n");
        Assert.AreEqual(
            $"{p}:2: column 'tags': word 2 ('rejects'): tag 'Q' is not O, B-TYPE or I-TYPE",
            ErrorOf(new TaggedTableReadOptions(p) { WordsColumn = "words", TagsColumn = "tags" }));
    }

    [TestMethod]
    public void EmptyTags_AreTheTabularReadersEmptyLabelError()
    {
        string p = Temp.Write("no-tags.tsv", "words\ttags\nEU rejects\t \n");
        Assert.AreEqual(
            $"{p}:2: column 'tags' is empty",
            ErrorOf(new TaggedTableReadOptions(p) { WordsColumn = "words", TagsColumn = "tags" }));
    }
}
