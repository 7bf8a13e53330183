namespace MlNetBert.Data.TokenClassification;

/// <summary>How entity tags mark where an entity begins.</summary>
public enum TagScheme
{
    /// <summary>Decide from the data (see <see cref="EntityTags.DetectScheme"/>).</summary>
    Auto,

    /// <summary>
    /// IOB1 (CoNLL-2003): every word of an entity is <c>I-X</c>; <c>B-X</c> only starts an entity that directly follows
    /// another entity of the same type.
    /// </summary>
    Iob1,

    /// <summary>BIO, also called IOB2 (WNUT-17, what BERT token classifiers train on): every entity starts with <c>B-X</c>.</summary>
    Bio,
}

/// <summary>Entity tags <c>O</c>, <c>B-TYPE</c> and <c>I-TYPE</c>: parsing, IOB1 → BIO conversion, scheme detection, label lists.</summary>
public static class EntityTags
{
    /// <summary>The tag of words outside any entity.</summary>
    public const string Outside = "O";

    /// <summary>
    /// Splits a tag into its prefix ('B', 'I', or 'O' for <c>O</c>) and entity type. The split is at the first hyphen only,
    /// so WNUT-17's <c>B-creative-work</c> has type <c>creative-work</c>. False for anything else (<c>X-PER</c>, <c>B-</c>, <c>PER</c>).
    /// </summary>
    public static bool TryParse(string tag, out char prefix, out string type) => Inference.BioTags.TryParse(tag, out prefix, out type);

    /// <summary>The type of an entity tag, or null for <c>O</c> (the tag must be valid).</summary>
    public static string? TypeOf(string tag) => tag == Outside ? null : tag[2..];

    /// <summary>
    /// Rewrites one sentence's IOB1 tags as BIO: <c>I-X</c> becomes <c>B-X</c> where the previous word is not of type X
    /// (outside, at the start, or another type). <c>B-X</c> stays. On tags that are already BIO this changes nothing.
    /// </summary>
    public static string[] Iob1ToBio(IReadOnlyList<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var bio = new string[tags.Count];
        string? previousType = null;
        for (int i = 0; i < tags.Count; i++)
        {
            string tag = tags[i];
            string? type = TypeOf(tag);
            bio[i] = tag[0] == 'I' && type != previousType ? "B-" + type : tag;
            previousType = type;
        }
        return bio;
    }

    /// <summary>
    /// Tells IOB1 from BIO: IOB1 when more entities start with an <c>I-</c> tag (after <c>O</c>, another type or the
    /// start of the sentence) than with a <c>B-</c> tag that does not follow the same type; otherwise BIO.
    /// </summary>
    /// <remarks>
    /// This is "a B- tag only ever follows an I- of the same type", counted rather than required: CoNLL-2003's
    /// <c>eng.train</c> has two <c>B-MISC</c> tags after <c>O</c> (a known variant of the file, see its SOURCE.md)
    /// against some 23,000 entities that start with <c>I-</c>, and a strict rule would call it BIO. A valid BIO file
    /// never starts an entity with <c>I-</c>, so it is never taken for IOB1; and since converting BIO as if it were
    /// IOB1 changes nothing, a wrong guess toward IOB1 cannot corrupt tags.
    /// </remarks>
    public static TagScheme DetectScheme(IEnumerable<IReadOnlyList<string>> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        long startsWithI = 0, startsWithB = 0;
        foreach (var tags in sentences)
        {
            string? previousType = null;
            foreach (string tag in tags)
            {
                string? type = TypeOf(tag);
                if (type is not null && type != previousType)
                {
                    if (tag[0] == 'I')
                        startsWithI++;
                    else
                        startsWithB++;
                }
                previousType = type;
            }
        }
        return startsWithI > startsWithB ? TagScheme.Iob1 : TagScheme.Bio;
    }

    /// <summary>
    /// The BIO label list for the given entity types: <c>O</c> first, then <c>B-</c> and <c>I-</c> of each type in
    /// ordinal order (9 labels for CoNLL-2003, 13 for WNUT-17). Both prefixes of every type are listed, so that a
    /// continuation sub-token always has an <c>I-</c> label to take.
    /// </summary>
    public static IReadOnlyList<string> BioLabels(IEnumerable<string> types)
    {
        ArgumentNullException.ThrowIfNull(types);
        var labels = new List<string> { Outside };
        foreach (string type in types.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            labels.Add("B-" + type);
            labels.Add("I-" + type);
        }
        return labels;
    }

    /// <summary>
    /// For each label index, the label a word's later sub-tokens take when every sub-token is labelled: <c>B-X</c> →
    /// <c>I-X</c>, anything else unchanged (Hugging Face's <c>label_all_tokens</c>).
    /// </summary>
    /// <exception cref="ArgumentException">A <c>B-X</c> label has no <c>I-X</c> in the list.</exception>
    public static int[] ContinuationLabels(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
            index[labels[i]] = i;
        var continuation = new int[labels.Count];
        for (int i = 0; i < labels.Count; i++)
        {
            continuation[i] = i;
            if (labels[i].StartsWith("B-", StringComparison.Ordinal))
            {
                string inside = "I-" + labels[i][2..];
                continuation[i] = index.TryGetValue(inside, out int j)
                    ? j
                    : throw new ArgumentException($"label '{labels[i]}' has no '{inside}' in the label list", nameof(labels));
            }
        }
        return continuation;
    }
}
