namespace MlNetBert.Data.TokenClassification;

/// <summary>What <see cref="TaggedTableReader.Read"/> reads and how.</summary>
/// <param name="Path">The TSV or CSV file. Messages name it exactly as given here.</param>
public sealed record TaggedTableReadOptions(string Path)
{
    /// <summary>The column of space-separated words (header name or 0-based index). Default (null): <see cref="TabularReader"/>'s text column default.</summary>
    public string? WordsColumn { get; init; }

    /// <summary>The column of space-separated tags, one per word (header name or 0-based index). Default (null): <c>label</c>, else the last column.</summary>
    public string? TagsColumn { get; init; }

    /// <summary>Whether the first row names the columns. Default: true.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>The field separator. Default (null): from the extension (tab for .tsv/.txt, comma for .csv).</summary>
    public char? Separator { get; init; }

    /// <summary>How the file writes entity tags. Default: <see cref="TagScheme.Auto"/>; IOB1 is converted to BIO.</summary>
    public TagScheme Scheme { get; init; } = TagScheme.Auto;
}

/// <summary>
/// Reads token-classification data from a TSV or CSV file with one sentence a row: a column of words separated by
/// whitespace and a column with as many whitespace-separated tags (ML.NET's NER layout). Quoting, encodings and column
/// resolution are <see cref="TabularReader"/>'s. Tags come back in BIO.
/// </summary>
/// <example>
/// <code>
/// // words\ttags
/// // EU rejects German call\tB-ORG O B-MISC O
/// var data = TaggedTableReader.Read(new TaggedTableReadOptions("ner.tsv") { WordsColumn = "words", TagsColumn = "tags" });
/// </code>
/// </example>
public static class TaggedTableReader
{
    /// <summary>Reads the whole file.</summary>
    /// <exception cref="BadInputException">The file or one of its rows cannot be used: <c>ner.tsv:7: column 'tags': 5 words but 4 tags</c>.</exception>
    public static TokenClassificationData Read(TaggedTableReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var table = TabularReader.Read(new TabularReadOptions(options.Path)
        {
            TextColumn = options.WordsColumn,
            LabelColumn = options.TagsColumn,
            HasHeader = options.HasHeader,
            Separator = options.Separator,
        });
        var tagsColumn = table.Columns.Label;
        var sentences = new List<(string[] Words, string[] Tags, int[] Lines)>(table.Rows.Count);
        foreach (var row in table.Rows)
        {
            string[] words = row.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string[] tags = row.Label!.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string where = $"{table.Path}:{row.Line}";
            if (words.Length == 0)
                throw new BadInputException($"{where}: {table.Columns.Text} has no words");
            if (words.Length != tags.Length)
                throw new BadInputException($"{where}: {tagsColumn}: {words.Length} words but {tags.Length} tags");
            for (int i = 0; i < tags.Length; i++)
            {
                if (!EntityTags.TryParse(tags[i], out _, out _))
                    throw new BadInputException($"{where}: {tagsColumn}: word {i + 1} ('{words[i]}'): {TokenClassificationData.BadTagMessage(tags[i])}");
            }
            sentences.Add((words, tags, Enumerable.Repeat(row.Line, words.Length).ToArray()));
        }
        return TokenClassificationData.Create(table.Path, sentences, options.Scheme);
    }
}
