using MlNetBert.Tokenization;

namespace MlNetBert.Tests.Data;

/// <summary>The span search as a pure function: hand-made encodings and logits, no tokenizer, no model.</summary>
[TestClass]
public sealed class AnswerSpanSearchTests
{
    private const string Context = "Ada Lovelace wrote the first program.";

    // Context tokens: Ada | Lovelace | wrote | the | first | program | .   (ids do not matter to the search)
    private static readonly SubToken[] Tokens =
    [
        new(1, new(0, 3)), new(2, new(4, 12)), new(3, new(13, 18)), new(4, new(19, 22)), new(5, new(23, 28)), new(6, new(29, 36)), new(7, new(36, 37)),
    ];

    // A 2-token question: [CLS] q q [SEP] context… [SEP], so context token i of a window sits at position 4 + i.
    private static QuestionAnswerEncoding Encoding(params TokenWindow[] windows) =>
        new(Context, Tokens, 2, windows, windows.Select(w => new EncodedText(new int[w.Length + 5], new int[w.Length + 5])).ToArray());

    private static ReadOnlyMemory<float>[] Rows(params float[][] rows) => rows.Select(r => new ReadOnlyMemory<float>(r)).ToArray();

    // Logits of one input of the single full window (12 positions), -10 everywhere except the given positions.
    private static float[] Logits(params (int Position, float Value)[] set)
    {
        var row = Enumerable.Repeat(-10f, 12).ToArray();
        foreach (var (p, v) in set)
            row[p] = v;
        return row;
    }

    [TestMethod]
    public void BestSpan_IsCutFromTheContextByCharacterOffsets()
    {
        var answers = AnswerSpanSearch.Find(Encoding(new TokenWindow(0, 7)), Rows(Logits((4, 5))), Rows(Logits((5, 5))));
        Assert.AreEqual(new AnswerSpan("Ada Lovelace", 0, 12, answers[0].Score), answers[0]);
        Assert.AreEqual("Ada Lovelace", Context[answers[0].Start..answers[0].End]);
    }

    [TestMethod]
    public void OneTokenAnswer_IsReturnedWhole()
    {
        // ML.NET's QuestionAnswer decodes one token short, so a one-token answer comes back empty.
        var answers = AnswerSpanSearch.Find(Encoding(new TokenWindow(0, 7)), Rows(Logits((5, 5))), Rows(Logits((5, 5))));
        Assert.AreEqual(("Lovelace", 4, 12), (answers[0].Text, answers[0].Start, answers[0].End));
    }

    [TestMethod]
    public void Scores_AreTheSoftmaxOverTheKeptCandidates()
    {
        // NBest 2: starts {Ada 2, Lovelace 1}, ends {Lovelace 3, Ada 1}. Kept: Ada–Lovelace 5, Lovelace–Lovelace 4, Ada–Ada 3
        // (Lovelace–Ada ends before it starts). Softmax of (5, 4, 3) = (1, e^-1, e^-2) / (1 + e^-1 + e^-2).
        var answers = AnswerSpanSearch.Find(
            Encoding(new TokenWindow(0, 7)), Rows(Logits((4, 2), (5, 1))), Rows(Logits((5, 3), (4, 1))), new AnswerSearchOptions { NBest = 2 });
        CollectionAssert.AreEqual(new[] { "Ada Lovelace", "Lovelace", "Ada" }, answers.Select(a => a.Text).ToArray());
        double sum = 1 + Math.Exp(-1) + Math.Exp(-2);
        Assert.AreEqual(1 / sum, answers[0].Score, 1e-6);
        Assert.AreEqual(Math.Exp(-1) / sum, answers[1].Score, 1e-6);
        Assert.AreEqual(Math.Exp(-2) / sum, answers[2].Score, 1e-6);
    }

    [TestMethod]
    public void PositionsOutsideTheContext_AreNeverAnswers()
    {
        // The highest logits are on [CLS], the question and the final [SEP]; only context positions may be kept.
        var answers = AnswerSpanSearch.Find(
            Encoding(new TokenWindow(0, 7)),
            Rows(Logits((0, 9), (1, 9), (2, 9), (3, 9), (11, 9), (6, 1))),
            Rows(Logits((0, 9), (1, 9), (2, 9), (3, 9), (11, 9), (7, 1))));
        Assert.AreEqual("wrote the", answers[0].Text);
        Assert.IsTrue(answers.All(a => a.Start >= 0 && a.End <= Context.Length));
    }

    [TestMethod]
    public void SpansLongerThanTheMaximum_OrEndingBeforeTheyStart_AreDropped()
    {
        var options = new AnswerSearchOptions { MaxAnswerTokens = 2 };
        // Best pair Ada–program spans 6 tokens; the only pair of at most 2 tokens among the top ones is "first program".
        var answers = AnswerSpanSearch.Find(
            Encoding(new TokenWindow(0, 7)), Rows(Logits((4, 5), (8, 1))), Rows(Logits((9, 5), (4, -5))), options);
        Assert.AreEqual("first program", answers[0].Text);
        Assert.IsTrue(answers.All(a => a.Text.Split(' ').Length <= 2));
    }

    [TestMethod]
    public void SameSpanInTwoWindows_CountsOnceWithItsBetterScore()
    {
        // Windows [0,5) and [3,7) over the context; "the first" (tokens 3-4) is in both, at positions 7-8 and 4-5.
        var encoding = Encoding(new TokenWindow(0, 5), new TokenWindow(3, 4));
        var start0 = new float[10];
        var end0 = new float[10];
        var start1 = new float[9];
        var end1 = new float[9];
        Array.Fill(start0, -10f);
        Array.Fill(end0, -10f);
        Array.Fill(start1, -10f);
        Array.Fill(end1, -10f);
        (start0[7], end0[8]) = (1f, 1f);
        (start1[4], end1[5]) = (3f, 3f);
        var answers = AnswerSpanSearch.Find(encoding, Rows(start0, start1), Rows(end0, end1), new AnswerSearchOptions { NBest = 1 });
        Assert.HasCount(1, answers);
        Assert.AreEqual(new AnswerSpan("the first", 19, 28, 1f), answers[0]);
    }

    [TestMethod]
    public void PaddedLogitRows_AreAccepted_AndWrongRowCountsAreNot()
    {
        var padded = Logits((4, 5)).Concat(new float[20]).ToArray();
        var answers = AnswerSpanSearch.Find(Encoding(new TokenWindow(0, 7)), Rows(padded), Rows(Logits((4, 5)).Concat(new float[20]).ToArray()));
        Assert.AreEqual("Ada", answers[0].Text);
        Assert.ThrowsExactly<ArgumentException>(() => AnswerSpanSearch.Find(Encoding(new TokenWindow(0, 7)), Rows(), Rows()));
    }
}
