using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MlNetBert.Evaluation;

/// <summary>Precision, recall and F1 of one class, treating it as "positive" and every other class as "negative".</summary>
/// <param name="Label">The class name.</param>
/// <param name="Precision">Of the examples predicted as this class, the share that truly are; 0 when none were predicted.</param>
/// <param name="Recall">Of the examples that truly are this class, the share predicted as it; 0 when there are none.</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="Support">How many examples truly are this class.</param>
public sealed record ClassMetrics(string Label, double Precision, double Recall, double F1, int Support);

/// <summary>
/// The standard measures of a classifier on a labelled set: accuracy, macro-averaged precision, recall
/// and F1, log-loss, per-class figures and the confusion matrix.
/// </summary>
/// <example>
/// <code>
/// var m = ClassificationMetrics.Compute(gold, predicted, probabilities, ["negative", "positive"]);
/// File.WriteAllText("metrics.json", m.ToJsonObject().ToJsonString());
/// Console.WriteLine(m.ToMarkdown());
/// </code>
/// </example>
public sealed record ClassificationMetrics
{
    private const double MinProbability = 1e-15;

    /// <summary>How many examples were scored.</summary>
    public required int Count { get; init; }

    /// <summary>Share of examples whose predicted class is the true class.</summary>
    public required double Accuracy { get; init; }

    /// <summary>
    /// Unweighted mean of the per-class F1 over the classes that occur in the truth or the predictions
    /// (a class absent from both has no meaningful score and is left out, as scikit-learn does).
    /// </summary>
    public required double MacroF1 { get; init; }

    /// <summary>Unweighted mean of the per-class precision, over the same classes as <see cref="MacroF1"/>.</summary>
    public required double MacroPrecision { get; init; }

    /// <summary>Unweighted mean of the per-class recall, over the same classes as <see cref="MacroF1"/>.</summary>
    public required double MacroRecall { get; init; }

    /// <summary>
    /// Mean of −ln p(true class), with p clamped below at 1e-15 so one confident mistake cannot make it
    /// infinite; <see cref="double.NaN"/> when no probabilities were given.
    /// </summary>
    public required double LogLoss { get; init; }

    /// <summary>One entry per class, in label-index order (every class, including absent ones).</summary>
    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }

    /// <summary><c>ConfusionMatrix[t][p]</c> counts examples of true class t predicted as class p.</summary>
    public required int[][] ConfusionMatrix { get; init; }

    /// <summary>Scores predictions against the truth.</summary>
    /// <param name="truth">True class index of each example, in [0, labelNames.Count).</param>
    /// <param name="predicted">Predicted class index of each example.</param>
    /// <param name="probabilities">
    /// Optional predicted distribution over the classes for each example (labelNames.Count values each), for log-loss.
    /// </param>
    /// <param name="labelNames">The class names; index i names class i.</param>
    /// <exception cref="ArgumentException">
    /// The lists have different lengths or are empty, an index is out of range, or a probability row has the wrong width.
    /// </exception>
    public static ClassificationMetrics Compute(
        IReadOnlyList<int> truth,
        IReadOnlyList<int> predicted,
        IReadOnlyList<float[]>? probabilities,
        IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(labelNames);
        int k = labelNames.Count;
        int n = truth.Count;
        if (k == 0)
        {
            throw new ArgumentException("labelNames is empty (expected one name per class).", nameof(labelNames));
        }

        if (n == 0)
        {
            throw new ArgumentException("truth is empty: there are no examples to score.", nameof(truth));
        }

        if (predicted.Count != n)
        {
            throw new ArgumentException($"truth has {n} entries but predicted has {predicted.Count} (expected one prediction per example).", nameof(predicted));
        }

        var confusion = new int[k][];
        for (int t = 0; t < k; t++)
        {
            confusion[t] = new int[k];
        }

        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            int t = CheckIndex(truth[i], k, nameof(truth), i);
            int p = CheckIndex(predicted[i], k, nameof(predicted), i);
            confusion[t][p]++;
            correct += t == p ? 1 : 0;
        }

        var perClass = new ClassMetrics[k];
        double precisionSum = 0, recallSum = 0, f1Sum = 0;
        int present = 0;
        for (int c = 0; c < k; c++)
        {
            int truePositives = confusion[c][c];
            int support = confusion[c].Sum();
            int predictedAs = 0;
            for (int t = 0; t < k; t++)
            {
                predictedAs += confusion[t][c];
            }

            double precision = predictedAs == 0 ? 0 : (double)truePositives / predictedAs;
            double recall = support == 0 ? 0 : (double)truePositives / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassMetrics(labelNames[c], precision, recall, f1, support);
            if (support > 0 || predictedAs > 0)
            {
                present++;
                precisionSum += precision;
                recallSum += recall;
                f1Sum += f1;
            }
        }

        return new ClassificationMetrics
        {
            Count = n,
            Accuracy = (double)correct / n,
            MacroF1 = f1Sum / present,
            MacroPrecision = precisionSum / present,
            MacroRecall = recallSum / present,
            LogLoss = probabilities is null ? double.NaN : ComputeLogLoss(truth, probabilities, k),
            PerClass = perClass,
            ConfusionMatrix = confusion,
        };
    }

    /// <summary>
    /// A Markdown report: a summary line, a table of per-class precision, recall, F1 and support, and the
    /// confusion matrix (rows are the truth, columns the prediction).
    /// </summary>
    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"Accuracy {Format(Accuracy)}, macro-F1 {Format(MacroF1)}, ")
          .Append(CultureInfo.InvariantCulture, $"macro-precision {Format(MacroPrecision)}, macro-recall {Format(MacroRecall)}, ")
          .Append(CultureInfo.InvariantCulture, $"log-loss {Format(LogLoss)} over {Count} examples.\n\n");

        md.Append("| label | precision | recall | f1 | support |\n|---|---:|---:|---:|---:|\n");
        foreach (ClassMetrics c in PerClass)
        {
            md.Append(CultureInfo.InvariantCulture, $"| {Escape(c.Label)} | {Format(c.Precision)} | {Format(c.Recall)} | {Format(c.F1)} | {c.Support} |\n");
        }

        md.Append("\n| truth \\ predicted |");
        foreach (ClassMetrics c in PerClass)
        {
            md.Append(' ').Append(Escape(c.Label)).Append(" |");
        }

        md.Append("\n|---|").Append(string.Concat(Enumerable.Repeat("---:|", PerClass.Count))).Append('\n');
        for (int t = 0; t < PerClass.Count; t++)
        {
            md.Append("| ").Append(Escape(PerClass[t].Label)).Append(" |");
            foreach (int count in ConfusionMatrix[t])
            {
                md.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append(" |");
            }

            md.Append('\n');
        }

        return md.ToString();
    }

    /// <summary>
    /// The metrics as JSON: <c>count</c>, <c>accuracy</c>, <c>macro_f1</c>, <c>log_loss</c> (null when not
    /// computed), <c>macro_precision</c>, <c>macro_recall</c>, <c>per_class</c> (objects with <c>label</c>,
    /// <c>precision</c>, <c>recall</c>, <c>f1</c>, <c>support</c>) and <c>confusion_matrix</c> (rows are the truth).
    /// </summary>
    public JsonObject ToJsonObject()
    {
        var perClass = new JsonArray();
        foreach (ClassMetrics c in PerClass)
        {
            perClass.Add(new JsonObject
            {
                ["label"] = c.Label,
                ["precision"] = c.Precision,
                ["recall"] = c.Recall,
                ["f1"] = c.F1,
                ["support"] = c.Support,
            });
        }

        var confusion = new JsonArray();
        foreach (int[] row in ConfusionMatrix)
        {
            confusion.Add(new JsonArray(row.Select(v => (JsonNode?)v).ToArray()));
        }

        return new JsonObject
        {
            ["count"] = Count,
            ["accuracy"] = Accuracy,
            ["macro_f1"] = MacroF1,
            ["log_loss"] = double.IsNaN(LogLoss) ? null : LogLoss,
            ["macro_precision"] = MacroPrecision,
            ["macro_recall"] = MacroRecall,
            ["per_class"] = perClass,
            ["confusion_matrix"] = confusion,
        };
    }

    private static double ComputeLogLoss(IReadOnlyList<int> truth, IReadOnlyList<float[]> probabilities, int k)
    {
        if (probabilities.Count != truth.Count)
        {
            throw new ArgumentException(
                $"truth has {truth.Count} entries but probabilities has {probabilities.Count} rows (expected one distribution per example).",
                nameof(probabilities));
        }

        double sum = 0;
        for (int i = 0; i < truth.Count; i++)
        {
            float[] row = probabilities[i];
            if (row is null || row.Length != k)
            {
                throw new ArgumentException(
                    $"probabilities[{i}] has {row?.Length ?? 0} values (expected {k}, one per class).", nameof(probabilities));
            }

            sum -= Math.Log(Math.Max(row[truth[i]], MinProbability));
        }

        return sum / truth.Count;
    }

    private static int CheckIndex(int index, int classes, string name, int position) =>
        index >= 0 && index < classes
            ? index
            : throw new ArgumentException($"{name}[{position}] is {index} (expected a class index from 0 to {classes - 1}).", name);

    private static string Format(double value) =>
        double.IsNaN(value) ? "n/a" : value.ToString("F4", CultureInfo.InvariantCulture);

    private static string Escape(string label) => label.Replace("|", "\\|", StringComparison.Ordinal);
}
