using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using MlNetBert.Modeling;
using MlNetBert.Training;

namespace MlNetBert.Tasks;

/// <summary>
/// A pretrained checkpoint used as it is, as a sentence-embedding model: the encoder with no head, its tokens pooled
/// and (by default) L2-normalised, exactly as sentence-transformers encodes with all-MiniLM-L6-v2. The result is an
/// ordinary <see cref="BertTaskModel"/>: it embeds through TorchSharp, saves as a model.zip, and exports (with parity)
/// to an ONNX embedding model through <see cref="Export.TrainedModelExport"/>.
/// </summary>
public static class PretrainedEmbeddingModel
{
    /// <summary>
    /// Tokens per text: 256, the length all-MiniLM-L6-v2 was trained to embed at (sentence-transformers'
    /// <c>max_seq_length</c>); longer texts are truncated.
    /// </summary>
    public const int DefaultMaxLength = 256;

    /// <summary>The checkpoint as an embedding model; the caller owns (disposes) it.</summary>
    /// <param name="checkpoint">A resolved checkpoint (<see cref="CheckpointStore.Resolve"/>).</param>
    /// <param name="pooling">Mean (default; what MiniLM was trained with) or [CLS].</param>
    /// <param name="normalize">L2-normalise the vectors (default true), so dot products are cosines.</param>
    /// <param name="maxLength">Tokens per text, special tokens included; at most the checkpoint's positions.</param>
    public static BertTaskModel Create(Checkpoint checkpoint, Pooling pooling = Pooling.Mean, bool normalize = true, int maxLength = DefaultMaxLength)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = checkpoint.Config;
        if (maxLength < 3 || maxLength > config.MaxPositionEmbeddings)
            throw new BadInputException($"max length {maxLength} is out of range for {checkpoint.Name} (expected 3 to {config.MaxPositionEmbeddings})");
        var network = new BertClassifier(config, 0, pooling);
        try
        {
            network.Bert.LoadWeights(checkpoint.LoadTensors(), checkpoint.WeightsPath);
            var card = new ModelCard
            {
                Task = SentenceEmbeddingTask.TaskName,
                Pooling = pooling.ToName(),
                MaxLength = maxLength,
                Checkpoint = checkpoint.Name,
                CheckpointSha256 = checkpoint.Sha256,
                LowerCase = checkpoint.LowerCase,
                EmbeddingDimension = config.HiddenSize,
                Normalize = normalize,
            };
            return new BertTaskModel(network, card, config, File.ReadAllText(checkpoint.VocabPath));
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}
