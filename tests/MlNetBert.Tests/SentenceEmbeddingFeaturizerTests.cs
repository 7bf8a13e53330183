using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Tasks;

namespace MlNetBert.Tests;

/// <summary>
/// <c>mlContext.Transforms.Text.BertSentenceEmbedding</c> in front of a classic ML.NET learner, on real TREC
/// questions: downstream accuracy, equality with the pretrained model's own vectors, and Model.Save/Load.
/// </summary>
[TestClass]
public sealed class SentenceEmbeddingFeaturizerTests
{
    private sealed class Question
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class Scored
    {
        public float[] Features { get; set; } = [];
    }

    private static List<Question> Trec(string split, int take) =>
        TestData.Tsv($"trec/{split}.tsv").Take(take).Select(r => new Question { Text = r[2], Label = r[0] }).ToList();

    private static List<float[]> Vectors(MLContext ml, ITransformer model, IDataView data) =>
        ml.Data.CreateEnumerable<Scored>(model.Transform(data), reuseRowObject: false).Select(s => s.Features).ToList();

    // 600 training questions, the 500 of the test split; measured 0.832 (fit 19 s on 2 busy cores).
    [TestMethod]
    public void Featurizer_WithSdcaMaximumEntropy_ClassifiesTrecQuestions_AndSavesAndLoadsWithIdenticalVectors()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Trec("train", 600));
        var test = ml.Data.LoadFromEnumerable(Trec("test", 500));
        // The cache keeps SDCA's passes over the data from embedding every text again on each pass.
        var pipeline = ml.Transforms.Text.BertSentenceEmbedding("Features", nameof(Question.Text))
            .AppendCacheCheckpoint(ml)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        var fitTime = clock.Elapsed;
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Console.WriteLine($"TREC, featurizer + SdcaMaximumEntropy on 600 rows: fit {fitTime.TotalSeconds:F1} s, test accuracy {metrics.MicroAccuracy:F4} (500 rows)");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.80, $"accuracy {metrics.MicroAccuracy:F4} is below the 0.80 bar");

        var schema = model.Transform(test).Schema["Features"].Type as VectorDataViewType;
        Assert.AreEqual(384, schema!.Size, "a known-size vector, as trainers need");

        // The featurizer's vectors are the pretrained checkpoint's own mean-pooled, normalised embeddings (TorchSharp).
        var questions = Trec("test", 40);
        var vectors = Vectors(ml, model, ml.Data.LoadFromEnumerable(questions));
        using (var reference = PretrainedEmbeddingModel.Create(new CheckpointStore().Resolve("minilm-l6")))
        {
            var expected = reference.PredictBatch(questions.Select(q => q.Text).ToList());
            double minCosine = vectors.Select((v, i) => SentenceEmbeddingTask.Cosine(v, expected[i].Embedding!)).Min();
            Console.WriteLine($"featurizer vs TorchSharp over {vectors.Count} questions: min cosine {minCosine:F7}");
            Assert.IsTrue(minCosine >= 0.9999, $"min cosine {minCosine:F7}");
        }

        // Save/Load: the ONNX file travels inside the .zip; the loaded pipeline gives the same vectors, bit for bit.
        string path = Path.Combine(Path.GetTempPath(), $"mlnetbert-featurizer-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var fresh = new MLContext(seed: 9);
            var loaded = fresh.Model.Load(path, out _);
            var again = Vectors(fresh, loaded, fresh.Data.LoadFromEnumerable(questions));
            for (int i = 0; i < vectors.Count; i++)
                CollectionAssert.AreEqual(vectors[i], again[i], $"row {i}");
            var reloadedMetrics = fresh.MulticlassClassification.Evaluate(loaded.Transform(fresh.Data.LoadFromEnumerable(Trec("test", 500))));
            Assert.AreEqual(metrics.MicroAccuracy, reloadedMetrics.MicroAccuracy, 1e-9);
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
        (model as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void Featurizer_OnANonTextColumn_NamesTheColumn()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new { Value = 1f } });
        var e = Assert.ThrowsExactly<BadInputException>(() => ml.Transforms.Text.BertSentenceEmbedding("Features", "Value").GetOutputSchema(MlNetSchema.ShapeOf(data.Schema)));
        StringAssert.Contains(e.Message, "'Value'");
    }
}
