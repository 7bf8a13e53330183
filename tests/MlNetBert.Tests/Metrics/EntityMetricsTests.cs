using MlNetBert.Evaluation;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class EntityMetricsTests
{
    private static EntityMetrics Score(string[][] gold, string[][] predicted) => EntityMetrics.Compute(gold, predicted);

    [TestMethod]
    public void Entities_AreReadTheConllevalWay()
    {
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 2), new EntitySpan("LOC", 3, 4) },
            EntityMetrics.Entities(["B-PER", "I-PER", "O", "B-LOC"]).ToArray());
        // I- without B- starts an entity; a type change or a B- ends one.
        CollectionAssert.AreEqual(new[] { new EntitySpan("PER", 1, 3) }, EntityMetrics.Entities(["O", "I-PER", "I-PER"]).ToArray());
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 1), new EntitySpan("LOC", 1, 2) }, EntityMetrics.Entities(["B-PER", "I-LOC"]).ToArray());
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 1), new EntitySpan("PER", 1, 2) }, EntityMetrics.Entities(["B-PER", "B-PER"]).ToArray());
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("creative-work", 0, 2) }, EntityMetrics.Entities(["B-creative-work", "I-creative-work"]).ToArray());
    }

    [TestMethod]
    public void PerfectPredictions_ScoreOne()
    {
        string[][] gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]];
        var m = Score(gold, gold);
        Assert.AreEqual((1.0, 1.0, 1.0, 1.0), (m.Precision, m.Recall, m.F1, m.TokenAccuracy));
        Assert.AreEqual(3, m.CorrectEntities);
        Assert.IsTrue(m.PerType.All(t => t.F1 == 1.0));
        CollectionAssert.AreEqual(new[] { "LOC", "ORG", "PER" }, m.PerType.Select(t => t.Type).ToArray());
    }

    [TestMethod]
    public void RightSpanWrongType_IsAMissAndAFalseAlarm()
    {
        // Gold PER(0-2), LOC(3); predicted ORG(0-2), LOC(3): 1 of 2 right both ways.
        var m = Score([["B-PER", "I-PER", "O", "B-LOC"]], [["B-ORG", "I-ORG", "O", "B-LOC"]]);
        Assert.AreEqual((0.5, 0.5, 0.5), (m.Precision, m.Recall, m.F1));
        Assert.AreEqual(0.5, m.TokenAccuracy);
        var perType = m.PerType.ToDictionary(t => t.Type);
        Assert.AreEqual(new EntityTypeMetrics("LOC", 1, 1, 1, 1, 1, 1), perType["LOC"]);
        Assert.AreEqual(new EntityTypeMetrics("ORG", 0, 0, 0, 0, 1, 0), perType["ORG"]);
        Assert.AreEqual(new EntityTypeMetrics("PER", 0, 0, 0, 1, 0, 0), perType["PER"]);
    }

    [TestMethod]
    public void PartialSpan_CountsForNothing()
    {
        var m = Score([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]]);
        Assert.AreEqual((0.0, 0.0, 0.0), (m.Precision, m.Recall, m.F1));
        Assert.AreEqual(2.0 / 3, m.TokenAccuracy, 1e-12);
    }

    [TestMethod]
    public void SeqevalReadmeExample_ScoresHalf()
    {
        // Gold MISC(3-6) and PER(0-2); predicted MISC(2-6) and PER(0-2): 1 right of 2 predicted and 2 gold.
        string[][] gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
        string[][] predicted = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
        var m = Score(gold, predicted);
        Assert.AreEqual((0.5, 0.5, 0.5), (m.Precision, m.Recall, m.F1));
        Assert.AreEqual(0.8, m.TokenAccuracy, 1e-12); // words 2 and 3 differ
        Assert.AreEqual(0.0, m.PerType.Single(t => t.Type == "MISC").F1);
        Assert.AreEqual(1.0, m.PerType.Single(t => t.Type == "PER").F1);
    }

    [TestMethod]
    public void PredictedIWithoutB_StillMatchesTheGoldEntity()
    {
        var m = Score([["B-LOC", "I-LOC", "O"]], [["I-LOC", "I-LOC", "O"]]);
        Assert.AreEqual(1.0, m.F1);
        Assert.AreEqual(2.0 / 3, m.TokenAccuracy, 1e-12);
    }

    [TestMethod]
    public void UnequalPrecisionAndRecall_GiveTheHarmonicMean()
    {
        // Gold: PER(0), LOC(2), ORG(4). Predicted: PER(0), LOC(2). P = 2/2, R = 2/3, F1 = 0.8.
        var m = Score([["B-PER", "O", "B-LOC", "O", "B-ORG"]], [["B-PER", "O", "B-LOC", "O", "O"]]);
        Assert.AreEqual(1.0, m.Precision);
        Assert.AreEqual(2.0 / 3, m.Recall, 1e-12);
        Assert.AreEqual(0.8, m.F1, 1e-12);
    }

    [TestMethod]
    public void Json_HasTheEvaluateNames()
    {
        var json = Score([["B-PER", "O"]], [["B-PER", "O"]]).ToJsonObject();
        Assert.AreEqual(1.0, json["f1"]!.GetValue<double>());
        Assert.AreEqual(1.0, json["per_type"]!["PER"]!["f1"]!.GetValue<double>());
        Assert.AreEqual(1.0, json["token_accuracy"]!.GetValue<double>());
    }

    [TestMethod]
    public void MismatchedLengths_AreRejected()
    {
        Assert.ThrowsExactly<ArgumentException>(() => Score([["O", "O"]], [["O"]]));
        Assert.ThrowsExactly<ArgumentException>(() => Score([["O"]], [["X-PER"]]));
    }
}
