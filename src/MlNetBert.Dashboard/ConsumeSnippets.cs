using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Inference;
using MlNetBert.Runs;
using MlNetBert.Tasks;

namespace MlNetBert.Dashboard;

/// <summary>One copy-ready snippet of the "use this model" panel.</summary>
/// <param name="Title">What it does.</param>
/// <param name="Language"><c>csharp</c> or <c>bash</c>.</param>
/// <param name="Code">The code, with the run's paths, column names and labels filled in.</param>
public sealed record Snippet(string Title, string Language, string Code);

/// <summary>
/// Consume code for one run, filled with what the run really has: its folder's full paths, the model's input columns
/// (from the model card), its labels, and its ML.NET output columns as the task declares them
/// (<see cref="TrainingTask.AddOutputColumns(DataViewSchema.Builder, string, string, ModelCard)"/>), so no task is
/// spelled out here.
/// </summary>
public static class ConsumeSnippets
{
    /// <summary>The snippets for <paramref name="run"/>, a run of <paramref name="card"/>'s task.</summary>
    public static IReadOnlyList<Snippet> For(RunFolder run, ModelCard card)
    {
        var task = TrainingTasks.Get(card.Task, "model card");
        string sample = card.Task == "question-answering" ? "Who wrote it?" : "A warm, funny and clever film.";
        string sample2 = card.Task == "question-answering" ? "The book was written by Jane Austen in 1813." : "A clever, funny film.";
        bool pair = task.Inference.ReadsPair;
        var snippets = new List<Snippet>();
        if (File.Exists(run.ModelZip) || !File.Exists(run.ModelOnnx))
            snippets.Add(new Snippet("ML.NET: load model.zip and predict (PredictionEngine)", "csharp", MlNet(run, card, task, pair, sample, sample2)));
        snippets.Add(new Snippet("ONNX Runtime: model.onnx with the inference library (package MlNetBert.Inference)", "csharp", $$"""
            using MlNetBert.Inference;

            using var model = BertOnnxModel.Load({{Quote(run.ModelOnnx)}});
            var prediction = model.Predict({{Quote(sample)}}{{(pair ? ", " + Quote(sample2) : "")}});
            Console.WriteLine(model.TaskDefinition.Describe(prediction, model.Card));
            """));
        string input = pair
            ? $$"""{"inputs": [{"text": {{Json(sample)}}, "text2": {{Json(sample2)}}}]}"""
            : $$"""{"inputs": [{{Json(sample)}}]}""";
        snippets.Add(new Snippet("Serve over HTTP: mlnetbert serve + curl", "bash", $"""
            mlnetbert serve --model {Shell(run.Path)}
            curl -s localhost:5000/v1/predict -H 'Content-Type: application/json' \
              -d '{input}'
            """));
        snippets.Add(new Snippet("Triton Inference Server: a model repository", "bash", $"""
            mlnetbert export --model {Shell(File.Exists(run.ModelZip) ? run.ModelZip : run.Path)} --format triton --out triton-repo --name {Shell(TritonName(run))} --instance-kind cpu
            tritonserver --model-repository=triton-repo
            """));
        return snippets;
    }

    private static string MlNet(RunFolder run, ModelCard card, TrainingTask task, bool pair, string sample, string sample2)
    {
        var builder = new DataViewSchema.Builder();
        task.AddOutputColumns(builder, "Score", "PredictedLabel", card);
        var outputs = new StringBuilder();
        foreach (var column in builder.ToSchema())
        {
            string type = CSharpType(column.Type, task.KeyLabel);
            string comment = column.Name switch
            {
                "PredictedLabel" when card.Labels.Count > 0 => "// one of: " + string.Join(", ", card.Labels),
                "Score" when task.KeyLabel && column.Type is VectorDataViewType { Size: > 0 } => "// probabilities of " + string.Join(", ", card.Labels),
                _ => "",
            };
            string init = type == "string" ? " = \"\";" : type.EndsWith("[]", StringComparison.Ordinal) ? " = [];" : "";
            outputs.Append($"    public {type} {column.Name} {{ get; set; }}{init} {comment}".TrimEnd()).Append('\n');
        }
        string inputs = $"    public string {card.TextColumn} {{ get; set; }} = \"\";\n"
            + (pair && card.Text2Column is { } t2 ? $"    public string {t2} {{ get; set; }} = \"\";\n" : "");
        string predicted = builder.ToSchema().Any(c => c.Name == "PredictedLabel") ? "PredictedLabel" : "Score";
        string assign = $"{card.TextColumn} = {Quote(sample)}" + (pair && card.Text2Column is { } c2 ? $", {c2} = {Quote(sample2)}" : "");
        string show = CSharpType(builder.ToSchema()[predicted].Type, task.KeyLabel).EndsWith("[]", StringComparison.Ordinal)
            ? $"string.Join(\" \", output.{predicted})"
            : $"output.{predicted}";
        return $$"""
            using Microsoft.ML;
            using MlNetBert.MlNet;                                  // RegisterMlNetBert (package MlNetBert)

            var ml = new MLContext();
            ml.ComponentCatalog.RegisterMlNetBert();
            var model = ml.Model.Load({{Quote(run.ModelZip)}}, out _);
            var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);
            var output = engine.Predict(new ModelInput { {{assign}} });
            Console.WriteLine({{show}});

            public sealed class ModelInput
            {
            {{inputs.TrimEnd('\n')}}
            }

            public sealed class ModelOutput
            {
            {{outputs.ToString().TrimEnd('\n')}}
            }
            """;
    }

    // Key columns come out of model.zip as text: the run saved MapKeyToValue after the model.
    private static string CSharpType(DataViewType type, bool keyLabel) => type switch
    {
        KeyDataViewType when keyLabel => "string",
        VectorDataViewType { ItemType: KeyDataViewType } when keyLabel => "string[]",
        VectorDataViewType v when v.ItemType == NumberDataViewType.Single => "float[]",
        _ when type == NumberDataViewType.Single => "float",
        TextDataViewType => "string",
        _ => "object",
    };

    private static string TritonName(RunFolder run)
    {
        var name = new string(Path.GetFileName(run.Path).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());
        return name.Length == 0 || !char.IsAsciiLetter(name[0]) ? "model-" + name : name;
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private static string Shell(string s) => s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_') ? s : "'" + s.Replace("'", "'\\''") + "'";
}
