using Microsoft.ML;
using MlNetBert.MlNet;
using MlNetBert.Modeling;
using MlNetBert.Training;

namespace MlNetBert.Tests;

[TestClass]
public sealed class SentenceSimilarityTrainingTests
{
    // A cross-encoder fine-tuned on 500 real STS-B training pairs, scored on 200 held-out dev pairs.
    [TestMethod]
    public void CrossEncoder_ReachesSpearmanBar_OnStsbDev()
    {
        var ml = new MLContext(seed: 1);
        var train = TestData.Stsb("train", 500).Select(r => new PairRow { A = r.A, B = r.B, Label = r.Score }).ToList();
        var dev = TestData.Stsb("dev", 200).Select(r => new PairRow { A = r.A, B = r.B, Label = r.Score }).ToList();
        var options = new BertTrainingOptions
        {
            TextColumnName = nameof(PairRow.A),
            Text2ColumnName = nameof(PairRow.B),
            LabelColumnName = nameof(PairRow.Label),
            Epochs = 2,
            BatchSize = 16,
            LearningRate = 1e-4,
            MaxSequenceLength = 64,
            Pooling = Pooling.Mean,
            Seed = 5,
        };
        using var model = ml.Regression.Trainers.BertSentenceSimilarity(options).Fit(ml.Data.LoadFromEnumerable(train));
        var scored = ml.Data.CreateEnumerable<ScoreOnly>(model.Transform(ml.Data.LoadFromEnumerable(dev)), reuseRowObject: false).Select(s => s.Score).ToList();
        var metrics = MlNetBert.Evaluation.RegressionMetrics.Compute(dev.Select(d => d.Label).ToList(), scored);
        var mlnet = ml.Regression.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(dev)), nameof(PairRow.Label));
        Console.WriteLine($"STS-B dev (200 pairs): spearman {metrics.Spearman:F3}, pearson {metrics.Pearson:F3}, RMSE {mlnet.RootMeanSquaredError:F3}");
        Assert.IsTrue(metrics.Spearman >= 0.70, $"Spearman {metrics.Spearman:F3} is below the 0.70 bar");
        Assert.AreEqual(dev.Average(d => d.Label), scored.Average(), 0.5, "scores are on the label's 0..5 scale");
        Assert.AreEqual(metrics.Mse, mlnet.MeanSquaredError, 1e-3, "ML.NET's evaluator reads the same Score column");

        // The cross-encoder goes through mlContext.Model.Save/Load too, with bit-identical scores.
        string path = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.zip");
        try
        {
            var devView = ml.Data.LoadFromEnumerable(dev);
            ml.Model.Save(model, devView.Schema, path);
            var fresh = new MLContext(seed: 9);
            var loaded = fresh.Model.Load(path, out _);
            var reloaded = fresh.Data.CreateEnumerable<ScoreOnly>(loaded.Transform(fresh.Data.LoadFromEnumerable(dev)), reuseRowObject: false).Select(s => s.Score).ToList();
            CollectionAssert.AreEqual(scored, reloaded);
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
