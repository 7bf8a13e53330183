namespace MlNetBert.Tokenization;

/// <summary>
/// A sentence of words as token-classification model inputs: one <c>[CLS] sub-tokens [SEP]</c> input per window, and
/// for each word the input and position its prediction is read from (its first sub-token, in the window where that
/// sub-token has the most context). A short sentence is one window.
/// </summary>
/// <param name="Alignment">The sentence's sub-tokens and their words.</param>
/// <param name="Windows">The windows over <see cref="WordAlignment.Ids"/>.</param>
/// <param name="Inputs">One model input per window: <c>[CLS]</c>, the window's sub-tokens, <c>[SEP]</c>; token types 0.</param>
/// <param name="WordWindow">For each word, the window its prediction is read from.</param>
/// <param name="WordPosition">For each word, the position of its first sub-token in <c>Inputs[WordWindow[w]]</c> (1 or more: [CLS] is 0).</param>
public sealed record WordWindows(
    WordAlignment Alignment, TokenWindow[] Windows, EncodedText[] Inputs, int[] WordWindow, int[] WordPosition)
{
    /// <summary>Position of every input's first sub-token (after [CLS]).</summary>
    public const int ContentOffset = 1;

    /// <summary>
    /// Lays out <paramref name="alignment"/> in windows of at most <paramref name="maxLength"/> tokens including [CLS]
    /// and [SEP], consecutive windows sharing <paramref name="stride"/> sub-tokens.
    /// </summary>
    public static WordWindows Create(WordAlignment alignment, int maxLength, int stride, int clsId, int sepId)
    {
        ArgumentNullException.ThrowIfNull(alignment);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 3);
        var windows = SlidingWindows.Plan(alignment.Ids.Length, maxLength - 2, stride);
        var inputs = new EncodedText[windows.Length];
        for (int w = 0; w < windows.Length; w++)
        {
            var ids = new int[windows[w].Length + 2];
            ids[0] = clsId;
            Array.Copy(alignment.Ids, windows[w].Start, ids, ContentOffset, windows[w].Length);
            ids[^1] = sepId;
            inputs[w] = new EncodedText(ids, new int[ids.Length]);
        }

        var bestForToken = SlidingWindows.MostContextWindow(windows, alignment.Ids.Length);
        var wordWindow = new int[alignment.WordCount];
        var wordPosition = new int[alignment.WordCount];
        for (int word = 0; word < alignment.WordCount; word++)
        {
            int token = alignment.FirstToken[word];
            wordWindow[word] = bestForToken[token];
            wordPosition[word] = token - windows[wordWindow[word]].Start + ContentOffset;
        }
        return new WordWindows(alignment, windows, inputs, wordWindow, wordPosition);
    }
}
