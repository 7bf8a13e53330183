using System.Globalization;
using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Tests;

/// <summary>
/// <c>embed</c>, <c>export</c> of a checkpoint as an embedding model, <c>serve</c> of that model, and a bi-encoder
/// trained, evaluated and used from the console.
/// </summary>
[TestClass]
public sealed class EmbedCommandTests
{
    private static readonly string[] Sentences = ["A man is playing a guitar.", "Someone plays music.", "The stock market fell sharply."];

    // all-MiniLM-L6-v2 exported as it is (mlnetbert export --model minilm-l6): one process, shared by the tests below.
    private static readonly Lazy<string> PretrainedOnnx = new(() =>
    {
        string path = Path.Combine(Paths.TempDir(), "minilm-embedding.onnx");
        var r = CliProcess.Run("export", "--model", "minilm-l6", "--out", path);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "min cosine = 1.0000");
        return path;
    });

    private static double Cos(CliProcess.Result r, string pair) =>
        double.Parse(r.Stdout.Split('\n').Single(l => l.StartsWith($"cosine({pair})", StringComparison.Ordinal)).Split('=')[1], CultureInfo.InvariantCulture);

    [TestMethod]
    public void Embed_ParaphrasesAreCloserThanUnrelatedSentences()
    {
        var r = CliProcess.Run("embed", "--text", Sentences[0], "--text", Sentences[1], "--text", Sentences[2]);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        Assert.IsGreaterThan(0.5, Cos(r, "[0], [1]"), r.Stdout);
        Assert.IsLessThan(0.2, Cos(r, "[0], [2]"), r.Stdout);
    }

    // The checkpoint through TorchSharp (--model minilm-l6) and its export through ONNX Runtime give the same vectors,
    // and a file of texts becomes a file of vectors in either format.
    [TestMethod]
    public void ExportedCheckpoint_EmbedsAFile_AsTheCheckpointEmbedsTheSameTexts()
    {
        string dir = Paths.TempDir();
        string input = Path.Combine(dir, "in.tsv");
        File.WriteAllText(input, "text\n" + string.Join('\n', Sentences) + "\n");
        var reference = CliProcess.Run("embed", "--json", "--text", Sentences[0], "--text", Sentences[1], "--text", Sentences[2]);
        Assert.AreEqual(0, reference.ExitCode, reference.Stderr);
        var want = JsonNode.Parse(reference.Stdout)!["outputs"]!.AsArray().Select(o => o!["embedding"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray()).ToList();

        string jsonl = Path.Combine(dir, "vectors.jsonl"), tsv = Path.Combine(dir, "vectors.tsv");
        var r = CliProcess.Run("embed", "--model", PretrainedOnnx.Value, "--input", input, "--output", jsonl);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stdout, "wrote 3 vectors of dimension 384 to");
        var lines = File.ReadAllLines(jsonl).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.HasCount(3, lines);
        for (int i = 0; i < 3; i++)
        {
            Assert.AreEqual(i + 2, lines[i]["line"]!.GetValue<int>(), "file line numbers (line 1 is the header)");
            Assert.AreEqual(Sentences[i], lines[i]["text"]!.GetValue<string>());
            var got = lines[i]["embedding"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            Assert.HasCount(384, got);
            Assert.IsGreaterThanOrEqualTo(0.9999, SentenceEmbeddingTask.Cosine(got, want[i]), $"row {i}: ONNX vs TorchSharp");
        }

        r = CliProcess.Run("embed", "--model", PretrainedOnnx.Value, "--input", input, "--output", tsv);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var rows = File.ReadAllLines(tsv);
        Assert.HasCount(4, rows);
        var header = rows[0].Split('\t');
        Assert.AreEqual(2 + 384, header.Length);
        Assert.AreEqual("e383", header[^1]);
        var first = rows[1].Split('\t').Skip(2).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.IsGreaterThanOrEqualTo(0.9999, SentenceEmbeddingTask.Cosine(first, want[0]));
    }

    [TestMethod]
    public void Embed_WithAClassifier_ExitsTwoAndSaysWhatToPass()
    {
        string classifier = Path.Combine(Paths.Repo, "tests", "MlNetBert.Tests", "Fixtures", "legacy-v1", "classifier.model.onnx");
        var r = CliProcess.Run("embed", "--model", classifier, "--text", "hi");
        Assert.AreEqual(2, r.ExitCode, r.Stdout);
        StringAssert.Contains(r.Stderr, "classifier.model.onnx: a 'text-classification' model does not produce embeddings; pass a 'sentence-embedding' model (mlnetbert train --task sentence-embedding) or a checkpoint");
    }

    [TestMethod]
    public async Task Serve_AnEmbeddingModel_AnswersVectors_AndItsCardGivesTheDimension()
    {
        await using var host = await ServeHost.StartAsync(new ServerOptions { ModelPath = PretrainedOnnx.Value, ModelName = "minilm" });
        var card = JsonNode.Parse(await host.Client.GetStringAsync(new Uri(host.BaseUri, "/v1/model")))!;
        Assert.AreEqual(SentenceEmbeddingTask.TaskName, card["task"]!.GetValue<string>());
        Assert.AreEqual(384, card["embedding_dimension"]!.GetValue<int>());
        Assert.IsTrue(card["normalize"]!.GetValue<bool>());

        using var response = await host.PostAsync(ServerApp.PredictRoute, "{\"inputs\": [{\"text\": \"" + Sentences[0] + "\"}, \"" + Sentences[1] + "\"]}");
        string body = await response.Content.ReadAsStringAsync();
        Assert.IsTrue(response.IsSuccessStatusCode, body);
        var outputs = JsonNode.Parse(body)!["outputs"]!.AsArray();
        using var model = BertOnnxModel.Load(PretrainedOnnx.Value);
        var want = model.Embed([Sentences[0], Sentences[1]]);
        for (int i = 0; i < 2; i++)
        {
            var got = outputs[i]!["embedding"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            Assert.HasCount(384, got);
            Assert.AreEqual(1.0, Math.Sqrt(got.Sum(v => (double)v * v)), 1e-4, "L2-normalised in the graph");
            for (int d = 0; d < got.Length; d++)
                Assert.AreEqual(want[i][d], got[d], 1e-5f);
        }
    }

    // A bi-encoder trained from the console with the multiple-negatives ranking loss on MRPC paraphrase pairs
    // (no label column), evaluated as retrieval. The pretrained model already finds 98 of the first 100 dev positives
    // at rank 1, so 64 training pairs must keep recall@1 at 0.9 or more; run.json records the loss (request.variant) so --resume keeps it.
    [TestMethod]
    public void TrainMultipleNegativesRanking_ThenEvaluateRetrieval()
    {
        string dir = Paths.TempDir();
        string train = Path.Combine(dir, "train.tsv"), dev = Path.Combine(dir, "dev.tsv");
        File.WriteAllText(train, Positives(Paths.SharedData("mrpc/train.tsv"), 64));
        File.WriteAllText(dev, Positives(Paths.SharedData("mrpc/dev.tsv"), 100));
        string run = Path.Combine(dir, "run");
        var r = CliProcess.Run("train", "--task", "sentence-embedding", "--loss", "multiple-negatives-ranking", "--train", train, "--valid", dev,
            "--text-column", "anchor", "--text2-column", "positive", "--epochs", "1", "--batch-size", "16", "--max-length", "64",
            "--learning-rate", "2e-5", "--out", run);
        Assert.AreEqual(0, r.ExitCode, r.Stderr + r.Stdout);
        var request = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!["request"]!;
        Assert.AreEqual("multiple-negatives-ranking", request["variant"]!.GetValue<string>());

        r = CliProcess.Run("evaluate", "--model", Path.Combine(run, "model.onnx"), "--data", dev, "--text-column", "anchor", "--text2-column", "positive", "--json");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var final = JsonNode.Parse(r.Stdout)!["final"]!;
        Console.WriteLine($"recall@1 {final["recall_at_1"]}, MRR@10 {final["mrr_at_10"]}");
        Assert.AreEqual(100, final["count"]!.GetValue<int>());
        Assert.IsGreaterThanOrEqualTo(0.9, final["recall_at_1"]!.GetValue<double>());
        Assert.IsGreaterThanOrEqualTo(final["recall_at_1"]!.GetValue<double>(), final["mrr_at_10"]!.GetValue<double>());
    }

    // MRPC's paraphrase pairs (Quality 1) as an (anchor, positive) TSV; its fields hold raw quotes, so no quoting.
    private static string Positives(string mrpc, int count) =>
        "anchor\tpositive\n" + string.Join('\n', File.ReadLines(mrpc).Skip(1).Select(l => l.Split('\t'))
            .Where(f => f.Length == 5 && f[0].TrimStart('\uFEFF') == "1").Take(count).Select(f => f[3] + "\t" + f[4])) + "\n";

    [TestMethod]
    public void UnknownCheckpoint_ExitsWithTwoAndNamesIt()
    {
        var r = CliProcess.Run("embed", "--text", "hi", "--model", "no-such-model");
        Assert.AreEqual(2, r.ExitCode);
        StringAssert.Contains(r.Stderr, "error: checkpoint 'no-such-model' is neither a built-in name");
    }
}
