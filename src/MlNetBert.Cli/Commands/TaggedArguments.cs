using System.CommandLine;
using MlNetBert.Data.TokenClassification;

namespace MlNetBert.Cli.Commands;

/// <summary>The options of token-classification files (CoNLL-style or word/tag tables) that <c>train</c> and <c>evaluate</c> share.</summary>
internal sealed class TaggedArguments
{
    public Option<string> Scheme { get; } = new("--scheme") { Description = "Token classification: auto | iob1 | bio, how the file writes entity tags (IOB1 is converted to BIO).", DefaultValueFactory = _ => "auto" };
    public Option<int> TokenColumn { get; } = new("--token-column") { Description = "Token classification, CoNLL files: 0-based column of the word.", DefaultValueFactory = _ => 0 };
    public Option<int?> TagColumn { get; } = new("--tag-column") { Description = "Token classification, CoNLL files: 0-based column of the tag. Default: the last." };

    public void AddTo(Command command)
    {
        command.Add(Scheme);
        command.Add(TokenColumn);
        command.Add(TagColumn);
    }

    public TaggedFileOptions Read(ParseResult parse) => new()
    {
        Scheme = parse.GetValue(Scheme) switch
        {
            "auto" => TagScheme.Auto,
            "iob1" => TagScheme.Iob1,
            "bio" or "iob2" => TagScheme.Bio,
            var other => throw new BadInputException($"--scheme must be auto, iob1 or bio, not '{other}'"),
        },
        TokenColumn = parse.GetValue(TokenColumn),
        TagColumn = parse.GetValue(TagColumn),
    };
}
