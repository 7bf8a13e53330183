using System.Text.Json.Nodes;
using MlNetBert.Runs;

namespace MlNetBert.Cli.Tests;

[TestClass]
public sealed class SweepTests
{
    [TestMethod]
    public void Grid_RunsEachTrial_RanksThem_AndSkipsFinishedTrialsOnRerun()
    {
        string dir = Paths.TempDir();
        try
        {
            string[] args = ["sweep", "--out", dir, "--train", Paths.Sample, "--max-rows", "80", "--epochs", "1", "--max-length", "16",
                "--batch-size", "16", "--checkpoint-every", "0", "--learning-rate", "1e-4,3e-5"];
            var first = CliProcess.Run(args);
            Assert.AreEqual(0, first.ExitCode, first.Stderr + first.Stdout);
            var sweep = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "sweep.json")))!["trials"]!.AsArray();
            Assert.AreEqual(2, sweep.Count);
            Assert.IsTrue(sweep.All(t => t!["status"]!.GetValue<string>() == "done"));
            Assert.AreEqual(1, sweep.Count(t => t!["best"] is not null));
            Assert.IsTrue(sweep[0]!["value"]!.GetValue<double>() >= sweep[1]!["value"]!.GetValue<double>(), "ranked best first");
            StringAssert.Contains(File.ReadAllText(Path.Combine(dir, "sweep.md")), "**best**");
            Assert.IsTrue(Directory.Exists(Path.Combine(dir, "learning-rate=1e-4")));
            string bestRun = sweep[0]!["run"]!.GetValue<string>(), otherRun = sweep[1]!["run"]!.GetValue<string>();
            Assert.IsTrue(File.Exists(Path.Combine(bestRun, "model.onnx")) && File.Exists(Path.Combine(bestRun, "parity.json")), "the best trial is exported");
            Assert.IsFalse(File.Exists(Path.Combine(otherRun, "model.onnx")), "other trials keep only model.zip (no --export-all)");
            Assert.IsTrue(File.Exists(Path.Combine(otherRun, "model.zip")));
            StringAssert.Contains(first.Stdout, "best trial exported to ");

            var second = CliProcess.Run(args);
            Assert.AreEqual(0, second.ExitCode, second.Stderr);
            Assert.AreEqual(2, second.Stdout.Split('\n').Count(l => l.Contains("finished earlier, skipped", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void OverSeeds_SummarisesEachConfigurationAcrossSeeds_BestMeanFirst()
    {
        static SweepTrialResult Trial(string lr, string seed, double? value, double? seconds, string status = "done") =>
            new("t", [KeyValuePair.Create("learning-rate", lr), KeyValuePair.Create("seed", seed)], status, value is null ? null : "accuracy", value, seconds);
        var rows = new List<SweepTrialResult>
        {
            Trial("1e-5", "1", 0.80, 10), Trial("1e-5", "2", 0.82, 12), Trial("1e-5", "3", 0.84, 14),
            Trial("1e-4", "1", 0.85, 10), Trial("1e-4", "2", 0.86, 10),
            Trial("1e-4", "3", null, null, "not started"),
        };

        var groups = BertSweep.OverSeeds(rows);

        Assert.HasCount(2, groups);
        Assert.AreEqual("learning-rate=1e-4", groups[0].Config);
        Assert.AreEqual(2, groups[0].Seeds, "the trial that did not run is not counted");
        Assert.AreEqual(0.855, groups[0].Mean, 1e-12);
        Assert.AreEqual(Math.Sqrt(0.00005), groups[0].Sd!.Value, 1e-12); // (0.005² + 0.005²) / (2 - 1)
        Assert.AreEqual(0.82, groups[1].Mean, 1e-12);
        Assert.AreEqual(0.02, groups[1].Sd!.Value, 1e-12);               // sqrt((0.02² + 0 + 0.02²) / 2)
        Assert.AreEqual(0.80, groups[1].Min);
        Assert.AreEqual(0.84, groups[1].Max);
        Assert.AreEqual(12.0, groups[1].MeanTrainingSeconds, 1e-12);
        var noSeedAxis = new SweepTrialResult("t", [KeyValuePair.Create("learning-rate", "1e-5")], "done", "accuracy", 0.8, 1.0);
        Assert.IsEmpty(BertSweep.OverSeeds([noSeedAxis]), "no seed axis, no summary over seeds");
    }
}
