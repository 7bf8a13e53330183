using System.CommandLine;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using MlNetBert.Runs;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert train</c>: fine-tune, evaluate on the validation data, and write a run folder.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var arguments = new TrainArguments();
        var command = arguments.Command();
        command.SetAction(parse => parse.GetValue(arguments.Resume) is { } resumeDir
            ? RunConsole.Resume(resumeDir)
            : RunConsole.Train(arguments.Request(parse)));
        return command;
    }

    /// <summary>The run that <c>mlnetbert train <paramref name="args"/></c> would start (for sweep trials).</summary>
    /// <exception cref="BadInputException">The arguments do not parse.</exception>
    public static BertRunRequest ParseRequest(IReadOnlyList<string> args)
    {
        var arguments = new TrainArguments();
        var parse = arguments.Command().Parse(args.ToArray());
        if (parse.Errors.Count > 0)
            throw new BadInputException($"train {string.Join(' ', args)}: {parse.Errors[0].Message}");
        return arguments.Request(parse);
    }

    internal static TrainingTask ParseTask(string? task, string? text2Column, string? variant = null, string variantOption = "--loss")
    {
        var chosen = task is null
            ? text2Column is null ? ClassificationTraining.Text : ClassificationTraining.Pair
            : TrainingTasks.All.FirstOrDefault(t => t.Name == task)
                ?? throw new BadInputException($"--task must be {string.Join(", ", TrainingTasks.All.SkipLast(1).Select(t => t.Name))} or {TrainingTasks.All[^1].Name}, not '{task}'");
        return TrainingTasks.Get(chosen.Name, variant, variantOption);
    }

    /// <summary>The options of <c>train</c>, and how they become a <see cref="BertRunRequest"/>.</summary>
    private sealed class TrainArguments
    {
        private readonly Option<string> _train = new("--train") { Description = "Training data (TSV or CSV; for token-classification also CoNLL: one word a line, any extension but .tsv/.csv; for question-answering SQuAD v1.1 .json or a TSV/CSV with Context, Question, TrainingAnswer, AnswerIndex columns)." };
        private readonly Option<string?> _valid = new("--valid") { Description = "Validation data; default: a stratified, seeded split of --train (see --valid-split)." };
        private readonly Option<double> _validSplit = new("--valid-split") { Description = "Fraction of --train held out for validation when no --valid is given (0 for none).", DefaultValueFactory = _ => 0.1 };
        private readonly Option<string?> _task = new("--task") { Description = "text-classification | pair-classification | sentence-similarity | token-classification | sentence-embedding | question-answering. Default: pair-classification when --text2-column is given, else text-classification." };
        private readonly Option<string?> _loss = new("--loss") { Description = "sentence-embedding only: cosine-similarity (default; pairs with a score) | multiple-negatives-ranking ((anchor, positive) pairs, other positives of the batch as negatives; no label column)." };
        private readonly Option<bool> _labelAllSubTokens = new("--label-all-subtokens") { Description = "token-classification only: label every sub-token of a word (B-X becomes I-X after the first), not only the first." };
        private readonly Option<string> _model = new("--model") { Description = "Checkpoint: minilm-l6 (default), arctic-xs, a HuggingFace BERT folder, or nasbert (ML.NET's own TextClassification / SentenceSimilarity; needs NasBert2000000.tsm in $TMPDIR/mlnet).", DefaultValueFactory = _ => CheckpointStore.DefaultName };
        private readonly Option<int> _epochs = new("--epochs") { Description = "Passes over the training data.", DefaultValueFactory = _ => 3 };
        private readonly Option<int?> _batchSize = new("--batch-size") { Description = "Examples per batch. Default: 32; for question-answering 8, with --gradient-accumulation 2 (an effective batch of 16 in about two thirds of the memory: 384-token windows)." };
        private readonly Option<int?> _accumulation = new("--gradient-accumulation") { Description = "Batches whose gradients add up before each optimizer step (the effective batch is --batch-size times this); saves memory at the same effective batch. Default: 1; 2 for question-answering when --batch-size is not given." };
        private readonly Option<double> _learningRate = new("--learning-rate") { Description = "Peak AdamW learning rate.", DefaultValueFactory = _ => 1e-4 };
        private readonly Option<int?> _maxLength = new("--max-length") { Description = "Maximum tokens per input (pairs together). Default: 128; 384 for question-answering." };
        private readonly Option<int> _docStride = new("--doc-stride") { Description = "question-answering: context tokens that consecutive windows share.", DefaultValueFactory = _ => 128 };
        private readonly Option<int> _maxAnswerLength = new("--max-answer-length") { Description = "question-answering: the longest answer, in sub-tokens.", DefaultValueFactory = _ => 30 };
        private readonly Option<int?> _maxRows = new("--max-rows") { Description = "Use a seeded random subsample of at most N training rows." };
        private readonly Option<int> _seed = new("--seed") { Description = "Seed for initialisation, dropout, batching and subsampling.", DefaultValueFactory = _ => 42 };
        private readonly Option<string> _freeze = new("--freeze") { Description = "none | embeddings | bottom:K | encoder (head only).", DefaultValueFactory = _ => "none" };
        private readonly Option<string> _pooling = new("--pooling") { Description = "mean | cls: what the head reads.", DefaultValueFactory = _ => "mean" };
        private readonly Option<double> _warmup = new("--warmup-ratio") { Description = "Fraction of steps for linear warmup.", DefaultValueFactory = _ => 0.1 };
        private readonly Option<double> _weightDecay = new("--weight-decay") { Description = "AdamW weight decay (not on biases and LayerNorm).", DefaultValueFactory = _ => 0.01 };
        private readonly Option<double> _lld = new("--layerwise-lr-decay") { Description = "Layer-wise learning-rate decay (1 = off).", DefaultValueFactory = _ => 1.0 };
        private readonly Option<int> _reinit = new("--reinit-top-layers") { Description = "Re-initialise the top K encoder layers before training (0 = off).", DefaultValueFactory = _ => 0 };
        private readonly Option<double> _average = new("--average-last") { Description = "Average the weights of this fraction of the final steps into the model (0 = off; e.g. 0.3).", DefaultValueFactory = _ => 0.0 };
        private readonly Option<int> _patience = new("--patience") { Description = "Early stopping after N epochs without validation improvement (0 = off).", DefaultValueFactory = _ => 0 };
        private readonly Option<string> _precision = new("--precision") { Description = "Number format of training's matrix products: fp32, bf16 (mixed precision: bf16 products, fp32 weights; needs a CPU with native bf16), or auto (bf16 where native, else fp32).", DefaultValueFactory = _ => "auto" };
        private readonly Option<int?> _threads = new("--threads") { Description = "Torch CPU threads (default: one per core)." };
        private readonly Option<string?> _output = new("--out") { Description = "Run folder to create (default: models/runs/<timestamp>)." };
        private readonly Option<int> _checkpointEvery = new("--checkpoint-every") { Description = "Save resumable state every N steps (always at epoch ends and on Ctrl-C; 0 = only those).", DefaultValueFactory = _ => 200 };
        private readonly Option<bool> _noExport = new("--no-export") { Description = "Skip the verified ONNX export (model.onnx, parity.json); 'mlnetbert export' can make it later." };
        private readonly Option<string[]> _teacher = new("--teacher") { Description = "Distil from this trained model (run folder, ensemble folder, model.zip or model.onnx of the same task and labels); repeat for several (averaged).", AllowMultipleArgumentsPerToken = false };
        private readonly Option<double> _distillAlpha = new("--distill-alpha") { Description = "With --teacher: weight of the hard-label loss; the teacher's term gets 1 - alpha.", DefaultValueFactory = _ => 0.5 };
        private readonly Option<double> _distillTemperature = new("--distill-temperature") { Description = "With --teacher (classification): softening temperature T of the teacher's and student's distributions.", DefaultValueFactory = _ => 2.0 };
        private readonly Option<string?> _teacherOutputs = new("--teacher-outputs") { Description = "With --teacher: read the teachers' outputs from an earlier distilled run (its folder or teacher-outputs.bin) with the same teachers and training texts, instead of running the teachers again (e.g. for another student seed)." };
        private readonly Option<string?> _unlabeled = new("--unlabeled") { Description = "With --teacher: extra texts without labels (same text columns as --train) that the teachers label." };
        private readonly DataArguments _data = new();
        private readonly TaggedArguments _tagged = new();

        public Option<string?> Resume { get; } = new("--resume") { Description = "Continue an interrupted run folder with its original options (other options are ignored)." };

        public Command Command()
        {
            var command = new Command("train",
                """
                Fine-tune a pretrained BERT checkpoint and write a run folder (run.json, metrics.json, log.csv, curves.png, model.zip
                (an ML.NET model), model.onnx and parity.json (its verified ONNX export)).

                Examples:
                  mlnetbert train --train data/sentiment-sample.tsv --epochs 3
                  mlnetbert train --train sst2/train.tsv --valid sst2/dev.tsv --max-rows 5000 --learning-rate 5e-5
                  mlnetbert train --train stsb/train.tsv --valid stsb/dev.tsv --task sentence-similarity --text-column sentence1 --text2-column sentence2 --label-column score
                  mlnetbert train --task token-classification --train conll2003/eng.train --valid conll2003/eng.testa --max-length 128
                  mlnetbert train --task sentence-embedding --train stsb/train.tsv --valid stsb/dev.tsv --text-column sentence1 --text2-column sentence2 --label-column score --learning-rate 2e-5
                  mlnetbert train --train sst2/train.tsv --valid sst2/dev.tsv --teacher models/ensemble --distill-alpha 0.5 --distill-temperature 2
                  mlnetbert train --task question-answering --train squad/dev-v1.1.part1.json --valid squad/dev-v1.1.part2.json --epochs 2
                """)
            {
                _train, _valid, _validSplit, _task, _loss, _labelAllSubTokens, _model, _epochs, _batchSize, _accumulation, _learningRate, _maxLength, _docStride, _maxAnswerLength, _maxRows, _seed, _freeze, _pooling,
                _warmup, _weightDecay, _lld, _reinit, _average, _patience, _precision, _threads, _output, _checkpointEvery, _noExport, _teacher, _distillAlpha,
                _distillTemperature, _teacherOutputs, _unlabeled, Resume,
            };
            _data.AddTo(command);
            _tagged.AddTo(command);
            // --resume needs no --train.
            command.Validators.Add(result =>
            {
                if (result.GetValue(Resume) is null && result.GetValue(_train) is null)
                    result.AddError("Option '--train' is required.");
            });
            return command;
        }

        public BertRunRequest Request(ParseResult parse)
        {
            var task = parse.GetValue(_labelAllSubTokens)
                ? ParseTask(parse.GetValue(_task), parse.GetValue(_data.Text2Column), TokenClassificationTraining.AllSubTokensVariant, "--label-all-subtokens")
                : ParseTask(parse.GetValue(_task), parse.GetValue(_data.Text2Column), parse.GetValue(_loss));
            var options = new BertTrainingOptions
            {
                Checkpoint = parse.GetValue(_model)!,
                Epochs = parse.GetValue(_epochs),
                BatchSize = parse.GetValue(_batchSize) ?? task.DefaultShape.BatchSize,
                // A batch size given alone means that many examples per step, so the default accumulation goes with the default batch.
                GradientAccumulationSteps = parse.GetValue(_accumulation) ?? (parse.GetValue(_batchSize) is null ? task.DefaultShape.GradientAccumulationSteps : 1),
                LearningRate = parse.GetValue(_learningRate),
                MaxSequenceLength = parse.GetValue(_maxLength) ?? task.DefaultShape.MaxSequenceLength,
                DocStride = parse.GetValue(_docStride),
                MaxAnswerLength = parse.GetValue(_maxAnswerLength),
                Seed = parse.GetValue(_seed),
                Freeze = FreezeSpec.Parse(parse.GetValue(_freeze)!),
                Pooling = parse.GetValue(_pooling) switch
                {
                    "cls" => Pooling.Cls,
                    "mean" => Pooling.Mean,
                    var other => throw new BadInputException($"--pooling must be cls or mean, not '{other}'"),
                },
                WarmupRatio = parse.GetValue(_warmup),
                WeightDecay = parse.GetValue(_weightDecay),
                LayerwiseLearningRateDecay = parse.GetValue(_lld),
                EarlyStoppingPatience = parse.GetValue(_patience),
                ReinitializeTopLayers = parse.GetValue(_reinit),
                AverageWeightsOverLast = parse.GetValue(_average),
                Precision = TrainingPrecisionNames.Parse(parse.GetValue(_precision)!, "--precision"),
                Threads = parse.GetValue(_threads),
                Teachers = parse.GetValue(_teacher) ?? [],
                DistillAlpha = parse.GetValue(_distillAlpha),
                DistillTemperature = parse.GetValue(_distillTemperature),
                TeacherOutputsFrom = parse.GetValue(_teacherOutputs),
            };
            string? unlabeled = parse.GetValue(_unlabeled);
            string? valid = parse.GetValue(_valid);
            return new BertRunRequest(_data.Read(parse, parse.GetValue(_train)!, Data.LabelKind.Categorical, parse.GetValue(_maxRows), options.Seed))
            {
                Valid = valid is null ? null : _data.Read(parse, valid, Data.LabelKind.Categorical),
                Unlabeled = unlabeled is null ? null : _data.Read(parse, unlabeled, Data.LabelKind.None),
                ValidSplit = parse.GetValue(_validSplit),
                Task = task,
                Tagged = _tagged.Read(parse),
                Out = parse.GetValue(_output),
                CheckpointEvery = parse.GetValue(_checkpointEvery),
                ExportOnnx = !parse.GetValue(_noExport),
                CommandLine = parse.Tokens.Select(t => t.Value).SkipWhile(v => v == "train").Where(a => a != "--verbose").ToArray(),
                Options = options,
            };
        }
    }
}
