namespace MlNetBert.Tokenization;

/// <summary>How a question and its context become model inputs. Defaults are BERT's reference SQuAD settings.</summary>
public sealed record QuestionAnswerEncodingOptions
{
    /// <summary>Tokens per input, [CLS] and both [SEP] included. Default: 384.</summary>
    public int MaxLength { get; init; } = 384;

    /// <summary>Context tokens that consecutive windows share (Hugging Face's <c>doc_stride</c>). Default: 128.</summary>
    public int Stride { get; init; } = 128;

    /// <summary>Question tokens kept; the rest are cut, so a long question cannot crowd out the context. Default: 64.</summary>
    public int MaxQuestionTokens { get; init; } = 64;
}

/// <summary>
/// A question and its context as model inputs: <c>[CLS] question [SEP] context-window [SEP]</c>, one per window over
/// the context's sub-tokens, token types 0 up to the first [SEP] and 1 after it; plus the character span of every
/// context sub-token in the original context, so that answers are cut from the caller's string.
/// </summary>
/// <param name="Context">The context exactly as given.</param>
/// <param name="ContextTokens">The context's sub-tokens, with spans into <paramref name="Context"/>.</param>
/// <param name="QuestionTokenCount">Question sub-tokens in every input (after truncation).</param>
/// <param name="Windows">The windows over <paramref name="ContextTokens"/>, one per input.</param>
/// <param name="Inputs">The model inputs, one per window.</param>
public sealed record QuestionAnswerEncoding(
    string Context, SubToken[] ContextTokens, int QuestionTokenCount, TokenWindow[] Windows, EncodedText[] Inputs)
{
    /// <summary>Position in every input of its window's first context token: after [CLS], the question and [SEP].</summary>
    public int ContextOffset => QuestionTokenCount + 2;

    /// <summary>Encodes one question and context.</summary>
    /// <exception cref="ArgumentException">The question or the context has no tokens, or the options leave no room for context.</exception>
    public static QuestionAnswerEncoding Create(WordPieceAligner aligner, string question, string context, QuestionAnswerEncodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(aligner);
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(context);
        options ??= new QuestionAnswerEncodingOptions();
        var questionTokens = aligner.Tokenize(question);
        if (questionTokens.Count == 0)
            throw new ArgumentException("the question has no tokens", nameof(question));
        var contextTokens = aligner.Tokenize(context).ToArray();
        if (contextTokens.Length == 0)
            throw new ArgumentException("the context has no tokens", nameof(context));

        int q = Math.Min(questionTokens.Count, options.MaxQuestionTokens);
        int perWindow = options.MaxLength - q - 3;
        if (perWindow <= options.Stride)
        {
            throw new ArgumentException(
                $"max length {options.MaxLength} leaves {perWindow} context tokens per window after a {q}-token question; it must leave more than the stride {options.Stride}",
                nameof(options));
        }
        var windows = SlidingWindows.Plan(contextTokens.Length, perWindow, options.Stride);
        var inputs = new EncodedText[windows.Length];
        for (int w = 0; w < windows.Length; w++)
        {
            var window = windows[w];
            var ids = new int[q + window.Length + 3];
            var types = new int[ids.Length];
            int p = 0;
            ids[p++] = aligner.ClsId;
            for (int i = 0; i < q; i++)
                ids[p++] = questionTokens[i].Id;
            ids[p++] = aligner.SepId;
            for (int i = 0; i < window.Length; i++)
            {
                types[p] = 1;
                ids[p++] = contextTokens[window.Start + i].Id;
            }
            types[p] = 1;
            ids[p] = aligner.SepId;
            inputs[w] = new EncodedText(ids, types);
        }
        return new QuestionAnswerEncoding(context, contextTokens, q, windows, inputs);
    }

    /// <summary>
    /// The context tokens covering characters <c>[start, end)</c>: the first token that ends after
    /// <paramref name="start"/> through the last token that begins before <paramref name="end"/>. False when no token
    /// overlaps the span (it holds only whitespace or ignored characters).
    /// </summary>
    public bool TryFindTokens(int start, int end, out int firstToken, out int lastToken)
    {
        firstToken = -1;
        lastToken = -1;
        for (int t = 0; t < ContextTokens.Length; t++)
        {
            var span = ContextTokens[t].Span;
            if (span.End > start && span.Start < end)
            {
                if (firstToken < 0)
                    firstToken = t;
                lastToken = t;
            }
        }
        return firstToken >= 0;
    }

    /// <summary>The characters of the context from context token <paramref name="firstToken"/> through <paramref name="lastToken"/>.</summary>
    public CharSpan SpanOf(int firstToken, int lastToken) =>
        new(ContextTokens[firstToken].Span.Start, ContextTokens[lastToken].Span.End);
}
