using MlNetBert.Inference;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using RegressionMetrics = MlNetBert.Evaluation.RegressionMetrics;
using Microsoft.ML.TorchSharp;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.NasBert;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// <c>mlnetbert train --model nasbert</c>: ML.NET's own NAS-BERT trainers (TextClassification, or SentenceSimilarity for
/// --task sentence-similarity) with ML.NET's recipe, writing model.zip in ML.NET's format and metrics.json.
/// </summary>
internal static class NasBertTrain
{
    public const string CheckpointName = "nasbert";

    public static int Execute(TrainRequest request, ParseResult parse, DataArguments data)
    {
        var o = request.Options;
        bool similarity = request.Task == BertTask.SentenceSimilarity;
        bool pair = request.Task != BertTask.TextClassification;
        if (pair && parse.GetValue(data.Text2Column) is null)
            throw new BadInputException($"--task {TrainCommand.TaskName(request.Task)} needs --text2-column (the second text of each pair)");
        if (o.Epochs < 1 || o.BatchSize < 1)
            throw new BadInputException("--epochs and --batch-size must be at least 1");
        if (request.ValidSplit is < 0 or >= 1)
            throw new BadInputException($"--valid-split must be at least 0 and below 1, not {request.ValidSplit}");
        var ml = new MLContext(seed: o.Seed);
        NasBertWeights.Require(ml);

        var kind = similarity ? LabelKind.Numeric : LabelKind.Categorical;
        var trainData = TabularReader.Read(data.Read(parse, request.Train, kind, request.MaxRows, o.Seed));
        IReadOnlyList<TabularRow> trainRows = trainData.Rows, validRows = [];
        if (request.Valid is not null)
            validRows = TabularReader.Read(data.Read(parse, request.Valid, kind)).Rows;
        else if (request.ValidSplit > 0)
            (trainRows, validRows) = DataSplits.StratifiedSplit(trainData.Rows, request.ValidSplit, o.Seed);
        LabelSet? labels = similarity ? null : LabelSet.FromTraining(trainRows, request.Train, trainData.Columns.Label);
        if (labels is not null && validRows.Count > 0)
            LabelSet.CheckKnown(validRows, labels, request.Valid ?? request.Train, trainData.Columns.Label);

        string runDir = Path.GetFullPath(request.Out ?? Path.Combine(TrainRun.RunsRoot(), DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
        if (Directory.Exists(runDir) && Directory.EnumerateFileSystemEntries(runDir).Any())
            throw new BadInputException($"{runDir}: run folder already exists and is not empty; choose another --out");
        if (o.Threads is int threads)
            TorchSharp.torch.set_num_threads(threads);

        IDataView View(IEnumerable<TabularRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r => new TextRow
        {
            Text = r.Text,
            Text2 = r.Text2 ?? "",
            Label = r.Label ?? "",
            Score = r.Score ?? 0,
        }).ToList());
        var trainView = View(trainRows);
        IEstimator<ITransformer> pipeline = similarity
            ? ml.Regression.Trainers.SentenceSimilarity(labelColumnName: nameof(TextRow.Score), sentence1ColumnName: nameof(TextRow.Text),
                sentence2ColumnName: nameof(TextRow.Text2), batchSize: o.BatchSize, maxEpochs: o.Epochs)
            : ml.Transforms.Conversion.MapValueToKey(nameof(TextRow.Label), keyData: ml.Data.LoadFromEnumerable(labels!.Labels.Select(l => new LabelRow { Label = l })))
                .Append(ml.MulticlassClassification.Trainers.TextClassification(labelColumnName: nameof(TextRow.Label), sentence1ColumnName: nameof(TextRow.Text),
                    sentence2ColumnName: pair ? nameof(TextRow.Text2) : null, batchSize: o.BatchSize, maxEpochs: o.Epochs))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        Console.WriteLine($"training ML.NET's NAS-BERT {(similarity ? "SentenceSimilarity" : "TextClassification")} on {trainRows.Count} rows " +
            $"({validRows.Count} validation), {o.Epochs} epochs, batch {o.BatchSize}; ML.NET's own recipe (learning rate, length 512, Adam), so " +
            "--learning-rate, --max-length, --freeze, --pooling and the other fine-tuning options do not apply");
        var watch = Stopwatch.StartNew();
        var model = pipeline.Fit(trainView);
        double seconds = watch.Elapsed.TotalSeconds;

        string partial = runDir + $".partial-{Environment.ProcessId}";
        try
        {
            Directory.CreateDirectory(partial);
            ml.Model.Save(model, trainView.Schema, Path.Combine(partial, "model.zip"));
            if (request.ExportOnnx)
            {
                // The same verified export as 'mlnetbert export', checked against ML.NET on validation rows.
                var checkRows = validRows.Take(200).Select(r => (r.Text, r.Text2)).ToList();
                var parity = NasBertExport.ExportVerified(Path.Combine(partial, "model.zip"), Path.Combine(partial, "model.onnx"), checkRows.Count > 0 ? checkRows : null);
                ExportCommand.WriteParityJson(partial, parity, checkRows.Count > 0 ? "validation rows" : "built-in sample");
                Console.WriteLine($"exported model.onnx: {parity}");
            }
            var final = validRows.Count > 0 ? Evaluate(ml, model, View(validRows), validRows, labels) : new JsonObject();
            var metrics = new JsonObject
            {
                ["trainer"] = similarity ? "ML.NET SentenceSimilarity (NAS-BERT)" : "ML.NET TextClassification (NAS-BERT)",
                ["task"] = TrainCommand.TaskName(request.Task),
                ["final"] = final,
                ["epochs"] = o.Epochs,
                ["batch_size"] = o.BatchSize,
                ["train_rows"] = trainRows.Count,
                ["valid_rows"] = validRows.Count,
                ["labels"] = labels is null ? null : new JsonArray(labels.Labels.Select(l => (JsonNode)l).ToArray()),
                ["training_seconds"] = Math.Round(seconds, 2),
                ["samples_per_second"] = Math.Round(trainRows.Count * (double)o.Epochs / Math.Max(seconds, 1e-9), 2),
                ["weights"] = NasBertWeights.ExpectedPath(ml),
            };
            AtomicFile.WriteAllText(Path.Combine(partial, "metrics.json"), metrics.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            if (Directory.Exists(runDir))
                Directory.Delete(runDir);
            Directory.Move(partial, runDir);
            Console.WriteLine($"validation ({validRows.Count} rows): " + string.Join(", ", TrainRun.Flatten(final)
                .Where(kv => kv.Key is "accuracy" or "macro_f1" or "pearson" or "spearman").Select(kv => $"{kv.Key} {kv.Value:F4}")));
            Console.WriteLine($"training time {seconds:F1} s; run folder: {runDir}");
            return ExitCodes.Success;
        }
        catch
        {
            if (Directory.Exists(partial))
                Directory.Delete(partial, recursive: true);
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
