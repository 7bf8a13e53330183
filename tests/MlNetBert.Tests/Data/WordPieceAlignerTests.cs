using MlNetBert.Data.TokenClassification;
using MlNetBert.Tokenization;

namespace MlNetBert.Tests.Data;

/// <summary>Word → sub-token alignment and offsets with the real MiniLM (bert-base-uncased) vocabulary; ids are its vocab.txt lines − 1.</summary>
[TestClass]
public sealed class WordPieceAlignerTests
{
    private const int Unk = 100, Cls = 101, Sep = 102;

    private static WordPieceAligner Aligner => MiniLmAligner.Value;

    private static string[] Cut(string text, IEnumerable<SubToken> tokens) => tokens.Select(t => text[t.Span.Start..t.Span.End]).ToArray();

    [TestMethod]
    public void AlignWords_EachWordPointsAtItsFirstSubToken()
    {
        // eu | rejects | una ##ffa ##ble | germany ' s | call
        var a = Aligner.AlignWords(["EU", "rejects", "unaffable", "Germany's", "call"]);
        CollectionAssert.AreEqual(new[] { 7327, 19164, 14477, 20961, 3468, 2762, 1005, 1055, 2655 }, a.Ids);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 5, 8 }, a.FirstToken);
        CollectionAssert.AreEqual(new[] { 1, 1, 3, 3, 1 }, a.TokenCount);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 2, 2, 3, 3, 3, 4 }, a.WordOfToken);
    }

    [TestMethod]
    public void AlignWords_ControlCharactersAreDropped_AndAWordOfNothingButThemIsUnk()
    {
        // WNUT-17 dev has "Dubbz\uFEFF" (a B-person) and "watched\u200Bwas"; BERT removes U+FEFF and U+200B.
        // "$" is a word of its own in BERT's vocabulary (Microsoft.ML.Tokenizers' own pre-tokenizer would drop it).
        var a = Aligner.AlignWords(["Dubbz\uFEFF", "\u200B", "$", "x\u200By"]);
        CollectionAssert.AreEqual(new[] { 12931, 2497, 2480, Unk, 1002, 1060, 2100 }, a.Ids);
        CollectionAssert.AreEqual(new[] { 0, 3, 4, 5 }, a.FirstToken);
        CollectionAssert.AreEqual(new[] { 3, 1, 1, 2 }, a.TokenCount);
    }

    [TestMethod]
    public void WordWindows_FirstWordIsReadRightAfterCls()
    {
        // ML.NET's NER reads word i's prediction one position off, so the first word's label comes back empty.
        var windows = WordWindows.Create(Aligner.AlignWords(["Ada", "Lovelace", "was", "born", "in", "London", "."]), 128, 32, Cls, Sep);
        Assert.HasCount(1, windows.Inputs);
        Assert.AreEqual(Cls, windows.Inputs[0].InputIds[0]);
        Assert.AreEqual(15262, windows.Inputs[0].InputIds[windows.WordPosition[0]]);
        Assert.AreEqual(1, windows.WordPosition[0]);
        Assert.AreEqual(Sep, windows.Inputs[0].InputIds[^1]);
        // "lovelace" is love ##lace: "was" sits one position further on.
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 5, 6, 7, 8 }, windows.WordPosition);
    }

    [TestMethod]
    public void WordWindows_LongSentence_EachWordIsReadWhereItHasMostContext()
    {
        // 10 one-piece words, 8-token inputs (6 sub-tokens + [CLS] + [SEP]), stride 2: windows [0,6) and [4,10);
        // words 0-4 are read from the first, 5-9 from the second (see SlidingWindowsTests).
        string[] words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
        var windows = WordWindows.Create(Aligner.AlignWords(words), 8, 2, Cls, Sep);
        Assert.HasCount(2, windows.Inputs);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 }, windows.WordWindow);
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5, 2, 3, 4, 5, 6 }, windows.WordPosition);
        for (int w = 0; w < words.Length; w++)
        {
            var input = windows.Inputs[windows.WordWindow[w]];
            Assert.AreEqual(windows.Alignment.Ids[w], input.InputIds[windows.WordPosition[w]]);
        }
    }

    [TestMethod]
    public void SubTokenLabels_FirstSubTokenCarriesTheLabel_OthersAreIgnored()
    {
        var labels = EntityTags.BioLabels(["LOC", "ORG"]); // O, B-LOC, I-LOC, B-ORG, I-ORG
        int o = 0, bLoc = 1, iLoc = 2, bOrg = 3, ignored = SubTokenLabels.Ignored;
        var windows = WordWindows.Create(Aligner.AlignWords(["EU", "rejects", "Germany's", "call"]), 128, 32, Cls, Sep);
        int[] wordLabels = [bOrg, o, bLoc, o];

        var firstOnly = SubTokenLabels.ForInputs(windows, wordLabels);
        CollectionAssert.AreEqual(new[] { ignored, bOrg, o, bLoc, ignored, ignored, o, ignored }, firstOnly.Single());

        var all = SubTokenLabels.ForInputs(windows, wordLabels, labelAllSubTokens: true, EntityTags.ContinuationLabels(labels));
        CollectionAssert.AreEqual(new[] { ignored, bOrg, o, bLoc, iLoc, iLoc, o, ignored }, all.Single());
    }

    // The task's two variants (the registry's, and --label-all-subtokens / labelAllSubTokens: true) turn a row into
    // these labels: the option reaches the examples the loop trains on.
    [TestMethod]
    public void TokenClassificationVariants_LabelFirstOrEverySubToken()
    {
        var card = new MlNetBert.Inference.ModelCard { Task = MlNetBert.Inference.TokenClassificationTask.TaskName, Labels = EntityTags.BioLabels(["LOC", "ORG"]), MaxLength = 128 };
        string[] keyNames = ["B-ORG", "O", "B-LOC"];
        var label = new MlNetBert.Tasks.LabelValue(0, 0) { Keys = [1, 2, 3, 2] };
        var encoder = new MlNetBert.Checkpoints.CheckpointStore().Resolve("minilm-l6").CreateEncoder();
        int o = 0, bLoc = 1, iLoc = 2, bOrg = 3, ignored = SubTokenLabels.Ignored;
        int[] Labels(MlNetBert.Tasks.TokenClassificationTraining task) =>
            task.Examples("EU rejects Germany's call", null, label, keyNames, card, encoder, "row 1", "Tags").Single().TokenLabels!;

        CollectionAssert.AreEqual(new[] { ignored, bOrg, o, bLoc, ignored, ignored, o, ignored }, Labels(MlNetBert.Tasks.TokenClassificationTraining.Instance));
        CollectionAssert.AreEqual(new[] { ignored, bOrg, o, bLoc, iLoc, iLoc, o, ignored }, Labels(MlNetBert.Tasks.TokenClassificationTraining.AllSubTokens));
        Assert.AreEqual("all-sub-tokens", MlNetBert.Tasks.TrainingTasks.Get("token-classification", "all-sub-tokens", "--label-all-subtokens").Variant);
    }

    [TestMethod]
    public void Tokenize_OffsetsPointIntoTheOriginalText_ThroughLowerCasingAndAccentStripping()
    {
        string text = "Café déjà-vu, Beyoncé's $5 東京";
        var tokens = Aligner.Tokenize(text);
        CollectionAssert.AreEqual(new[] { 7668, 2139, 3900, 1011, 24728, 1010, 20773, 1005, 1055, 1002, 1019, 1879, 1755 }, tokens.Select(t => t.Id).ToArray());
        CollectionAssert.AreEqual(
            new[] { "Café", "dé", "jà", "-", "vu", ",", "Beyoncé", "'", "s", "$", "5", "東", "京" },
            Cut(text, tokens));
    }

    [TestMethod]
    public void Tokenize_DecomposedAccent_StaysWithItsLetter()
    {
        // "e\u0301" normalizes to "e": the text gets shorter, and the accent belongs to the sub-token of its letter.
        string text = "e\u0301te\u0301 x\u200By";
        var tokens = Aligner.Tokenize(text);
        CollectionAssert.AreEqual(new[] { 3802, 2063, 1060, 2100 }, tokens.Select(t => t.Id).ToArray());
        CollectionAssert.AreEqual(new[] { "e\u0301t", "e\u0301", "x", "y" }, Cut(text, tokens));
    }

    [TestMethod]
    public void Tokenize_SpecialTokenText_IsOrdinaryText()
    {
        // "[SEP]" typed by a user must not become the separator: it is "[", "sep", "]".
        var ids = Aligner.Tokenize("[SEP]").Select(t => t.Id).ToArray();
        CollectionAssert.DoesNotContain(ids, Sep);
        Assert.HasCount(3, ids);
    }
}
