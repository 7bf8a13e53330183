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
        var question = new Option<string?>("--question") { Description = "question-answering: the question (same as --text)." };
        var context = new Option<string?>("--context") { Description = "question-answering: the context the answer is cut from (same as --text2)." };
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
              mlnetbert predict --model models/runs/qa/model.onnx --question "Who built it?" --context "The bridge was built by Ada Lee in 1901."
            """)
        {
            model, text, text2, question, context, input, output, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            string? one = parse.GetValue(text) ?? parse.GetValue(question), inputFile = parse.GetValue(input), outputFile = parse.GetValue(output);
            if ((one is null) == (inputFile is null))
                throw new BadInputException("pass either --text (with --text2 for pairs) or --input FILE --output FILE");
            if (inputFile is not null && outputFile is null)
                throw new BadInputException("--input needs --output FILE for the predictions");
            using var file = ModelFile.Open(parse.GetValue(model)!);
            var card = file.Card;
            if (one is not null)
            {
                string? two = parse.GetValue(text2) ?? parse.GetValue(context);
                if (file.Task.ReadsPair && two is null)
                    throw new BadInputException(file.Training.ReadsAnswerSpan ? $"the model is {file.Task}: pass --question and --context" : $"the model is {file.Task}: pass --text2 as well");
                var prediction = file.Predict([one], two is null ? null : [two])[0];
                Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(file.Task.ToOutput(prediction, card), InferenceTask.OutputJson) : file.Task.Describe(prediction, card));
                return ExitCodes.Success;
            }

            // Question answering reads SQuAD .json or a Context/Question table (answers optional).
            var table = file.Training.ReadsAnswerSpan ? Data.QuestionAnswering.QuestionAnswerFiles.ReadTable(inputFile!)
                : TabularReader.Read(data.Read(parse, inputFile!, LabelKind.None));
            var texts = table.Rows.Select(r => r.Text).ToList();
            var texts2 = file.Task.ReadsPair ? table.Rows.Select(r => r.Text2 ?? "").ToList() : null;
            var predictions = file.Predict(texts, texts2);
            var sb = new StringBuilder();
            sb.Append("line\ttext");
            if (texts2 is not null)
                sb.Append("\ttext2");
            sb.Append('\t').AppendJoin('\t', file.Task.TableColumns(card)).Append('\n');
            for (int i = 0; i < texts.Count; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{table.Rows[i].Line}\t{Clean(texts[i])}");
                if (texts2 is not null)
                    sb.Append('\t').Append(Clean(texts2[i]));
                sb.Append('\t').AppendJoin('\t', file.Task.TableCells(predictions[i], card).Select(Clean)).Append('\n');
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
}
