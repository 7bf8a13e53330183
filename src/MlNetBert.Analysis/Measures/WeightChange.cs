using System.Text.RegularExpressions;

namespace MlNetBert.Analysis;

/// <summary>How far one group of parameters moved during fine-tuning.</summary>
/// <param name="Group">The group name, e.g. <c>layer.3.attention</c>.</param>
/// <param name="Relative">
/// ‖θ_ft − θ_pre‖ / ‖θ_pre‖ over the group's tensors taken as one vector; 0 when nothing changed, and
/// <see cref="double.PositiveInfinity"/> when the pretrained values are all zero but the fine-tuned are not.
/// </param>
/// <param name="ChangeNorm">‖θ_ft − θ_pre‖.</param>
/// <param name="PretrainedNorm">‖θ_pre‖.</param>
/// <param name="Tensors">How many named tensors the group holds.</param>
/// <param name="Values">How many values those tensors hold together.</param>
public sealed record WeightChangeGroup(string Group, double Relative, double ChangeNorm, double PretrainedNorm, int Tensors, long Values);

/// <summary>The per-group changes, and the tensors that exist on only one side and so could not be compared.</summary>
/// <param name="Groups">One entry per group, ordered by name with numbers compared as numbers (layer.2 before layer.10).</param>
/// <param name="OnlyInPretrained">Tensor names in the pretrained weights only (e.g. the masked-LM head), sorted.</param>
/// <param name="OnlyInFinetuned">Tensor names in the fine-tuned weights only (e.g. a new classifier), sorted.</param>
public sealed record WeightChangeReport(
    IReadOnlyList<WeightChangeGroup> Groups,
    IReadOnlyList<string> OnlyInPretrained,
    IReadOnlyList<string> OnlyInFinetuned);

/// <summary>
/// Relative weight change between a pretrained and a fine-tuned model, grouped (by default) into the
/// parts of a BERT encoder: which layers did fine-tuning actually move?
/// </summary>
/// <example>
/// <code>
/// var report = WeightChange.Relative(pretrained, finetuned, WeightChange.DefaultGroup);
/// foreach (var g in report.Groups) Console.WriteLine($"{g.Group}\t{g.Relative:E2}");
/// </code>
/// </example>
public static partial class WeightChange
{
    /// <summary>
    /// For each group, ‖θ_ft − θ_pre‖ / ‖θ_pre‖ over the concatenation of the group's tensors. Tensors are
    /// matched by name; a name present on one side only is listed in the report rather than compared.
    /// </summary>
    /// <param name="pretrained">Flattened tensors by parameter name.</param>
    /// <param name="finetuned">Flattened tensors by parameter name.</param>
    /// <param name="groupOf">Maps a parameter name to its group; <see cref="DefaultGroup"/> for HuggingFace BERT names.</param>
    /// <exception cref="ArgumentException">A tensor has different lengths on the two sides.</exception>
    public static WeightChangeReport Relative(
        IReadOnlyDictionary<string, float[]> pretrained,
        IReadOnlyDictionary<string, float[]> finetuned,
        Func<string, string> groupOf)
    {
        ArgumentNullException.ThrowIfNull(pretrained);
        ArgumentNullException.ThrowIfNull(finetuned);
        ArgumentNullException.ThrowIfNull(groupOf);

        var sums = new Dictionary<string, (double Change, double Pretrained, int Tensors, long Values)>(StringComparer.Ordinal);
        var onlyInPretrained = new List<string>();
        foreach (var (name, before) in pretrained)
        {
            if (!finetuned.TryGetValue(name, out float[]? after))
            {
                onlyInPretrained.Add(name);
                continue;
            }

            if (before.Length != after.Length)
            {
                throw new ArgumentException(
                    $"Tensor '{name}' has {before.Length} values in the pretrained weights but {after.Length} in the fine-tuned ones (expected the same shape).",
                    nameof(finetuned));
            }

            double change = 0, norm = 0;
            for (int i = 0; i < before.Length; i++)
            {
                double diff = (double)after[i] - before[i];
                change += diff * diff;
                norm += (double)before[i] * before[i];
            }

            string group = groupOf(name);
            sums.TryGetValue(group, out var s);
            sums[group] = (s.Change + change, s.Pretrained + norm, s.Tensors + 1, s.Values + before.Length);
        }

        var groups = sums
            .Select(kv =>
            {
                double change = Math.Sqrt(kv.Value.Change), norm = Math.Sqrt(kv.Value.Pretrained);
                double relative = change == 0 ? 0 : change / norm;
                return new WeightChangeGroup(kv.Key, relative, change, norm, kv.Value.Tensors, kv.Value.Values);
            })
            .OrderBy(g => g.Group, NaturalOrder.Instance)
            .ToArray();

        var onlyInFinetuned = finetuned.Keys.Where(name => !pretrained.ContainsKey(name)).Order(StringComparer.Ordinal).ToArray();
        return new WeightChangeReport(groups, onlyInPretrained.Order(StringComparer.Ordinal).ToArray(), onlyInFinetuned);
    }

    /// <summary>
    /// Groups HuggingFace BERT parameter names (with or without a leading <c>bert.</c>):
    /// <c>embeddings.*</c> → <c>embeddings</c>;
    /// <c>encoder.layer.{i}.*LayerNorm*</c> → <c>layer.{i}.layer_norm</c>;
    /// <c>encoder.layer.{i}.attention.self.*</c> and <c>.attention.output.dense.*</c> → <c>layer.{i}.attention</c>;
    /// <c>encoder.layer.{i}.intermediate.*</c> and <c>.output.dense.*</c> → <c>layer.{i}.feed_forward</c>;
    /// <c>pooler.*</c> → <c>pooler</c>; <c>classifier.*</c> → <c>head</c>; anything else → <c>other</c>.
    /// </summary>
    /// <example><c>DefaultGroup("bert.encoder.layer.3.attention.output.dense.weight")</c> is <c>"layer.3.attention"</c>.</example>
    public static string DefaultGroup(string hfName)
    {
        ArgumentNullException.ThrowIfNull(hfName);
        string name = hfName.StartsWith("bert.", StringComparison.Ordinal) ? hfName["bert.".Length..] : hfName;
        if (name.StartsWith("embeddings.", StringComparison.Ordinal))
        {
            return "embeddings";
        }

        if (name.StartsWith("pooler.", StringComparison.Ordinal))
        {
            return "pooler";
        }

        if (name.StartsWith("classifier.", StringComparison.Ordinal))
        {
            return "head";
        }

        Match layer = LayerName().Match(name);
        if (!layer.Success)
        {
            return "other";
        }

        string prefix = "layer." + layer.Groups["index"].Value;
        string rest = layer.Groups["rest"].Value;
        if (rest.Contains("LayerNorm", StringComparison.Ordinal))
        {
            return prefix + ".layer_norm";
        }

        if (rest.StartsWith("attention.self.", StringComparison.Ordinal) || rest.StartsWith("attention.output.dense.", StringComparison.Ordinal))
        {
            return prefix + ".attention";
        }

        if (rest.StartsWith("intermediate.", StringComparison.Ordinal) || rest.StartsWith("output.dense.", StringComparison.Ordinal))
        {
            return prefix + ".feed_forward";
        }

        return "other";
    }

    [GeneratedRegex(@"^encoder\.layer\.(?<index>\d+)\.(?<rest>.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex LayerName();

    /// <summary>Ordinal order, except that runs of digits compare by value: layer.2 before layer.10.</summary>
    private sealed class NaturalOrder : IComparer<string>
    {
        public static readonly NaturalOrder Instance = new();

        public int Compare(string? a, string? b)
        {
            if (a is null || b is null)
            {
                return a is null ? (b is null ? 0 : -1) : 1;
            }

            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
                {
                    int startA = i, startB = j;
                    while (i < a.Length && char.IsAsciiDigit(a[i]))
                    {
                        i++;
                    }

                    while (j < b.Length && char.IsAsciiDigit(b[j]))
                    {
                        j++;
                    }

                    // Compare digit runs by value without parsing: strip leading zeros, then longer is larger.
                    ReadOnlySpan<char> runA = a.AsSpan(startA, i - startA).TrimStart('0');
                    ReadOnlySpan<char> runB = b.AsSpan(startB, j - startB).TrimStart('0');
                    int byValue = runA.Length != runB.Length ? runA.Length.CompareTo(runB.Length) : runA.SequenceCompareTo(runB);
                    if (byValue != 0)
                    {
                        return byValue;
                    }
                }
                else
                {
                    if (a[i] != b[j])
                    {
                        return a[i].CompareTo(b[j]);
                    }

                    i++;
                    j++;
                }
            }

            int remaining = (a.Length - i).CompareTo(b.Length - j);
            return remaining != 0 ? remaining : string.CompareOrdinal(a, b);
        }
    }
}
