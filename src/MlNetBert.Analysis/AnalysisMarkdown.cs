using System.Globalization;
using System.Text;
using MlNetBert.Modeling;

namespace MlNetBert.Analysis;

/// <summary>analysis.md: the report as markdown tables, with the summary lines and the plots.</summary>
internal static class AnalysisMarkdown
{
    public static string Render(AnalysisReport r)
    {
        var md = new StringBuilder();
        string vectors = r.GeometryVectors == Pooling.Cls ? "[CLS]" : "mean-pooled";
        md.AppendLine("# What fine-tuning changed");
        md.AppendLine();
        md.AppendLine(Inv, $"- pretrained: `{r.Pretrained}`; fine-tuned: `{r.FineTuned}` (started from `{r.FineTunedFrom}`)");
        md.AppendLine(Inv, $"- data: `{r.Data}`: {r.Sentences} sentences ({string.Join(", ", r.LabelCounts.Select(kv => $"{kv.Key}: {kv.Value}"))}), max length {r.MaxLength} tokens, seed {r.Seed}");
        md.AppendLine(Inv, $"- probes: ML.NET L-BFGS maximum entropy (L2 weight {r.ProbeL2Weight}) on standardised vectors, trained on {r.ProbeTrain} sentences and tested on {r.ProbeTest} (the same stratified split for every layer and both models); majority baseline {r.MajorityBaseline:F3}");
        md.AppendLine(Inv, $"- layer 0 is the embedding output; layer i is encoder layer i. Cluster geometry and PCA use the {vectors} vectors, which the fine-tuned head reads.");
        md.AppendLine(Inv, $"- {r.Seconds:F1} s");
        foreach (string warning in r.Warnings)
            md.AppendLine(Inv, $"- **warning**: {warning}");
        md.AppendLine();
        md.AppendLine("## Summary");
        md.AppendLine();
        foreach (string line in r.Summary)
            md.Append("- ").AppendLine(line);

        md.AppendLine();
        md.AppendLine("## Linear probes (test accuracy)");
        md.AppendLine();
        md.AppendLine("| layer | [CLS] before | [CLS] after | Δ | mean before | mean after | Δ |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var l in r.Layers)
        {
            var p = l.Probe;
            md.AppendLine(Inv, $"| {Name(l)} | {p.ClsBefore:F3} | {p.ClsAfter:F3} | {p.ClsAfter - p.ClsBefore:+0.000;-0.000;0.000} | {p.MeanBefore:F3} | {p.MeanAfter:F3} | {p.MeanAfter - p.MeanBefore:+0.000;-0.000;0.000} |");
        }
        md.AppendLine();
        md.AppendLine("![probe accuracy per layer](probe-accuracy.png)");

        md.AppendLine();
        md.AppendLine(Inv, $"## Label clusters ({vectors} vectors)");
        md.AppendLine();
        md.AppendLine("Separation ratio = mean distance between label centroids / mean distance of a sentence to its label's centroid.");
        md.AppendLine();
        md.AppendLine("| layer | separation before | separation after | within-label mean before | after | within-label max before | after | min inter-label before | after | centroid distance before | after |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var l in r.Layers)
        {
            ClusterGeometry b = l.GeometryBefore, a = l.GeometryAfter;
            md.AppendLine(Inv, $"| {Name(l)} | {F(b.SeparationRatio, "F3")} | {F(a.SeparationRatio, "F3")} | {F(Within(b), "F3")} | {F(Within(a), "F3")} | " +
                $"{F(WithinMax(b), "F3")} | {F(WithinMax(a), "F3")} | {F(b.MinInterLabelDistance, "F3")} | {F(a.MinInterLabelDistance, "F3")} | " +
                $"{F(MeanCentroidDistance(b), "F3")} | {F(MeanCentroidDistance(a), "F3")} |");
        }
        md.AppendLine();
        md.AppendLine("![separation ratio per layer](separation.png)");

        md.AppendLine();
        md.AppendLine("## Representation similarity (linear CKA, pretrained vs fine-tuned)");
        md.AppendLine();
        md.AppendLine("| layer | mean-pooled | [CLS] |");
        md.AppendLine("|---|---:|---:|");
        foreach (var l in r.Layers)
            md.AppendLine(Inv, $"| {Name(l)} | {F(l.CkaMean, "F4")} | {F(l.CkaCls, "F4")} |");
        if (r.Layers.Any(l => !double.IsFinite(l.CkaCls) || !double.IsFinite(l.CkaMean)))
            md.AppendLine().AppendLine("n/a: the vectors do not vary across sentences (the [CLS] embedding output is the same for every sentence), so CKA is undefined.");
        md.AppendLine();
        md.AppendLine("![CKA per layer](cka.png)");

        md.AppendLine();
        md.AppendLine("## Weight change (‖θ_ft − θ_pre‖ / ‖θ_pre‖)");
        md.AppendLine();
        var byGroup = r.WeightChangeGroups.ToDictionary(g => g.Group, g => g.Relative);
        md.AppendLine("| layer | whole layer | attention | feed-forward | LayerNorm |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var l in r.Layers)
        {
            string Part(string part) => l.Layer == 0 ? "" : byGroup.TryGetValue($"layer.{l.Layer - 1}.{part}", out double v) ? W(v) : "";
            md.AppendLine(Inv, $"| {Name(l)} | {W(l.WeightChange)} | {Part("attention")} | {Part("feed_forward")} | {Part("layer_norm")} |");
        }
        var others = r.WeightChangeGroups.Where(g => g.Group is not "embeddings" && !g.Group.StartsWith("layer.", StringComparison.Ordinal)).ToList();
        if (others.Count > 0)
            md.AppendLine().AppendLine("Other parameters: " + string.Join(", ", others.Select(g => $"{g.Group} {W(g.Relative)}")) + ".");
        if (r.OnlyInPretrained.Count > 0)
            md.AppendLine().AppendLine($"Only in the checkpoint (not compared): {string.Join(", ", r.OnlyInPretrained)}.");
        md.AppendLine();
        md.AppendLine("![weight change per layer](weight-change.png)");

        md.AppendLine();
        md.AppendLine(Inv, $"## PCA of the {vectors} vectors (first and last layer, before and after)");
        md.AppendLine();
        md.AppendLine("![PCA scatter](pca.png)");
        return md.ToString();
    }

    private static string Name(LayerAnalysis l) => l.Layer == 0 ? "0 (embeddings)" : l.Layer.ToString(CultureInfo.InvariantCulture);

    private static double Within(ClusterGeometry g) => g.Clusters.Average(c => c.MeanDistanceToCentroid);

    private static double WithinMax(ClusterGeometry g) => g.Clusters.Max(c => c.MaxDistanceToCentroid);

    private static double MeanCentroidDistance(ClusterGeometry g)
    {
        int k = g.CentroidDistances.Length;
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            for (int j = i + 1; j < k; j++)
                sum += g.CentroidDistances[i][j];
        }
        return k < 2 ? double.NaN : sum / (k * (k - 1) / 2);
    }

    private static string F(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    // Relative weight changes span orders of magnitude (frozen parts are exactly 0).
    private static string W(double value) =>
        value == 0 ? "0" : value >= 1e-3 ? value.ToString("0.0000", CultureInfo.InvariantCulture) : value.ToString("0.00E+0", CultureInfo.InvariantCulture);

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
}
