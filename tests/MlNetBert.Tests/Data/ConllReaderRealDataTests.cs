using MlNetBert.Data.TokenClassification;
using MlNetBert.Evaluation;

namespace MlNetBert.Tests.Data;

/// <summary>
/// CoNLL-2003 and WNUT-17 from MLNETBERT_DATA. The expected counts were computed independently with awk (a sentence is a
/// run of non-blank lines after trimming, -DOCSTART- lines skipped; an entity starts at every B- tag and at every I-X
/// whose previous tag is not of type X) and agree with the figures in each folder's SOURCE.md.
/// </summary>
[TestClass]
public sealed class ConllReaderRealDataTests
{
    private static Dictionary<string, int> EntityCounts(TokenClassificationData data) =>
        data.Sentences.SelectMany(s => EntityMetrics.Entities(s.Tags)).GroupBy(e => e.Type).ToDictionary(g => g.Key, g => g.Count());

    private static void AssertCounts(TokenClassificationData data, int sentences, int tokens, Dictionary<string, int> entities)
    {
        Assert.HasCount(sentences, data.Sentences);
        Assert.AreEqual(tokens, data.WordCount);
        CollectionAssert.AreEquivalent(entities, EntityCounts(data));
    }

    [TestMethod]
    public void Conll2003Train_Is14041SentencesOf203621Tokens_And23499Entities_ReadAsIob1()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.train")));
        Assert.AreEqual(TagScheme.Iob1, data.SourceScheme);
        AssertCounts(data, 14_041, 203_621, new() { ["LOC"] = 7_140, ["MISC"] = 3_438, ["ORG"] = 6_321, ["PER"] = 6_600 });
        CollectionAssert.AreEqual(
            new[] { "O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER" }, data.Labels.ToArray());
        CollectionAssert.AreEqual(new[] { "EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "." }, data.Sentences[0].Words);
        CollectionAssert.AreEqual(new[] { "B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O" }, data.Sentences[0].Tags);
        Assert.AreEqual(3, data.Sentences[0].Lines[0]);
    }

    [TestMethod]
    public void Conll2003Dev_Is3250SentencesOf51362Tokens_And5942Entities_ReadAsIob1()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.testa")));
        Assert.AreEqual(TagScheme.Iob1, data.SourceScheme);
        AssertCounts(data, 3_250, 51_362, new() { ["LOC"] = 1_837, ["MISC"] = 922, ["ORG"] = 1_341, ["PER"] = 1_842 });
    }

    [TestMethod]
    public void Conll2003Test_Is3453SentencesOf46435Tokens_And5648Entities_ReadAsIob1()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.testb")));
        Assert.AreEqual(TagScheme.Iob1, data.SourceScheme);
        AssertCounts(data, 3_453, 46_435, new() { ["LOC"] = 1_668, ["MISC"] = 702, ["ORG"] = 1_661, ["PER"] = 1_617 });
    }

    [TestMethod]
    public void Conll2003DevAndTest_UseOnlyTrainingLabels()
    {
        var train = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.train")));
        ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.testa"))).RequireLabelsIn(train.Labels);
        ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.testb"))).RequireLabelsIn(train.Labels);
    }

    [TestMethod]
    public void Wnut17Train_WithTabOnlySeparators_Is3394SentencesOf62730Tokens_And1975Entities_ReadAsBio()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("wnut17/wnut17train.conll")));
        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        AssertCounts(data, 3_394, 62_730, new()
        {
            ["person"] = 660,
            ["location"] = 548,
            ["corporation"] = 221,
            ["product"] = 142,
            ["creative-work"] = 140,
            ["group"] = 264,
        });
        Assert.HasCount(13, data.Labels);
        Assert.AreEqual(41, data.Sentences.Max(s => s.Words.Length));
    }

    [TestMethod]
    public void Wnut17Dev_Is1009SentencesOf15733Tokens_And836Entities_ReadAsBio()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("wnut17/emerging.dev.conll")));
        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        AssertCounts(data, 1_009, 15_733, new()
        {
            ["person"] = 470,
            ["location"] = 74,
            ["corporation"] = 34,
            ["product"] = 114,
            ["creative-work"] = 105,
            ["group"] = 39,
        });
        // The zero-width characters inside tokens are kept as written: removing them is the tokenizer's job.
        Assert.IsTrue(data.Sentences.Any(s => s.Words.Contains("Dubbz\uFEFF")));
    }

    [TestMethod]
    public void Wnut17Test_Is1287SentencesOf23394Tokens_And1079Entities_ReadAsBio()
    {
        var data = ConllReader.Read(new ConllReadOptions(TestData.Require("wnut17/emerging.test.annotated")));
        Assert.AreEqual(TagScheme.Bio, data.SourceScheme);
        AssertCounts(data, 1_287, 23_394, new()
        {
            ["person"] = 429,
            ["location"] = 150,
            ["corporation"] = 66,
            ["product"] = 127,
            ["creative-work"] = 142,
            ["group"] = 165,
        });
    }
}
