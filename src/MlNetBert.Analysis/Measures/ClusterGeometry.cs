namespace MlNetBert.Analysis;

/// <summary>One label's cluster of points in a <see cref="ClusterGeometry"/>.</summary>
/// <param name="Label">The label the points share.</param>
/// <param name="Count">How many points carry the label.</param>
/// <param name="Centroid">The mean of the points.</param>
/// <param name="MeanDistanceToCentroid">Mean Euclidean distance from a point to <paramref name="Centroid"/>.</param>
/// <param name="MaxDistanceToCentroid">Largest Euclidean distance from a point to <paramref name="Centroid"/>.</param>
public sealed record LabelCluster(
    string Label,
    int Count,
    double[] Centroid,
    double MeanDistanceToCentroid,
    double MaxDistanceToCentroid);

/// <summary>
/// How points that share a label sit together, and how far apart the labels sit: the numbers behind
/// "fine-tuning pulls the classes apart". Distances are Euclidean, computed in double.
/// </summary>
/// <param name="Clusters">One entry per label, in order of each label's first appearance.</param>
/// <param name="MinInterLabelDistance">
/// The smallest distance between two points with different labels; <see cref="double.NaN"/> with one label.
/// </param>
/// <param name="CentroidDistances">
/// <c>CentroidDistances[i][j]</c> is the distance between the centroids of <c>Clusters[i]</c> and
/// <c>Clusters[j]</c> (symmetric, zero diagonal).
/// </param>
/// <param name="SeparationRatio">
/// Mean pairwise centroid distance divided by the mean over labels of
/// <see cref="LabelCluster.MeanDistanceToCentroid"/>. Larger is better separated. <see cref="double.NaN"/>
/// with one label; <see cref="double.PositiveInfinity"/> when every cluster is a single repeated point.
/// </param>
/// <example>
/// <code>
/// var geometry = ClusterGeometry.Compute(clsVectors, goldLabels);
/// Console.WriteLine($"separation {geometry.SeparationRatio:F2}");
/// </code>
/// </example>
public sealed record ClusterGeometry(
    IReadOnlyList<LabelCluster> Clusters,
    double MinInterLabelDistance,
    double[][] CentroidDistances,
    double SeparationRatio)
{
    /// <summary>Measures the clusters that <paramref name="labels"/> forms among the rows of <paramref name="points"/>.</summary>
    /// <param name="points">n rows of d values.</param>
    /// <param name="labels">The label of each row (n entries).</param>
    /// <exception cref="ArgumentException">The counts differ, a label is null, or the rows are empty or ragged.</exception>
    public static ClusterGeometry Compute(IReadOnlyList<float[]> points, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        Matrix x = Matrix.FromRows(points, nameof(points));
        if (labels.Count != x.Rows)
        {
            throw new ArgumentException(
                $"points has {x.Rows} rows but labels has {labels.Count} entries (expected one label per row).", nameof(labels));
        }

        // Group rows by label, keeping labels in order of first appearance.
        var indexOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        var group = new int[x.Rows];
        for (int r = 0; r < x.Rows; r++)
        {
            string label = labels[r] ?? throw new ArgumentException($"labels[{r}] is null.", nameof(labels));
            if (!indexOf.TryGetValue(label, out int g))
            {
                g = order.Count;
                indexOf.Add(label, g);
                order.Add(label);
            }

            group[r] = g;
        }

        int k = order.Count;
        var counts = new int[k];
        var centroids = new double[k][];
        for (int g = 0; g < k; g++)
        {
            centroids[g] = new double[x.Cols];
        }

        for (int r = 0; r < x.Rows; r++)
        {
            counts[group[r]]++;
            Accumulate(centroids[group[r]], x.Row(r));
        }

        for (int g = 0; g < k; g++)
        {
            for (int c = 0; c < x.Cols; c++)
            {
                centroids[g][c] /= counts[g];
            }
        }

        var distanceSums = new double[k];
        var distanceMax = new double[k];
        for (int r = 0; r < x.Rows; r++)
        {
            double distance = Distance(x.Row(r), centroids[group[r]]);
            distanceSums[group[r]] += distance;
            distanceMax[group[r]] = Math.Max(distanceMax[group[r]], distance);
        }

        var clusters = new LabelCluster[k];
        for (int g = 0; g < k; g++)
        {
            clusters[g] = new LabelCluster(order[g], counts[g], centroids[g], distanceSums[g] / counts[g], distanceMax[g]);
        }

        var centroidDistances = new double[k][];
        for (int i = 0; i < k; i++)
        {
            centroidDistances[i] = new double[k];
        }

        double centroidDistanceSum = 0;
        for (int i = 0; i < k; i++)
        {
            for (int j = i + 1; j < k; j++)
            {
                double distance = Distance(centroids[i], centroids[j]);
                centroidDistances[i][j] = distance;
                centroidDistances[j][i] = distance;
                centroidDistanceSum += distance;
            }
        }

        double separation = double.NaN;
        if (k > 1)
        {
            double meanCentroidDistance = centroidDistanceSum / (k * (k - 1) / 2);
            double meanSpread = clusters.Average(c => c.MeanDistanceToCentroid);
            separation = meanSpread == 0 ? double.PositiveInfinity : meanCentroidDistance / meanSpread;
        }

        return new ClusterGeometry(clusters, SmallestInterLabelDistance(x, group, k), centroidDistances, separation);
    }

    private static double SmallestInterLabelDistance(Matrix x, int[] group, int labelCount)
    {
        if (labelCount < 2)
        {
            return double.NaN;
        }

        // Compare squared distances and take one square root at the end: O(n² d), fine for analysis sets.
        double best = double.PositiveInfinity;
        for (int i = 0; i < x.Rows; i++)
        {
            ReadOnlySpan<double> a = x.Row(i);
            for (int j = i + 1; j < x.Rows; j++)
            {
                if (group[i] != group[j])
                {
                    best = Math.Min(best, SquaredDistance(a, x.Row(j)));
                }
            }
        }

        return Math.Sqrt(best);
    }

    private static void Accumulate(double[] sum, ReadOnlySpan<double> row)
    {
        for (int c = 0; c < row.Length; c++)
        {
            sum[c] += row[c];
        }
    }

    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b) => Math.Sqrt(SquaredDistance(a, b));

    private static double SquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double diff = a[i] - b[i];
            sum += diff * diff;
        }

        return sum;
    }
}
