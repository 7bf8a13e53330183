namespace MlNetBert.Data;

/// <summary>How the label column is read.</summary>
public enum LabelKind
{
    /// <summary>Class names (<c>0</c>/<c>1</c>, <c>LOC</c>, <c>Sports</c>): kept as trimmed strings.</summary>
    Categorical,

    /// <summary>Finite numbers (an STS-B score): parsed with the invariant culture into <see cref="TabularRow.Score"/>.</summary>
    Numeric,

    /// <summary>No label at all (texts to predict): <see cref="TabularRow.Label"/> and <see cref="TabularRow.Score"/> stay null.</summary>
    None,
}

/// <summary>
/// What <see cref="TabularReader.Read"/> reads and how. Every property has a default that fits the GLUE-style
/// files most people have, so usually only <see cref="Path"/> (and maybe the columns) need setting.
/// </summary>
/// <example>
/// <code>
/// var stsb = TabularReader.Read(new TabularReadOptions("stsb/dev.tsv")
/// {
///     TextColumn = "sentence1", Text2Column = "sentence2", LabelColumn = "score", LabelKind = LabelKind.Numeric,
/// });
/// var agNews = TabularReader.Read(new TabularReadOptions("ag_news/test.csv")
/// {
///     HasHeader = false, TextColumn = "2", LabelColumn = "0",
/// });
/// </code>
/// </example>
/// <param name="Path">The file to read. Messages name it exactly as given here.</param>
public sealed record TabularReadOptions(string Path)
{
    /// <summary>
    /// The field separator. Default (null): taken from the extension, tab for <c>.tsv</c> and <c>.txt</c>, comma for
    /// <c>.csv</c>; any other extension is an error that asks for an explicit separator.
    /// </summary>
    public char? Separator { get; init; }

    /// <summary>Whether the first row names the columns. Default: true.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>
    /// Whether fields may be quoted RFC 4180 style (<c>"a, b"</c>, <c>""</c> for a quote, newlines inside quotes).
    /// Default (null): on for comma-separated files, off otherwise, because GLUE TSV files contain raw <c>"</c>
    /// characters that are part of the text.
    /// </summary>
    public bool? Quoting { get; init; }

    /// <summary>
    /// The text column: a header name, or a 0-based index (all digits; with a header, a name that matches wins).
    /// Default (null): the first of <c>sentence</c>, <c>text</c>, <c>question</c> that the header has, else the
    /// first column that is not the label column.
    /// </summary>
    public string? TextColumn { get; init; }

    /// <summary>The second text of a sentence pair (name or index, as <see cref="TextColumn"/>). Default (null): single texts.</summary>
    public string? Text2Column { get; init; }

    /// <summary>The label column (name or index). Default (null): <c>label</c> if the header has it, else the last column.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>Class names or numbers. Default: <see cref="LabelKind.Categorical"/>.</summary>
    public LabelKind LabelKind { get; init; } = LabelKind.Categorical;

    /// <summary>
    /// When true, bad rows (wrong field count, empty label, unparsable score, text after a closing quote) are
    /// left out and their messages collected in <see cref="TabularData.SkippedRows"/>; when false (default) the
    /// first one throws. Problems with the file as a whole always throw.
    /// </summary>
    public bool SkipBadRows { get; init; }

    /// <summary>
    /// Keep at most this many rows: a uniform random subsample without replacement, seeded by <see cref="Seed"/>,
    /// in file order. Default (null): all rows.
    /// </summary>
    public int? MaxRows { get; init; }

    /// <summary>Seed for the <see cref="MaxRows"/> subsample. Default: 42.</summary>
    public int Seed { get; init; } = 42;
}
