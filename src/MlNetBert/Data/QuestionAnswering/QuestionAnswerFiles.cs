namespace MlNetBert.Data.QuestionAnswering;

/// <summary>
/// Question-answering files as the runs and the console read them: SQuAD v1.1 JSON (<c>.json</c>,
/// <see cref="SquadReader"/>) or a TSV/CSV with <c>Context</c>, <c>Question</c>, <c>TrainingAnswer</c> and
/// <c>AnswerIndex</c> columns (<see cref="QuestionAnswerTableReader"/>), as rows: the question as the first text, the
/// context as the second, the first answer as the label and its offset as the score, every answer in
/// <see cref="TabularRow.Answers"/>; the line is the question's position in the file (1-based).
/// </summary>
public static class QuestionAnswerFiles
{
    /// <summary>Whether <paramref name="path"/> is read as SQuAD JSON (its extension is <c>.json</c>).</summary>
    public static bool IsSquad(string path) => Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the whole file; every problem is a <see cref="BadInputException"/> naming the file and the question id or line.</summary>
    public static QuestionAnswerData Read(string path) =>
        IsSquad(path) ? SquadReader.Read(path) : QuestionAnswerTableReader.Read(new QuestionAnswerTableReadOptions(path));

    /// <summary>Reads the file as rows; <paramref name="maxRows"/> keeps a seeded sample of questions, in file order.</summary>
    public static TabularData ReadTable(string path, int? maxRows = null, int seed = 42) => ToTable(Read(path), maxRows, seed);

    /// <summary>The questions as rows (see the class summary).</summary>
    public static TabularData ToTable(QuestionAnswerData data, int? maxRows = null, int seed = 42)
    {
        ArgumentNullException.ThrowIfNull(data);
        var indices = Enumerable.Range(0, data.Examples.Count).ToArray();
        if (maxRows is int max && max < indices.Length)
        {
            new Random(seed).Shuffle(indices);
            indices = indices.Take(max).Order().ToArray();
        }
        var rows = indices.Select(i =>
        {
            var e = data.Examples[i];
            // A table row's id is "line N"; a SQuAD question's line is its position in the file.
            int line = e.Id.StartsWith("line ", StringComparison.Ordinal) && int.TryParse(e.Id.AsSpan(5), out int l) ? l : i + 1;
            return new TabularRow(e.Question, e.Context, e.TrainingAnswer?.Text, e.TrainingAnswer?.Start, line) { Answers = e.Answers };
        }).ToList();
        var columns = new TabularColumns(new TabularColumn(0, "question"), new TabularColumn(1, "context"), new TabularColumn(2, "answer"), null, 4, '\t', false);
        return new TabularData(data.Path, rows, [], columns, LabelKind.Categorical);
    }
}
