using Microsoft.ML;
using MlNetBert.Data;

namespace MlNetBert.Runs;

/// <summary>One row as a run's ML.NET pipeline sees it (ML.NET reads the public properties).</summary>
public sealed class TextRow
{
    /// <summary>The text (the first of a pair).</summary>
    public string Text { get; set; } = "";

    /// <summary>The second text of a pair; empty for single texts.</summary>
    public string Text2 { get; set; } = "";

    /// <summary>The class name (classification).</summary>
    public string Label { get; set; } = "";

    /// <summary>The target score (similarity).</summary>
    public float Score { get; set; }

    internal static IDataView View(MLContext ml, IEnumerable<TabularRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r => new TextRow
    {
        Text = r.Text,
        Text2 = r.Text2 ?? "",
        Label = r.Label ?? "",
        Score = r.Score ?? 0,
    }).ToList());
}

/// <summary>One token-classification row as a run's ML.NET pipeline sees it: space-separated words and one tag per word.</summary>
public sealed class TaggedTextRow
{
    /// <summary>The words, separated by single spaces.</summary>
    public string Text { get; set; } = "";

    /// <summary>One BIO tag per word.</summary>
    public string[] Label { get; set; } = [];

    internal static IDataView View(MLContext ml, IEnumerable<TabularRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r => new TaggedTextRow
    {
        Text = r.Text,
        Label = (r.Label ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
    }).ToList());
}

/// <summary>One question-answering row as a run's ML.NET pipeline sees it (ML.NET's <c>QuestionAnswer</c> column names).</summary>
public sealed class QuestionAnswerRow
{
    /// <summary>The context the answer is cut from.</summary>
    public string Context { get; set; } = "";

    /// <summary>The question.</summary>
    public string Question { get; set; } = "";

    /// <summary>Every gold answer's text; the first is trained on, validation scores against all (as SQuAD does).</summary>
    public string[] TrainingAnswer { get; set; } = [];

    /// <summary>Their character offsets into <see cref="Context"/>.</summary>
    public int[] AnswerIndex { get; set; } = [];

    internal static IDataView View(MLContext ml, IEnumerable<TabularRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r =>
    {
        var answers = r.Answers is { Count: > 0 } all ? all
            : r.Label is null ? [] : [new MlNetBert.Data.QuestionAnswering.GoldAnswer(r.Label, (int)(r.Score ?? 0))];
        return new QuestionAnswerRow
        {
            Question = r.Text,
            Context = r.Text2 ?? "",
            TrainingAnswer = answers.Select(a => a.Text).ToArray(),
            AnswerIndex = answers.Select(a => a.Start).ToArray(),
        };
    }).ToList());
}

/// <summary>The label vocabulary, in the order the model's outputs use.</summary>
public sealed class LabelRow
{
    /// <summary>One class name.</summary>
    public string Label { get; set; } = "";
}
