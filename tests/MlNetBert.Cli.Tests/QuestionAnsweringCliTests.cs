using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MlNetBert.Cli.Tests;

/// <summary>
/// The question-answering round trip of the real executable on a tiny real set: train on 60 SQuAD questions of
/// dev-v1.1.part1.json with 20 questions of part 2 as a TSV validation file (ML.NET's column names), then evaluate
/// (model.zip and model.onnx agree), predict one question and a file. The model is barely trained: these tests check
/// the plumbing and the output shapes, not the accuracy (QuestionAnsweringTrainingTests in MlNetBert.Tests does that).
/// </summary>
[TestClass]
public sealed class QuestionAnsweringCliTests
{
    private static string _work = null!;
    private static string _run = null!;
    private static string _valid = null!;
    private static CliProcess.Result _train = null!;

    [ClassInitialize]
    public static void TrainOnce(TestContext _)
    {
        string part1 = Paths.SharedData("squad/dev-v1.1.part1.json");
        string part2 = Paths.SharedData("squad/dev-v1.1.part2.json");
        _work = Paths.TempDir();
        _run = Path.Combine(_work, "run");
        _valid = Path.Combine(_work, "valid.tsv");
        // 20 part-2 questions as a TSV with ML.NET's column names (contexts hold no tabs or newlines).
        var data = MlNetBert.Data.QuestionAnswering.SquadReader.Read(part2).Examples.Take(20);
        var tsv = new StringBuilder("Context\tQuestion\tTrainingAnswer\tAnswerIndex\n");
        foreach (var e in data)
            tsv.Append(CultureInfo.InvariantCulture, $"{e.Context}\t{e.Question}\t{e.Answers[0].Text}\t{e.Answers[0].Start}\n");
        File.WriteAllText(_valid, tsv.ToString());
        _train = CliProcess.Run("train", "--task", "question-answering", "--train", part1, "--valid", _valid, "--max-rows", "60",
            "--epochs", "1", "--max-length", "192", "--doc-stride", "64", "--batch-size", "16", "--learning-rate", "1e-4", "--seed", "3", "--out", _run);
    }

    [ClassCleanup]
    public static void Cleanup() => Directory.Delete(_work, recursive: true);

    [TestMethod]
    public void Train_WritesTheRunFolder_WithSquadMetrics_AndAVerifiedExport()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr + _train.Stdout);
        foreach (var file in new[] { "run.json", "metrics.json", "model.zip", "model.onnx", "parity.json" })
            Assert.IsTrue(File.Exists(Path.Combine(_run, file)), $"{file} missing from the run folder");
        var final = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "metrics.json")))!["final"]!;
        Assert.AreEqual(20, final["count"]!.GetValue<int>());
        Assert.IsTrue(final["f1"]!.GetValue<double>() is >= 0 and <= 1);
        // One epoch: the per-epoch validation F1 (inside Fit) is the final evaluation's, the same questions and golds.
        var epoch = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "metrics.json")))!["epochs"]![0]!;
        Assert.AreEqual(final["f1"]!.GetValue<double>(), epoch["validation_f1"]!.GetValue<double>(), 1e-9);
        var parity = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "parity.json")))!;
        Assert.IsTrue(parity["max_abs_difference"]!.GetValue<double>() <= 1e-4, parity.ToJsonString());
        Assert.AreEqual(1.0, parity["argmax_agreement"]!.GetValue<double>(), "every validation question's best span is the same in ONNX");
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(_run, "run.json")))!;
        Assert.AreEqual("question-answering", run["task"]!.GetValue<string>());
        Assert.AreEqual(60, run["data"]!["train"]!["rows_read"]!.GetValue<int>());
    }

    [TestMethod]
    public void Evaluate_ZipAndOnnx_GiveTheSameExactMatchAndF1_AsFractions()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var zip = CliProcess.Run("evaluate", "--model", Path.Combine(_run, "model.zip"), "--data", _valid, "--json");
        var onnx = CliProcess.Run("evaluate", "--model", Path.Combine(_run, "model.onnx"), "--data", _valid, "--json");
        Assert.AreEqual(0, zip.ExitCode, zip.Stderr);
        Assert.AreEqual(0, onnx.ExitCode, onnx.Stderr);
        var a = JsonNode.Parse(zip.Stdout)!["final"]!;
        var b = JsonNode.Parse(onnx.Stdout)!["final"]!;
        foreach (var metric in new[] { "exact_match", "f1" })
        {
            double value = a[metric]!.GetValue<double>();
            Assert.IsTrue(value is >= 0 and <= 1, $"{metric} {value} is a fraction");
            Assert.AreEqual(value, b[metric]!.GetValue<double>(), 1e-9, $"{metric}: TorchSharp and ONNX Runtime give the same answers");
        }
        var text = CliProcess.Run("evaluate", "--model", Path.Combine(_run, "model.onnx"), "--data", _valid);
        StringAssert.Contains(text.Stdout, "exact match ");
    }

    [TestMethod]
    public void Predict_OneQuestion_PrintsAnAnswerCutFromTheContext_AndAFileGetsOneRowPerQuestion()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        const string context = "The Eiffel Tower was completed in 1889 and stands in Paris.";
        var one = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.onnx"), "--question", "When was the tower completed?", "--context", context, "--json");
        Assert.AreEqual(0, one.ExitCode, one.Stderr);
        var answers = JsonNode.Parse(one.Stdout)!["answers"]!.AsArray();
        Assert.IsTrue(answers.Count >= 1);
        foreach (var answer in answers)
        {
            int start = answer!["start"]!.GetValue<int>(), end = answer["end"]!.GetValue<int>();
            Assert.AreEqual(context[start..end], answer["text"]!.GetValue<string>());
            Assert.IsTrue(answer["score"]!.GetValue<double>() is > 0 and <= 1);
        }
        var plain = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.zip"), "--question", "When was the tower completed?", "--context", context);
        Assert.AreEqual(0, plain.ExitCode, plain.Stderr);
        StringAssert.Contains(plain.Stdout, "'" + answers[0]!["text"]!.GetValue<string>() + "'");

        string output = Path.Combine(_work, "answers.tsv");
        var file = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.onnx"), "--input", _valid, "--output", output);
        Assert.AreEqual(0, file.ExitCode, file.Stderr);
        var lines = File.ReadAllLines(output);
        Assert.AreEqual("line\ttext\ttext2\tanswer\tstart\tend\tscore", lines[0]);
        Assert.HasCount(21, lines);
    }

    [TestMethod]
    public async Task Serve_AnswersQuestionAndContextInputs_WithAnswerSpans()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        await using var host = await ServeHost.StartAsync(new MlNetBert.Serving.ServerOptions { ModelPath = Path.Combine(_run, "model.onnx") });
        const string context = "The Eiffel Tower was completed in 1889 and stands in Paris.";
        var body = new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["question"] = "Where does the tower stand?", ["context"] = context }) };
        using var response = await host.PostAsync("/v1/predict", body.ToJsonString());
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(System.Net.HttpStatusCode.OK, response.StatusCode, text);
        var answers = JsonNode.Parse(text)!["outputs"]![0]!["answers"]!.AsArray();
        Assert.IsTrue(answers.Count >= 1, text);
        int start = answers[0]!["start"]!.GetValue<int>(), end = answers[0]!["end"]!.GetValue<int>();
        Assert.AreEqual(context[start..end], answers[0]!["text"]!.GetValue<string>());

        using var missing = await host.PostAsync("/v1/predict", "{\"inputs\": [{\"question\": \"Where?\", \"context\": \" \"}]}");
        string error = await missing.Content.ReadAsStringAsync();
        Assert.AreEqual(System.Net.HttpStatusCode.BadRequest, missing.StatusCode, error);
        StringAssert.Contains(error, "inputs[0].context is empty");
    }

    /// <summary>A context is read whole in windows: one over the character limit is refused, never cut (even with --long-text truncate).</summary>
    [TestMethod]
    public async Task Serve_ContextOverTheCharacterLimit_IsRefusedNotCut()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        await using var host = await ServeHost.StartAsync(new MlNetBert.Serving.ServerOptions { ModelPath = Path.Combine(_run, "model.onnx"), MaxTextChars = 100 });
        string context = string.Concat(Enumerable.Repeat("The bridge opened in 1901. ", 5)); // 135 characters
        var body = new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["question"] = "When did it open?", ["context"] = context }) };
        using var response = await host.PostAsync("/v1/predict", body.ToJsonString());
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(System.Net.HttpStatusCode.UnprocessableEntity, response.StatusCode, text);
        StringAssert.Contains(text, "\"code\":\"text_too_long\"");
        StringAssert.Contains(text, "inputs[0].context has 135 characters; this server takes at most 100, and a question-answering model reads whole texts (in windows), so it never cuts one");
    }

    [TestMethod]
    public void Predict_WithoutAContext_ExitsWithTwo()
    {
        Assert.AreEqual(0, _train.ExitCode, _train.Stderr);
        var r = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.onnx"), "--question", "When?");
        Assert.AreEqual(2, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stderr, "pass --question and --context");
        var empty = CliProcess.Run("predict", "--model", Path.Combine(_run, "model.onnx"), "--question", "When?", "--context", " ");
        Assert.AreEqual(2, empty.ExitCode, empty.Stderr);
        StringAssert.Contains(empty.Stderr, "the context is empty");
    }
}
