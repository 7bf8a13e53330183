using MlNetBert.Data.TokenClassification;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class EntityTagsTests
{
    [TestMethod]
    [DataRow(new[] { "I-PER", "I-PER", "B-PER", "O", "I-LOC" }, new[] { "B-PER", "I-PER", "B-PER", "O", "B-LOC" }, DisplayName = "B- between two entities of one type stays")]
    [DataRow(new[] { "I-ORG", "I-LOC", "I-LOC" }, new[] { "B-ORG", "B-LOC", "I-LOC" }, DisplayName = "type change starts an entity")]
    [DataRow(new[] { "O", "I-MISC", "I-MISC", "O" }, new[] { "O", "B-MISC", "I-MISC", "O" }, DisplayName = "after O")]
    [DataRow(new[] { "B-MISC", "I-MISC" }, new[] { "B-MISC", "I-MISC" }, DisplayName = "B- after O (eng.train's two variant lines) stays")]
    [DataRow(new[] { "B-PER", "I-PER", "O", "B-LOC" }, new[] { "B-PER", "I-PER", "O", "B-LOC" }, DisplayName = "BIO is unchanged")]
    [DataRow(new[] { "I-creative-work", "I-creative-work" }, new[] { "B-creative-work", "I-creative-work" }, DisplayName = "hyphenated type")]
    public void Iob1ToBio_OnHandExamples(string[] iob1, string[] bio) =>
        CollectionAssert.AreEqual(bio, EntityTags.Iob1ToBio(iob1));

    [TestMethod]
    public void TryParse_SplitsOnTheFirstHyphenOnly()
    {
        Assert.IsTrue(EntityTags.TryParse("B-creative-work", out char prefix, out string type));
        Assert.AreEqual(('B', "creative-work"), (prefix, type));
        Assert.IsTrue(EntityTags.TryParse("O", out prefix, out _));
        Assert.AreEqual('O', prefix);
        foreach (string bad in new[] { "X-PER", "B-", "PER", "o", "b-PER", "B_PER", "" })
            Assert.IsFalse(EntityTags.TryParse(bad, out _, out _), bad);
    }

    [TestMethod]
    public void DetectScheme_EntitiesStartingWithI_MeanIob1_EvenWithAStrayBAfterO()
    {
        string[][] iob1 = [["I-PER", "I-PER", "O"], ["O", "I-LOC", "B-LOC"], ["B-MISC", "O"]];
        Assert.AreEqual(TagScheme.Iob1, EntityTags.DetectScheme(iob1));
    }

    [TestMethod]
    public void DetectScheme_EveryEntityStartingWithB_MeansBio()
    {
        string[][] bio = [["B-PER", "I-PER", "O"], ["O", "B-LOC", "B-LOC"], ["O"]];
        Assert.AreEqual(TagScheme.Bio, EntityTags.DetectScheme(bio));
        Assert.AreEqual(TagScheme.Bio, EntityTags.DetectScheme([["O", "O"]]));
    }

    [TestMethod]
    public void BioLabels_AreOThenBAndIOfEachTypeInOrdinalOrder()
    {
        CollectionAssert.AreEqual(
            new[] { "O", "B-LOC", "I-LOC", "B-PER", "I-PER" },
            EntityTags.BioLabels(["PER", "LOC", "PER"]).ToArray());
    }

    [TestMethod]
    public void ContinuationLabels_MapBToI_AndKeepTheRest()
    {
        var labels = EntityTags.BioLabels(["LOC", "PER"]); // O, B-LOC, I-LOC, B-PER, I-PER
        CollectionAssert.AreEqual(new[] { 0, 2, 2, 4, 4 }, EntityTags.ContinuationLabels(labels));
    }
}
