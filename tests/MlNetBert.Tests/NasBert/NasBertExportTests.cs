using System.IO.Compression;
using Microsoft.ML;
using MlNetBert.Inference;
using MlNetBert.NasBert;

namespace MlNetBert.Tests.NasBert;

/// <summary>
/// ML.NET's NAS-BERT models exported to ONNX agree with ML.NET's own PredictionEngine on 200 held-out real rows each
/// (TREC questions, STS-B pairs): logits or scores within 1e-4, identical labels. Batches of 32 are padded, so the
/// graph's masking is exercised too. Bad .zip files give a BadInputException.
/// </summary>
[TestClass]
public sealed class NasBertExportTests
{
    private const float Tolerance = 1e-4f;
    private static string _classifierOnnx = null!;
    private static string _similarityOnnx = null!;

    [ClassInitialize]
    public static void Export(TestContext _)
    {
        var f = NasBertFixture.Get();
        _classifierOnnx = Path.Combine(f.Folder, "trec.onnx");
        _similarityOnnx = Path.Combine(f.Folder, "stsb.onnx");
        NasBertOnnxExporter.Export(f.ClassifierZip, _classifierOnnx);
        NasBertOnnxExporter.Export(f.SimilarityZip, _similarityOnnx);
    }

    [TestMethod]
    public void TextClassification_OnnxMatchesPredictionEngine_On200HeldOutQuestions()
    {
        var f = NasBertFixture.Get();
        using var threads = TorchThreads.Use(1);
        using var engine = f.Ml.Model.CreatePredictionEngine<QuestionRow, QuestionPrediction>(f.Ml.Model.Load(f.ClassifierZip, out _));
        using var onnx = BertOnnxModel.Load(_classifierOnnx, new BertOnnxOptions { IntraOpThreads = 1 });
        Assert.AreEqual(ClassificationTask.TextName, onnx.Task);
        CollectionAssert.AreEquivalent(NasBertFixture.Classes, onnx.Labels.ToArray());
        Assert.AreEqual(ModelFileFormat.RobertaBpeTokenizer, onnx.Metadata[ModelFileFormat.TokenizerKey]);
        var rows = f.QuestionsHeldOut;
        Assert.HasCount(200, rows);
        var batched = onnx.PredictBatch(rows.Select(r => r.Sentence).ToList(), batchSize: 32);
        float worst = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var expected = engine.Predict(rows[i]);
            var one = onnx.Predict(rows[i].Sentence);
            foreach (var actual in new[] { one, batched[i] })
            {
                Assert.AreEqual(expected.PredictedLabel, actual.Label, $"row {i}: '{rows[i].Sentence}'");
                for (int j = 0; j < expected.Score.Length; j++)
                    worst = Math.Max(worst, Math.Abs(expected.Score[j] - actual.Logits![j]));
            }
        }
        Console.WriteLine($"TextClassification: max |logit difference| {worst:E2} over {rows.Count} rows, batch 1 and 32");
        Assert.IsTrue(worst <= Tolerance, $"max |logit difference| {worst}");
    }

    [TestMethod]
    public void SentenceSimilarity_OnnxMatchesPredictionEngine_On200HeldOutPairs()
    {
        var f = NasBertFixture.Get();
        using var threads = TorchThreads.Use(1);
        using var engine = f.Ml.Model.CreatePredictionEngine<PairRow, PairPrediction>(f.Ml.Model.Load(f.SimilarityZip, out _));
        using var onnx = BertOnnxModel.Load(_similarityOnnx, new BertOnnxOptions { IntraOpThreads = 1 });
        Assert.AreEqual(SentenceSimilarityTask.TaskName, onnx.Task);
        var rows = f.PairsHeldOut;
        Assert.HasCount(200, rows);
        var batched = onnx.PredictBatch(rows.Select(r => r.Sentence1).ToList(), rows.Select(r => r.Sentence2).ToList(), batchSize: 32);
        float worst = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            float expected = engine.Predict(rows[i]).Score;
            worst = Math.Max(worst, Math.Abs(expected - onnx.Predict(rows[i].Sentence1, rows[i].Sentence2).Score!.Value));
            worst = Math.Max(worst, Math.Abs(expected - batched[i].Score!.Value));
        }
        Console.WriteLine($"SentenceSimilarity: max |score difference| {worst:E2} over {rows.Count} rows, batch 1 and 32");
        Assert.IsTrue(worst <= Tolerance, $"max |score difference| {worst}");
    }

    [TestMethod]
    public void ZipDetection_TellsMlNetNasBertModelsFromOthers()
    {
        var f = NasBertFixture.Get();
        Assert.IsTrue(NasBertOnnxExporter.IsMlNetNasBertZip(f.ClassifierZip));
        Assert.IsTrue(NasBertOnnxExporter.IsMlNetNasBertZip(f.SimilarityZip));
        string notZip = Path.Combine(f.Folder, "not-a-zip.zip");
        File.WriteAllText(notZip, "hello");
        Assert.IsFalse(NasBertOnnxExporter.IsMlNetNasBertZip(notZip));
    }

    [TestMethod]
    public void NotAnMlNetModel_IsBadInput()
    {
        var f = NasBertFixture.Get();
        string path = Path.Combine(f.Folder, "plain.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            using (var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
                writer.Write("not a model");
        var ex = Assert.ThrowsExactly<BadInputException>(() => NasBertOnnxExporter.Export(path, path + ".onnx"));
        StringAssert.Contains(ex.Message, "not an ML.NET model");
        Assert.IsFalse(File.Exists(path + ".onnx"));

        File.WriteAllText(path, "not even a zip");
        ex = Assert.ThrowsExactly<BadInputException>(() => NasBertOnnxExporter.Export(path, path + ".onnx"));
        StringAssert.Contains(ex.Message, path);
    }

    [TestMethod]
    public void DifferentTransformer_IsBadInput()
    {
        var f = NasBertFixture.Get();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(f.QuestionsHeldOut.Take(10));
        string path = Path.Combine(f.Folder, "keys-only.zip");
        ml.Model.Save(ml.Transforms.Conversion.MapValueToKey("Label").Fit(data), data.Schema, path);
        Assert.IsFalse(NasBertOnnxExporter.IsMlNetNasBertZip(path));
        var ex = Assert.ThrowsExactly<BadInputException>(() => NasBertOnnxExporter.Export(path, path + ".onnx"));
        StringAssert.Contains(ex.Message, "0 TorchSharp models");
    }

    [TestMethod]
    public void TruncatedTsModel_IsBadInput()
    {
        var f = NasBertFixture.Get();
        string path = Path.Combine(f.Folder, "truncated.zip");
        File.Copy(f.ClassifierZip, path, overwrite: true);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("TransformerChain/Transform_001/TSModel")!;
            byte[] bytes;
            using (var buffer = new MemoryStream())
            {
                using (var s = entry.Open())
                    s.CopyTo(buffer);
                bytes = buffer.ToArray();
            }
            entry.Delete();
            using var replaced = zip.CreateEntry("TransformerChain/Transform_001/TSModel").Open();
            replaced.Write(bytes, 0, bytes.Length / 2);
        }
        var ex = Assert.ThrowsExactly<BadInputException>(() => NasBertOnnxExporter.Export(path, path + ".onnx"));
        StringAssert.Contains(ex.Message, "truncated");
        Assert.IsFalse(File.Exists(path + ".onnx"));
    }
}
