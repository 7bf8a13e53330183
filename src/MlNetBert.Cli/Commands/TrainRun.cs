using MlNetBert.Inference;
using System.CommandLine;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using TextDataViewType = Microsoft.ML.Data.TextDataViewType;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>Runs one training request end to end and writes its run folder atomically (a temporary folder renamed at the end).</summary>
internal static class TrainRun
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Set while <c>--resume</c> re-runs a folder's saved arguments.</summary>
    private static string? _resuming;

    /// <summary>The arguments a run folder was started with (run.json), with the working directory restored.</summary>
    public static string[] ReadArguments(string runDir)
    {
        string path = Path.Combine(runDir, "run.json");
        if (!File.Exists(path))
            throw new BadInputException($"{runDir}: not a run folder (no run.json)");
        if (!File.Exists(Path.Combine(runDir, "checkpoint", "state.json")))
            throw new BadInputException($"{runDir}: nothing to resume (no checkpoint/state.json: the run finished or never saved a checkpoint)");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        if (json["cwd"]?.GetValue<string>() is { } cwd && Directory.Exists(cwd))
            Directory.SetCurrentDirectory(cwd);
        return json["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToArray();
    }

    public static int WithResume(Func<int> run, string runDir)
    {
        _resuming = Path.GetFullPath(runDir);
        try
        {
            return run();
        }
        finally
        {
            _resuming = null;
        }
    }

    public static int Execute(TrainRequest request, ParseResult parse, DataArguments data)
    {
        var o = request.Options;
        if (o.Checkpoint == NasBertTrain.CheckpointName)
            return NasBertTrain.Execute(request, parse, data);
        o.Validate();
        bool similarity = request.Task == BertTask.SentenceSimilarity;
        var kind = similarity ? LabelKind.Numeric : LabelKind.Categorical;
        if (request.Task != BertTask.TextClassification && parse.GetValue(data.Text2Column) is null)
            throw new BadInputException($"--task {TrainCommand.TaskName(request.Task)} needs --text2-column (the second text of each pair)");
        if (request.ValidSplit is < 0 or >= 1)
            throw new BadInputException($"--valid-split must be at least 0 and below 1, not {request.ValidSplit}");

        var trainData = TabularReader.Read(data.Read(parse, request.Train, kind, request.MaxRows, o.Seed));
        Report(trainData);
        IReadOnlyList<TabularRow> trainRows = trainData.Rows, validRows = [];
        string? validFile = request.Valid;
        TabularData? validData = null;
        if (validFile is not null)
        {
            validData = TabularReader.Read(data.Read(parse, validFile, kind));
            Report(validData);
            validRows = validData.Rows;
        }
        else if (request.ValidSplit > 0)
        {
            (trainRows, validRows) = DataSplits.StratifiedSplit(trainData.Rows, request.ValidSplit, o.Seed);
        }
        LabelSet? labels = null;
        if (!similarity)
        {
            labels = LabelSet.FromTraining(trainRows, request.Train, trainData.Columns.Label);
            if (validRows.Count > 0)
                LabelSet.CheckKnown(validRows, labels, validFile ?? request.Train, (validData ?? trainData).Columns.Label);
        }

        // Resolve the checkpoint before creating any folder, so a bad --model leaves nothing behind.
        var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(o.Checkpoint);
        bool resuming = _resuming is not null;
        string runDir = _resuming ?? Path.GetFullPath(request.Out ?? Path.Combine(RunsRoot(), DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
        if (!resuming && Directory.Exists(runDir) && Directory.EnumerateFileSystemEntries(runDir).Any())
            throw new BadInputException($"{runDir}: run folder already exists and is not empty; choose another --out (or --resume it)");
        string checkpointDir = Path.Combine(runDir, "checkpoint");

        // Ctrl-C (SIGINT) and SIGTERM (kill, container and job-scheduler stops) both stop at the next step boundary
        // and save resumable state; the exit code says which (130 or 143).
        using var cancel = new CancellationTokenSource();
        int stopCode = ExitCodes.Interrupted;
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            if (context.Signal == PosixSignal.SIGTERM)
                stopCode = ExitCodes.Terminated;
            Console.Error.WriteLine($"\n{(context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "interrupted")}: stopping at the next step boundary...");
            cancel.Cancel();
        }
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            Directory.CreateDirectory(runDir);
            if (!resuming)
                WriteRunJson(Path.Combine(runDir, "run.json"), request, checkpoint, trainData, validData, trainRows.Count, validRows.Count, labels);
            var ml = new MLContext(seed: o.Seed);
            var columns = new BertTrainingOptions
            {
                TextColumnName = nameof(TextRow.Text),
                Text2ColumnName = request.Task == BertTask.TextClassification ? null : nameof(TextRow.Text2),
                LabelColumnName = similarity ? nameof(TextRow.Score) : nameof(TextRow.Label),
            };
            var keyMap = similarity ? null : ml.Transforms.Conversion.MapValueToKey(nameof(TextRow.Label),
                keyData: ml.Data.LoadFromEnumerable(labels!.Labels.Select(l => new LabelRow { Label = l })));
            IDataView ToView(IReadOnlyList<TabularRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r => new TextRow
            {
                Text = r.Text,
                Text2 = r.Text2 ?? "",
                Label = r.Label ?? "",
                Score = r.Score ?? 0,
            }).ToList());
            IDataView trainView = ToView(trainRows), validView = ToView(validRows);
            ITransformer? keyTransformer = keyMap?.Fit(trainView);
            if (keyTransformer is not null)
            {
                trainView = keyTransformer.Transform(trainView);
                validView = keyTransformer.Transform(validView);
            }
            var options = o with
            {
                TextColumnName = columns.TextColumnName,
                Text2ColumnName = columns.Text2ColumnName,
                LabelColumnName = columns.LabelColumnName,
                ValidationSet = validRows.Count > 0 ? validView : null,
                Progress = new ConsoleProgress(),
                CancellationToken = cancel.Token,
                Checkpoints = new CheckpointSettings(checkpointDir, request.CheckpointEvery),
            };
            var estimator = similarity ? ml.Regression.Trainers.BertSentenceSimilarity(options) : ml.MulticlassClassification.Trainers.BertTextClassification(options);
            if (resuming)
                Console.WriteLine($"resuming {runDir}");
            Console.WriteLine($"training {TrainCommand.TaskName(request.Task)} on {trainRows.Count} rows ({validRows.Count} validation) from {checkpoint.Name}; run folder {runDir}");
            using var transformer = estimator.Fit(trainView);
            var history = transformer.Model.History!;

            JsonObject final = validRows.Count > 0 ? Evaluate(transformer.Model, validRows, labels) : new JsonObject();
            transformer.Model.RecordMetrics(Flatten(final));
            SaveMlNetModel(ml, transformer, trainView, Path.Combine(runDir, "model.zip"));
            if (request.ExportOnnx)
            {
                var checkRows = validRows.Take(200).Select(r => (r.Text, r.Text2)).ToList();
                var parity = MlNetBert.Export.TrainedModelExport.Export(transformer.Model, Path.Combine(runDir, "model.onnx"), checkRows);
                ExportCommand.WriteParityJson(runDir, parity, checkRows.Count > 0 ? "validation rows" : "built-in sample");
                Console.WriteLine($"\nexported model.onnx: {parity}");
            }
            WriteMetrics(Path.Combine(runDir, "metrics.json"), history, final);
            WriteLog(Path.Combine(runDir, "log.csv"), history);
            CurvesPlot.Save(history, Path.Combine(runDir, "curves.png"));

            if (Directory.Exists(checkpointDir))
                Directory.Delete(checkpointDir, recursive: true);
            Console.WriteLine();
            Console.WriteLine($"validation ({validRows.Count} rows): " + string.Join(", ", Flatten(final).Where(kv => kv.Key is "accuracy" or "macro_f1" or "log_loss" or "pearson" or "spearman").Select(kv => $"{kv.Key} {kv.Value:F4}")));
            Console.WriteLine($"training time {ConsoleProgress.Format(history.TrainingTime)}, {history.SamplesPerSecond:F1} samples/s");
            Console.WriteLine($"run folder: {runDir} (model.zip loads with ML.NET's mlContext.Model.Load, input column{(transformer.Model.Info.Text2Column is null ? " Text" : "s Text, Text2")}{(request.ExportOnnx ? "; model.onnx with ONNX Runtime" : "")})");
            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (File.Exists(Path.Combine(checkpointDir, "state.json")))
        {
            Console.Error.WriteLine($"training interrupted; state saved. Continue with: mlnetbert train --resume {runDir}");
            return stopCode;
        }
        catch (OperationCanceledException)
        {
            if (!resuming)
                TryDelete(runDir);
            Console.Error.WriteLine("training interrupted before anything was saved; no run folder was kept");
            return stopCode;
        }
        catch
        {
            if (!resuming)
                TryDelete(runDir);
            throw;
        }
    }

    /// <summary>
    /// model.zip is an ML.NET model (<c>mlContext.Model.Load</c>): input columns Text (and Text2 for pairs); outputs
    /// PredictedLabel as the label's text and Score (probabilities in label order) for classification, Score for
    /// similarity. MlNetBert's own commands read the transformer back out of it.
    /// </summary>
    internal static void SaveMlNetModel(MLContext ml, BertTransformer transformer, IDataView trainView, string path)
    {
        var inputs = new DataViewSchema.Builder();
        inputs.AddColumn(transformer.Model.Info.TextColumn, TextDataViewType.Instance);
        if (transformer.Model.Info.Text2Column is { } text2)
            inputs.AddColumn(text2, TextDataViewType.Instance);
        ITransformer model = transformer;
        if (transformer.Model.Info.Task != BertTask.SentenceSimilarity)
        {
            var toText = ml.Transforms.Conversion.MapKeyToValue(transformer.PredictedLabelColumnName).Fit(transformer.Transform(trainView));
            model = new Microsoft.ML.Data.TransformerChain<ITransformer>(transformer, toText);
        }
        AtomicFile.Write(path, stream => ml.Model.Save(model, inputs.ToSchema(), stream));
    }

    /// <summary>Final metrics on labelled rows with the usual names (accuracy, macro_f1, log_loss / pearson, spearman).</summary>
    internal static JsonObject Evaluate(BertTaskModel model, IReadOnlyList<TabularRow> rows, LabelSet? labels)
    {
        var texts = rows.Select(r => r.Text).ToList();
        var texts2 = model.Info.Text2Column is null ? null : rows.Select(r => r.Text2 ?? "").ToList();
        var predictions = model.Predict(texts, texts2);
        if (model.Info.Task == BertTask.SentenceSimilarity)
            return RegressionMetrics.Compute(rows.Select(r => r.Score ?? 0).ToList(), predictions.Scores!).ToJsonObject();
        var names = model.Info.Labels;
        var truth = new List<int>(rows.Count);
        foreach (var r in rows)
        {
            int index = names.ToList().IndexOf(r.Label ?? "");
            if (index < 0)
                throw new BadInputException($"line {r.Line}: label '{r.Label}' is not one the model knows (known: {string.Join(", ", names)})");
            truth.Add(index);
        }
        var predicted = predictions.Probabilities!.Select(Scores.ArgMax).ToList();
        return ClassificationMetrics.Compute(truth, predicted, predictions.Probabilities!, names).ToJsonObject();
    }

    internal static Dictionary<string, double> Flatten(JsonObject metrics) =>
        metrics.Where(kv => kv.Value is JsonValue v && v.TryGetValue(out double _)).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>());

    internal static string RunsRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MlNetBert.sln")))
                return Path.Combine(dir.FullName, "models", "runs");
        }
        return Path.Combine(Directory.GetCurrentDirectory(), "runs");
    }

    private static void Report(TabularData data)
    {
        if (data.SkippedRows.Count > 0)
            Console.Error.WriteLine($"{data.Path}: skipped {data.SkippedRows.Count} bad rows (first: {data.SkippedRows[0]})");
    }

    private static void WriteRunJson(string path, TrainRequest request, Checkpoint checkpoint, TabularData train, TabularData? valid, int trainRows, int validRows, LabelSet? labels)
    {
        var o = request.Options;
        var json = new JsonObject
        {
            ["argv"] = new JsonArray(request.Arguments.Where(a => a != "--verbose").Select(a => (JsonNode)a).ToArray()),
            ["cwd"] = Directory.GetCurrentDirectory(),
            ["task"] = TrainCommand.TaskName(request.Task),
            ["options"] = new JsonObject
            {
                ["checkpoint"] = o.Checkpoint,
                ["epochs"] = o.Epochs,
                ["batch_size"] = o.BatchSize,
                ["learning_rate"] = o.LearningRate,
                ["max_length"] = o.MaxSequenceLength,
                ["seed"] = o.Seed,
                ["freeze"] = o.Freeze.ToString(),
                ["pooling"] = o.Pooling.ToString().ToLowerInvariant(),
                ["warmup_ratio"] = o.WarmupRatio,
                ["weight_decay"] = o.WeightDecay,
                ["max_grad_norm"] = o.MaxGradNorm,
                ["gradient_accumulation_steps"] = o.GradientAccumulationSteps,
                ["layerwise_lr_decay"] = o.LayerwiseLearningRateDecay,
                ["early_stopping_patience"] = o.EarlyStoppingPatience,
                ["reinitialize_top_layers"] = o.ReinitializeTopLayers,
                ["average_weights_over_last"] = o.AverageWeightsOverLast,
                ["max_rows"] = request.MaxRows,
                ["valid_split"] = request.Valid is null ? request.ValidSplit : null,
            },
            ["checkpoint"] = new JsonObject { ["name"] = checkpoint.Name, ["sha256"] = checkpoint.Sha256, ["layers"] = checkpoint.Config.NumHiddenLayers, ["hidden"] = checkpoint.Config.HiddenSize },
            ["data"] = new JsonObject
            {
                ["train"] = DataFile(train, trainRows),
                ["valid"] = valid is null ? null : DataFile(valid, validRows),
                ["valid_rows"] = validRows,
                ["labels"] = labels is null ? null : new JsonArray(labels.Labels.Select(l => (JsonNode)l).ToArray()),
            },
            ["versions"] = new JsonObject
            {
                ["mlnetbert"] = typeof(BertTaskModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
                ["ml.net"] = typeof(MLContext).Assembly.GetName().Version?.ToString(),
                ["torchsharp"] = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(),
                ["dotnet"] = Environment.Version.ToString(),
            },
            ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["torch_threads"] = TorchSharp.torch.get_num_threads() },
        };
        AtomicFile.WriteAllText(path, json.ToJsonString(Indented) + "\n");
    }

    private static JsonObject DataFile(TabularData data, int rowsUsed) => new()
    {
        ["path"] = Path.GetFullPath(data.Path),
        ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data.Path))),
        ["rows_read"] = data.Rows.Count,
        ["rows_used"] = rowsUsed,
        ["rows_skipped"] = data.SkippedRows.Count,
    };

    private static void WriteMetrics(string path, TrainingHistory history, JsonObject final)
    {
        var json = new JsonObject
        {
            ["final"] = final,
            ["best_epoch"] = history.BestEpoch,
            ["validation_metric"] = history.ValidationMetricName,
            ["epochs"] = new JsonArray(history.Epochs.Select(e => (JsonNode)new JsonObject
            {
                ["epoch"] = e.Epoch,
                ["train_loss"] = e.TrainLoss,
                ["validation_" + history.ValidationMetricName] = e.ValidationMetric,
                ["validation_loss"] = e.ValidationLoss,
                ["seconds"] = Math.Round(e.Duration.TotalSeconds, 2),
                ["samples_per_second"] = Math.Round(e.SamplesPerSecond, 2),
            }).ToArray()),
            ["training_seconds"] = Math.Round(history.TrainingTime.TotalSeconds, 2),
            ["samples_per_second"] = Math.Round(history.SamplesPerSecond, 2),
            ["trainable_parameters"] = history.TrainableParameters,
            ["total_parameters"] = history.TotalParameters,
            ["real_token_fraction"] = history.PaddedTokens == 0 ? 0 : Math.Round((double)history.RealTokens / history.PaddedTokens, 4),
        };
        AtomicFile.WriteAllText(path, json.ToJsonString(Indented) + "\n");
    }

    private static void WriteLog(string path, TrainingHistory history)
    {
        var sb = new StringBuilder("step,epoch,loss,learning_rate,samples_per_second\n");
        foreach (var s in history.Steps)
            sb.Append(CultureInfo.InvariantCulture, $"{s.Step},{s.Epoch},{s.Loss:G6},{s.LearningRate:G6},{s.SamplesPerSecond:F2}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    private static void TryDelete(string dir)
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
}
