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

    /// <summary>
    /// Writes <paramref name="outputPath"/> and returns the parity report; throws (and writes nothing) when the
    /// exported graph does not reproduce TorchSharp as closely as the task's rule for the variant demands
    /// (<see cref="Tasks.TrainingTask.ParityRule"/>). The check rows are tokenized by the exported file's own
    /// tokenizer (its metadata), so a tokenizer mismatch between the two fails the check too.
    /// </summary>
    public static ParityReport Export(BertTaskModel model, string outputPath, IReadOnlyList<(string Text, string? Text2)>? checkRows = null,
        OnnxExportOptions? options = null, double tolerance = OnnxParity.DefaultTolerance)
    {
        options ??= new OnnxExportOptions();
        var card = model.Card;
        var check = model.Task.ParityRule(options, tolerance, card);
        int outputIndex = model.TaskDefinition.OutputNames.ToList().IndexOf(check.Output);
        bool pair = model.TaskDefinition.ReadsPair;
        var source = checkRows is { Count: > 0 } ? checkRows : model.Task.BuiltInCheckRows ?? BuiltInCheckRows;
        return OnnxParity.WriteVerified(outputPath, temp =>
        {
            OnnxExporter.Export(model.Config, model.ExportTensors(), card, model.VocabText, temp, options: options);
            // Tokenize with the file's own encoder, then run TorchSharp on exactly those ids.
            var rows = OnnxParity.EncodeWithFile(temp, source.Select(r => (r.Text, pair ? r.Text2 ?? "" : null)).ToList());
            var expected = Predictor.Logits(model.Network, rows).Select(l => model.Task.GraphOutputs(l, card)[outputIndex]).ToList();
            var report = OnnxParity.Check(temp, rows, expected, check);
            return model.Task.VerifyExport(model, temp, source, options, tolerance, report);
        });
    }
}
