using System.Runtime.InteropServices;
using MlNetBert.Runs;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// The console side of a training run: turns Ctrl-C and SIGTERM into cancellation, prints what the run reports,
/// and maps the outcome to an exit code. The run itself is <see cref="BertRun"/>.
/// </summary>
internal static class RunConsole
{
    public static int Train(BertRunRequest request)
    {
        // ML.NET's NAS-BERT trainer cannot stop midway, so Ctrl-C keeps its usual meaning (end the process) there.
        using var stop = request.IsNasBert ? null : new ConsoleStop();
        return Report(() => PrintSummary(BertRun.Train(request, new RunOutput(), stop?.Token ?? default)), stop);
    }

    public static int Resume(string runDirectory)
    {
        using var stop = new ConsoleStop();
        return Report(() => PrintSummary(BertRun.Resume(runDirectory, new RunOutput(), stop.Token)), stop);
    }

    /// <summary>Runs, and turns an interruption into exit code 130 (Ctrl-C) or 143 (SIGTERM).</summary>
    public static int Report(Action run, ConsoleStop? stop)
    {
        try
        {
            run();
            return ExitCodes.Success;
        }
        catch (RunInterruptedException e)
        {
            Console.Error.WriteLine(e.Resumable
                ? $"training interrupted; state saved. Continue with: mlnetbert train --resume {e.RunDirectory}"
                : "training interrupted before anything was saved; no run folder was kept");
            return stop?.ExitCode ?? ExitCodes.Interrupted;
        }
        catch (OperationCanceledException) when (stop is { Token.IsCancellationRequested: true })
        {
            // Stopped between runs (a sweep between trials): nothing was interrupted.
            Console.Error.WriteLine("cancelled");
            return stop.ExitCode;
        }
    }

    public static void PrintSummary(BertRunResult result)
    {
        if (result.History is not { } history)
        {
            // ML.NET's NAS-BERT trainer: no per-step history and no log-loss.
            Console.WriteLine($"validation ({result.ValidRows} rows): " + string.Join(", ", result.FinalMetrics
                .Where(kv => kv.Key is "accuracy" or "macro_f1" or "pearson" or "spearman").Select(kv => $"{kv.Key} {kv.Value:F4}")));
            Console.WriteLine($"training time {result.TrainingTime.TotalSeconds:F1} s; run folder: {result.Folder.Path}");
            return;
        }
        Console.WriteLine();
        Console.WriteLine($"validation ({result.ValidRows} rows): " + string.Join(", ", result.FinalMetrics
            .Where(kv => kv.Key is "accuracy" or "macro_f1" or "log_loss" or "pearson" or "spearman" or "f1" or "precision" or "recall" or "token_accuracy").Select(kv => $"{kv.Key} {kv.Value:F4}")));
        Console.WriteLine($"training time {ConsoleProgress.Format(history.TrainingTime)}, {history.SamplesPerSecond:F1} samples/s{(history.BFloat16 ? " (bf16 products)" : "")}, " +
            $"peak working set {history.PeakWorkingSetBytes / (double)(1L << 30):F2} GiB");
        Console.WriteLine($"run folder: {result.Folder.Path} (model.zip loads with ML.NET's mlContext.Model.Load, input column{(result.IsPair ? "s Text, Text2" : " Text")}{(result.Parity is not null ? "; model.onnx with ONNX Runtime" : "")})");
    }

    /// <summary>Prints a run's reports: messages to stderr, the start, training progress and the export to stdout.</summary>
    public sealed class RunOutput : IProgress<RunProgress>
    {
        private readonly ConsoleProgress _steps = new();
        private bool _nasBert;

        public void Report(RunProgress value)
        {
            switch (value)
            {
                case RunMessage m:
                    Console.Error.WriteLine(m.Text);
                    break;
                case RunStarted s when s.Request.IsNasBert:
                    _nasBert = true;
                    var o = s.Request.Options;
                    Console.WriteLine($"training ML.NET's NAS-BERT {(s.Request.Task.KeyLabel ? "TextClassification" : "SentenceSimilarity")} on {s.TrainRows} rows " +
                        $"({s.ValidRows} validation), {o.Epochs} epochs, batch {o.BatchSize}; ML.NET's own recipe (learning rate, length 512, Adam), so " +
                        "--learning-rate, --max-length, --freeze, --pooling and the other fine-tuning options do not apply");
                    break;
                case RunStarted s:
                    if (s.Resuming)
                        Console.WriteLine($"resuming {s.Folder.Path}");
                    Console.WriteLine($"training {s.Request.Task.Name} on {s.TrainRows} rows ({s.ValidRows} validation) from {s.Checkpoint}; run folder {s.Folder.Path}");
                    break;
                case RunTrainingStep t:
                    _steps.Report(t.Training);
                    break;
                case RunExported e:
                    // After the BERT trainer's progress lines, a blank line first; NAS-BERT prints none.
                    Console.WriteLine(_nasBert ? $"exported model.onnx: {e.Parity}" : $"\nexported model.onnx: {e.Parity}");
                    break;
            }
        }
    }
}

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM (kill, container and job-scheduler stops) both stop a run at the next step boundary
/// and save resumable state; the exit code says which (130 or 143).
/// </summary>
internal sealed class ConsoleStop : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _onInterrupt;
    private readonly PosixSignalRegistration _onTerminate;

    public ConsoleStop()
    {
        _onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    public CancellationToken Token => _cancel.Token;

    public int ExitCode { get; private set; } = ExitCodes.Interrupted;

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        if (context.Signal == PosixSignal.SIGTERM)
            ExitCode = ExitCodes.Terminated;
        Console.Error.WriteLine($"\n{(context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "interrupted")}: stopping at the next step boundary...");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _onInterrupt.Dispose();
        _onTerminate.Dispose();
        _cancel.Dispose();
    }
}
