using MlNetBert.Inference;

namespace MlNetBert.Inference.Tests;

// What loading a model file does with bad files and options. Predictions on real exported models are tested in
// MlNetBert.Tests (ExportTests), where the exporter and the TorchSharp reference live.
[TestClass]
public sealed class BertOnnxModelTests
{
    public TestContext TestContext { get; set; } = null!;

    private string TempFile(string name, byte[] contents)
    {
        string folder = Path.Combine(Path.GetTempPath(), "mlnetbert-onnx-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, contents);
        TestContext.WriteLine($"wrote {path}");
        return path;
    }

    [TestMethod]
    public void Load_MissingFile_ThrowsBadInputNamingThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N") + ".onnx");

        var ex = Assert.ThrowsExactly<BadInputException>(() => BertOnnxModel.Load(path));

        StringAssert.Contains(ex.Message, path);
        StringAssert.Contains(ex.Message, "not found");
    }

    [TestMethod]
    [DataRow("notes.onnx", "this is a text file, not a model\n")]
    [DataRow("empty.onnx", "")]
    public void Load_FileThatIsNotOnnx_ThrowsBadInputNamingThePath(string name, string contents)
    {
        string path = TempFile(name, System.Text.Encoding.UTF8.GetBytes(contents));
        try
        {
            var ex = Assert.ThrowsExactly<BadInputException>(() => BertOnnxModel.Load(path));

            StringAssert.Contains(ex.Message, path);
            StringAssert.Contains(ex.Message, "not a valid ONNX model");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [TestMethod]
    public void Options_UnknownProvider_IsRejectedWithTheChoices()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new BertOnnxOptions { Provider = "tpu" }.Validate());

        StringAssert.Contains(ex.Message, "tpu");
        StringAssert.Contains(ex.Message, "\"cpu\" or \"cuda\"");
    }

    [TestMethod]
    public void Options_NonPositiveThreads_AreRejected()
    {
        Assert.ThrowsExactly<ArgumentException>(() => new BertOnnxOptions { IntraOpThreads = 0 }.Validate());
    }

    /// <summary>The CUDA provider library, present only when this project is built with -p:OnnxRuntimeFlavor=Gpu.</summary>
    private static string CudaProviderLibrary =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime_providers_cuda.so");

    // With the GPU flavour on a machine without CUDA, the fallback line must carry the real load failure of the
    // provider library (a missing libcudart/libcublas/cuDNN), not "not found" for the provider itself.
    // eng/check-gpu-flavour.sh builds this project with the GPU package and runs this test.
    [TestMethod]
    public void Cuda_GpuFlavourWithoutCuda_FallsBackNamingTheProviderLoadFailure()
    {
        if (!File.Exists(CudaProviderLibrary))
            Assert.Inconclusive("built with the CPU flavour of ONNX Runtime; eng/check-gpu-flavour.sh builds the GPU flavour and runs this test");
        var lines = new List<string>();

        using var sessionOptions = OnnxSessions.CreateOptions(new BertOnnxOptions { Provider = "cuda", Log = lines.Add }, out string provider);

        TestContext.WriteLine(lines.FirstOrDefault() ?? "(no log line)");
        Assert.AreEqual("cpu", provider);
        Assert.AreEqual(1, lines.Count, string.Join(" | ", lines));
        StringAssert.Contains(lines[0], "libonnxruntime_providers_cuda.so");
        StringAssert.Matches(lines[0], new System.Text.RegularExpressions.Regex(@"lib(cudart|cublas|cublasLt|cudnn|cufft|curand)[\w.]*\.so"),
            "the line names the CUDA library that is missing");
        var required = Assert.ThrowsExactly<BadInputException>(() =>
            OnnxSessions.CreateOptions(new BertOnnxOptions { Provider = "cuda", RequireCuda = true }, out _));
        StringAssert.Contains(required.Message, "libonnxruntime_providers_cuda.so");
    }

    // Built with the CPU flavour, the CUDA provider does not exist: the plain fallback case.
    [TestMethod]
    public void Cuda_WhenUnavailable_FallsBackToCpuWithOneLogLine()
    {
        var lines = new List<string>();
        var options = new BertOnnxOptions { Provider = "cuda", Log = lines.Add };

        using var sessionOptions = OnnxSessions.CreateOptions(options, out string provider);

        TestContext.WriteLine(lines.FirstOrDefault() ?? "(no log line)");
        Assert.AreEqual("cpu", provider);
        Assert.AreEqual(1, lines.Count, string.Join(" | ", lines));
        StringAssert.Contains(lines[0], "CUDA");
        StringAssert.Contains(lines[0], "CPU");
    }

    [TestMethod]
    public void Cuda_WhenRequiredButUnavailable_ThrowsBadInput()
    {
        var options = new BertOnnxOptions { Provider = "cuda", RequireCuda = true };

        var ex = Assert.ThrowsExactly<BadInputException>(() => OnnxSessions.CreateOptions(options, out _));

        StringAssert.Contains(ex.Message, "CUDA was required");
    }
}
