namespace MlNetBert.Data;

/// <summary>Seeded, deterministic ways to divide rows: the same rows and seed give the same split on every machine.</summary>
public static class DataSplits
{
    /// <summary>
    /// Splits off a validation set of about <paramref name="validFraction"/> of the rows. For categorical labels each
    /// label contributes in proportion to its count (largest remainders get the odd rows), and a label keeps at
    /// least one row in training; for numeric labels (every row has a <see cref="TabularRow.Score"/>) it is a plain
    /// seeded sample. Both parts keep file order.
    /// </summary>
    /// <param name="rows">The rows to split: at least two.</param>
    /// <param name="validFraction">Between 0 and 1, exclusive; 0.1 holds out a tenth.</param>
    /// <param name="seed">The seed of the random choice.</param>
    /// <exception cref="BadInputException">Fewer than two rows.</exception>
    public static (IReadOnlyList<TabularRow> Train, IReadOnlyList<TabularRow> Valid) StratifiedSplit(
        IReadOnlyList<TabularRow> rows, double validFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (!(validFraction > 0 && validFraction < 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(validFraction), validFraction, "The validation fraction must be between 0 and 1, exclusive.");
        }
        if (rows.Count < 2)
        {
            throw new BadInputException(
                $"too few rows to split off a validation set ({rows.Count} row{(rows.Count == 1 ? "" : "s")}; at least 2 are needed)");
        }

        var random = new Random(seed);
        int total = rows.Count;
        int validTotal = Math.Clamp((int)Math.Round(total * validFraction, MidpointRounding.AwayFromZero), 1, total - 1);
        var isValid = new bool[total];

        if (rows.All(r => r.Score is not null))
        {
            foreach (int i in SeededSample(total, validTotal, random))
            {
                isValid[i] = true;
            }
        }
        else
        {
            // Sorted by label so that the draws, and so the split, do not depend on which label comes first in the file.
            int[][] groups = Enumerable.Range(0, total)
                .GroupBy(i => rows[i].Label ?? "", StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => g.ToArray())
                .ToArray();
            int[] quotas = ProportionalQuotas(groups.Select(g => g.Length).ToArray(), validTotal, total);
            for (int g = 0; g < groups.Length; g++)
            {
                foreach (int k in SeededSample(groups[g].Length, quotas[g], random))
                {
                    isValid[groups[g][k]] = true;
                }
            }
        }

        var train = new List<TabularRow>(total - validTotal);
        var valid = new List<TabularRow>(validTotal);
        for (int i = 0; i < total; i++)
        {
            (isValid[i] ? valid : train).Add(rows[i]);
        }
        return (train, valid);
    }

    // Largest-remainder apportionment of validTotal over groups of the given sizes, never taking a group's last row.
    private static int[] ProportionalQuotas(int[] sizes, int validTotal, int total)
    {
        double[] exact = sizes.Select(n => (double)n * validTotal / total).ToArray();
        int[] quotas = sizes.Select((n, g) => Math.Min((int)Math.Floor(exact[g]), n - 1)).ToArray();
        int left = validTotal - quotas.Sum();
        foreach (int g in Enumerable.Range(0, sizes.Length).OrderByDescending(g => exact[g] - quotas[g]).ThenBy(g => g))
        {
            if (left == 0)
            {
                break;
            }
            if (quotas[g] < sizes[g] - 1)
            {
                quotas[g]++;
                left--;
            }
        }
        return quotas;
    }

    /// <summary><paramref name="take"/> distinct indices below <paramref name="count"/>, uniformly at random, in draw order.</summary>
    internal static int[] SeededSample(int count, int take, Random random)
    {
        int[] order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }
        for (int k = 0; k < take; k++)
        {
            int j = random.Next(k, count);
            (order[k], order[j]) = (order[j], order[k]);
        }
        return order[..take];
    }
}
