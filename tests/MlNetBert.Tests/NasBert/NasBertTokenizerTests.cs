using System.Reflection;
using Microsoft.ML.Tokenizers;
using Microsoft.ML.TorchSharp.NasBert;
using MlNetBert.NasBert;
using MlNetBert.Tokenization;

namespace MlNetBert.Tests.NasBert;

/// <summary>
/// The ONNX side's tokenizer (<see cref="RobertaBpeTextEncoder"/>, built from the three files an export embeds) gives
/// exactly the ids ML.NET's own NAS-BERT code feeds its model: ML.NET's internal TokenizerExtensions, called by reflection,
/// on 500 real sentences (SST-2, STS-B, TREC) plus hand-written non-ASCII ones, single texts and pairs, and the 512 cut.
/// </summary>
[TestClass]
public sealed class NasBertTokenizerTests
{
    private static readonly string[] Handwritten =
    [
        "Crème brûlée at the café was naïve, but the jalapeño soufflé? Très bien!",
        "Zoë and Łukasz met in Kraków; Ørsted and Ångström were mentioned, too.",
        "This movie is 🔥🔥🔥 — absolutely loved it 😍👍🏽",
        "東京は日本の首都です。",
        "我喜欢这部电影，但是结局太长了。",
        "한국어 문장도 들어갑니다.",
        "Emoji family 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵 with ZWJ sequences.",
        "Tabs\tand\nnewlines  and   spaces, plus “smart quotes” and ‘apostrophes’…",
        "Ελληνικά και русский текст в одном предложении.",
        "",
    ];

    private static Func<string, IReadOnlyList<int>> MlNetIds()
    {
        var extensions = typeof(TextClassificationTrainer).Assembly.GetType("Microsoft.ML.TorchSharp.Extensions.TokenizerExtensions", throwOnError: true)!;
        var getInstance = extensions.GetMethod("GetInstance", BindingFlags.NonPublic | BindingFlags.Static)!;
        var encode = extensions.GetMethod("EncodeToConverted", BindingFlags.NonPublic | BindingFlags.Static)!;
        var tokenizer = (Tokenizer)getInstance.Invoke(null, [null])!; // the channel is not used
        return text => (IReadOnlyList<int>)encode.Invoke(null, [tokenizer, text])!;
    }

    /// <summary>What ML.NET's NasBertMapper feeds the model: [0] + a (+ [2] + b), the first 512 tokens.</summary>
    private static int[] MlNetInput(Func<string, IReadOnlyList<int>> ids, string a, string? b)
    {
        var tokens = new List<int> { 0 };
        tokens.AddRange(ids(a));
        if (b is not null)
        {
            tokens.Add(2);
            tokens.AddRange(ids(b));
        }
        return tokens.Take(512).ToArray();
    }

    private static RobertaBpeTextEncoder EncoderFromExportedFiles()
    {
        var assembly = typeof(TextClassificationTrainer).Assembly;
        using var vocab = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(NasBertOnnxExporter.Resource(assembly, "encoder.json")));
        using var merges = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(NasBertOnnxExporter.Resource(assembly, "vocab.bpe")));
        using var dict = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(NasBertOnnxExporter.Resource(assembly, "dict.txt")));
        return RobertaBpeTextEncoder.FromStreams(vocab, merges, dict, "test");
    }

    [TestMethod]
    public void SameIdsAsMlNet_On500RealAndNonAsciiSentences()
    {
        var sentences = Handwritten.Concat(TestData.Sst2("dev", 300).Select(r => r.Text))
            .Concat(TestData.Stsb("dev", 100).SelectMany(r => new[] { r.A, r.B })).Take(500).ToList();
        Assert.HasCount(500, sentences);
        var mlnet = MlNetIds();
        var encoder = EncoderFromExportedFiles();
        Assert.AreEqual(NasBertWeights.VocabularySize, encoder.SymbolsCount, "the vocabulary size NAS-BERT's embedding has");
        int nonAscii = 0;
        foreach (string s in sentences)
        {
            nonAscii += s.Any(c => c > 127) ? 1 : 0;
            CollectionAssert.AreEqual(MlNetInput(mlnet, s, null), encoder.Encode(s, null, 512).InputIds, $"'{s}'");
        }
        Assert.IsTrue(nonAscii >= 9, $"{nonAscii} sentences with non-ASCII characters");
        for (int i = 0; i + 1 < 100; i += 2)
            CollectionAssert.AreEqual(MlNetInput(mlnet, sentences[i], sentences[i + 1]), encoder.Encode(sentences[i], sentences[i + 1], 512).InputIds);
    }

    [TestMethod]
    public void LongInputs_AreCutAt512Tokens_AsMlNetCutsThem()
    {
        var mlnet = MlNetIds();
        var encoder = EncoderFromExportedFiles();
        string longText = string.Join(" ", TestData.Sst2("dev", 120).Select(r => r.Text)) + " Crème brûlée 🔥 東京";
        var expected = MlNetInput(mlnet, longText, null);
        Assert.HasCount(512, expected, "the text is longer than 512 tokens");
        CollectionAssert.AreEqual(expected, encoder.Encode(longText, null, 512).InputIds);
        CollectionAssert.AreEqual(MlNetInput(mlnet, "A short first sentence.", longText), encoder.Encode("A short first sentence.", longText, 512).InputIds);
        CollectionAssert.AreEqual(MlNetInput(mlnet, longText, "never reached"), encoder.Encode(longText, "never reached", 512).InputIds);
    }
}
