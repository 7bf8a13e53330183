using Microsoft.ML.Tokenizers;

namespace MlNetBert.Tokenization;

/// <summary>One encoded input: token ids and token type ids, both with [CLS]/[SEP] in place.</summary>
public readonly record struct EncodedText(int[] InputIds, int[] TokenTypeIds)
{
    public int Length => InputIds.Length;
}

/// <summary>
/// A padded batch laid out row-major as ONNX Runtime and TorchSharp want it: <c>[BatchSize, SequenceLength]</c>.
/// </summary>
public sealed record EncodedBatch(long[] InputIds, long[] AttentionMask, long[] TokenTypeIds, int BatchSize, int SequenceLength)
{
    /// <summary>Number of real (not padding) tokens in the batch.</summary>
    public long RealTokens => AttentionMask.Sum();

    /// <summary>
    /// Pads rows to the longest one: ids with <paramref name="padId"/>, attention mask 1 on real tokens, token types
    /// copied. The one padding routine of the library (ONNX inference, TorchSharp training and prediction).
    /// </summary>
    public static EncodedBatch PadToLongest(IReadOnlyList<EncodedText> rows, long padId = 0)
    {
        int length = 0;
        foreach (var r in rows)
            length = Math.Max(length, r.Length);
        int n = rows.Count;
        var ids = new long[n * length];
        var mask = new long[n * length];
        var types = new long[n * length];
        if (padId != 0)
            Array.Fill(ids, padId);
        for (int row = 0; row < n; row++)
        {
            var r = rows[row];
            int offset = row * length;
            for (int t = 0; t < r.Length; t++)
            {
                ids[offset + t] = r.InputIds[t];
                mask[offset + t] = 1;
                types[offset + t] = r.TokenTypeIds[t];
            }
        }
        return new EncodedBatch(ids, mask, types, n, length);
    }
}

/// <summary>
/// BERT WordPiece encoding of single texts and text pairs (<c>[CLS] a [SEP] b [SEP]</c>, token types 0/1),
/// with truncation to a maximum length, on top of Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>.
/// Thread-safe: the underlying tokenizer is immutable.
/// </summary>
public sealed class BertTextEncoder : ITextEncoder
{
    private readonly BertTokenizer _tokenizer;

    private BertTextEncoder(BertTokenizer tokenizer, bool lowerCase)
    {
        _tokenizer = tokenizer;
        LowerCase = lowerCase;
    }

    /// <summary>Whether text is lower-cased (and accents stripped) before WordPiece, as for uncased checkpoints.</summary>
    public bool LowerCase { get; }

    public int ClsId => _tokenizer.ClassificationTokenId;

    public int SepId => _tokenizer.SeparatorTokenId;

    public int PadId => _tokenizer.PaddingTokenId;

    /// <summary>The underlying tokenizer, for code that needs sub-token offsets (<see cref="WordPieceAligner"/>).</summary>
    internal BertTokenizer Tokenizer => _tokenizer;

    /// <summary>Loads a WordPiece vocabulary (<c>vocab.txt</c>, one token a line).</summary>
    public static BertTextEncoder FromVocabFile(string vocabPath, bool lowerCase)
    {
        if (!File.Exists(vocabPath))
            throw new BadInputException($"{vocabPath}: vocabulary file not found");
        using var stream = File.OpenRead(vocabPath);
        return FromVocab(stream, lowerCase);
    }

    /// <summary>Loads a WordPiece vocabulary from a stream (for example one embedded in a model file).</summary>
    public static BertTextEncoder FromVocab(Stream vocab, bool lowerCase)
    {
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            // HuggingFace's BasicTokenizer strips accents exactly when it lower-cases (strip_accents=None).
            RemoveNonSpacingMarks = lowerCase,
            IndividuallyTokenizeCjk = true,
            ApplyBasicTokenization = true,
        };
        return new BertTextEncoder(BertTokenizer.Create(vocab, options), lowerCase);
    }

    /// <summary>Encodes one text, or a pair when <paramref name="text2"/> is given, truncated to <paramref name="maxLength"/> tokens.</summary>
    public EncodedText Encode(string text, string? text2, int maxLength)
    {
        if (maxLength < (text2 is null ? 2 : 3))
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "max length must leave room for [CLS] and [SEP]");
        var a = Tokenize(text);
        if (text2 is null)
        {
            int keep = Math.Min(a.Count, maxLength - 2);
            var ids = new int[keep + 2];
            ids[0] = ClsId;
            for (int i = 0; i < keep; i++)
                ids[i + 1] = a[i];
            ids[keep + 1] = SepId;
            return new EncodedText(ids, new int[ids.Length]);
        }

        var b = Tokenize(text2);
        // Longest-first truncation, one token at a time, as HuggingFace does for pairs.
        int lenA = a.Count, lenB = b.Count, budget = maxLength - 3;
        while (lenA + lenB > budget)
        {
            if (lenA > lenB)
                lenA--;
            else
                lenB--;
        }
        var pairIds = new int[lenA + lenB + 3];
        var types = new int[pairIds.Length];
        int p = 0;
        pairIds[p++] = ClsId;
        for (int i = 0; i < lenA; i++)
            pairIds[p++] = a[i];
        pairIds[p++] = SepId;
        for (int i = 0; i < lenB; i++)
        {
            types[p] = 1;
            pairIds[p++] = b[i];
        }
        types[p] = 1;
        pairIds[p] = SepId;
        return new EncodedText(pairIds, types);
    }

    /// <summary>Pads already-encoded rows to the longest one.</summary>
    public EncodedBatch Pad(IReadOnlyList<EncodedText> rows) => EncodedBatch.PadToLongest(rows, PadId);

    /// <summary>Encodes and pads a batch of texts (pairs where <paramref name="texts2"/> is given).</summary>
    public EncodedBatch EncodeBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2, int maxLength)
    {
        var rows = new EncodedText[texts.Count];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = Encode(texts[i], texts2?[i], maxLength);
        return Pad(rows);
    }

    private IReadOnlyList<int> Tokenize(string text) =>
        _tokenizer.EncodeToIds(text ?? string.Empty, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true);
}
