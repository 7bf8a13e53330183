using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.MlNet;
using MlNetBert.Modeling;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert train</c>: fine-tune, evaluate on the validation data, and write a run folder.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var train = new Option<string>("--train") { Description = "Training data (TSV or CSV).", Required = true };
        var valid = new Option<string?>("--valid") { Description = "Validation data; default: a stratified, seeded split of --train (see --valid-split)." };
        var validSplit = new Option<double>("--valid-split") { Description = "Fraction of --train held out for validation when no --valid is given (0 for none).", DefaultValueFactory = _ => 0.1 };
        var task = new Option<string?>("--task") { Description = "text-classification | pair-classification | sentence-similarity. Default: pair-classification when --text2-column is given, else text-classification." };
        var model = new Option<string>("--model") { Description = "Checkpoint: minilm-l6 (default), arctic-xs, a HuggingFace BERT folder, or nasbert (ML.NET's own TextClassification / SentenceSimilarity; needs NasBert2000000.tsm in $TMPDIR/mlnet).", DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training data.", DefaultValueFactory = _ => 3 };
        var batchSize = new Option<int>("--batch-size") { Description = "Examples per step.", DefaultValueFactory = _ => 32 };
        var learningRate = new Option<double>("--learning-rate") { Description = "Peak AdamW learning rate.", DefaultValueFactory = _ => 1e-4 };
        var maxLength = new Option<int>("--max-length") { Description = "Maximum tokens per input (pairs together).", DefaultValueFactory = _ => 128 };
        var maxRows = new Option<int?>("--max-rows") { Description = "Use a seeded random subsample of at most N training rows." };
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation, dropout, batching and subsampling.", DefaultValueFactory = _ => 42 };
        var freeze = new Option<string>("--freeze") { Description = "none | embeddings | bottom:K | encoder (head only).", DefaultValueFactory = _ => "none" };
        var pooling = new Option<string>("--pooling") { Description = "mean | cls: what the head reads.", DefaultValueFactory = _ => "mean" };
        var warmup = new Option<double>("--warmup-ratio") { Description = "Fraction of steps for linear warmup.", DefaultValueFactory = _ => 0.1 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay (not on biases and LayerNorm).", DefaultValueFactory = _ => 0.01 };
        var lld = new Option<double>("--layerwise-lr-decay") { Description = "Layer-wise learning-rate decay (1 = off).", DefaultValueFactory = _ => 1.0 };
        var reinit = new Option<int>("--reinit-top-layers") { Description = "Re-initialise the top K encoder layers before training (0 = off).", DefaultValueFactory = _ => 0 };
        var average = new Option<double>("--average-last") { Description = "Average the weights of this fraction of the final steps into the model (0 = off; e.g. 0.3).", DefaultValueFactory = _ => 0.0 };
        var patience = new Option<int>("--patience") { Description = "Early stopping after N epochs without validation improvement (0 = off).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "Torch CPU threads (default: one per core)." };
        var output = new Option<string?>("--out") { Description = "Run folder to create (default: models/runs/<timestamp>)." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Save resumable state every N steps (always at epoch ends and on Ctrl-C; 0 = only those).", DefaultValueFactory = _ => 200 };
        var noExport = new Option<bool>("--no-export") { Description = "Skip the verified ONNX export (model.onnx, parity.json); 'mlnetbert export' can make it later." };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run folder with its original options (other options are ignored)." };
        var data = new DataArguments();
        var command = new Command("train",
            """
            Fine-tune a pretrained BERT checkpoint and write a run folder (run.json, metrics.json, log.csv, curves.png, model.zip
            (an ML.NET model), model.onnx and parity.json (its verified ONNX export)).

            Examples:
              mlnetbert train --train data/sentiment-sample.tsv --epochs 3
              mlnetbert train --train sst2/train.tsv --valid sst2/dev.tsv --max-rows 5000 --learning-rate 5e-5
              mlnetbert train --train stsb/train.tsv --valid stsb/dev.tsv --task sentence-similarity --text-column sentence1 --text2-column sentence2 --label-column score
            """)
        {
            train, valid, validSplit, task, model, epochs, batchSize, learningRate, maxLength, maxRows, seed, freeze, pooling,
            warmup, weightDecay, lld, reinit, average, patience, threads, output, checkpointEvery, noExport, resume,
        };
        data.AddTo(command);
        train.Required = false; // --resume needs no --train; checked below
        command.Validators.Add(result =>
        {
            if (result.GetValue(resume) is null && result.GetValue(train) is null)
                result.AddError("Option '--train' is required.");
        });
        command.SetAction(parse =>
        {
            if (parse.GetValue(resume) is { } resumeDir)
            {
                var argv = TrainRun.ReadArguments(resumeDir);
                var again = Create().Parse(argv);
                if (again.Errors.Count > 0)
                    throw new BadInputException($"{resumeDir}/run.json: its saved arguments no longer parse ({again.Errors[0].Message})");
                return again.Action is System.CommandLine.Invocation.SynchronousCommandLineAction action
                    ? TrainRun.WithResume(() => action.Invoke(again), resumeDir)
                    : throw new InvalidOperationException("train has no synchronous action");
            }
            var request = new TrainRequest(
                parse.GetValue(train)!, parse.GetValue(valid), parse.GetValue(validSplit), ParseTask(parse.GetValue(task), parse.GetValue(data.Text2Column)),
                parse.GetValue(maxRows), parse.GetValue(output), parse.GetValue(checkpointEvery), !parse.GetValue(noExport), parse.Tokens.Select(t => t.Value).SkipWhile(v => v == "train").ToArray(),
                new BertTrainingOptions
                {
                    Checkpoint = parse.GetValue(model)!,
                    Epochs = parse.GetValue(epochs),
                    BatchSize = parse.GetValue(batchSize),
                    LearningRate = parse.GetValue(learningRate),
                    MaxSequenceLength = parse.GetValue(maxLength),
                    Seed = parse.GetValue(seed),
                    Freeze = FreezeSpec.Parse(parse.GetValue(freeze)!),
                    Pooling = parse.GetValue(pooling) switch
                    {
                        "cls" => Pooling.Cls,
                        "mean" => Pooling.Mean,
                        var other => throw new BadInputException($"--pooling must be cls or mean, not '{other}'"),
                    },
                    WarmupRatio = parse.GetValue(warmup),
                    WeightDecay = parse.GetValue(weightDecay),
                    LayerwiseLearningRateDecay = parse.GetValue(lld),
                    EarlyStoppingPatience = parse.GetValue(patience),
                    ReinitializeTopLayers = parse.GetValue(reinit),
                    AverageWeightsOverLast = parse.GetValue(average),
                    Threads = parse.GetValue(threads),
                });
            return TrainRun.Execute(request, parse, data);
        });
        return command;
    }

    internal static TrainingTask ParseTask(string? task, string? text2Column) => task is null
        ? text2Column is null ? ClassificationTraining.Text : ClassificationTraining.Pair
        : TrainingTasks.All.FirstOrDefault(t => t.Name == task)
            ?? throw new BadInputException($"--task must be {string.Join(", ", TrainingTasks.All.Select(t => t.Name))}, not '{task}'");
}

internal sealed record TrainRequest(string Train, string? Valid, double ValidSplit, TrainingTask Task, int? MaxRows, string? Out, int CheckpointEvery, bool ExportOnnx, string[] Arguments, BertTrainingOptions Options);

/// <summary>One row as the ML.NET pipeline sees it.</summary>
public sealed class TextRow
{
    public string Text { get; set; } = "";
    public string Text2 { get; set; } = "";
    public string Label { get; set; } = "";
    public float Score { get; set; }
}

/// <summary>The label vocabulary, in the order the model's outputs use.</summary>
public sealed class LabelRow
{
    public string Label { get; set; } = "";
}
