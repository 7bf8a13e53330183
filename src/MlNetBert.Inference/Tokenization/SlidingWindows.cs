namespace MlNetBert.Tokenization;

/// <summary>A window over a token sequence: tokens <c>[Start, Start + Length)</c>.</summary>
public readonly record struct TokenWindow(int Start, int Length)
{
    public int End => Start + Length;

    public bool Contains(int token) => token >= Start && token < End;
}

/// <summary>
/// Overlapping windows over a sequence too long for one model input, the one windowing rule of the library: question
/// answering slides them over the context, token classification over a long sentence.
/// </summary>
/// <remarks>
/// The stride means what Hugging Face's <c>doc_stride</c> means: the number of tokens two consecutive
/// windows share. Every window but the last holds exactly the maximum number of tokens; the last one ends at the last
/// token and may be shorter. With 1,000 tokens, 381 per window and stride 128: windows start at 0, 253, 506 and 759.
/// </remarks>
public static class SlidingWindows
{
    /// <summary>Plans the windows over <paramref name="tokenCount"/> tokens. An empty sequence gets one empty window, so there is always at least one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">maxTokens is below 1, or stride is negative or not below maxTokens.</exception>
    public static TokenWindow[] Plan(int tokenCount, int maxTokens, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokenCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(stride);
        if (stride >= maxTokens)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"the stride (tokens shared by consecutive windows) must be below the window size {maxTokens}");

        var windows = new List<TokenWindow>();
        int step = maxTokens - stride;
        for (int start = 0; ; start += step)
        {
            int length = Math.Min(maxTokens, tokenCount - start);
            windows.Add(new TokenWindow(start, length));
            if (start + length >= tokenCount)
                break;
        }
        return windows.ToArray();
    }

    /// <summary>
    /// For each token, the window where it has the most context: the largest <c>min(tokens before it, tokens after it)</c>
    /// inside the window. Ties go to the longer window, then to the earlier one, as in BERT's reference SQuAD code
    /// (<c>_check_is_max_context</c>). A word is read from the window chosen for its first sub-token.
    /// </summary>
    /// <exception cref="ArgumentException">Some token lies in no window.</exception>
    public static int[] MostContextWindow(IReadOnlyList<TokenWindow> windows, int tokenCount)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var best = new int[tokenCount];
        for (int t = 0; t < tokenCount; t++)
        {
            int chosen = -1, chosenScore = -1, chosenLength = -1;
            for (int w = 0; w < windows.Count; w++)
            {
                var window = windows[w];
                if (!window.Contains(t))
                    continue;
                int score = Math.Min(t - window.Start, window.End - 1 - t);
                if (score > chosenScore || (score == chosenScore && window.Length > chosenLength))
                    (chosen, chosenScore, chosenLength) = (w, score, window.Length);
            }
            if (chosen < 0)
                throw new ArgumentException($"token {t} lies in no window", nameof(windows));
            best[t] = chosen;
        }
        return best;
    }
}
