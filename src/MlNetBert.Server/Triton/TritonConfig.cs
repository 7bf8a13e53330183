using System.Globalization;
using System.Text;

namespace MlNetBert.Triton;

/// <summary>
/// One input or output in <c>config.pbtxt</c>. With batching on, <see cref="Dims"/> leaves out the batch dimension;
/// <see cref="Reshape"/> is the shape the model really has when it differs (a <c>[batch]</c> output is written
/// <c>dims: [ 1 ]</c> with <c>reshape: { shape: [ ] }</c>, because Triton needs non-empty dims).
/// </summary>
/// <param name="Name">The ONNX graph's tensor name.</param>
/// <param name="DataType">Triton's type name, for example <c>TYPE_INT64</c> or <c>TYPE_FP32</c>.</param>
/// <param name="Dims">Dimensions after the batch one; -1 for a variable size.</param>
/// <param name="Reshape">The model's own dimensions after the batch one, when they differ from <paramref name="Dims"/>; otherwise null.</param>
public sealed record TritonTensor(string Name, string DataType, IReadOnlyList<long> Dims, IReadOnlyList<long>? Reshape = null)
{
    /// <summary>The dimensions the model itself has after the batch one: <see cref="Reshape"/> if set, else <see cref="Dims"/>.</summary>
    public IReadOnlyList<long> ModelDims => Reshape ?? Dims;
}

/// <summary>
/// The fields of a Triton model configuration (<c>config.pbtxt</c>) that a BERT model repository uses: platform,
/// batching, tensors, dynamic batching and instance groups. <see cref="ToText"/> writes it; <see cref="Parse"/> reads
/// it back (any extra fields are ignored).
/// </summary>
public sealed record TritonConfig
{
    /// <summary>The model name; Triton requires it to equal the model's folder name.</summary>
    public required string Name { get; init; }

    /// <summary>The backend platform (<c>onnxruntime_onnx</c> for ONNX files).</summary>
    public string Platform { get; init; } = TritonRepository.Platform;

    /// <summary>Largest batch; 0 would mean the model does not batch (MlNetBert models always do).</summary>
    public required int MaxBatchSize { get; init; }

    /// <summary>The model's inputs.</summary>
    public required IReadOnlyList<TritonTensor> Inputs { get; init; }

    /// <summary>The outputs Triton returns.</summary>
    public required IReadOnlyList<TritonTensor> Outputs { get; init; }

    /// <summary>Whether the <c>dynamic_batching</c> block is present.</summary>
    public bool DynamicBatching { get; init; } = true;

    /// <summary>The dynamic batcher's preferred batch sizes.</summary>
    public IReadOnlyList<int> PreferredBatchSizes { get; init; } = [];

    /// <summary>The dynamic batcher's <c>max_queue_delay_microseconds</c>.</summary>
    public long MaxQueueDelayMicroseconds { get; init; }

    /// <summary><c>KIND_CPU</c> or <c>KIND_GPU</c> (<c>KIND_AUTO</c>, Triton's choice, when a parsed file has no instance group).</summary>
    public string InstanceKind { get; init; } = "KIND_CPU";

    /// <summary>Instances of the model Triton runs.</summary>
    public int InstanceCount { get; init; } = 1;

    /// <summary>The configuration in protobuf text format, as Triton reads it.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"name: \"{Name}\"\nplatform: \"{Platform}\"\nmax_batch_size: {MaxBatchSize}\n");
        Tensors(text, "input", Inputs);
        Tensors(text, "output", Outputs);
        if (DynamicBatching)
        {
            text.Append("dynamic_batching {\n");
            text.Append(CultureInfo.InvariantCulture, $"  preferred_batch_size: {List(PreferredBatchSizes.Select(n => (long)n))}\n");
            text.Append(CultureInfo.InvariantCulture, $"  max_queue_delay_microseconds: {MaxQueueDelayMicroseconds}\n");
            text.Append("}\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"instance_group [\n  {{\n    count: {InstanceCount}\n    kind: {InstanceKind}\n  }}\n]\n");
        return text.ToString();
    }

    /// <summary>Reads a <c>config.pbtxt</c>; throws <see cref="FormatException"/> naming the line or field that is wrong.</summary>
    public static TritonConfig Parse(string text)
    {
        var root = ProtoMessage.Parse(text);
        var batching = root.Message("dynamic_batching");
        var group = root.Messages("instance_group").FirstOrDefault();
        return new TritonConfig
        {
            Name = root.Scalar("name") ?? "",
            Platform = root.Scalar("platform") ?? "",
            MaxBatchSize = (int)Integer(root, "max_batch_size", 0),
            Inputs = root.Messages("input").Select(ReadTensor).ToList(),
            Outputs = root.Messages("output").Select(ReadTensor).ToList(),
            DynamicBatching = batching is not null,
            PreferredBatchSizes = batching?.Integers("preferred_batch_size").Select(n => (int)n).ToList() ?? [],
            MaxQueueDelayMicroseconds = batching is null ? 0 : Integer(batching, "max_queue_delay_microseconds", 0),
            InstanceKind = group?.Scalar("kind") ?? "KIND_AUTO",
            InstanceCount = group is null ? 1 : (int)Integer(group, "count", 1),
        };
    }

    private static TritonTensor ReadTensor(ProtoMessage tensor) => new(
        tensor.Scalar("name") ?? "",
        tensor.Scalar("data_type") ?? "",
        tensor.Integers("dims"),
        tensor.Message("reshape") is { } reshape ? reshape.Integers("shape") : null);

    private static long Integer(ProtoMessage message, string name, long missing) =>
        message.Integers(name) is { Count: > 0 } values ? values[^1] : missing;

    private static void Tensors(StringBuilder text, string field, IReadOnlyList<TritonTensor> tensors)
    {
        text.Append(field).Append(" [\n");
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            text.Append(CultureInfo.InvariantCulture, $"  {{\n    name: \"{t.Name}\"\n    data_type: {t.DataType}\n    dims: {List(t.Dims)}\n");
            if (t.Reshape is not null)
                text.Append(CultureInfo.InvariantCulture, $"    reshape: {{ shape: {List(t.Reshape)} }}\n");
            text.Append(i < tensors.Count - 1 ? "  },\n" : "  }\n");
        }
        text.Append("]\n");
    }

    private static string List(IEnumerable<long> values)
    {
        string items = string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        return items.Length == 0 ? "[ ]" : $"[ {items} ]";
    }
}
