using Microsoft.ML;
using Microsoft.ML.TorchSharp.NasBert.Models;

namespace MlNetBert.NasBert;

/// <summary>
/// Where ML.NET's own NAS-BERT trainers (<c>TextClassification</c>, <c>SentenceSimilarity</c> in
/// Microsoft.ML.TorchSharp 0.23.1) look for their pretrained encoder, and the exact architecture they build.
/// </summary>
/// <remarks>
/// At <c>Fit</c>, ML.NET resolves <c>models/NasBert2000000.tsm</c> to <c>&lt;MLContext.TempFilePath&gt;/mlnet/NasBert2000000.tsm</c>
/// and downloads it from aka.ms only when that file does not exist (TorchSharpBaseTrainer.GetModelPath and
/// ResourceManagerUtils.EnsureResourceAsync). <c>TempFilePath</c> defaults to the system temp folder (TMPDIR on Linux).
/// Offline, copy the file there, or point <c>TempFilePath</c> at a folder that has <c>mlnet/NasBert2000000.tsm</c>.
/// </remarks>
public static class NasBertWeights
{
    /// <summary>The file name ML.NET asks for.</summary>
    public const string FileName = "NasBert2000000.tsm";

    /// <summary>Fairseq's padding index (<c>&lt;pad&gt;</c> in dict.txt); also what ML.NET pads batches with.</summary>
    public const int PaddingIndex = 1;

    /// <summary>Token count of the fairseq dictionary plus the 4 special symbols and <c>&lt;mask&gt;</c>.</summary>
    public const int VocabularySize = 50265;

    /// <summary>Longest input ML.NET feeds the model, first token included.</summary>
    public const int MaxTokens = 512;

    /// <summary>Token embedding width.</summary>
    public const int EmbeddingSize = 64;

    /// <summary>Hidden width of every layer after the embedding transfer.</summary>
    public const int HiddenSize = 192;

    /// <summary>
    /// The 24 layer slots ML.NET fixes (NasBertOptions.Arches): 0 = identity, 7 = self-attention (192, 3 heads),
    /// 9 / 10 / 11 = separable convolution with kernel 3 / 5 / 7.
    /// </summary>
    public static IReadOnlyList<int> Arches { get; } = [9, 11, 7, 0, 0, 0, 11, 11, 7, 0, 0, 0, 9, 7, 11, 0, 0, 0, 10, 7, 9, 0, 0, 0];

    /// <summary>Where ML.NET will read the weights for <paramref name="ml"/>.</summary>
    public static string ExpectedPath(MLContext ml)
    {
        ArgumentNullException.ThrowIfNull(ml);
        return Path.Combine(Path.GetFullPath(ml.TempFilePath), "mlnet", FileName);
    }

    /// <summary>Throws <see cref="BadInputException"/> naming the expected path when the weights are not there.</summary>
    public static string Require(MLContext ml)
    {
        string path = ExpectedPath(ml);
        if (!File.Exists(path))
            throw new BadInputException(
                $"ML.NET's NAS-BERT weights are not at {path}: ML.NET would try to download {FileName} from aka.ms at training time. " +
                $"Copy {FileName} there (the folder comes from MLContext.TempFilePath, by default the temp folder, TMPDIR on Linux).");
        return path;
    }

    /// <summary>
    /// Writes a RANDOMLY initialised encoder in the exact format and shape ML.NET loads, built with ML.NET's own public
    /// <see cref="NasBertEncoder"/>. Good for testing plumbing, export parity and speed offline; useless for accuracy.
    /// Needs the ML.NET/TorchSharp compatibility patch (eng/MlNetTorchSharpCompat.targets) in the running app's output.
    /// </summary>
    public static void CreateRandom(string path, int seed)
    {
        ArgumentNullException.ThrowIfNull(path);
        TorchSharp.torch.random.manual_seed(seed);
        using var encoder = new NasBertEncoder(
            paddingIdx: PaddingIndex, vocabSize: VocabularySize, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0,
            activationFn: "gelu", maxSeqLen: MaxTokens, learnedPositionEmbedding: true, embedSize: EmbeddingSize,
            arches: Arches.ToList(), usePositionEmbedding: true, offsetPositionsByPadding: true, numSegments: 0,
            encoderNormalizeBefore: true, numEncoderLayers: Arches.Count, applyBertInit: true);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".partial";
        encoder.save(temp);
        File.Move(temp, path, overwrite: true);
    }
}
