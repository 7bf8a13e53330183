using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using RegressionMetrics = MlNetBert.Evaluation.RegressionMetrics;
using ClassificationMetrics = MlNetBert.Evaluation.ClassificationMetrics;
using Microsoft.ML.TorchSharp;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.NasBert;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// A run with ML.NET's own NAS-BERT trainers (TextClassification, or SentenceSimilarity for the similarity task) and
/// ML.NET's recipe, writing model.zip in ML.NET's format, metrics.json, and with <see cref="BertRunRequest.ExportOnnx"/>
/// a verified model.onnx and parity.json. <see cref="BertRun.Train"/> calls this when the checkpoint is
/// <see cref="CheckpointName"/>. Only the epochs, batch size, seed and threads of the options apply.
/// </summary>
/// <remarks>
/// ML.NET's trainer saves no resumable state and cannot be stopped midway, so cancellation is checked before and
/// after training, and a cancelled NAS-BERT run is removed, not interrupted. Its folder
/// follows the same rules as every run: run.json with a status, each file written atomically.
/// </remarks>
public static class NasBertRun
{
    /// <summary>The checkpoint name that selects ML.NET's NAS-BERT trainers.</summary>
    public const string CheckpointName = "nasbert";

    /// <summary>Trains with ML.NET's NAS-BERT trainer and writes the run folder.</summary>
    /// <exception cref="BadInputException">Bad data or options, or ML.NET's NAS-BERT weights are missing (the message names the expected path).</exception>
    /// <exception cref="RunInterruptedException">Cancelled (never resumable).</exception>
    public static BertRunResult Train(BertRunRequest request, IProgress<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var o = request.Options;
        // ML.NET has one trainer for scores (SentenceSimilarity) and one for classes (TextClassification).
        bool similarity = !request.Task.KeyLabel;
        bool pair = request.Task.Inference.ReadsPair;
        request.Validate();
        if (o.Epochs < 1 || o.BatchSize < 1)
            throw new BadInputException("--epochs and --batch-size must be at least 1");
        var ml = new MLContext(seed: o.Seed);
        NasBertWeights.Require(ml);
        var data = RunData.Read(request, progress);

        var run = RunFolder.At(request.Out ?? RunFolder.NewPath());
        RunData.ClaimFolder(run, resumable: false);
        if (o.Threads is int threads)
            TorchSharp.torch.set_num_threads(threads);

        var trainView = TextRow.View(ml, data.Train);
        IEstimator<ITransformer> pipeline = similarity
            ? ml.Regression.Trainers.SentenceSimilarity(labelColumnName: nameof(TextRow.Score), sentence1ColumnName: nameof(TextRow.Text),
                sentence2ColumnName: nameof(TextRow.Text2), batchSize: o.BatchSize, maxEpochs: o.Epochs)
            : ml.Transforms.Conversion.MapValueToKey(nameof(TextRow.Label), keyData: ml.Data.LoadFromEnumerable(data.Labels!.Labels.Select(l => new LabelRow { Label = l })))
                .Append(ml.MulticlassClassification.Trainers.TextClassification(labelColumnName: nameof(TextRow.Label), sentence1ColumnName: nameof(TextRow.Text),
                    sentence2ColumnName: pair ? nameof(TextRow.Text2) : null, batchSize: o.BatchSize, maxEpochs: o.Epochs))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        try
        {
            Directory.CreateDirectory(run.Path);
            RunRecord.WriteStarted(run, request, CheckpointName, null, data.TrainData, data.ValidData, data.Train.Count, data.Valid.Count, data.Labels);
            progress?.Report(new RunStarted(run, request, Resuming: false, data.Train.Count, data.Valid.Count, CheckpointName));
            var watch = Stopwatch.StartNew();
            // ML.NET's trainer takes no cancellation token (and MLContext does not expose its own), so a request to
            // stop is honoured before training and after it, not in the middle.
            cancellationToken.ThrowIfCancellationRequested();
            ITransformer model = pipeline.Fit(trainView);
            cancellationToken.ThrowIfCancellationRequested();
            double seconds = watch.Elapsed.TotalSeconds;

            AtomicFile.Write(run.ModelZip, stream => ml.Model.Save(model, trainView.Schema, stream));
            ParityReport? parity = null;
            if (request.ExportOnnx)
            {
                // The same verified export as 'mlnetbert export', checked against ML.NET on validation rows.
                var checkRows = data.Valid.Take(200).Select(r => (r.Text, r.Text2)).ToList();
                parity = NasBertExport.ExportVerified(run.ModelZip, run.ModelOnnx, checkRows.Count > 0 ? checkRows : null);
                ParityFile.Write(run, parity, checkRows.Count > 0 ? "validation rows" : "built-in sample");
                progress?.Report(new RunExported(parity));
            }
            var final = data.Valid.Count > 0 ? Evaluate(ml, model, TextRow.View(ml, data.Valid), data.Valid, data.Labels) : new JsonObject();
            double samplesPerSecond = data.Train.Count * (double)o.Epochs / Math.Max(seconds, 1e-9);
            RunMetrics.Write(run.MetricsJson, new JsonObject
            {
                ["trainer"] = similarity ? "ML.NET SentenceSimilarity (NAS-BERT)" : "ML.NET TextClassification (NAS-BERT)",
                ["task"] = request.Task.Name,
                ["final"] = final,
                ["epochs"] = o.Epochs,
                ["batch_size"] = o.BatchSize,
                ["train_rows"] = data.Train.Count,
                ["valid_rows"] = data.Valid.Count,
                ["labels"] = data.Labels is null ? null : new JsonArray(data.Labels.Labels.Select(l => (JsonNode)l).ToArray()),
                ["training_seconds"] = Math.Round(seconds, 2),
                ["samples_per_second"] = Math.Round(samplesPerSecond, 2),
                ["weights"] = NasBertWeights.ExpectedPath(ml),
            });
            RunRecord.SetStatus(run, RunStatus.Completed);
            return new BertRunResult(run, request.Task, data.Train.Count, data.Valid.Count, RunMetrics.Flatten(final), TimeSpan.FromSeconds(seconds),
                samplesPerSecond, parity, History: null, Resumed: false, IsPair: pair);
        }
        catch (OperationCanceledException)
        {
            BertRun.TryDelete(run.Path);
            throw new RunInterruptedException(run.Path, resumable: false, cancellationToken);
        }
        catch (Exception e)
        {
            if (File.Exists(run.RunJson))
            {
                try
                {
                    RunRecord.SetStatus(run, RunStatus.Failed, e.Message);
                }
                catch (IOException)
                {
                    // The original error matters more than the status.
                }
            }
            throw;
        }
    }

    private static JsonObject Evaluate(MLContext ml, ITransformer model, IDataView view, IReadOnlyList<TabularRow> rows, LabelSet? labels)
    {
        var scored = model.Transform(view);
        if (labels is null)
            return RegressionMetrics.Compute(rows.Select(r => r.Score ?? 0).ToList(), scored.GetColumn<float>("Score").ToList()).ToJsonObject();
        // ML.NET's Score is raw logits (one per key, in key order = labels order); softmax them for log-loss.
        var probabilities = scored.GetColumn<float[]>("Score").Select(Scores.Softmax).ToList();
        var truth = rows.Select(r => labels.IndexOf(r.Label ?? "")).ToList();
        var predicted = probabilities.Select(Scores.ArgMax).ToList();
        return ClassificationMetrics.Compute(truth, predicted, probabilities, labels.Labels).ToJsonObject();
    }
}
