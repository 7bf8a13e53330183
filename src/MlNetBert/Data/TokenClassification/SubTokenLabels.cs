using MlNetBert.Tokenization;

namespace MlNetBert.Data.TokenClassification;

/// <summary>
/// Training labels per model input position, the Hugging Face way: a word's label sits on its first sub-token; its
/// other sub-tokens, [CLS] and [SEP] get <see cref="Ignored"/>, which the loss skips. With
/// <c>labelAllSubTokens</c> the other sub-tokens are labelled too, <c>B-X</c> becoming <c>I-X</c> (the word is still
/// predicted from its first sub-token).
/// </summary>
public static class SubTokenLabels
{
    /// <summary>The label of positions the loss ignores (PyTorch's <c>ignore_index</c> default).</summary>
    public const int Ignored = -100;

    /// <summary>Labels for every input of <paramref name="windows"/>: one array per input, as long as the input.</summary>
    /// <param name="windows">The sentence's model inputs.</param>
    /// <param name="wordLabels">One label index per word.</param>
    /// <param name="labelAllSubTokens">Label every sub-token instead of only the first of each word.</param>
    /// <param name="continuationLabels">With <paramref name="labelAllSubTokens"/>: the label of a later sub-token for each word label (<see cref="EntityTags.ContinuationLabels"/>).</param>
    /// <example>
    /// <code>
    /// // "EU rejects Germany's call", labels B-ORG O B-LOC O; "germany's" is germany ' s
    /// // → [-100, B-ORG, O, B-LOC, -100, -100, O, -100]                      (first sub-token only)
    /// // → [-100, B-ORG, O, B-LOC, I-LOC, I-LOC, O, -100]                    (labelAllSubTokens)
    /// </code>
    /// </example>
    public static int[][] ForInputs(WordWindows windows, IReadOnlyList<int> wordLabels, bool labelAllSubTokens = false, IReadOnlyList<int>? continuationLabels = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(wordLabels);
        var alignment = windows.Alignment;
        if (wordLabels.Count != alignment.WordCount)
            throw new ArgumentException($"{wordLabels.Count} labels for {alignment.WordCount} words", nameof(wordLabels));
        if (labelAllSubTokens && continuationLabels is null)
            throw new ArgumentException("labelling every sub-token needs the continuation labels (B-X → I-X)", nameof(continuationLabels));

        var result = new int[windows.Inputs.Length][];
        for (int w = 0; w < windows.Inputs.Length; w++)
        {
            var labels = new int[windows.Inputs[w].Length];
            Array.Fill(labels, Ignored);
            var window = windows.Windows[w];
            for (int i = 0; i < window.Length; i++)
            {
                int token = window.Start + i;
                int label = wordLabels[alignment.WordOfToken[token]];
                if (alignment.IsFirstOfWord(token))
                    labels[i + WordWindows.ContentOffset] = label;
                else if (labelAllSubTokens)
                    labels[i + WordWindows.ContentOffset] = continuationLabels![label];
            }
            result[w] = labels;
        }
        return result;
    }
}
