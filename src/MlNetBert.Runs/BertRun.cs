using System.Text.Json.Nodes;
using Microsoft.ML;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Export;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// A training run from one call: reads the data, fine-tunes, evaluates, and writes a run folder (run.json,
/// metrics.json, log.csv, curves.png, model.zip, and with <see cref="BertRunRequest.ExportOnnx"/> model.onnx and
/// parity.json). What <c>mlnetbert train</c> does, for an app.
/// </summary>
/// <remarks>
/// Each file is written atomically and run.json carries the run's <see cref="RunStatus"/> (running, then completed,
/// interrupted or failed), rather than building the folder under a temporary name and renaming it at the end: a
/// resumable run has to live in its final folder while it runs, and a status says more than a folder's absence.
/// Cancelling through the token stops at the next step boundary, saves resumable state, marks the run interrupted
/// and throws <see cref="RunInterruptedException"/>; <see cref="Resume"/> continues it to the same weights.
/// </remarks>
/// <example>
/// <code>
/// using var cancel = new CancellationTokenSource(TimeSpan.FromHours(1));
/// try
/// {
///     var result = BertRun.Train(new BertRunRequest(new TabularReadOptions("sst2/train.tsv")) { Valid = new("sst2/dev.tsv") },
///         new Progress&lt;RunProgress&gt;(p => Console.WriteLine(p)), cancel.Token);
/// }
/// catch (RunInterruptedException e) when (e.Resumable)
/// {
///     BertRun.Resume(e.RunDirectory);
/// }
/// </code>
/// </example>
public static class BertRun
{
    /// <summary>Trains as <paramref name="request"/> says and writes its run folder.</summary>
    /// <param name="request">What to train, on what, into which folder.</param>
    /// <param name="progress">Messages, the start, each step and epoch, and the export; reported on the training thread.</param>
    /// <param name="cancellationToken">Stops at the next step boundary; see <see cref="RunInterruptedException"/>.</param>
    /// <exception cref="BadInputException">Bad data, options or folder; nothing is left behind when it is found before training starts.</exception>
    /// <exception cref="RunInterruptedException">Cancelled.</exception>
    public static BertRunResult Train(BertRunRequest request, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.IsNasBert ? NasBertRun.Train(request, progress, cancellationToken) : Run(request, resuming: null, progress, cancellationToken);
    }

    /// <summary>Continues an interrupted (or killed) run in <paramref name="runDirectory"/> with the request saved in its run.json.</summary>
    /// <exception cref="BadInputException">Not a run folder, nothing to resume, or a damaged run.json.</exception>
    /// <exception cref="RunInterruptedException">Cancelled again (still resumable).</exception>
    public static BertRunResult Resume(string runDirectory, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var run = RunFolder.At(runDirectory);
        if (!File.Exists(run.RunJson))
            throw new BadInputException($"{runDirectory}: not a run folder (no run.json)");
        if (!run.HasResumableState)
            throw new BadInputException($"{runDirectory}: nothing to resume (no checkpoint/state.json: the run finished or never saved a checkpoint)");
        return Run(RunRecord.ReadRequest(run), run, progress, cancellationToken);
    }

    private static BertRunResult Run(BertRunRequest request, RunFolder? resuming, IProgress<RunProgress>? progress, CancellationToken ct)
    {
        var o = request.Options;
        request.Validate(); // first: its messages name the console's options
        o.Validate();
        var data = RunData.Read(request, progress);

        // Resolve the checkpoint before creating any folder, so a bad checkpoint leaves nothing behind.
        var checkpoint = new CheckpointStore(log: m => progress?.Report(new RunMessage(m, IsWarning: false))).Resolve(o.Checkpoint);
        foreach (var teacher in o.Teachers)
            TrainedModels.Resolve(teacher, preferOnnx: true); // a missing teacher leaves nothing behind either
        var run = resuming ?? RunFolder.At(request.Out ?? RunFolder.NewPath());
        if (resuming is null)
            RunData.ClaimFolder(run, resumable: true);
        try
        {
            Directory.CreateDirectory(run.Path);
            if (resuming is null)
                RunRecord.WriteStarted(run, request, checkpoint.Name, RunRecord.CheckpointJson(checkpoint), data.TrainData, data.ValidData, data.Train.Count, data.Valid.Count, data.Labels);
            else
                RunRecord.SetStatus(run, RunStatus.Running);
            progress?.Report(new RunStarted(run, request, resuming is not null, data.Train.Count, data.Valid.Count, checkpoint.Name));
            var result = FitAndWrite(request, data, run, resuming is not null, progress, ct);
            RunRecord.SetStatus(run, RunStatus.Completed);
            return result;
        }
        catch (OperationCanceledException) when (run.HasResumableState)
        {
            RunRecord.SetStatus(run, RunStatus.Interrupted);
            throw new RunInterruptedException(run.Path, resumable: true, ct);
        }
        catch (OperationCanceledException)
        {
            // Nothing worth keeping: a folder without state would only look like a run.
            if (resuming is null)
                TryDelete(run.Path);
            else
                TrySetStatus(run, RunStatus.Interrupted, null);
            throw new RunInterruptedException(run.Path, resumable: false, ct);
        }
        catch (Exception e)
        {
            TrySetStatus(run, RunStatus.Failed, e.Message);
            throw;
        }
    }

    private static BertRunResult FitAndWrite(BertRunRequest request, RunData data, RunFolder run, bool resuming, IProgress<RunProgress>? progress, CancellationToken ct)
    {
        var o = request.Options;
        var ml = new MLContext(seed: o.Seed);
        var keyMap = !request.Task.KeyLabel ? null : ml.Transforms.Conversion.MapValueToKey(nameof(TextRow.Label),
            keyData: ml.Data.LoadFromEnumerable(data.Labels!.Labels.Select(l => new LabelRow { Label = l })));
        Func<MLContext, IReadOnlyList<TabularRow>, IDataView> view = request.Task.ReadsAnswerSpan ? QuestionAnswerRow.View
            : request.Task.TokenLevel ? TaggedTextRow.View : TextRow.View;
        IDataView trainView = view(ml, data.Train), validView = view(ml, data.Valid);
        ITransformer? keyTransformer = keyMap?.Fit(trainView);
        if (keyTransformer is not null)
        {
            trainView = keyTransformer.Transform(trainView);
            validView = keyTransformer.Transform(validView);
        }
        var live = new RunLiveLog(run);
        var options = o with
        {
            TextColumnName = request.Task.ReadsAnswerSpan ? nameof(QuestionAnswerRow.Question) : nameof(TextRow.Text),
            Text2ColumnName = request.Task.ReadsAnswerSpan ? nameof(QuestionAnswerRow.Context) : request.Task.TrainsOnPairs ? nameof(TextRow.Text2) : null,
            LabelColumnName = request.Task.ReadsAnswerSpan ? nameof(QuestionAnswerRow.TrainingAnswer) : request.Task.KeyLabel ? nameof(TextRow.Label) : nameof(TextRow.Score),
            AnswerIndexColumnName = nameof(QuestionAnswerRow.AnswerIndex),
            ValidationSet = data.Valid.Count > 0 ? validView : null,
            Progress = new Forward<TrainingProgress>(p =>
            {
                live.Report(p);
                progress?.Report(new RunTrainingStep(p));
            }),
            CancellationToken = ct,
            Checkpoints = new CheckpointSettings(run.CheckpointFolder, request.CheckpointEvery),
            TeacherCacheFile = o.Distils ? run.TeacherOutputs : null,
            UnlabeledSet = request.Unlabeled is { } unlabeled ? view(ml, ReadUnlabeled(request, unlabeled, progress)) : null,
            Log = progress is null ? null : m => progress.Report(new RunMessage(m, IsWarning: false)),
        };
        var estimator = new BertEstimator(options, request.Task);
        using var transformer = estimator.Fit(trainView);
        var history = transformer.Model.History!;

        JsonObject final = data.Valid.Count > 0 ? Evaluate(transformer.Model, data.Valid) : new JsonObject();
        var flat = RunMetrics.Flatten(final);
        transformer.Model.RecordMetrics(flat);
        SaveMlNetModel(ml, transformer, trainView, run.ModelZip);
        ParityReport? parity = null;
        if (request.ExportOnnx)
        {
            var checkRows = data.Valid.Take(200).Select(r => (r.Text, r.Text2)).ToList();
            parity = TrainedModelExport.Export(transformer.Model, run.ModelOnnx, checkRows);
            ParityFile.Write(run, parity, checkRows.Count > 0 ? "validation rows" : "built-in sample");
            progress?.Report(new RunExported(parity));
        }
        RunMetrics.WriteMetrics(run, history, final);
        RunMetrics.WriteLog(run, history);
        CurvesPlot.Save(history, run.CurvesPng);

        // Last: once the state is gone the run cannot be resumed, so everything else must be in place first.
        if (Directory.Exists(run.CheckpointFolder))
            Directory.Delete(run.CheckpointFolder, recursive: true);
        return new BertRunResult(run, request.Task, data.Train.Count, data.Valid.Count, flat, history.TrainingTime, history.SamplesPerSecond,
            parity, history, resuming, transformer.Model.Card.Text2Column is not null);
    }

    private static IReadOnlyList<TabularRow> ReadUnlabeled(BertRunRequest request, TabularReadOptions unlabeled, IProgress<RunProgress>? progress)
    {
        var data = TabularReader.Read(unlabeled with { LabelKind = LabelKind.None, LabelColumn = null });
        if (data.SkippedRows.Count > 0)
            progress?.Report(new RunMessage($"{data.Path}: {data.SkippedRows.Count} bad rows skipped", IsWarning: true));
        if (request.Task.Inference.ReadsPair && data.Rows.Any(r => r.Text2 is null))
            throw new BadInputException($"{data.Path}: the task reads pairs, but the unlabeled file has no second text column");
        return data.Rows;
    }

    /// <summary>
    /// model.zip is an ML.NET model (<c>mlContext.Model.Load</c>): input columns Text (and Text2 for pairs); outputs
    /// PredictedLabel as the label's text and Score (probabilities in label order) for classification, Score for
    /// similarity. MlNetBert's own commands read the transformer back out of it.
    /// </summary>
    private static void SaveMlNetModel(MLContext ml, BertTransformer transformer, IDataView trainView, string path)
    {
        var inputs = new DataViewSchema.Builder();
        inputs.AddColumn(transformer.Model.Card.TextColumn, Microsoft.ML.Data.TextDataViewType.Instance);
        if (transformer.Model.Card.Text2Column is { } text2)
            inputs.AddColumn(text2, Microsoft.ML.Data.TextDataViewType.Instance);
        ITransformer model = transformer;
        if (transformer.Model.Task.KeyLabel)
        {
            var toText = ml.Transforms.Conversion.MapKeyToValue(transformer.PredictedLabelColumnName).Fit(transformer.Transform(trainView));
            model = new Microsoft.ML.Data.TransformerChain<ITransformer>(transformer, toText);
        }
        AtomicFile.Write(path, stream => ml.Model.Save(model, inputs.ToSchema(), stream));
    }

    /// <summary>Final metrics on labelled rows with the task's names (accuracy, macro_f1, log_loss / pearson, spearman, ...).</summary>
    private static JsonObject Evaluate(BertTaskModel model, IReadOnlyList<TabularRow> rows) =>
        model.Task.Evaluate(model, rows, "validation data").Json;

    private static void TrySetStatus(RunFolder run, RunStatus status, string? error)
    {
        try
        {
            if (File.Exists(run.RunJson))
                RunRecord.SetStatus(run, status, error);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadInputException)
        {
            // The original error matters more than the status; a reader sees 'running' with a dead pid.
        }
    }

    internal static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Reports straight through on the calling thread (no synchronization context hop, unlike <see cref="Progress{T}"/>).</summary>
    private sealed class Forward<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
