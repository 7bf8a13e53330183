using MlNetBert.Checkpoints;

namespace MlNetBert.Tests;

[TestClass]
public sealed class CheckpointStoreTests
{
    [TestMethod]
    public void MiniLm_ImportsWithTheKnownArchitecture()
    {
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var c = checkpoint.Config;
        Assert.AreEqual((6, 384, 12, 1536, 30522, 512), (c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.AreEqual(1e-12, c.LayerNormEps, 1e-15);
        Assert.AreEqual("gelu", c.HiddenAct);
        Assert.IsTrue(c.AddPoolingLayer);
        Assert.IsTrue(checkpoint.LowerCase);
        var tensors = checkpoint.LoadTensors();
        long parameters = tensors.Values.Sum(t => t.ElementCount);
        Assert.AreEqual(22_713_216, parameters, "all-MiniLM-L6-v2 has 22.7M parameters (with pooler)");
    }

    [TestMethod]
    public void ArcticXs_ImportsWithoutPooler()
    {
        var checkpoint = new CheckpointStore().Resolve("arctic-xs");
        Assert.AreEqual(6, checkpoint.Config.NumHiddenLayers);
        Assert.AreEqual(384, checkpoint.Config.HiddenSize);
        Assert.IsFalse(checkpoint.Config.AddPoolingLayer);
    }

    [TestMethod]
    public void TruncatedCachedWeights_AreDetectedAndRebuilt()
    {
        string root = Path.Combine(Path.GetTempPath(), "mlnetbert-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var messages = new List<string>();
            var store = new CheckpointStore(root, messages.Add);
            var first = store.Resolve("minilm-l6");
            long size = new FileInfo(first.WeightsPath).Length;
            using (var f = new FileStream(first.WeightsPath, FileMode.Open))
                f.SetLength(size / 2);

            var rebuilt = store.Resolve("minilm-l6");

            Assert.IsTrue(messages.Any(m => m.Contains("damaged", StringComparison.Ordinal) && m.Contains("model.safetensors", StringComparison.Ordinal)),
                "expected a log line naming the damaged file, got: " + string.Join(" | ", messages));
            Assert.AreEqual(size, new FileInfo(rebuilt.WeightsPath).Length);
            Assert.AreEqual(first.Sha256, rebuilt.Sha256);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void TruncatedSafetensors_InUserFolder_IsRejectedNamingTheFile()
    {
        using var folder = HfFolder.CopyOf(new CheckpointStore().Resolve("minilm-l6"));
        string weights = Path.Combine(folder.Path, "model.safetensors");
        using (var f = new FileStream(weights, FileMode.Open))
            f.SetLength(f.Length - 1000);
        var checkpoint = CheckpointStore.OpenFolder(folder.Path, "copy");
        var ex = Assert.ThrowsExactly<BadInputException>(() => checkpoint.LoadTensors());
        StringAssert.Contains(ex.Message, weights);
        StringAssert.Contains(ex.Message, "truncated");
    }

    [TestMethod]
    public void UserFolder_WithWrongShape_IsRejectedNamingTheTensor()
    {
        using var folder = HfFolder.CopyOf(new CheckpointStore().Resolve("minilm-l6"), t =>
            t.Name == "encoder.layer.2.attention.self.key.weight" ? t with { Shape = [384, 192, 2] } : t);
        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore().Resolve(folder.Path).LoadTensors());
        StringAssert.Contains(ex.Message, "'encoder.layer.2.attention.self.key.weight' has shape [384, 192, 2], expected [384, 384]");
    }

    [TestMethod]
    public void UserFolder_WithMissingTensor_IsRejectedNamingTheTensor()
    {
        using var folder = HfFolder.CopyOf(new CheckpointStore().Resolve("minilm-l6"), t =>
            t.Name == "encoder.layer.5.output.LayerNorm.bias" ? null : t);
        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore().Resolve(folder.Path).LoadTensors());
        StringAssert.Contains(ex.Message, "missing tensor 'encoder.layer.5.output.LayerNorm.bias'");
    }

    [TestMethod]
    public void UserFolder_WithBertPrefixedNames_Loads()
    {
        using var folder = HfFolder.CopyOf(new CheckpointStore().Resolve("minilm-l6"), t => t with { Name = "bert." + t.Name });
        var tensors = new CheckpointStore().Resolve(folder.Path).LoadTensors();
        Assert.IsTrue(tensors.ContainsKey("embeddings.word_embeddings.weight"));
    }

    [TestMethod]
    [DataRow("\"model_type\": \"bert\"", "\"model_type\": \"roberta\"", "unsupported model_type = roberta")]
    [DataRow("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\"", "unsupported hidden_act = swish")]
    [DataRow("\"num_attention_heads\": 12", "\"num_attention_heads\": 7", "unsupported num_attention_heads = 7")]
    [DataRow("\"position_embedding_type\": \"absolute\"", "\"position_embedding_type\": \"relative_key\"", "unsupported position_embedding_type = relative_key")]
    public void UserFolder_WithUnsupportedConfig_IsRejectedNamingTheField(string from, string to, string expected)
    {
        using var folder = HfFolder.CopyOf(new CheckpointStore().Resolve("minilm-l6"));
        string config = Path.Combine(folder.Path, "config.json");
        string text = File.ReadAllText(config);
        Assert.IsTrue(text.Contains(from, StringComparison.Ordinal), $"config.json should contain {from}");
        File.WriteAllText(config, text.Replace(from, to, StringComparison.Ordinal));
        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore().Resolve(folder.Path));
        StringAssert.Contains(ex.Message, expected);
        StringAssert.Contains(ex.Message, "config.json");
    }

    [TestMethod]
    public void UnknownName_IsRejectedListingTheChoices()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore().Resolve("bert-huge-nonexistent"));
        StringAssert.Contains(ex.Message, "minilm-l6");
    }

    [TestMethod]
    public void Safetensors_RoundTripsBitForBit()
    {
        string path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            var tensors = new[]
            {
                new TensorData("b", [2, 3], [1, 2, 3, 4, 5, float.Epsilon]),
                new TensorData("a", [1], [-0.0f]),
            };
            Safetensors.Write(path, tensors);
            byte[] first = File.ReadAllBytes(path);
            var read = Safetensors.Read(path);
            CollectionAssert.AreEqual(tensors[0].Data, read["b"].Data);
            CollectionAssert.AreEqual(new long[] { 2, 3 }, read["b"].Shape);
            Assert.IsTrue(float.IsNegative(read["a"].Data[0]));
            Safetensors.Write(path, read.Values);
            CollectionAssert.AreEqual(first, File.ReadAllBytes(path), "same tensors, same bytes");
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>A temporary copy of a checkpoint folder, optionally with its tensors edited (null drops one).</summary>
internal sealed class HfFolder : IDisposable
{
    private HfFolder(string path) => Path = path;

    public string Path { get; }

    public static HfFolder CopyOf(Checkpoint checkpoint, Func<TensorData, TensorData?>? edit = null)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlnetbert-hf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        File.Copy(checkpoint.ConfigPath, System.IO.Path.Combine(path, "config.json"));
        File.Copy(checkpoint.VocabPath, System.IO.Path.Combine(path, "vocab.txt"));
        if (edit is null)
        {
            File.Copy(checkpoint.WeightsPath, System.IO.Path.Combine(path, "model.safetensors"));
        }
        else
        {
            var tensors = Safetensors.Read(checkpoint.WeightsPath).Values.Select(edit).OfType<TensorData>()
                .Select(t => t.Data.LongLength == t.ElementCount ? t : t with { Data = new float[t.ElementCount] });
            Safetensors.Write(System.IO.Path.Combine(path, "model.safetensors"), tensors);
        }
        return new HfFolder(path);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
