using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// Training progress on the console: one line rewritten in place on a terminal; plain periodic lines (about every
/// 5% of the steps, and at each epoch end) when the output goes to a file or a CI log.
/// </summary>
internal sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    private readonly bool _terminal = !Console.IsOutputRedirected;
    private int _lastReportedStep = -1;

    public void Report(TrainingProgress p)
    {
        if (p.EndOfEpoch)
        {
            if (_terminal)
                Console.WriteLine();
            string metric = p.ValidationMetric is double m ? $", validation {p.ValidationMetricName} {m:F4}" : "";
            Console.WriteLine($"epoch {p.Epoch}/{p.Epochs} done: mean training loss {p.Loss:F4}{metric}, {p.SamplesPerSecond:F1} samples/s");
            return;
        }
        int every = Math.Max(1, p.TotalSteps / 20);
        string line = $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}/{p.TotalSteps} {Bar(p.Step, p.TotalSteps)}  loss {p.Loss:F4}  lr {p.LearningRate:E2}  {p.SamplesPerSecond:F1} samples/s  ETA {Format(p.EstimatedRemaining)}";
        if (_terminal)
        {
            Console.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 120, 160)));
        }
        else if (p.Step - _lastReportedStep >= every || p.Step == p.TotalSteps)
        {
            Console.WriteLine(line);
            _lastReportedStep = p.Step;
        }
    }

    private static string Bar(int step, int total)
    {
        int filled = total == 0 ? 0 : (int)Math.Round(20.0 * step / total);
        return "[" + new string('#', filled) + new string('.', 20 - filled) + "]";
    }

    internal static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";
}
