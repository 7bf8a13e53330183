using System.Globalization;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using MlNetBert.Training;

namespace MlNetBert.Tests;

/// <summary>Access to the real datasets in MLNETBERT_DATA (../shared/data); tests are Inconclusive without it.</summary>
internal static class TestData
{
    public static string Require(string relativePath)
    {
        string? root = Environment.GetEnvironmentVariable("MLNETBERT_DATA");
        if (string.IsNullOrWhiteSpace(root))
            Assert.Inconclusive("MLNETBERT_DATA is not set: point it at the shared datasets folder (.ci/run sets it to ../shared/data).");
        string path = Path.Combine(root, relativePath);
        if (!File.Exists(path))
            Assert.Inconclusive($"MLNETBERT_DATA={root} has no {relativePath}.");
        return path;
    }

    /// <summary>Rows of a headered TSV (quoting off), as string arrays, skipping the header.</summary>
    public static IEnumerable<string[]> Tsv(string relativePath) =>
        File.ReadLines(Require(relativePath)).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'));

    /// <summary>SST-2 rows as (sentence, label).</summary>
    public static List<(string Text, int Label)> Sst2(string split, int take) =>
        Tsv($"sst2/{split}.tsv").Take(take).Select(r => (r[0], int.Parse(r[1], CultureInfo.InvariantCulture))).ToList();

    /// <summary>STS-B rows as (sentence1, sentence2, score 0..5).</summary>
    public static List<(string A, string B, float Score)> Stsb(string split, int take) =>
        Tsv($"stsb/{split}.tsv").Take(take).Select(r => (r[7], r[8], float.Parse(r[9], CultureInfo.InvariantCulture))).ToList();

    /// <summary>
    /// The first <paramref name="rows"/> SST-2 training sentences encoded to <paramref name="maxLength"/> tokens for
    /// minilm-l6, and a factory for its 2-class mean-pooled classifier with the head drawn from <paramref name="seed"/>:
    /// every call builds the same starting network, so two training runs can be compared step for step.
    /// </summary>
    public static (List<TrainingExample> Examples, Func<BertClassifier> Network) SeededSst2Classifier(int rows = 64, int maxLength = 32, int seed = 11)
    {
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var encoder = checkpoint.CreateEncoder();
        var examples = Sst2("train", rows).Select(r => new TrainingExample(encoder.Encode(r.Text, null, maxLength), r.Label, 0f)).ToList();
        return (examples, () =>
        {
            TorchSharp.torch.manual_seed(seed);
            var network = new BertClassifier(checkpoint.Config, 2, Pooling.Mean);
            network.Bert.LoadWeights(checkpoint.LoadTensors(), checkpoint.WeightsPath);
            return network;
        });
    }
}
