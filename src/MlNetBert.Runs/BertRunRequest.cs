using MlNetBert.Tasks;
using MlNetBert.Data;
using MlNetBert.Data.TokenClassification;
using MlNetBert.Export;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// One training run: the data, the task, the training options and where the run folder goes. What
/// <c>mlnetbert train</c> parses its options into.
/// </summary>
/// <example>
/// <code>
/// var result = BertRun.Train(new BertRunRequest(new TabularReadOptions("data/sentiment-sample.tsv"))
/// {
///     Options = new BertTrainingOptions { Epochs = 1 },
///     Out = "models/runs/sentiment",
/// });
/// Console.WriteLine($"{result.Folder.ModelZip}: accuracy {result.FinalMetrics["accuracy"]:F3}");
/// </code>
/// </example>
/// <param name="Train">The training file and how to read it. Its <see cref="TabularReadOptions.LabelKind"/> is set from <see cref="Task"/>; <see cref="TabularReadOptions.MaxRows"/> subsamples it with <see cref="BertTrainingOptions.Seed"/>.</param>
public sealed record BertRunRequest(TabularReadOptions Train)
{
    /// <summary>Validation data, read like <see cref="Train"/>. Default (null): a stratified split of the training rows (<see cref="ValidSplit"/>).</summary>
    public TabularReadOptions? Valid { get; init; }

    /// <summary>Fraction of the training rows held out for validation when <see cref="Valid"/> is null; 0 for none. Default 0.1.</summary>
    public double ValidSplit { get; init; } = 0.1;

    /// <summary>
    /// Distillation's extra texts without labels (read like <see cref="Train"/>, no label column), which the teachers
    /// (<see cref="BertTrainingOptions.Teachers"/>) label. Default null.
    /// </summary>
    public TabularReadOptions? Unlabeled { get; init; }

    /// <summary>What is trained. Default: text classification. Pair tasks need <see cref="TabularReadOptions.Text2Column"/>.</summary>
    public TrainingTask Task { get; init; } = ClassificationTraining.Text;

    /// <summary>
    /// Token classification: how its files are read (tag scheme, CoNLL columns). A <c>.tsv</c>/<c>.csv</c> file is a
    /// table of words and tags (columns from <see cref="Train"/>), anything else CoNLL (<see cref="TaggedFiles"/>).
    /// </summary>
    public TaggedFileOptions Tagged { get; init; } = new();

    /// <summary>
    /// The training options. The column names, validation set, progress, cancellation and checkpoint settings are
    /// set by the run; everything else is used as given. <c>Checkpoint = "nasbert"</c> runs ML.NET's own NAS-BERT
    /// trainers (see <see cref="NasBertRun"/>).
    /// </summary>
    public BertTrainingOptions Options { get; init; } = new();

    /// <summary>The run folder to create; it must not exist or be empty. Default (null): a new timestamped folder under <see cref="RunFolder.DefaultRoot"/>.</summary>
    public string? Out { get; init; }

    /// <summary>Save resumable state every N optimizer steps (always at epoch ends and on cancellation; 0 = only those). Default 200.</summary>
    public int CheckpointEvery { get; init; } = 200;

    /// <summary>Write a verified <c>model.onnx</c> and <c>parity.json</c> beside model.zip. Default true.</summary>
    public bool ExportOnnx { get; init; } = true;

    /// <summary>The command line that asked for this run, recorded in run.json (<c>argv</c>) so a person can repeat it; null for a run started from code.</summary>
    public IReadOnlyList<string>? CommandLine { get; init; }

    /// <summary>True when the run uses ML.NET's NAS-BERT trainers rather than fine-tuning a BERT checkpoint.</summary>
    public bool IsNasBert => Options.Checkpoint == NasBertRun.CheckpointName;

    /// <summary>Checks the request's own fields once, before anything is read or created.</summary>
    /// <exception cref="BadInputException">A field is out of range, or a pair task has no second text column.</exception>
    public void Validate()
    {
        // Question-answering files name their own columns (SQuAD JSON, or Context/Question/TrainingAnswer/AnswerIndex).
        if (Task.TrainsOnPairs && !Task.ReadsAnswerSpan && Train.Text2Column is null)
            throw new BadInputException($"--task {Task.Name} needs --text2-column (the second text of each pair)");
        if (Options.Distils && !Task.CanDistil)
            throw new BadInputException(TeacherOutputs.CannotDistil(Task));
        if (Unlabeled is not null && !Options.Distils)
            throw new BadInputException("--unlabeled needs --teacher: unlabeled texts are labelled by the teachers");
        if (Options.TeacherOutputsFrom is not null && !Options.Distils)
            throw new BadInputException("--teacher-outputs needs --teacher: they are read for the teachers that computed them");
        if (ValidSplit is < 0 or >= 1)
            throw new BadInputException($"--valid-split must be at least 0 and below 1, not {ValidSplit}");
    }
}

/// <summary>What a finished run produced.</summary>
/// <param name="Folder">The run folder; every file named there that the run writes exists.</param>
/// <param name="Task">What was trained.</param>
/// <param name="TrainRows">Training rows used (after <see cref="TabularReadOptions.MaxRows"/> and the validation split).</param>
/// <param name="ValidRows">Validation rows the final metrics were computed on (0: no metrics).</param>
/// <param name="FinalMetrics">Final validation metrics by name (accuracy, macro_f1, log_loss / pearson, spearman, ...); empty without validation rows.</param>
/// <param name="TrainingTime">Time spent in training (for a resumed run: in all its processes).</param>
/// <param name="SamplesPerSecond">Training throughput.</param>
/// <param name="Parity">How model.onnx compared with the trained model; null when not exported.</param>
/// <param name="History">Per-step and per-epoch history; null for NAS-BERT runs (ML.NET does not report one).</param>
/// <param name="Resumed">True when this call continued an interrupted run.</param>
/// <param name="IsPair">True when the model reads two texts (input columns Text and Text2).</param>
public sealed record BertRunResult(
    RunFolder Folder,
    TrainingTask Task,
    int TrainRows,
    int ValidRows,
    IReadOnlyDictionary<string, double> FinalMetrics,
    TimeSpan TrainingTime,
    double SamplesPerSecond,
    ParityReport? Parity,
    TrainingHistory? History,
    bool Resumed,
    bool IsPair)
{
    /// <summary>The trained ML.NET model.</summary>
    public string ModelZip => Folder.ModelZip;

    /// <summary>The verified ONNX export, or null when the run did not export.</summary>
    public string? ModelOnnx => Parity is null ? null : Folder.ModelOnnx;
}

/// <summary>Something a run reports while it works. A console prints these; an app may show or ignore them.</summary>
public abstract record RunProgress;

/// <summary>A line for the user: rows skipped while reading, a checkpoint being downloaded.</summary>
/// <param name="Text">The message, naming the file it is about.</param>
/// <param name="IsWarning">True for problems (skipped rows), false for information.</param>
public sealed record RunMessage(string Text, bool IsWarning) : RunProgress;

/// <summary>The data is read and the run folder exists; training starts.</summary>
/// <param name="Folder">The run folder (run.json written, status running).</param>
/// <param name="Request">The request being run (for a resumed run: the one saved in run.json).</param>
/// <param name="Resuming">True when continuing an interrupted run.</param>
/// <param name="TrainRows">Training rows.</param>
/// <param name="ValidRows">Validation rows.</param>
/// <param name="Checkpoint">The pretrained checkpoint's name.</param>
public sealed record RunStarted(RunFolder Folder, BertRunRequest Request, bool Resuming, int TrainRows, int ValidRows, string Checkpoint) : RunProgress;

/// <summary>An optimizer step or an epoch finished.</summary>
/// <param name="Training">The trainer's own report.</param>
public sealed record RunTrainingStep(TrainingProgress Training) : RunProgress;

/// <summary>model.onnx was written and verified.</summary>
/// <param name="Parity">How it compared with the trained model.</param>
public sealed record RunExported(ParityReport Parity) : RunProgress;

/// <summary>
/// A run was cancelled. When <see cref="Resumable"/>, its folder holds saved state and run.json says
/// <c>interrupted</c>: <see cref="BertRun.Resume"/> continues it. Otherwise nothing was saved and the folder
/// the run created was removed.
/// </summary>
public sealed class RunInterruptedException : OperationCanceledException
{
    /// <summary>Creates the exception for <paramref name="runDirectory"/>.</summary>
    public RunInterruptedException(string runDirectory, bool resumable, CancellationToken token)
        : base(resumable
            ? $"{runDirectory}: training interrupted; state saved"
            : $"{runDirectory}: training interrupted before anything was saved", token)
    {
        RunDirectory = runDirectory;
        Resumable = resumable;
    }

    /// <summary>The run folder (removed when not <see cref="Resumable"/> and the run created it).</summary>
    public string RunDirectory { get; }

    /// <summary>True when the folder holds state to resume from.</summary>
    public bool Resumable { get; }
}
