using MlNetBert.Evaluation;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class SquadMetricsTests
{
    [TestMethod]
    [DataRow("The  Broncos' defense!", "broncos defense", DisplayName = "case, punctuation, article, spaces")]
    [DataRow("Denver Broncos.", "denver broncos")]
    [DataRow("An apple a day", "apple day", DisplayName = "all three articles")]
    [DataRow("theater anthem", "theater anthem", DisplayName = "articles only as whole words")]
    [DataRow("A-team", "ateam", DisplayName = "punctuation goes before articles, so the hyphen joins")]
    [DataRow("e.g. the U.S.", "eg us")]
    [DataRow("$1,000.50", "100050", DisplayName = "ASCII symbols are punctuation here")]
    [DataRow("\u201CQuoted\u201D \u2014 dash", "\u201Cquoted\u201D \u2014 dash", DisplayName = "Unicode quotes and dashes stay")]
    [DataRow("  tabs\tand\nnew lines  ", "tabs and new lines")]
    [DataRow("the", "")]
    public void Normalize_OnHandWorkedCases(string text, string normalized) =>
        Assert.AreEqual(normalized, SquadMetrics.Normalize(text));

    [TestMethod]
    public void ExactMatch_IsTheBestOverGoldAnswers()
    {
        Assert.AreEqual(1.0, SquadMetrics.ExactMatchOf("the Denver Broncos", ["Broncos", "Denver Broncos"]));
        Assert.AreEqual(0.0, SquadMetrics.ExactMatchOf("Denver", ["Broncos", "Denver Broncos"]));
    }

    [TestMethod]
    public void F1_CountsCommonTokensAsAMultiset()
    {
        // [denver, broncos, team] vs [denver, broncos]: P = 2/3, R = 1, F1 = 0.8.
        Assert.AreEqual(0.8, SquadMetrics.F1Of("the Denver Broncos team", ["Denver Broncos"]), 1e-12);
        // [x, x, y] vs [x, y, y]: common {x, y} = 2; P = R = 2/3.
        Assert.AreEqual(2.0 / 3, SquadMetrics.F1Of("x x y", ["x y y"]), 1e-12);
        // Best over gold answers.
        Assert.AreEqual(1.0, SquadMetrics.F1Of("Broncos", ["Denver Broncos", "Broncos"]));
        Assert.AreEqual(0.0, SquadMetrics.F1Of("Panthers", ["Denver Broncos"]));
    }

    [TestMethod]
    public void BothEmptyAfterNormalizing_IsAnExactMatchWithF1Zero_AsInV11()
    {
        Assert.AreEqual(1.0, SquadMetrics.ExactMatchOf("the", ["a"]));
        Assert.AreEqual(0.0, SquadMetrics.F1Of("the", ["a"]));
    }

    [TestMethod]
    public void Compute_AveragesOverEveryQuestion_AMissingPredictionScoresZero()
    {
        var m = SquadMetrics.Compute(
            ["Denver Broncos", "the Denver Broncos team", null],
            [["Denver Broncos"], ["Denver Broncos"], ["Carolina Panthers"]]);
        Assert.AreEqual(1.0 / 3, m.ExactMatch, 1e-12);
        Assert.AreEqual((1.0 + 0.8) / 3, m.F1, 1e-12);
        Assert.AreEqual(3, m.Count);
        Assert.AreEqual(m.F1, m.ToJsonObject()["f1"]!.GetValue<double>());
    }
}
