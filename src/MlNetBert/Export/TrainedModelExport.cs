using System.Globalization;
using MlNetBert.Inference;
using MlNetBert.Tokenization;
using MlNetBert.Training;

namespace MlNetBert.Export;

/// <summary>
/// Exports a fine-tuned <see cref="BertTaskModel"/> to one ONNX file and verifies it against the TorchSharp model
/// on real sentences before the file appears under its name: a file that fails parity is never left behind.
/// </summary>
public static class TrainedModelExport
{
    /// <summary>Built-in check sentences used when no check file is given: varied lengths, punctuation and casing.</summary>
    public static IReadOnlyList<(string Text, string? Text2)> BuiltInCheckRows { get; } =
    [
        ("A gripping, beautifully acted film that stays with you.", "The movie was moving and well performed."),
        ("The plot is thin and the jokes fall flat.", "It was not funny at all."),
        ("Service was slow, but the food made up for it!", "The food was good even though the service was slow."),
        ("I wouldn't recommend this phone to anyone.", "This phone is terrible."),
        ("Absolutely wonderful.", "Great."),
        ("What time does the museum open on Sundays?", "When is the museum open?"),
        ("The committee postponed its decision until next March, citing incomplete financial reports from three member states.", "A decision was delayed."),
        ("Neither the soundtrack nor the camera work could rescue a script this lifeless and predictable.", "The script was lively."),
        ("ok", "fine"),
        ("Café owners in Zürich say tourism is recovering faster than expected.", "Tourism in Zurich is recovering."),
        ("It's not bad at all — actually, I quite liked it.", "I liked it."),
        ("Terrible battery life; the screen, however, is gorgeous.", "The screen is nice but the battery is bad."),
    ];

    /// <summary>The head description the exporter needs, from the model's task info.</summary>
    public static BertHeadSpec HeadSpec(BertTaskModel model) => new()
    {
        Task = model.Info.Task switch
        {
            BertTask.TextClassification => BertTasks.TextClassification,
            BertTask.PairClassification => BertTasks.PairClassification,
            _ => BertTasks.SentenceSimilarity,
        },
        Pooling = model.Info.Pooling == Modeling.Pooling.Mean ? "mean" : "cls",
        Labels = model.Info.Labels,
        ScoreScale = model.Info.ScoreScale,
        ScoreOffset = model.Info.ScoreOffset,
        MaxLength = model.Info.MaxLength,
        CheckpointName = model.Info.Checkpoint,
        LowerCase = model.Info.LowerCase,
    };

    /// <summary>
    /// Writes <paramref name="outputPath"/> and returns the parity report; throws (and writes nothing) when the
    /// exported graph does not reproduce TorchSharp as closely as its variant must (<see cref="VariantCheck.For"/>):
    /// float32 logits within <paramref name="tolerance"/> and every label the same; float16 probabilities within
    /// 1e-2; int8 labels the same on at least 97% of the rows.
    /// </summary>
    public static ParityReport Export(BertTaskModel model, string outputPath, IReadOnlyList<(string Text, string? Text2)>? checkRows = null,
        OnnxExportOptions? options = null, double tolerance = OnnxParity.DefaultTolerance)
    {
        options ??= new OnnxExportOptions();
        bool similarity = model.Info.Task == BertTask.SentenceSimilarity;
        var check = VariantCheck.For(options, similarity, tolerance, model.Info.ScoreScale);
        bool pair = model.Info.Text2Column is not null || model.Info.Task != BertTask.TextClassification;
        var rows = (checkRows is { Count: > 0 } ? checkRows : BuiltInCheckRows)
            .Select(r => model.Encoder.Encode(r.Text, pair ? r.Text2 ?? "" : null, model.Info.MaxLength)).ToList();
        var logits = Predictor.Logits(model.Network, rows);
        IReadOnlyList<float[]> expected = similarity
            ? logits.Select(l => new[] { l[0] * model.Info.ScoreScale + model.Info.ScoreOffset }).ToList()
            : check.Output == ModelFileFormat.Probabilities ? logits.Select(Scores.Softmax).ToList() : logits;

        var metadata = model.Info.Metrics.ToDictionary(
            kv => "mlnetbert.metric." + kv.Key, kv => kv.Value.ToString("R", CultureInfo.InvariantCulture));
        string full = Path.GetFullPath(outputPath);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.unverified");
        try
        {
            OnnxExporter.Export(model.Config, model.ExportTensors(), HeadSpec(model), model.VocabText, temp, metadata, options);
            var report = OnnxParity.Check(temp, rows, expected, check);
            File.Move(temp, full, overwrite: true);
            return report;
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

}
