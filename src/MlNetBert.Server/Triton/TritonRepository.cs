using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Inference;

namespace MlNetBert.Triton;

/// <summary>
/// Writes an exported model as a Triton Inference Server model repository entry, <c>&lt;name&gt;/config.pbtxt</c> and
/// <c>&lt;name&gt;/1/model.onnx</c>, with the configuration derived from the ONNX file's real inputs and outputs and
/// checked against them after writing.
/// </summary>
/// <remarks>
/// Triton receives token ids, not text: a client tokenizes with <see cref="Tokenization.BertTextEncoder"/> (the
/// vocabulary is in the model file's metadata) and sends <c>input_ids</c>, <c>attention_mask</c> and
/// <c>token_type_ids</c> as INT64 <c>[batch, sequence]</c>. Triton's dynamic batcher only joins requests whose
/// shapes match, so clients that pad to one fixed length get the most batching.
/// </remarks>
/// <example>
/// <code>
/// TritonRepository.Write("sentiment.onnx", "repo", "sentiment", new TritonOptions { InstanceKind = TritonInstanceKind.Gpu });
/// // tritonserver --model-repository=repo
/// </code>
/// </example>
public static partial class TritonRepository
{
    /// <summary>The Triton platform of ONNX models.</summary>
    public const string Platform = "onnxruntime_onnx";

    /// <summary>The file name Triton's ONNX Runtime backend loads from a version folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The inputs of every MlNetBert model, in the order the graph declares them.</summary>
    public static IReadOnlyList<string> BertInputs { get; } = [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds];

    /// <summary>
    /// Writes <c>&lt;outDir&gt;/&lt;name&gt;/config.pbtxt</c> and copies <paramref name="onnxPath"/> to
    /// <c>&lt;outDir&gt;/&lt;name&gt;/1/model.onnx</c> (replacing earlier files of version 1), after checking the
    /// configuration text against the model's inputs and outputs. Returns the configuration written.
    /// </summary>
    /// <exception cref="BadInputException">A bad name or option, a file that is not a BERT ONNX model, or a failed validation.</exception>
    public static TritonConfig Write(string onnxPath, string outDir, string name, TritonOptions? options = null)
    {
        options ??= new TritonOptions();
        options.Validate();
        ValidateName(name);
        if (!File.Exists(onnxPath))
            throw new BadInputException($"{onnxPath}: model file not found");
        var signature = OnnxSignature.Read(onnxPath);
        var config = CreateConfig(onnxPath, signature, name, options);
        // The text Triton will read is parsed back and checked against the model's real signature before anything is
        // written, so a writer bug cannot leave a repository Triton would refuse.
        var problems = Check(TritonConfig.Parse(config.ToText()), signature);
        if (problems.Count > 0)
            throw new BadInputException($"{onnxPath}: the Triton configuration does not match the model: {string.Join("; ", problems)}");

        string modelDir = Path.Combine(outDir, name);
        string target = Path.Combine(modelDir, "1", ModelFileName);
        if (!string.Equals(Path.GetFullPath(onnxPath), Path.GetFullPath(target), StringComparison.Ordinal))
            AtomicFile.Write(target, stream =>
            {
                using var source = File.OpenRead(onnxPath);
                source.CopyTo(stream);
            });
        AtomicFile.WriteAllText(Path.Combine(modelDir, "config.pbtxt"), config.ToText());
        return config;
    }

    /// <summary>The configuration for an ONNX file: its inputs and outputs as the file declares them, plus the options.</summary>
    public static TritonConfig CreateConfig(string onnxPath, string name, TritonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return CreateConfig(onnxPath, OnnxSignature.Read(onnxPath), name, options);
    }

    private static TritonConfig CreateConfig(string onnxPath, OnnxSignature.Signature signature, string name, TritonOptions options)
    {
        var (inputs, outputs) = signature;
        foreach (var required in BertInputs)
            if (!inputs.Any(i => i.Name == required))
                throw new BadInputException($"{onnxPath}: the graph has no input '{required}' (inputs: {string.Join(", ", inputs.Select(i => i.Name))}); expected an MlNetBert export");
        foreach (var tensor in inputs.Concat(outputs))
            if (tensor.Dims.Count == 0 || tensor.Dims[0] != -1)
                throw new BadInputException($"{onnxPath}: '{tensor.Name}' has shape [{string.Join(", ", tensor.Dims)}], but Triton's batching needs a variable first (batch) dimension");
        return new TritonConfig
        {
            Name = name,
            MaxBatchSize = options.MaxBatchSize,
            Inputs = inputs.Select(ToTriton).ToList(),
            Outputs = outputs.Select(ToTriton).ToList(),
            PreferredBatchSizes = options.EffectivePreferredBatchSizes(),
            MaxQueueDelayMicroseconds = options.MaxQueueDelayMicroseconds,
            InstanceKind = options.InstanceKind == TritonInstanceKind.Gpu ? "KIND_GPU" : "KIND_CPU",
            InstanceCount = options.InstanceCount,
        };
    }

    /// <summary>
    /// Checks a model folder (<c>config.pbtxt</c> and <c>1/model.onnx</c>) the way Triton would load it, reading the
    /// model's inputs and outputs from ONNX Runtime's session metadata. Returns the problems found; empty when valid.
    /// </summary>
    public static IReadOnlyList<string> Validate(string modelDirectory)
    {
        string configPath = Path.Combine(modelDirectory, "config.pbtxt");
        string onnxPath = Path.Combine(modelDirectory, "1", ModelFileName);
        if (!File.Exists(configPath))
            return [$"{configPath} not found"];
        if (!File.Exists(onnxPath))
            return [$"{onnxPath} not found"];
        TritonConfig config;
        try
        {
            config = TritonConfig.Parse(File.ReadAllText(configPath));
        }
        catch (FormatException ex)
        {
            return [$"config.pbtxt: {ex.Message}"];
        }
        var problems = new List<string>();
        string folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
        if (config.Name.Length > 0 && config.Name != folder)
            problems.Add($"name \"{config.Name}\" differs from the folder name \"{folder}\" (Triton requires them to match)");
        problems.AddRange(Check(config, onnxPath));
        return problems;
    }

    /// <summary>Compares a configuration with an ONNX file's inputs and outputs; returns the problems found, empty when they match.</summary>
    public static IReadOnlyList<string> Check(TritonConfig config, string onnxPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Check(config, OnnxSignature.Read(onnxPath));
    }

    private static List<string> Check(TritonConfig config, OnnxSignature.Signature signature)
    {
        var problems = new List<string>();
        if (config.Platform != Platform)
            problems.Add($"platform \"{config.Platform}\" (expected \"{Platform}\")");
        if (config.MaxBatchSize < 1)
            problems.Add($"max_batch_size {config.MaxBatchSize} (expected 1 or more: the model's batch dimension is variable)");
        if (config.DynamicBatching)
        {
            foreach (int size in config.PreferredBatchSizes.Where(s => s < 1 || s > config.MaxBatchSize))
                problems.Add($"preferred_batch_size {size} is outside 1..max_batch_size ({config.MaxBatchSize})");
            if (config.MaxQueueDelayMicroseconds < 0)
                problems.Add($"max_queue_delay_microseconds {config.MaxQueueDelayMicroseconds} is negative");
        }
        if (config.InstanceKind is not ("KIND_CPU" or "KIND_GPU" or "KIND_AUTO"))
            problems.Add($"instance_group kind {config.InstanceKind} (expected KIND_CPU or KIND_GPU)");
        if (config.InstanceCount < 1)
            problems.Add($"instance_group count {config.InstanceCount} (expected 1 or more)");

        var (inputs, outputs) = signature;
        CompareTensors("input", config.Inputs, inputs, problems);
        CompareTensors("output", config.Outputs, outputs, problems);
        foreach (var missing in inputs.Where(i => !config.Inputs.Any(c => c.Name == i.Name)))
            problems.Add($"model input '{missing.Name}' is not in the configuration (Triton needs every input)");
        if (config.Outputs.Count == 0)
            problems.Add("no outputs configured");
        return problems;
    }

    private static void CompareTensors(string kind, IReadOnlyList<TritonTensor> configured, IReadOnlyList<OnnxSignature.Tensor> actual, List<string> problems)
    {
        foreach (var tensor in configured)
        {
            var model = actual.FirstOrDefault(a => a.Name == tensor.Name);
            if (model is null)
            {
                problems.Add($"{kind} '{tensor.Name}' is not in the model (model {kind}s: {string.Join(", ", actual.Select(a => a.Name))})");
                continue;
            }
            if (tensor.DataType != model.TritonType)
                problems.Add($"{kind} '{tensor.Name}' has data_type {tensor.DataType}, but the model's is {model.TritonType}");
            // With batching, Triton adds the batch dimension in front of what the configuration says.
            var modelDims = model.Dims.Skip(1).ToList();
            if (!tensor.ModelDims.SequenceEqual(modelDims))
                problems.Add($"{kind} '{tensor.Name}' has dims [{string.Join(", ", tensor.ModelDims)}] after the batch dimension, but the model's are [{string.Join(", ", modelDims)}]");
            if (tensor.Dims.Count == 0)
                problems.Add($"{kind} '{tensor.Name}' has empty dims (Triton needs at least one; write dims: [ 1 ] with reshape: {{ shape: [ ] }})");
            else if (tensor.Reshape is not null && Elements(tensor.Dims) != Elements(tensor.Reshape))
                problems.Add($"{kind} '{tensor.Name}': dims [{string.Join(", ", tensor.Dims)}] and reshape [{string.Join(", ", tensor.Reshape)}] hold different numbers of elements");
        }
    }

    // -1 stands for "any", so two shapes with variable sizes compare by their fixed parts only.
    private static long Elements(IReadOnlyList<long> dims) => dims.Where(d => d >= 0).Aggregate(1L, (a, d) => a * d);

    private static TritonTensor ToTriton(OnnxSignature.Tensor tensor)
    {
        var dims = tensor.Dims.Skip(1).ToList();
        // A [batch] tensor has no dims left once Triton takes the batch dimension; Triton wants [1] reshaped to [].
        return dims.Count == 0
            ? new TritonTensor(tensor.Name, tensor.TritonType, [1], [])
            : new TritonTensor(tensor.Name, tensor.TritonType, dims);
    }

    /// <summary>Throws <see cref="BadInputException"/> unless <paramref name="name"/> works as a Triton model name and folder name.</summary>
    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name is "." or ".." || !ModelName().IsMatch(name))
            throw new BadInputException($"Triton model name '{name}' is invalid: use letters, digits, '-', '_' and '.' (it becomes a folder name)");
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex ModelName();
}
