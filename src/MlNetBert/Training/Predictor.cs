using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>Batched inference with a TorchSharp model: rows sorted by length, padded per batch, results in input order.</summary>
public static class Predictor
{
    /// <summary>
    /// Raw head outputs (logits, or the unscaled similarity output) for each row, in input order. A token-level model's
    /// row is its real tokens' outputs, [tokens, outputs] row-major, padding cut off.
    /// </summary>
    public static float[][] Logits(BertClassifier model, IReadOnlyList<EncodedText> rows, int batchSize = 64)
    {
        var result = new float[rows.Count][];
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Length).ToArray();
        bool wasTraining = model.training;
        model.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var slice = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var (ids, mask, types, _) = BertInputs.ToTensors(slice.Select(i => rows[i]).ToList());
            var logits = model.Forward(ids, mask, types).contiguous();
            var data = logits.data<float>().ToArray();
            bool perToken = logits.dim() == 3;
            int width = (int)logits.shape[^1];
            int rowSize = perToken ? (int)logits.shape[1] * width : width;
            for (int r = 0; r < slice.Length; r++)
                result[slice[r]] = data.AsSpan(r * rowSize, perToken ? rows[slice[r]].Length * width : width).ToArray();
        }
        if (wasTraining)
            model.train();
        return result;
    }
}
