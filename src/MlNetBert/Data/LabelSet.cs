using System.Globalization;

namespace MlNetBert.Data;

/// <summary>
/// The classes of a classification task: the distinct labels, sorted, so that a label's index is its class id.
/// Labels that are all integers sort as numbers (<c>2</c> before <c>10</c>); others sort ordinally.
/// </summary>
/// <example>
/// <code>
/// var labels = LabelSet.FromTraining(train, data.Path, data.Columns.Label);   // e.g. ["0", "1"]
/// LabelSet.CheckKnown(valid, labels, data.Path, data.Columns.Label);
/// int classId = labels.IndexOf(row.Label!);
/// </code>
/// </example>
public sealed class LabelSet
{
    private const int LabelsShownInMessages = 20;

    private readonly Dictionary<string, int> _index;

    /// <summary>Builds the set from labels in any order; duplicates are dropped.</summary>
    public LabelSet(IEnumerable<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        string[] distinct = labels.Distinct(StringComparer.Ordinal).ToArray();
        bool allIntegers = distinct.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _));
        Labels = allIntegers
            ? distinct.OrderBy(l => long.Parse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture))
                .ThenBy(l => l, StringComparer.Ordinal).ToArray()
            : distinct.OrderBy(l => l, StringComparer.Ordinal).ToArray();
        _index = Labels.Select((label, i) => (label, i)).ToDictionary(p => p.label, p => p.i, StringComparer.Ordinal);
    }

    /// <summary>The labels in class-id order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The number of classes.</summary>
    public int Count => Labels.Count;

    /// <summary>The class id of <paramref name="label"/>, or -1 when it is not one of the labels.</summary>
    public int IndexOf(string label) => _index.TryGetValue(label, out int i) ? i : -1;

    /// <summary>Whether <paramref name="label"/> is one of the labels.</summary>
    public bool Contains(string label) => _index.ContainsKey(label);

    /// <summary>The labels of the training rows, which must have at least two distinct ones to classify.</summary>
    /// <param name="rows">The training rows.</param>
    /// <param name="file">The file they came from, for the message.</param>
    /// <param name="labelColumn">The column they came from, for the message.</param>
    /// <exception cref="BadInputException">
    /// Fewer than two distinct labels: <c>train.tsv: fewer than two distinct labels in column 'label' (found: 1)</c>.
    /// </exception>
    public static LabelSet FromTraining(IReadOnlyList<TabularRow> rows, string file, TabularColumn labelColumn)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var set = new LabelSet(rows.Select(r => r.Label).OfType<string>());
        if (set.Count < 2)
        {
            throw new BadInputException(
                $"{file}: fewer than two distinct labels in {labelColumn} (found: {(set.Count == 0 ? "none" : set.Labels[0])})");
        }
        return set;
    }

    /// <summary>Checks that every validation row's label was seen in training.</summary>
    /// <param name="validRows">The validation rows.</param>
    /// <param name="trainLabels">The training labels.</param>
    /// <param name="file">The file the validation rows came from, for the message.</param>
    /// <param name="labelColumn">The column the labels came from, for the message.</param>
    /// <exception cref="BadInputException">
    /// The first unknown label: <c>dev.tsv:5: label '2' in column 'label' does not occur in the training data (known: 0, 1)</c>.
    /// </exception>
    public static void CheckKnown(
        IReadOnlyList<TabularRow> validRows, LabelSet trainLabels, string file, TabularColumn labelColumn)
    {
        ArgumentNullException.ThrowIfNull(validRows);
        ArgumentNullException.ThrowIfNull(trainLabels);
        foreach (var row in validRows)
        {
            if (row.Label is { } label && !trainLabels.Contains(label))
            {
                throw new BadInputException(
                    $"{file}:{row.Line}: label '{label}' in {labelColumn} does not occur in the training data (known: {trainLabels.Describe()})");
            }
        }
    }

    private string Describe() => Count <= LabelsShownInMessages
        ? string.Join(", ", Labels)
        : $"{string.Join(", ", Labels.Take(LabelsShownInMessages))}, ... ({Count} labels)";

    /// <summary>The labels, comma-separated.</summary>
    public override string ToString() => string.Join(", ", Labels);
}
