namespace MlNetBert.Data.QuestionAnswering;

/// <summary>A gold answer: its text and the character offset in the context where it starts.</summary>
public sealed record GoldAnswer(string Text, int Start)
{
    /// <summary>Character offset just past the answer in the context.</summary>
    public int End => Start + Text.Length;
}

/// <summary>One question about one context, with its gold answers.</summary>
/// <param name="Id">The SQuAD question id, or <c>line N</c> for a row of a TSV/CSV file.</param>
/// <param name="Question">The question, trimmed (344 SQuAD dev questions have stray whitespace).</param>
/// <param name="Context">The context exactly as in the file: answer offsets point into it.</param>
/// <param name="Answers">Every gold answer, in file order; empty for data to predict on.</param>
public sealed record QuestionAnswerExample(string Id, string Question, string Context, IReadOnlyList<GoldAnswer> Answers)
{
    /// <summary>The answer to train on: the first one, as Hugging Face's <c>run_qa</c> does; null without answers.</summary>
    public GoldAnswer? TrainingAnswer => Answers.Count > 0 ? Answers[0] : null;
}

/// <summary>The result of <see cref="SquadReader.Read"/> or <see cref="QuestionAnswerTableReader.Read"/>.</summary>
/// <param name="Path">The file, as it was given.</param>
/// <param name="Examples">The questions in file order.</param>
public sealed record QuestionAnswerData(string Path, IReadOnlyList<QuestionAnswerExample> Examples)
{
    /// <summary>Checks one answer against its context; returns the problem (for a message) or null.</summary>
    internal static string? ProblemWith(GoldAnswer answer, string context)
    {
        if (answer.Start < 0 || answer.Start > context.Length)
            return $"answer start {answer.Start} is outside the context ({context.Length} characters)";
        if (answer.Text.Length == 0)
            return "the answer text is empty";
        if (answer.End > context.Length)
            return $"answer '{Shorten(answer.Text)}' at {answer.Start} runs past the end of the context ({context.Length} characters)";
        if (string.CompareOrdinal(context, answer.Start, answer.Text, 0, answer.Text.Length) != 0)
            return $"answer '{Shorten(answer.Text)}' is not at {answer.Start}: the context there reads '{Shorten(context.Substring(answer.Start, answer.Text.Length))}'";
        return null;
    }

    internal static string Shorten(string value) => value.Length <= 40 ? value : value[..37] + "...";
}
