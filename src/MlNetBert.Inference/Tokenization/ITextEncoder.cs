namespace MlNetBert.Tokenization;

/// <summary>What <see cref="Inference.BertOnnxModel"/> needs from a tokenizer: encode one input, pad a batch.</summary>
public interface ITextEncoder
{
    /// <summary>Encodes one text, or a pair when <paramref name="text2"/> is given, truncated to <paramref name="maxLength"/> tokens.</summary>
    EncodedText Encode(string text, string? text2, int maxLength);

    /// <summary>Pads already-encoded rows to the longest one.</summary>
    EncodedBatch Pad(IReadOnlyList<EncodedText> rows);
}
