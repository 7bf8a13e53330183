using MlNetBert.Training;
using ScottPlot;

namespace MlNetBert.Runs;

/// <summary>curves.png: training loss per step (left axis) and the validation metric per epoch (right axis).</summary>
internal static class CurvesPlot
{
    public static void Save(TrainingHistory history, string path)
    {
        var plot = new Plot();
        double[] steps = history.Steps.Select(s => (double)s.Step).ToArray();
        double[] losses = history.Steps.Select(s => s.Loss).ToArray();
        var loss = plot.Add.Scatter(steps, losses);
        loss.LegendText = "training loss (per step)";
        loss.MarkerSize = 0;
        if (steps.Length > 20)
        {
            var smooth = Smooth(losses, Math.Max(3, steps.Length / 20));
            var line = plot.Add.Scatter(steps, smooth);
            line.LegendText = "training loss (moving average)";
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }
        var validated = history.Epochs.Where(e => e.ValidationMetric.HasValue).ToList();
        if (validated.Count > 0)
        {
            var lastStepOfEpoch = history.Steps.GroupBy(s => s.Epoch).ToDictionary(g => g.Key, g => (double)g.Max(s => s.Step));
            var metric = plot.Add.Scatter(
                validated.Select(e => lastStepOfEpoch.GetValueOrDefault(e.Epoch)).ToArray(),
                validated.Select(e => e.ValidationMetric!.Value).ToArray());
            metric.LegendText = $"validation {history.ValidationMetricName} (per epoch)";
            metric.Axes.YAxis = plot.Axes.Right;
            metric.MarkerSize = 8;
            metric.LineWidth = 2;
            plot.Axes.Right.Label.Text = $"validation {history.ValidationMetricName}";
        }
        plot.Title("Fine-tuning");
        plot.XLabel("optimizer step");
        plot.YLabel("training loss");
        plot.ShowLegend(Alignment.UpperCenter);
        // ScottPlot writes to a path (and wants the .png extension), so the atomic write is done here: a temporary
        // name in the same folder, then a rename, as AtomicFile does for the other files of a run.
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp.png");
        plot.SavePng(temp, 1000, 550);
        File.Move(temp, path, overwrite: true);
    }

    private static double[] Smooth(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window)
                sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
