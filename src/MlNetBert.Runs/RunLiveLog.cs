using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// What a run in progress shows of itself: each optimizer step appended to <c>log.csv</c> as it happens, and
/// <c>progress.json</c> (step, total steps, epoch, loss, elapsed and remaining time, validation metric per finished
/// epoch) rewritten atomically at most once a second and at every epoch end. A reader (the dashboard) follows a
/// training run from these two files without touching the process.
/// </summary>
/// <remarks>
/// log.csv is appended, not replaced, while the run trains (a reader may see a last line cut short and must skip
/// it); when the run completes <see cref="RunMetrics.WriteLog"/> rewrites it whole, atomically, from the history.
/// </remarks>
internal sealed class RunLiveLog
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly RunFolder _run;
    private readonly JsonArray _epochs = [];
    private readonly Stopwatch _sinceWrite = Stopwatch.StartNew();
    private bool _headerChecked;

    public RunLiveLog(RunFolder run) => _run = run;

    public void Report(TrainingProgress p)
    {
        try
        {
            if (p.EndOfEpoch)
            {
                _epochs.Add(new JsonObject
                {
                    ["epoch"] = p.Epoch,
                    ["train_loss"] = p.Loss,
                    ["validation_metric"] = p.ValidationMetricName,
                    ["validation_value"] = p.ValidationMetric,
                });
            }
            else
            {
                AppendStep(p);
            }
            if (p.EndOfEpoch || _sinceWrite.Elapsed >= Interval || p.Step == p.TotalSteps)
            {
                WriteProgress(p);
                _sinceWrite.Restart();
            }
        }
        catch (IOException)
        {
            // Showing progress must never stop training; the final files are written whole at the end.
        }
    }

    private void AppendStep(TrainingProgress p)
    {
        if (!_headerChecked)
        {
            if (!File.Exists(_run.LogCsv) || new FileInfo(_run.LogCsv).Length == 0)
                File.WriteAllText(_run.LogCsv, RunMetrics.LogHeader);
            _headerChecked = true;
        }
        File.AppendAllText(_run.LogCsv, RunMetrics.LogLine(p.Step, p.Epoch, p.Loss, p.LearningRate, p.SamplesPerSecond));
    }

    private void WriteProgress(TrainingProgress p) => RunMetrics.Write(_run.ProgressJson, new JsonObject
    {
        ["epoch"] = p.Epoch,
        ["epochs"] = p.Epochs,
        ["step"] = p.Step,
        ["total_steps"] = p.TotalSteps,
        ["loss"] = double.IsFinite(p.Loss) ? p.Loss : null,
        ["samples_per_second"] = Math.Round(p.SamplesPerSecond, 2),
        ["elapsed_seconds"] = Math.Round(p.Elapsed.TotalSeconds, 1),
        ["remaining_seconds"] = Math.Round(p.EstimatedRemaining.TotalSeconds, 1),
        ["updated"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        ["epochs_done"] = _epochs.DeepClone(),
    });
}
