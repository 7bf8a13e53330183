using System.Diagnostics;
using System.Globalization;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Modeling;
using MlNetBert.Runs;
using MlNetBert.Training;

namespace MlNetBert.Analysis;

/// <summary>
/// What fine-tuning changed, layer by layer: a pretrained checkpoint and a model fine-tuned from it read the same
/// labelled sentences, and for every hidden state (embedding output = layer 0, then each encoder layer) this measures
/// how linearly decodable the labels are (probes on [CLS] and mean-pooled vectors), how the label clusters sit
/// (<see cref="ClusterGeometry"/>), how similar the two models' representations are (<see cref="Cka.Linear"/>), and
/// how far the weights moved (<see cref="WeightChange.Relative"/>).
/// </summary>
/// <example>
/// <code>
/// var checkpoint = new CheckpointStore().Resolve("minilm-l6");
/// using var tuned = FineTuningAnalysis.LoadFineTuned("models/runs/my-run");
/// var report = FineTuningAnalysis.Run(checkpoint, tuned, sentences, new FineTuningAnalysisOptions { Progress = Console.WriteLine });
/// FineTuningAnalysis.WriteOutputs(report, "analysis");   // analysis.json, analysis.md, *.png
/// </code>
/// </example>
public static class FineTuningAnalysis
{
    /// <summary>Loads a fine-tuned model from a <c>model.zip</c> or a run folder that holds one.</summary>
    /// <exception cref="BadInputException">Nothing usable at <paramref name="modelZipOrRunFolder"/>.</exception>
    public static BertTaskModel LoadFineTuned(string modelZipOrRunFolder)
    {
        string path = RunFolder.ResolveModelZip(modelZipOrRunFolder);
        if (string.Equals(Path.GetExtension(path), ".onnx", StringComparison.OrdinalIgnoreCase))
            throw new BadInputException($"{path}: the analysis needs the weights in model.zip (from 'mlnetbert train'), not an ONNX export");
        return BertTaskModel.Load(path);
    }

    /// <summary>Runs every measure on every layer of both models.</summary>
    /// <param name="pretrained">The checkpoint fine-tuning started from.</param>
    /// <param name="fineTuned">The fine-tuned model; its tokenizer and maximum length are used for both models.</param>
    /// <param name="examples">Labelled sentences (at least two labels); capped at <see cref="FineTuningAnalysisOptions.MaxSentences"/>.</param>
    /// <param name="options">Sampling, split and batching; default <see cref="FineTuningAnalysisOptions"/>.</param>
    /// <exception cref="BadInputException">The models do not match, or the sentences cannot be probed.</exception>
    public static AnalysisReport Run(Checkpoint pretrained, BertTaskModel fineTuned, IReadOnlyList<AnalysisExample> examples, FineTuningAnalysisOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pretrained);
        ArgumentNullException.ThrowIfNull(fineTuned);
        ArgumentNullException.ThrowIfNull(examples);
        var o = options ?? new FineTuningAnalysisOptions();
        o.Validate();
        var clock = Stopwatch.StartNew();
        var warnings = CheckModels(pretrained, fineTuned);
        var rows = Sample(examples, o);
        var labels = rows.Select(r => r.Label).ToArray();
        var (train, test) = Split(labels, o);
        string majority = train.GroupBy(i => labels[i]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
        double baseline = test.Count(i => labels[i] == majority) / (double)test.Length;
        var progress = o.Progress ?? (_ => { });
        int maxLength = o.MaxLength ?? fineTuned.Card.MaxLength;
        var encoded = rows.Select(r => fineTuned.Encoder.Encode(r.Text, r.Text2, maxLength)).ToList();

        progress($"analysing {rows.Count} sentences ({train.Length} probe training, {test.Length} probe test; majority baseline {baseline:F3}), max length {maxLength}");
        LayerVectors before, after;
        using (var bert = BertModel.FromCheckpoint(pretrained))
            before = LayerVectors.Extract(bert, encoded, o.BatchSize);
        progress($"pretrained {pretrained.Name}: {before.Layers} hidden states per sentence");
        after = LayerVectors.Extract(fineTuned.Network.Bert, encoded, o.BatchSize);
        progress("fine-tuned model: done");

        var weights = WeightChanges(pretrained, fineTuned);
        Pooling head = PoolingNames.Parse(fineTuned.Card.Pooling);
        var layers = new List<LayerAnalysis>(before.Layers);
        for (int l = 0; l < before.Layers; l++)
        {
            var probe = new ProbeAccuracy(
                LinearProbe.Accuracy(before.Cls[l], labels, train, test, o.Seed),
                LinearProbe.Accuracy(after.Cls[l], labels, train, test, o.Seed),
                LinearProbe.Accuracy(before.Mean[l], labels, train, test, o.Seed),
                LinearProbe.Accuracy(after.Mean[l], labels, train, test, o.Seed));
            var layer = new LayerAnalysis(
                l,
                LayerName(l),
                probe,
                ClusterGeometry.Compute(before.Of(l, head), labels),
                ClusterGeometry.Compute(after.Of(l, head), labels),
                Cka.Linear(before.Mean[l], after.Mean[l]),
                Cka.Linear(before.Cls[l], after.Cls[l]),
                weights.ByLayer.GetValueOrDefault(l));
            layers.Add(layer);
            progress(string.Create(CultureInfo.InvariantCulture,
                $"{layer.Name,-10} probe CLS {probe.ClsBefore:F3} -> {probe.ClsAfter:F3}, mean {probe.MeanBefore:F3} -> {probe.MeanAfter:F3}; " +
                $"separation {layer.GeometryBefore.SeparationRatio:F3} -> {layer.GeometryAfter.SeparationRatio:F3}; " +
                $"CKA mean {layer.CkaMean:F4}, CLS {layer.CkaCls:F4}; weight change {layer.WeightChange:F4}"));
        }

        int last = before.Layers - 1;
        var projections = new List<Projection>();
        foreach (int l in new[] { 0, last })
        {
            projections.Add(Project(l, "pretrained", before.Of(l, head), labels));
            projections.Add(Project(l, "fine-tuned", after.Of(l, head), labels));
        }

        var report = new AnalysisReport
        {
            Pretrained = pretrained.Name,
            PretrainedSha256 = pretrained.Sha256,
            FineTuned = o.FineTunedName ?? $"fine-tuned {fineTuned.Card.Checkpoint}",
            FineTunedFrom = fineTuned.Card.Checkpoint,
            Data = o.DataName,
            Sentences = rows.Count,
            ProbeTrain = train.Length,
            ProbeTest = test.Length,
            ProbeL2Weight = LinearProbe.L2Weight,
            MajorityBaseline = baseline,
            LabelCounts = labels.GroupBy(l => l).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            Seed = o.Seed,
            MaxLength = maxLength,
            GeometryVectors = head,
            Layers = layers,
            WeightChangeGroups = weights.Groups.Groups,
            OnlyInPretrained = weights.Groups.OnlyInPretrained,
            OnlyInFineTuned = weights.Groups.OnlyInFinetuned,
            Projections = projections,
            Warnings = warnings,
        };
        return report with { Summary = AnalysisSummary.Lines(report), Seconds = Math.Round(clock.Elapsed.TotalSeconds, 1) };
    }

    /// <summary>
    /// Writes <c>analysis.json</c>, <c>analysis.md</c> and the plots (<see cref="AnalysisPlots.FileNames"/>) into
    /// <paramref name="folder"/>, each file atomically. Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WriteOutputs(AnalysisReport report, string folder)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(folder);
        var written = new List<string> { Path.Combine(folder, "analysis.json"), Path.Combine(folder, "analysis.md") };
        AtomicFile.WriteAllText(written[0], report.ToJson() + "\n");
        AtomicFile.WriteAllText(written[1], AnalysisMarkdown.Render(report));
        written.AddRange(AnalysisPlots.Save(report, folder));
        return written;
    }

    /// <summary><c>embeddings</c> for 0, <c>layer i</c> otherwise.</summary>
    public static string LayerName(int layer) => layer == 0 ? "embeddings" : $"layer {layer}";

    private static List<string> CheckModels(Checkpoint pretrained, BertTaskModel fineTuned)
    {
        BertConfig a = pretrained.Config, b = fineTuned.Config;
        if (a.NumHiddenLayers != b.NumHiddenLayers || a.HiddenSize != b.HiddenSize || a.VocabSize != b.VocabSize)
        {
            throw new BadInputException(
                $"the fine-tuned model ({b.NumHiddenLayers} layers, hidden {b.HiddenSize}, vocabulary {b.VocabSize}) cannot come from checkpoint " +
                $"'{pretrained.Name}' ({a.NumHiddenLayers} layers, hidden {a.HiddenSize}, vocabulary {a.VocabSize}); it says it started from '{fineTuned.Card.Checkpoint}'");
        }
        if (!string.Equals(Normalize(File.ReadAllText(pretrained.VocabPath)), Normalize(fineTuned.VocabText), StringComparison.Ordinal))
            throw new BadInputException($"{pretrained.VocabPath}: the vocabulary differs from the fine-tuned model's; it says it started from '{fineTuned.Card.Checkpoint}'");
        var warnings = new List<string>();
        if (fineTuned.Card.CheckpointSha256.Length > 0 && fineTuned.Card.CheckpointSha256 != pretrained.Sha256)
        {
            warnings.Add($"the fine-tuned model records checkpoint '{fineTuned.Card.Checkpoint}' with weights SHA-256 {fineTuned.Card.CheckpointSha256[..12]}..., " +
                $"but '{pretrained.Name}' has {pretrained.Sha256[..Math.Min(12, pretrained.Sha256.Length)]}...: weight changes are measured against other weights than it started from");
        }
        return warnings;

        static string Normalize(string vocab) => vocab.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd();
    }

    private static List<AnalysisExample> Sample(IReadOnlyList<AnalysisExample> examples, FineTuningAnalysisOptions o)
    {
        if (examples.Count == 0)
            throw new BadInputException("no sentences to analyse");
        for (int i = 0; i < examples.Count; i++)
        {
            if (examples[i] is null || string.IsNullOrWhiteSpace(examples[i].Label))
                throw new BadInputException($"sentence {i + 1} has no label (the probes and the cluster geometry need one per sentence)");
        }
        if (examples.Count <= o.MaxSentences)
            return examples.ToList();
        // A seeded partial Fisher-Yates shuffle, then input order.
        var random = new Random(o.Seed);
        int[] order = Enumerable.Range(0, examples.Count).ToArray();
        for (int k = 0; k < o.MaxSentences; k++)
        {
            int j = random.Next(k, order.Length);
            (order[k], order[j]) = (order[j], order[k]);
        }
        return order[..o.MaxSentences].Order().Select(i => examples[i]).ToList();
    }

    // The probes' split: stratified by label and seeded, so every layer and both models see the same rows.
    private static (int[] Train, int[] Test) Split(string[] labels, FineTuningAnalysisOptions o)
    {
        var distinct = labels.Distinct().Count();
        if (distinct < 2)
            throw new BadInputException($"all {labels.Length} sentences have the label '{labels[0]}'; the probes and the cluster geometry need at least two labels");
        var rows = labels.Select((label, i) => new TabularRow("", null, label, null, i)).ToList();
        var (train, test) = DataSplits.StratifiedSplit(rows, o.TestFraction, o.Seed);
        if (train.Select(r => r.Label).Distinct().Count() < 2 || test.Count == 0)
            throw new BadInputException($"too few sentences per label to train and test a probe ({labels.Length} sentences); give more");
        return (train.Select(r => r.Line).ToArray(), test.Select(r => r.Line).ToArray());
    }

    private sealed record Weights(WeightChangeReport Groups, Dictionary<int, double> ByLayer);

    // Encoder tensors only: the new head has no pretrained counterpart.
    private static Weights WeightChanges(Checkpoint pretrained, BertTaskModel fineTuned)
    {
        var before = pretrained.LoadTensors().ToDictionary(kv => kv.Key, kv => kv.Value.Data, StringComparer.Ordinal);
        var after = fineTuned.ExportTensors()
            .Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Data, StringComparer.Ordinal);
        var groups = WeightChange.Relative(before, after, WeightChange.DefaultGroup);
        var byLayer = new Dictionary<int, double>();
        foreach (var g in WeightChange.Relative(before, after, LayerGroup).Groups)
        {
            if (LayerIndex(g.Group) is int layer)
                byLayer[layer] = g.Relative;
        }
        return new Weights(groups, byLayer);
    }

    /// <summary><c>embeddings</c> → 0, <c>layer.{i}</c> (the encoder's 0-based layer i) → i + 1, anything else → null.</summary>
    internal static int? LayerIndex(string layerGroup)
    {
        if (layerGroup == "embeddings")
            return 0;
        string[] parts = layerGroup.Split('.');
        return parts.Length >= 2 && parts[0] == "layer" && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i + 1 : null;
    }

    // DefaultGroup without the part: layer.3.attention → layer.3.
    private static string LayerGroup(string name)
    {
        string group = WeightChange.DefaultGroup(name);
        return group.StartsWith("layer.", StringComparison.Ordinal) ? string.Join('.', group.Split('.').Take(2)) : group;
    }

    private static Projection Project(int layer, string model, float[][] vectors, string[] labels)
    {
        var points = Pca.Project2D(vectors);
        return new Projection(layer, model, points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), labels);
    }
}
