using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Analysis;

/// <summary>
/// Every layer's sentence vectors from one encoder: the [CLS] vector and the mask-aware mean, for each hidden
/// state (embedding output = layer 0, then each encoder layer), in input order.
/// </summary>
internal sealed class LayerVectors
{
    private LayerVectors(float[][][] cls, float[][][] mean)
    {
        Cls = cls;
        Mean = mean;
    }

    /// <summary><c>Cls[layer][sentence]</c>: the hidden state at position 0.</summary>
    public float[][][] Cls { get; }

    /// <summary><c>Mean[layer][sentence]</c>: the mean over real tokens (attention mask 1).</summary>
    public float[][][] Mean { get; }

    public int Layers => Cls.Length;

    /// <summary>The vectors a head with this pooling reads.</summary>
    public float[][] Of(int layer, Pooling pooling) => pooling == Pooling.Cls ? Cls[layer] : Mean[layer];

    /// <summary>
    /// Runs <paramref name="bert"/> in eval mode without gradients over <paramref name="rows"/>, sorted by length and
    /// padded per batch (each batch in its own dispose scope); the model's train/eval mode is restored afterwards.
    /// </summary>
    public static LayerVectors Extract(BertModel bert, IReadOnlyList<EncodedText> rows, int batchSize)
    {
        int layers = bert.Config.NumHiddenLayers + 1;
        var cls = new float[layers][][];
        var mean = new float[layers][][];
        for (int l = 0; l < layers; l++)
        {
            cls[l] = new float[rows.Count][];
            mean[l] = new float[rows.Count][];
        }

        var order = Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Length).ThenBy(i => i).ToArray();
        bool wasTraining = bert.training;
        bert.eval();
        try
        {
            using var noGrad = no_grad();
            for (int start = 0; start < order.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int[] slice = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
                var (ids, mask, types, _) = BertInputs.ToTensors(slice.Select(i => rows[i]).ToList());
                var states = bert.Forward(ids, mask, types);
                for (int l = 0; l < layers; l++)
                {
                    Scatter(states[l][.., 0, ..], slice, cls[l]);
                    Scatter(BertClassifier.Pool(states[l], mask, Pooling.Mean), slice, mean[l]);
                }
            }
        }
        finally
        {
            if (wasTraining)
                bert.train();
        }
        return new LayerVectors(cls, mean);
    }

    // [batch, hidden] → one float[] per sentence, at the sentence's input position.
    private static void Scatter(Tensor vectors, int[] slice, float[][] target)
    {
        using var cpu = vectors.to_type(float32).cpu().contiguous();
        var data = cpu.data<float>().ToArray();
        int width = (int)cpu.shape[1];
        for (int r = 0; r < slice.Length; r++)
            target[slice[r]] = data.AsSpan(r * width, width).ToArray();
    }
}
