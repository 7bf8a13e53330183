using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MlNetBert.Export;

/// <summary>
/// Appends nodes, initializers, inputs and outputs to an ONNX <see cref="GraphProto"/>. Value names are given by the
/// caller so the graph reads like the model it came from (HuggingFace names for weights); duplicates are refused,
/// because ONNX requires every value to be produced once.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _opCounts = new(StringComparer.Ordinal);

    public OnnxGraphBuilder(string name) => Graph = new GraphProto { Name = name };

    public GraphProto Graph { get; }

    /// <summary>Adds a node with one output named <paramref name="output"/> and returns that name.</summary>
    public string Node(string opType, IEnumerable<string> inputs, string output, params AttributeProto[] attributes) =>
        Node("", opType, inputs, output, attributes);

    /// <summary>Adds an ONNX Runtime contrib op (domain <c>com.microsoft</c>) with one output, and returns its name.</summary>
    public string MicrosoftNode(string opType, IEnumerable<string> inputs, string output, params AttributeProto[] attributes) =>
        Node(BertOnnxGraph.MicrosoftDomain, opType, inputs, [output], attributes);

    /// <summary>Adds a contrib op with several outputs (the first is returned); all are named, even unused ones.</summary>
    public string MicrosoftNode(string opType, IEnumerable<string> inputs, string[] outputs, params AttributeProto[] attributes) =>
        Node(BertOnnxGraph.MicrosoftDomain, opType, inputs, outputs, attributes);

    private string Node(string domain, string opType, IEnumerable<string> inputs, string output, AttributeProto[] attributes) =>
        Node(domain, opType, inputs, [output], attributes);

    private string Node(string domain, string opType, IEnumerable<string> inputs, string[] outputs, AttributeProto[] attributes)
    {
        foreach (var output in outputs)
            Claim(output);
        // Node names only need to be unique; numbering per op type keeps them stable across runs.
        int n = _opCounts.GetValueOrDefault(opType);
        _opCounts[opType] = n + 1;
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{n}", Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outputs[0];
    }

    /// <summary>Adds a float32 initializer (little-endian raw data) and returns its name.</summary>
    public string Weight(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (count != data.Length)
            throw new ArgumentException($"initializer '{name}': {data.Length} values for shape [{string.Join(", ", dims)}]");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; writing it from a big-endian machine is not implemented");
        Claim(name);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a float32 scalar initializer.</summary>
    public string Scalar(string name, float value) => Weight(name, [value]);

    /// <summary>Adds an int64 initializer; a 1-D tensor, or a scalar when <paramref name="scalar"/> is set.</summary>
    public string Int64s(string name, long[] values, bool scalar = false)
    {
        if (scalar && values.Length != 1)
            throw new ArgumentException($"initializer '{name}': a scalar needs exactly one value");
        Claim(name);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        if (!scalar)
            tensor.Dims.Add(values.Length);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Declares a graph input; dims are <see cref="string"/> (symbolic) or <see cref="long"/>/<see cref="int"/> (fixed).</summary>
    public void Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        Claim(name);
        Graph.Input.Add(ValueInfo(name, type, dims));
    }

    /// <summary>Declares an existing value as a graph output.</summary>
    public void Output(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        if (!_values.Contains(name))
            throw new InvalidOperationException($"graph output '{name}' is not produced by any node");
        Graph.Output.Add(ValueInfo(name, type, dims));
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private void Claim(string name)
    {
        if (!_values.Add(name))
            throw new InvalidOperationException($"ONNX value '{name}' is defined twice");
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"dimension {dim} of '{name}' must be a string or an integer"),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    /// <summary>
    /// Throws when an initializer is read by no node: a fault in the graph's writer (ONNX Runtime would drop it with a
    /// "Removing initializer" warning on every load). Checked on every export, after all variant passes.
    /// </summary>
    public static void RequireEveryInitializerRead(GraphProto graph)
    {
        var read = new HashSet<string>(graph.Node.SelectMany(n => n.Input), StringComparer.Ordinal);
        var unread = graph.Initializer.Select(t => t.Name).Where(name => !read.Contains(name)).ToList();
        if (unread.Count > 0)
            throw new InvalidOperationException($"graph '{graph.Name}' has initializers no node reads: {string.Join(", ", unread)}");
    }
}
