using System.CommandLine;
using MlNetBert.Data;

namespace MlNetBert.Cli.Commands;

/// <summary>The column and format options every data-reading command shares.</summary>
internal sealed class DataArguments
{
    public Option<string?> TextColumn { get; } = new("--text-column") { Description = "Text column: a header name, or a 0-based index with --no-header. Default: sentence, text or question." };
    public Option<string?> Text2Column { get; } = new("--text2-column") { Description = "Second text column, for sentence pairs." };
    public Option<string?> LabelColumn { get; } = new("--label-column") { Description = "Label column: a header name, or a 0-based index. Default: label, else the last column." };
    public Option<string?> Separator { get; } = new("--separator") { Description = "Field separator: tab, comma, or one character. Default: from the extension (.tsv/.txt tab, .csv comma)." };
    public Option<bool> NoHeader { get; } = new("--no-header") { Description = "The first line is data, not column names." };
    public Option<string?> Quoting { get; } = new("--quoting") { Description = "on|off: honour \"quoted\" fields. Default: on for CSV, off for TSV (several datasets contain raw quotes)." };
    public Option<bool> SkipBadRows { get; } = new("--skip-bad-rows") { Description = "Skip and count rows with problems instead of stopping." };

    public void AddTo(Command command)
    {
        command.Add(TextColumn);
        command.Add(Text2Column);
        command.Add(LabelColumn);
        command.Add(Separator);
        command.Add(NoHeader);
        command.Add(Quoting);
        command.Add(SkipBadRows);
    }

    public TabularReadOptions Read(ParseResult parse, string path, LabelKind kind, int? maxRows = null, int seed = 42) => new(path)
    {
        TextColumn = parse.GetValue(TextColumn),
        Text2Column = parse.GetValue(Text2Column),
        LabelColumn = parse.GetValue(LabelColumn),
        Separator = ParseSeparator(parse.GetValue(Separator)),
        HasHeader = !parse.GetValue(NoHeader),
        Quoting = parse.GetValue(Quoting) switch
        {
            null => null,
            "on" => true,
            "off" => false,
            var other => throw new BadInputException($"--quoting must be on or off, not '{other}'"),
        },
        SkipBadRows = parse.GetValue(SkipBadRows),
        LabelKind = kind,
        MaxRows = maxRows,
        Seed = seed,
    };

    private static char? ParseSeparator(string? value) => value switch
    {
        null => null,
        "tab" or "\\t" or "\t" => '\t',
        "comma" or "," => ',',
        "semicolon" or ";" => ';',
        { Length: 1 } => value[0],
        _ => throw new BadInputException($"--separator must be tab, comma or a single character, not '{value}'"),
    };
}
