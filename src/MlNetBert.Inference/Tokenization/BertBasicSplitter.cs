using System.Globalization;
using System.Text;

namespace MlNetBert.Tokenization;

/// <summary>A span of characters <c>[Start, End)</c> in an original string (UTF-16 indices, <c>End</c> exclusive).</summary>
public readonly record struct CharSpan(int Start, int End)
{
    public int Length => End - Start;
}

/// <summary>
/// BERT's basic tokenization (Hugging Face's <c>BasicTokenizer</c>) done on the original string so that every piece
/// keeps its character positions: split at whitespace, make every punctuation character (Unicode P* plus all ASCII
/// non-alphanumerics such as <c>$</c>, <c>+</c>, <c>|</c>) and every CJK ideograph a piece of its own, and drop control
/// and format characters (U+200B, U+FEFF, …) without splitting at them.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers' own pre-tokenizer keeps only <c>\w+</c> runs and Unicode punctuation, so it silently drops
/// symbols that BERT's vocabulary has (<c>$</c>, <c>+</c>, <c>£</c>, <c>|</c>); and its offsets point into the
/// normalized (lower-cased, accent-stripped, CJK-padded) text, not the caller's. Splitting here and handing each piece
/// to WordPiece without pre-tokenization avoids both.
/// </remarks>
internal static class BertBasicSplitter
{
    /// <summary>One basic piece: its span in the original text, and its characters with control characters removed.</summary>
    /// <param name="Span">From its first to its last kept character in the original text.</param>
    /// <param name="Text">Its characters, control characters removed.</param>
    /// <param name="Kept">Original index of each character of <paramref name="Text"/>; null when nothing was removed.</param>
    /// <param name="IsCjk">Whether it is one CJK ideograph.</param>
    internal sealed record Piece(CharSpan Span, string Text, int[]? Kept, bool IsCjk)
    {
        /// <summary>The original index of character <paramref name="i"/> of <see cref="Text"/>.</summary>
        public int OriginalIndex(int i) => Kept is null ? Span.Start + i : Kept[i];
    }

    public static List<Piece> Split(string text)
    {
        var pieces = new List<Piece>();
        var current = new StringBuilder();
        var kept = new List<int>();
        bool removedAny = false;
        int start = -1;

        void Flush()
        {
            if (current.Length > 0)
            {
                int end = kept[^1] + 1;
                pieces.Add(new Piece(new CharSpan(start, end), current.ToString(), removedAny ? kept.ToArray() : null, false));
            }
            current.Clear();
            kept.Clear();
            removedAny = false;
            start = -1;
        }

        for (int i = 0; i < text.Length;)
        {
            // Invalid surrogates decode as U+FFFD, which BERT removes like a control character.
            Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int width);
            if (IsWhitespace(rune))
            {
                Flush();
            }
            else if (IsRemoved(rune))
            {
                // BERT deletes these before splitting, so "x\u200By" stays one word "xy".
                if (current.Length > 0)
                    removedAny = true;
            }
            else if (IsPunctuation(rune) || IsCjk(rune))
            {
                Flush();
                pieces.Add(new Piece(new CharSpan(i, i + width), text.Substring(i, width), null, IsCjk(rune)));
            }
            else
            {
                if (start < 0)
                    start = i;
                for (int k = 0; k < width; k++)
                {
                    current.Append(text[i + k]);
                    kept.Add(i + k);
                }
            }
            i += width;
        }
        Flush();
        return pieces;
    }

    private static bool IsWhitespace(Rune r) =>
        r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    // BERT's _clean_text: NUL, U+FFFD and every "C*" category character except the whitespace ones above.
    private static bool IsRemoved(Rune r)
    {
        if (r.Value is 0 or 0xFFFD)
            return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate;
    }

    private static bool IsPunctuation(Rune r)
    {
        int c = r.Value;
        if (c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126)
            return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    // The CJK Unified Ideograph blocks BERT's tokenizer splits character by character (not Hangul or kana).
    private static bool IsCjk(Rune r)
    {
        int c = r.Value;
        return c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
    }
}
