using System.Globalization;
using System.Text.Json.Nodes;
using MlNetBert.Data;
using MlNetBert.Training;

namespace MlNetBert.Runs.Tests;

/// <summary>A run from one library call: its folder, its status in run.json, cancellation and resume.</summary>
[TestClass]
public sealed class BertRunTests
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "data", "sentiment-sample.tsv");

    private string _dir = null!;

    [TestInitialize]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("mlnetbert-runs-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    /// <summary>40 rows, one epoch of 10 steps; validated on 200 sample rows, so the bar measures learning, not 4 lucky rows.</summary>
    private BertRunRequest FortyRows(string name) => new(new TabularReadOptions(Sample) { MaxRows = 40 })
    {
        Valid = new TabularReadOptions(Sample) { MaxRows = 200 },
        Out = Path.Combine(_dir, name),
        ExportOnnx = false,
        CheckpointEvery = 1,
        Options = new BertTrainingOptions { Epochs = 1, BatchSize = 4, MaxSequenceLength = 32, LearningRate = 2e-4, Seed = 3 },
    };

    [TestMethod]
    public void Train_FortySampleRows_OneEpoch_CompletesWithMetricsAndALoadableModel()
    {
        var result = BertRun.Train(FortyRows("run"));

        var run = RunFolder.Open(result.Folder.Path);
        Assert.AreEqual(RunStatus.Completed, run.ReadInfo().Status);
        Assert.AreEqual("completed", JsonNode.Parse(File.ReadAllText(run.RunJson))!["status"]!.GetValue<string>());
        Assert.IsFalse(Directory.Exists(run.CheckpointFolder), "the resumable state is removed once the run completes");
        var metrics = JsonNode.Parse(File.ReadAllText(run.MetricsJson))!;
        double accuracy = metrics["final"]!["accuracy"]!.GetValue<double>();
        Console.WriteLine($"accuracy on 200 sample rows after one epoch on 40: {accuracy:F4}");
        Assert.IsGreaterThanOrEqualTo(0.72, accuracy, "measured 0.77 (seed 3, 2 cores)");
        Assert.AreEqual(accuracy, result.FinalMetrics["accuracy"], 1e-12);
        Assert.AreEqual(40, result.TrainRows, "with Valid given, nothing is split off the training rows");
        Assert.AreEqual(200, result.ValidRows);
        using var model = BertTaskModel.Load(result.ModelZip);
        Assert.AreEqual(2, model.Card.Labels.Count);
        Assert.IsFalse(File.Exists(run.ModelOnnx), "ExportOnnx = false writes no ONNX file");
        Assert.IsTrue(File.Exists(run.LogCsv) && File.Exists(run.CurvesPng));
        Assert.IsEmpty(Directory.GetFiles(run.Path, "*.tmp*"), "no temporary files are left");
    }

    [TestMethod]
    public void Cancelled_MidRun_IsInterruptedAndResumable_ThenResumeCompletes()
    {
        using var cancel = new CancellationTokenSource();
        var progress = new Forward(p =>
        {
            if (p is RunTrainingStep { Training.Step: 3, Training.EndOfEpoch: false })
                cancel.Cancel();
        });

        var e = Assert.ThrowsExactly<RunInterruptedException>(() => BertRun.Train(FortyRows("run"), progress, cancel.Token));

        Assert.IsTrue(e.Resumable);
        var run = RunFolder.Open(e.RunDirectory);
        Assert.AreEqual(RunStatus.Interrupted, run.ReadInfo().Status);
        Assert.IsTrue(run.HasResumableState);
        Assert.IsFalse(File.Exists(run.ModelZip), "an interrupted run must not look finished");
        StringAssert.Contains(Assert.ThrowsExactly<BadInputException>(() => RunFolder.ResolveModelZip(run.Path)).Message, "interrupted");
        // What a reader (the dashboard) follows while a run trains: each step appended to log.csv, and progress.json.
        CollectionAssert.AreEqual(new[] { "1", "2", "3" }, File.ReadAllLines(run.LogCsv).Skip(1).Select(l => l.Split(',')[0]).ToArray());
        var live = JsonNode.Parse(File.ReadAllText(run.ProgressJson))!;
        Assert.AreEqual(10, live["total_steps"]!.GetValue<int>(), "40 rows in batches of 4");
        Assert.IsTrue(live["step"]!.GetValue<int>() is >= 1 and <= 3);

        var resumed = BertRun.Resume(run.Path);
        Assert.IsTrue(resumed.Resumed);
        Assert.AreEqual(RunStatus.Completed, run.ReadInfo().Status);
        Assert.IsTrue(File.Exists(run.ModelZip));
        CollectionAssert.AreEqual(Enumerable.Range(1, 10).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray(),
            File.ReadAllLines(run.LogCsv).Skip(1).Select(l => l.Split(',')[0]).ToArray(), "every step once, in order, after the resume");
    }

    [TestMethod]
    public void TruncatedRunJson_IsReportedAsDamaged_NamingTheFile()
    {
        var run = RunFolder.At(Path.Combine(_dir, "damaged"));
        Directory.CreateDirectory(run.Path);
        File.WriteAllText(run.RunJson, "{\n  \"status\": \"running\",\n  \"argv\": [\"--tra");

        var e = Assert.ThrowsExactly<BadInputException>(() => run.ReadInfo());

        StringAssert.StartsWith(e.Message, $"{run.RunJson}: damaged (");
        StringAssert.Contains(e.Message, "not valid JSON");
        StringAssert.Contains(Assert.ThrowsExactly<BadInputException>(() => RunFolder.ResolveModelZip(run.Path)).Message, "damaged");
    }

    [TestMethod]
    public void RunningRun_WithoutModel_SaysSoWhenUsedAsAModel()
    {
        var run = RunFolder.At(Path.Combine(_dir, "running"));
        Directory.CreateDirectory(run.Path);
        File.WriteAllText(run.RunJson, """{ "status": "running", "pid": 1 }""");

        Assert.AreEqual(RunStatus.Running, run.ReadInfo().Status);
        var e = Assert.ThrowsExactly<BadInputException>(() => RunFolder.ResolveModelZip(run.Path));
        StringAssert.Contains(e.Message, "is a folder without model.zip (its run is still running, or was killed)");
    }

    private sealed class Forward(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
