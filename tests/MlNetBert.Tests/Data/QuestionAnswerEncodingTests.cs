using MlNetBert.Data.QuestionAnswering;
using MlNetBert.Evaluation;
using MlNetBert.Tokenization;

namespace MlNetBert.Tests.Data;

/// <summary><c>[CLS] question [SEP] context [SEP]</c> windows, offsets and training targets with the real MiniLM vocabulary.</summary>
[TestClass]
public sealed class QuestionAnswerEncodingTests
{
    private const int Cls = 101, Sep = 102;

    private static WordPieceAligner Aligner => MiniLmAligner.Value;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void ShortContext_IsOneInput_ClsQuestionSepContextSep_WithTypes()
    {
        var e = QuestionAnswerEncoding.Create(Aligner, "Who?", "Ada Lovelace.");
        // who ? | ada love ##lace .
        Assert.HasCount(1, e.Inputs);
        CollectionAssert.AreEqual(new[] { Cls, 2040, 1029, Sep, 15262, 2293, 19217, 1012, Sep }, e.Inputs[0].InputIds);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 1, 1, 1, 1, 1 }, e.Inputs[0].TokenTypeIds);
        Assert.AreEqual(4, e.ContextOffset);
        CollectionAssert.AreEqual(new[] { "Ada", "Love", "lace", "." }, e.ContextTokens.Select(t => e.Context[t.Span.Start..t.Span.End]).ToArray());
    }

    [TestMethod]
    public void LongContext_IsWindowed_384TokensAtMost_SharingTheStride()
    {
        string context = string.Join(' ', Enumerable.Range(0, 1_000).Select(i => i % 2 == 0 ? "alpha" : "beta"));
        var e = QuestionAnswerEncoding.Create(Aligner, "Which word?", context);
        // 3 question tokens leave 384 - 3 - 3 = 378 context tokens per input; step 378 - 128 = 250.
        CollectionAssert.AreEqual(
            new[] { new TokenWindow(0, 378), new TokenWindow(250, 378), new TokenWindow(500, 378), new TokenWindow(750, 250) },
            e.Windows);
        Assert.IsTrue(e.Inputs.All(i => i.Length <= 384));
        Assert.AreEqual(384, e.Inputs[0].Length);
    }

    [TestMethod]
    public void LongQuestion_IsCutTo64Tokens()
    {
        string question = string.Join(' ', Enumerable.Repeat("why", 100));
        var e = QuestionAnswerEncoding.Create(Aligner, question, "Because.");
        Assert.AreEqual(64, e.QuestionTokenCount);
        Assert.AreEqual(64 + 2 + 2 + 1, e.Inputs[0].Length);
    }

    [TestMethod]
    public void Targets_PointAtTheAnswer_OnlyInWindowsHoldingAllOfIt()
    {
        // 1,000 one-token words; the answer "gamma delta" is words 900-901, inside the last window ([750,1000)) only,
        // at positions 900 - 750 + 5 (after [CLS], 3 question tokens and [SEP]) and one more. Other windows point at [CLS].
        var words = Enumerable.Range(0, 1_000).Select(i => i switch { 900 => "gamma", 901 => "delta", _ => "alpha" }).ToArray();
        string context = string.Join(' ', words);
        int start = context.IndexOf("gamma delta", StringComparison.Ordinal);
        var e = QuestionAnswerEncoding.Create(Aligner, "Which word?", context);
        var targets = AnswerTargets.ForWindows(e, new GoldAnswer("gamma delta", start));
        CollectionAssert.AreEqual(
            new[] { AnswerTarget.NoAnswer, AnswerTarget.NoAnswer, AnswerTarget.NoAnswer, new AnswerTarget(155, 156) },
            targets);
        Assert.AreEqual(13091, e.Inputs[3].InputIds[155]);
        Assert.AreEqual(7160, e.Inputs[3].InputIds[156]);
    }

    /// <summary>
    /// Every gold answer of SQuAD part 2 (16,337) mapped to context tokens and back: the text cut from the context by
    /// the tokens' offsets normalizes (SQuAD normalization) to the answer. Measured: 16,313 of 16,337 (99.85%), all of
    /// them cut exactly; the 24 others are crowd answers that start or end inside a word ('onomist' for 'economist',
    /// 'Gan' for 'Gandhi'), which no token-level model can return either.
    /// </summary>
    [TestMethod]
    public void Part2Answers_RoundTripThroughTokenOffsets_ForAtLeast99Point8Percent()
    {
        var data = SquadReader.Read(TestData.Require("squad/dev-v1.1.part2.json"));
        var contexts = new Dictionary<string, QuestionAnswerEncoding>(StringComparer.Ordinal);
        int answers = 0, exact = 0, normalizedEqual = 0;
        var misses = new List<string>();
        foreach (var example in data.Examples)
        {
            if (!contexts.TryGetValue(example.Context, out var e))
                contexts[example.Context] = e = QuestionAnswerEncoding.Create(Aligner, example.Question, example.Context);
            foreach (var answer in example.Answers)
            {
                answers++;
                Assert.IsTrue(e.TryFindTokens(answer.Start, answer.End, out int first, out int last), $"{example.Id}: no token for '{answer.Text}'");
                var span = e.SpanOf(first, last);
                string cut = example.Context[span.Start..span.End];
                if (cut == answer.Text)
                    exact++;
                if (SquadMetrics.Normalize(cut) == SquadMetrics.Normalize(answer.Text))
                    normalizedEqual++;
                else if (misses.Count < 10)
                    misses.Add($"'{answer.Text}' → '{cut}'");
            }
        }
        double rate = (double)normalizedEqual / answers;
        TestContext.WriteLine($"{answers} answers: {normalizedEqual} ({rate:P2}) normalize equal, {exact} cut exactly; e.g. {string.Join("; ", misses)}");
        Assert.AreEqual(16_337, answers);
        Assert.IsGreaterThanOrEqualTo(0.998, rate, $"{rate:P2}; e.g. {string.Join("; ", misses)}");
        Assert.AreEqual(normalizedEqual, exact, "every answer that round-trips should come back character for character");
    }

    /// <summary>
    /// Offsets checked token by token on every context of SQuAD part 2 (674 of the dev set's contexts have accents, dashes,
    /// quotes or other non-ASCII text): the original characters under a sub-token, lower-cased and stripped of accents and
    /// control characters as BERT does, spell the sub-token (without its "##"). [UNK] tokens have no spelling to check.
    /// Measured: 168,118 sub-tokens of 1,019 contexts, 839 of them over non-ASCII text, none wrong.
    /// </summary>
    [TestMethod]
    public void Part2ContextTokens_SpellTheOriginalCharactersUnderTheirOffsets()
    {
        string[] vocab = File.ReadAllLines(new Checkpoints.CheckpointStore().Resolve("minilm-l6").VocabPath);
        var contexts = SquadReader.Read(TestData.Require("squad/dev-v1.1.part2.json")).Examples.Select(e => e.Context).Distinct().ToArray();
        int checkedTokens = 0, nonAscii = 0;
        var wrong = new List<string>();
        foreach (string context in contexts)
        {
            foreach (var token in Aligner.Tokenize(context))
            {
                if (token.Id == 100)
                    continue;
                string original = context[token.Span.Start..token.Span.End];
                string spelled = vocab[token.Id].StartsWith("##", StringComparison.Ordinal) ? vocab[token.Id][2..] : vocab[token.Id];
                checkedTokens++;
                if (original.Any(c => c > 127))
                    nonAscii++;
                if (BertFold(original) != spelled && wrong.Count < 10)
                    wrong.Add($"'{original}' as '{spelled}'");
            }
        }
        TestContext.WriteLine($"{contexts.Length} contexts, {checkedTokens} sub-tokens checked, {nonAscii} of them over non-ASCII text");
        Assert.IsEmpty(wrong, string.Join("; ", wrong));
        Assert.IsGreaterThanOrEqualTo(800, nonAscii);
    }

    // Uncased BERT's view of a string: lower-case, decompose, drop combining marks and control/format characters.
    private static string BertFold(string text) =>
        new(text.ToLowerInvariant().Normalize(System.Text.NormalizationForm.FormD)
            .Where(c => char.GetUnicodeCategory(c) is not (System.Globalization.UnicodeCategory.NonSpacingMark
                or System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format))
            .ToArray());

    /// <summary>With 384-token inputs and stride 128, every training answer of part 2 lies wholly in at least one window, at positions whose offsets give back the same characters.</summary>
    [TestMethod]
    public void Part2TrainingAnswers_EachLieWhollyInSomeWindow()
    {
        var data = SquadReader.Read(TestData.Require("squad/dev-v1.1.part2.json"));
        int windowed = 0;
        foreach (var example in data.Examples)
        {
            var e = QuestionAnswerEncoding.Create(Aligner, example.Question, example.Context);
            if (e.Windows.Length > 1)
                windowed++;
            var answer = example.TrainingAnswer!;
            Assert.IsTrue(e.TryFindTokens(answer.Start, answer.End, out int first, out int last));
            var targets = AnswerTargets.ForWindows(e, answer);
            Assert.IsTrue(targets.Any(t => t != AnswerTarget.NoAnswer), example.Id);
            for (int w = 0; w < targets.Length; w++)
            {
                if (targets[w] == AnswerTarget.NoAnswer)
                    continue;
                int firstToken = e.Windows[w].Start + targets[w].Start - e.ContextOffset;
                int lastToken = e.Windows[w].Start + targets[w].End - e.ContextOffset;
                Assert.AreEqual((first, last), (firstToken, lastToken), example.Id);
                Assert.IsTrue(e.Inputs[w].Length <= 384);
            }
        }
        TestContext.WriteLine($"{data.Examples.Count} questions, {windowed} of them over more than one window");
        Assert.IsGreaterThan(0, windowed);
    }
}
