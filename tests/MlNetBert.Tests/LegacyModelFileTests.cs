using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Tests;

/// <summary>
/// Model files written before the unified model card (Fixtures/legacy-v1, see its README) still load, describe
/// themselves with today's card, and predict what they predicted when they were written.
/// </summary>
[TestClass]
public sealed class LegacyModelFileTests
{
    private const double Tolerance = 1e-5;
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "legacy-v1");

    private sealed record Expected(string[] Sentences, string[] Seconds, float[][] Classifier, float[] Similarity);

    private static Expected Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json")));
        var root = doc.RootElement;
        string[] Strings(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();
        var e = root.GetProperty("expected");
        return new Expected(Strings("sentences"), Strings("seconds"),
            e.GetProperty("classifier").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray(),
            e.GetProperty("similarity").EnumerateArray().Select(v => v.GetSingle()).ToArray());
    }

    private static void AssertClassifier(IReadOnlyList<Prediction> predictions, Expected expected, string what)
    {
        Assert.HasCount(expected.Classifier.Length, predictions);
        for (int i = 0; i < predictions.Count; i++)
            for (int j = 0; j < 3; j++)
                Assert.AreEqual(expected.Classifier[i][j], predictions[i].Probabilities![j], Tolerance, $"{what}: row {i}, label {j}");
    }

    [TestMethod]
    public void LegacyZip_LoadsWithTodaysCard_AndPredictsTheSame()
    {
        var expected = Load();
        using var model = BertTaskModel.Load(Path.Combine(Folder, "classifier.model.zip"));
        Assert.AreEqual(ClassificationTask.TextName, model.Card.Task);
        Assert.AreEqual(ModelCard.PoolingMean, model.Card.Pooling);
        CollectionAssert.AreEqual(new[] { "negative", "neutral", "positive" }, model.Card.Labels.ToArray());
        Assert.AreEqual(32, model.Card.MaxLength);
        Assert.AreEqual(0.5, model.Card.Metrics["valid_accuracy"]);
        AssertClassifier(model.PredictBatch(expected.Sentences), expected, "model.zip");
    }

    [TestMethod]
    public void LegacyMlNetZip_LoadsWithMlContext_AndPredictsTheSame()
    {
        var expected = Load();
        var ml = new MLContext(1);
        var transformer = ml.Model.Load(Path.Combine(Folder, "classifier.mlnet.zip"), out _);
        try
        {
            var data = ml.Data.LoadFromEnumerable(expected.Sentences.Select(s => new TextRow { Text = s }));
            var scores = transformer.Transform(data).GetColumn<float[]>("Score").ToList();
            for (int i = 0; i < scores.Count; i++)
                for (int j = 0; j < 3; j++)
                    Assert.AreEqual(expected.Classifier[i][j], scores[i][j], Tolerance, $"row {i}, label {j}");
        }
        finally
        {
            (transformer as IDisposable)?.Dispose();
        }
        using var model = BertTaskModel.Load(Path.Combine(Folder, "classifier.mlnet.zip"));
        Assert.AreEqual(ClassificationTask.TextName, model.Card.Task);
    }

    [TestMethod]
    public void LegacyOnnx_LoadsWithTodaysCard_AndPredictsTheSame()
    {
        var expected = Load();
        using (var onnx = BertOnnxModel.Load(Path.Combine(Folder, "classifier.model.onnx")))
        {
            Assert.AreEqual(ClassificationTask.TextName, onnx.Card.Task);
            Assert.AreEqual(ModelCard.PoolingMean, onnx.Card.Pooling);
            Assert.AreEqual(0.5, onnx.Card.Metrics["valid_accuracy"], "mlnetbert.metric.* keys are the card's metrics");
            AssertClassifier(onnx.PredictBatch(expected.Sentences), expected, "model.onnx");
        }
        using (var onnx = BertOnnxModel.Load(Path.Combine(Folder, "similarity.model.onnx")))
        {
            Assert.AreEqual(SentenceSimilarityTask.TaskName, onnx.Card.Task);
            Assert.AreEqual(5f, onnx.Card.ScoreScale);
            var scores = onnx.PredictBatch(expected.Sentences, expected.Seconds);
            for (int i = 0; i < scores.Count; i++)
                Assert.AreEqual(expected.Similarity[i], scores[i].Score!.Value, Tolerance, $"row {i}");
        }
        using var zip = BertTaskModel.Load(Path.Combine(Folder, "similarity.model.zip"));
        Assert.AreEqual(ModelCard.PoolingCls, zip.Card.Pooling);
        var fromZip = zip.PredictBatch(expected.Sentences, expected.Seconds);
        for (int i = 0; i < fromZip.Count; i++)
            Assert.AreEqual(expected.Similarity[i], fromZip[i].Score!.Value, Tolerance, $"similarity.model.zip row {i}");
    }

    [TestMethod]
    public void ResavedLegacyModel_WritesTheSameCardKeysAsItsOnnxExport()
    {
        string dir = Directory.CreateTempSubdirectory("legacy-resave-").FullName;
        using var model = BertTaskModel.Load(Path.Combine(Folder, "classifier.model.zip"));
        string zipPath = Path.Combine(dir, "model.zip");
        model.Save(zipPath);
        string onnxPath = Path.Combine(dir, "model.onnx");
        MlNetBert.Export.TrainedModelExport.Export(model, onnxPath);

        using var archive = ZipFile.OpenRead(zipPath);
        Assert.IsNull(archive.GetEntry("mlnetbert-model.json"), "new files carry model-card.json only");
        using var reader = new StreamReader(archive.GetEntry("model-card.json")!.Open());
        var zipCard = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.ReadToEnd())!;
        using var onnx = BertOnnxModel.Load(onnxPath);
        foreach (var (key, value) in zipCard)
        {
            if (key == ModelFileFormat.VariantKey || key == ModelFileFormat.ProjectVersionKey)
                continue; // the export states its own variant and writer
            Assert.IsTrue(onnx.Metadata.TryGetValue(key, out var inOnnx), $"model.onnx lacks '{key}'");
            Assert.AreEqual(value, inOnnx, key);
        }
        Assert.AreEqual("text-classification", zipCard[ModelFileFormat.TaskKey]);
        Assert.AreEqual("mean", zipCard[ModelFileFormat.PoolingKey]);
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
