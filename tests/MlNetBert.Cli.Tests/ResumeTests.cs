using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json.Nodes;

namespace MlNetBert.Cli.Tests;

/// <summary>Interrupt and resume: a run killed after a checkpoint and resumed ends exactly like an uninterrupted run.</summary>
[TestClass]
public sealed class ResumeTests
{
    private static readonly string[] Options =
        ["--train", "{sample}", "--epochs", "2", "--max-rows", "120", "--max-length", "24", "--batch-size", "16", "--learning-rate", "1e-4", "--seed", "9", "--checkpoint-every", "4"];

    /// <summary>The shared options, with any option named in <paramref name="overrides"/> taking that value instead.</summary>
    private static string[] Args(string output, params string[] overrides)
    {
        var args = new List<string> { "train" };
        for (int i = 0; i < Options.Length; i += 2)
            if (!overrides.Contains(Options[i]))
                args.AddRange([Options[i], Options[i + 1].Replace("{sample}", Paths.Sample, StringComparison.Ordinal)]);
        return [.. args, .. overrides, "--out", output];
    }

    [TestMethod]
    public void KilledRun_ResumesToTheSameWeightsAndMetrics()
    {
        string dir = Paths.TempDir();
        try
        {
            string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed");
            var reference = CliProcess.Run(Args(straight));
            Assert.AreEqual(0, reference.ExitCode, reference.Stderr);

            // Start the same run and SIGKILL it as soon as a checkpoint from step 4 or later exists.
            KillAfterCheckpoint(Args(killed), killed, step: 4);
            Assert.IsFalse(File.Exists(Path.Combine(killed, "model.zip")), "the killed run must not look finished");

            var resumed = CliProcess.Run("train", "--resume", killed);
            Assert.AreEqual(0, resumed.ExitCode, resumed.Stderr + resumed.Stdout);
            StringAssert.Contains(resumed.Stdout, "resuming");
            Assert.IsFalse(Directory.Exists(Path.Combine(killed, "checkpoint")), "the checkpoint is removed once the run completes");

            var straightMetrics = JsonNode.Parse(File.ReadAllText(Path.Combine(straight, "metrics.json")))!;
            var resumedMetrics = JsonNode.Parse(File.ReadAllText(Path.Combine(killed, "metrics.json")))!;
            Assert.AreEqual(2, resumedMetrics["epochs"]!.AsArray().Count, "both epochs recorded, the first from the saved state");
            Assert.AreEqual(straightMetrics["epochs"]!.AsArray().Count, resumedMetrics["epochs"]!.AsArray().Count);
            var log = File.ReadAllLines(Path.Combine(killed, "log.csv"));
            var straightLog = File.ReadAllLines(Path.Combine(straight, "log.csv"));
            Assert.AreEqual(straightLog.Length, log.Length, "every step logged once across the two processes");
            for (int i = 1; i <= 4; i++)
                Assert.AreEqual(straightLog[i].Split(',')[2], log[i].Split(',')[2], $"step {i} happened before the kill: same loss as the uninterrupted run");
            Assert.AreEqual(Weights(straight).Length, Weights(killed).Length);
            Assert.AreEqual(straightMetrics["final"]!.ToJsonString(), resumedMetrics["final"]!.ToJsonString(), "final validation metrics");
            CollectionAssert.AreEqual(Weights(straight), Weights(killed), "final weights, bit for bit");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void KilledRun_WithWeightAveraging_ResumesToTheSameAverage()
    {
        // One epoch of 7 steps averaged from step 2 (--average-last 0.9): the kill at step 4 falls inside the average,
        // and with one epoch the final weights are the average (no earlier epoch to restore).
        string[] extra = ["--epochs", "1", "--average-last", "0.9"];
        string dir = Paths.TempDir();
        try
        {
            string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed");
            var reference = CliProcess.Run(Args(straight, extra));
            Assert.AreEqual(0, reference.ExitCode, reference.Stderr);
            KillAfterCheckpoint(Args(killed, extra), killed, step: 4);
            Assert.IsTrue(File.Exists(Path.Combine(killed, "checkpoint", "average.safetensors")), "the running average is part of the saved state");

            var resumed = CliProcess.Run("train", "--resume", killed);
            Assert.AreEqual(0, resumed.ExitCode, resumed.Stderr + resumed.Stdout);
            CollectionAssert.AreEqual(Weights(straight), Weights(killed), "final (averaged) weights, bit for bit");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(SigInt, 130, DisplayName = "Ctrl-C (SIGINT) exits 130")]
    [DataRow(SigTerm, 143, DisplayName = "SIGTERM exits 143")]
    public void Signal_SavesStateAndExits_ThenResumeFinishes(int signal, int exitCode)
    {
        string dir = Paths.TempDir();
        try
        {
            if (signal == SigInt && SigIntIgnored())
                Assert.Inconclusive("SIGINT is ignored in this test process (inherited: a shell starts background jobs that way), so its children cannot be interrupted; the SIGTERM case still runs; run the tests in the foreground for this one");
            string run = Path.Combine(dir, "run");
            // More rows than the other tests (46 steps), so training is still running when the signal lands even
            // on a loaded machine; the signal is sent in-process, with no `kill` child to start first.
            using var process = CliProcess.Start(Args(run, "--max-rows", "400"));
            var deadline = DateTime.UtcNow.AddMinutes(5);
            while (!File.Exists(Path.Combine(run, "run.json")) || !File.Exists(Path.Combine(run, "checkpoint", "state.json")))
            {
                Assert.IsTrue(DateTime.UtcNow < deadline && !process.HasExited, "the run did not start checkpointing");
                Thread.Sleep(50);
            }
            Assert.AreEqual(0, SendSignal(process.Id, signal), $"kill(pid, {signal}) failed");
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.AreEqual(exitCode, process.ExitCode);
            StringAssert.Contains(process.StandardError.ReadToEnd(), "Continue with: mlnetbert train --resume");
            var resumed = CliProcess.Run("train", "--resume", run);
            Assert.AreEqual(0, resumed.ExitCode, resumed.Stderr);
            Assert.IsTrue(File.Exists(Path.Combine(run, "model.onnx")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private const int SigInt = 2;
    private const int SigTerm = 15;

    /// <summary>True when this process ignores SIGINT, as children of a non-interactive shell's background jobs do.</summary>
    private static bool SigIntIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (SigInt - 1))) != 0;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>Starts a training run and SIGKILLs it once its saved state has reached <paramref name="step"/>.</summary>
    internal static void KillAfterCheckpoint(string[] args, string runDir, int step)
    {
        using var process = CliProcess.Start(args);
        string state = Path.Combine(runDir, "checkpoint", "state.json");
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!(File.Exists(state) && StepOf(state) >= step))
        {
            Assert.IsFalse(process.HasExited, "the run finished before it could be killed");
            Assert.IsTrue(DateTime.UtcNow < deadline, "no checkpoint appeared");
            Thread.Sleep(50);
        }
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    private static int StepOf(string stateJson)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(stateJson))!["Step"]!.GetValue<int>();
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
        {
            return 0;
        }
    }

    /// <summary>The safetensors bytes inside a run's model.zip (an ML.NET model holding MlNetBert's own model zip).</summary>
    private static byte[] Weights(string run)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(run, "model.zip"));
        using var inner = new ZipArchive(zip.Entries.Single(e => e.Name == "MlNetBertModel.bin").Open(), ZipArchiveMode.Read);
        using var stream = inner.GetEntry("model.safetensors")!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
