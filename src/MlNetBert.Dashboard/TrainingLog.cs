using System.Globalization;

namespace MlNetBert.Dashboard;

/// <summary>One line of log.csv.</summary>
/// <param name="Step">The optimizer step.</param>
/// <param name="Epoch">Its epoch.</param>
/// <param name="Loss">The training loss.</param>
/// <param name="LearningRate">The learning rate.</param>
/// <param name="SamplesPerSecond">Throughput.</param>
public sealed record LogStep(int Step, int Epoch, double Loss, double LearningRate, double SamplesPerSecond);

/// <summary>
/// log.csv as the dashboard reads it: every well-formed step line; a line it cannot read (the last one of a run still
/// appending, or a damaged file) is counted, not fatal.
/// </summary>
/// <param name="Steps">The steps, in file order.</param>
/// <param name="SkippedLines">Lines that were not a step.</param>
/// <param name="Problem">Why the file could not be read at all (missing, no header), or null.</param>
public sealed record TrainingLog(IReadOnlyList<LogStep> Steps, int SkippedLines, string? Problem)
{
    /// <summary>Reads <paramref name="path"/>; never throws for a missing or damaged file.</summary>
    public static TrainingLog Read(string path)
    {
        string[] lines;
        try
        {
            if (!File.Exists(path))
                return new TrainingLog([], 0, "log.csv is missing");
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            lines = reader.ReadToEnd().Split('\n');
        }
        catch (IOException e)
        {
            return new TrainingLog([], 0, $"log.csv cannot be read ({e.Message})");
        }
        if (lines.Length == 0 || !lines[0].StartsWith("step,epoch,loss", StringComparison.Ordinal))
            return new TrainingLog([], 0, "log.csv: damaged (no 'step,epoch,loss,...' header)");
        var steps = new List<LogStep>();
        int skipped = 0;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
                continue;
            string[] cells = line.Split(',');
            if (cells.Length == 5
                && int.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int step)
                && int.TryParse(cells[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch)
                && double.TryParse(cells[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss)
                && double.TryParse(cells[3], NumberStyles.Float, CultureInfo.InvariantCulture, out double lr)
                && double.TryParse(cells[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double rate))
                steps.Add(new LogStep(step, epoch, loss, lr, rate));
            else
                skipped++;
        }
        return new TrainingLog(steps, skipped, null);
    }
}
