using MlNetBert.Inference;

namespace MlNetBert.Export;

/// <summary>Choices for <see cref="OnnxExporter.Export"/> beyond the model itself.</summary>
/// <example>
/// <code>
/// // A CPU deployment: fused ONNX Runtime ops and int8 weights.
/// var options = new OnnxExportOptions { Optimize = true, Quantize = OnnxQuantization.Int8 };
/// </code>
/// </example>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Also output <c>hidden_state_0</c> (embeddings) to <c>hidden_state_L</c> (each layer), [batch, sequence, hidden];
    /// for analysis and parity checks. Default false. When false and pooling is "cls", the last layer is computed for
    /// position 0 only, which is all the head reads.
    /// </summary>
    public bool IncludeHiddenStates { get; init; }

    /// <summary>
    /// Write the encoder with ONNX Runtime's fused transformer ops (EmbedLayerNormalization, Attention with packed
    /// QKV weights, BiasGelu/FastGelu; domain <c>com.microsoft</c>) instead of plain opset-17 ops. Faster in ONNX
    /// Runtime; other runtimes cannot load it. Default false.
    /// </summary>
    public bool Optimize { get; init; }

    /// <summary>
    /// <see cref="OnnxQuantization.Int8"/>: int8 weights for every encoder matrix product, activations quantized at run
    /// time (see <see cref="OnnxQuantizer"/>); for CPU. Default <see cref="OnnxQuantization.None"/>.
    /// </summary>
    public OnnxQuantization Quantize { get; init; }

    /// <summary>
    /// Float16 weights and compute, for CUDA (see <see cref="OnnxFloat16Converter"/>); inputs stay int64 and outputs
    /// float32. Runs on CPU too, slowly. Cannot be combined with <see cref="Quantize"/>. Default false.
    /// </summary>
    public bool Float16 { get; init; }

    /// <summary>
    /// A short name for the combination, written to the file's <c>mlnetbert.variant</c> metadata: <c>fp32</c>,
    /// <c>optimized</c>, <c>int8</c>, <c>optimized-int8</c>, <c>fp16</c> or <c>optimized-fp16</c>.
    /// </summary>
    public string VariantName
    {
        get
        {
            string precision = Quantize == OnnxQuantization.Int8 ? "int8" : Float16 ? "fp16" : "fp32";
            return Optimize ? (precision == "fp32" ? "optimized" : "optimized-" + precision) : precision;
        }
    }

    /// <summary>Throws <see cref="BadInputException"/> when the choices do not go together.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Quantize))
            throw new BadInputException($"quantization {Quantize} is not supported (expected None or Int8)");
        if (Float16 && Quantize != OnnxQuantization.None)
            throw new BadInputException("float16 and int8 quantization cannot be combined: int8 is for CPU, float16 for CUDA; choose one");
    }
}

/// <summary>Weight quantization of an exported model.</summary>
public enum OnnxQuantization
{
    /// <summary>Float weights (float32, or float16 with <see cref="OnnxExportOptions.Float16"/>).</summary>
    None,

    /// <summary>Dynamic int8 quantization: int8 weights, activations quantized per call (CPU).</summary>
    Int8,
}
