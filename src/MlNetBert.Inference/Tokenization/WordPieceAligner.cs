using System.Text;
using Microsoft.ML.Tokenizers;

namespace MlNetBert.Tokenization;

/// <summary>One WordPiece sub-token: its vocabulary id and the characters of the original text it stands for.</summary>
public readonly record struct SubToken(int Id, CharSpan Span);

/// <summary>
/// A sentence given as words, encoded to sub-tokens (no special tokens) with the word each sub-token belongs to.
/// Every word has at least one sub-token, so every word has a first sub-token to carry its label and its prediction.
/// </summary>
/// <param name="Ids">Sub-token ids of the whole sentence, words in order.</param>
/// <param name="WordOfToken">For each sub-token, the index of its word.</param>
/// <param name="FirstToken">For each word, the index in <paramref name="Ids"/> of its first sub-token.</param>
/// <param name="TokenCount">For each word, how many sub-tokens it has (at least 1).</param>
public sealed record WordAlignment(int[] Ids, int[] WordOfToken, int[] FirstToken, int[] TokenCount)
{
    public int WordCount => FirstToken.Length;

    /// <summary>Whether sub-token <paramref name="token"/> is the first of its word (the one that carries the label).</summary>
    public bool IsFirstOfWord(int token) => FirstToken[WordOfToken[token]] == token;
}

/// <summary>
/// WordPiece tokenization that keeps track of where each sub-token came from: character offsets into the original
/// text (for question answering: answers are cut from the caller's string, never re-joined from tokens) and the word
/// each sub-token belongs to (for token classification: a word's label sits on its first sub-token).
/// Uses the vocabulary, casing and accent handling of a <see cref="BertTextEncoder"/>.
/// </summary>
/// <remarks>
/// Text is split as Hugging Face's BERT tokenizer splits it (see <see cref="BertBasicSplitter"/>), then each piece is
/// normalized and cut into WordPieces by Microsoft.ML.Tokenizers. Offsets come from the tokenizer's own
/// <see cref="EncodedToken.Offset"/>, which points into the normalized piece; where normalization changed the length
/// (a decomposed accent removed, a CJK character padded with spaces) it is mapped back one character at a time.
/// Thread-safe.
/// </remarks>
/// <example>
/// <code>
/// var aligner = new WordPieceAligner(checkpoint.CreateEncoder());
/// var words = aligner.AlignWords(["EU", "rejects", "German", "call"]);
/// int firstOfGerman = words.FirstToken[2];
/// foreach (var t in aligner.Tokenize("Beyoncé's 1998 début")) Console.WriteLine(text[t.Span.Start..t.Span.End]);
/// </code>
/// </example>
public sealed class WordPieceAligner
{
    private readonly BertTokenizer _tokenizer;

    public WordPieceAligner(BertTextEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        _tokenizer = encoder.Tokenizer;
    }

    public int ClsId => _tokenizer.ClassificationTokenId;

    public int SepId => _tokenizer.SeparatorTokenId;

    public int UnknownId => _tokenizer.UnknownTokenId;

    /// <summary>Sub-tokens of <paramref name="text"/> with their spans in it. Characters BERT ignores (whitespace, control characters) belong to no sub-token.</summary>
    public IReadOnlyList<SubToken> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<SubToken>();
        foreach (var piece in BertBasicSplitter.Split(text))
            AddPiece(piece, tokens);
        return tokens;
    }

    /// <summary>
    /// Encodes a sentence given as words (as Hugging Face's <c>is_split_into_words</c>: each word is tokenized on its own,
    /// so "U.S." is still one word of four sub-tokens).
    /// </summary>
    /// <remarks>
    /// A word that yields no sub-token at all (only control or format characters, such as a lone U+200B) becomes one
    /// <c>[UNK]</c>: the word keeps a position of its own, so it is trained on its own label and gets its own prediction,
    /// instead of borrowing its neighbour's (which would also make a word at the start of a sentence impossible to place).
    /// </remarks>
    public WordAlignment AlignWords(IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        var ids = new List<int>();
        var wordOf = new List<int>();
        var first = new int[words.Count];
        var count = new int[words.Count];
        var scratch = new List<SubToken>();
        for (int w = 0; w < words.Count; w++)
        {
            scratch.Clear();
            foreach (var piece in BertBasicSplitter.Split(words[w] ?? string.Empty))
                AddPiece(piece, scratch);
            first[w] = ids.Count;
            if (scratch.Count == 0)
            {
                ids.Add(UnknownId);
                wordOf.Add(w);
            }
            foreach (var t in scratch)
            {
                ids.Add(t.Id);
                wordOf.Add(w);
            }
            count[w] = ids.Count - first[w];
        }
        return new WordAlignment(ids.ToArray(), wordOf.ToArray(), first, count);
    }

    private void AddPiece(BertBasicSplitter.Piece piece, List<SubToken> into)
    {
        // WordPiece runs on the whole piece (as BERT does), not on ML.Tokenizers' \w+ runs, which would drop symbols. A
        // CJK character is the exception: the normalizer pads it with spaces, which only the pre-tokenizer removes.
        var tokens = _tokenizer.EncodeToTokens(
            piece.Text, out string? normalized, considerPreTokenization: piece.IsCjk, considerNormalization: true);
        if (tokens.Count == 0)
            return;
        normalized ??= piece.Text;
        var map = normalized.Length == piece.Text.Length ? null : NormalizedToPieceChars(piece.Text, normalized);
        foreach (var token in tokens)
        {
            var (offset, length) = token.Offset.GetOffsetAndLength(normalized.Length);
            CharSpan span;
            if (length == 0 || map is { Starts.Length: 0 })
            {
                // No characters to map (or a normalization that did not add up, never seen): the whole piece.
                span = piece.Span;
            }
            else if (map is null)
            {
                span = new CharSpan(piece.OriginalIndex(offset), piece.OriginalIndex(offset + length - 1) + 1);
            }
            else
            {
                span = new CharSpan(piece.OriginalIndex(map.Value.Starts[offset]), piece.OriginalIndex(map.Value.Ends[offset + length - 1] - 1) + 1);
            }
            into.Add(new SubToken(token.Id, span));
        }
    }

    // Maps each normalized character to the piece characters [start, end) it came from, by normalizing one character
    // (rune) at a time. Lower-casing and accent stripping act on single characters, so the parts add up to the whole;
    // if they ever do not, empty arrays say so.
    private (int[] Starts, int[] Ends)? NormalizedToPieceChars(string pieceText, string normalized)
    {
        var starts = new List<int>(normalized.Length);
        var ends = new List<int>(normalized.Length);
        var rebuilt = new StringBuilder(normalized.Length);
        var normalizer = _tokenizer.Normalizer;
        for (int i = 0; i < pieceText.Length;)
        {
            Rune.DecodeFromUtf16(pieceText.AsSpan(i), out _, out int width);
            string original = pieceText.Substring(i, width);
            string part = normalizer?.Normalize(original) ?? original;
            rebuilt.Append(part);
            // A character that normalizes to nothing (a combining accent) belongs to the character before it, so that
            // a sub-token ending in "e" of "e\u0301" still covers the accent when an answer is cut from the original.
            if (part.Length == 0 && ends.Count > 0)
                ends[^1] = i + width;
            for (int k = 0; k < part.Length; k++)
            {
                // Same length: character for character; otherwise every output character stands for the whole rune.
                starts.Add(part.Length == width ? i + k : i);
                ends.Add(part.Length == width ? i + k + 1 : i + width);
            }
            i += width;
        }
        return rebuilt.ToString() == normalized ? (starts.ToArray(), ends.ToArray()) : ([], []);
    }
}
