namespace MlNetBert.Data;

/// <summary>One data row.</summary>
/// <param name="Text">The text (or the first text of a pair), exactly as in the file.</param>
/// <param name="Text2">The second text of a pair; null when no second text column was asked for.</param>
/// <param name="Label">The label as written, trimmed; never empty. For numeric labels, the number's text.</param>
/// <param name="Score">The parsed label for <see cref="LabelKind.Numeric"/>; null for categorical labels.</param>
/// <param name="Line">The 1-based line of the file where the row starts.</param>
public sealed record TabularRow(string Text, string? Text2, string? Label, float? Score, int Line)
{
    /// <summary>Question answering: every gold answer (text and offset into <see cref="Text2"/>, the context); null for other tasks.</summary>
    public IReadOnlyList<QuestionAnswering.GoldAnswer>? Answers { get; init; }
}

/// <summary>A column that was resolved from a name or an index.</summary>
/// <param name="Index">The 0-based field index.</param>
/// <param name="Name">The header name; null when the file has no header.</param>
public sealed record TabularColumn(int Index, string? Name)
{
    /// <summary>How messages name the column: <c>column 'label'</c>, or <c>column 1</c> without a header.</summary>
    public override string ToString() => Name is null ? $"column {Index}" : $"column '{Name}'";
}

/// <summary>How a file was read: the columns actually used and the format settings after defaults were applied.</summary>
/// <param name="Text">The text column.</param>
/// <param name="Text2">The second text column of pairs, or null.</param>
/// <param name="Label">The label column.</param>
/// <param name="Header">The header names, trimmed; null when the file has no header.</param>
/// <param name="FieldCount">The number of fields every row has.</param>
/// <param name="Separator">The field separator.</param>
/// <param name="Quoting">Whether quoted fields were recognised.</param>
public sealed record TabularColumns(
    TabularColumn Text,
    TabularColumn? Text2,
    TabularColumn Label,
    IReadOnlyList<string>? Header,
    int FieldCount,
    char Separator,
    bool Quoting);

/// <summary>The result of <see cref="TabularReader.Read"/>.</summary>
/// <param name="Path">The file, as it was given.</param>
/// <param name="Rows">The rows, in file order (after any <see cref="TabularReadOptions.MaxRows"/> subsample).</param>
/// <param name="SkippedRows">One message per row left out by <see cref="TabularReadOptions.SkipBadRows"/>, in file order.</param>
/// <param name="Columns">The resolved columns and format.</param>
/// <param name="LabelKind">How labels were read.</param>
public sealed record TabularData(
    string Path,
    IReadOnlyList<TabularRow> Rows,
    IReadOnlyList<string> SkippedRows,
    TabularColumns Columns,
    LabelKind LabelKind);
