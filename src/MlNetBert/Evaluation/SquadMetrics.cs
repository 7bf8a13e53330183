using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MlNetBert.Evaluation;

/// <summary>
/// SQuAD v1.1 exact match and F1, as the official <c>evaluate-v1.1.py</c> computes them, as fractions 0–1 (the script
/// prints them × 100). Both compare normalized answers (<see cref="Normalize"/>), take the best over a question's gold
/// answers, and are averaged over every question; a question without a prediction scores 0.
/// </summary>
/// <example>
/// <code>
/// var m = SquadMetrics.Compute(predictions, data.Examples.Select(e => e.Answers.Select(a => a.Text).ToArray()).ToList());
/// Console.WriteLine($"EM {m.ExactMatch:P1}  F1 {m.F1:P1}");
/// </code>
/// </example>
/// <param name="ExactMatch">Share of questions whose normalized prediction equals a normalized gold answer.</param>
/// <param name="F1">Mean over questions of the best token-overlap F1 against the gold answers.</param>
/// <param name="Count">Questions scored.</param>
public sealed partial record SquadMetrics(double ExactMatch, double F1, int Count)
{
    // Python's string.punctuation: the 32 ASCII punctuation and symbol characters, nothing else. char.IsPunctuation would
    // differ both ways: it misses $+<=>^`|~ (symbols to .NET) and would remove Unicode dashes and quotes, which the
    // official script keeps.
    private const string AsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    [GeneratedRegex(@"\b(a|an|the)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Articles();

    /// <summary>
    /// The official normalization, in its order: lower-case (invariant culture), delete ASCII punctuation, replace the
    /// whole words a, an and the by a space, then collapse whitespace runs to single spaces and trim.
    /// </summary>
    /// <example><c>Normalize("The  Broncos' defense!") == "broncos defense"</c>.</example>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kept = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
        {
            if (!AsciiPunctuation.Contains(c))
                kept.Append(c);
        }
        string noArticles = Articles().Replace(kept.ToString(), " ");
        return string.Join(' ', Tokens(noArticles));
    }

    /// <summary>1 when the normalized prediction equals some normalized gold answer, else 0.</summary>
    public static double ExactMatchOf(string prediction, IEnumerable<string> goldAnswers)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(goldAnswers);
        string p = Normalize(prediction);
        return goldAnswers.Any(g => Normalize(g) == p) ? 1 : 0;
    }

    /// <summary>
    /// The best token-overlap F1 against the gold answers: common tokens counted as a multiset, precision = common /
    /// prediction tokens, recall = common / gold tokens. 0 without common tokens, including when both sides normalize
    /// to nothing (v1.1 behaviour; exact match is 1 there).
    /// </summary>
    public static double F1Of(string prediction, IEnumerable<string> goldAnswers)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(goldAnswers);
        string[] predicted = Tokens(Normalize(prediction));
        double best = 0;
        foreach (string gold in goldAnswers)
            best = Math.Max(best, F1OfTokens(predicted, Tokens(Normalize(gold))));
        return best;
    }

    /// <summary>Scores one prediction per question (null: no prediction, scores 0) against each question's gold answers.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or are empty, or a question has no gold answer.</exception>
    public static SquadMetrics Compute(IReadOnlyList<string?> predictions, IReadOnlyList<IReadOnlyList<string>> goldAnswers)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(goldAnswers);
        if (predictions.Count != goldAnswers.Count)
            throw new ArgumentException($"{predictions.Count} predictions for {goldAnswers.Count} questions", nameof(predictions));
        if (predictions.Count == 0)
            throw new ArgumentException("no questions to score", nameof(predictions));
        double em = 0, f1 = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            if (goldAnswers[i].Count == 0)
                throw new ArgumentException($"question {i} has no gold answer", nameof(goldAnswers));
            if (predictions[i] is not { } prediction)
                continue;
            em += ExactMatchOf(prediction, goldAnswers[i]);
            f1 += F1Of(prediction, goldAnswers[i]);
        }
        return new SquadMetrics(em / predictions.Count, f1 / predictions.Count, predictions.Count);
    }

    /// <summary>The scores as JSON, fractions 0–1: <c>{"exact_match", "f1", "count"}</c>.</summary>
    public JsonObject ToJsonObject() => new() { ["exact_match"] = ExactMatch, ["f1"] = F1, ["count"] = Count };

    private static string[] Tokens(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static double F1OfTokens(string[] predicted, string[] gold)
    {
        var goldCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string t in gold)
            goldCounts[t] = goldCounts.GetValueOrDefault(t) + 1;
        int common = 0;
        foreach (string t in predicted)
        {
            if (goldCounts.GetValueOrDefault(t) > 0)
            {
                goldCounts[t]--;
                common++;
            }
        }
        if (common == 0)
            return 0;
        double precision = (double)common / predicted.Length;
        double recall = (double)common / gold.Length;
        return 2 * precision * recall / (precision + recall);
    }
}
