namespace MlNetBert.Triton;

/// <summary>Where Triton runs the model's instances.</summary>
public enum TritonInstanceKind
{
    /// <summary><c>KIND_CPU</c>.</summary>
    Cpu,

    /// <summary><c>KIND_GPU</c> (needs Triton's ONNX Runtime backend with CUDA).</summary>
    Gpu,
}

/// <summary>The serving settings <see cref="TritonRepository.Write"/> puts in <c>config.pbtxt</c>. Every property has a working default.</summary>
public sealed record TritonOptions
{
    /// <summary>Largest batch Triton forms (default 32); the model's batch dimension is dynamic, so any size works.</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// Batch sizes the dynamic batcher prefers to form; null (default) means a quarter, half and all of
    /// <see cref="MaxBatchSize"/> (8, 16, 32 for the default), each at least 1.
    /// </summary>
    public IReadOnlyList<int>? PreferredBatchSizes { get; init; }

    /// <summary>How long the dynamic batcher holds a request to batch it with others, in microseconds (default 5000 = 5 ms, as <c>mlnetbert serve</c>).</summary>
    public int MaxQueueDelayMicroseconds { get; init; } = 5000;

    /// <summary>CPU (default) or GPU instances.</summary>
    public TritonInstanceKind InstanceKind { get; init; } = TritonInstanceKind.Cpu;

    /// <summary>Model instances Triton runs side by side (default 1).</summary>
    public int InstanceCount { get; init; } = 1;

    /// <summary>The preferred batch sizes in effect, ascending and distinct.</summary>
    public IReadOnlyList<int> EffectivePreferredBatchSizes() =>
        (PreferredBatchSizes ?? [MaxBatchSize / 4, MaxBatchSize / 2, MaxBatchSize]).Where(n => n >= 1).Distinct().Order().ToList();

    /// <summary>Throws <see cref="BadInputException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxBatchSize < 1 || MaxBatchSize > 65536)
            throw new BadInputException($"option MaxBatchSize = {MaxBatchSize} is invalid: expected 1 to 65536");
        if (PreferredBatchSizes is { } sizes && (sizes.Count == 0 || sizes.Any(s => s < 1 || s > MaxBatchSize)))
            throw new BadInputException($"option PreferredBatchSizes = [{string.Join(", ", sizes)}] is invalid: expected one or more sizes from 1 to MaxBatchSize ({MaxBatchSize})");
        if (MaxQueueDelayMicroseconds < 0)
            throw new BadInputException($"option MaxQueueDelayMicroseconds = {MaxQueueDelayMicroseconds} is invalid: expected 0 or more");
        if (!Enum.IsDefined(InstanceKind))
            throw new BadInputException($"option InstanceKind = {InstanceKind} is invalid: expected Cpu or Gpu");
        if (InstanceCount < 1 || InstanceCount > 64)
            throw new BadInputException($"option InstanceCount = {InstanceCount} is invalid: expected 1 to 64");
    }
}
