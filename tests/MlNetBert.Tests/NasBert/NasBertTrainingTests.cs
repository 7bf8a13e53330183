using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.TorchSharp;
using MlNetBert.NasBert;

namespace MlNetBert.Tests.NasBert;

/// <summary>ML.NET's own NAS-BERT trainers run here (with the compatibility patch): Fit, Save, Load, PredictionEngine, Transform.</summary>
[TestClass]
public sealed class NasBertTrainingTests
{
    [TestMethod]
    public void TextClassificationTrainsSavesLoadsAndPredicts()
    {
        var f = NasBertFixture.Get();
        using var threads = TorchThreads.Use(1);
        Console.WriteLine($"both models trained in {f.TrainingTime.TotalSeconds:F1} s");
        var loaded = f.Ml.Model.Load(f.ClassifierZip, out _);
        using var trained = f.Ml.Model.CreatePredictionEngine<QuestionRow, QuestionPrediction>(f.Classifier, new PredictionEngineOptions { OwnsTransformer = false });
        using var reloaded = f.Ml.Model.CreatePredictionEngine<QuestionRow, QuestionPrediction>(loaded);
        foreach (var row in f.QuestionsHeldOut.Take(20))
        {
            var a = trained.Predict(row);
            var b = reloaded.Predict(row);
            Assert.HasCount(3, a.Score);
            CollectionAssert.AreEqual(a.Score, b.Score, "a saved and reloaded model scores exactly like the trained one");
            Assert.AreEqual(a.PredictedLabel, b.PredictedLabel);
            CollectionAssert.Contains(NasBertFixture.Classes, a.PredictedLabel);
        }
        var transformed = loaded.Transform(f.Ml.Data.LoadFromEnumerable(f.QuestionsHeldOut.Take(20)));
        var labels = transformed.GetColumn<string>("PredictedLabel").ToList();
        Assert.HasCount(20, labels);
        Assert.AreEqual(trained.Predict(f.QuestionsHeldOut[0]).PredictedLabel, labels[0]);
    }

    [TestMethod]
    public void SentenceSimilarityTrainsSavesLoadsAndPredicts()
    {
        var f = NasBertFixture.Get();
        using var threads = TorchThreads.Use(1);
        var loaded = f.Ml.Model.Load(f.SimilarityZip, out _);
        using var trained = f.Ml.Model.CreatePredictionEngine<PairRow, PairPrediction>(f.Similarity, new PredictionEngineOptions { OwnsTransformer = false });
        using var reloaded = f.Ml.Model.CreatePredictionEngine<PairRow, PairPrediction>(loaded);
        var scores = f.PairsHeldOut.Take(20).Select(r => trained.Predict(r).Score).ToList();
        CollectionAssert.AreEqual(scores, f.PairsHeldOut.Take(20).Select(r => reloaded.Predict(r).Score).ToList());
        Assert.IsTrue(scores.All(float.IsFinite));
        Assert.IsTrue(scores.Distinct().Count() > 1, "different pairs get different scores");
    }

    [TestMethod]
    public void ExpectedPathIsUnderTempFilePath()
    {
        var ml = new MLContext { TempFilePath = "/some/where" };
        Assert.AreEqual("/some/where/mlnet/NasBert2000000.tsm", NasBertWeights.ExpectedPath(ml));
        var missing = Assert.ThrowsExactly<BadInputException>(() => NasBertWeights.Require(ml));
        StringAssert.Contains(missing.Message, "/some/where/mlnet/NasBert2000000.tsm");
    }
}
