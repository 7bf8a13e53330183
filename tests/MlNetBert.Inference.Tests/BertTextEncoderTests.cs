using MlNetBert.Tokenization;

namespace MlNetBert.Inference.Tests;

[TestClass]
public sealed class BertTextEncoderTests
{
    // A tiny WordPiece vocabulary written by the test: enough to check the special-token layout exactly.
    private static BertTextEncoder Encoder(bool lowerCase = true)
    {
        string[] vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "cafe"];
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', vocab) + "\n"));
        return BertTextEncoder.FromVocab(stream, lowerCase);
    }

    [TestMethod]
    public void Single_IsClsTokensSep_WithZeroTypes()
    {
        var e = Encoder().Encode("The cats sat.", null, 16);
        CollectionAssert.AreEqual(new[] { 2, 5, 6, 10, 7, 11, 3 }, e.InputIds);
        CollectionAssert.AreEqual(new int[7], e.TokenTypeIds);
    }

    [TestMethod]
    public void Pair_IsClsASepBSep_WithTypesZeroThenOne()
    {
        var e = Encoder().Encode("the cat", "on mat", 16);
        CollectionAssert.AreEqual(new[] { 2, 5, 6, 3, 8, 9, 3 }, e.InputIds);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 1, 1, 1 }, e.TokenTypeIds);
    }

    [TestMethod]
    public void LowerCasing_StripsAccents_AndUnknownWordsMapToUnk()
    {
        var e = Encoder().Encode("CAFÉ zebra", null, 16);
        CollectionAssert.AreEqual(new[] { 2, 12, 1, 3 }, e.InputIds);
    }

    [TestMethod]
    public void Truncation_KeepsSpecialTokens()
    {
        var e = Encoder().Encode("the cat sat on the mat", null, 4);
        CollectionAssert.AreEqual(new[] { 2, 5, 6, 3 }, e.InputIds);
    }

    [TestMethod]
    public void Batch_IsPaddedToLongestRow_WithMask()
    {
        var b = Encoder().EncodeBatch(["the cat", "the cat sat on the mat"], null, 32);
        Assert.AreEqual((2, 8), (b.BatchSize, b.SequenceLength));
        CollectionAssert.AreEqual(new long[] { 1, 1, 1, 1, 0, 0, 0, 0 }, b.AttentionMask[..8]);
        CollectionAssert.AreEqual(new long[] { 2, 5, 6, 3, 0, 0, 0, 0 }, b.InputIds[..8]);
        Assert.AreEqual(12, b.RealTokens);
    }
}
