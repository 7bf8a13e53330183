using Microsoft.ML;
using MlNetBert.Export;
using MlNetBert.MlNet;
using MlNetBert.Tasks;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Tests;

/// <summary>The distillation losses against numbers worked out by hand (no model: the loss of given logits), and α = 1 against plain training.</summary>
[TestClass]
public sealed class DistillationTests
{
    private static readonly EncodedText NoInput = new([101, 102], [0, 0]);

    private static TrainingExample Row(int label, float[] teacher, bool unlabelled = false) =>
        new(NoInput, label, 0) { Teacher = teacher, Unlabelled = unlabelled };

    private static double Loss(TrainingTask task, float[,] head, TrainingExample[] rows, double alpha, double temperature)
    {
        using var scope = NewDisposeScope();
        return task.DistillationLoss(tensor(head), rows, alpha, temperature).item<float>();
    }

    // Row 1: student [2, 0], teacher [0, 2], label 0. Row 2: student [1, 1], teacher [1, 1], label 1.
    // CE: row 1 -log(e^2 / (e^2 + 1)) = log(1 + e^-2) = 0.126928; row 2 log 2 = 0.693147; mean 0.410038.
    // KL at T = 2, row 1: softmax(teacher/2) = [1/(1+e), e/(1+e)] = [0.268941, 0.731059], log softmax(student/2) =
    // [-0.313262, -1.313262], log softmax(teacher/2) = [-1.313262, -0.313262];
    // KL = 0.268941 * (-1.0) + 0.731059 * (+1.0) = 0.462117. Row 2: identical distributions, 0.
    // Mean over rows 0.231059, times T^2 = 4: 0.924234.
    // alpha 0.25: 0.25 * 0.410038 + 0.75 * 0.924234 = 0.795685.
    [TestMethod]
    public void Classification_MixesCrossEntropyAndTemperedKl_AsWorkedByHand()
    {
        var rows = new[] { Row(0, [0f, 2f]), Row(1, [1f, 1f]) };
        float[,] head = { { 2f, 0f }, { 1f, 1f } };
        Assert.AreEqual(0.795685, Loss(ClassificationTraining.Text, head, rows, alpha: 0.25, temperature: 2), 1e-5);
        Assert.AreEqual(0.410038, Loss(ClassificationTraining.Text, head, rows, alpha: 1, temperature: 2), 1e-5, "alpha 1: the cross-entropy alone");
        Assert.AreEqual(0.924234, Loss(ClassificationTraining.Text, head, rows, alpha: 0, temperature: 2), 1e-5, "alpha 0: T^2 KL alone");
    }

    // Row 2 without a label: the cross-entropy is row 1's alone (0.126928), the KL term still averages both rows.
    // 0.25 * 0.126928 + 0.75 * 0.924234 = 0.724908.
    [TestMethod]
    public void Classification_UnlabelledRows_OnlyEnterTheTeacherTerm()
    {
        var rows = new[] { Row(0, [0f, 2f]), Row(-100, [1f, 1f], unlabelled: true) };
        float[,] head = { { 2f, 0f }, { 1f, 1f } };
        Assert.AreEqual(0.724908, Loss(ClassificationTraining.Text, head, rows, alpha: 0.25, temperature: 2), 1e-5);
    }

    // Scores 0.2 and 0.6 against labels 0 and 1 (MSE (0.04 + 0.16) / 2 = 0.1) and the teacher's 0.4 and 0.5
    // (MSE (0.04 + 0.01) / 2 = 0.025): alpha 0.5 gives 0.0625; the temperature does not enter.
    [TestMethod]
    public void Similarity_MixesLabelAndTeacherMse_AsWorkedByHand()
    {
        var rows = new[] { new TrainingExample(NoInput, 0, 0f) { Teacher = [0.4f] }, new TrainingExample(NoInput, 0, 1f) { Teacher = [0.5f] } };
        float[,] head = { { 0.2f }, { 0.6f } };
        Assert.AreEqual(0.0625, Loss(SentenceSimilarityTraining.Instance, head, rows, alpha: 0.5, temperature: 3), 1e-6);
        Assert.AreEqual(0.025, Loss(SentenceSimilarityTraining.Instance, head, rows, alpha: 0, temperature: 1), 1e-6);
    }

    /// <summary>
    /// With α = 1 the teacher's term has weight 0: a distilled run (64 SST-2 rows, 4 steps) ends with bit-identical
    /// weights and losses to plain training with the same seed. The teacher is the plain model's own export.
    /// </summary>
    [TestMethod]
    public void AlphaOne_TrainsExactlyLikePlainTraining()
    {
        var ml = new MLContext(seed: 1);
        var rows = TestData.Sst2("train", 64).Select(r => new SentimentRow { Sentence = r.Text, Label = r.Label.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var options = new BertTrainingOptions
        {
            TextColumnName = nameof(SentimentRow.Sentence),
            Epochs = 1,
            BatchSize = 16,
            MaxSequenceLength = 32,
            Seed = 11,
        };
        string dir = Path.Combine(Path.GetTempPath(), "distill-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using var plain = ml.MulticlassClassification.Trainers.BertTextClassification(options).Fit(data);
            string teacher = Path.Combine(dir, "teacher.onnx");
            TrainedModelExport.Export(plain.Model, teacher);
            using var distilled = ml.MulticlassClassification.Trainers.BertTextClassification(options with { Teachers = [teacher], DistillAlpha = 1 }).Fit(data);
            CollectionAssert.AreEqual(plain.Model.History!.Steps.Select(s => s.Loss).ToArray(), distilled.Model.History!.Steps.Select(s => s.Loss).ToArray());
            var a = plain.Model.ExportTensors();
            var b = distilled.Model.ExportTensors();
            foreach (var (name, t) in a)
                CollectionAssert.AreEqual(t.Data, b[name].Data, $"{name} differs between plain training and distillation with alpha 1");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void TokenClassification_RefusesTeachers()
    {
        var e = Assert.ThrowsExactly<BadInputException>(() => TeacherOutputs.For(["teacher"], TokenClassificationTraining.Instance,
            new Inference.ModelCard { Task = "token-classification" }, [("a", null)], null));
        Assert.AreEqual("task 'token-classification' cannot be distilled: teachers are supported for text-classification, pair-classification and sentence-similarity", e.Message);
    }
}
