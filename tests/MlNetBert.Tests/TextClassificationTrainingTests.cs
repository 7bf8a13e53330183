using MlNetBert.Tasks;
using MlNetBert.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Tests;

public sealed class SentimentRow
{
    public string Sentence { get; set; } = "";
    public string Label { get; set; } = "";
}

public sealed class SentimentPrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}

/// <summary>
/// Fine-tunes minilm-l6 once on 5,000 real SST-2 training phrases (a seeded sample, one epoch, about 70 s on 2 cores)
/// and checks the fitted pipeline from several sides on dev rows 0-199, which training never sees.
/// </summary>
[TestClass]
public sealed class TextClassificationTrainingTests
{
    private static MLContext _ml = null!;
    private static ITransformer _model = null!;
    private static BertTransformer _bert = null!;
    private static IDataView _dev = null!;
    private static List<SentimentRow> _devRows = null!;
    private static double _untrainedAccuracy;

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        var sample = MlNetBert.Data.TabularReader.Read(new MlNetBert.Data.TabularReadOptions(TestData.Require("sst2/train.tsv")) { MaxRows = 5000, Seed = 42 });
        var train = sample.Rows.Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label == "1" ? "positive" : "negative" }).ToList();
        _devRows = TestData.Sst2("dev", 200).Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label == 1 ? "positive" : "negative" }).ToList();
        _dev = _ml.Data.LoadFromEnumerable(_devRows);
        var validRows = TestData.Sst2("dev", 400).Skip(200).Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label == 1 ? "positive" : "negative" });
        var keys = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(_ml.Data.LoadFromEnumerable(train));
        var options = new BertTrainingOptions
        {
            TextColumnName = nameof(SentimentRow.Sentence),
            Epochs = 1,
            BatchSize = 32,
            LearningRate = 1e-4,
            MaxSequenceLength = 64,
            Pooling = MlNetBert.Modeling.Pooling.Mean,
            ValidationSet = keys.Transform(_ml.Data.LoadFromEnumerable(validRows)),
            Seed = 7,
        };
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.MulticlassClassification.Trainers.BertTextClassification(options))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        _model = pipeline.Fit(_ml.Data.LoadFromEnumerable(train));
        _bert = ((IEnumerable<ITransformer>)_model).OfType<BertTransformer>().Single();

        // The same network with its head as initialised (no training): the bar must be well above it.
        var checkpoint = new MlNetBert.Checkpoints.CheckpointStore().Resolve("minilm-l6");
        TorchSharp.torch.manual_seed(options.Seed);
        var network = new MlNetBert.Modeling.BertClassifier(checkpoint.Config, 2, MlNetBert.Modeling.Pooling.Mean);
        network.Bert.LoadWeights(checkpoint.LoadTensors(), checkpoint.WeightsPath);
        using var untrained = new BertTaskModel(network, _bert.Model.Card, checkpoint.Config, File.ReadAllText(checkpoint.VocabPath));
        var probabilities = untrained.PredictBatch(_devRows.Select(r => r.Sentence).ToList()).Select(p => p.Probabilities!).ToArray();
        _untrainedAccuracy = _devRows.Where((r, i) => _bert.Model.Card.Labels[Scores.ArgMax(probabilities[i])] == r.Label).Count() / (double)_devRows.Count;
    }

    [ClassCleanup]
    public static void Cleanup() => _bert?.Dispose();

    [TestMethod]
    public void FineTuned_ReachesAccuracyBar_OnSst2Dev()
    {
        var metrics = _ml.MulticlassClassification.Evaluate(_model.Transform(_dev));
        Console.WriteLine($"SST-2 dev (200 rows): accuracy {metrics.MacroAccuracy:F3}, log-loss {metrics.LogLoss:F3}, steps {_bert.Model.History!.Steps.Count}, {_bert.Model.History.SamplesPerSecond:F1} samples/s");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.80, $"accuracy {metrics.MicroAccuracy:F3} is below the 0.80 bar");
        Console.WriteLine($"untrained head: accuracy {_untrainedAccuracy:F3}");
        Assert.IsTrue(metrics.MicroAccuracy > _untrainedAccuracy + 0.2, $"untrained head already reaches {_untrainedAccuracy:F3}");
        Assert.IsTrue(metrics.LogLoss > 0 && metrics.LogLoss < 0.6, $"log-loss {metrics.LogLoss:F3} should be meaningful (probabilities, not logits)");
    }

    [TestMethod]
    public void Score_IsProbabilities_AndPredictedLabelIsTheArgmax()
    {
        var scored = _ml.Data.CreateEnumerable<SentimentPrediction>(_model.Transform(_dev), reuseRowObject: false).ToList();
        Assert.AreEqual(200, scored.Count);
        foreach (var p in scored)
        {
            Assert.AreEqual(2, p.Score.Length);
            Assert.AreEqual(1.0, p.Score.Sum(), 1e-5);
            Assert.AreEqual(_bert.Model.Card.Labels[p.Score[0] >= p.Score[1] ? 0 : 1], p.PredictedLabel, "Score slots follow the label key order");
        }
    }

    [TestMethod]
    public void PredictionEngine_MatchesBatchedTransform()
    {
        var engine = _ml.Model.CreatePredictionEngine<SentimentRow, SentimentPrediction>(_model);
        var batched = _ml.Data.CreateEnumerable<SentimentPrediction>(_model.Transform(_dev), reuseRowObject: false).ToList();
        for (int i = 0; i < 40; i++)
        {
            var single = engine.Predict(_devRows[i]);
            Assert.AreEqual(batched[i].PredictedLabel, single.PredictedLabel);
            for (int k = 0; k < 2; k++)
                Assert.AreEqual(batched[i].Score[k], single.Score[k], 1e-5, "padding to a longer batch must not change a row's probabilities");
        }
    }

    [TestMethod]
    public void MlNetModelSaveThenLoad_InAFreshContext_GivesIdenticalPredictions()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.zip");
        try
        {
            _ml.Model.Save(_model, _dev.Schema, path);
            using (var zip = System.IO.Compression.ZipFile.OpenRead(path))
            {
                var weights = zip.Entries.Single(e => e.Name == "MlNetBertModel.bin");
                Assert.IsTrue(weights.Length > 80_000_000, $"the weights live inside the .zip ({weights.Length} bytes)");
            }
            var fresh = new MLContext(seed: 5);
            var loaded = fresh.Model.Load(path, out var inputSchema);
            Assert.IsNotNull(inputSchema.GetColumnOrNull(nameof(SentimentRow.Sentence)));
            var before = _ml.Data.CreateEnumerable<SentimentPrediction>(_model.Transform(_dev), reuseRowObject: false).ToList();
            var after = fresh.Data.CreateEnumerable<SentimentPrediction>(loaded.Transform(fresh.Data.LoadFromEnumerable(_devRows)), reuseRowObject: false).ToList();
            Assert.AreEqual(before.Count, after.Count);
            for (int i = 0; i < before.Count; i++)
            {
                Assert.AreEqual(before[i].PredictedLabel, after[i].PredictedLabel);
                CollectionAssert.AreEqual(before[i].Score, after[i].Score, "bit-identical probabilities after Model.Save/Load");
            }
            var engine = fresh.Model.CreatePredictionEngine<SentimentRow, SentimentPrediction>(loaded);
            Assert.AreEqual(before[0].PredictedLabel, engine.Predict(_devRows[0]).PredictedLabel);
            foreach (var disposable in ((IEnumerable<ITransformer>)loaded).OfType<IDisposable>())
                disposable.Dispose();

            // MlNetBert's own loader reads the transformer back out of the ML.NET .zip (what `mlnetbert train` writes).
            using var direct = BertTaskModel.Load(path);
            var texts = _devRows.Select(r => r.Sentence).ToList();
            var expected = _bert.Model.PredictBatch(texts).Select(p => p.Probabilities!).ToArray();
            var actual = direct.PredictBatch(texts).Select(p => p.Probabilities!).ToArray();
            for (int i = 0; i < texts.Count; i++)
                CollectionAssert.AreEqual(expected[i], actual[i], "bit-identical probabilities from BertTaskModel.Load of the ML.NET .zip");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void SaveThenLoad_GivesIdenticalPredictions()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.zip");
        try
        {
            _bert.SaveTo(path);
            using var loaded = _ml.Model.LoadBertModel(path);
            var texts = _devRows.Select(r => r.Sentence).ToList();
            var before = _bert.Model.PredictBatch(texts).Select(p => p.Probabilities!).ToArray();
            var after = loaded.Model.PredictBatch(texts).Select(p => p.Probabilities!).ToArray();
            for (int i = 0; i < texts.Count; i++)
                CollectionAssert.AreEqual(before[i], after[i], "bit-identical probabilities after save/load");
            CollectionAssert.AreEqual(_bert.Model.Card.Labels.ToArray(), loaded.Model.Card.Labels.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
