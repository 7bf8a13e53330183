using MlNetBert.Inference;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert evaluate</c>: metrics of a trained model (.zip or .onnx) on a labelled file.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model file: model.zip (train) or model.onnx (export), or a run folder.", Required = true };
        var dataFile = new Option<string>("--data") { Description = "Labelled data (TSV or CSV).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the metrics as JSON ({\"final\": {...}})." };
        var data = new DataArguments();
        var command = new Command("evaluate",
            """
            Evaluate a trained model on labelled data: accuracy, macro-F1, log-loss, per-class metrics and the confusion
            matrix for classification; Pearson and Spearman correlation for similarity.

            Examples:
              mlnetbert evaluate --model models/runs/my-run/model.zip --data sst2/dev.tsv
              mlnetbert evaluate --model model.onnx --data stsb/dev.tsv --text-column sentence1 --text2-column sentence2 --label-column score --json
            """)
        {
            model, dataFile, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            using var file = ModelFile.Open(parse.GetValue(model)!);
            var read = data.Read(parse, parse.GetValue(dataFile)!, file.IsSimilarity ? LabelKind.Numeric : LabelKind.Categorical);
            if (file.IsPair && read.Text2Column is null)
                throw new BadInputException($"the model is {file.Task}: pass --text2-column for the second text");
            var table = TabularReader.Read(read);
            var texts = table.Rows.Select(r => r.Text).ToList();
            var texts2 = file.IsPair ? table.Rows.Select(r => r.Text2 ?? "").ToList() : null;
            var (probabilities, scores) = file.Predict(texts, texts2);
            JsonObject final;
            string text;
            if (file.IsSimilarity)
            {
                var m = RegressionMetrics.Compute(table.Rows.Select(r => r.Score ?? 0).ToList(), scores!);
                final = m.ToJsonObject();
                text = $"pearson {m.Pearson:F4}, spearman {m.Spearman:F4}, mse {m.Mse:F4}, mae {m.Mae:F4} ({m.Count} rows)";
            }
            else
            {
                var labels = file.Labels.ToList();
                var truth = table.Rows.Select(r => labels.IndexOf(r.Label ?? "") is var i && i >= 0 ? i
                    : throw new BadInputException($"{table.Path}:{r.Line}: label '{r.Label}' in {table.Columns.Label} is not one the model knows (known: {string.Join(", ", labels)})")).ToList();
                var m = ClassificationMetrics.Compute(truth, probabilities!.Select(Scores.ArgMax).ToList(), probabilities!, labels);
                final = m.ToJsonObject();
                text = $"accuracy {m.Accuracy:F4}, macro-F1 {m.MacroF1:F4}, log-loss {m.LogLoss:F4} ({m.Count} rows)\n\n{m.ToMarkdown()}";
            }
            if (parse.GetValue(json))
                Console.WriteLine(new JsonObject { ["model"] = parse.GetValue(model), ["data"] = table.Path, ["task"] = file.Task, ["final"] = final }
                    .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else
                Console.WriteLine(text);
            return ExitCodes.Success;
        });
        return command;
    }
}
