using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MlNetBert.Triton;

/// <summary>An ONNX file's inputs and outputs as ONNX Runtime reports them: names, element types and shapes (-1 for symbolic dimensions).</summary>
internal static class OnnxSignature
{
    public sealed record Tensor(string Name, string TritonType, IReadOnlyList<long> Dims);

    public sealed record Signature(IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Outputs);

    public static Signature Read(string onnxPath)
    {
        // Only the metadata is needed, so skip graph optimisation: the session is open for a moment.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnxPath, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new BadInputException($"{onnxPath}: not a valid ONNX model, or the file is damaged ({ex.Message.Split('\n', 2)[0].Trim()})", ex);
        }
        using (session)
        {
            return new Signature(Tensors(onnxPath, session.InputMetadata), Tensors(onnxPath, session.OutputMetadata));
        }
    }

    private static List<Tensor> Tensors(string path, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        metadata.Select(kv => new Tensor(kv.Key, TritonType(path, kv.Key, kv.Value), kv.Value.Dimensions.Select(d => (long)d).ToList())).ToList();

    private static string TritonType(string path, string name, NodeMetadata node)
    {
        if (!node.IsTensor)
            throw new BadInputException($"{path}: '{name}' is not a tensor; Triton's ONNX backend serves tensors only");
        return node.ElementDataType switch
        {
            TensorElementType.Float => "TYPE_FP32",
            TensorElementType.Float16 => "TYPE_FP16",
            TensorElementType.BFloat16 => "TYPE_BF16",
            TensorElementType.Double => "TYPE_FP64",
            TensorElementType.Int64 => "TYPE_INT64",
            TensorElementType.Int32 => "TYPE_INT32",
            TensorElementType.Int16 => "TYPE_INT16",
            TensorElementType.Int8 => "TYPE_INT8",
            TensorElementType.UInt8 => "TYPE_UINT8",
            TensorElementType.Bool => "TYPE_BOOL",
            TensorElementType.String => "TYPE_STRING",
            var other => throw new BadInputException($"{path}: '{name}' has element type {other}, which this writer does not map to a Triton type"),
        };
    }
}
