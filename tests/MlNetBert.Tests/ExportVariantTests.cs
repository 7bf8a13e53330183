using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Training;
using MlNetBert.Tokenization;
using Onnx;

namespace MlNetBert.Tests;

/// <summary>
/// The export variants (fused ONNX Runtime ops, int8, float16) and the ML.NET integration, on the real MiniLM
/// encoder with seeded random heads (<see cref="ExportFixture"/>). Accuracy of int8 and float16 on a fine-tuned model
/// is in <see cref="TrainedVariantTests"/>.
/// </summary>
[TestClass]
public sealed class ExportVariantTests
{
    private const double Tolerance = 1e-4;
    private const int Rows = 200;

    private static ExportFixture s_fixture = null!;
    private static string s_folder = null!;
    private static EncodedText[] s_sst2 = null!;
    private static List<string> s_sst2Texts = null!;

    [ClassInitialize]
    public static void ClassInitialize(TestContext context)
    {
        _ = context;
        s_sst2Texts = TestData.Sst2("dev", Rows).Select(r => r.Text).ToList();
        s_fixture = ExportFixture.Load();
        s_sst2 = s_fixture.Encode(s_sst2Texts.Select(t => (t, (string?)null)));
        s_folder = Path.Combine(Path.GetTempPath(), "mlnetbert-variants-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(s_folder);
    }

    [ClassCleanup]
    public static void ClassCleanup()
    {
        s_fixture?.Dispose();
        if (s_folder is not null && Directory.Exists(s_folder))
            Directory.Delete(s_folder, recursive: true);
    }

    [TestMethod]
    [DataRow("cls")]
    [DataRow("mean")]
    public void Optimized_MatchesTorchSharpLogits_OnSst2Dev(string pooling)
    {
        var spec = s_fixture.ClassificationSpec(pooling);
        string path = Export(spec, new OnnxExportOptions { Optimize = true }, $"optimized-{pooling}.onnx");
        var expected = s_fixture.Reference(s_sst2, spec);

        var report = OnnxParity.Check(path, s_sst2, expected, Tolerance);

        Console.WriteLine($"optimized, {pooling} pooling: {report}");
        Assert.AreEqual(Rows, report.Rows);
        Assert.AreEqual(1.0, report.ArgmaxAgreement);
        Assert.IsTrue(expected.Select(ArgMax).Distinct().Count() == 2, "the seeded head must predict both labels, or argmax agreement proves little");
    }

    [TestMethod]
    [DataRow("cls")]
    [DataRow("mean")]
    public void Optimized_Similarity_MatchesTorchSharpScores_OnStsbDev(string pooling)
    {
        var pairs = TestData.Stsb("dev", Rows);
        var rows = s_fixture.Encode(pairs.Select(p => (p.A, (string?)p.B)));
        var spec = s_fixture.SimilaritySpec(pooling);
        string path = Export(spec, new OnnxExportOptions { Optimize = true }, $"optimized-stsb-{pooling}.onnx");
        var expected = s_fixture.Reference(rows, spec);

        var report = OnnxParity.Check(path, rows, expected, Tolerance);

        Console.WriteLine($"optimized similarity, {pooling} pooling: {report}");
        Assert.AreEqual(Rows, report.Rows);
        Assert.IsTrue(report.MaxAbsDifference <= Tolerance, $"max difference {report.MaxAbsDifference:E2}");
        Assert.IsTrue(expected.Select(e => e[0]).Distinct().Count() > Rows / 2, "the seeded head must give varied scores, or parity proves little");
    }

    [TestMethod]
    public void Optimized_UsesFusedOnnxRuntimeOps_AndKeepsTheMetadata()
    {
        var spec = s_fixture.ClassificationSpec("mean");
        var extra = new Dictionary<string, string> { ["mlnetbert.metrics.accuracy"] = "0.5" };
        string plain = Export(spec, new OnnxExportOptions(), "meta-plain.onnx", extra);
        string optimized = Export(spec, new OnnxExportOptions { Optimize = true }, "meta-optimized.onnx", extra);

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized));
        var ops = model.Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        int layers = s_fixture.Model.Config.NumHiddenLayers;
        Console.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} x{kv.Value}")));

        Assert.AreEqual(1, ops["EmbedLayerNormalization"]);
        Assert.AreEqual(layers, ops["Attention"]);
        Assert.AreEqual(layers, ops["BiasGelu"]);
        Assert.AreEqual(2 * layers, ops["LayerNormalization"], "residual LayerNorms stay standard ops (see BertOnnxGraph.Fused.cs)");
        Assert.IsFalse(ops.ContainsKey("Erf") || ops.ContainsKey("Transpose") || ops.ContainsKey("Softmax") && ops["Softmax"] > 1,
            "attention and GELU subgraphs are all replaced");
        Assert.IsTrue(model.Graph.Node.Where(n => n.OpType is "Attention" or "BiasGelu" or "EmbedLayerNormalization")
            .All(n => n.Domain == "com.microsoft"));
        Assert.AreEqual(1, model.OpsetImport.Single(o => o.Domain == "com.microsoft").Version);

        using var before = BertOnnxModel.Load(plain);
        using var after = BertOnnxModel.Load(optimized);
        Assert.AreEqual("fp32", before.Metadata[ModelFileFormat.VariantKey]);
        Assert.AreEqual("optimized", after.Metadata[ModelFileFormat.VariantKey]);
        CollectionAssert.AreEquivalent(before.Metadata.Keys.ToList(), after.Metadata.Keys.ToList());
        foreach (var (key, value) in before.Metadata.Where(kv => kv.Key != ModelFileFormat.VariantKey))
            Assert.AreEqual(value, after.Metadata[key], key);
    }

    // The real checkpoint uses exact GELU; tiny random encoders cover FastGelu (gelu_new), ReLU and pair input.
    [TestMethod]
    [DataRow("gelu")]
    [DataRow("gelu_new")]
    [DataRow("relu")]
    public void Optimized_TinyRandomEncoder_MatchesTorchSharp_ForEachActivation(string activation)
    {
        using var tiny = ExportFixture.Tiny(activation);
        var pairs = TestData.Stsb("dev", 64);
        var rows = tiny.Encode(pairs.Select(p => (p.A, (string?)p.B)));
        var spec = tiny.ClassificationSpec("cls") with { Task = ClassificationTask.PairName };
        string path = Path.Combine(s_folder, $"tiny-optimized-{activation}.onnx");
        tiny.Export(spec, path, options: new OnnxExportOptions { Optimize = true });

        var report = OnnxParity.Check(path, rows, tiny.Reference(rows, spec), tolerance: 1e-5);

        Console.WriteLine($"tiny encoder, optimized, {activation}: {report}");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Int8_ReplacesEncoderMatMulsWithIntegerOps_AndKeepsTheHeadFloat(bool optimize)
    {
        string path = Export(s_fixture.ClassificationSpec("mean"), new OnnxExportOptions { Optimize = optimize, Quantize = OnnxQuantization.Int8 }, $"int8-{optimize}.onnx");
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        var floatWeights = graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Count == 2).Select(t => t.Name).ToHashSet();
        int layers = s_fixture.Model.Config.NumHiddenLayers;

        int integerMatMuls = graph.Node.Count(n => n.OpType == "DynamicQuantizeMatMul");
        Assert.AreEqual(optimize ? 3 * layers : 6 * layers, integerMatMuls, "every projection except the head");
        Assert.AreEqual(optimize ? layers : 0, graph.Node.Count(n => n.OpType == "QAttention"));
        var floatMatMuls = graph.Node.Where(n => n.OpType == "MatMul" && floatWeights.Contains(n.Input[1])).Select(n => n.Input[1]).ToList();
        CollectionAssert.AreEqual(new[] { "classifier.weight" }, floatMatMuls);
        Assert.IsTrue(graph.Initializer.Any(t => t.DataType == (int)TensorProto.Types.DataType.Int8));
        using var model = BertOnnxModel.Load(path);
        Assert.AreEqual(optimize ? "optimized-int8" : "int8", model.Metadata[ModelFileFormat.VariantKey]);
        Assert.AreEqual(Rows, model.PredictBatch(s_sst2Texts).Count(p => p.Probabilities!.All(float.IsFinite)));
    }

    [TestMethod]
    public void QuantizeSymmetric_PerColumn_ReconstructsWithinHalfAStep()
    {
        float[] weight = [0.5f, -2f, 0f, -0.25f, 1f, 0f, 0.125f, 0.75f, 0f]; // 3 x 3, last column all zero
        var (values, scales) = OnnxQuantizer.QuantizeSymmetric(weight, 3, 3, perChannel: true);

        CollectionAssert.AreEqual(new[] { 0.5f / 127, 2f / 127, 1f }, scales);
        Assert.AreEqual((sbyte)127, values[0]);
        Assert.AreEqual((sbyte)-127, values[1]);
        for (int i = 0; i < weight.Length; i++)
            Assert.AreEqual(weight[i], values[i] * scales[i % 3], scales[i % 3] / 2 + 1e-7);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Float16_KeepsInt64InputsAndFloatOutputs_WithHalfWeights(bool optimize)
    {
        var spec = s_fixture.ClassificationSpec("cls");
        string path = Export(spec, new OnnxExportOptions { Optimize = optimize, Float16 = true }, $"fp16-{optimize}.onnx");
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;

        Assert.IsTrue(graph.Input.All(i => i.Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Int64));
        Assert.IsTrue(graph.Output.All(o => o.Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Float));
        var types = graph.Initializer.ToDictionary(t => t.Name, t => t.DataType);
        Assert.AreEqual((int)TensorProto.Types.DataType.Float16, types["encoder.layer.0.output.dense.weight"]);
        Assert.AreEqual((int)TensorProto.Types.DataType.Float, types["encoder.layer.0.output.LayerNorm.weight"], "LayerNorm stays float32");
        Assert.IsTrue(graph.Node.All(n => n.OpType != "Softmax" || n.Input.All(i => !i.EndsWith(".fp16", StringComparison.Ordinal))));

        // ONNX Runtime's CPU provider runs it, adding its own casts where it lacks float16 kernels.
        var report = OnnxParity.Measure(path, s_sst2.Take(50).ToList(), s_fixture.Reference(s_sst2.Take(50).ToList(), spec));
        Console.WriteLine($"float16 (optimize={optimize}) on CPU, vs TorchSharp float32 logits: {report}");
        Assert.IsTrue(report.MaxAbsDifference < 0.05, report.ToString());
    }

    [TestMethod]
    public void Float16AndInt8_Together_AreRefused()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() =>
            Export(s_fixture.ClassificationSpec("cls"), new OnnxExportOptions { Float16 = true, Quantize = OnnxQuantization.Int8 }, "both.onnx"));
        StringAssert.Contains(ex.Message, "float16");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void ApplyBertOnnxModel_ScoresEqualPredictBatch(bool optimize)
    {
        string path = Export(s_fixture.ClassificationSpec("cls"), new OnnxExportOptions { Optimize = optimize }, $"mlnet-{optimize}.onnx");
        var ml = new MLContext(seed: 1);
        var rows = s_sst2Texts.Select(t => new SentimentRow { Sentence = t }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);

        var pipeline = ml.Transforms.ApplyBertOnnxModel(path, nameof(SentimentRow.Sentence))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var chain = pipeline.Fit(data);
        using var transformer = chain.OfType<BertOnnxTransformer>().Single();
        var scored = ml.Data.CreateEnumerable<SentimentPrediction>(chain.Transform(data), reuseRowObject: false).ToList();
        using var model = BertOnnxModel.Load(path);
        var expected = model.PredictBatch(s_sst2Texts, batchSize: 32);

        Assert.AreEqual(Rows, scored.Count);
        for (int i = 0; i < Rows; i++)
        {
            CollectionAssert.AreEqual(expected[i].Probabilities, scored[i].Score, $"row {i}");
            Assert.AreEqual(expected[i].Label, scored[i].PredictedLabel, $"row {i}");
        }
        var engine = ml.Model.CreatePredictionEngine<SentimentRow, SentimentPrediction>(chain);
        for (int i = 0; i < 10; i++)
            Assert.AreEqual(expected[i].Probabilities![1], engine.Predict(rows[i]).Score[1], 1e-5, $"PredictionEngine, row {i}");
    }

    [TestMethod]
    public void ApplyBertOnnxModel_MlNetModelSaveThenLoad_InAFreshContext_GivesIdenticalScores()
    {
        string path = Export(s_fixture.ClassificationSpec("mean"), new OnnxExportOptions(), "mlnet-save.onnx");
        var ml = new MLContext(seed: 1);
        var rows = s_sst2Texts.Take(50).Select(t => new SentimentRow { Sentence = t }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var chain = ml.Transforms.ApplyBertOnnxModel(path, nameof(SentimentRow.Sentence))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(data);
        using var transformer = chain.OfType<BertOnnxTransformer>().Single();
        string zip = Path.Combine(s_folder, "mlnet-save.zip");

        ml.Model.Save(chain, data.Schema, zip);
        File.Delete(path); // the .zip must not need the original file
        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(zip, out _);
        using var loadedTransformer = ((IEnumerable<ITransformer>)loaded).OfType<BertOnnxTransformer>().Single();

        var before = ml.Data.CreateEnumerable<SentimentPrediction>(chain.Transform(data), reuseRowObject: false).ToList();
        var after = fresh.Data.CreateEnumerable<SentimentPrediction>(loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();
        Assert.AreEqual(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            CollectionAssert.AreEqual(before[i].Score, after[i].Score, $"row {i}");
            Assert.AreEqual(before[i].PredictedLabel, after[i].PredictedLabel, $"row {i}");
        }
        Assert.AreEqual(transformer.BatchSize, loadedTransformer.BatchSize);
        var notTorch = Assert.ThrowsExactly<BadInputException>(() => BertTaskModel.Load(zip));
        StringAssert.Contains(notTorch.Message, "not a TorchSharp BertTransformer");
        StringAssert.StartsWith(notTorch.Message, zip + "!");
    }

    [TestMethod]
    public void ApplyBertOnnxModel_Similarity_ScoresEqualPredictBatch()
    {
        string path = Export(s_fixture.SimilaritySpec("mean"), new OnnxExportOptions { Optimize = true }, "mlnet-stsb.onnx");
        var pairs = TestData.Stsb("dev", 64);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(pairs.Select(p => new PairRow { A = p.A, B = p.B }));

        using var transformer = ml.Transforms.ApplyBertOnnxModel(path, nameof(PairRow.A), nameof(PairRow.B)).Fit(data);
        var scores = transformer.Transform(data).GetColumn<float>("Score").ToArray();
        using var model = BertOnnxModel.Load(path);
        var expected = model.PredictBatch(pairs.Select(p => p.A).ToList(), pairs.Select(p => p.B).ToList());

        CollectionAssert.AreEqual(expected.Select(p => p.Score!.Value).ToArray(), scores);
    }

    [TestMethod]
    public void ApplyBertOnnxModel_MissingTextColumn_ThrowsBadInputNamingIt()
    {
        string path = Export(s_fixture.ClassificationSpec("cls"), new OnnxExportOptions(), "mlnet-missing.onnx");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new SentimentRow { Sentence = "fine" } });

        var ex = Assert.ThrowsExactly<BadInputException>(() => ml.Transforms.ApplyBertOnnxModel(path, "Review").Fit(data));

        StringAssert.Contains(ex.Message, "'Review'");
    }

    public sealed class PairRow
    {
        public string A { get; set; } = "";
        public string B { get; set; } = "";
    }

    private static string Export(ModelCard spec, OnnxExportOptions options, string name, IReadOnlyDictionary<string, string>? extra = null)
    {
        string path = Path.Combine(s_folder, name);
        if (!File.Exists(path))
            s_fixture.Export(spec, path, extra, options);
        return path;
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
