using MlNetBert.Tasks;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.MlNet;
using MlNetBert.Modeling;
using MlNetBert.Training;

namespace MlNetBert.Tests;

public sealed class PairRow
{
    public string A { get; set; } = "";
    public string B { get; set; } = "";
    public float Label { get; set; }
}

public sealed class ScoreOnly
{
    public float Score { get; set; }
}

[TestClass]
public sealed class TrainingBehaviourTests
{
    // Small and fast: 64 short SST-2 rows, one epoch, sequences of at most 32 tokens.
    private static BertTrainingOptions Tiny(FreezeSpec? freeze = null) => new()
    {
        TextColumnName = nameof(SentimentRow.Sentence),
        Epochs = 1,
        BatchSize = 16,
        LearningRate = 1e-4,
        MaxSequenceLength = 32,
        Seed = 11,
        Freeze = freeze ?? FreezeSpec.None,
    };

    private static (MLContext Ml, IDataView Data) TinyData()
    {
        var ml = new MLContext(seed: 1);
        var rows = TestData.Sst2("train", 64).Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToList();
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        return (ml, keyed);
    }

    [TestMethod]
    public void SameSeed_GivesBitIdenticalWeightsAndLosses()
    {
        var (ml, data) = TinyData();
        using var first = ml.MulticlassClassification.Trainers.BertTextClassification(Tiny()).Fit(data);
        using var second = ml.MulticlassClassification.Trainers.BertTextClassification(Tiny()).Fit(data);
        CollectionAssert.AreEqual(first.Model.History!.Steps.Select(s => s.Loss).ToArray(), second.Model.History!.Steps.Select(s => s.Loss).ToArray());
        var a = first.Model.ExportTensors();
        var b = second.Model.ExportTensors();
        foreach (var (name, t) in a)
            CollectionAssert.AreEqual(t.Data, b[name].Data, $"{name} differs between two runs with the same seed");
    }

    [TestMethod]
    public void FrozenParameters_AreBitForBitUnchanged()
    {
        var (ml, data) = TinyData();
        using var model = ml.MulticlassClassification.Trainers.BertTextClassification(Tiny(FreezeSpec.Bottom(3))).Fit(data);
        var pretrained = new CheckpointStore().Resolve("minilm-l6").LoadTensors();
        var tuned = model.Model.ExportTensors();
        int frozen = 0, moved = 0;
        foreach (var (name, t) in tuned)
        {
            if (!pretrained.TryGetValue(name, out var before))
                continue;
            bool same = t.Data.AsSpan().SequenceEqual(before.Data);
            if (FreezeSpec.Bottom(3).IsFrozen(name))
            {
                Assert.IsTrue(same, $"{name} is frozen but changed");
                frozen++;
            }
            else if (!same)
            {
                moved++;
            }
        }
        Assert.AreEqual(5 + 3 * 16, frozen, "embeddings (5 tensors) and 3 layers (16 tensors each)");
        Assert.IsTrue(moved > 40, $"the unfrozen layers should train ({moved} tensors changed)");
        Assert.AreEqual(model.Model.History!.TotalParameters - model.Model.History.TrainableParameters,
            pretrained.Where(kv => FreezeSpec.Bottom(3).IsFrozen(kv.Key)).Sum(kv => kv.Value.ElementCount));
    }

    [TestMethod]
    public void ReinitializeTopLayers_GivesTheTopLayerFreshWeights_AndLeavesTheRestPretrained()
    {
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var pretrained = checkpoint.LoadTensors();
        TorchSharp.torch.manual_seed(5);
        using var model = BertModel.FromCheckpoint(checkpoint);

        model.ReinitializeTopLayers(1);

        int top = checkpoint.Config.NumHiddenLayers - 1, checkedTensors = 0;
        foreach (var (name, parameter) in model.named_parameters())
        {
            float[] values = parameter.data<float>().ToArray();
            if (!name.StartsWith($"encoder.layer.{top}.", StringComparison.Ordinal))
            {
                CollectionAssert.AreEqual(pretrained[name].Data, values, $"{name} is below the re-initialised layer and must keep its pretrained values");
                continue;
            }
            checkedTensors++;
            if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
                Assert.IsTrue(values.All(v => v == 1f), name);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                Assert.IsTrue(values.All(v => v == 0f), name);
            else
            {
                double mean = values.Average(v => (double)v), sd = Math.Sqrt(values.Average(v => (double)v * v) - mean * mean);
                Assert.AreEqual(0.0, mean, 1e-3, $"{name}: mean");
                Assert.AreEqual(checkpoint.Config.InitializerRange, sd, 0.05 * checkpoint.Config.InitializerRange, $"{name}: standard deviation");
            }
        }
        Assert.AreEqual(16, checkedTensors, "one layer has 16 tensors");
    }

    [TestMethod]
    public void ReinitializeTopLayers_WithThoseLayersFrozen_IsRefused()
    {
        var (ml, data) = TinyData();
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            ml.MulticlassClassification.Trainers.BertTextClassification(Tiny(FreezeSpec.Encoder) with { ReinitializeTopLayers = 1 }).Fit(data));
        StringAssert.Contains(ex.Message, "ReinitializeTopLayers = 1 conflicts with Freeze = encoder");
    }

    [TestMethod]
    public void MissingTextColumn_IsNamed()
    {
        var (ml, data) = TinyData();
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            ml.MulticlassClassification.Trainers.BertTextClassification(Tiny() with { TextColumnName = "Review" }).Fit(data));
        StringAssert.Contains(ex.Message, "text column 'Review' (TextColumnName) not found in the input (columns: Sentence, Label)");
    }

    [TestMethod]
    public void StringLabel_IsRejectedWithTheFix()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new SentimentRow { Sentence = "good", Label = "1" } });
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            ml.MulticlassClassification.Trainers.BertTextClassification(Tiny()).GetOutputSchema(MlNetSchema.ShapeOf(data.Schema)));
        StringAssert.Contains(ex.Message, "label column 'Label' must be a key type, found String");
        StringAssert.Contains(ex.Message, "MapValueToKey(\"Label\")");
    }

    [TestMethod]
    public void TextColumnOfWrongType_IsNamed()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new ScoreOnly { Score = 1 } });
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            ml.Regression.Trainers.BertSentenceSimilarity(new BertTrainingOptions { TextColumnName = "Score", Text2ColumnName = "Score", LabelColumnName = "Label" })
                .GetOutputSchema(MlNetSchema.ShapeOf(data.Schema)));
        StringAssert.Contains(ex.Message, "text column 'Score' must be a scalar string (Text), found Single");
    }

    [TestMethod]
    public void ValidationLabelUnseenInTraining_IsNamed()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.Sst2("train", 32).Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label == 1 ? "pos" : "neg" }).ToList();
        var valid = new List<SentimentRow> { new() { Sentence = "fine", Label = "neg" }, new() { Sentence = "meh", Label = "neutral" } };
        var trainView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train)).Transform(ml.Data.LoadFromEnumerable(train));
        var validView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(valid)).Transform(ml.Data.LoadFromEnumerable(valid));
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            ml.MulticlassClassification.Trainers.BertTextClassification(Tiny() with { ValidationSet = validView }).Fit(trainView));
        StringAssert.Contains(ex.Message, "validation data, row 2: label 'neutral' in column 'Label' does not occur in the training data (known: ");
    }

    [TestMethod]
    public void InvalidOption_IsRejectedWithTheRange()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => new BertTrainingOptions { MaxSequenceLength = 1024 }.Validate());
        StringAssert.Contains(ex.Message, "option MaxSequenceLength = 1024 is invalid: expected 8 to 512");
    }

    [TestMethod]
    [DataRow("embeddings.word_embeddings.weight", 0.8 * 0.8 * 0.8 * 0.8 * 0.8 * 0.8 * 0.8)]
    [DataRow("encoder.layer.0.attention.self.query.weight", 0.8 * 0.8 * 0.8 * 0.8 * 0.8 * 0.8)]
    [DataRow("encoder.layer.5.output.LayerNorm.bias", 0.8)]
    [DataRow("pooler.dense.weight", 1.0)]
    public void LayerwiseDecay_ScalesEachLayerByItsDepth(string name, double expected)
    {
        Assert.AreEqual(expected, BertFineTuner.LayerwiseMultiplier(name, layers: 6, decay: 0.8), 1e-12);
        Assert.AreEqual(1.0, BertFineTuner.LayerwiseMultiplier(name, layers: 6, decay: 1.0), "decay 1 is off");
    }

    [TestMethod]
    public void FreezeBottom_FreezesEmbeddingsAndLayersBelowK_Only()
    {
        var freeze = FreezeSpec.Bottom(2);
        Assert.IsTrue(freeze.IsFrozen("embeddings.LayerNorm.weight"));
        Assert.IsTrue(freeze.IsFrozen("encoder.layer.1.intermediate.dense.weight"));
        Assert.IsFalse(freeze.IsFrozen("encoder.layer.2.intermediate.dense.weight"));
        Assert.IsFalse(freeze.IsFrozen("encoder.layer.10.output.dense.bias"), "layer 10 is not layer 1");
        Assert.IsFalse(freeze.IsFrozen("pooler.dense.weight"));
    }

    [TestMethod]
    public void AverageWeightsOverLast_EndsWithTheMeanOfTheLastSteps()
    {
        var (examples, Network) = TestData.SeededSst2Classifier();
        static Dictionary<string, float[]> Weights(BertClassifier network) =>
            network.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().cpu().data<float>().ToArray());

        // 64 rows in batches of 16 = 4 steps; record the weights after each step of a plain run.
        using var plain = Network();
        var afterStep = new List<Dictionary<string, float[]>>();
        var record = new SynchronousProgress(p => { if (!p.EndOfEpoch) afterStep.Add(Weights(plain)); });
        new BertFineTuner(Tiny() with { Progress = record }, ClassificationTraining.Text).Train(plain, examples, null);
        Assert.AreEqual(4, afterStep.Count);

        // The same run averaging the last half of its steps ends with the mean of steps 3 and 4.
        using var averaged = Network();
        new BertFineTuner(Tiny() with { AverageWeightsOverLast = 0.5 }, ClassificationTraining.Text).Train(averaged, examples, null);
        double worst = 0, moved = 0;
        foreach (var (name, final) in Weights(averaged))
            for (int i = 0; i < final.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(final[i] - (afterStep[2][name][i] + afterStep[3][name][i]) / 2));
                moved = Math.Max(moved, Math.Abs(afterStep[3][name][i] - afterStep[2][name][i]));
            }
        Console.WriteLine($"max |final - mean(step 3, step 4)| = {worst:E2}; the last step moved weights by up to {moved:E2}");
        Assert.IsTrue(worst < 1e-7, $"averaged weights differ from the mean of the last two steps by {worst:E2}");
        Assert.IsTrue(moved > 1e-5, "the last two steps must differ for the check to mean anything");
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    [TestMethod]
    public void Schedule_WarmsUpLinearlyThenDecaysToZero()
    {
        Assert.AreEqual(1e-5, BertFineTuner.ScheduledRate(0, 10, 100, 1e-4), 1e-12);
        Assert.AreEqual(1e-4, BertFineTuner.ScheduledRate(9, 10, 100, 1e-4), 1e-12);
        Assert.AreEqual(0.5e-4, BertFineTuner.ScheduledRate(55, 10, 100, 1e-4), 1e-12);
        Assert.AreEqual(1e-4 / 90, BertFineTuner.ScheduledRate(99, 10, 100, 1e-4), 1e-12);
    }

    [TestMethod]
    public void LengthGroupedBatches_CoverEveryRowOnce_WithLittlePadding()
    {
        var encoder = new CheckpointStore().Resolve("minilm-l6").CreateEncoder();
        var examples = TestData.Sst2("train", 2000).Select(r => new TrainingExample(encoder.Encode(r.Text, null, 128), r.Label, 0)).ToList();
        var batches = BertFineTuner.LengthGroupedBatches(examples, 32, new Random(3));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 2000).ToArray(), batches.SelectMany(b => b).ToArray());
        long real = examples.Sum(e => (long)e.Input.Length);
        long padded = batches.Sum(b => (long)b.Length * b.Max(i => examples[i].Input.Length));
        Console.WriteLine($"real tokens {real}, padded {padded}: {100.0 * real / padded:F1}% real");
        Assert.IsTrue(real > 0.9 * padded, "length grouping should keep padding under 10%");
        CollectionAssert.AreEqual(batches.SelectMany(b => b).ToArray(),
            BertFineTuner.LengthGroupedBatches(examples, 32, new Random(3)).SelectMany(b => b).ToArray(), "seeded");
    }
}
