using System.Text.Json.Nodes;

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

            var second = CliProcess.Run(args);
            Assert.AreEqual(0, second.ExitCode, second.Stderr);
            Assert.AreEqual(2, second.Stdout.Split('\n').Count(l => l.Contains("finished earlier, skipped", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
