using MlNetBert.Export;
using MlNetBert.Inference;

namespace MlNetBert.NasBert;

/// <summary>
/// Exports an ML.NET NAS-BERT .zip (<see cref="NasBertOnnxExporter"/>) and verifies the file against ML.NET itself on
/// real sentences before it appears under its name: ML.NET's TextClassification / SentenceSimilarity transformer scores
/// the rows one at a time, the ONNX file scores them through <see cref="BertOnnxModel"/> (its own tokenizer, batches of 32).
/// </summary>
public static class NasBertExport
{
    /// <summary>Writes <paramref name="outOnnx"/> and returns the parity report; throws and writes nothing when they differ.</summary>
    public static ParityReport ExportVerified(string mlnetZip, string outOnnx, IReadOnlyList<(string Text, string? Text2)>? checkRows = null,
        double tolerance = OnnxParity.DefaultTolerance)
    {
        var rows = checkRows is { Count: > 0 } ? checkRows : TrainedModelExport.BuiltInCheckRows;
        return OnnxParity.WriteVerified(outOnnx, temp =>
        {
            var info = NasBertOnnxExporter.Export(mlnetZip, temp);
            var report = Compare(mlnetZip, info, temp, rows);
            if (report.MaxAbsDifference > tolerance || report.ArgmaxAgreement < 1)
                throw new InvalidOperationException($"the exported graph does not reproduce ML.NET: {report} (tolerance {tolerance})");
            return report;
        });
    }

    private static ParityReport Compare(string mlnetZip, NasBertModelInfo info, string onnxPath, IReadOnlyList<(string Text, string? Text2)> rows)
    {
        bool pair = info.Sentence2Column is not null;
        var expected = MlNetScores(mlnetZip, info, rows);
        using var onnx = BertOnnxModel.Load(onnxPath);
        var actual = onnx.PredictBatch(rows.Select(r => r.Text).ToList(), pair ? rows.Select(r => r.Text2 ?? "").ToList() : null);
        double worst = 0;
        int agree = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            float[] got = actual[i].Logits ?? [actual[i].Score ?? float.NaN];
            if (got.Length != expected[i].Length)
                throw new InvalidOperationException($"row {i}: ONNX gives {got.Length} outputs, ML.NET {expected[i].Length}");
            for (int j = 0; j < got.Length; j++)
                worst = Math.Max(worst, double.IsNaN(got[j]) ? double.PositiveInfinity : Math.Abs(got[j] - expected[i][j]));
            agree += Scores.ArgMax(got) == Scores.ArgMax(expected[i]) ? 1 : 0;
        }
        return new ParityReport(worst, rows.Count == 0 ? 1 : (double)agree / rows.Count, rows.Count);
    }

    /// <summary>ML.NET's own outputs: raw logits (TextClassification's Score) or the similarity score.</summary>
    private static List<float[]> MlNetScores(string mlnetZip, NasBertModelInfo info, IReadOnlyList<(string Text, string? Text2)> rows)
    {
        using var scorer = new NasBertMlNetScorer(mlnetZip, info);
        return scorer.Transform(rows);
    }
}
