using System.Text.Json.Nodes;
using MlNetBert.NasBert;

namespace MlNetBert.Cli.Tests;

/// <summary><c>mlnetbert train --model nasbert</c>: ML.NET's own TextClassification, offline weights from $TMPDIR/mlnet.</summary>
[TestClass]
public sealed class NasBertCliTests
{
    [TestMethod]
    public void MissingWeights_ExitTwo_NamingTheExpectedPath()
    {
        string tmp = Paths.TempDir();
        try
        {
            var result = CliProcess.RunWith(null, new Dictionary<string, string> { ["TMPDIR"] = tmp },
                "train", "--model", "nasbert", "--train", Paths.Sample, "--out", Path.Combine(tmp, "run"));
            Assert.AreEqual(2, result.ExitCode, result.Stderr);
            StringAssert.Contains(result.Stderr, Path.Combine(tmp, "mlnet", "NasBert2000000.tsm"));
            Assert.IsFalse(Directory.Exists(Path.Combine(tmp, "run")), "no run folder when nothing was trained");
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    [TestMethod]
    public void WithWeights_TrainsMlNetsTextClassification_ThenExportsAndPredictsWithOnnx()
    {
        string tmp = Paths.TempDir();
        try
        {
            // Random weights (ML.NET's NasBertEncoder, seeded): the plumbing is what is tested here, not accuracy.
            NasBertWeights.CreateRandom(Path.Combine(tmp, "mlnet", NasBertWeights.FileName), seed: 5);
            string run = Path.Combine(tmp, "run");
            var result = CliProcess.RunWith(null, new Dictionary<string, string> { ["TMPDIR"] = tmp },
                "train", "--model", "nasbert", "--train", Paths.Sample, "--epochs", "1", "--threads", "1", "--out", run);
            Assert.AreEqual(0, result.ExitCode, result.Stderr + result.Stdout);
            Assert.IsTrue(File.Exists(Path.Combine(run, "model.zip")));
            var trainParity = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "parity.json")))!;
            Assert.AreEqual("validation rows", trainParity["source"]!.GetValue<string>());
            Assert.AreEqual(40, trainParity["rows"]!.GetValue<int>());
            Assert.IsTrue(trainParity["max_abs_difference"]!.GetValue<double>() <= 1e-4, "train's own export matches ML.NET");
            Assert.AreEqual(1.0, trainParity["argmax_agreement"]!.GetValue<double>());
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!;
            Assert.AreEqual("ML.NET TextClassification (NAS-BERT)", metrics["trainer"]!.GetValue<string>());
            Assert.AreEqual(40, metrics["final"]!["count"]!.GetValue<int>(), "a 10% stratified validation split of the 400-row sample");
            Assert.IsNotNull(metrics["final"]!["accuracy"]);

            var direct = CliProcess.Run("predict", "--model", Path.Combine(run, "model.zip"), "--text", "A fine film.");
            Assert.AreEqual(2, direct.ExitCode, direct.Stderr);
            StringAssert.Contains(direct.Stderr, "model.zip: an ML.NET NAS-BERT model (TextClassification / SentenceSimilarity); export it first");

            string onnx = Path.Combine(tmp, "exported.onnx");
            var export = CliProcess.Run("export", "--model", Path.Combine(run, "model.zip"), "--out", onnx);
            Assert.AreEqual(0, export.ExitCode, export.Stderr + export.Stdout);
            StringAssert.Contains(export.Stdout, "(ML.NET NAS-BERT model); parity with ML.NET on built-in sample: 12 rows");
            StringAssert.Contains(export.Stdout, "argmax agreement = 100.00 %");
            var predict = CliProcess.Run("predict", "--model", onnx, "--text", "A warm, funny and clever film.", "--json");
            Assert.AreEqual(0, predict.ExitCode, predict.Stderr + predict.Stdout);
            StringAssert.Contains(predict.Stdout, "positive");
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }
}
