using MlNetBert.Tokenization;
using static TorchSharp.torch;

namespace MlNetBert.Modeling;

/// <summary>Encoded rows as the three int64 tensors a <see cref="BertModel"/> reads, padded to the longest row.</summary>
public static class BertInputs
{
    /// <summary>
    /// Pads <paramref name="rows"/> (<see cref="EncodedBatch.PadToLongest"/>, pad id 0) and returns [batch, length] tensors
    /// of input ids, attention mask and token types, in the current dispose scope, with the padded batch.
    /// </summary>
    public static (Tensor Ids, Tensor Mask, Tensor Types, EncodedBatch Batch) ToTensors(IReadOnlyList<EncodedText> rows)
    {
        var batch = EncodedBatch.PadToLongest(rows);
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        return (tensor(batch.InputIds, shape), tensor(batch.AttentionMask, shape), tensor(batch.TokenTypeIds, shape), batch);
    }
}
