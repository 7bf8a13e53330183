using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Training;

namespace MlNetBert.Export;

/// <summary>What <see cref="EnsembleFolder.Create"/> wrote.</summary>
/// <param name="Folder">The ensemble folder.</param>
/// <param name="ModelOnnx">Its one ONNX file, which runs every member and averages.</param>
/// <param name="Card">The file's card (the members' task and labels, <see cref="ModelCard.EnsembleMembers"/>).</param>
/// <param name="Parity">The merged file against the members run one by one and averaged.</param>
/// <param name="SizeBytes">The ONNX file's size.</param>
public sealed record EnsembleResult(string Folder, string ModelOnnx, ModelCard Card, ParityReport Parity, long SizeBytes);

/// <summary>
/// An ensemble as a model folder (<c>mlnetbert ensemble</c>): <c>model.onnx</c>, one file whose graph runs the members
/// and averages them (<see cref="OnnxEnsemble"/>), verified against the members, and <c>ensemble.json</c> naming the
/// members. <c>evaluate</c>, <c>predict</c>, <c>serve</c> and <c>--teacher</c> read the folder or its file like any model.
/// </summary>
public static class EnsembleFolder
{
    /// <summary>The folder's description of its members.</summary>
    public const string ManifestName = "ensemble.json";

    /// <summary>
    /// Writes the ensemble of <paramref name="members"/> (run folders, model.onnx files, or model.zip files, which are
    /// exported and verified first) into <paramref name="folder"/>, which must not exist or be empty.
    /// </summary>
    /// <param name="members">At least two models of the same task, labels and tokenizer.</param>
    /// <param name="folder">The ensemble folder to create.</param>
    /// <param name="checkRows">Texts to verify the merged file on; default: <see cref="TrainedModelExport.BuiltInCheckRows"/>.</param>
    /// <exception cref="BadInputException">Fewer than two members, members that do not fit together, or a folder in use.</exception>
    public static EnsembleResult Create(IReadOnlyList<string> members, string folder, IReadOnlyList<(string Text, string? Text2)>? checkRows = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count < 2)
            throw new BadInputException($"an ensemble needs at least 2 models (--model A --model B), got {members.Count}");
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new BadInputException($"{folder}: the folder exists and is not empty; name a new folder for the ensemble");
        var files = members.Select(m => TrainedModels.Resolve(m, preferOnnx: true)).ToList();
        var rows = checkRows is { Count: > 0 } ? checkRows : TrainedModelExport.BuiltInCheckRows;
        bool created = !Directory.Exists(folder);
        Directory.CreateDirectory(folder);
        var exported = new List<string>();
        bool written = false;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                if (!files[i].EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
                    continue;
                // A model.zip without its ONNX file: export it (verified) beside the ensemble for the merge.
                string onnx = Path.Combine(folder, $".member{i}.onnx");
                using (var zip = BertTaskModel.Load(files[i]))
                    TrainedModelExport.Export(zip, onnx, rows);
                exported.Add(onnx);
                files[i] = onnx;
            }
            string path = Path.Combine(folder, TrainedModels.OnnxFileName);
            var parity = OnnxEnsemble.Write(files, path, rows);
            using var model = BertOnnxModel.Load(path);
            long size = new FileInfo(path).Length;
            var manifest = new JsonObject
            {
                ["task"] = model.Card.Task,
                ["labels"] = new JsonArray(model.Card.Labels.Select(l => (JsonNode)l).ToArray()),
                ["members"] = new JsonArray(members.Select(m => (JsonNode)Path.GetFullPath(m)).ToArray()),
                ["model_onnx_bytes"] = size,
                ["parity"] = new JsonObject
                {
                    ["rows"] = parity.Rows,
                    ["output"] = parity.Output,
                    ["max_abs_difference"] = parity.MaxAbsDifference,
                    ["argmax_agreement"] = parity.ArgmaxAgreement,
                    ["tolerance"] = OnnxEnsemble.Tolerance,
                },
            };
            AtomicFile.WriteAllText(Path.Combine(folder, ManifestName), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            written = true;
            return new EnsembleResult(folder, path, model.Card, parity, size);
        }
        finally
        {
            foreach (var f in exported)
                File.Delete(f);
            // A failed ensemble leaves nothing behind, not even the folder it made.
            if (!written && created && Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }
}
