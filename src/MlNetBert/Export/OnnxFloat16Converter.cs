using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MlNetBert.Export;

/// <summary>
/// Converts an exported model to float16 weights and compute, for CUDA, as a transform of its
/// <see cref="ModelProto"/>. Inputs stay int64 and outputs float32 (a Cast at the end); the numerically delicate ops
/// (LayerNorm and its fused forms, Softmax, the pooling sums and division) stay float32, with Casts where a value
/// crosses between the two. Float constants outside float16's range are clamped to ±65504 (float.MinValue in the
/// attention mask becomes -65504, which still gives padded keys zero weight).
/// </summary>
/// <remarks>
/// ONNX Runtime's CPU provider lacks float16 kernels for several of these ops; it then inserts its own Casts and runs
/// them in float32, so the file also loads and runs on CPU (for checks, not speed).
/// </remarks>
public static class OnnxFloat16Converter
{
    private const int Float = (int)TensorProto.Types.DataType.Float;
    private const int Float16 = (int)TensorProto.Types.DataType.Float16;
    private const float MaxFloat16 = 65504f;

    /// <summary>Ops computed in float32 whatever the rest does.</summary>
    public static IReadOnlySet<string> KeptFloat32 { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "LayerNormalization", "SkipLayerNormalization", "EmbedLayerNormalization", "Softmax", "ReduceSum",
    };

    // Ops that stay float32 when their computed inputs already are (the pooling's clamp and division after ReduceSum):
    // no cast down and up again, and the tiny clamp constant keeps its value.
    // Sqrt: the embedding's L2 norm, computed from a float32 ReduceSum.
    private static readonly HashSet<string> FollowInputs = new(StringComparer.Ordinal) { "Div", "Max", "Sqrt" };

    // The ops MlNetBert's graphs use. Anything else is refused rather than guessed at.
    private static readonly HashSet<string> KnownOps = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Max", "Sqrt", "Identity", "MatMul", "Erf", "Tanh", "Relu", "Softmax", "LayerNormalization", "ReduceSum",
        "Gather", "Slice", "Reshape", "Transpose", "Unsqueeze", "Shape", "Cast",
        "Attention", "SkipLayerNormalization", "EmbedLayerNormalization", "BiasGelu", "FastGelu",
    };

    /// <summary>Returns a float16 copy of <paramref name="model"/>; the input is not changed.</summary>
    /// <exception cref="NotSupportedException">The graph has an op this converter does not know (for example an int8 one).</exception>
    public static ModelProto Convert(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = model.Clone();
        var graph = result.Graph;
        foreach (var node in graph.Node)
            if (!KnownOps.Contains(node.OpType))
                throw new NotSupportedException($"float16 conversion: op '{node.OpType}' (node {node.Name}) is not supported");

        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var input in graph.Input)
            types[input.Name] = input.Type.TensorType.ElemType;
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
            types[t.Name] = t.DataType;

        // First decide each node's precision, following the types it will see; then rewrite.
        var half = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var planned = new Dictionary<string, int>(types, StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            bool runsInHalf = RunsInHalf(node, planned, initializers);
            if (runsInHalf)
                half.Add(node);
            for (int o = 0; o < node.Output.Count; o++)
                planned[node.Output[o]] = OutputType(node, o, planned, runsInHalf);
        }

        // Float initializers read only by float16 ops are converted in place; those read by both get a float16 copy.
        var readByFloat = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => !half.Contains(n)))
            foreach (var input in node.Input.Where(initializers.ContainsKey))
                readByFloat.Add(input);

        var converted = new Dictionary<string, string>(StringComparer.Ordinal); // (value, to) → name of the cast value
        var nodes = new List<NodeProto>(graph.Node.Count * 2);
        foreach (var node in graph.Node)
        {
            bool runsInHalf = half.Contains(node);
            for (int i = 0; i < node.Input.Count; i++)
            {
                string input = node.Input[i];
                if (input.Length == 0 || !types.TryGetValue(input, out int type) || (type != Float && type != Float16))
                    continue;
                int want = runsInHalf ? Float16 : Float;
                if (type == want)
                    continue;
                if (initializers.TryGetValue(input, out var tensor) && want == Float16)
                    node.Input[i] = HalfInitializer(graph, tensor, readByFloat.Contains(input) || graph.Output.Any(o => o.Name == input), types);
                else
                    node.Input[i] = CastOnce(nodes, converted, types, input, want);
            }
            for (int o = 0; o < node.Output.Count; o++)
                types[node.Output[o]] = OutputType(node, o, types, runsInHalf);
            if (node.OpType == "Cast" && runsInHalf && node.Attribute.Single(a => a.Name == "to").I == Float)
                node.Attribute.Single(a => a.Name == "to").I = Float16;
            nodes.Add(node);
        }

        // Graph outputs keep their declared float32: the float16 value is renamed and cast back under the old name.
        foreach (var output in graph.Output.Where(o => types.GetValueOrDefault(o.Name) == Float16))
        {
            string renamed = output.Name + ".fp16";
            foreach (var node in nodes)
            {
                for (int i = 0; i < node.Input.Count; i++)
                    if (node.Input[i] == output.Name)
                        node.Input[i] = renamed;
                for (int i = 0; i < node.Output.Count; i++)
                    if (node.Output[i] == output.Name)
                        node.Output[i] = renamed;
            }
            nodes.Add(CastNode(renamed, output.Name, Float));
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        OnnxQuantizer.RemoveUnused(graph);
        return result;
    }

    /// <summary>Float16 bits of each value, clamped to float16's finite range.</summary>
    internal static Half[] ToHalf(ReadOnlySpan<float> values)
    {
        var result = new Half[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (Half)Math.Clamp(values[i], -MaxFloat16, MaxFloat16);
        return result;
    }

    private static bool RunsInHalf(NodeProto node, Dictionary<string, int> types, Dictionary<string, TensorProto> initializers)
    {
        if (KeptFloat32.Contains(node.OpType))
            return false;
        if (FollowInputs.Contains(node.OpType))
            return !node.Input.All(i => initializers.ContainsKey(i) || types.GetValueOrDefault(i) != Float16);
        return true;
    }

    // The element type of a node's output once the node runs in the chosen precision.
    private static int OutputType(NodeProto node, int index, Dictionary<string, int> types, bool runsInHalf)
    {
        int precision = runsInHalf ? Float16 : Float;
        switch (node.OpType)
        {
            case "Cast":
                int to = (int)node.Attribute.Single(a => a.Name == "to").I;
                return to == Float ? precision : to;
            case "Shape":
                return (int)TensorProto.Types.DataType.Int64;
            case "EmbedLayerNormalization":
                return index == 1 ? (int)TensorProto.Types.DataType.Int32 : precision;
            default:
                // Every other op here produces its first (data) input's type; indices come later.
                int first = types[node.Input[0]];
                return first is Float or Float16 ? precision : first;
        }
    }

    private static string HalfInitializer(GraphProto graph, TensorProto tensor, bool alsoFloat, Dictionary<string, int> types)
    {
        var halves = ToHalf(OnnxQuantizer.FloatData(tensor));
        var bytes = ByteString.CopyFrom(MemoryMarshal.AsBytes(halves.AsSpan()));
        if (!alsoFloat)
        {
            tensor.DataType = Float16;
            tensor.FloatData.Clear();
            tensor.RawData = bytes;
            types[tensor.Name] = Float16;
            return tensor.Name;
        }
        string name = tensor.Name + ".fp16";
        if (!types.ContainsKey(name))
        {
            var copy = new TensorProto { Name = name, DataType = Float16, RawData = bytes };
            copy.Dims.AddRange(tensor.Dims);
            graph.Initializer.Add(copy);
            types[name] = Float16;
        }
        return name;
    }

    private static string CastOnce(List<NodeProto> nodes, Dictionary<string, string> converted, Dictionary<string, int> types, string value, int to)
    {
        string key = value + "|" + to;
        if (converted.TryGetValue(key, out var existing))
            return existing;
        string name = value + (to == Float16 ? ".fp16" : ".fp32");
        nodes.Add(CastNode(value, name, to));
        types[name] = to;
        converted[key] = name;
        return name;
    }

    private static NodeProto CastNode(string input, string output, int to)
    {
        var node = new NodeProto { OpType = "Cast", Name = "Cast_" + output };
        node.Input.Add(input);
        node.Output.Add(output);
        node.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = to });
        return node;
    }
}
