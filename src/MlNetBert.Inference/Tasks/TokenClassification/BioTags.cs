namespace MlNetBert.Inference;

/// <summary>An entity read from BIO tags: words <c>[Start, End)</c> of one type.</summary>
/// <param name="Type">The entity type (<c>PER</c>, <c>creative-work</c>).</param>
/// <param name="Start">Index of its first word.</param>
/// <param name="End">Index just past its last word.</param>
public readonly record struct TagSpan(string Type, int Start, int End);

/// <summary>
/// BIO tags (<c>O</c>, <c>B-TYPE</c>, <c>I-TYPE</c>) as both sides need them: inference turns predicted tags into
/// entities, evaluation turns gold and predicted tags into entities to score. One reading, so that a served entity and
/// a scored entity are the same thing.
/// </summary>
public static class BioTags
{
    /// <summary>The tag of words outside any entity.</summary>
    public const string Outside = "O";

    /// <summary>
    /// Splits a tag into its prefix ('B', 'I', or 'O' for <c>O</c>) and entity type. The split is at the first hyphen only,
    /// so WNUT-17's <c>B-creative-work</c> has type <c>creative-work</c>. False for anything else (<c>X-PER</c>, <c>B-</c>, <c>PER</c>).
    /// </summary>
    public static bool TryParse(string tag, out char prefix, out string type)
    {
        ArgumentNullException.ThrowIfNull(tag);
        prefix = '\0';
        type = string.Empty;
        if (tag == Outside)
        {
            prefix = 'O';
            return true;
        }
        if (tag.Length < 3 || tag[1] != '-' || tag[0] is not ('B' or 'I'))
            return false;
        prefix = tag[0];
        type = tag[2..];
        return true;
    }

    /// <summary>
    /// The entities of one sentence's tags, in order, as conlleval reads them: <c>B-X</c> starts an entity; <c>I-X</c>
    /// continues an entity of type X and starts one after <c>O</c> or after another type (a model's <c>I-</c> without
    /// <c>B-</c> is not thrown away); an entity ends at <c>O</c>, at any <c>B-</c>, or at a change of type.
    /// </summary>
    /// <exception cref="ArgumentException">A tag is not <c>O</c>, <c>B-X</c> or <c>I-X</c>.</exception>
    public static IReadOnlyList<TagSpan> Spans(IReadOnlyList<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var entities = new List<TagSpan>();
        string? type = null;
        int start = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            char prefix = 'O';
            string tagType = string.Empty;
            if (i < tags.Count && !TryParse(tags[i], out prefix, out tagType))
                throw new ArgumentException($"tag {i} '{tags[i]}' is not O, B-TYPE or I-TYPE", nameof(tags));
            bool continues = prefix == 'I' && tagType == type;
            if (type is not null && !continues)
            {
                entities.Add(new TagSpan(type, start, i));
                type = null;
            }
            if (prefix != 'O' && !continues)
            {
                type = tagType;
                start = i;
            }
        }
        return entities;
    }
}
