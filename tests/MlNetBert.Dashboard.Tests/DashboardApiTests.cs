using System.Net;
using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard.Tests;

/// <summary>The dashboard's JSON and pages over two real runs: what each page reads, and try-it against the run's model.onnx.</summary>
[TestClass]
public sealed class DashboardApiTests
{
    private static DashboardRuns Runs => DashboardRuns.Get;

    private static JsonObject RunLine(JsonObject listing, string id) =>
        listing["runs"]!.AsArray().OfType<JsonObject>().Single(r => r["id"]!.GetValue<string>() == id);

    [TestMethod]
    public async Task Runs_ListsBothRealRuns_WithTaskCheckpointDataAccuracyAndDuration()
    {
        var listing = await Runs.Json("/api/runs");

        foreach (string id in new[] { DashboardRuns.Exported, DashboardRuns.NotExported })
        {
            var line = RunLine(listing, id);
            var metrics = DashboardRuns.Metrics(id);
            Assert.AreEqual("completed", line["status"]!.GetValue<string>());
            Assert.AreEqual("text-classification", line["task"]!.GetValue<string>());
            Assert.AreEqual("minilm-l6", line["checkpoint"]!.GetValue<string>());
            Assert.AreEqual("sentiment-sample.tsv", line["train_file"]!.GetValue<string>());
            Assert.AreEqual("accuracy", line["metric"]!.GetValue<string>());
            Assert.AreEqual(metrics["final"]!["accuracy"]!.GetValue<double>(), line["value"]!.GetValue<double>(), 1e-12);
            Assert.AreEqual(metrics["training_seconds"]!.GetValue<double>(), line["duration_seconds"]!.GetValue<double>(), 1e-9);
        }
        Assert.IsTrue(RunLine(listing, DashboardRuns.Exported)["has_onnx"]!.GetValue<bool>());
        Assert.IsFalse(RunLine(listing, DashboardRuns.NotExported)["has_onnx"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task RunPage_HasAccuracy_PerClassTable_ConfusionMatrix_Options_AndParity()
    {
        var page = await Runs.Json("/api/run?id=" + DashboardRuns.Exported);

        var final = page["metrics"]!["json"]!["final"]!;
        double accuracy = final["accuracy"]!.GetValue<double>();
        Console.WriteLine($"accuracy on {DashboardRuns.ValidRows} sample rows after one epoch on 32: {accuracy:F4}");
        Assert.AreEqual(accuracy, page["summary"]!["value"]!.GetValue<double>(), 1e-12);
        Assert.AreEqual(2, final["per_class"]!.AsArray().Count);
        var matrix = final["confusion_matrix"]!.AsArray().Select(row => row!.AsArray().Select(c => c!.GetValue<int>()).ToArray()).ToArray();
        Assert.AreEqual(DashboardRuns.ValidRows, matrix.Sum(r => r.Sum()), "the confusion matrix counts every validation row");
        Assert.AreEqual(accuracy, (matrix[0][0] + matrix[1][1]) / (double)DashboardRuns.ValidRows, 1e-9, "its diagonal is the accuracy");
        Assert.AreEqual(2e-4, page["run"]!["json"]!["options"]!["learning_rate"]!.GetValue<double>());
        Assert.AreEqual(1.0, page["parity"]!["json"]!["argmax_agreement"]!.GetValue<double>());
        Assert.IsLessThan(1e-3, page["parity"]!["json"]!["max_abs_difference"]!.GetValue<double>());
        var tryIt = page["try_it"]!;
        Assert.IsFalse(tryIt["pair"]!.GetValue<bool>());
        CollectionAssert.AreEqual(new[] { "negative", "positive" }, tryIt["labels"]!.AsArray().Select(l => l!.GetValue<string>()).ToArray());
        Assert.IsNull(page["summary"]!["problem"]);
    }

    [TestMethod]
    public async Task Log_HasEveryOptimizerStep_AndTheEpochsValidationAccuracy()
    {
        var log = await Runs.Json("/api/run/log?id=" + DashboardRuns.Exported);
        var metrics = DashboardRuns.Metrics(DashboardRuns.Exported);

        var steps = log["steps"]!.AsArray();
        Assert.HasCount(4, steps, "32 rows in batches of 8, one epoch");
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4 }, steps.Select(s => s!["step"]!.GetValue<int>()).ToArray());
        Assert.IsTrue(steps.All(s => s!["loss"]!.GetValue<double>() is > 0 and < 5), "losses of a two-label classifier");
        Assert.AreEqual("accuracy", log["metric"]!.GetValue<string>());
        var epoch = log["epochs"]!.AsArray().Single()!;
        Assert.AreEqual(metrics["epochs"]![0]!["validation_accuracy"]!.GetValue<double>(), epoch["validation"]!.GetValue<double>(), 1e-12);
        Assert.AreEqual(4, epoch["step"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task TryIt_AnswersWithTheRunsModelOnnx_SameLabelAndProbabilitiesAsPredict()
    {
        const string text = "A warm, funny and clever film.";
        var (status, body) = await Runs.Post("/api/run/predict?id=" + DashboardRuns.Exported, new { text });

        Assert.AreEqual(200, status, body?.ToJsonString());
        using var model = BertOnnxModel.Load(Path.Combine(Runs.Root, DashboardRuns.Exported, RunFolder.ModelOnnxName));
        var expected = model.Predict(text);
        Assert.AreEqual("text-classification", body!["task"]!.GetValue<string>());
        Assert.AreEqual(expected.Label, body["output"]!["label"]!.GetValue<string>());
        Assert.AreEqual(expected.Probabilities![1], body["output"]!["probabilities"]!["positive"]!.GetValue<float>(), 1e-6f);
        Assert.AreEqual(model.TaskDefinition.Describe(expected, model.Card), body["line"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task TryIt_WithoutText_Is400_AndARunWithoutOnnx_Is409SayingSo()
    {
        var (status, body) = await Runs.Post("/api/run/predict?id=" + DashboardRuns.Exported, new { text2 = "x" });
        Assert.AreEqual(400, status);
        Assert.AreEqual("'text' is required: a non-empty string", body!["error"]!.GetValue<string>());

        (status, body) = await Runs.Post("/api/run/predict?id=" + DashboardRuns.NotExported, new { text = "Fine." });
        Assert.AreEqual(409, status);
        Assert.StartsWith("this run has no model.onnx", body!["error"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task TryIt_PairModel_TakesTwoTexts_AndAnswersItsScore()
    {
        // The committed tiny sentence-similarity model (tests/MlNetBert.Tests/Fixtures/legacy-v1) in a run folder.
        string dir = Runs.Folder("sts-pair", ("run.json", """{"status": "completed", "task": "sentence-similarity"}"""));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "similarity.model.onnx"), Path.Combine(dir, RunFolder.ModelOnnxName), overwrite: true);
        using var model = BertOnnxModel.Load(Path.Combine(dir, RunFolder.ModelOnnxName));

        var page = await Runs.Json("/api/run?id=sts-pair");
        Assert.IsTrue(page["try_it"]!["pair"]!.GetValue<bool>());
        Assert.AreEqual(model.Card.TextColumn, page["try_it"]!["text"]!.GetValue<string>());
        var (status, body) = await Runs.Post("/api/run/predict?id=sts-pair", new { text = "A man plays a guitar.", text2 = "Someone is playing music." });
        Assert.AreEqual(200, status, body?.ToJsonString());
        float expected = model.Predict("A man plays a guitar.", "Someone is playing music.").Score!.Value;
        Assert.AreEqual(expected, body!["output"]!["score"]!.GetValue<float>(), 1e-6f);
        (status, body) = await Runs.Post("/api/run/predict?id=sts-pair", new { text = "A man plays a guitar." });
        Assert.AreEqual(409, status);
        StringAssert.StartsWith(body!["error"]!.GetValue<string>(), "'text2' is required: this sentence-similarity model reads two texts");
    }

    [TestMethod]
    public async Task Page_AndItsAssets_AreServedFromTheAssembly_WithUPlotsLicence()
    {
        string html = await Runs.Http.GetStringAsync("/");
        StringAssert.Contains(html, "<script src=\"/assets/uPlot.iife.min.js\"></script>");
        StringAssert.Contains(html, "<script src=\"/assets/dashboard.js\"></script>");
        Assert.DoesNotContain("://", html, "no asset from another site");
        string uplot = await Runs.Http.GetStringAsync("/assets/uPlot.iife.min.js");
        Assert.IsGreaterThan(20_000, uplot.Length);
        StringAssert.Contains(uplot, "uPlot");
        StringAssert.Contains(await Runs.Http.GetStringAsync("/assets/uPlot.LICENSE.txt"), "MIT License");
        StringAssert.Contains(await Runs.Http.GetStringAsync("/assets/dashboard.js"), "function runsPage");
        using var missing = await Runs.Http.GetAsync("/assets/nothing.js");
        Assert.AreEqual(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [TestMethod]
    public void NonLoopbackAddress_IsRefused_NamingIt()
    {
        var e = Assert.ThrowsExactly<BadInputException>(() => DashboardApp.Build(new DashboardOptions { RunsRoot = Runs.Root, Urls = "http://0.0.0.0:5100" }));
        Assert.AreEqual("--urls: refusing to listen on http://0.0.0.0:5100: the dashboard has no authentication and listens on loopback only (127.0.0.1, localhost or [::1])", e.Message);
    }
}
