using MlNetBert.Modeling;
using ScottPlot;

namespace MlNetBert.Analysis;

/// <summary>The analysis plots (ScottPlot 5, PNG): per-layer curves before/after fine-tuning, and PCA scatters by label.</summary>
public static class AnalysisPlots
{
    /// <summary>The files <see cref="Save"/> writes, in order.</summary>
    public static IReadOnlyList<string> FileNames { get; } = ["probe-accuracy.png", "separation.png", "cka.png", "weight-change.png", "pca.png"];

    private const string LayerAxis = "layer (0 = embedding output)";

    /// <summary>Writes every plot into <paramref name="folder"/> (each file atomically) and returns the paths.</summary>
    public static IReadOnlyList<string> Save(AnalysisReport report, string folder)
    {
        ArgumentNullException.ThrowIfNull(report);
        var layers = report.Layers;
        double[] x = layers.Select(l => (double)l.Layer).ToArray();
        var paths = FileNames.Select(name => Path.Combine(folder, name)).ToArray();

        var probe = LayerPlot("Linear probe accuracy (test split)", "accuracy", x);
        Line(probe, x, layers.Select(l => l.Probe.ClsBefore), "[CLS], pretrained", dashed: true, Colors.C0);
        Line(probe, x, layers.Select(l => l.Probe.ClsAfter), "[CLS], fine-tuned", dashed: false, Colors.C0);
        Line(probe, x, layers.Select(l => l.Probe.MeanBefore), "mean-pooled, pretrained", dashed: true, Colors.C1);
        Line(probe, x, layers.Select(l => l.Probe.MeanAfter), "mean-pooled, fine-tuned", dashed: false, Colors.C1);
        var baseline = probe.Add.HorizontalLine(report.MajorityBaseline, color: Colors.Gray, pattern: LinePattern.Dotted);
        baseline.LegendText = "majority baseline";
        Write(probe, paths[0], 900, 550);

        string vectors = report.GeometryVectors == Pooling.Cls ? "[CLS]" : "mean-pooled";
        var separation = LayerPlot($"Label separation ratio ({vectors} vectors)", "separation ratio (between / within)", x);
        Line(separation, x, layers.Select(l => l.GeometryBefore.SeparationRatio), "pretrained", dashed: true, Colors.C0);
        Line(separation, x, layers.Select(l => l.GeometryAfter.SeparationRatio), "fine-tuned", dashed: false, Colors.C0);
        Write(separation, paths[1], 900, 550);

        var cka = LayerPlot("Linear CKA, pretrained vs fine-tuned", "CKA (1 = unchanged)", x);
        Line(cka, x, layers.Select(l => l.CkaMean), "mean-pooled", dashed: false, Colors.C0);
        Line(cka, x, layers.Select(l => l.CkaCls), "[CLS]", dashed: false, Colors.C1);
        Write(cka, paths[2], 900, 550);

        var weights = LayerPlot("Relative weight change ||θ_ft − θ_pre|| / ||θ_pre||", "relative change", x);
        Line(weights, x, layers.Select(l => l.WeightChange), "whole layer", dashed: false, Colors.Black);
        var byGroup = report.WeightChangeGroups.ToDictionary(g => g.Group, g => g.Relative);
        foreach (var (part, color) in new[] { ("attention", Colors.C0), ("feed_forward", Colors.C1), ("layer_norm", Colors.C2) })
        {
            double Part(LayerAnalysis l) => l.Layer > 0 && byGroup.TryGetValue($"layer.{l.Layer - 1}.{part}", out double v) ? v : double.NaN;
            Line(weights, x, layers.Select(Part), part.Replace('_', '-'), dashed: true, color);
        }
        Write(weights, paths[3], 900, 550);

        WritePca(report, vectors, paths[4]);
        return paths;
    }

    private static Plot LayerPlot(string title, string yLabel, double[] layers)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(LayerAxis);
        plot.YLabel(yLabel);
        plot.Axes.Bottom.SetTicks(layers, layers.Select(l => l == 0 ? "0 (emb)" : ((int)l).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        return plot;
    }

    // NaN and infinite points (e.g. CKA of the constant [CLS] embedding) are left out rather than drawn.
    private static void Line(Plot plot, double[] x, IEnumerable<double> y, string legend, bool dashed, Color color)
    {
        double[] ys = y.ToArray();
        int[] keep = Enumerable.Range(0, ys.Length).Where(i => double.IsFinite(ys[i])).ToArray();
        if (keep.Length == 0)
            return;
        var line = plot.Add.Scatter(keep.Select(i => x[i]).ToArray(), keep.Select(i => ys[i]).ToArray(), color);
        line.LegendText = legend;
        line.LineWidth = 2;
        line.MarkerSize = 7;
        line.LinePattern = dashed ? LinePattern.Dashed : LinePattern.Solid;
        plot.ShowLegend(Alignment.UpperLeft);
    }

    private static void WritePca(AnalysisReport report, string vectors, string path)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(report.Projections.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows: 2, columns: Math.Max(1, (report.Projections.Count + 1) / 2));
        var labels = report.Projections.SelectMany(p => p.Labels).Distinct().Order(StringComparer.Ordinal).ToArray();
        // Row-major grid: put the same layer in one row (pretrained left, fine-tuned right).
        for (int i = 0; i < report.Projections.Count; i++)
        {
            var p = report.Projections[i];
            var plot = multiplot.GetPlot(i);
            plot.Title($"{FineTuningAnalysis.LayerName(p.Layer)}, {p.Model}");
            plot.XLabel($"PC 1 ({vectors})");
            plot.YLabel("PC 2");
            for (int k = 0; k < labels.Length; k++)
            {
                int[] rows = Enumerable.Range(0, p.Labels.Length).Where(r => p.Labels[r] == labels[k]).ToArray();
                var points = plot.Add.ScatterPoints(rows.Select(r => (double)p.X[r]).ToArray(), rows.Select(r => (double)p.Y[r]).ToArray(), Colors.Category10[k % 10]);
                points.MarkerSize = 4;
                points.LegendText = $"label {labels[k]}";
            }
            plot.ShowLegend(Alignment.UpperRight);
        }
        var image = multiplot.Render(1000, 840);
        byte[] png = image.GetImageBytes(ImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, png);
    }

    private static void Write(Plot plot, string path, int width, int height) =>
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));
}
