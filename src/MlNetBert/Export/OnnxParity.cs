using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Inference;
using MlNetBert.Tokenization;

namespace MlNetBert.Export;

/// <summary>How closely an exported file reproduces the reference model's outputs on the same inputs.</summary>
/// <param name="MaxAbsDifference">Largest |ONNX − reference| over every output value of every row.</param>
/// <param name="ArgmaxAgreement">Fraction of rows (of tokens, for a per-token output) whose highest-scoring label is the same in both (1.0 for similarity).</param>
/// <param name="Rows">How many rows were compared.</param>
public sealed record ParityReport(double MaxAbsDifference, double ArgmaxAgreement, int Rows)
{
    /// <summary>The graph output compared: <c>logits</c>, <c>probabilities</c>, <c>score</c> or <c>embedding</c>.</summary>
    public string Output { get; init; } = ModelFileFormat.Logits;

    /// <summary>
    /// The smallest cosine similarity, over rows, between the file's output row and the reference's (1 when every
    /// row points the same way; 1 for one-value outputs). What an embedding's parity is judged by.
    /// </summary>
    public double MinCosine { get; init; } = 1;

    /// <summary>Per row, the file's highest-scoring output (classification; empty for similarity).</summary>
    public IReadOnlyList<int> ActualArgMax { get; init; } = [];

    /// <summary>Per row, the reference's highest-scoring output (classification; empty for similarity).</summary>
    public IReadOnlyList<int> ExpectedArgMax { get; init; } = [];

    /// <summary>
    /// Accuracy of the file and of the reference against true label indexes (one per row; a negative index is a row
    /// without a usable label and is skipped). Null when there are no usable labels or no argmaxes (similarity).
    /// </summary>
    public (double Actual, double Reference, int Rows)? Accuracy(IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (ActualArgMax.Count == 0 || labels.Count != ActualArgMax.Count)
            return null;
        int rows = 0, actual = 0, reference = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] < 0)
                continue;
            rows++;
            actual += ActualArgMax[i] == labels[i] ? 1 : 0;
            reference += ExpectedArgMax[i] == labels[i] ? 1 : 0;
        }
        return rows == 0 ? null : ((double)actual / rows, (double)reference / rows, rows);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Rows} rows: max |onnx - reference| of {Output} = {MaxAbsDifference:E2}, {(Output == ModelFileFormat.Embedding ? $"min cosine = {MinCosine.ToString("F6", CultureInfo.InvariantCulture)}" : $"argmax agreement = {ArgmaxAgreement:P2}")}");
}

/// <summary>What an export variant must reproduce of the reference model to be written.</summary>
/// <param name="Output">The graph output compared (<c>logits</c>, <c>probabilities</c> or <c>score</c>).</param>
/// <param name="MaxDifference">Largest allowed |file − reference| of that output (infinity: reported only).</param>
/// <param name="MinArgmaxAgreement">Smallest allowed fraction of rows with the same top label.</param>
public sealed record VariantCheck(string Output, double MaxDifference, double MinArgmaxAgreement)
{
    /// <summary>
    /// Values per argmax for a per-token output ([sequence, labels] per row: the label count), so agreement is counted
    /// per token and a row's padding positions are not compared; 0 (default): one argmax over the whole row.
    /// </summary>
    public int ArgmaxGroup { get; init; }

    /// <summary>Smallest allowed cosine similarity of any row's output to the reference's (default: not checked).</summary>
    public double MinCosine { get; init; } = double.NegativeInfinity;

    /// <summary>Float16 outputs may differ by this much (probabilities; scores per unit of score scale).</summary>
    public const double Float16Tolerance = 1e-2;

    /// <summary>
    /// A float16 classifier fails when fewer rows than this keep their label: only rows whose top two probabilities
    /// are within the float16 tolerance of each other may flip.
    /// </summary>
    public const double Float16MinArgmaxAgreement = 0.99;

    /// <summary>An int8 file fails only when fewer rows than this keep their label.</summary>
    public const double Int8MinArgmaxAgreement = 0.97;

    /// <summary>
    /// The rule for a variant: float32 (plain or optimized) logits within <paramref name="tolerance"/> and every label
    /// the same; float16 probabilities within 1e-2 and at least 99% of labels the same; int8 differences reported and
    /// at least 97% of labels the same.
    /// </summary>
    public static VariantCheck For(OnnxExportOptions options, bool similarity, double tolerance = OnnxParity.DefaultTolerance, double scoreScale = 1)
    {
        ArgumentNullException.ThrowIfNull(options);
        string main = similarity ? ModelFileFormat.Score : ModelFileFormat.Logits;
        if (options.Quantize == OnnxQuantization.Int8)
            return new VariantCheck(main, double.PositiveInfinity, Int8MinArgmaxAgreement);
        if (options.Float16)
            return similarity
                ? new VariantCheck(main, Float16Tolerance * Math.Max(1, Math.Abs(scoreScale)), 0)
                : new VariantCheck(ModelFileFormat.Probabilities, Float16Tolerance, Float16MinArgmaxAgreement);
        return new VariantCheck(main, tolerance, 1.0);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(double.IsPositiveInfinity(MaxDifference) ? $"max |diff| of {Output} reported" : $"max |diff| of {Output} <= {MaxDifference:E1}")}, {(double.IsNegativeInfinity(MinCosine) ? $"argmax agreement >= {MinArgmaxAgreement:P0}" : "cosine per row >= " + MinCosine.ToString(CultureInfo.InvariantCulture))}");
}

/// <summary>
/// Verifies an exported model file against outputs computed by the reference (TorchSharp) model, by running the
/// file with ONNX Runtime on the same encoded rows.
/// </summary>
public static class OnnxParity
{
    /// <summary>
    /// Encodes check rows with the tokenizer stored in <paramref name="onnxPath"/>'s own metadata, so a parity check also
    /// catches a file whose tokenizer (vocabulary, casing, maximum length) differs from the training model's.
    /// </summary>
    public static List<EncodedText> EncodeWithFile(string onnxPath, IReadOnlyList<(string Text, string? Text2)> rows)
    {
        using var model = BertOnnxModel.Load(onnxPath);
        return rows.Select(r => model.Encode(r.Text, r.Text2)).ToList();
    }

    /// <summary>
    /// The one export → verify → rename sequence: <paramref name="writeAndCheck"/> writes the file to a temporary name
    /// next to <paramref name="outputPath"/> and checks it (throwing on a mismatch); only a verified file is renamed to
    /// <paramref name="outputPath"/>, and a failed one never stays behind.
    /// </summary>
    public static ParityReport WriteVerified(string outputPath, Func<string, ParityReport> writeAndCheck)
    {
        string full = Path.GetFullPath(outputPath);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.unverified");
        try
        {
            var report = writeAndCheck(temp);
            File.Move(temp, full, overwrite: true);
            return report;
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

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
    /// <exception cref="ExportRefusedException">The max difference exceeds the tolerance or some argmax differs; the message has the numbers.</exception>
    public static ParityReport Check(string onnxPath, IReadOnlyList<EncodedText> rows, IReadOnlyList<float[]> expected,
        double tolerance = DefaultTolerance, int batchSize = 32)
    {
        var report = Measure(onnxPath, rows, expected, batchSize);
        return Enforce(onnxPath, report, new VariantCheck(report.Output, tolerance, 1.0));
    }

    /// <summary>
    /// Compares <paramref name="check"/>'s output row by row to <paramref name="expected"/> (which holds that output's
    /// reference values) and throws when the difference or the argmax agreement is outside the rule.
    /// </summary>
    public static ParityReport Check(string onnxPath, IReadOnlyList<EncodedText> rows, IReadOnlyList<float[]> expected, VariantCheck check, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(check);
        return Enforce(onnxPath, Measure(onnxPath, rows, expected, batchSize, check.Output, check.ArgmaxGroup), check);
    }

    private static ParityReport Enforce(string onnxPath, ParityReport report, VariantCheck check)
    {
        // NaN fails the first test (a comparison with NaN is false).
        if (!(report.MaxAbsDifference <= check.MaxDifference) || report.ArgmaxAgreement < check.MinArgmaxAgreement || !(report.MinCosine >= check.MinCosine))
            throw new ExportRefusedException($"{onnxPath}: the exported model does not match the reference: {report} (allowed: {check})");
        return report;
    }

    /// <summary>Like <see cref="Check(string, IReadOnlyList{EncodedText}, IReadOnlyList{float[]}, double, int)"/>, but only reports, never throws on a mismatch.</summary>
    /// <param name="onnxPath">An exported file.</param>
    /// <param name="rows">Encoded inputs.</param>
    /// <param name="expected">Per row, the reference values of <paramref name="output"/>.</param>
    /// <param name="batchSize">Rows per ONNX Runtime call.</param>
    /// <param name="output">The graph output to compare; default <c>logits</c> (classification) or <c>score</c> (similarity).</param>
    /// <param name="argmaxGroup">
    /// For a per-token output: the label count. Each row's expected values are then its real tokens' [tokens, labels]
    /// (shorter than the padded batch row, whose padding positions are skipped), and agreement is counted per token.
    /// </param>
    public static ParityReport Measure(string onnxPath, IReadOnlyList<EncodedText> rows, IReadOnlyList<float[]> expected, int batchSize = 32, string? output = null,
        int argmaxGroup = 0)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (rows.Count != expected.Count)
            throw new ArgumentException($"{rows.Count} rows but {expected.Count} expected outputs", nameof(expected));
        if (rows.Count == 0)
            throw new ArgumentException("no rows to compare", nameof(rows));

        using var session = OnnxSessions.OpenCpu(onnxPath);
        string task = session.ModelMetadata.CustomMetadataMap.GetValueOrDefault(ModelFileFormat.TaskKey)
            ?? throw new BadInputException($"{onnxPath}: no '{ModelFileFormat.TaskKey}' metadata; not an MlNetBert export");
        output ??= InferenceTasks.Get(task, onnxPath).OutputNames[0];
        if (!session.OutputMetadata.ContainsKey(output))
            throw new ArgumentException($"{onnxPath}: no graph output '{output}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)})", nameof(output));

        double maxDiff = 0, minCosine = 1;
        int agree = 0, groups = 0;
        var actualArgMax = new List<int>(rows.Count);
        var expectedArgMax = new List<int>(rows.Count);
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, rows.Count - start);
            float[] actual = Run(session, rows, start, count, output);
            int width = actual.Length / count;
            for (int r = 0; r < count; r++)
            {
                float[] want = expected[start + r];
                if (argmaxGroup > 0)
                {
                    if (want.Length > width || want.Length % argmaxGroup != 0)
                        throw new ArgumentException($"expected row {start + r} has {want.Length} values, not a whole number of tokens of {argmaxGroup} within the model's {width}", nameof(expected));
                    var row = actual.AsSpan(r * width, want.Length);
                    for (int j = 0; j < want.Length; j++)
                        maxDiff = Math.Max(maxDiff, Math.Abs((double)row[j] - want[j]));
                    for (int g = 0; g < want.Length; g += argmaxGroup, groups++)
                        if (Scores.ArgMax(row.Slice(g, argmaxGroup)) == Scores.ArgMax(want.AsSpan(g, argmaxGroup)))
                            agree++;
                    continue;
                }
                if (want.Length != width)
                    throw new ArgumentException($"expected row {start + r} has {want.Length} values, the model's '{output}' has {width}", nameof(expected));
                var got = actual.AsSpan(r * width, width);
                for (int j = 0; j < width; j++)
                {
                    // Math.Max propagates NaN, so a NaN output fails the check instead of hiding.
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)got[j] - want[j]));
                }
                if (width > 1)
                {
                    // NaN (a NaN output) makes Math.Min NaN, which fails the cosine check too.
                    minCosine = Math.Min(minCosine, SentenceEmbeddingTask.Cosine(got, want));
                    actualArgMax.Add(Scores.ArgMax(got));
                    expectedArgMax.Add(Scores.ArgMax(want));
                }
                if (width == 1 || Scores.ArgMax(got) == Scores.ArgMax(want))
                    agree++;
            }
        }
        return new ParityReport(maxDiff, (double)agree / (argmaxGroup > 0 ? Math.Max(1, groups) : rows.Count), rows.Count)
        {
            Output = output,
            MinCosine = minCosine,
            ActualArgMax = actualArgMax,
            ExpectedArgMax = expectedArgMax,
        };
    }

    private static float[] Run(InferenceSession session, IReadOnlyList<EncodedText> rows, int start, int count, string output)
    {
        // Padding positions are masked out, so the padding id does not change real outputs; 0 is valid in any vocabulary.
        var batch = EncodedBatch.PadToLongest(rows.Skip(start).Take(count).ToList());
        long[] shape = [count, batch.SequenceLength];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds],
            [idsValue, maskValue, typesValue], [output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

}
