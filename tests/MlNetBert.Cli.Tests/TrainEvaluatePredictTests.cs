using System.Text.Json.Nodes;
using Microsoft.ML;
using MlNetBert.MlNet;

namespace MlNetBert.Cli.Tests;

/// <summary>The happy path of the real executable: train on the shipped sample, then evaluate, export and predict.</summary>
[TestClass]
public sealed class TrainEvaluatePredictTests
{
    private static string _work = null!;
    private static string _run = null!;
    private static CliProcess.Result _train = null!;

    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        _work = Paths.TempDir();
        _run = Path.Combine(_work, "run");
        _train = CliProcess.Run("train", "--train", Paths.Sample, "--epochs", "2", "--max-length", "32", "--batch-size", "16",
            "--learning-rate", "1e-4", "--pooling", "mean", "--seed", "3", "--out", _run);
    }

    [ClassCleanup]
    public static void Cleanup() => Directory.Delete(_work, recursive: true);

    [TestMethod]
    public void Train_WritesACompleteRunFolder_AndPrintsValidationMetrics()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr + _train.Stdout);
        foreach (var file in new[] { "run.json", "metrics.json", "log.csv", "curves.png", "model.zip", "model.onnx", "parity.json" })
            Assert.IsTrue(File.Exists(Path.Combine(_run, file)), $"{file} missing from the run folder");
        StringAssert.Contains(_train.Stdout, "validation (40 rows): accuracy ");
        StringAssert.Contains(_train.Stdout, $"run folder: {_run}");
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "metrics.json")))!;
        double accuracy = metrics["final"]!["accuracy"]!.GetValue<double>();
        Console.WriteLine($"sample validation accuracy {accuracy:F3}");
        Assert.IsTrue(accuracy >= 0.75, $"the shipped sample should be learnable (accuracy {accuracy:F3})");
        Assert.IsNotNull(metrics["final"]!["macro_f1"]);
        Assert.IsNotNull(metrics["final"]!["log_loss"]);
        Assert.AreEqual(2, metrics["epochs"]!.AsArray().Count);
        var parity = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "parity.json")))!;
        Assert.IsTrue(parity["max_abs_difference"]!.GetValue<double>() <= 1e-4);
        Assert.AreEqual(1.0, parity["argmax_agreement"]!.GetValue<double>());
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "run.json")))!;
        Assert.AreEqual("minilm-l6", run["checkpoint"]!["name"]!.GetValue<string>());
        Assert.AreEqual(64, run["checkpoint"]!["sha256"]!.GetValue<string>().Length);
        Assert.AreEqual(400, run["data"]!["train"]!["rows_read"]!.GetValue<int>());
        var png = File.ReadAllBytes(Path.Combine(_run, "curves.png"));
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.IsTrue(File.ReadAllLines(Path.Combine(_run, "log.csv")).Length > 10);
    }

    [TestMethod]
    public void Evaluate_ZipAndOnnx_GiveTheSameMetrics_AsJson()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var zip = CliProcess.Run("evaluate", "--model", Path.Combine(_run, "model.zip"), "--data", Paths.Sample, "--json");
        var onnx = CliProcess.Run("evaluate", "--model", Path.Combine(_run, "model.onnx"), "--data", Paths.Sample, "--json");
        Assert.AreEqual(0, zip.ExitCode, zip.Stderr);
        Assert.AreEqual(0, onnx.ExitCode, onnx.Stderr);
        double a = JsonNode.Parse(zip.Stdout)!["final"]!["accuracy"]!.GetValue<double>();
        double b = JsonNode.Parse(onnx.Stdout)!["final"]!["accuracy"]!.GetValue<double>();
        Assert.AreEqual(a, b, 1e-9, "TorchSharp and ONNX Runtime agree on every prediction");
        Assert.IsTrue(a > 0.8, $"accuracy on the (mostly training) sample {a:F3}");
    }

    [TestMethod]
    public void Predict_OneText_AndAFile()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var one = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.onnx"), "--text", "An absolute delight from start to finish, I loved it.", "--json");
        Assert.AreEqual(0, one.ExitCode, one.Stderr);
        var json = JsonNode.Parse(one.Stdout)!;
        Assert.AreEqual("positive", json["label"]!.GetValue<string>());
        Assert.AreEqual(1.0, json["probabilities"]!["positive"]!.GetValue<double>() + json["probabilities"]!["negative"]!.GetValue<double>(), 1e-5);

        string output = Path.Combine(_work, "predictions.tsv");
        var file = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.zip"), "--input", Paths.Sample, "--output", output);
        Assert.AreEqual(0, file.ExitCode, file.Stderr);
        var lines = File.ReadAllLines(output);
        Assert.AreEqual(401, lines.Length);
        Assert.AreEqual("line\ttext\tpredicted_label\tp_negative\tp_positive", lines[0]);
    }

    [TestMethod]
    public void ModelZip_LoadsWithMlNetModelLoad_AndAgreesWithTheExportedOnnx()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var texts = File.ReadLines(Paths.Sample).Skip(1).Take(40).Select(l => l.Split('\t')[0]).ToList();
        var ml = new MLContext(seed: 1);
        ml.ComponentCatalog.RegisterMlNetBert();

        var model = ml.Model.Load(Path.Combine(_run, "model.zip"), out var inputSchema);

        CollectionAssert.AreEqual(new[] { "Text" }, inputSchema.Select(c => c.Name).ToArray());
        var engine = ml.Model.CreatePredictionEngine<SampleInput, SampleOutput>(model);
        using var onnx = MlNetBert.Inference.BertOnnxModel.Load(Path.Combine(_run, "model.onnx"));
        var reference = onnx.PredictBatch(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            var p = engine.Predict(new SampleInput { Text = texts[i] });
            Assert.AreEqual(reference[i].Label, p.PredictedLabel, texts[i]);
            for (int k = 0; k < p.Score.Length; k++)
                Assert.AreEqual(reference[i].Probabilities![k], p.Score[k], 1e-4, "ML.NET and ONNX Runtime probabilities");
        }
        foreach (var disposable in ((IEnumerable<ITransformer>)model).OfType<IDisposable>())
            disposable.Dispose();
    }

    [TestMethod]
    public void Analyze_ARunFolder_WritesTheLayerReport()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        string output = Path.Combine(_work, "analysis");
        var r = CliProcess.Run("analyze", "--finetuned", _run, "--data", Paths.Sample, "--out", output, "--max-rows", "60");
        Assert.AreEqual(0, r.ExitCode, r.Stderr + r.Stdout);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "analysis.json")))!;
        Assert.AreEqual(60, json["sentences"]!.GetValue<int>());
        var layers = json["layers"]!.AsArray();
        Assert.HasCount(7, layers, "the embeddings and minilm-l6's six encoder layers");
        double embeddingsCka = layers[0]!["cka_mean"]!.GetValue<double>();
        Console.WriteLine($"CKA at the embeddings {embeddingsCka:F4}, at the last layer {layers[6]!["cka_mean"]!.GetValue<double>():F4}");
        Assert.IsGreaterThan(0.99, embeddingsCka, "two epochs barely move the embeddings' representation");
        foreach (var file in new[] { "analysis.md", "probe-accuracy.png", "cka.png", "weight-change.png" })
            Assert.IsTrue(File.Exists(Path.Combine(output, file)), $"{file} missing");
        StringAssert.Contains(r.Stdout, "wrote analysis.json");
    }

    public sealed class SampleInput
    {
        public string Text { get; set; } = "";
    }

    public sealed class SampleOutput
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void Export_TritonFormat_WritesAVerifiedModelAndAValidatedConfig()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        string repository = Path.Combine(_work, "triton");
        var r = CliProcess.Run("export", "--model", Path.Combine(_run, "model.zip"), "--format", "triton", "--out", repository, "--name", "sentiment", "--instance-kind", "gpu");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "parity on built-in sample");
        string folder = Path.Combine(repository, "sentiment");
        Assert.IsEmpty(Triton.TritonRepository.Validate(folder));
        StringAssert.Contains(File.ReadAllText(Path.Combine(folder, "config.pbtxt")), "kind: KIND_GPU");
        CollectionAssert.AreEqual(new[] { "sentiment" }, Directory.GetFileSystemEntries(repository).Select(Path.GetFileName).ToArray(), "only the model folder is left");
        var predict = CliProcess.Run("predict", "--model", Path.Combine(folder, "1", "model.onnx"), "--text", "An absolute delight from start to finish, I loved it.", "--json");
        Assert.AreEqual(0, predict.ExitCode, predict.Stderr);
        Assert.AreEqual("positive", JsonNode.Parse(predict.Stdout)!["label"]!.GetValue<string>());
    }

    [TestMethod]
    public void Export_OptimizedInt8_IsVerified_AndReportsAccuracyAgainstFloat32()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        string output = Path.Combine(_work, "model-int8.onnx");

        var export = CliProcess.Run("export", "--model", Path.Combine(_run, "model.zip"), "--out", output, "--optimize", "--quantize", "int8",
            "--check", Paths.Sample, "--json");

        Assert.AreEqual(0, export.ExitCode, export.Stderr + export.Stdout);
        var json = JsonNode.Parse(export.Stdout)!;
        Console.WriteLine(export.Stdout);
        Assert.AreEqual("optimized-int8", json["variant"]!.GetValue<string>());
        Assert.AreEqual(400, json["accuracy_rows"]!.GetValue<int>());
        Assert.IsTrue(json["argmax_agreement"]!.GetValue<double>() >= 0.97);
        Assert.AreEqual(json["reference_accuracy"]!.GetValue<double>(), json["accuracy"]!.GetValue<double>(), 0.02);
        Assert.IsTrue(File.Exists(output));
    }

    [TestMethod]
    public void Export_Float16WithInt8_IsABadInput()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var export = CliProcess.Run("export", "--model", Path.Combine(_run, "model.zip"), "--out", Path.Combine(_work, "both.onnx"), "--fp16", "--quantize", "int8");

        Assert.AreEqual(2, export.ExitCode, export.Stderr);
        StringAssert.Contains(export.Stderr, "cannot be combined");
    }

    [TestMethod]
    public void Help_IsCompleteWithExamples()
    {
        var root = CliProcess.Run("--help");
        Assert.AreEqual(0, root.ExitCode);
        foreach (var command in new[] { "train", "evaluate", "predict", "export", "bench", "embed", "serve" })
            StringAssert.Contains(root.Stdout, command);
        foreach (var command in new[] { "train", "evaluate", "predict", "export" })
        {
            var help = CliProcess.Run(command, "--help");
            Assert.AreEqual(0, help.ExitCode);
            StringAssert.Contains(help.Stdout, "Example");
            StringAssert.Contains(help.Stdout, "--text-column");
        }
    }
}
