using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Inference;

namespace MlNetBert.Runs;

/// <summary>Where a run stands, as <c>run.json</c>'s <c>status</c> records it.</summary>
public enum RunStatus
{
    /// <summary>Written when the run starts (and when it resumes); a run killed outright (SIGKILL, power loss) stays here.</summary>
    Running,

    /// <summary>Every file of the run folder is written; the checkpoint is gone.</summary>
    Completed,

    /// <summary>Cancelled after it saved resumable state (<c>checkpoint/</c>); <see cref="BertRun.Resume"/> continues it.</summary>
    Interrupted,

    /// <summary>Stopped by an error, named in <c>run.json</c>'s <c>error</c>.</summary>
    Failed,
}

/// <summary>What <c>run.json</c> says about a run: its status, the error that stopped it, and what it trained.</summary>
/// <param name="Status">Where the run stands; runs written before statuses existed read as <see cref="RunStatus.Completed"/> when they have metrics.json, else <see cref="RunStatus.Running"/>.</param>
/// <param name="Error">Why the run failed (<see cref="RunStatus.Failed"/> only).</param>
/// <param name="Task">The task's wire name (text-classification, pair-classification, sentence-similarity).</param>
/// <param name="Checkpoint">The pretrained checkpoint's name (minilm-l6, nasbert, ...).</param>
/// <param name="ProcessId">The process that last wrote the status, or null for runs written before it was recorded.</param>
public sealed record RunInfo(RunStatus Status, string? Error, string? Task, string? Checkpoint, int? ProcessId);

/// <summary>
/// A run folder: the files a training run writes, how to read its <c>run.json</c>, and how a run folder given
/// where a model file is expected resolves to its <c>model.zip</c> or <c>model.onnx</c>.
/// </summary>
/// <remarks>
/// Each file is written atomically (a temporary name in the same folder, then a rename), and <c>run.json</c>
/// carries a <see cref="RunStatus"/>. So a reader sees either no file or a whole one, and can tell a finished run
/// from one in progress, interrupted or failed. The folder as a whole is not renamed into place at the end: a
/// run in progress is visible (with status <c>running</c>), which is what a dashboard or <c>--resume</c> needs.
/// </remarks>
/// <example>
/// <code>
/// var run = RunFolder.Open("models/runs/20261202-101500");
/// if (run.ReadInfo().Status == RunStatus.Completed)
///     using (var model = BertTaskModel.Load(run.ModelZip)) { ... }
/// string onnx = RunFolder.ResolveOnnx("models/runs/20261202-101500");   // its model.onnx, or a message saying what to do
/// </code>
/// </example>
public sealed class RunFolder
{
    /// <summary>The run's request, options, data, checkpoint, versions and <see cref="RunStatus"/>.</summary>
    public const string RunJsonName = "run.json";

    /// <summary>Final validation metrics and the per-epoch history.</summary>
    public const string MetricsJsonName = "metrics.json";

    /// <summary>One line per optimizer step: step, epoch, loss, learning rate, samples per second (appended as the run trains, rewritten whole at the end).</summary>
    public const string LogCsvName = "log.csv";

    /// <summary>Where a run in progress stands (step, total steps, epoch, elapsed and remaining time), rewritten about once a second.</summary>
    public const string ProgressJsonName = "progress.json";

    /// <summary>Training loss per step and the validation metric per epoch, drawn.</summary>
    public const string CurvesPngName = "curves.png";

    /// <summary>The ML.NET model (<c>mlContext.Model.Load</c>).</summary>
    public const string ModelZipName = ServableModelPath.ZipFileName;

    /// <summary>The verified ONNX export.</summary>
    public const string ModelOnnxName = ServableModelPath.OnnxFileName;

    /// <summary>File name of a distilled run's cached teacher outputs.</summary>
    public const string TeacherOutputsName = MlNetBert.Training.TeacherOutputs.CacheFileName;

    /// <summary>How the ONNX export compared with the trained model.</summary>
    public const string ParityJsonName = "parity.json";

    /// <summary>Resumable training state; removed once the run completes.</summary>
    public const string CheckpointFolderName = "checkpoint";

    private RunFolder(string path) => Path = path;

    /// <summary>The folder, as a full path.</summary>
    public string Path { get; }

    /// <summary>The folder's <c>run.json</c>.</summary>
    public string RunJson => File(RunJsonName);

    /// <summary>The folder's <c>metrics.json</c>.</summary>
    public string MetricsJson => File(MetricsJsonName);

    /// <summary>The folder's <c>log.csv</c>.</summary>
    public string LogCsv => File(LogCsvName);

    /// <summary>The folder's <c>progress.json</c>.</summary>
    public string ProgressJson => File(ProgressJsonName);

    /// <summary>The folder's <c>curves.png</c>.</summary>
    public string CurvesPng => File(CurvesPngName);

    /// <summary>The folder's <c>model.zip</c>.</summary>
    public string ModelZip => File(ModelZipName);

    /// <summary>The folder's <c>model.onnx</c>.</summary>
    public string ModelOnnx => File(ModelOnnxName);

    /// <summary>The folder's <c>parity.json</c>.</summary>
    public string ParityJson => File(ParityJsonName);

    /// <summary>A distilled run's cached teacher outputs (<see cref="TeacherOutputs"/>), read again on resume.</summary>
    public string TeacherOutputs => File(TeacherOutputsName);

    /// <summary>The folder's resumable training state.</summary>
    public string CheckpointFolder => File(CheckpointFolderName);

    /// <summary>True when the run saved state that <see cref="BertRun.Resume"/> can continue from.</summary>
    public bool HasResumableState => System.IO.File.Exists(System.IO.Path.Combine(CheckpointFolder, "state.json"));

    /// <summary>
    /// Where runs go when no folder is named: <c>models/runs</c> under the current directory. (Not found by walking
    /// up to a solution file: a library has no business guessing a repository; the console, run from the repository
    /// root as the README shows, lands in the same place.)
    /// </summary>
    public static string DefaultRoot => System.IO.Path.GetFullPath(System.IO.Path.Combine("models", "runs"));

    /// <summary>A new run folder's path under <paramref name="root"/> (default <see cref="DefaultRoot"/>), named by the local time.</summary>
    public static string NewPath(string? root = null) =>
        System.IO.Path.Combine(root ?? DefaultRoot, DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    /// <summary>A run folder at <paramref name="path"/>; nothing is read until asked.</summary>
    public static RunFolder At(string path) => new(System.IO.Path.GetFullPath(path));

    /// <summary>An existing run folder (one with a <c>run.json</c>).</summary>
    /// <exception cref="BadInputException">No such folder, or no run.json in it.</exception>
    public static RunFolder Open(string path)
    {
        var run = At(path);
        if (!Directory.Exists(run.Path))
            throw new BadInputException($"{path}: run folder not found");
        if (!System.IO.File.Exists(run.RunJson))
            throw new BadInputException($"{path}: not a run folder (no run.json)");
        return run;
    }

    /// <summary>A file in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Reads <c>run.json</c>'s status and identity.</summary>
    /// <exception cref="BadInputException">run.json is missing or damaged (not JSON, or not an object); the message says which.</exception>
    public RunInfo ReadInfo()
    {
        var json = ReadRunJson();
        RunStatus status = json["status"]?.GetValue<string>() is { } text
            ? ParseStatus(text)
            : System.IO.File.Exists(MetricsJson) ? RunStatus.Completed : RunStatus.Running;
        return new RunInfo(status, json["error"]?.GetValue<string>(), json["task"]?.GetValue<string>(),
            (json["checkpoint"] as JsonObject)?["name"]?.GetValue<string>(), json["pid"]?.GetValue<int>());
    }

    /// <summary>The whole <c>run.json</c>.</summary>
    /// <exception cref="BadInputException">run.json is missing or damaged.</exception>
    public JsonObject ReadRunJson()
    {
        if (!System.IO.File.Exists(RunJson))
            throw new BadInputException($"{Path}: not a run folder (no run.json)");
        string text = System.IO.File.ReadAllText(RunJson);
        try
        {
            return JsonNode.Parse(text) as JsonObject
                ?? throw new BadInputException($"{RunJson}: damaged (not a JSON object); the run folder cannot be read or resumed");
        }
        catch (JsonException e)
        {
            // run.json is only ever replaced whole (AtomicFile), so a cut-off file was damaged after it was written:
            // a partial copy, a full disk on a file system without atomic rename, or an edit.
            throw new BadInputException(
                $"{RunJson}: damaged ({text.Length} bytes, not valid JSON: {e.Message}); the run folder cannot be read or resumed", e);
        }
    }

    /// <summary>
    /// The trained model (<c>model.zip</c>) that <paramref name="path"/> names: the path itself when it is a file,
    /// or the <c>model.zip</c> in a run folder. Used by every command that reads a trained model.
    /// </summary>
    /// <exception cref="BadInputException">A folder without model.zip; the message says whether its run is still going, was interrupted or failed.</exception>
    public static string ResolveModelZip(string path)
    {
        if (!Directory.Exists(path))
            return path;
        var run = At(path);
        if (System.IO.File.Exists(run.ModelZip))
            return run.ModelZip;
        throw new BadInputException($"{path}: is a folder without model.zip{run.WhyNoModel()}; pass a run folder from 'mlnetbert train' or its model.zip");
    }

    /// <summary>
    /// The exported model (<c>model.onnx</c>) that <paramref name="path"/> names: the path itself when it is a file,
    /// or the <c>model.onnx</c> in a run folder.
    /// </summary>
    /// <exception cref="BadInputException">A folder without model.onnx, or a trained .zip: the message gives the export command.</exception>
    public static string ResolveModelOnnx(string path) => ServableModelPath.Resolve(path, folder => At(folder).WhyNoModel());

    /// <summary>When a folder has no model: what its run.json says, if it is a run folder whose run did not complete.</summary>
    private string WhyNoModel()
    {
        if (!System.IO.File.Exists(RunJson))
            return "";
        try
        {
            var info = ReadInfo();
            return info.Status switch
            {
                RunStatus.Running => " (its run is still running, or was killed)",
                RunStatus.Interrupted => " (its run was interrupted; continue it with: mlnetbert train --resume " + Path + ")",
                RunStatus.Failed => $" (its run failed: {info.Error})",
                _ => "",
            };
        }
        catch (BadInputException e)
        {
            return $" ({e.Message})";
        }
    }

    internal static RunStatus ParseStatus(string text) => text switch
    {
        "running" => RunStatus.Running,
        "completed" => RunStatus.Completed,
        "interrupted" => RunStatus.Interrupted,
        "failed" => RunStatus.Failed,
        _ => throw new BadInputException($"run.json: status '{text}' is not one of running, completed, interrupted, failed"),
    };

    internal static string StatusName(RunStatus status) => status.ToString().ToLowerInvariant();
}
