using System.Globalization;
using Google.Protobuf;
using MlNetBert.Inference;
using Onnx;

namespace MlNetBert.Export;

/// <summary>
/// Merges the exported files of several models of one task into a single ONNX file whose graph runs every member on
/// the same inputs and averages them (<c>Mean</c> of the members' probabilities or scores; a classifier's
/// <c>logits</c> output is the logarithm of that mean, so its softmax is the mean). Each member's nodes, initializers
/// and intermediate values keep their names behind a prefix (<c>m0.</c>, <c>m1.</c>, ...); the three inputs are
/// shared. The card is the first member's with <c>mlnetbert.ensemble_members</c> set and no metrics.
/// </summary>
public static class OnnxEnsemble
{
    /// <summary>How closely the merged file must reproduce the members run one by one and averaged.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>
    /// Writes the merged file to <paramref name="outputPath"/> after checking it against the members run separately
    /// through ONNX Runtime and averaged (<see cref="ModelEnsemble"/>) on <paramref name="checkRows"/>: averaged output
    /// within <see cref="Tolerance"/> and every label the same. A file that fails is never left behind.
    /// </summary>
    /// <param name="memberFiles">The members' <c>model.onnx</c> files (at least two).</param>
    /// <param name="outputPath">The ensemble file to write.</param>
    /// <param name="checkRows">Texts (and second texts for pair tasks) to verify on.</param>
    /// <exception cref="BadInputException">Members of different tasks, labels, score scales or tokenizers, or a member that is itself an ensemble.</exception>
    public static ParityReport Write(IReadOnlyList<string> memberFiles, string outputPath, IReadOnlyList<(string Text, string? Text2)> checkRows)
    {
        ArgumentNullException.ThrowIfNull(memberFiles);
        if (memberFiles.Count < 2)
            throw new BadInputException($"an ensemble needs at least 2 models, got {memberFiles.Count}");
        var models = memberFiles.Select(Read).ToList();
        var merged = Merge(models, memberFiles);
        var card = ModelCard.FromMetadata(merged.MetadataProps.ToDictionary(e => e.Key, e => e.Value), outputPath);
        var (averaged, _) = card.TaskDefinition.EnsembleOutputs!.Value;
        bool pair = card.TaskDefinition.ReadsPair;
        var rows = checkRows.Select(r => (r.Text, pair ? r.Text2 ?? "" : null)).ToList();
        return OnnxParity.WriteVerified(outputPath, temp =>
        {
            using (var stream = File.Create(temp))
                merged.WriteTo(stream);
            var encoded = OnnxParity.EncodeWithFile(temp, rows);
            using var members = ModelEnsemble.Create(memberFiles.Select(f => (IBertPredictor)BertOnnxModel.Load(f)).ToList(), memberFiles);
            var predictions = members.PredictBatch(rows.Select(r => r.Item1).ToList(), pair ? rows.Select(r => r.Item2!).ToList() : null);
            var expected = predictions.Select(p => averaged == ModelFileFormat.Probabilities ? p.Probabilities! : [p.Score!.Value]).ToList();
            return OnnxParity.Check(temp, encoded, expected, new VariantCheck(averaged, Tolerance, 1.0));
        });
    }

    private static ModelProto Read(string path)
    {
        try
        {
            return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new BadInputException($"{path}: not an ONNX model file ({e.Message})", e);
        }
    }

    /// <summary>The tokenizer's payload in the metadata: members must share it, as they share the input ids.</summary>
    private static readonly string[] TokenizerKeys =
    [
        ModelFileFormat.TokenizerKey, ModelFileFormat.LowerCaseKey, ModelFileFormat.MaxLengthKey, ModelFileFormat.VocabKey,
        ModelFileFormat.BpeVocabKey, ModelFileFormat.BpeMergesKey, ModelFileFormat.FairseqDictKey,
    ];

    internal static ModelProto Merge(IReadOnlyList<ModelProto> members, IReadOnlyList<string> names)
    {
        var metadata = members.Select(m => m.MetadataProps.ToDictionary(e => e.Key, e => e.Value)).ToList();
        var cards = metadata.Select((m, i) => ModelCard.FromMetadata(m, names[i])).ToList();
        for (int i = 0; i < cards.Count; i++)
            if (cards[i].EnsembleMembers > 0)
                throw new BadInputException($"{names[i]}: already an ensemble of {cards[i].EnsembleMembers} models; list its members instead");
        ModelEnsemble.CheckAverageable(cards, names);
        for (int i = 1; i < members.Count; i++)
            foreach (var key in TokenizerKeys)
                if (metadata[i].GetValueOrDefault(key) != metadata[0].GetValueOrDefault(key))
                    throw new BadInputException($"{names[i]}: its tokenizer differs from {names[0]}'s ('{key}'); ensemble members share one tokenizer, as they read the same input ids");

        var (averaged, logOfAverage) = cards[0].TaskDefinition.EnsembleOutputs!.Value;
        var inputs = members[0].Graph.Input.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        var graph = new GraphProto { Name = "mlnetbert_ensemble" };
        graph.Input.AddRange(members[0].Graph.Input.Select(v => v.Clone()));
        for (int i = 0; i < members.Count; i++)
        {
            var g = members[i].Graph;
            var names_i = g.Input.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            if (!names_i.SetEquals(inputs))
                throw new BadInputException($"{names[i]}: graph inputs [{string.Join(", ", names_i)}] differ from {names[0]}'s [{string.Join(", ", inputs)}]");
            foreach (var output in g.Output)
                if (output.Name != averaged && output.Name != logOfAverage)
                    throw new BadInputException($"{names[i]}: graph output '{output.Name}' cannot be averaged (an ensemble averages '{averaged}')");
            string prefix = string.Create(CultureInfo.InvariantCulture, $"m{i}.");
            string Rename(string name) => name.Length == 0 || inputs.Contains(name) ? name : prefix + name;
            foreach (var init in g.Initializer)
            {
                var copy = init.Clone();
                copy.Name = Rename(init.Name);
                graph.Initializer.Add(copy);
            }
            if (g.SparseInitializer.Count > 0)
                throw new BadInputException($"{names[i]}: sparse initializers are not supported in an ensemble");
            foreach (var node in g.Node)
            {
                if (node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0))
                    throw new BadInputException($"{names[i]}: node '{node.Name}' ({node.OpType}) holds a subgraph; such graphs cannot be merged into an ensemble");
                var copy = node.Clone();
                copy.Name = prefix + node.Name;
                for (int k = 0; k < copy.Input.Count; k++)
                    copy.Input[k] = Rename(copy.Input[k]);
                for (int k = 0; k < copy.Output.Count; k++)
                    copy.Output[k] = Rename(copy.Output[k]);
                graph.Node.Add(copy);
            }
            foreach (var info in g.ValueInfo)
            {
                var copy = info.Clone();
                copy.Name = Rename(info.Name);
                graph.ValueInfo.Add(copy);
            }
        }
        graph.Node.Add(new NodeProto
        {
            Name = "ensemble.mean",
            OpType = "Mean",
            Input = { Enumerable.Range(0, members.Count).Select(i => string.Create(CultureInfo.InvariantCulture, $"m{i}.{averaged}")) },
            Output = { averaged },
        });
        if (logOfAverage is not null && members[0].Graph.Output.Any(o => o.Name == logOfAverage))
            graph.Node.Add(new NodeProto { Name = "ensemble.log", OpType = "Log", Input = { averaged }, Output = { logOfAverage } });
        graph.Output.AddRange(members[0].Graph.Output.Select(v => v.Clone()));

        var card = ModelEnsemble.EnsembleCard(cards[0], members.Count) with
        {
            ProjectVersion = ModelCard.CurrentProjectVersion,
            Variant = string.Join("+", cards.Select(c => c.Variant).Distinct()),
        };
        var model = new ModelProto
        {
            IrVersion = members.Max(m => m.IrVersion),
            ProducerName = "MlNetBert",
            ProducerVersion = ModelCard.CurrentProjectVersion,
            DocString = $"ensemble of {members.Count} {card.Task} models (mean of their {averaged})",
            Graph = graph,
        };
        foreach (var opset in members.SelectMany(m => m.OpsetImport).GroupBy(o => o.Domain).OrderBy(g => g.Key, StringComparer.Ordinal))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = opset.Key, Version = opset.Max(o => o.Version) });
        // The first member's payload (vocabulary) and the ensemble's card, sorted by key so the file is reproducible.
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata[0])
            if (!key.StartsWith(ModelFileFormat.MetricPrefix, StringComparison.Ordinal))
                entries[key] = value;
        foreach (var (key, value) in card.ToMetadata())
            entries[key] = value;
        foreach (var (key, value) in entries)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }
}
