using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using MlNetBert.Tasks;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Tests;

/// <summary>bf16 mixed precision: the products in bfloat16, everything the optimizer and the exports see in float32.</summary>
[TestClass]
public sealed class MixedPrecisionTests
{
    [TestMethod]
    public void Project_InBFloat16_IsWithinBf16RoundingOfFloat32_AndGradientsReachTheFloat32Weights()
    {
        manual_seed(3);
        using var layer = nn.Linear(384, 1536);
        using var x = randn(64, 384);
        var precision = new ComputePrecision();
        using var exact = precision.Project(layer, x);
        precision.BFloat16 = true;
        using var approx = precision.Project(layer, x);
        Assert.AreEqual(ScalarType.Float32, approx.dtype, "the product comes back as float32");
        double relative = (approx - exact).norm().item<float>() / exact.norm().item<float>();
        Console.WriteLine($"relative error of the bf16 product: {relative:E2}");
        // bf16 keeps 8 significant bits (relative rounding 2^-9 = 2e-3 per operand): the product's relative error is a
        // few times that, far from what a wrong cast (or no cast at all, 0) would give.
        Assert.IsTrue(relative is > 1e-4 and < 1e-2, $"relative error {relative:E2}");

        approx.sum().backward();
        Assert.AreEqual(ScalarType.Float32, layer.weight!.grad!.dtype);
        Assert.IsTrue(layer.weight.grad.abs().max().item<float>() > 0, "the float32 master weight receives a gradient");
    }

    [TestMethod]
    public void Precision_NamesParse_AndAutoFollowsTheCpu()
    {
        Assert.AreEqual(TrainingPrecision.BFloat16, TrainingPrecisionNames.Parse("bf16", "--precision"));
        Assert.AreEqual("auto", TrainingPrecision.Auto.ToName());
        var error = Assert.ThrowsExactly<BadInputException>(() => TrainingPrecisionNames.Parse("fp16", "--precision"));
        Assert.AreEqual("--precision must be fp32, bf16 or auto, not 'fp16'", error.Message);
        Assert.AreEqual(CpuFeatures.HasNativeBFloat16, new BertTrainingOptions { Precision = TrainingPrecision.Auto }.UsesBFloat16);
        Assert.IsFalse(new BertTrainingOptions { Precision = TrainingPrecision.Float32 }.UsesBFloat16);
        Console.WriteLine($"CPU: {CpuFeatures.Summary}; native bf16: {CpuFeatures.HasNativeBFloat16}");
    }

    /// <summary>
    /// Where the CPU has native bf16: the same seeded run in fp32 and bf16 starts from the same loss (within bf16's
    /// rounding), ends with different float32 weights (bf16 really ran), and leaves the model in float32 precision for
    /// validation and export. Elsewhere asking for bf16 is refused with the reason.
    /// </summary>
    [TestMethod]
    public void Training_InBFloat16_KeepsFloat32Weights_AndEndsInFloat32()
    {
        var bf16Options = Tiny() with { Precision = TrainingPrecision.BFloat16 };
        if (!CpuFeatures.HasNativeBFloat16)
        {
            var refused = Assert.ThrowsExactly<BadInputException>(() => bf16Options.Validate());
            StringAssert.StartsWith(refused.Message, "option Precision = bf16 is invalid: expected fp32 or auto: this CPU has no native bf16");
            return;
        }
        var (examples, Network) = TestData.SeededSst2Classifier();
        using var fp32 = Network();
        var fp32History = new BertFineTuner(Tiny(), ClassificationTraining.Text).Train(fp32, examples, null);
        using var bf16 = Network();
        var bf16History = new BertFineTuner(bf16Options, ClassificationTraining.Text).Train(bf16, examples, null);

        double firstLoss32 = fp32History.Steps[0].Loss, firstLoss16 = bf16History.Steps[0].Loss;
        Console.WriteLine($"first step loss: fp32 {firstLoss32:F5}, bf16 {firstLoss16:F5}; last: {fp32History.Steps[^1].Loss:F5} vs {bf16History.Steps[^1].Loss:F5}");
        Assert.AreEqual(firstLoss32, firstLoss16, 0.02, "the same batch's loss within bf16 rounding");
        Assert.AreNotEqual(firstLoss32, firstLoss16, "bf16 products change the loss a little");
        Assert.IsTrue(bf16History.Steps.All(s => double.IsFinite(s.Loss)));
        Assert.IsFalse(bf16.Bert.Precision.BFloat16, "validation and export after training see the float32 model");
        foreach (var (name, parameter) in bf16.named_parameters())
            Assert.AreEqual(ScalarType.Float32, parameter.dtype, $"{name} stays float32");
    }

    private static BertTrainingOptions Tiny() => new() { Epochs = 1, BatchSize = 16, LearningRate = 1e-4, MaxSequenceLength = 32, Seed = 11, Precision = TrainingPrecision.Float32 };
}
