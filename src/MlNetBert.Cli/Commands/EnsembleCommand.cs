using System.CommandLine;
using System.Globalization;
using MlNetBert.Data;
using MlNetBert.Export;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert ensemble</c>: average several trained models of one task into one verified ONNX model.</summary>
internal static class EnsembleCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "A member: run folder, model.onnx or model.zip (repeat: at least two, same task, labels and tokenizer).", Required = true };
        var output = new Option<string>("--out") { Description = "The ensemble folder to create (model.onnx, ensemble.json).", Required = true };
        var checkData = new Option<string?>("--check-data") { Description = "Texts (TSV or CSV) to verify the merged file on (first 200 rows); default: built-in sentences." };
        var data = new DataArguments();
        var command = new Command("ensemble",
            """
            Average trained models of one task into one model: a folder with one model.onnx whose graph runs every member
            on the same inputs and averages their probabilities (classification) or scores (similarity), checked against
            the members run one by one. evaluate, predict, serve and train --teacher read the folder like a run folder.

            Examples:
              mlnetbert ensemble --model models/runs/seed1 --model models/runs/seed2 --model models/runs/seed3 --out models/ensemble
              mlnetbert evaluate --model models/ensemble --data sst2/dev.tsv
            """)
        {
            models, output, checkData,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            IReadOnlyList<(string Text, string? Text2)>? rows = null;
            if (parse.GetValue(checkData) is { } file)
            {
                var table = TabularReader.Read(data.Read(parse, file, LabelKind.None) with { MaxRows = 200 });
                rows = table.Rows.Select(r => (r.Text, r.Text2)).ToList();
            }
            var result = EnsembleFolder.Create(parse.GetValue(models)!, parse.GetValue(output)!, rows);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.ModelOnnx}: ensemble of {result.Card.EnsembleMembers} {result.Card.Task} models, {result.SizeBytes / 1048576.0:F1} MiB"));
            Console.WriteLine($"parity against the members run separately: {result.Parity}");
            return ExitCodes.Success;
        });
        return command;
    }
}
