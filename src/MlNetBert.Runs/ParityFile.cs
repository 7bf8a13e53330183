using System.Text.Json.Nodes;
using MlNetBert.Export;

namespace MlNetBert.Runs;

/// <summary>parity.json: how an ONNX export compared with the model it came from. The one writer for train, NAS-BERT train, sweep and export.</summary>
public static class ParityFile
{
    /// <summary>Writes <paramref name="run"/>'s parity.json, atomically.</summary>
    /// <param name="run">The run folder whose model.onnx the report is about.</param>
    /// <param name="report">The export's parity report.</param>
    /// <param name="source">What the check ran on ("validation rows", "built-in sample", a file).</param>
    public static void Write(RunFolder run, ParityReport report, string source) =>
        RunMetrics.Write(run.ParityJson, ToJson(report, source));

    /// <summary>The report as parity.json holds it (also what <c>mlnetbert export --json</c> prints).</summary>
    public static JsonObject ToJson(ParityReport report, string source)
    {
        var json = new JsonObject
        {
            ["rows"] = report.Rows,
            ["source"] = source,
            ["output"] = report.Output,
            ["max_abs_difference"] = report.MaxAbsDifference,
            ["argmax_agreement"] = report.ArgmaxAgreement,
        };
        // An embedding is judged by the direction of each row's vector.
        if (report.Output == Inference.ModelFileFormat.Embedding)
            json["min_cosine"] = report.MinCosine;
        return json;
    }
}
