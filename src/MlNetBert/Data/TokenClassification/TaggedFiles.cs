namespace MlNetBert.Data.TokenClassification;

/// <summary>The settings of a token-classification file that a table has no word for. Defaults fit CoNLL-2003 and WNUT-17.</summary>
public sealed record TaggedFileOptions
{
    /// <summary>How the file writes entity tags. Default: <see cref="TagScheme.Auto"/>; IOB1 is converted to BIO.</summary>
    public TagScheme Scheme { get; init; } = TagScheme.Auto;

    /// <summary>CoNLL files: 0-based column of the word. Default: 0.</summary>
    public int TokenColumn { get; init; }

    /// <summary>CoNLL files: 0-based column of the tag. Default (null): the last column.</summary>
    public int? TagColumn { get; init; }
}

/// <summary>
/// Reads token-classification data whatever its layout: a <c>.tsv</c> or <c>.csv</c> file is a table with a column of
/// space-separated words and a column of as many tags (<see cref="TaggedTableReader"/>, columns as in
/// <see cref="TabularReadOptions"/>); any other file is CoNLL-style, one word a line (<see cref="ConllReader"/>).
/// Sentences become <see cref="TabularRow"/>s (words and tags each joined by single spaces), the rows every run,
/// evaluation and prediction works with.
/// </summary>
public static class TaggedFiles
{
    /// <summary>Whether <paramref name="path"/> is read as a table (one sentence a row) rather than as CoNLL.</summary>
    public static bool IsTable(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".tsv" or ".csv";

    /// <summary>Reads the file's sentences (tags in BIO).</summary>
    /// <exception cref="BadInputException">The file cannot be used; the message names it and the line.</exception>
    public static TokenClassificationData Read(TabularReadOptions file, TaggedFileOptions tags)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(tags);
        return IsTable(file.Path)
            ? TaggedTableReader.Read(new TaggedTableReadOptions(file.Path)
            {
                WordsColumn = file.TextColumn,
                TagsColumn = file.LabelColumn,
                HasHeader = file.HasHeader,
                Separator = file.Separator,
                Scheme = tags.Scheme,
            })
            : ConllReader.Read(new ConllReadOptions(file.Path) { TokenColumn = tags.TokenColumn, TagColumn = tags.TagColumn, Scheme = tags.Scheme });
    }

    /// <summary>
    /// The sentences as rows: words joined by single spaces as the text, tags joined by single spaces as the label,
    /// the line of the sentence's first word. With <paramref name="maxRows"/>, a seeded uniform sample in file order.
    /// </summary>
    public static TabularData ToTable(TokenClassificationData data, int? maxRows = null, int seed = 42)
    {
        ArgumentNullException.ThrowIfNull(data);
        IEnumerable<TaggedSentence> sentences = data.Sentences;
        if (maxRows is int max && max < data.Sentences.Count)
        {
            var order = Enumerable.Range(0, data.Sentences.Count).ToArray();
            new Random(seed).Shuffle(order);
            sentences = order.Take(max).Order().Select(i => data.Sentences[i]);
        }
        var rows = sentences.Select(s => new TabularRow(string.Join(' ', s.Words), null, string.Join(' ', s.Tags), null, s.Lines[0])).ToList();
        var columns = new TabularColumns(new TabularColumn(0, "words"), null, new TabularColumn(1, "tags"), null, 2, ' ', false);
        return new TabularData(data.Path, rows, [], columns, LabelKind.Categorical);
    }

    /// <summary>Reads a file straight to rows (<see cref="Read"/>, then <see cref="ToTable"/>).</summary>
    public static TabularData ReadTable(TabularReadOptions file, TaggedFileOptions tags) =>
        ToTable(Read(file, tags), file.MaxRows, file.Seed);
}
