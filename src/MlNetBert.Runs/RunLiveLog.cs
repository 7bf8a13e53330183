using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// What a run in progress shows of itself: each optimizer step appended to <c>log.csv</c> as it happens, and
/// <c>progress.json</c> (step, total steps, epoch, loss, elapsed and remaining time, validation metric per finished
/// epoch) rewritten atomically at the first step, then at most once a second and at every epoch end. A reader (the dashboard) follows a
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
    private bool _progressWritten;

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
            if (!_progressWritten || p.EndOfEpoch || _sinceWrite.Elapsed >= Interval || p.Step == p.TotalSteps)
            {
                WriteProgress(p);
                _sinceWrite.Restart();
                _progressWritten = true;
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
            // A resumed run starts again from its last checkpoint: the steps it logged after that are done again, so
            // they go (the lines before them stay, as the history the checkpoint holds has them too).
            var kept = File.Exists(_run.LogCsv)
                ? File.ReadAllLines(_run.LogCsv).Skip(1).Where(l => int.TryParse(l.Split(',')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int step) && step < p.Step)
                : [];
            AtomicFile.WriteAllText(_run.LogCsv, RunMetrics.LogHeader + string.Concat(kept.Select(l => l + "\n")));
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
