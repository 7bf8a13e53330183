namespace MlNetBert.Analysis;

/// <summary>One labelled sentence (or sentence pair) that both models read.</summary>
/// <param name="Text">The text, or the first text of a pair.</param>
/// <param name="Text2">The second text of a pair; null for single texts.</param>
/// <param name="Label">The gold label the probes and the cluster geometry use.</param>
public sealed record AnalysisExample(string Text, string? Text2, string Label);

/// <summary>How <see cref="FineTuningAnalysis.Run"/> samples, splits and batches the sentences.</summary>
public sealed record FineTuningAnalysisOptions
{
    /// <summary>
    /// At most this many sentences: a seeded uniform sample (in input order) when there are more. Default 1,000:
    /// the probes, CKA and the O(n²) minimum inter-label distance stay at seconds per layer on a laptop CPU.
    /// </summary>
    public int MaxSentences { get; init; } = 1000;

    /// <summary>Seed of the sample and of the probes' stratified train/test split. Default 42.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Fraction of the sentences the probes are tested on (stratified by label). Default 0.3.</summary>
    public double TestFraction { get; init; } = 0.3;

    /// <summary>Sentences per forward pass (sorted by length first, so padding stays small). Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Maximum tokens per input. Default (null): the fine-tuned model's own maximum length.</summary>
    public int? MaxLength { get; init; }

    /// <summary>How the report names the fine-tuned model (e.g. its file). Default (null): "fine-tuned &lt;checkpoint&gt;".</summary>
    public string? FineTunedName { get; init; }

    /// <summary>How the report names the data (e.g. its file). Default: "(in memory)".</summary>
    public string DataName { get; init; } = "(in memory)";

    /// <summary>Receives a line per step and per layer (null: silent).</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>Checks every value once; messages say what was wrong and what would be right.</summary>
    /// <exception cref="BadInputException">An option is out of range.</exception>
    public void Validate()
    {
        if (MaxSentences < 10)
            throw new BadInputException($"the sentence limit must be at least 10 (got {MaxSentences})");
        if (!(TestFraction > 0 && TestFraction < 1))
            throw new BadInputException($"the probe test fraction must be between 0 and 1, exclusive (got {TestFraction})");
        if (BatchSize < 1)
            throw new BadInputException($"the batch size must be at least 1 (got {BatchSize})");
        if (MaxLength is < 8 or > 512)
            throw new BadInputException($"the maximum length must be 8 to 512 tokens (got {MaxLength})");
    }
}
