using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.TorchSharp;
using MlNetBert.NasBert;

namespace MlNetBert.Tests.NasBert;

/// <summary>
/// Sets torch's CPU thread count for a while. NAS-BERT's tensors are tiny (64-192 wide, one row at a time), and on 2
/// shared cores a second OpenMP thread mostly waits at barriers: one thread trains and predicts several times faster.
/// </summary>
internal sealed class TorchThreads : IDisposable
{
    private readonly int _previous;

    private TorchThreads(int threads)
    {
        _previous = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(threads);
    }

    public static TorchThreads Use(int threads) => new(threads);

    public void Dispose() => TorchSharp.torch.set_num_threads(_previous);
}

public sealed class QuestionRow
{
    public string Sentence { get; set; } = "";
    public string Label { get; set; } = "";
}

public sealed class QuestionPrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}

public sealed class PairRow
{
    public string Sentence1 { get; set; } = "";
    public string Sentence2 { get; set; } = "";
    public float Label { get; set; }
}

public sealed class PairPrediction
{
    public float Score { get; set; }
}

/// <summary>
/// ML.NET's own NAS-BERT models, trained once per test run: TextClassification on 3 TREC coarse labels (300 real
/// questions) and SentenceSimilarity on 300 STS-B pairs, one epoch each, from a RANDOMLY initialised encoder written
/// with ML.NET's public NasBertEncoder (no pretrained weights are reachable here). Random weights are fine for the
/// plumbing and parity checks these tests make; they say nothing about accuracy.
/// </summary>
internal sealed class NasBertFixture
{
    public static readonly string[] Classes = ["DESC", "HUM", "LOC"];
    private static readonly Lazy<NasBertFixture> Shared = new(() => new NasBertFixture(), LazyThreadSafetyMode.ExecutionAndPublication);

    private NasBertFixture()
    {
        Folder = Path.Combine(Path.GetTempPath(), "mlnetbert-nasbert-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(Folder);
        Ml = new MLContext(seed: 1) { TempFilePath = Folder };
        var watch = Stopwatch.StartNew();
        using var threads = TorchThreads.Use(1);
        NasBertWeights.CreateRandom(NasBertWeights.ExpectedPath(Ml), seed: 11);

        var trec = TestData.Tsv("trec/train.tsv").Where(r => Classes.Contains(r[0])).Take(300)
            .Select(r => new QuestionRow { Sentence = r[2], Label = r[0] }).ToList();
        QuestionsHeldOut = TestData.Tsv("trec/test.tsv").Where(r => Classes.Contains(r[0])).Take(200)
            .Select(r => new QuestionRow { Sentence = r[2], Label = r[0] }).ToList();
        var classifier = Ml.Transforms.Conversion.MapValueToKey(nameof(QuestionRow.Label))
            .Append(Ml.MulticlassClassification.Trainers.TextClassification(labelColumnName: nameof(QuestionRow.Label),
                sentence1ColumnName: nameof(QuestionRow.Sentence), batchSize: 32, maxEpochs: 1))
            .Append(Ml.Transforms.Conversion.MapKeyToValue(nameof(QuestionPrediction.PredictedLabel)));
        var questions = Ml.Data.LoadFromEnumerable(trec);
        Classifier = classifier.Fit(questions);
        ClassifierZip = Path.Combine(Folder, "trec.zip");
        Ml.Model.Save(Classifier, questions.Schema, ClassifierZip);

        var stsb = TestData.Stsb("train", 300).Select(r => new PairRow { Sentence1 = r.A, Sentence2 = r.B, Label = r.Score }).ToList();
        PairsHeldOut = TestData.Stsb("dev", 200).Select(r => new PairRow { Sentence1 = r.A, Sentence2 = r.B, Label = r.Score }).ToList();
        var pairs = Ml.Data.LoadFromEnumerable(stsb);
        Similarity = Ml.Regression.Trainers.SentenceSimilarity(labelColumnName: nameof(PairRow.Label),
            sentence1ColumnName: nameof(PairRow.Sentence1), sentence2ColumnName: nameof(PairRow.Sentence2), batchSize: 32, maxEpochs: 1).Fit(pairs);
        SimilarityZip = Path.Combine(Folder, "stsb.zip");
        Ml.Model.Save(Similarity, pairs.Schema, SimilarityZip);
        TrainingTime = watch.Elapsed;
    }

    public static NasBertFixture Get() => Shared.Value;

    public string Folder { get; }

    public MLContext Ml { get; }

    public ITransformer Classifier { get; }

    public string ClassifierZip { get; }

    public List<QuestionRow> QuestionsHeldOut { get; }

    public ITransformer Similarity { get; }

    public string SimilarityZip { get; }

    public List<PairRow> PairsHeldOut { get; }

    public TimeSpan TrainingTime { get; }
}
