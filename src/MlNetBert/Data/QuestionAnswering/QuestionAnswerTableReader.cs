using System.Globalization;

namespace MlNetBert.Data.QuestionAnswering;

/// <summary>What <see cref="QuestionAnswerTableReader.Read"/> reads. Column defaults are ML.NET's <c>QuestionAnswer</c> names.</summary>
/// <param name="Path">The TSV or CSV file, with a header row. Messages name it exactly as given here.</param>
public sealed record QuestionAnswerTableReadOptions(string Path)
{
    /// <summary>Default: <c>Context</c>.</summary>
    public string ContextColumn { get; init; } = "Context";

    /// <summary>Default: <c>Question</c>.</summary>
    public string QuestionColumn { get; init; } = "Question";

    /// <summary>The answer text. Default: <c>TrainingAnswer</c>. A file without it (and without the index column) is data to predict on.</summary>
    public string AnswerColumn { get; init; } = "TrainingAnswer";

    /// <summary>The answer's character offset into the context. Default: <c>AnswerIndex</c>.</summary>
    public string AnswerIndexColumn { get; init; } = "AnswerIndex";

    /// <summary>The field separator. Default (null): tab for <c>.tsv</c>/<c>.txt</c>, comma (with RFC 4180 quoting) for <c>.csv</c>.</summary>
    public char? Separator { get; init; }
}

/// <summary>
/// Reads question-answering rows from a TSV or CSV file with a header: context, question, answer text and answer
/// offset (ML.NET's <c>Context</c>, <c>Question</c>, <c>TrainingAnswer</c>, <c>AnswerIndex</c>), one answer per row.
/// Each example's id is <c>line N</c>. Every problem is a <see cref="BadInputException"/> naming the file and line:
/// <c>qa.tsv:4: answer 'Paris' is not at 17: the context there reads 'Lyon,'</c>.
/// </summary>
public static class QuestionAnswerTableReader
{
    /// <summary>Reads the whole file.</summary>
    public static QuestionAnswerData Read(QuestionAnswerTableReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string file = options.Path;
        char separator = options.Separator ?? Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".tsv" or ".txt" => '\t',
            ".csv" => ',',
            _ => throw new BadInputException($"{file}: cannot tell the separator from the file name (.tsv and .txt mean tab, .csv means comma)"),
        };
        bool quoting = separator == ',';
        string text = DelimitedText.Decode(DataFile.ReadBytes(file), file);

        using var records = DelimitedText.Split(text, separator, quoting, file).GetEnumerator();
        if (!records.MoveNext())
            throw new BadInputException($"{file}: file is empty");
        var header = records.Current.Fields.Select(f => f.Trim()).ToList();
        int Column(string name, bool required)
        {
            int index = header.IndexOf(name);
            if (index < 0 && required)
                throw new BadInputException($"{file}: no column named '{name}' (columns: {string.Join(", ", header)})");
            return index;
        }
        int contextColumn = Column(options.ContextColumn, true);
        int questionColumn = Column(options.QuestionColumn, true);
        int answerColumn = Column(options.AnswerColumn, false);
        int indexColumn = Column(options.AnswerIndexColumn, false);
        if ((answerColumn < 0) != (indexColumn < 0))
        {
            string missing = answerColumn < 0 ? options.AnswerColumn : options.AnswerIndexColumn;
            throw new BadInputException($"{file}: an answer needs both its text and its index; no column named '{missing}' (columns: {string.Join(", ", header)})");
        }

        var examples = new List<QuestionAnswerExample>();
        while (records.MoveNext())
        {
            var record = records.Current;
            string where = $"{file}:{record.Line}";
            if (record.Fields.Count != header.Count)
                throw new BadInputException($"{where}: expected {header.Count} fields, found {record.Fields.Count}");
            if (record.Error is not null)
                throw new BadInputException($"{where}: {record.Error}");
            string context = record.Fields[contextColumn];
            string question = record.Fields[questionColumn].Trim();
            if (context.Trim().Length == 0)
                throw new BadInputException($"{where}: column '{options.ContextColumn}' is empty");
            if (question.Length == 0)
                throw new BadInputException($"{where}: column '{options.QuestionColumn}' is empty");

            var answers = new List<GoldAnswer>();
            if (answerColumn >= 0)
            {
                string index = record.Fields[indexColumn].Trim();
                if (!int.TryParse(index, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int start))
                    throw new BadInputException($"{where}: column '{options.AnswerIndexColumn}' value '{QuestionAnswerData.Shorten(index)}' is not a whole number");
                var answer = new GoldAnswer(record.Fields[answerColumn], start);
                if (QuestionAnswerData.ProblemWith(answer, context) is { } problem)
                    throw new BadInputException($"{where}: {problem}");
                answers.Add(answer);
            }
            examples.Add(new QuestionAnswerExample($"line {record.Line}", question, context, answers));
        }
        if (examples.Count == 0)
            throw new BadInputException($"{file}: only a header, no rows");
        return new QuestionAnswerData(file, examples);
    }
}
