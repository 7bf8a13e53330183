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
        var task = new Option<string?>("--task") { Description = "The task the model must be (checked against the model; the model's own task is used)." };
        var data = new DataArguments();
        var tagged = new TaggedArguments();
        var command = new Command("evaluate",
            """
            Evaluate a trained model on labelled data: accuracy, macro-F1, log-loss, per-class metrics and the confusion
            matrix for classification; Pearson and Spearman correlation for similarity; entity precision, recall and F1
            (conlleval), per type, and token accuracy for token classification (CoNLL files, or word/tag TSV/CSV); for
            sentence-embedding models, Pearson and Spearman of the cosine of both texts' vectors against the score
            (with --label-column), or recall@1 and MRR@10 with every second text as the corpus (without it).

            Examples:
              mlnetbert evaluate --model models/runs/my-run/model.zip --data sst2/dev.tsv
              mlnetbert evaluate --model model.onnx --data stsb/dev.tsv --text-column sentence1 --text2-column sentence2 --label-column score --json
              mlnetbert evaluate --model models/runs/ner/model.onnx --data conll2003/eng.testb --json
            """)
        {
            model, dataFile, json, task,
        };
        data.AddTo(command);
        tagged.AddTo(command);
        command.SetAction(parse =>
        {
            using var file = ModelFile.Open(parse.GetValue(model)!);
            if (parse.GetValue(task) is { } expected && expected != file.Task.Name)
                throw new BadInputException($"{parse.GetValue(model)}: the model's task is {file.Task.Name}, not {expected}");
            var read = data.Read(parse, parse.GetValue(dataFile)!, file.Training.EvaluationLabels(parse.GetValue(data.LabelColumn)));
            if (file.Task.ReadsPair && read.Text2Column is null)
                throw new BadInputException($"the model is {file.Task}: pass --text2-column for the second text");
            var table = file.Task.TokenLevel ? Data.TokenClassification.TaggedFiles.ReadTable(read, tagged.Read(parse)) : TabularReader.Read(read);
            // The task predicts and scores: a bi-encoder embeds each text of a pair on its own.
            var (final, text) = file.Training.Evaluate(file.Predictor, table.Rows, table.Path);
            if (parse.GetValue(json))
                Console.WriteLine(new JsonObject { ["model"] = parse.GetValue(model), ["data"] = table.Path, ["task"] = file.Task.Name, ["final"] = final }
                    .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else
                Console.WriteLine(text);
            return ExitCodes.Success;
        });
        return command;
    }
}
