using System.Net;
using System.Text.Json.Nodes;

namespace MlNetBert.Dashboard.Tests;

/// <summary>Damaged, half-written and interrupted run folders show as such; nothing outside the runs folder is served.</summary>
[TestClass]
public sealed class DamagedRunsTests
{
    private static DashboardRuns Runs => DashboardRuns.Get;

    private static async Task<JsonObject> Line(string id) =>
        (await Runs.Json("/api/runs"))["runs"]!.AsArray().OfType<JsonObject>().Single(r => r["id"]!.GetValue<string>() == id);

    [TestMethod]
    public async Task CutOffRunJson_ShowsAsDamaged_NamingTheFile_AndItsPageStillAnswers()
    {
        Runs.Folder("cut-off", ("run.json", "{\"status\": \"compl"));

        var line = await Line("cut-off");
        Assert.AreEqual("damaged", line["status"]!.GetValue<string>());
        StringAssert.StartsWith(line["problem"]!.GetValue<string>(), "run.json: damaged (17 bytes, not valid JSON");
        var page = await Runs.Json("/api/run?id=cut-off");
        StringAssert.StartsWith(page["run"]!["problem"]!.GetValue<string>(), "run.json: damaged (not valid JSON");
        Assert.AreEqual("metrics.json is missing", page["metrics"]!["problem"]!.GetValue<string>());
        Assert.AreEqual("log.csv is missing", (await Runs.Json("/api/run/log?id=cut-off"))["problem"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CompletedRun_WithDamagedMetrics_ShowsAsDamaged()
    {
        Runs.Folder("bad-metrics", ("run.json", """{"status": "completed", "task": "text-classification"}"""), ("metrics.json", "[1, 2]"),
            ("model.zip", "x"));

        var line = await Line("bad-metrics");
        Assert.AreEqual("damaged", line["status"]!.GetValue<string>());
        Assert.AreEqual("metrics.json: damaged (not a JSON object)", line["problem"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task RunningRun_WhoseProcessIsGone_ShowsAsStalled_WithTheResumeCommand()
    {
        string dir = Runs.Folder("killed", ("run.json", """{"status": "running", "pid": 2147483000, "task": "text-classification"}"""));
        Runs.Folder("killed/checkpoint", ("state.json", "{}"));

        var line = await Line("killed");
        Assert.AreEqual("stalled", line["status"]!.GetValue<string>());
        Assert.AreEqual($"run.json says running, but its process (pid 2147483000) is gone: the run was killed; continue it with: mlnetbert train --resume {dir}",
            line["problem"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task LiveRun_ShowsProgressFromProgressJson_AndItsLogSkipsAHalfWrittenLastLine()
    {
        // A run of this very process (alive), with log.csv cut in the middle of a line as an append can leave it.
        Runs.Folder("live",
            ("run.json", $$$"""{"status": "running", "pid": {{{Environment.ProcessId}}}, "task": "text-classification", "checkpoint": {"name": "minilm-l6"}}"""),
            ("log.csv", "step,epoch,loss,learning_rate,samples_per_second\n1,1,0.71,0.0001,3.5\n2,1,0.69,9e-05,3.6\n3,1,0.6"),
            ("progress.json", """{"epoch": 1, "epochs": 3, "step": 2, "total_steps": 12, "loss": 0.69, "elapsed_seconds": 5.5, "remaining_seconds": 27.5, "epochs_done": []}"""));

        var line = await Line("live");
        Assert.AreEqual("running", line["status"]!.GetValue<string>());
        var progress = line["progress"]!;
        Assert.AreEqual(2, progress["step"]!.GetValue<int>());
        Assert.AreEqual(12, progress["total_steps"]!.GetValue<int>());
        Assert.AreEqual(27.5, progress["remaining_seconds"]!.GetValue<double>());
        Assert.AreEqual(5.5, line["duration_seconds"]!.GetValue<double>());
        var log = await Runs.Json("/api/run/log?id=live");
        Assert.HasCount(2, log["steps"]!.AsArray());
        Assert.AreEqual(1, log["skipped_lines"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task UnfinishedSweep_ListsItsTrials_AndAFinishedOne_ItsLeaderboardWithTheBest()
    {
        string done = Runs.Folder("sweep-done", ("sweep.json", """
            {"trials": [
              {"trial": "learning-rate=1e-4", "options": {"learning-rate": "1e-4"}, "status": "done", "metric": "accuracy", "value": 0.81, "training_seconds": 12.5, "best": true},
              {"trial": "learning-rate=3e-5", "options": {"learning-rate": "3e-5"}, "status": "done", "metric": "accuracy", "value": 0.74, "training_seconds": 12.1},
              {"trial": "learning-rate=1e-5", "options": {"learning-rate": "1e-5"}, "status": "not started"}]}
            """));
        Runs.Folder("sweep-done/learning-rate=1e-4", ("run.json", """{"status": "completed", "task": "text-classification"}"""));
        Runs.Folder("sweep-going/learning-rate=2e-5", ("run.json", $$"""{"status": "running", "pid": {{Environment.ProcessId}}}"""));

        var listing = await Runs.Json("/api/runs");
        var sweeps = listing["sweeps"]!.AsArray().OfType<JsonObject>().ToDictionary(s => s["id"]!.GetValue<string>());
        Assert.IsTrue(sweeps["sweep-done"]["finished"]!.GetValue<bool>());
        Assert.IsFalse(sweeps["sweep-going"]["finished"]!.GetValue<bool>());
        Assert.AreEqual(1, sweeps["sweep-going"]["trials"]!.GetValue<int>());
        var board = await Runs.Json("/api/sweep?id=sweep-done");
        var rows = board["rows"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "learning-rate=1e-4", "learning-rate=3e-5", "learning-rate=1e-5" }, rows.Select(r => r!["name"]!.GetValue<string>()).ToArray());
        Assert.IsTrue(rows[0]!["best"]!.GetValue<bool>());
        Assert.AreEqual("sweep-done/learning-rate=1e-4", rows[0]!["run_id"]!.GetValue<string>());
        Assert.AreEqual(0.74, rows[1]!["value"]!.GetValue<double>());
        var going = await Runs.Json("/api/sweep?id=sweep-going");
        Assert.AreEqual("running", going["rows"]![0]!["status"]!.GetValue<string>());
        Assert.AreEqual("2e-5", going["rows"]![0]!["options"]!["learning-rate"]!.GetValue<string>());
    }

    [TestMethod]
    [DataRow("/api/run?id=..")]
    [DataRow("/api/run?id=../outside")]
    [DataRow("/api/run?id=..%2foutside")]
    [DataRow("/api/run?id=lr-2e-4%2f..%2f..%2foutside")]
    [DataRow("/api/run?id=%2fetc")]
    [DataRow("/api/run?id=lr-2e-4%5c..%5c..%5coutside")]
    [DataRow("/api/run?id=linked-out")]
    [DataRow("/api/run?id=")]
    [DataRow("/api/run/log?id=../outside")]
    [DataRow("/api/run/file?id=lr-2e-4&name=../../outside/secret.json")]
    [DataRow("/api/run/file?id=lr-2e-4&name=..%2f..%2foutside%2fsecret.json")]
    [DataRow("/api/run/file?id=lr-2e-4&name=%2fetc%2fpasswd")]
    [DataRow("/api/run/file?id=lr-2e-4&name=analysis/../../../outside/secret.json")]
    [DataRow("/api/run/file?id=lr-2e-4&name=model.onnx")]
    [DataRow("/api/run/file?id=lr-2e-4&name=linked-secret.json")]
    [DataRow("/api/sweep?id=../outside")]
    [DataRow("/assets/..%2f..%2frun.json")]
    [DataRow("/../outside/secret.json")]
    public async Task PathsOutsideTheRunsFolder_OrNotOffered_Are404(string path)
    {
        // A link inside the runs folder that points out of it is not followed.
        string link = Path.Combine(Runs.Root, "linked-out");
        if (!Directory.Exists(link))
            Directory.CreateSymbolicLink(link, Runs.Outside);
        string fileLink = Path.Combine(Runs.Root, DashboardRuns.Exported, "linked-secret.json");
        if (!File.Exists(fileLink))
            File.CreateSymbolicLink(fileLink, Path.Combine(Runs.Outside, "secret.json"));

        using var response = await Runs.Http.GetAsync(path);

        Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode, path);
        Assert.DoesNotContain("secret", await response.Content.ReadAsStringAsync());
    }

    [TestMethod]
    public async Task DamagedModelOnnx_IsThePagesModelProblem_AndTryItSays409()
    {
        Runs.Folder("bad-onnx", ("run.json", """{"status": "completed", "task": "text-classification"}"""), ("metrics.json", "{}"),
            ("model.zip", "x"), ("model.onnx", "not an ONNX file"));

        var page = await Runs.Json("/api/run?id=bad-onnx");
        Assert.IsNull(page["try_it"]);
        string expected = Path.Combine(Runs.Root, "bad-onnx", "model.onnx") + ": not a valid ONNX model, or the file is damaged";
        StringAssert.StartsWith(page["model_problem"]!.GetValue<string>(), expected);
        var (status, body) = await Runs.Post("/api/run/predict?id=bad-onnx", new { text = "Fine." });
        Assert.AreEqual(409, status);
        StringAssert.StartsWith(body!["error"]!.GetValue<string>(), expected);
    }

    [TestMethod]
    public async Task RunFiles_ServeItsCurvesPicture()
    {
        using var response = await Runs.Http.GetAsync($"/api/run/file?id={DashboardRuns.Exported}&name=curves.png");
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("image/png", response.Content.Headers.ContentType!.MediaType);
        byte[] png = await response.Content.ReadAsByteArrayAsync();
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }
}
