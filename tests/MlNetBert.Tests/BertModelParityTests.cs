using Microsoft.ML.OnnxRuntime;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using static TorchSharp.torch;

namespace MlNetBert.Tests;

[TestClass]
public sealed class BertModelParityTests
{
    private const double Tolerance = 1e-4;

    // The TorchSharp BertModel, loaded from the imported checkpoint, against ONNX Runtime running the package's own
    // ONNX graph: same padded batch of 24 real SST-2 dev sentences of different lengths, every position compared.
    [TestMethod]
    [DataRow("minilm-l6")]
    [DataRow("arctic-xs")]
    public void LastHiddenState_MatchesOnnxRuntimeOnOriginalGraph(string name)
    {
        var checkpoint = new CheckpointStore().Resolve(name);
        var sentences = TestData.Sst2("dev", 24).Select(r => r.Text).ToList();
        var encoder = checkpoint.CreateEncoder();
        var batch = encoder.EncodeBatch(sentences, null, 128);
        Assert.IsTrue(batch.AttentionMask.Count(m => m == 0) > 100, "the batch must contain padding");

        float[] expected = RunOriginalOnnx(name, batch);

        using var scope = NewDisposeScope();
        using var model = BertModel.FromCheckpoint(checkpoint);
        model.eval();
        using var noGrad = no_grad();
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        var states = model.Forward(tensor(batch.InputIds, shape), tensor(batch.AttentionMask, shape), tensor(batch.TokenTypeIds, shape));
        float[] actual = states[^1].contiguous().data<float>().ToArray();

        Assert.AreEqual(checkpoint.Config.NumHiddenLayers + 1, states.Count);
        Assert.AreEqual(expected.Length, actual.Length);
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Console.WriteLine($"{name}: max |torchsharp - onnxruntime| over {expected.Length} values = {maxDiff:E2}");
        Assert.IsTrue(maxDiff <= Tolerance, $"max abs difference {maxDiff:E2} exceeds {Tolerance:E0}");
    }

    [TestMethod]
    public void Encoder_PairEncodingAndTruncation_FollowBertConventions()
    {
        var encoder = new CheckpointStore().Resolve("minilm-l6").CreateEncoder();
        var single = encoder.Encode("Hello, World!", null, 128);
        Assert.AreEqual(encoder.ClsId, single.InputIds[0]);
        Assert.AreEqual(encoder.SepId, single.InputIds[^1]);
        Assert.AreEqual(6, single.Length, "[CLS] hello , world ! [SEP]");

        var pair = encoder.Encode("a b c d e f g h", "i j", 8);
        Assert.AreEqual(8, pair.Length);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 0, 1, 1, 1 }, pair.TokenTypeIds, "longest-first truncation keeps both texts");
        Assert.AreEqual(encoder.SepId, pair.InputIds[4]);

        var longText = string.Join(' ', Enumerable.Repeat("word", 1000));
        Assert.AreEqual(512, encoder.Encode(longText, null, 512).Length);
    }

    private static float[] RunOriginalOnnx(string name, EncodedBatch batch)
    {
        var embedded = new CheckpointStore().ReadPackagedModel(name);
        using var options = new SessionOptions { IntraOpNumThreads = 2 };
        using var session = new InferenceSession(embedded.Onnx, options);
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], ["last_hidden_state"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
