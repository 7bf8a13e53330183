using MlNetBert.Inference;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Data;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert predict</c>: predictions for one text (or pair) or for every row of a file.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model file: model.zip (train) or model.onnx (export), or a run folder.", Required = true };
        var text = new Option<string?>("--text") { Description = "The text to classify (or the first text of a pair)." };
        var text2 = new Option<string?>("--text2") { Description = "The second text, for pair and similarity models." };
        var input = new Option<string?>("--input") { Description = "A file of texts (TSV or CSV); a label column is not needed." };
        var output = new Option<string?>("--output") { Description = "Where to write the predictions (TSV), with --input." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var data = new DataArguments();
        var command = new Command("predict",
            """
            Predict with a trained model, for one input or a whole file.

            Examples:
              mlnetbert predict --model models/runs/my-run/model.onnx --text "A warm, funny and clever film."
              mlnetbert predict --model model.zip --input reviews.tsv --output predictions.tsv
            """)
        {
            model, text, text2, input, output, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            string? one = parse.GetValue(text), inputFile = parse.GetValue(input), outputFile = parse.GetValue(output);
            if ((one is null) == (inputFile is null))
                throw new BadInputException("pass either --text (with --text2 for pairs) or --input FILE --output FILE");
            if (inputFile is not null && outputFile is null)
                throw new BadInputException("--input needs --output FILE for the predictions");
            using var file = ModelFile.Open(parse.GetValue(model)!);
            if (one is not null)
            {
                string? two = parse.GetValue(text2);
                if (file.IsPair && two is null)
                    throw new BadInputException($"the model is {file.Task}: pass --text2 as well");
                var (p, s) = file.Predict([one], two is null ? null : [two]);
                var entry = Entry(file, p?[0], s?[0]);
                Console.WriteLine(parse.GetValue(json) ? entry.ToJsonString() : Describe(file, p?[0], s?[0]));
                return ExitCodes.Success;
            }

            var table = TabularReader.Read(data.Read(parse, inputFile!, LabelKind.None));
            var texts = table.Rows.Select(r => r.Text).ToList();
            var texts2 = file.IsPair ? table.Rows.Select(r => r.Text2 ?? "").ToList() : null;
            var (probabilities, scores) = file.Predict(texts, texts2);
            var sb = new StringBuilder();
            sb.Append("line\ttext");
            if (file.IsPair)
                sb.Append("\ttext2");
            sb.Append(file.IsSimilarity ? "\tscore\n" : "\tpredicted_label\t" + string.Join('\t', file.Labels.Select(l => "p_" + l)) + "\n");
            for (int i = 0; i < texts.Count; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{table.Rows[i].Line}\t{Clean(texts[i])}");
                if (texts2 is not null)
                    sb.Append('\t').Append(Clean(texts2[i]));
                if (file.IsSimilarity)
                    sb.Append(CultureInfo.InvariantCulture, $"\t{scores![i]:G6}\n");
                else
                    sb.Append('\t').Append(file.Labels[Scores.ArgMax(probabilities![i])]).Append('\t')
                      .AppendJoin('\t', probabilities[i].Select(v => v.ToString("G6", CultureInfo.InvariantCulture))).Append('\n');
            }
            AtomicFile.WriteAllText(outputFile!, sb.ToString());
            Console.WriteLine(parse.GetValue(json)
                ? new JsonObject { ["input"] = table.Path, ["output"] = Path.GetFullPath(outputFile!), ["rows"] = texts.Count, ["skipped"] = table.SkippedRows.Count }.ToJsonString()
                : $"wrote {texts.Count} predictions to {outputFile}" + (table.SkippedRows.Count > 0 ? $" ({table.SkippedRows.Count} bad rows skipped)" : ""));
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');

    private static JsonObject Entry(ModelFile file, float[]? probabilities, float? score)
    {
        if (file.IsSimilarity)
            return new JsonObject { ["score"] = score };
        var probs = new JsonObject();
        for (int i = 0; i < file.Labels.Count; i++)
            probs[file.Labels[i]] = probabilities![i];
        return new JsonObject { ["label"] = file.Labels[Scores.ArgMax(probabilities!)], ["probabilities"] = probs };
    }

    private static string Describe(ModelFile file, float[]? probabilities, float? score) =>
        file.IsSimilarity
            ? $"score {score!.Value.ToString("F4", CultureInfo.InvariantCulture)}"
            : $"{file.Labels[Scores.ArgMax(probabilities!)]}  (" + string.Join(", ", file.Labels.Select((l, i) => $"{l} {probabilities![i]:F4}")) + ")";
}
