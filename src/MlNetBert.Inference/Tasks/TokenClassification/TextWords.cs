namespace MlNetBert.Inference;

/// <summary>One word of a raw input text and where it is.</summary>
/// <param name="Text">The word's characters.</param>
/// <param name="Start">Offset of its first character in the input (UTF-16).</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="StartsSpaceWord">
/// Whether it is the first word of a whitespace-separated piece of the input: ML.NET's convention (one label per
/// space-separated word) and labelled files read predictions from these words only.
/// </param>
public readonly record struct TextWord(string Text, int Start, int End, bool StartsSpaceWord);

/// <summary>
/// Splits raw text into words the way CoNLL-style training data is split, so that "John lives in Berlin." has the
/// words John, lives, in, Berlin and "." and the entity is "Berlin", not "Berlin.".
/// </summary>
/// <remarks>
/// <para>The rules: split at whitespace; a piece made only of punctuation stays one word ("...", "--", "(");
/// otherwise punctuation at the start and at the end of a piece becomes words of one character each, except a final
/// period after an abbreviation or initial (the rest holds a period, or is one letter: "U.S.", "e.g.", "J."); a final
/// "'s" is a word of its own ("Germany 's", as CoNLL-2003 writes it); punctuation inside a piece stays ("Lion-Nathan",
/// "3.5", "don't").</para>
/// <para>Why the rules cannot hurt the model: BERT splits every punctuation character off before WordPiece anyway, so
/// these words give exactly the sub-tokens of the whole text, and each whitespace-separated piece starts with the same
/// sub-token however it is cut. A piece's prediction is therefore the same as when the text is read as space-separated
/// words (what training and <c>evaluate</c> do); the rules only choose where entities may end.</para>
/// </remarks>
public static class TextWords
{
    /// <summary>The words of <paramref name="text"/>, in order.</summary>
    public static IReadOnlyList<TextWord> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<TextWord>();
        for (int i = 0; i < text.Length;)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }
            int end = i;
            while (end < text.Length && !char.IsWhiteSpace(text[end]))
                end++;
            SplitPiece(text, i, end, words);
            i = end;
        }
        return words;
    }

    private static void SplitPiece(string text, int start, int end, List<TextWord> into)
    {
        int first = into.Count;
        void Add(int s, int e) => into.Add(new TextWord(text[s..e], s, e, into.Count == first));

        bool allPunctuation = true;
        for (int k = start; k < end && allPunctuation; k++)
            allPunctuation = char.IsPunctuation(text[k]);
        if (allPunctuation)
        {
            Add(start, end);
            return;
        }

        while (char.IsPunctuation(text[start]))
        {
            Add(start, start + 1);
            start++;
        }
        // Peeled from the end, so collected backwards.
        var trailing = new List<(int Start, int End)>();
        bool possessive = false;
        while (end > start)
        {
            char last = text[end - 1];
            if (char.IsPunctuation(last))
            {
                if (last == '.' && IsAbbreviation(text.AsSpan(start, end - 1 - start)))
                    break;
                trailing.Add((end - 1, end));
                end--;
                continue;
            }
            if (!possessive && last is ('s' or 'S') && end - start >= 3 && text[end - 2] is ('\'' or '\u2019'))
            {
                possessive = true;
                trailing.Add((end - 2, end));
                end -= 2;
                continue;
            }
            break;
        }
        if (end > start)
            Add(start, end);
        for (int k = trailing.Count - 1; k >= 0; k--)
            Add(trailing[k].Start, trailing[k].End);
    }

    private static bool IsAbbreviation(ReadOnlySpan<char> beforePeriod) =>
        beforePeriod.Contains('.') || (beforePeriod.Length == 1 && char.IsLetter(beforePeriod[0]));
}
