using MlNetBert.Tasks;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Data.TokenClassification;
using MlNetBert.Modeling;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>
/// run.json: how a run was asked for (<c>request</c>, which <see cref="BertRun.Resume"/> reads back), what it read,
/// which versions ran it, and its <see cref="RunStatus"/>. Rewritten whole (atomically) at each change of status.
/// </summary>
internal static class RunRecord
{
    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteStarted(RunFolder run, BertRunRequest request, string checkpointName, JsonObject? checkpoint,
        TabularData train, TabularData? valid, int trainRows, int validRows, LabelSet? labels)
    {
        var o = request.Options;
        var json = new JsonObject
        {
            ["status"] = RunFolder.StatusName(RunStatus.Running),
            ["pid"] = Environment.ProcessId,
            ["argv"] = request.CommandLine is { } argv ? new JsonArray(argv.Select(a => (JsonNode)a).ToArray()) : null,
            ["cwd"] = Directory.GetCurrentDirectory(),
            ["task"] = request.Task.Name,
            // The training options as the request saves them, and the row limits this run read with.
            ["options"] = WithRowLimits(OptionsJson(o), request),
            ["checkpoint"] = checkpoint ?? new JsonObject { ["name"] = checkpointName },
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
            ["request"] = RequestJson(request with { Out = run.Path }),
        };
        Write(run, json);
    }

    public static JsonObject CheckpointJson(Checkpoint checkpoint) => new()
    {
        ["name"] = checkpoint.Name,
        ["sha256"] = checkpoint.Sha256,
        ["layers"] = checkpoint.Config.NumHiddenLayers,
        ["hidden"] = checkpoint.Config.HiddenSize,
    };

    /// <summary>Sets the status (and error) in run.json, keeping everything else; the writing process is recorded so a reader can tell a live run from a killed one.</summary>
    public static void SetStatus(RunFolder run, RunStatus status, string? error = null)
    {
        var json = run.ReadRunJson();
        // Status first, so a person opening the file sees it at the top.
        var updated = new JsonObject
        {
            ["status"] = RunFolder.StatusName(status),
            ["error"] = error,
            ["pid"] = Environment.ProcessId,
        };
        foreach (var (key, value) in json.ToList())
        {
            if (key is "status" or "error" or "pid")
                continue;
            json.Remove(key);
            updated[key] = value;
        }
        if (error is null)
            updated.Remove("error");
        Write(run, updated);
    }

    /// <summary>The request saved in run.json, as <see cref="BertRun.Resume"/> re-runs it (into the same folder).</summary>
    public static BertRunRequest ReadRequest(RunFolder run)
    {
        var json = run.ReadRunJson();
        if (json["request"] is not JsonObject r)
            throw new BadInputException($"{run.RunJson}: has no saved request (written by an older mlnetbert); start the run again");
        try
        {
            var o = (JsonObject)r["options"]!;
            return new BertRunRequest(ReadOptions((JsonObject)r["train"]!))
            {
                Valid = r["valid"] is JsonObject valid ? ReadOptions(valid) : null,
                ValidSplit = r["valid_split"]!.GetValue<double>(),
                Task = TrainingTasks.Get(r["task"]!.GetValue<string>(), r["variant"]?.GetValue<string>(), "run.json: 'task'"),
                Out = run.Path,
                CheckpointEvery = r["checkpoint_every"]!.GetValue<int>(),
                ExportOnnx = r["export_onnx"]!.GetValue<bool>(),
                Tagged = r["tagged"] is JsonObject tagged
                    ? new TaggedFileOptions
                    {
                        Scheme = Enum.Parse<TagScheme>(tagged["scheme"]!.GetValue<string>(), ignoreCase: true),
                        TokenColumn = tagged["token_column"]!.GetValue<int>(),
                        TagColumn = tagged["tag_column"]?.GetValue<int>(),
                    }
                    : new TaggedFileOptions(),
                CommandLine = json["argv"] is JsonArray argv ? argv.Select(a => a!.GetValue<string>()).ToArray() : null,
                Options = new BertTrainingOptions
                {
                    Checkpoint = o["checkpoint"]!.GetValue<string>(),
                    Epochs = o["epochs"]!.GetValue<int>(),
                    BatchSize = o["batch_size"]!.GetValue<int>(),
                    LearningRate = o["learning_rate"]!.GetValue<double>(),
                    MaxSequenceLength = o["max_length"]!.GetValue<int>(),
                    Seed = o["seed"]!.GetValue<int>(),
                    Freeze = FreezeSpec.Parse(o["freeze"]!.GetValue<string>()),
                    Pooling = Enum.Parse<Pooling>(o["pooling"]!.GetValue<string>(), ignoreCase: true),
                    WarmupRatio = o["warmup_ratio"]!.GetValue<double>(),
                    WeightDecay = o["weight_decay"]!.GetValue<double>(),
                    MaxGradNorm = o["max_grad_norm"]!.GetValue<double>(),
                    GradientAccumulationSteps = o["gradient_accumulation_steps"]!.GetValue<int>(),
                    LayerwiseLearningRateDecay = o["layerwise_lr_decay"]!.GetValue<double>(),
                    EarlyStoppingPatience = o["early_stopping_patience"]!.GetValue<int>(),
                    RestoreBestWeights = o["restore_best_weights"]!.GetValue<bool>(),
                    ReinitializeTopLayers = o["reinitialize_top_layers"]!.GetValue<int>(),
                    AverageWeightsOverLast = o["average_weights_over_last"]!.GetValue<double>(),
                    LengthGroupedBatches = o["length_grouped_batches"]!.GetValue<bool>(),
                    SparseEmbeddingUpdates = o["sparse_embedding_updates"]!.GetValue<bool>(),
                    // Absent in run.json files written before mixed precision.
                    Precision = o["precision"] is { } precision ? TrainingPrecisionNames.Parse(precision.GetValue<string>(), "run.json options.precision") : TrainingPrecision.Float32,
                    Threads = o["threads"]?.GetValue<int>(),
                    Teachers = o["teachers"] is JsonArray teachers ? teachers.Select(t => t!.GetValue<string>()).ToArray() : [],
                    DistillAlpha = o["distill_alpha"]?.GetValue<double>() ?? new BertTrainingOptions().DistillAlpha,
                    DistillTemperature = o["distill_temperature"]?.GetValue<double>() ?? new BertTrainingOptions().DistillTemperature,
                    TeacherOutputsFrom = o["teacher_outputs_from"]?.GetValue<string>(),
                    // Absent in run.json files written before question answering.
                    DocStride = o["doc_stride"]?.GetValue<int>() ?? 128,
                    MaxAnswerLength = o["max_answer_length"]?.GetValue<int>() ?? 30,
                },
                Unlabeled = r["unlabeled"] is JsonObject unlabeled ? ReadOptions(unlabeled) : null,
            };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidCastException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new BadInputException($"{run.RunJson}: its saved request is incomplete or damaged ({e.Message}); start the run again", e);
        }
    }

    private static JsonObject RequestJson(BertRunRequest request)
    {
        var o = request.Options;
        return new JsonObject
        {
            ["train"] = OptionsJson(request.Train),
            ["valid"] = request.Valid is null ? null : OptionsJson(request.Valid),
            ["valid_split"] = request.ValidSplit,
            ["task"] = request.Task.Name,
            ["variant"] = request.Task.Variant,
            ["checkpoint_every"] = request.CheckpointEvery,
            ["export_onnx"] = request.ExportOnnx,
            ["tagged"] = !request.Task.TokenLevel ? null : new JsonObject
            {
                ["scheme"] = request.Tagged.Scheme.ToString().ToLowerInvariant(),
                ["token_column"] = request.Tagged.TokenColumn,
                ["tag_column"] = request.Tagged.TagColumn,
            },
            ["options"] = OptionsJson(o),
            ["unlabeled"] = request.Unlabeled is null ? null : OptionsJson(request.Unlabeled),
        };
    }

    // The training options, as run.json's request saves them for --resume and shows them.
    private static JsonObject OptionsJson(BertTrainingOptions o) => new()
    {
        // A checkpoint folder given relative to the working directory is saved in full, like the data paths.
        ["checkpoint"] = Directory.Exists(o.Checkpoint) ? Path.GetFullPath(o.Checkpoint) : o.Checkpoint,
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
        ["restore_best_weights"] = o.RestoreBestWeights,
        ["reinitialize_top_layers"] = o.ReinitializeTopLayers,
        ["average_weights_over_last"] = o.AverageWeightsOverLast,
        ["doc_stride"] = o.DocStride,
        ["max_answer_length"] = o.MaxAnswerLength,
        ["length_grouped_batches"] = o.LengthGroupedBatches,
        ["sparse_embedding_updates"] = o.SparseEmbeddingUpdates,
        ["precision"] = o.Precision.ToName(),
        // What the machine that trained made of it (auto is bf16 only where the CPU has native bf16).
        ["bf16_used"] = o.UsesBFloat16,
        ["threads"] = o.Threads,
        // Teachers are saved in full, like the data paths, so a resume finds them (and its cached outputs).
        ["teachers"] = o.Teachers.Count == 0 ? null : new JsonArray(o.Teachers.Select(t => (JsonNode)Path.GetFullPath(t)).ToArray()),
        ["distill_alpha"] = o.Teachers.Count == 0 ? null : o.DistillAlpha,
        ["distill_temperature"] = o.Teachers.Count == 0 ? null : o.DistillTemperature,
        ["teacher_outputs_from"] = o.TeacherOutputsFrom is null ? null : Path.GetFullPath(o.TeacherOutputsFrom),
    };

    private static JsonObject WithRowLimits(JsonObject options, BertRunRequest request)
    {
        options["max_rows"] = request.Train.MaxRows;
        options["valid_split"] = request.Valid is null ? request.ValidSplit : null;
        return options;
    }

    // Paths are saved in full, so a resume from another working directory reads the same files.
    private static JsonObject OptionsJson(TabularReadOptions r) => new()
    {
        ["path"] = Path.GetFullPath(r.Path),
        ["separator"] = r.Separator?.ToString(),
        ["has_header"] = r.HasHeader,
        ["quoting"] = r.Quoting,
        ["text_column"] = r.TextColumn,
        ["text2_column"] = r.Text2Column,
        ["label_column"] = r.LabelColumn,
        ["label_kind"] = r.LabelKind.ToString(),
        ["skip_bad_rows"] = r.SkipBadRows,
        ["max_rows"] = r.MaxRows,
        ["seed"] = r.Seed,
    };

    private static TabularReadOptions ReadOptions(JsonObject r) => new(r["path"]!.GetValue<string>())
    {
        Separator = r["separator"]?.GetValue<string>() is { Length: 1 } s ? s[0] : null,
        HasHeader = r["has_header"]!.GetValue<bool>(),
        Quoting = r["quoting"]?.GetValue<bool>(),
        TextColumn = r["text_column"]?.GetValue<string>(),
        Text2Column = r["text2_column"]?.GetValue<string>(),
        LabelColumn = r["label_column"]?.GetValue<string>(),
        LabelKind = Enum.Parse<LabelKind>(r["label_kind"]!.GetValue<string>()),
        SkipBadRows = r["skip_bad_rows"]!.GetValue<bool>(),
        MaxRows = r["max_rows"]?.GetValue<int>(),
        Seed = r["seed"]!.GetValue<int>(),
    };

    private static JsonObject DataFile(TabularData data, int rowsUsed) => new()
    {
        ["path"] = Path.GetFullPath(data.Path),
        ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data.Path))),
        ["rows_read"] = data.Rows.Count,
        ["rows_used"] = rowsUsed,
        ["rows_skipped"] = data.SkippedRows.Count,
    };

    private static void Write(RunFolder run, JsonObject json) =>
        AtomicFile.WriteAllText(run.RunJson, json.ToJsonString(Indented) + "\n");
}
