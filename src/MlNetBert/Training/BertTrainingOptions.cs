using MlNetBert.Checkpoints;
using MlNetBert.Modeling;

namespace MlNetBert.Training;

/// <summary>
/// Options for fine-tuning a BERT checkpoint. The defaults are the ones measured to work (docs/analysis.md,
/// "Experiments"; docs/benchmarks.md): AdamW at 1e-4 with 10% linear warmup then linear decay, weight decay 0.01
/// except on biases and LayerNorm, gradient clipping at 1.0, mean pooling, batch 32, 3 epochs, sequences up to 128
/// tokens.
/// </summary>
public sealed record BertTrainingOptions
{
    /// <summary>Column with the (first) text. Default "Text".</summary>
    public string TextColumnName { get; init; } = "Text";

    /// <summary>Column with the second text of a pair (paraphrase, entailment, similarity); null for single texts.</summary>
    public string? Text2ColumnName { get; init; }

    /// <summary>Label column: a key type for classification (use MapValueToKey), Single for similarity. Default "Label".</summary>
    public string LabelColumnName { get; init; } = "Label";

    /// <summary>Output column with the probabilities (classification) or the predicted score (similarity). Default "Score".</summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>Output column with the predicted key (classification). Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary>Question answering: the column holding the answer's character offset into the context (int). Default: <c>AnswerIndex</c>.</summary>
    public string AnswerIndexColumnName { get; init; } = "AnswerIndex";

    /// <summary>Question answering: context sub-tokens that consecutive windows share. Default: 128.</summary>
    public int DocStride { get; init; } = 128;

    /// <summary>Question answering: the longest answer, in sub-tokens. Default: 30.</summary>
    public int MaxAnswerLength { get; init; } = 30;

    /// <summary>Question answering: answers returned per question, best first. Default: 3.</summary>
    public int AnswerCount { get; init; } = 3;

    /// <summary>A built-in checkpoint name (minilm-l6, arctic-xs) or a HuggingFace BERT folder. Default minilm-l6.</summary>
    public string Checkpoint { get; init; } = CheckpointStore.DefaultName;

    /// <summary>Longer inputs are truncated to this many tokens (pairs: longest first). Default 128.</summary>
    public int MaxSequenceLength { get; init; } = 128;

    /// <summary>Examples per optimizer step (before accumulation). Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Passes over the training data. Default 3.</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>
    /// Peak learning rate of AdamW. Default 1e-4: on minilm-l6 it beat 5e-5 and 2e-5 at 63 and at 250 steps
    /// (SST-2, 3 seeds each; docs/analysis.md). The 2e-5 usually advised for BERT-base barely moves this small model
    /// in a few hundred steps. On full SST-2, one epoch at 1e-4 gave 0.899 against 0.893 for two epochs at 5e-5.
    /// </summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Fraction of all steps spent warming the learning rate up linearly from 0; then it decays linearly to 0. Default 0.1.</summary>
    public double WarmupRatio { get; init; } = 0.1;

    /// <summary>Decoupled weight decay (AdamW), not applied to biases and LayerNorm parameters. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Gradients are clipped to this global L2 norm; 0 turns clipping off. Default 1.0.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Batches whose gradients are summed before one optimizer step. Default 1.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Seeds weight initialisation, dropout and batch order; the same seed gives bit-identical results on CPU. Default 42.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// What the head reads: the mean of the tokens or the [CLS] vector. Default mean: on minilm-l6 (pre-trained with
    /// mean pooling) it beat [CLS] by 1.4 points of SST-2 dev accuracy in every one of 3 seeds (docs/analysis.md).
    /// </summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>Which pretrained parameters stay fixed. Default: none (full fine-tuning).</summary>
    public FreezeSpec Freeze { get; init; } = FreezeSpec.None;

    /// <summary>Layer-wise learning-rate decay: layer i gets lr * decay^(L - i), embeddings decay^(L+1). 1 (default) turns it off.</summary>
    public double LayerwiseLearningRateDecay { get; init; } = 1.0;

    /// <summary>
    /// Re-initialise the top K encoder layers before training (weights N(0, initializer_range), biases 0, LayerNorm
    /// 1 and 0), as if they were new: the pretraining objective may have specialised them. 0 (default) keeps every
    /// pretrained layer.
    /// </summary>
    public int ReinitializeTopLayers { get; init; }

    /// <summary>
    /// Fraction of the final optimizer steps whose weights are averaged (uniformly, after every step) into the model
    /// the run ends with, as in stochastic weight averaging. 0 (default) keeps the last step's weights. The last
    /// epoch's validation scores the averaged weights.
    /// </summary>
    public double AverageWeightsOverLast { get; init; }

    /// <summary>Optional validation data, scored after each epoch.</summary>
    public Microsoft.ML.IDataView? ValidationSet { get; init; }

    /// <summary>Stop after this many epochs without improvement on the validation set; 0 (default) never stops early.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>With a validation set, keep the weights of the best epoch rather than the last. Default true.</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>Receives progress after every optimizer step and at the end of each epoch.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Stops training at the next step boundary.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// Batches of similar length (shuffled within chunks of 50 batches, then batch order shuffled), so little compute
    /// goes to padding. Default true; false gives batches in shuffled file order (the plain loop, for benchmarks).
    /// </summary>
    public bool LengthGroupedBatches { get; init; } = true;

    /// <summary>
    /// Update only the word-embedding rows of tokens seen since the last step (a lazy AdamW on that one table: its
    /// moments and weight decay advance for those rows only), instead of all 30522 rows every step. Default true;
    /// it removes about half of the optimizer's work. False runs dense AdamW over every parameter.
    /// </summary>
    public bool SparseEmbeddingUpdates { get; init; } = true;

    /// <summary>
    /// The number format of the encoder's dense projections during training steps. <see cref="TrainingPrecision.BFloat16"/>
    /// is mixed precision: the products run in bfloat16 while the weights, the optimizer, LayerNorm, attention, the
    /// loss, validation and every export stay float32. <see cref="TrainingPrecision.Auto"/> uses bf16 where the CPU
    /// multiplies it natively (<see cref="CpuFeatures.HasNativeBFloat16"/>) and fp32 elsewhere, since emulated bf16 is
    /// slower than fp32. Default auto: on 5,000 SST-2 rows, three seeds each trained both ways, bf16 products gave the
    /// same mean accuracy within 0.1 point and 1.35-1.41x the samples per second (docs/benchmarks.md).
    /// </summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Auto;

    /// <summary>Whether training steps multiply in bf16 on this machine.</summary>
    public bool UsesBFloat16 => Precision switch
    {
        TrainingPrecision.BFloat16 => true,
        TrainingPrecision.Auto => CpuFeatures.HasNativeBFloat16,
        _ => false,
    };

    /// <summary>Save resumable state to this folder (every N steps, each epoch end, and on cancellation); resume from it when it holds a state.</summary>
    public CheckpointSettings? Checkpoints { get; init; }

    /// <summary>Torch CPU threads; null keeps TorchSharp's default (one per core).</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Teachers to distil from: run folders (their model.onnx is used when present), ensemble folders, model.zip or
    /// model.onnx files of the same task and labels. Several are averaged (<see cref="Inference.ModelEnsemble"/>).
    /// Their outputs on the training rows are computed once, before training, and cached in
    /// <see cref="TeacherCacheFile"/> when set. Empty (default): plain training. Tasks that cannot be distilled
    /// (<see cref="Tasks.TrainingTask.CanDistil"/>) refuse teachers.
    /// </summary>
    public IReadOnlyList<string> Teachers { get; init; } = [];

    /// <summary>
    /// Weight of the hard-label loss; the teacher's term gets 1 − α. Classification:
    /// α·CE(label) + (1 − α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T)); similarity: α·MSE(label) + (1 − α)·MSE(teacher's score).
    /// Default 0.5; 1 is plain training, 0 learns from the teacher alone.
    /// </summary>
    public double DistillAlpha { get; init; } = 0.5;

    /// <summary>Softening temperature T of both distributions in the classification teacher term (scaled back by T²). Default 2.</summary>
    public double DistillTemperature { get; init; } = 2.0;

    /// <summary>
    /// Extra texts without labels (the same text columns as the training data; no label column needed) that the
    /// teachers label: they join the training rows with the teacher's term only. Needs <see cref="Teachers"/>.
    /// </summary>
    public Microsoft.ML.IDataView? UnlabeledSet { get; init; }

    /// <summary>
    /// Where the teachers' outputs are cached (a run folder's <c>teacher-outputs.bin</c>): a file whose key (a hash of
    /// the teachers' files, the texts and the task) matches is read instead of running the teachers again, so a resumed
    /// run does not recompute them. Null: computed every time.
    /// </summary>
    public string? TeacherCacheFile { get; init; }

    /// <summary>
    /// An earlier distilled run's cached teacher outputs (its <c>teacher-outputs.bin</c>, or the run folder): read
    /// instead of running the teachers when they were computed by the same teachers on the same texts for the same task
    /// and labels, as for several student seeds on one dataset (the teachers' pass over full SST-2 takes minutes). A
    /// file for other teachers or texts is refused rather than silently recomputed. Null (default): not used.
    /// </summary>
    public string? TeacherOutputsFrom { get; init; }

    /// <summary>Receives one-line notes about work done before training (teacher outputs computed, or read from the cache).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>True when <see cref="Teachers"/> is not empty.</summary>
    public bool Distils => Teachers.Count > 0;

    /// <summary>Checks every option once, with messages that say what would be right.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object value, string expected)
        {
            if (!ok)
                throw new BadInputException($"option {name} = {value} is invalid: expected {expected}");
        }
        Check(MaxSequenceLength is >= 8 and <= 512, nameof(MaxSequenceLength), MaxSequenceLength, "8 to 512");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "at least 1");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "at least 1");
        Check(LearningRate > 0 && LearningRate < 1, nameof(LearningRate), LearningRate, "a positive number below 1 (typical: 2e-5 to 1e-4)");
        Check(WarmupRatio is >= 0 and < 1, nameof(WarmupRatio), WarmupRatio, "0 to 1");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "0 or more");
        Check(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "0 (off) or more");
        Check(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "at least 1");
        Check(LayerwiseLearningRateDecay is > 0 and <= 1, nameof(LayerwiseLearningRateDecay), LayerwiseLearningRateDecay, "in (0, 1]; 1 is off");
        Check(ReinitializeTopLayers >= 0, nameof(ReinitializeTopLayers), ReinitializeTopLayers, "0 (off) or more");
        Check(AverageWeightsOverLast is >= 0 and <= 1, nameof(AverageWeightsOverLast), AverageWeightsOverLast, "0 (off) to 1");
        Check(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "0 (off) or more");
        Check(Threads is null or >= 1, nameof(Threads), Threads ?? 0, "at least 1");
        Check(DistillAlpha is >= 0 and <= 1, nameof(DistillAlpha), DistillAlpha, "0 (teacher only) to 1 (labels only)");
        Check(DistillTemperature is > 0 and <= 100, nameof(DistillTemperature), DistillTemperature, "a positive number (typical: 1 to 4)");
        Check(UnlabeledSet is null || Distils, nameof(UnlabeledSet), "set", "no unlabeled data without a teacher to label it");
        Check(TeacherOutputsFrom is null || Distils, nameof(TeacherOutputsFrom), TeacherOutputsFrom ?? "", "no teacher outputs without the teachers they came from");
        Check(DocStride >= 0, nameof(DocStride), DocStride, "0 or more");
        Check(MaxAnswerLength >= 1, nameof(MaxAnswerLength), MaxAnswerLength, "at least 1");
        Check(AnswerCount >= 1, nameof(AnswerCount), AnswerCount, "at least 1");
        Check(Precision != TrainingPrecision.BFloat16 || CpuFeatures.HasNativeBFloat16, nameof(Precision), Precision.ToName(),
            $"fp32 or auto: this CPU has no native bf16 (it reports: {CpuFeatures.Summary}), where bf16 products are slower than fp32");
    }
}

/// <summary>What to freeze: nothing, the embeddings, the embeddings and the bottom k layers, or the whole encoder (head only).</summary>
public readonly record struct FreezeSpec(FreezeKind Kind, int Layers = 0)
{
    public static FreezeSpec None => new(FreezeKind.None);

    public static FreezeSpec Embeddings => new(FreezeKind.Embeddings);

    public static FreezeSpec Encoder => new(FreezeKind.Encoder);

    public static FreezeSpec Bottom(int layers) => new(FreezeKind.BottomLayers, layers);

    /// <summary>Parses none, embeddings, bottom:K, encoder (also head-only).</summary>
    public static FreezeSpec Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t is "none" or "")
            return None;
        if (t == "embeddings")
            return Embeddings;
        if (t is "encoder" or "head-only")
            return Encoder;
        if (t.StartsWith("bottom:", StringComparison.Ordinal) && int.TryParse(t["bottom:".Length..], out int k) && k >= 0)
            return Bottom(k);
        throw new BadInputException($"freeze '{text}' is not understood: expected none, embeddings, bottom:K (embeddings and the first K layers) or encoder (head only)");
    }

    /// <summary>True when the parameter (HuggingFace name under the encoder) stays fixed.</summary>
    public bool IsFrozen(string encoderParameterName)
    {
        switch (Kind)
        {
            case FreezeKind.None:
                return false;
            case FreezeKind.Encoder:
                return true;
            case FreezeKind.Embeddings:
                return BertParameterNames.IsEmbedding(encoderParameterName);
            default:
                return BertParameterNames.IsEmbedding(encoderParameterName)
                    || BertParameterNames.EncoderLayer(encoderParameterName) < Layers;
        }
    }

    public override string ToString() => Kind switch
    {
        FreezeKind.None => "none",
        FreezeKind.Embeddings => "embeddings",
        FreezeKind.Encoder => "encoder",
        _ => $"bottom:{Layers}",
    };
}

/// <summary>The number format of training's matrix products (<see cref="BertTrainingOptions.Precision"/>).</summary>
public enum TrainingPrecision
{
    /// <summary>float32 everywhere.</summary>
    Float32,

    /// <summary>bfloat16 products with float32 weights (mixed precision); needs a CPU with native bf16.</summary>
    BFloat16,

    /// <summary>bfloat16 products where the CPU has native bf16, float32 elsewhere.</summary>
    Auto,
}

/// <summary>The names of <see cref="TrainingPrecision"/> values on the command line and in run.json.</summary>
public static class TrainingPrecisionNames
{
    /// <summary><c>fp32</c>, <c>bf16</c> or <c>auto</c>.</summary>
    public static string ToName(this TrainingPrecision precision) => precision switch
    {
        TrainingPrecision.BFloat16 => "bf16",
        TrainingPrecision.Auto => "auto",
        _ => "fp32",
    };

    /// <summary>The value named <paramref name="name"/>; a clear error otherwise.</summary>
    public static TrainingPrecision Parse(string name, string what) => name switch
    {
        "fp32" => TrainingPrecision.Float32,
        "bf16" => TrainingPrecision.BFloat16,
        "auto" => TrainingPrecision.Auto,
        _ => throw new BadInputException($"{what} must be fp32, bf16 or auto, not '{name}'"),
    };
}

public enum FreezeKind
{
    None,
    Embeddings,
    BottomLayers,
    Encoder,
}

/// <summary>A snapshot of training, reported after each optimizer step and each epoch.</summary>
public sealed record TrainingProgress(
    int Epoch,
    int Epochs,
    int Step,
    int TotalSteps,
    double Loss,
    double LearningRate,
    double SamplesPerSecond,
    TimeSpan Elapsed,
    TimeSpan EstimatedRemaining,
    bool EndOfEpoch = false,
    double? ValidationMetric = null,
    string? ValidationMetricName = null);
