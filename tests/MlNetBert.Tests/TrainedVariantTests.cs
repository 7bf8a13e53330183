using Microsoft.ML;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Tests;

/// <summary>
/// Int8 and float16 exports of a model actually fine-tuned (minilm-l6, 2,000 seeded SST-2 training rows, one epoch,
/// lr 1e-4, mean pooling, 64 tokens; about 40 s on 2 cores, once for the class), judged on real SST-2 dev sentences
/// against the float32 export.
/// </summary>
[TestClass]
public sealed class TrainedVariantTests
{
    private static BertTransformer s_bert = null!;
    private static string s_folder = null!;
    private static List<(string Text, int Label)> s_dev = null!;
    private static readonly Dictionary<string, string> s_files = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, IReadOnlyList<Prediction>> s_predictions = new(StringComparer.Ordinal);

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        var ml = new MLContext(seed: 1);
        var sample = MlNetBert.Data.TabularReader.Read(new MlNetBert.Data.TabularReadOptions(TestData.Require("sst2/train.tsv")) { MaxRows = 2000, Seed = 42 });
        var train = ml.Data.LoadFromEnumerable(sample.Rows.Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label == "1" ? "positive" : "negative" }));
        var options = new BertTrainingOptions
        {
            TextColumnName = nameof(SentimentRow.Sentence),
            Epochs = 1,
            LearningRate = 1e-4,
            MaxSequenceLength = 64,
            Pooling = MlNetBert.Modeling.Pooling.Mean,
            Seed = 7,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BertTextClassification(options))
            .Fit(train);
        s_bert = ((IEnumerable<ITransformer>)model).OfType<BertTransformer>().Single();
        s_dev = TestData.Sst2("dev", 872);
        s_folder = Path.Combine(Path.GetTempPath(), "mlnetbert-trained-variants-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(s_folder);
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        s_bert?.Dispose();
        if (s_folder is not null && Directory.Exists(s_folder))
            Directory.Delete(s_folder, recursive: true);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Int8_AccuracyOnFullSst2Dev_IsWithinOnePointOfFloat32(bool optimize)
    {
        var int8 = new OnnxExportOptions { Optimize = optimize, Quantize = OnnxQuantization.Int8 };
        var float32 = Predictions(new OnnxExportOptions());
        var quantized = Predictions(int8);

        double fp32Accuracy = Accuracy(float32), int8Accuracy = Accuracy(quantized);
        double agreement = float32.Zip(quantized, (a, b) => a.Label == b.Label ? 1.0 : 0.0).Average();
        double maxDiff = float32.Zip(quantized, (a, b) => Math.Abs(a.Probabilities![1] - b.Probabilities![1])).Max();
        Console.WriteLine($"SST-2 dev ({s_dev.Count} rows): fp32 {fp32Accuracy:P2}, {int8.VariantName} {int8Accuracy:P2}; label agreement {agreement:P2}; max |probability diff| {maxDiff:F4}");

        Assert.AreEqual(872, float32.Count);
        Assert.IsTrue(fp32Accuracy >= 0.75, $"the fine-tuned model should be well above chance (0.5) (fp32 accuracy {fp32Accuracy:P2})");
        Assert.IsTrue(Math.Abs(int8Accuracy - fp32Accuracy) <= 0.01, $"int8 accuracy {int8Accuracy:P2} vs fp32 {fp32Accuracy:P2}");
        Assert.IsTrue(agreement >= VariantCheck.Int8MinArgmaxAgreement, $"label agreement {agreement:P2}");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Float16_RunsOnCpu_WithProbabilitiesWithin1e2OfFloat32_On50Rows(bool optimize)
    {
        var fp16 = new OnnxExportOptions { Optimize = optimize, Float16 = true };
        var float32 = Predictions(new OnnxExportOptions(), 50);
        var half = Predictions(fp16, 50);

        double maxDiff = float32.Zip(half, (a, b) => a.Probabilities!.Zip(b.Probabilities!, (x, y) => Math.Abs(x - y)).Max()).Max();
        Console.WriteLine($"{fp16.VariantName} on CPU vs fp32 over 50 SST-2 dev rows: max |probability diff| = {maxDiff:E2}");

        Assert.IsTrue(maxDiff <= VariantCheck.Float16Tolerance, $"max probability difference {maxDiff:E2}");
        Assert.IsTrue(half.All(p => Math.Abs(p.Probabilities!.Sum() - 1) < 1e-3));
    }

    [TestMethod]
    public void TrainedModelExport_Int8_PassesItsCheck_AndReportsAccuracy()
    {
        string path = Path.Combine(s_folder, "checked-int8.onnx");
        var rows = s_dev.Take(300).Select(r => (r.Text, (string?)null)).ToList();

        var report = TrainedModelExport.Export(s_bert.Model, path, rows, new OnnxExportOptions { Optimize = true, Quantize = OnnxQuantization.Int8 });

        Console.WriteLine($"optimized-int8 export check: {report}");
        var labels = s_dev.Take(300).Select(r => s_bert.Model.Card.Labels.ToList().IndexOf(r.Label == 1 ? "positive" : "negative")).ToList();
        var accuracy = report.Accuracy(labels)!.Value;
        Console.WriteLine($"accuracy on 300 rows: int8 {accuracy.Actual:P2}, TorchSharp fp32 {accuracy.Reference:P2}");
        Assert.IsTrue(File.Exists(path));
        Assert.IsTrue(report.ArgmaxAgreement >= VariantCheck.Int8MinArgmaxAgreement);
        Assert.IsTrue(Math.Abs(accuracy.Actual - accuracy.Reference) <= 0.02);
    }

    private static IReadOnlyList<Prediction> Predictions(OnnxExportOptions options, int rows = 872)
    {
        string key = $"{options.VariantName}/{rows}";
        if (s_predictions.TryGetValue(key, out var cached))
            return cached;
        if (!s_files.TryGetValue(options.VariantName, out var path))
        {
            path = Path.Combine(s_folder, options.VariantName + ".onnx");
            // The built-in check sentences; this test then measures the variant on SST-2 dev itself.
            TrainedModelExport.Export(s_bert.Model, path, options: options);
            s_files[options.VariantName] = path;
        }
        using var model = BertOnnxModel.Load(path, new BertOnnxOptions { IntraOpThreads = 2 });
        var predictions = model.PredictBatch(s_dev.Take(rows).Select(r => r.Text).ToList());
        s_predictions[key] = predictions;
        return predictions;
    }

    private static double Accuracy(IReadOnlyList<Prediction> predictions) =>
        predictions.Select((p, i) => p.Label == (s_dev[i].Label == 1 ? "positive" : "negative") ? 1.0 : 0.0).Average();
}
