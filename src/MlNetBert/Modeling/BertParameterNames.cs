using System.Globalization;

namespace MlNetBert.Modeling;

/// <summary>Reads HuggingFace BERT parameter names ("encoder.layer.3.attention.self.query.weight").</summary>
internal static class BertParameterNames
{
    private const string LayerPrefix = "encoder.layer.";

    /// <summary>The 0-based encoder layer a parameter belongs to, or null for the embeddings, pooler and head.</summary>
    public static int? EncoderLayer(string encoderParameterName)
    {
        if (!encoderParameterName.StartsWith(LayerPrefix, StringComparison.Ordinal))
            return null;
        int end = encoderParameterName.IndexOf('.', LayerPrefix.Length);
        var digits = end < 0 ? encoderParameterName.AsSpan(LayerPrefix.Length) : encoderParameterName.AsSpan(LayerPrefix.Length, end - LayerPrefix.Length);
        return int.Parse(digits, CultureInfo.InvariantCulture);
    }

    public static bool IsEmbedding(string encoderParameterName) =>
        encoderParameterName.StartsWith("embeddings.", StringComparison.Ordinal);
}
