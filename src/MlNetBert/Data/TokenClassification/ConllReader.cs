namespace MlNetBert.Data.TokenClassification;

/// <summary>What <see cref="ConllReader.Read"/> reads and how.</summary>
/// <param name="Path">The file to read. Messages name it exactly as given here.</param>
public sealed record ConllReadOptions(string Path)
{
    /// <summary>0-based column of the word. Default: 0, the first.</summary>
    public int TokenColumn { get; init; }

    /// <summary>0-based column of the entity tag. Default (null): the last column.</summary>
    public int? TagColumn { get; init; }

    /// <summary>How the file writes entity tags. Default: <see cref="TagScheme.Auto"/>; IOB1 is converted to BIO.</summary>
    public TagScheme Scheme { get; init; } = TagScheme.Auto;
}

/// <summary>
/// Reads CoNLL-style token-classification files (CoNLL-2003, WNUT-17): one word a line, columns separated by spaces or
/// tabs, a line that is empty after trimming between sentences, <c>-DOCSTART-</c> lines skipped. Tags come back in BIO.
/// </summary>
/// <remarks>
/// "Empty after trimming" matters: WNUT-17's train file separates 2,394 of its sentences with lines holding one tab.
/// Lines end at '\n' only, as in <see cref="TabularReader"/>; the file is strict UTF-8. Every problem is a
/// <see cref="BadInputException"/> naming the file, the line and, for a bad tag, the column:
/// <c>eng.train:57: column 3: tag 'X-PER' is not O, B-TYPE or I-TYPE</c>.
/// </remarks>
/// <example>
/// <code>
/// var train = ConllReader.Read(new ConllReadOptions("conll2003/eng.train"));      // IOB1, detected and converted
/// var dev = ConllReader.Read(new ConllReadOptions("conll2003/eng.testa"));
/// dev.RequireLabelsIn(train.Labels);
/// </code>
/// </example>
public static class ConllReader
{
    /// <summary>The marker of a document boundary in CoNLL-2003, skipped (it is not a sentence).</summary>
    public const string DocumentStart = "-DOCSTART-";

    private static readonly char[] Separators = [' ', '\t'];

    /// <summary>Reads the whole file.</summary>
    /// <exception cref="BadInputException">The file or one of its lines cannot be used; the message says why and where.</exception>
    public static TokenClassificationData Read(ConllReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string file = options.Path;
        if (options.TokenColumn < 0 || options.TagColumn is < 0)
            throw new BadInputException($"{file}: column indexes are 0-based and cannot be negative");
        if (options.TagColumn == options.TokenColumn)
            throw new BadInputException($"{file}: column {options.TokenColumn} cannot be both the token and the tag column");

        string text = DelimitedText.Decode(DataFile.ReadBytes(file), file);
        if (text.Length == 0)
            throw new BadInputException($"{file}: file is empty");

        var sentences = new List<(string[] Words, string[] Tags, int[] Lines)>();
        var words = new List<string>();
        var tags = new List<string>();
        var lines = new List<int>();
        int columnCount = 0, columnCountLine = 0, tagColumn = 0;

        void EndSentence()
        {
            if (words.Count > 0)
                sentences.Add((words.ToArray(), tags.ToArray(), lines.ToArray()));
            words.Clear();
            tags.Clear();
            lines.Clear();
        }

        int lineNumber = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.EndsWith('\r') ? rawLine[..^1] : rawLine;
            if (line.Trim().Length == 0)
            {
                EndSentence();
                continue;
            }
            string[] fields = line.Split(Separators, StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] == DocumentStart)
            {
                EndSentence();
                continue;
            }
            if (columnCount == 0)
            {
                (columnCount, columnCountLine) = (fields.Length, lineNumber);
                if (fields.Length == 1)
                    throw new BadInputException($"{file}:{lineNumber}: found 1 column; expected a token and a tag separated by spaces or a tab");
                int needed = Math.Max(options.TokenColumn, options.TagColumn ?? 0) + 1;
                if (fields.Length < needed)
                {
                    throw new BadInputException(
                        $"{file}:{lineNumber}: found {fields.Length} columns; token column {options.TokenColumn} and tag column {options.TagColumn?.ToString() ?? "(last)"} need {needed}");
                }
                tagColumn = options.TagColumn ?? columnCount - 1;
                if (tagColumn == options.TokenColumn)
                    throw new BadInputException($"{file}: column {tagColumn} cannot be both the token and the tag column (the tag is the last column unless chosen)");
            }
            else if (fields.Length != columnCount)
            {
                throw new BadInputException(
                    $"{file}:{lineNumber}: found {fields.Length} columns, but line {columnCountLine} has {columnCount} (columns are separated by spaces or tabs)");
            }

            string tag = fields[tagColumn];
            if (!EntityTags.TryParse(tag, out _, out _))
                throw new BadInputException($"{file}:{lineNumber}: column {tagColumn}: {TokenClassificationData.BadTagMessage(tag)}");
            words.Add(fields[options.TokenColumn]);
            tags.Add(tag);
            lines.Add(lineNumber);
        }
        EndSentence();

        if (sentences.Count == 0)
            throw new BadInputException($"{file}: no sentences (only blank lines and {DocumentStart} lines)");
        return TokenClassificationData.Create(file, sentences, options.Scheme);
    }
}
