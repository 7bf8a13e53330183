using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using MlNetBert.Inference;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard.Tests;

/// <summary>The "use this model" snippets: filled with the run's real paths and labels, and the C# ones compile and print the model's answer.</summary>
[TestClass]
public sealed class SnippetTests
{
    private static DashboardRuns Runs => DashboardRuns.Get;

    private static async Task<Dictionary<string, string>> Snippets(string run)
    {
        string body = await Runs.Http.GetStringAsync("/api/run/snippets?id=" + run);
        return JsonNode.Parse(body)!.AsArray().ToDictionary(s => s!["title"]!.GetValue<string>().Split(':')[0], s => s!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Snippets_NameTheRunsRealFiles_ColumnsAndLabels()
    {
        var run = RunFolder.At(Path.Combine(Runs.Root, DashboardRuns.Exported));
        var snippets = await Snippets(DashboardRuns.Exported);

        CollectionAssert.AreEquivalent(new[] { "ML.NET", "ONNX Runtime", "Serve over HTTP", "Triton Inference Server" }, snippets.Keys.ToArray());
        StringAssert.Contains(snippets["ML.NET"], $"ml.Model.Load(\"{run.ModelZip}\", out _)");
        StringAssert.Contains(snippets["ML.NET"], "public string Text { get; set; } = \"\";");
        StringAssert.Contains(snippets["ML.NET"], "public string PredictedLabel { get; set; } = \"\"; // one of: negative, positive");
        StringAssert.Contains(snippets["ML.NET"], "public float[] Score { get; set; } = []; // probabilities of negative, positive");
        StringAssert.Contains(snippets["ONNX Runtime"], $"BertOnnxModel.Load(\"{run.ModelOnnx}\")");
        StringAssert.Contains(snippets["Serve over HTTP"], $"mlnetbert serve --model {run.Path}");
        StringAssert.Contains(snippets["Serve over HTTP"], """-d '{"inputs": ["A warm, funny and clever film."]}'""");
        StringAssert.Contains(snippets["Triton Inference Server"], $"mlnetbert export --model {run.ModelZip} --format triton --out triton-repo --name lr-2e-4");
    }

    [TestMethod]
    public async Task MlNetAndOnnxSnippets_Compile_AndPrintWhatTheModelPredicts()
    {
        var snippets = await Snippets(DashboardRuns.Exported);
        using var model = BertOnnxModel.Load(Path.Combine(Runs.Root, DashboardRuns.Exported, RunFolder.ModelOnnxName));
        var expected = model.Predict("A warm, funny and clever film.");

        string onnxOutput = CompileAndRun(snippets["ONNX Runtime"]);
        Assert.AreEqual(model.TaskDefinition.Describe(expected, model.Card), onnxOutput.Trim());
        string mlnetOutput = CompileAndRun(snippets["ML.NET"]);
        Assert.AreEqual(expected.Label, mlnetOutput.Trim(), "model.zip through ML.NET's PredictionEngine gives model.onnx's label");
    }

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Latest);

    // What `dotnet new console` projects import (ImplicitUsings), where a user pastes the snippet.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    /// <summary>Compiles a top-level-statements program against the assemblies this test runs with, runs it here and returns what it printed.</summary>
    private static string CompileAndRun(string code)
    {
        string[] trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var compilation = CSharpCompilation.Create("Snippet" + Guid.NewGuid().ToString("N"),
            [CSharpSyntaxTree.ParseText(code, Parse), CSharpSyntaxTree.ParseText(ImplicitUsings, Parse)],
            trusted.Select(p => MetadataReference.CreateFromFile(p)),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.IsTrue(result.Success, "the snippet does not compile:\n" + string.Join("\n", errors) + "\n" + code);
        var entry = Assembly.Load(image.ToArray()).EntryPoint!;
        var printed = new StringWriter();
        var console = Console.Out;
        Console.SetOut(printed);
        try
        {
            entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
        }
        finally
        {
            Console.SetOut(console);
        }
        return printed.ToString();
    }
}
