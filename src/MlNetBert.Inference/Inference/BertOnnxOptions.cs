namespace MlNetBert.Inference;

/// <summary>How <see cref="BertOnnxModel.Load"/> sets up ONNX Runtime. Every property has a working default.</summary>
public sealed record BertOnnxOptions
{
    /// <summary>
    /// ONNX Runtime graph optimizers turned off in CPU sessions (the value of the session config entry
    /// <c>optimization.disable_specified_optimizers</c>): <c>SkipLayerNormFusion</c>, because ONNX Runtime 1.31's CPU
    /// kernel for the fused SkipLayerNormalization measured about twice as slow as the Add + LayerNormalization it
    /// replaces. CUDA sessions keep it.
    /// </summary>
    public const string CpuDisabledOptimizers = "SkipLayerNormFusion";

    /// <summary>The ONNX Runtime session config key that <see cref="CpuDisabledOptimizers"/> is written to.</summary>
    public const string DisabledOptimizersConfigKey = "optimization.disable_specified_optimizers";

    /// <summary>Threads one inference may use; null (the default) lets ONNX Runtime choose (one per physical core).</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>
    /// Execution provider: <c>"cpu"</c> (default) or <c>"cuda"</c>. CUDA needs the Microsoft.ML.OnnxRuntime.Gpu package
    /// and matching CUDA/cuDNN libraries; when they are missing the model runs on CPU and <see cref="Log"/> says why,
    /// unless <see cref="RequireCuda"/> is set.
    /// </summary>
    public string Provider { get; init; } = "cpu";

    /// <summary>CUDA device ordinal (default 0); ignored on CPU.</summary>
    public int DeviceId { get; init; }

    /// <summary>Fail instead of falling back to CPU when CUDA cannot be used (default false).</summary>
    public bool RequireCuda { get; init; }

    /// <summary>Receives one line when the requested provider could not be used (default: nowhere).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Provider is not ("cpu" or "cuda"))
            throw new ArgumentException($"Provider '{Provider}' is not supported (expected \"cpu\" or \"cuda\")", nameof(Provider));
        if (IntraOpThreads is <= 0)
            throw new ArgumentException($"IntraOpThreads = {IntraOpThreads} (expected a positive number, or null for ONNX Runtime's default)", nameof(IntraOpThreads));
        if (DeviceId < 0)
            throw new ArgumentException($"DeviceId = {DeviceId} (expected 0 or more)", nameof(DeviceId));
        if (RequireCuda && Provider != "cuda")
            throw new ArgumentException("RequireCuda is set but Provider is not \"cuda\"", nameof(RequireCuda));
    }
}

/// <summary>
/// One prediction. Classification fills <see cref="Label"/>, <see cref="Probabilities"/> and <see cref="Logits"/>
/// (one entry per label, in the model's label order); similarity fills <see cref="Score"/> only; token classification
/// fills <see cref="Words"/> and <see cref="Entities"/> only; question answering fills <see cref="Answers"/> only; sentence embedding fills <see cref="Embedding"/> only.
/// </summary>
public sealed record Prediction(string? Label, float[]? Probabilities, float[]? Logits, float? Score)
{
    /// <summary>Token classification: every word of the input with its predicted tag, in order; null for other tasks.</summary>
    public IReadOnlyList<WordPrediction>? Words { get; init; }

    /// <summary>Token classification: the entities the tags make, in order; null for other tasks.</summary>
    public IReadOnlyList<Entity>? Entities { get; init; }

    /// <summary>Question answering: the best answer spans of the context, most likely first; null for other tasks.</summary>
    public IReadOnlyList<Answer>? Answers { get; init; }

    /// <summary>Sentence embedding: the text's vector (L2-normalised when the card says so); null for other tasks.</summary>
    public float[]? Embedding { get; init; }
}
