using MlNetBert.Analysis;

namespace MlNetBert.Tests.Metrics;

[TestClass]
public sealed class WeightChangeMeasuresTests
{
    private static Dictionary<string, float[]> Pretrained() => new()
    {
        ["bert.embeddings.word_embeddings.weight"] = [1, 2, 2],
        ["bert.encoder.layer.0.attention.self.query.weight"] = [3],
        ["bert.encoder.layer.0.attention.output.dense.weight"] = [4],
        ["bert.encoder.layer.0.intermediate.dense.weight"] = [0.5f, -0.5f],
        ["bert.pooler.dense.weight"] = [2, 0],
    };

    [TestMethod]
    public void IdenticalModels_ChangeByExactlyZero()
    {
        var report = WeightChange.Relative(Pretrained(), Pretrained(), WeightChange.DefaultGroup);

        Assert.HasCount(4, report.Groups);
        foreach (var g in report.Groups)
        {
            Assert.AreEqual(0.0, g.Relative, g.Group);
            Assert.AreEqual(0.0, g.ChangeNorm, g.Group);
        }
    }

    [TestMethod]
    public void KnownPerturbation_GivesHandComputedRatio_OverTheGroupsConcatenatedTensors()
    {
        // layer.0.attention is [3] ++ [4], norm 5; moving it by (1.5, 2), norm 2.5, is a change of 0.5.
        var finetuned = Pretrained();
        finetuned["bert.encoder.layer.0.attention.self.query.weight"] = [4.5f];
        finetuned["bert.encoder.layer.0.attention.output.dense.weight"] = [6];

        var report = WeightChange.Relative(Pretrained(), finetuned, WeightChange.DefaultGroup);

        var attention = report.Groups.Single(g => g.Group == "layer.0.attention");
        Assert.AreEqual(new WeightChangeGroup("layer.0.attention", 0.5, 2.5, 5, 2, 2), attention);
        Assert.AreEqual(0.0, report.Groups.Single(g => g.Group == "embeddings").Relative);
    }

    [TestMethod]
    public void TensorsOnOneSideOnly_AreListed_NotCompared()
    {
        var pretrained = Pretrained();
        pretrained["cls.predictions.bias"] = [1];
        var finetuned = Pretrained();
        finetuned["classifier.weight"] = [1, 1];

        var report = WeightChange.Relative(pretrained, finetuned, WeightChange.DefaultGroup);

        CollectionAssert.AreEqual(new[] { "cls.predictions.bias" }, report.OnlyInPretrained.ToArray());
        CollectionAssert.AreEqual(new[] { "classifier.weight" }, report.OnlyInFinetuned.ToArray());
        Assert.IsFalse(report.Groups.Any(g => g.Group is "head" or "other"));
    }

    [TestMethod]
    public void Groups_AreOrderedWithLayerNumbersComparedAsNumbers()
    {
        var weights = new Dictionary<string, float[]>
        {
            ["encoder.layer.10.output.dense.weight"] = [1],
            ["pooler.dense.bias"] = [1],
            ["encoder.layer.2.output.dense.weight"] = [1],
            ["embeddings.LayerNorm.weight"] = [1],
        };

        var groups = WeightChange.Relative(weights, weights, WeightChange.DefaultGroup).Groups.Select(g => g.Group).ToArray();

        CollectionAssert.AreEqual(new[] { "embeddings", "layer.2.feed_forward", "layer.10.feed_forward", "pooler" }, groups);
    }

    [TestMethod]
    public void Relative_RejectsTensorWhoseLengthChanged()
    {
        var finetuned = Pretrained();
        finetuned["bert.pooler.dense.weight"] = [2, 0, 0];
        var e = Assert.ThrowsExactly<ArgumentException>(() => WeightChange.Relative(Pretrained(), finetuned, WeightChange.DefaultGroup));
        StringAssert.Contains(e.Message, "'bert.pooler.dense.weight' has 2 values in the pretrained weights but 3");
    }

    [TestMethod]
    [DataRow("bert.embeddings.word_embeddings.weight", "embeddings")]
    [DataRow("embeddings.LayerNorm.bias", "embeddings")]
    [DataRow("bert.encoder.layer.3.attention.self.query.weight", "layer.3.attention")]
    [DataRow("encoder.layer.3.attention.self.value.bias", "layer.3.attention")]
    [DataRow("encoder.layer.3.attention.output.dense.weight", "layer.3.attention")]
    [DataRow("encoder.layer.3.attention.output.LayerNorm.weight", "layer.3.layer_norm")]
    [DataRow("encoder.layer.11.intermediate.dense.weight", "layer.11.feed_forward")]
    [DataRow("encoder.layer.11.output.dense.bias", "layer.11.feed_forward")]
    [DataRow("encoder.layer.11.output.LayerNorm.bias", "layer.11.layer_norm")]
    [DataRow("bert.pooler.dense.weight", "pooler")]
    [DataRow("classifier.weight", "head")]
    [DataRow("cls.predictions.transform.dense.weight", "other")]
    public void DefaultGroup_MapsHuggingFaceBertNames(string name, string group)
    {
        Assert.AreEqual(group, WeightChange.DefaultGroup(name));
    }
}
