using System.Globalization;
using Microsoft.ML;
using MlNetBert.Checkpoints;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.Tests;

/// <summary>Bi-encoder fine-tuning on real pairs: the cosine-similarity loss on STS-B and the multiple-negatives ranking loss on MRPC paraphrases.</summary>
[TestClass]
public sealed class SentenceEmbeddingTrainingTests
{
    private sealed class Pair
    {
        public string A { get; set; } = "";
        public string B { get; set; } = "";
        public float Label { get; set; }
    }

    private static BertTrainingOptions Options(int batchSize) => new()
    {
        TextColumnName = nameof(Pair.A),
        Text2ColumnName = nameof(Pair.B),
        LabelColumnName = nameof(Pair.Label),
        Epochs = 1,
        BatchSize = batchSize,
        LearningRate = 2e-5,
        MaxSequenceLength = 64,
        Seed = 3,
    };

    private static (double Spearman, double Mse) CosineScores(IBertPredictor model, List<Pair> pairs)
    {
        var a = model.PredictBatch(pairs.Select(p => p.A).ToList());
        var b = model.PredictBatch(pairs.Select(p => p.B).ToList());
        var cosines = a.Select((u, i) => (float)SentenceEmbeddingTask.Cosine(u.Embedding!, b[i].Embedding!)).ToList();
        var m = RegressionMetrics.Compute(pairs.Select(p => p.Label / 5f).ToList(), cosines);
        return (m.Spearman, m.Mse);
    }

    // 500 STS-B training pairs, 1 epoch at 2e-5, batch 16: the pretrained model is already good at STS-B (0.87),
    // so a short run must not hurt it. Taking the first 500 training pairs (captions only) and the first 400 dev
    // pairs measured 0.9219 -> 0.9109: a one-genre sample does hurt, hence the spread. Spread, it measured
    // 0.8656 -> 0.8731 on 375 dev pairs, the dev cosine MSE 0.0309 -> 0.0245 (4 min on 2 cores shared with other builds).
    [TestMethod]
    public void CosineLoss_OnStsbTrain_DoesNotLowerDevSpearmanByMoreThan001_AndTheDevErrorFalls()
    {
        var ml = new MLContext(seed: 1);
        // STS-B files are ordered by genre (captions, news, forums): every 11th training pair and every 4th dev pair
        // spread the sample over all of them, as the full sets are.
        var train = TestData.Stsb("train", 5749).Where((_, i) => i % 11 == 0).Take(500).Select(r => new Pair { A = r.A, B = r.B, Label = r.Score }).ToList();
        var dev = TestData.Stsb("dev", 1500).Where((_, i) => i % 4 == 0).Select(r => new Pair { A = r.A, B = r.B, Label = r.Score }).ToList();
        (double Spearman, double Mse) before;
        using (var pretrained = PretrainedEmbeddingModel.Create(new CheckpointStore().Resolve("minilm-l6"), maxLength: 64))
            before = CosineScores(pretrained, dev);

        using var model = ml.Regression.Trainers.BertSentenceEmbedding(Options(16)).Fit(ml.Data.LoadFromEnumerable(train));
        var after = CosineScores(model.Model, dev);
        var steps = model.Model.History!.Steps;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"STS-B dev ({dev.Count} pairs) Spearman of cosine: pretrained {before.Spearman:F4}, after 1 epoch on 500 pairs {after.Spearman:F4}; cosine MSE vs score/5: {before.Mse:F4} -> {after.Mse:F4}; {steps.Count} steps, {model.Model.History.SamplesPerSecond:F1} pairs/s"));
        Assert.IsTrue(after.Spearman >= before.Spearman - 0.01, $"Spearman fell from {before.Spearman:F4} to {after.Spearman:F4}");
        Assert.IsTrue(after.Mse < before.Mse, $"the cosine-similarity loss on dev did not fall: {before.Mse:F4} -> {after.Mse:F4}");
        Assert.AreEqual(SentenceEmbeddingTask.TaskName, model.Model.Card.Task);
        Assert.AreEqual(384, model.Model.Card.EmbeddingDimension);
        Assert.IsNull(model.Model.Card.Text2Column, "the model embeds one text at a time");

        // Save/Load through ML.NET keeps the vectors bit for bit; the fine-tuned model exports with cosine parity.
        string folder = Path.Combine(Path.GetTempPath(), $"mlnetbert-biencoder-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var devView = ml.Data.LoadFromEnumerable(dev.Take(20));
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, devView.Schema, zip);
            using var loaded = BertTaskModel.Load(zip);
            var texts = dev.Take(20).Select(d => d.A).ToList();
            var want = model.Model.PredictBatch(texts);
            var got = loaded.PredictBatch(texts);
            for (int i = 0; i < texts.Count; i++)
                CollectionAssert.AreEqual(want[i].Embedding, got[i].Embedding, $"row {i}");
            var report = TrainedModelExport.Export(loaded, Path.Combine(folder, "model.onnx"));
            Console.WriteLine($"export of the fine-tuned bi-encoder: {report}");
            Assert.IsTrue(report.MinCosine >= SentenceEmbeddingTraining.Float32MinCosine, report.ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // MRPC paraphrase pairs (label 1) as (anchor, positive); every other positive in the batch is a negative. Measured:
    // recall@1 0.985, MRR@10 0.991 on 200 dev paraphrases both before and after one epoch on 320 pairs (the pretrained
    // model already finds almost every paraphrase; the test shows the loss runs end to end without a label column).
    [TestMethod]
    public void MultipleNegativesRankingLoss_OnMrpcParaphrases_Runs_AndReportsRecallAt1()
    {
        static List<Pair> Positives(string split, int take) => TestData.Tsv($"mrpc/{split}.tsv")
            .Where(r => r[0].TrimStart('\uFEFF') == "1").Take(take).Select(r => new Pair { A = r[3], B = r[4] }).ToList();
        var ml = new MLContext(seed: 1);
        var train = Positives("train", 320);
        var dev = Positives("dev", 200);
        var devRows = dev.Select(d => new MlNetBert.Data.TabularRow(d.A, d.B, null, null, 0)).ToList();
        RetrievalMetrics Retrieval(IBertPredictor m) => RetrievalMetrics.Compute(
            m.PredictBatch(dev.Select(d => d.A).ToList()).Select(p => p.Embedding!).ToList(),
            m.PredictBatch(dev.Select(d => d.B).ToList()).Select(p => p.Embedding!).ToList());
        RetrievalMetrics before;
        using (var pretrained = PretrainedEmbeddingModel.Create(new CheckpointStore().Resolve("minilm-l6"), maxLength: 64))
            before = Retrieval(pretrained);

        // No label column at all: the ranking loss learns from the pairs alone.
        var data = ml.Data.LoadFromEnumerable(train.Select(p => new { p.A, p.B }));
        using var model = ml.Regression.Trainers.BertSentenceEmbedding(Options(32), EmbeddingLoss.MultipleNegativesRanking).Fit(data);
        var after = Retrieval(model.Model);
        var (json, text) = SentenceEmbeddingTraining.MultipleNegativesRanking.Evaluate(model.Model, devRows, "mrpc/dev.tsv");
        Console.WriteLine($"MRPC dev paraphrases ({dev.Count}): pretrained {before}; after 1 epoch of MNRL on {train.Count} pairs {after}");
        Assert.AreEqual(after.RecallAt1, json["recall_at_1"]!.GetValue<double>(), 1e-12, text);
        Assert.IsTrue(after.RecallAt1 >= before.RecallAt1 - 0.03, $"recall@1 fell from {before.RecallAt1:F4} to {after.RecallAt1:F4}");
        Assert.IsTrue(after.MrrAt10 >= after.RecallAt1, "MRR@10 counts every rank-1 hit fully");
    }
}
