using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Inference;
using MlNetBert.Tokenization;

namespace MlNetBert.Export;

/// <summary>How closely an exported file reproduces the reference model's outputs on the same inputs.</summary>
/// <param name="MaxAbsDifference">Largest |ONNX − reference| over every output value of every row.</param>
/// <param name="ArgmaxAgreement">Fraction of rows whose highest-scoring label is the same in both (1.0 for similarity).</param>
/// <param name="Rows">How many rows were compared.</param>
public sealed record ParityReport(double MaxAbsDifference, double ArgmaxAgreement, int Rows)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Rows} rows: max |onnx - reference| = {MaxAbsDifference:E2}, argmax agreement = {ArgmaxAgreement:P2}");
}

/// <summary>
/// Verifies an exported model file against outputs computed by the reference (TorchSharp) model, by running the
/// file with ONNX Runtime on the same encoded rows.
/// </summary>
public static class OnnxParity
{
    /// <summary>The default tolerance on <see cref="ParityReport.MaxAbsDifference"/>.</summary>
    public const double DefaultTolerance = 1e-4;

    /// <summary>
    /// Runs the model file and compares, row by row, to <paramref name="expected"/>; throws when the files disagree.
    /// </summary>
    /// <param name="onnxPath">An exported file (see <see cref="OnnxExporter"/>).</param>
    /// <param name="rows">Encoded inputs (the caller's tokenization, also used for the reference).</param>
    /// <param name="expected">Per row: the logits for classification tasks, or a single value (the score) for similarity.</param>
    /// <param name="tolerance">Largest allowed absolute difference (default 1e-4).</param>
    /// <param name="batchSize">Rows per ONNX Runtime call.</param>
    /// <exception cref="InvalidOperationException">The max difference exceeds the tolerance or some argmax differs; the message has the numbers.</exception>
    public static ParityReport Check(string onnxPath, IReadOnlyList<EncodedText> rows, IReadOnlyList<float[]> expected,
        double tolerance = DefaultTolerance, int batchSize = 32)
    {
        var report = Measure(onnxPath, rows, expected, batchSize);
        if (!(report.MaxAbsDifference <= tolerance) || report.ArgmaxAgreement < 1.0)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{onnxPath}: the exported model does not match the reference: {report} (allowed: max difference {tolerance:E1}, argmax agreement 100%)"));
        return report;
    }

    /// <summary>Like <see cref="Check"/>, but only reports, never throws on a mismatch.</summary>
    public static ParityReport Measure(string onnxPath, IReadOnlyList<EncodedText> rows, IReadOnlyList<float[]> expected, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (rows.Count != expected.Count)
            throw new ArgumentException($"{rows.Count} rows but {expected.Count} expected outputs", nameof(expected));
        if (rows.Count == 0)
            throw new ArgumentException("no rows to compare", nameof(rows));

        using var options = new SessionOptions();
        using var session = new InferenceSession(onnxPath, options);
        string task = session.ModelMetadata.CustomMetadataMap.GetValueOrDefault(ModelFileFormat.TaskKey)
            ?? throw new BadInputException($"{onnxPath}: no '{ModelFileFormat.TaskKey}' metadata; not an MlNetBert export");
        string output = task == BertTasks.SentenceSimilarity ? ModelFileFormat.Score : ModelFileFormat.Logits;

        double maxDiff = 0;
        int agree = 0;
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, rows.Count - start);
            float[] actual = Run(session, rows, start, count, output);
            int width = actual.Length / count;
            for (int r = 0; r < count; r++)
            {
                float[] want = expected[start + r];
                if (want.Length != width)
                    throw new ArgumentException($"expected row {start + r} has {want.Length} values, the model's '{output}' has {width}", nameof(expected));
                var got = actual.AsSpan(r * width, width);
                for (int j = 0; j < width; j++)
                {
                    // Math.Max propagates NaN, so a NaN output fails the check instead of hiding.
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)got[j] - want[j]));
                }
                if (width == 1 || ArgMax(got) == ArgMax(want))
                    agree++;
            }
        }
        return new ParityReport(maxDiff, (double)agree / rows.Count, rows.Count);
    }

    private static float[] Run(InferenceSession session, IReadOnlyList<EncodedText> rows, int start, int count, string output)
    {
        int length = 0;
        for (int r = 0; r < count; r++)
            length = Math.Max(length, rows[start + r].Length);
        // Padding positions are masked out, so the padding id does not change real outputs; 0 is valid in any vocabulary.
        var ids = new long[count * length];
        var mask = new long[count * length];
        var types = new long[count * length];
        for (int r = 0; r < count; r++)
        {
            var row = rows[start + r];
            for (int t = 0; t < row.Length; t++)
            {
                ids[r * length + t] = row.InputIds[t];
                mask[r * length + t] = 1;
                types[r * length + t] = row.TokenTypeIds[t];
            }
        }
        long[] shape = [count, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds],
            [idsValue, maskValue, typesValue], [output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best])
                best = i;
        return best;
    }
}
