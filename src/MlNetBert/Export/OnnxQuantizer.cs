using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MlNetBert.Export;

/// <summary>Choices for <see cref="OnnxQuantizer.QuantizeDynamic"/>.</summary>
public sealed record OnnxQuantizeOptions
{
    /// <summary>One scale per output column of each weight (default true), or one per weight.</summary>
    public bool PerChannel { get; init; } = true;

    /// <summary>Weights left in float32 (default: <c>classifier.weight</c>, the small head that makes the decision).</summary>
    public IReadOnlyCollection<string> KeepFloat { get; init; } = ["classifier.weight"];
}

/// <summary>
/// Dynamic int8 quantization of an exported model, as a transform of its <see cref="ModelProto"/>: every matrix
/// product with a constant float32 weight gets symmetric int8 weights (scale = max |w| / 127, per output column by
/// default, zero point 0) while its activations are quantized to uint8 per call, from their own range. ONNX Runtime's
/// CPU provider runs these as integer matrix products (VNNI where the processor has it).
/// </summary>
/// <remarks>
/// <c>MatMul</c> (+ a following bias <c>Add</c>) becomes com.microsoft <c>DynamicQuantizeMatMul</c> (activation
/// quantization, integer product, scaling and bias in one op); the fused graph's com.microsoft <c>Attention</c>
/// becomes <c>DynamicQuantizeLinear</c> + <c>QAttention</c>. Everything else (embeddings, LayerNorm, softmax, the
/// attention score products) stays float32. Metadata is kept; <c>mlnetbert.variant</c> is the caller's to set.
/// </remarks>
public static class OnnxQuantizer
{
    private const int FloatType = (int)TensorProto.Types.DataType.Float;

    /// <summary>Returns a quantized copy of <paramref name="model"/>; the input is not changed.</summary>
    public static ModelProto QuantizeDynamic(ModelProto model, OnnxQuantizeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxQuantizeOptions();
        var result = model.Clone();
        var graph = result.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var input in node.Input)
                (consumers.TryGetValue(input, out var list) ? list : consumers[input] = []).Add(node);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        bool Quantizable(string name) => initializers.TryGetValue(name, out var t) && t.DataType == FloatType && t.Dims.Count == 2
            && !options.KeepFloat.Contains(name);

        var nodes = new List<NodeProto>(graph.Node.Count);
        var fusedAdds = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var node in graph.Node)
        {
            if (fusedAdds.Contains(node))
                continue;
            if (node is { OpType: "MatMul", Domain: "" } && Quantizable(node.Input[1]))
            {
                var (weight, scale) = AddQuantizedWeight(graph, initializers[node.Input[1]], options.PerChannel);
                string output = node.Output[0];
                string bias = "";
                // Fold "MatMul → Add(bias)" into the op's bias input when the product feeds only that Add.
                if (!graphOutputs.Contains(output) && consumers.GetValueOrDefault(output) is [{ OpType: "Add", Domain: "" } add]
                    && BiasInput(add, output, initializers, initializers[node.Input[1]].Dims[1]) is { } biasName)
                {
                    bias = biasName;
                    output = add.Output[0];
                    fusedAdds.Add(add);
                }
                nodes.Add(Microsoft("DynamicQuantizeMatMul", node.Name, [node.Input[0], weight, scale, "", bias], [output]));
            }
            else if (node is { OpType: "Attention", Domain: BertOnnxGraph.MicrosoftDomain } && Quantizable(node.Input[1]))
            {
                var (weight, scale) = AddQuantizedWeight(graph, initializers[node.Input[1]], options.PerChannel);
                string x = node.Input[0], prefix = node.Output[0] + ".input";
                var quantize = new NodeProto { OpType = "DynamicQuantizeLinear", Name = node.Name + "_quantize_input" };
                quantize.Input.Add(x);
                quantize.Output.AddRange([prefix + ".uint8", prefix + ".scale", prefix + ".zero_point"]);
                nodes.Add(quantize);
                string mask = node.Input.Count > 3 ? node.Input[3] : "";
                var attention = Microsoft("QAttention", node.Name,
                    [prefix + ".uint8", weight, node.Input[2], prefix + ".scale", scale, mask, prefix + ".zero_point"], [.. node.Output]);
                attention.Attribute.AddRange(node.Attribute);
                nodes.Add(attention);
            }
            else
            {
                nodes.Add(node);
            }
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        RemoveUnused(graph);
        if (!result.OpsetImport.Any(o => o.Domain == BertOnnxGraph.MicrosoftDomain))
            result.OpsetImport.Add(new OperatorSetIdProto { Domain = BertOnnxGraph.MicrosoftDomain, Version = 1 });
        return result;
    }

    /// <summary>
    /// Symmetric int8 quantization of a [rows, columns] float32 weight: scale = max |w| / 127 per column (or over the
    /// whole weight), q = round(w / scale) in [-127, 127]. Returns the int8 values (row-major) and the scales.
    /// </summary>
    internal static (sbyte[] Values, float[] Scales) QuantizeSymmetric(ReadOnlySpan<float> weight, int rows, int columns, bool perChannel)
    {
        if (weight.Length != rows * columns)
            throw new ArgumentException($"{weight.Length} values for a [{rows}, {columns}] weight", nameof(weight));
        var max = new float[perChannel ? columns : 1];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                int slot = perChannel ? c : 0;
                max[slot] = Math.Max(max[slot], Math.Abs(weight[r * columns + c]));
            }
        // An all-zero column quantizes to zeros with any scale; 1 keeps the scale finite.
        float[] scales = max.Select(m => m > 0 ? m / 127f : 1f).ToArray();
        var values = new sbyte[weight.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                float q = MathF.Round(weight[r * columns + c] / scales[perChannel ? c : 0], MidpointRounding.ToEven);
                values[r * columns + c] = (sbyte)Math.Clamp(q, -127f, 127f);
            }
        return (values, scales);
    }

    private static (string Weight, string Scale) AddQuantizedWeight(GraphProto graph, TensorProto weight, bool perChannel)
    {
        int rows = (int)weight.Dims[0], columns = (int)weight.Dims[1];
        var (values, scales) = QuantizeSymmetric(FloatData(weight), rows, columns, perChannel);
        var quantized = new TensorProto { Name = weight.Name + ".int8", DataType = (int)TensorProto.Types.DataType.Int8 };
        quantized.Dims.AddRange([rows, columns]);
        quantized.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        var scale = new TensorProto { Name = weight.Name + ".scale", DataType = FloatType };
        if (perChannel)
            scale.Dims.Add(columns);
        scale.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(scales.AsSpan()));
        graph.Initializer.Add(quantized);
        graph.Initializer.Add(scale);
        return (quantized.Name, scale.Name);
    }

    // The Add's other input, when it is a float32 vector as long as the product's columns.
    private static string? BiasInput(NodeProto add, string product, Dictionary<string, TensorProto> initializers, long columns)
    {
        string other = add.Input[0] == product ? add.Input[1] : add.Input[0];
        return initializers.TryGetValue(other, out var bias) && bias.DataType == FloatType && bias.Dims.Count == 1 && bias.Dims[0] == columns
            ? other : null;
    }

    internal static float[] FloatData(TensorProto tensor)
    {
        if (tensor.DataType != FloatType)
            throw new ArgumentException($"initializer '{tensor.Name}' is not float32", nameof(tensor));
        return tensor.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray() : [.. tensor.FloatData];
    }

    internal static NodeProto Microsoft(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = BertOnnxGraph.MicrosoftDomain };
        // Trailing optional inputs left out are simply absent; empty names in the middle mean "not given".
        var list = inputs.ToList();
        while (list.Count > 0 && list[^1].Length == 0)
            list.RemoveAt(list.Count - 1);
        node.Input.AddRange(list);
        node.Output.AddRange(outputs);
        return node;
    }

    /// <summary>Drops initializers no node reads and no graph output names (the float weights that were replaced).</summary>
    internal static void RemoveUnused(GraphProto graph)
    {
        var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var keep = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(keep);
    }
}
