using MlNetBert.Triton;

namespace MlNetBert.Cli.Tests;

/// <summary>
/// The Triton model repository writer: config.pbtxt derived from the ONNX file's real signature, and a validator
/// (ONNX Runtime session metadata against the config) that passes what was written and catches each kind of mismatch.
/// Not run against a real Triton server here.
/// </summary>
[TestClass]
public sealed class ServeTritonTests
{
    private static string _repository = null!;
    private static TritonConfig _classifier = null!;
    private static TritonConfig _similarity = null!;

    [ClassInitialize]
    public static void WriteRepositories(TestContext _)
    {
        _repository = Paths.TempDir();
        _classifier = TritonRepository.Write(ServeModels.Classifier, _repository, "sentiment");
        _similarity = TritonRepository.Write(ServeModels.Similarity, _repository, "sts",
            new TritonOptions { InstanceKind = TritonInstanceKind.Gpu, MaxBatchSize = 64, MaxQueueDelayMicroseconds = 2000 });
        // The mismatch cases read the model's signature once each; the tiny model has the same one and loads fast.
        TritonRepository.Write(ServeModels.TinyClassifier, _repository, "tiny");
    }

    [ClassCleanup]
    public static void Cleanup() => Directory.Delete(_repository, recursive: true);

    [TestMethod]
    public void Write_Classifier_LaysOutTheRepository_WithTheModelsRealSignature()
    {
        string folder = Path.Combine(_repository, "sentiment");
        CollectionAssert.AreEqual(File.ReadAllBytes(ServeModels.Classifier), File.ReadAllBytes(Path.Combine(folder, "1", "model.onnx")));
        string text = File.ReadAllText(Path.Combine(folder, "config.pbtxt"));
        Console.WriteLine(text);
        foreach (var expected in new[]
        {
            "name: \"sentiment\"", "platform: \"onnxruntime_onnx\"", "max_batch_size: 32",
            "name: \"input_ids\"\n    data_type: TYPE_INT64\n    dims: [ -1 ]",
            "name: \"attention_mask\"\n    data_type: TYPE_INT64\n    dims: [ -1 ]",
            "name: \"token_type_ids\"\n    data_type: TYPE_INT64\n    dims: [ -1 ]",
            "name: \"logits\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]",
            "name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]",
            "dynamic_batching {\n  preferred_batch_size: [ 8, 16, 32 ]\n  max_queue_delay_microseconds: 5000\n}",
            "kind: KIND_CPU",
        })
            StringAssert.Contains(text, expected);
        Assert.IsEmpty(TritonRepository.Validate(folder));
    }

    [TestMethod]
    public void Write_Similarity_ReshapesTheBatchOnlyScore_AndUsesGpuInstances()
    {
        string text = File.ReadAllText(Path.Combine(_repository, "sts", "config.pbtxt"));
        StringAssert.Contains(text, "name: \"score\"\n    data_type: TYPE_FP32\n    dims: [ 1 ]\n    reshape: { shape: [ ] }");
        StringAssert.Contains(text, "preferred_batch_size: [ 16, 32, 64 ]\n  max_queue_delay_microseconds: 2000");
        StringAssert.Contains(text, "kind: KIND_GPU");
        Assert.DoesNotContain("logits", text, "the similarity graph has no logits output");
        Assert.IsEmpty(TritonRepository.Validate(Path.Combine(_repository, "sts")));
    }

    [TestMethod]
    public void Parse_ReadsBackWhatWasWritten()
    {
        var parsed = TritonConfig.Parse(_similarity.ToText());
        Assert.AreEqual(_similarity.Name, parsed.Name);
        Assert.AreEqual(_similarity.MaxBatchSize, parsed.MaxBatchSize);
        CollectionAssert.AreEqual(_similarity.PreferredBatchSizes.ToArray(), parsed.PreferredBatchSizes.ToArray());
        Assert.AreEqual(_similarity.MaxQueueDelayMicroseconds, parsed.MaxQueueDelayMicroseconds);
        Assert.AreEqual("KIND_GPU", parsed.InstanceKind);
        CollectionAssert.AreEqual(_similarity.Inputs.Select(i => i.Name).ToArray(), parsed.Inputs.Select(i => i.Name).ToArray());
        var score = parsed.Outputs.Single();
        CollectionAssert.AreEqual(new long[] { 1 }, score.Dims.ToArray());
        Assert.IsEmpty(score.Reshape!);
    }

    // name, replace this in the (tiny) classifier's config.pbtxt, with this, expected problem
    [TestMethod]
    [DataRow("wrong platform", "onnxruntime_onnx", "tensorrt_plan", "platform \"tensorrt_plan\"")]
    [DataRow("wrong input type", "data_type: TYPE_INT64\n    dims: [ -1 ]\n  },\n  {\n    name: \"attention_mask\"", "data_type: TYPE_INT32\n    dims: [ -1 ]\n  },\n  {\n    name: \"attention_mask\"", "input 'input_ids' has data_type TYPE_INT32, but the model's is TYPE_INT64")]
    [DataRow("wrong output dims", "name: \"logits\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]", "name: \"logits\"\n    data_type: TYPE_FP32\n    dims: [ 3 ]", "output 'logits' has dims [3] after the batch dimension, but the model's are [2]")]
    [DataRow("unknown output", "name: \"probabilities\"", "name: \"probs\"", "output 'probs' is not in the model")]
    [DataRow("renamed input", "name: \"token_type_ids\"", "name: \"segment_ids\"", "model input 'token_type_ids' is not in the configuration")]
    [DataRow("no batching", "max_batch_size: 32", "max_batch_size: 0", "max_batch_size 0")]
    [DataRow("preferred size too large", "preferred_batch_size: [ 8, 16, 32 ]", "preferred_batch_size: [ 8, 16, 64 ]", "preferred_batch_size 64 is outside 1..max_batch_size (32)")]
    [DataRow("empty dims", "name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]", "name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ ]\n    reshape: { shape: [ 2 ] }", "output 'probabilities' has empty dims")]
    [DataRow("name differs from folder", "name: \"tiny\"", "name: \"tiny-v2\"", "differs from the folder name \"tiny\"")]
    [DataRow("not protobuf text", "max_batch_size: 32", "max_batch_size 32 }", "config.pbtxt: line")]
    public void Validate_CatchesAConfigThatDoesNotMatchTheModel(string name, string replace, string with, string expected)
    {
        string source = Path.Combine(_repository, "tiny");
        string folder = Path.Combine(Paths.TempDir(), "tiny");
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "1"));
            File.CreateSymbolicLink(Path.Combine(folder, "1", "model.onnx"), Path.Combine(source, "1", "model.onnx"));
            string text = File.ReadAllText(Path.Combine(source, "config.pbtxt"));
            Assert.Contains(replace, text, $"{name}: the test's text to replace is not in the config");
            File.WriteAllText(Path.Combine(folder, "config.pbtxt"), text.Replace(replace, with, StringComparison.Ordinal));

            var problems = TritonRepository.Validate(folder);

            Console.WriteLine($"{name}: {string.Join("; ", problems)}");
            Assert.IsTrue(problems.Any(p => p.Contains(expected, StringComparison.Ordinal)), $"{name}: expected a problem containing '{expected}', got: {string.Join("; ", problems)}");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("..")]
    [DataRow("my model")]
    [DataRow("a/b")]
    public void Write_RefusesANameThatIsNotAFolderName(string name) =>
        Assert.Throws<BadInputException>(() => TritonRepository.Write(ServeModels.Classifier, _repository, name));

    [TestMethod]
    public void Write_RefusesAFileThatIsNotOnnx()
    {
        string folder = Paths.TempDir();
        try
        {
            string notOnnx = Path.Combine(folder, "x.onnx");
            File.WriteAllText(notOnnx, "not a model");
            var ex = Assert.Throws<BadInputException>(() => TritonRepository.Write(notOnnx, folder, "x"));
            StringAssert.Contains(ex.Message, "not a valid ONNX model");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
