namespace MlNetBert.Inference.Tests;

/// <summary>How raw text becomes words, and how predicted word tags become entities with offsets into the input.</summary>
[TestClass]
public sealed class TokenClassificationTaskTests
{
    private static string[] Words(string text) => TextWords.Split(text).Select(w => w.Text).ToArray();

    [TestMethod]
    public void Split_PeelsSentencePunctuation_ButKeepsAbbreviationsAndInnerPunctuation()
    {
        CollectionAssert.AreEqual(new[] { "John", "lives", "in", "Berlin", "." }, Words("John lives in Berlin."));
        CollectionAssert.AreEqual(new[] { "(", "U.S.", "Treasury", ")", "said", ":", "\"", "no", "\"", "," }, Words("(U.S. Treasury) said: \"no\","));
        CollectionAssert.AreEqual(new[] { "J.", "Smith", "of", "Lion-Nathan", "paid", "3.5", "million", "..." }, Words("J. Smith of Lion-Nathan paid 3.5 million ..."));
        CollectionAssert.AreEqual(new[] { "Germany", "'s", "call", "--", "don't" }, Words("Germany's call -- don't"));
    }

    [TestMethod]
    public void Split_GivesOffsetsIntoTheInput_AndMarksTheFirstWordOfEachSpaceSeparatedWord()
    {
        const string text = "  Ada  Lovelace, born\tin London.";
        var words = TextWords.Split(text);
        foreach (var w in words)
            Assert.AreEqual(w.Text, text[w.Start..w.End]);
        CollectionAssert.AreEqual(new[] { true, true, false, true, true, true, false }, words.Select(w => w.StartsSpaceWord).ToArray());
        Assert.HasCount(0, TextWords.Split(" \t "));
    }

    [TestMethod]
    public void Entities_FollowConllevalReading_AndAreCutFromTheOriginalString()
    {
        const string text = "Ada Lovelace was born in London.";
        var words = TextWords.Split(text);
        string[] tags = ["B-PER", "I-PER", "O", "O", "O", "I-LOC", "O"];
        var predicted = words.Select((w, i) => new WordPrediction(w.Text, w.Start, w.End, tags[i], 0, i == 1 ? 0.5f : 0.9f, w.StartsSpaceWord)).ToArray();
        var entities = TokenClassificationTask.Entities(text, predicted);
        Assert.HasCount(2, entities);
        Assert.AreEqual(new Entity("PER", "Ada Lovelace", 0, 12, 0.7f), entities[0] with { Score = MathF.Round(entities[0].Score, 4) });
        Assert.AreEqual(("LOC", "London", 25, 31), (entities[1].Type, entities[1].Text, entities[1].Start, entities[1].End), "an I- without B- still starts an entity; the period is not part of it");
    }
}
