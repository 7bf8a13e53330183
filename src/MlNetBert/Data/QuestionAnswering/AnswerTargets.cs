using MlNetBert.Tokenization;

namespace MlNetBert.Data.QuestionAnswering;

/// <summary>A training target: start and end positions in one model input (both 0, [CLS], for "no answer in this window").</summary>
public readonly record struct AnswerTarget(int Start, int End)
{
    /// <summary>The target of a window that does not hold the whole answer.</summary>
    public static AnswerTarget NoAnswer => new(0, 0);
}

/// <summary>Where the answer lies in each window of a question, as Hugging Face's <c>run_qa</c> trains it.</summary>
public static class AnswerTargets
{
    /// <summary>
    /// One target per input of <paramref name="encoding"/>: the positions of the answer's first and last context token
    /// when the window holds the whole answer, else [CLS] (0, 0). The answer's tokens are those overlapping its
    /// characters (<see cref="QuestionAnswerEncoding.TryFindTokens"/>); an answer with no token at all (only whitespace)
    /// is [CLS] everywhere.
    /// </summary>
    public static AnswerTarget[] ForWindows(QuestionAnswerEncoding encoding, GoldAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        ArgumentNullException.ThrowIfNull(answer);
        var targets = new AnswerTarget[encoding.Windows.Length];
        bool found = encoding.TryFindTokens(answer.Start, answer.End, out int first, out int last);
        for (int w = 0; w < targets.Length; w++)
        {
            var window = encoding.Windows[w];
            targets[w] = found && window.Contains(first) && window.Contains(last)
                ? new AnswerTarget(first - window.Start + encoding.ContextOffset, last - window.Start + encoding.ContextOffset)
                : AnswerTarget.NoAnswer;
        }
        return targets;
    }
}
