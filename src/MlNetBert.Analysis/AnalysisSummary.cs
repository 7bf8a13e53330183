using System.Globalization;
using MlNetBert.Modeling;

namespace MlNetBert.Analysis;

/// <summary>One plain sentence per measure, read off the per-layer numbers (no judgement beyond what they show).</summary>
internal static class AnalysisSummary
{
    public static IReadOnlyList<string> Lines(AnalysisReport report)
    {
        var layers = report.Layers;
        var lines = new List<string>
        {
            Probe(layers, "[CLS]", l => l.Probe.ClsBefore, l => l.Probe.ClsAfter, report.MajorityBaseline),
            Probe(layers, "mean-pooled", l => l.Probe.MeanBefore, l => l.Probe.MeanAfter, report.MajorityBaseline),
            Separation(layers, report.GeometryVectors == Pooling.Cls ? "[CLS]" : "mean-pooled"),
            Similarity(layers),
            Weights(layers, report.WeightChangeGroups),
        };
        return lines;
    }

    private static string Probe(IReadOnlyList<LayerAnalysis> layers, string vectors, Func<LayerAnalysis, double> before, Func<LayerAnalysis, double> after, double baseline)
    {
        var bestBefore = layers.MaxBy(before)!;
        var bestAfter = layers.MaxBy(after)!;
        var gain = layers.MaxBy(l => after(l) - before(l))!;
        var last = layers[^1];
        return string.Create(
            CultureInfo.InvariantCulture,
            $"Probe accuracy on {vectors} vectors: pretrained best at {Name(bestBefore)} ({before(bestBefore):F3}), fine-tuned best at {Name(bestAfter)} ({after(bestAfter):F3}); " +
            $"the largest gain is at {Name(gain)} ({after(gain) - before(gain):+0.000;-0.000}); last layer {before(last):F3} -> {after(last):F3} (majority baseline {baseline:F3}).");
    }

    private static string Separation(IReadOnlyList<LayerAnalysis> layers, string vectors)
    {
        var growth = layers.Select(l => l.GeometryAfter.SeparationRatio - l.GeometryBefore.SeparationRatio).ToArray();
        var finite = Enumerable.Range(0, layers.Count).Where(i => double.IsFinite(growth[i])).ToArray();
        if (finite.Length == 0)
            return $"Separation ratio ({vectors} vectors): not finite in any layer.";
        int top = finite.MaxBy(i => growth[i]);
        var l = layers[top];
        if (growth[top] <= 0)
            return string.Create(CultureInfo.InvariantCulture, $"Separation ratio ({vectors} vectors) grows in no layer; it falls least at {Name(l)} ({l.GeometryBefore.SeparationRatio:F3} -> {l.GeometryAfter.SeparationRatio:F3}).");
        var most = finite.Where(i => growth[i] >= 0.5 * growth[top]).Select(i => layers[i].Layer);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"Separation ratio ({vectors} vectors) grows most in {Ranges(most)} (largest at {Name(l)}: {l.GeometryBefore.SeparationRatio:F3} -> {l.GeometryAfter.SeparationRatio:F3}); " +
            $"last layer {layers[^1].GeometryBefore.SeparationRatio:F3} -> {layers[^1].GeometryAfter.SeparationRatio:F3}.");
    }

    private static string Similarity(IReadOnlyList<LayerAnalysis> layers)
    {
        var finite = layers.Where(l => double.IsFinite(l.CkaMean)).ToList();
        if (finite.Count == 0)
            return "CKA: not defined in any layer (no variance).";
        var lowest = finite.MinBy(l => l.CkaMean)!;
        double drop = 1 - lowest.CkaMean;
        if (drop < 1e-9)
            return "CKA between the pretrained and fine-tuned representations is 1 in every layer: the representations did not change.";
        var most = finite.Where(l => 1 - l.CkaMean >= 0.5 * drop).Select(l => l.Layer);
        var cls = layers.Where(l => double.IsFinite(l.CkaCls)).MinBy(l => l.CkaCls);
        string clsPart = cls is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; on [CLS] vectors the lowest is {cls.CkaCls:F4} at {Name(cls)}");
        return string.Create(
            CultureInfo.InvariantCulture,
            $"CKA (mean-pooled) says representations change most in {Ranges(most)} (lowest {lowest.CkaMean:F4} at {Name(lowest)}; " +
            $"{layers[0].CkaMean:F4} at the embeddings, {layers[^1].CkaMean:F4} at the last layer){clsPart}.");
    }

    private static string Weights(IReadOnlyList<LayerAnalysis> layers, IReadOnlyList<WeightChangeGroup> groups)
    {
        if (layers.All(l => l.WeightChange == 0))
            return "Weights: no encoder parameter changed.";
        var encoder = layers.Where(l => l.Layer > 0).ToList();
        var part = groups.Where(g => g.Group != "head").MaxBy(g => g.Relative);
        string partText = part is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; by part, {part.Group} moved most ({part.Relative:0.0000})");
        if (encoder.Count == 0)
            return string.Create(CultureInfo.InvariantCulture, $"Weights: the embeddings moved {layers[0].WeightChange:0.0000} relative to their norm{partText}.");
        var least = encoder.MinBy(l => l.WeightChange)!;
        var most = encoder.MaxBy(l => l.WeightChange)!;
        string ratio = encoder[0].WeightChange > 0
            ? string.Create(CultureInfo.InvariantCulture, $"; the last layer moved {encoder[^1].WeightChange / encoder[0].WeightChange:0.00}x as much as the first")
            : "";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"Weights: encoder layers moved {least.WeightChange:0.0000} ({Name(least)}) to {most.WeightChange:0.0000} ({Name(most)}) relative to their norm, " +
            $"the embeddings {layers[0].WeightChange:0.0000}{ratio}{partText}.");
    }

    private static string Name(LayerAnalysis layer) => FineTuningAnalysis.LayerName(layer.Layer);

    /// <summary>"layer 6", "layers 5-6", "layers 0, 4-6" (0 is the embedding output).</summary>
    internal static string Ranges(IEnumerable<int> layers)
    {
        var sorted = layers.Distinct().Order().ToArray();
        var parts = new List<string>();
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
                j++;
            parts.Add(i == j ? string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}") : string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}-{sorted[j]}"));
            i = j + 1;
        }
        return (sorted.Length == 1 ? "layer " : "layers ") + string.Join(", ", parts);
    }

}
