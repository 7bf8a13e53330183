namespace MlNetBert.Tokenization;

/// <summary>An answer cut from the context: <c>Context[Start..End]</c> (<c>End</c> exclusive) and its probability among the candidates.</summary>
public sealed record AnswerSpan(string Text, int Start, int End, float Score);

/// <summary>How start/end logits become answers. Defaults are Hugging Face's <c>run_qa</c> settings.</summary>
public sealed record AnswerSearchOptions
{
    /// <summary>Best start positions and best end positions tried in each window (n × n pairs). Default: 20.</summary>
    public int NBest { get; init; } = 20;

    /// <summary>Longest answer, in sub-tokens. Default: 30.</summary>
    public int MaxAnswerTokens { get; init; } = 30;

    /// <summary>Answers returned, best first. Default: 20.</summary>
    public int TopK { get; init; } = 20;
}

/// <summary>
/// The span search of extractive question answering, as a pure function of the logits: in every window, the
/// <see cref="AnswerSearchOptions.NBest"/> best start positions × the best end positions; a pair is kept when both lie
/// in the window's context, end ≥ start, and it spans at most <see cref="AnswerSearchOptions.MaxAnswerTokens"/> tokens;
/// its score is start logit + end logit. The same character span found in two windows counts once, with its better
/// score. <see cref="AnswerSpan.Score"/> is the softmax of the scores over all kept candidates, so it is a probability,
/// not a raw logit. The text is cut from the original context by character offsets.
/// </summary>
/// <example>
/// <code>
/// var encoding = QuestionAnswerEncoding.Create(aligner, question, context);
/// // run the model on encoding.Inputs, one start and one end logit row per input
/// var best = AnswerSpanSearch.Find(encoding, startLogits, endLogits, new AnswerSearchOptions())[0];
/// </code>
/// </example>
public static class AnswerSpanSearch
{
    /// <summary>Finds the best answers; empty when no pair passes the filters.</summary>
    /// <param name="encoding">The inputs the logits belong to (windows, context token spans, the context).</param>
    /// <param name="startLogits">One row per input; a row may be longer than its input (padding), never shorter.</param>
    /// <param name="endLogits">One row per input, as <paramref name="startLogits"/>.</param>
    /// <param name="options">Search settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The rows do not match the inputs.</exception>
    public static IReadOnlyList<AnswerSpan> Find(
        QuestionAnswerEncoding encoding,
        IReadOnlyList<ReadOnlyMemory<float>> startLogits,
        IReadOnlyList<ReadOnlyMemory<float>> endLogits,
        AnswerSearchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        ArgumentNullException.ThrowIfNull(startLogits);
        ArgumentNullException.ThrowIfNull(endLogits);
        options ??= new AnswerSearchOptions();
        if (startLogits.Count != encoding.Inputs.Length || endLogits.Count != encoding.Inputs.Length)
        {
            throw new ArgumentException(
                $"expected {encoding.Inputs.Length} rows of start and end logits (one per window), got {startLogits.Count} and {endLogits.Count}");
        }

        var best = new Dictionary<CharSpan, float>();
        int offset = encoding.ContextOffset;
        for (int w = 0; w < encoding.Inputs.Length; w++)
        {
            int length = encoding.Inputs[w].Length;
            var start = startLogits[w].Span;
            var end = endLogits[w].Span;
            if (start.Length < length || end.Length < length)
                throw new ArgumentException($"window {w}: logits rows have {start.Length} and {end.Length} values, the input has {length} tokens");
            var window = encoding.Windows[w];
            // Positions over the whole input, [CLS] and question included, as Hugging Face ranks them; the filters below
            // drop the ones outside the context.
            foreach (int s in TopPositions(start[..length], options.NBest))
            {
                foreach (int e in TopPositions(end[..length], options.NBest))
                {
                    if (s < offset || e < offset || s >= offset + window.Length || e >= offset + window.Length)
                        continue;
                    if (e < s || e - s + 1 > options.MaxAnswerTokens)
                        continue;
                    var span = encoding.SpanOf(window.Start + s - offset, window.Start + e - offset);
                    float score = start[s] + end[e];
                    if (!best.TryGetValue(span, out float previous) || score > previous)
                        best[span] = score;
                }
            }
        }
        if (best.Count == 0)
            return [];

        float max = best.Values.Max();
        double total = best.Values.Sum(v => Math.Exp(v - max));
        return best
            .OrderByDescending(kv => kv.Value)
            .ThenBy(kv => kv.Key.Start)
            .ThenBy(kv => kv.Key.End)
            .Take(options.TopK)
            .Select(kv => new AnswerSpan(
                encoding.Context[kv.Key.Start..kv.Key.End], kv.Key.Start, kv.Key.End, (float)(Math.Exp(kv.Value - max) / total)))
            .ToArray();
    }

    // Indices of the n largest values, largest first (ties: lower index first).
    private static int[] TopPositions(ReadOnlySpan<float> values, int n)
    {
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        var keys = values.ToArray();
        Array.Sort(order, (a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        return order.Length <= n ? order : order[..n];
    }
}
