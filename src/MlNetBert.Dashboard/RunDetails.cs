using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard;

/// <summary>A file of a run as the run page reads it: its content, or why there is none.</summary>
/// <param name="Json">The file's JSON object, or null.</param>
/// <param name="Problem">Missing, damaged, or null when read.</param>
public sealed record RunFile(JsonObject? Json, string? Problem);

/// <summary>The analysis report of a run (<c>mlnetbert analyze --out RUN/analysis</c>, or its files in the run folder).</summary>
/// <param name="Markdown">analysis.md.</param>
/// <param name="Images">Its pictures, as names for <c>/api/run/file</c>.</param>
public sealed record AnalysisView(string? Markdown, IReadOnlyList<string> Images);

/// <summary>What the run page shows: the run's line, and each of its files as read.</summary>
/// <param name="Summary">The run's line in the list (status, key metric, progress).</param>
/// <param name="Path">The run folder's full path (for commands to copy).</param>
/// <param name="Run">run.json.</param>
/// <param name="Metrics">metrics.json.</param>
/// <param name="Parity">parity.json.</param>
/// <param name="Progress">progress.json.</param>
/// <param name="Analysis">The analysis report, or null.</param>
/// <param name="Files">The files in the folder.</param>
/// <param name="TryIt">What the try-it box needs (null without a loadable model.onnx): whether the model reads two texts and their column names.</param>
/// <param name="ModelProblem">Why model.onnx could not be loaded, or null.</param>
public sealed record RunPage(RunSummary Summary, string Path, RunFile Run, RunFile Metrics, RunFile Parity, RunFile Progress, AnalysisView? Analysis,
    IReadOnlyList<string> Files, TryItInputs? TryIt, string? ModelProblem);

/// <summary>The try-it box's inputs, from the task (<see cref="InferenceTask.ReadsPair"/>) and the run's column names.</summary>
/// <param name="Task">The task's name.</param>
/// <param name="Pair">Two text boxes.</param>
/// <param name="Text">The first text's column name (a question-answering model: the question).</param>
/// <param name="Text2">The second's (the context), or null.</param>
/// <param name="Labels">The model's labels.</param>
public sealed record TryItInputs(string Task, bool Pair, string Text, string? Text2, IReadOnlyList<string> Labels);

/// <summary>log.csv plus the validation metric per epoch (from metrics.json, or progress.json while training).</summary>
/// <param name="Steps">Every step.</param>
/// <param name="SkippedLines">Unreadable lines.</param>
/// <param name="Problem">Why there is no log.</param>
/// <param name="Metric">The validation metric's name.</param>
/// <param name="Epochs">Per epoch: its number, the mean training loss, the validation metric (null without validation rows), the step it ended on.</param>
public sealed record LogView(IReadOnlyList<LogStep> Steps, int SkippedLines, string? Problem, string? Metric, IReadOnlyList<EpochPoint> Epochs);

/// <summary>One epoch on the curves.</summary>
/// <param name="Epoch">Its number.</param>
/// <param name="TrainLoss">Mean training loss.</param>
/// <param name="Validation">The validation metric.</param>
/// <param name="Step">The last step of the epoch (where its point goes on the step axis).</param>
public sealed record EpochPoint(int Epoch, double? TrainLoss, double? Validation, int? Step);

internal static class RunDetails
{
    private const string AnalysisFolder = "analysis";

    public static RunPage Read(RunCatalog catalog, RunFolder run, TryItModels models)
    {
        var summary = RunReader.Summary(run, catalog.IdOf(run.Path), SweepOf(catalog, run));
        var runJson = File(run.RunJson);
        var files = Directory.EnumerateFileSystemEntries(run.Path).Select(System.IO.Path.GetFileName).OfType<string>()
            .Where(n => !n.Contains(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        TryItInputs? tryIt = null;
        string? modelProblem = null;
        if (System.IO.File.Exists(run.ModelOnnx))
        {
            // The boxes are named by the model's own card: its task (one text or two) and its column names.
            try
            {
                var card = models.With(run, m => m.Card);
                bool pair = InferenceTasks.Get(card.Task, "model.onnx").ReadsPair;
                tryIt = new TryItInputs(card.Task, pair, card.TextColumn, pair ? card.Text2Column ?? "Text2" : null, card.Labels);
            }
            catch (BadInputException e)
            {
                modelProblem = e.Message;
            }
        }
        return new RunPage(summary, run.Path, runJson, File(run.MetricsJson), File(run.ParityJson), File(run.ProgressJson), Analysis(run), files, tryIt,
            modelProblem);
    }

    public static LogView Log(RunFolder run)
    {
        var log = TrainingLog.Read(run.LogCsv);
        var epochs = new List<EpochPoint>();
        string? metric = null;
        int? EndStep(int epoch) => log.Steps.LastOrDefault(s => s.Epoch == epoch)?.Step;
        var (metrics, _) = RunReader.ReadJson(run.MetricsJson);
        if (metrics?["epochs"] is JsonArray done)
        {
            metric = RunReader.Text(metrics["validation_metric"]);
            foreach (var e in done.OfType<JsonObject>())
            {
                if (RunReader.Integer(e["epoch"]) is not { } n)
                    continue;
                epochs.Add(new EpochPoint(n, RunReader.Number(e["train_loss"]), metric is null ? null : RunReader.Number(e["validation_" + metric]), EndStep(n)));
            }
        }
        else if (RunReader.ReadJson(run.ProgressJson).Json?["epochs_done"] is JsonArray live)
        {
            foreach (var e in live.OfType<JsonObject>())
            {
                if (RunReader.Integer(e["epoch"]) is not { } n)
                    continue;
                metric ??= RunReader.Text(e["validation_metric"]);
                epochs.Add(new EpochPoint(n, RunReader.Number(e["train_loss"]), RunReader.Number(e["validation_value"]), EndStep(n)));
            }
        }
        return new LogView(log.Steps, log.SkippedLines, log.Problem, metric, epochs);
    }

    /// <summary>
    /// A picture or report of the run that <paramref name="name"/> names: a file directly in the run folder or in its
    /// analysis folder, with an extension the page shows, inside the folder once links are followed; else null.
    /// </summary>
    public static string? FindFile(RunFolder run, string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('\\') || name.Contains('\0'))
            return null;
        string[] parts = name.Split('/');
        bool ok = parts switch
        {
            [var file] => Plain(file),
            [AnalysisFolder, var file] => Plain(file),
            _ => false,
        };
        if (!ok || !new[] { ".png", ".md", ".json", ".csv" }.Contains(System.IO.Path.GetExtension(name), StringComparer.OrdinalIgnoreCase))
            return null;
        string path = System.IO.Path.Combine([run.Path, .. parts]);
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null)
            return null;
        return path;

        static bool Plain(string file) => file.Length > 0 && file != "." && file != ".." && !file.StartsWith('.');
    }

    /// <summary>The run's model card: from model.onnx when there is one, else what run.json says (task, labels).</summary>
    public static ModelCard? Card(RunFolder run, TryItModels models)
    {
        if (System.IO.File.Exists(run.ModelOnnx))
            return models.With(run, m => m.Card);
        var json = File(run.RunJson).Json;
        if (RunReader.Text(json?["task"]) is not { } task || InferenceTasks.TryGet(task) is not { } t)
            return null;
        var labels = ((json!["data"] as JsonObject)?["labels"] as JsonArray)?.Select(l => RunReader.Text(l) ?? "").ToList() ?? [];
        return new ModelCard { Task = task, Labels = labels, Text2Column = t.ReadsPair ? "Text2" : null };
    }

    private static RunFile File(string path)
    {
        var (json, problem) = RunReader.ReadJson(path);
        return new RunFile(json, problem);
    }

    private static string? SweepOf(RunCatalog catalog, RunFolder run)
    {
        string id = catalog.IdOf(run.Path);
        int slash = id.LastIndexOf('/');
        return slash < 0 ? null : id[..slash];
    }

    private static AnalysisView? Analysis(RunFolder run)
    {
        foreach (string dir in new[] { run.Path, System.IO.Path.Combine(run.Path, AnalysisFolder) })
        {
            string md = System.IO.Path.Combine(dir, "analysis.md");
            if (!System.IO.File.Exists(md))
                continue;
            string prefix = dir == run.Path ? "" : AnalysisFolder + "/";
            var images = Directory.EnumerateFiles(dir, "*.png").Select(System.IO.Path.GetFileName).OfType<string>()
                .Where(n => n != RunFolder.CurvesPngName).Order(StringComparer.Ordinal).Select(n => prefix + n).ToList();
            return new AnalysisView(System.IO.File.ReadAllText(md), images);
        }
        return null;
    }
}
