using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Checkpoints;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Tokenization;

namespace MlNetBert.Tests;

[TestClass]
public sealed class ExportTests
{
    private const double Tolerance = 1e-4;
    private const int Rows = 200;

    private static ExportFixture s_fixture = null!;
    private static string s_folder = null!;
    private static string s_clsModel = null!;
    private static EncodedText[] s_sst2 = null!;
    private static List<string> s_sst2Texts = null!;
    private static float[][]? s_clsReference;

    [ClassInitialize]
    public static void ClassInitialize(TestContext context)
    {
        _ = context;
        s_sst2Texts = TestData.Sst2("dev", Rows).Select(r => r.Text).ToList();
        s_fixture = ExportFixture.Load();
        s_sst2 = s_fixture.Encode(s_sst2Texts.Select(t => (t, (string?)null)));
        s_folder = Path.Combine(Path.GetTempPath(), "mlnetbert-export-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(s_folder);
        s_clsModel = Path.Combine(s_folder, "sst2-cls.onnx");
        s_fixture.Export(s_fixture.ClassificationSpec("cls"), s_clsModel,
            new Dictionary<string, string> { ["mlnetbert.metrics.accuracy"] = "0.5", ["run.seed"] = "42" });
    }

    [ClassCleanup]
    public static void ClassCleanup()
    {
        s_fixture?.Dispose();
        if (s_folder is not null && Directory.Exists(s_folder))
            Directory.Delete(s_folder, recursive: true);
    }

    private static float[][] ClsReference => s_clsReference ??= s_fixture.Reference(s_sst2, s_fixture.ClassificationSpec("cls"));

    [TestMethod]
    [DataRow("cls")]
    [DataRow("mean")]
    public void Export_MatchesTorchSharpLogits_OnSst2Dev(string pooling)
    {
        var spec = s_fixture.ClassificationSpec(pooling);
        string path = pooling == "cls" ? s_clsModel : Path.Combine(s_folder, $"sst2-{pooling}.onnx");
        if (!File.Exists(path))
            s_fixture.Export(spec, path);
        var expected = pooling == "cls" ? ClsReference : s_fixture.Reference(s_sst2, spec);

        var report = OnnxParity.Check(path, s_sst2, expected, Tolerance);

        Console.WriteLine($"classification, {pooling} pooling: {report}");
        Assert.AreEqual(Rows, report.Rows);
        Assert.AreEqual(1.0, report.ArgmaxAgreement);
        Assert.IsTrue(report.MaxAbsDifference <= Tolerance, report.ToString());
        Assert.IsTrue(expected.Select(ArgMax).Distinct().Count() == 2, "the seeded head must predict both labels, or argmax agreement proves little");
    }

    [TestMethod]
    public void BertOnnxModel_PredictBatch_MatchesTorchSharp_InInputOrder()
    {
        using var model = BertOnnxModel.Load(s_clsModel, new BertOnnxOptions { IntraOpThreads = 2 });

        // Batches of 16 over length-sorted rows: every batch is padded differently than the reference's.
        var predictions = model.PredictBatch(s_sst2Texts, batchSize: 16);

        Assert.AreEqual(Rows, predictions.Count);
        double maxDiff = 0;
        for (int i = 0; i < Rows; i++)
        {
            float[] want = ClsReference[i];
            Assert.AreEqual(ExportFixture.SentimentLabels[ArgMax(want)], predictions[i].Label, $"row {i}: {s_sst2Texts[i]}");
            maxDiff = Math.Max(maxDiff, want.Zip(predictions[i].Logits!, (a, b) => Math.Abs(a - b)).Max());
            Assert.AreEqual(1.0, predictions[i].Probabilities!.Sum(), 1e-5);
            Assert.IsNull(predictions[i].Score);
        }
        Console.WriteLine($"BertOnnxModel.PredictBatch vs TorchSharp over {Rows} rows: max |diff| = {maxDiff:E2}");
        Assert.IsTrue(maxDiff <= Tolerance, $"max difference {maxDiff:E2}");
    }

    [TestMethod]
    public void Export_Similarity_MatchesTorchSharpScores_OnStsbDev()
    {
        var pairs = TestData.Stsb("dev", Rows);
        var rows = s_fixture.Encode(pairs.Select(p => (p.A, (string?)p.B)));
        var spec = s_fixture.SimilaritySpec("mean");
        string path = Path.Combine(s_folder, "stsb.onnx");
        s_fixture.Export(spec, path);
        var expected = s_fixture.Reference(rows, spec);

        var report = OnnxParity.Check(path, rows, expected, Tolerance);

        Console.WriteLine($"similarity (scale {ExportFixture.SimilarityScale}), mean pooling: {report}");
        Assert.AreEqual(1.0, report.ArgmaxAgreement);
        using var model = BertOnnxModel.Load(path);
        Assert.AreEqual(SentenceSimilarityTask.TaskName, model.Task);
        Assert.AreEqual(0, model.Labels.Count);
        var predictions = model.PredictBatch(pairs.Select(p => p.A).ToList(), pairs.Select(p => p.B).ToList());
        double maxDiff = predictions.Select((p, i) => Math.Abs(p.Score!.Value - expected[i][0])).Max();
        Console.WriteLine($"BertOnnxModel scores vs TorchSharp: max |diff| = {maxDiff:E2}");
        Assert.IsTrue(maxDiff <= Tolerance, $"max difference {maxDiff:E2}");
        Assert.IsTrue(predictions.All(p => p.Label is null && p.Probabilities is null));
    }

    [TestMethod]
    public void Export_Twice_IsByteIdentical()
    {
        string first = Path.Combine(s_folder, "twice-1.onnx"), second = Path.Combine(s_folder, "twice-2.onnx");
        var spec = s_fixture.ClassificationSpec("mean");
        // The same metadata given in a different order must not change the bytes.
        s_fixture.Export(spec, first, new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });
        s_fixture.Export(spec, second, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });

        Assert.AreEqual(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(first))), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(second))));
    }

    [TestMethod]
    public void ExportedFile_CopiedAloneIntoEmptyFolder_LoadsWithSamePredictions()
    {
        string alone = Path.Combine(s_folder, "alone");
        Directory.CreateDirectory(alone);
        string copy = Path.Combine(alone, "model.onnx");
        File.Copy(s_clsModel, copy);
        Assert.AreEqual(1, Directory.GetFiles(alone).Length);

        using var original = BertOnnxModel.Load(s_clsModel);
        using var copied = BertOnnxModel.Load(copy);
        var before = original.PredictBatch(s_sst2Texts);
        var after = copied.PredictBatch(s_sst2Texts);

        for (int i = 0; i < Rows; i++)
        {
            Assert.AreEqual(before[i].Label, after[i].Label);
            CollectionAssert.AreEqual(before[i].Logits, after[i].Logits, $"row {i}");
        }
        Assert.AreEqual(ClassificationTask.TextName, copied.Task);
        CollectionAssert.AreEqual(ExportFixture.SentimentLabels, copied.Labels.ToArray());
        Assert.AreEqual(ExportFixture.MaxLength, copied.MaxLength);
        Assert.AreEqual("minilm-l6", copied.Checkpoint);
    }

    [TestMethod]
    public void ExportedFile_CarriesMetadata()
    {
        using var model = BertOnnxModel.Load(s_clsModel);
        var m = model.Metadata;

        Assert.AreEqual("cls", m["mlnetbert.pooling"]);
        Assert.AreEqual("[\"negative\",\"positive\"]", m["mlnetbert.labels"]);
        Assert.AreEqual("bert-wordpiece", m["mlnetbert.tokenizer"]);
        Assert.AreEqual("true", m["mlnetbert.lower_case"]);
        Assert.AreEqual("1", m["mlnetbert.format_version"]);
        Assert.AreEqual("128", m["mlnetbert.max_length"]);
        Assert.AreEqual("1", m["mlnetbert.score_scale"]);
        Assert.AreEqual("0", m["mlnetbert.score_offset"]);
        Assert.AreEqual(s_fixture.Vocab, m["mlnetbert.vocab"]);
        Assert.AreEqual(OnnxExporter.ProjectVersion, m["mlnetbert.project_version"]);
        Assert.AreEqual("0.5", m["mlnetbert.metrics.accuracy"]);
        Assert.AreEqual("42", m["run.seed"]);
        var proto = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(s_clsModel));
        Assert.AreEqual("MlNetBert", proto.ProducerName);
        Assert.AreEqual(17, proto.OpsetImport.Single().Version);
        Assert.IsTrue(proto.Graph.Node.All(n => n.Domain.Length == 0), "the plain export uses standard ONNX ops only");
        CollectionAssert.AreEqual(new[] { "logits", "probabilities" }, proto.Graph.Output.Select(o => o.Name).ToArray());
    }

    [TestMethod]
    public void Load_TruncatedFile_ThrowsBadInputNamingThePath()
    {
        string damaged = Path.Combine(s_folder, "truncated.onnx");
        byte[] bytes = File.ReadAllBytes(s_clsModel);
        File.WriteAllBytes(damaged, bytes[..(bytes.Length / 2)]);

        var ex = Assert.ThrowsExactly<BadInputException>(() => BertOnnxModel.Load(damaged));

        Console.WriteLine(ex.Message);
        StringAssert.Contains(ex.Message, damaged);
        StringAssert.Contains(ex.Message, "damaged");
    }

    [TestMethod]
    public void Load_ForeignOnnxWithoutMlNetBertMetadata_ThrowsBadInput()
    {
        var embedded = new CheckpointStore().ReadPackagedModel("minilm-l6");
        string foreign = Path.Combine(s_folder, "all-MiniLM-L6-v2.onnx");
        File.WriteAllBytes(foreign, embedded.Onnx);

        var ex = Assert.ThrowsExactly<BadInputException>(() => BertOnnxModel.Load(foreign));

        Console.WriteLine(ex.Message);
        StringAssert.Contains(ex.Message, foreign);
        StringAssert.Contains(ex.Message, "mlnetbert.task");
    }

    [TestMethod]
    public void Predict_FromEightThreadsAtOnce_EqualsSequentialPredictions()
    {
        using var model = BertOnnxModel.Load(s_clsModel);
        var texts = s_sst2Texts.Take(48).ToList();
        var sequential = texts.Select(t => model.Predict(t)).ToList();

        var concurrent = new Prediction[8][];
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            // Each thread walks the texts from a different starting point so different inputs overlap in time.
            var mine = new Prediction[texts.Count];
            for (int k = 0; k < texts.Count; k++)
            {
                int i = (k + t * 6) % texts.Count;
                mine[i] = model.Predict(texts[i]);
            }
            concurrent[t] = mine;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        for (int t = 0; t < 8; t++)
            for (int i = 0; i < texts.Count; i++)
            {
                Assert.AreEqual(sequential[i].Label, concurrent[t][i].Label, $"thread {t}, row {i}");
                CollectionAssert.AreEqual(sequential[i].Logits, concurrent[t][i].Logits, $"thread {t}, row {i}");
            }
    }

    [TestMethod]
    public void IncludeHiddenStates_OutputsMatchBertModelForward()
    {
        string path = Path.Combine(s_folder, "hidden.onnx");
        var spec = s_fixture.ClassificationSpec("cls");
        s_fixture.Export(spec, path, options: new OnnxExportOptions { IncludeHiddenStates = true });
        int layers = s_fixture.Checkpoint.Config.NumHiddenLayers;
        var outputNames = Enumerable.Range(0, layers + 1).Select(ModelFileFormat.HiddenState).ToArray();

        using var session = new InferenceSession(path);
        double maxDiff = 0;
        foreach (var chunk in s_sst2.Take(64).Chunk(32))
        {
            var batch = s_fixture.Encoder.Pad(chunk);
            float[][] expected = s_fixture.HiddenStates(batch);
            long[] shape = [batch.BatchSize, batch.SequenceLength];
            using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
            using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
            using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], outputNames);
            Assert.AreEqual(layers + 1, expected.Length);
            for (int layer = 0; layer <= layers; layer++)
            {
                var actual = outputs[layer].GetTensorDataAsSpan<float>();
                Assert.AreEqual(expected[layer].Length, actual.Length, $"hidden_state_{layer} size");
                // Only real tokens: padding rows hold meaningless values (no one reads them) that drift apart faster,
                // up to ~8e-5 by layer 5 here, while real tokens stay within ~1e-5.
                int hidden = actual.Length / batch.AttentionMask.Length;
                for (int j = 0; j < actual.Length; j++)
                    if (batch.AttentionMask[j / hidden] == 1)
                        maxDiff = Math.Max(maxDiff, Math.Abs(actual[j] - expected[layer][j]));
            }
        }
        Console.WriteLine($"hidden states 0..{layers} over 64 rows, real tokens: max |diff| = {maxDiff:E2}");
        Assert.IsTrue(maxDiff <= Tolerance, $"max difference {maxDiff:E2}");

        // The full last layer (no [CLS]-only shortcut when hidden states are requested) gives the same logits.
        var report = OnnxParity.Check(path, s_sst2, ClsReference, Tolerance);
        Console.WriteLine($"logits with hidden states: {report}");
    }

    [TestMethod]
    public void ClsPooling_LastLayerRunsOnFirstPositionOnly()
    {
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(s_clsModel)).Graph;
        string last = $"encoder.layer.{s_fixture.Model.Config.NumHiddenLayers - 1}.";

        var slice = graph.Node.Single(n => n.Output.Contains(last + "cls_input"));
        var residual = graph.Node.Single(n => n.Output.Contains(last + "attention.output.residual"));
        var queryMatMul = graph.Node.Single(n => n.Output.Contains(last + "attention.self.query.out.matmul"));
        var keyMatMul = graph.Node.Single(n => n.Output.Contains(last + "attention.self.key.out.matmul"));

        Assert.AreEqual("Slice", slice.OpType);
        Assert.AreEqual(slice.Output[0], queryMatMul.Input[0], "the query reads position 0 only");
        Assert.AreEqual(slice.Output[0], residual.Input[1], "the residual (and so the feed-forward) is position 0 only");
        Assert.AreNotEqual(slice.Output[0], keyMatMul.Input[0], "keys still come from every position");
        Assert.AreEqual(1, graph.Node.Count(n => n.Output.Any(o => o.EndsWith(".cls_input", StringComparison.Ordinal))), "earlier layers run in full");
    }

    // The real checkpoint uses exact GELU; tiny random encoders cover the tanh GELU and ReLU graphs, and pair input.
    [TestMethod]
    [DataRow("gelu")]
    [DataRow("gelu_new")]
    [DataRow("relu")]
    public void Export_TinyRandomEncoder_MatchesTorchSharp_ForEachActivation(string activation)
    {
        using var tiny = ExportFixture.Tiny(activation);
        var pairs = TestData.Stsb("dev", 64);
        var rows = tiny.Encode(pairs.Select(p => (p.A, (string?)p.B)));
        var spec = tiny.ClassificationSpec("mean") with { Task = ClassificationTask.PairName };
        string path = Path.Combine(s_folder, $"tiny-{activation}.onnx");
        tiny.Export(spec, path);

        // Tighter than elsewhere: swapping exact and tanh GELU moves these logits by ~1.4e-4, correct graphs by ~5e-7.
        var report = OnnxParity.Check(path, rows, tiny.Reference(rows, spec), tolerance: 1e-5);

        Console.WriteLine($"tiny encoder, {activation}: {report}");
        Assert.AreEqual(1.0, report.ArgmaxAgreement);
    }

    [TestMethod]
    public void Export_LabelCountNotMatchingClassifier_ThrowsBadInputAndWritesNothing()
    {
        string path = Path.Combine(s_folder, "bad-head.onnx");
        var spec = s_fixture.ClassificationSpec("cls") with { Labels = ["a", "b", "c"] };

        var ex = Assert.ThrowsExactly<BadInputException>(() => s_fixture.Export(spec, path));

        StringAssert.Contains(ex.Message, "3 labels");
        StringAssert.Contains(ex.Message, "2 rows");
        Assert.IsFalse(File.Exists(path));
    }

    [TestMethod]
    public void Export_ExtraMetadataClashingWithStandardKey_ThrowsBadInput()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => s_fixture.Export(s_fixture.ClassificationSpec("cls"),
            Path.Combine(s_folder, "clash.onnx"), new Dictionary<string, string> { ["mlnetbert.task"] = "other" }));

        StringAssert.Contains(ex.Message, "mlnetbert.task");
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
