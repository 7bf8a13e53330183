using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.TorchSharp.NasBert;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Tasks;
using Onnx;

namespace MlNetBert.NasBert;

/// <summary>What an ML.NET NAS-BERT model .zip holds, as the exporter sees it.</summary>
public sealed record NasBertModelInfo(TrainingTask Task, IReadOnlyList<string> Labels, string Sentence1Column, string? Sentence2Column, string TsModelEntry);

/// <summary>
/// Exports a model trained with ML.NET's own <c>TextClassification</c> or <c>SentenceSimilarity</c> (Microsoft.ML.TorchSharp
/// 0.23.1, saved with <c>mlContext.Model.Save</c>) to one self-describing ONNX file that <see cref="BertOnnxModel"/> loads:
/// the same network (<see cref="NasBertOnnxGraph"/>), the label names from the pipeline's key mapping, and the RoBERTa
/// BPE + fairseq tokenizer files in the metadata, so inference needs neither ML.NET nor TorchSharp.
/// </summary>
/// <remarks>Loading the .zip with ML.NET needs the ML.NET/TorchSharp compatibility patch in the running app (eng/).</remarks>
public static class NasBertOnnxExporter
{
    /// <summary>The value of <c>mlnetbert.checkpoint</c> in exported files.</summary>
    public const string CheckpointName = "ml.net-nasbert";

    /// <summary>True when <paramref name="path"/> is an ML.NET model .zip with a TorchSharp model entry (not an MlNetBert .zip).</summary>
    public static bool IsMlNetNasBertZip(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            return zip.GetEntry("model.safetensors") is null && zip.Entries.Any(e => e.FullName == "TSModel" || e.FullName.EndsWith("/TSModel", StringComparison.Ordinal));
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Writes the ONNX file atomically and returns what was read from the .zip.</summary>
    /// <exception cref="BadInputException">Not an ML.NET model, no NAS-BERT transformer in it, or damaged weights.</exception>
    public static NasBertModelInfo Export(string mlnetZip, string outOnnx, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(mlnetZip);
        ArgumentNullException.ThrowIfNull(outOnnx);
        var (info, tensors) = Read(mlnetZip);
        var card = Card(info);
        var graph = new NasBertOnnxGraph(tensors, mlnetZip).Build(info.Task, card);
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "MlNetBert",
            ProducerVersion = OnnxExporter.ProjectVersion,
            DocString = $"{info.Task}: ML.NET NAS-BERT ({Path.GetFileName(mlnetZip)}) exported by MlNetBert",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxExporter.Opset });
        foreach (var (key, value) in Metadata(card, extraMetadata))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        OnnxGraphBuilder.RequireEveryInitializerRead(model.Graph);
        AtomicFile.Write(outOnnx, stream => model.WriteTo(stream));
        return info;
    }

    /// <summary>The task, labels and columns (via <c>mlContext.Model.Load</c>) and the weights (the TSModel entry).</summary>
    internal static (NasBertModelInfo Info, Dictionary<string, Checkpoints.TensorData> Tensors) Read(string mlnetZip)
    {
        if (!File.Exists(mlnetZip))
            throw new BadInputException($"{mlnetZip}: model file not found");
        string entryName;
        byte[] bytes;
        try
        {
            using var zip = ZipFile.OpenRead(mlnetZip);
            if (zip.GetEntry("TransformerChain/Model.key") is null && zip.GetEntry("Model.key") is null)
                throw new BadInputException($"{mlnetZip}: not an ML.NET model .zip (no Model.key inside)");
            var entries = zip.Entries.Where(e => e.FullName == "TSModel" || e.FullName.EndsWith("/TSModel", StringComparison.Ordinal)).ToList();
            if (entries.Count != 1)
                throw new BadInputException($"{mlnetZip}: an ML.NET model, but with {entries.Count} TorchSharp models (TSModel entries) instead of one NAS-BERT TextClassification or SentenceSimilarity");
            entryName = entries[0].FullName;
            using var stream = entries[0].Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new BadInputException($"{mlnetZip}: not a readable .zip ({ex.Message})", ex);
        }
        var tensors = TorchSharpStateDict.Read(bytes, $"{mlnetZip} ({entryName})");
        return (Describe(mlnetZip, entryName), tensors);
    }

    private static NasBertModelInfo Describe(string mlnetZip, string entryName)
    {
        var ml = new MLContext();
        ITransformer model;
        try
        {
            model = ml.Model.Load(mlnetZip, out _);
        }
        catch (Exception ex) when (ex is not BadInputException and not OutOfMemoryException)
        {
            throw new BadInputException($"{mlnetZip}: ML.NET cannot load this model ({ex.GetType().Name}: {ex.Message.Split('\n')[0]})", ex);
        }
        var parts = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
        try
        {
            if (parts.OfType<TextClassificationTransformer>().FirstOrDefault() is { } classifier)
            {
                string? second = string.IsNullOrEmpty(classifier.SentenceColumn2.Name) ? null : classifier.SentenceColumn2.Name;
                return new NasBertModelInfo(second is null ? ClassificationTraining.Text : ClassificationTraining.Pair,
                    KeyValues(classifier.LabelColumn.Annotations, mlnetZip), classifier.SentenceColumn.Name, second, entryName);
            }
            if (parts.OfType<SentenceSimilarityTransformer>().FirstOrDefault() is { } similarity)
                return new NasBertModelInfo(SentenceSimilarityTraining.Instance, [], similarity.SentenceColumn.Name, similarity.SentenceColumn2.Name, entryName);
            throw new BadInputException($"{mlnetZip}: an ML.NET model with a TorchSharp part, but no NAS-BERT TextClassification or SentenceSimilarity transformer " +
                $"(found: {string.Join(", ", parts.Select(p => p.GetType().Name))})");
        }
        finally
        {
            foreach (var part in parts.OfType<IDisposable>())
                part.Dispose();
        }
    }

    /// <summary>The label names in key order (key k ↔ output k-1), as strings.</summary>
    private static List<string> KeyValues(DataViewSchema.Annotations annotations, string source)
    {
        var column = annotations.Schema.GetColumnOrNull("KeyValues")
            ?? throw new BadInputException($"{source}: the label column has no key values; cannot name the classes");
        if (column.Type is not VectorDataViewType vector)
            throw new BadInputException($"{source}: the label key values are a {column.Type}, not a vector");
        var read = typeof(NasBertOnnxExporter).GetMethod(nameof(ReadKeyValues), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(vector.ItemType.RawType);
        return (List<string>)read.Invoke(null, [annotations, column])!;
    }

    private static List<string> ReadKeyValues<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        annotations.GetGetter<VBuffer<T>>(column)(ref values);
        return values.DenseValues().Select(v => v switch
        {
            ReadOnlyMemory<char> text => text.ToString(),
            IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
            _ => v?.ToString() ?? "",
        }).ToList();
    }

    /// <summary>The model card of an exported NAS-BERT model: first-token head, the BPE tokenizer, ML.NET's column names.</summary>
    private static ModelCard Card(NasBertModelInfo info) => new()
    {
        Task = info.Task.Name,
        Labels = info.Labels,
        Pooling = ModelCard.PoolingFirst,
        MaxLength = NasBertWeights.MaxTokens,
        Tokenizer = ModelFileFormat.RobertaBpeTokenizer,
        LowerCase = false,
        Checkpoint = CheckpointName,
        TextColumn = info.Sentence1Column,
        Text2Column = info.Sentence2Column,
    };

    private static SortedDictionary<string, string> Metadata(ModelCard card, IReadOnlyDictionary<string, string>? extra)
    {
        var tokenizerFiles = typeof(TextClassificationTrainer).Assembly;
        var metadata = card.ToMetadata();
        metadata[ModelFileFormat.BpeVocabKey] = Resource(tokenizerFiles, "encoder.json");
        metadata[ModelFileFormat.BpeMergesKey] = Resource(tokenizerFiles, "vocab.bpe");
        metadata[ModelFileFormat.FairseqDictKey] = Resource(tokenizerFiles, "dict.txt");
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            if (!metadata.TryAdd(key, value))
                throw new BadInputException($"extra metadata key '{key}' clashes with a standard MlNetBert key");
        return metadata;
    }

    /// <summary>One of the tokenizer files ML.NET embeds in Microsoft.ML.TorchSharp.dll.</summary>
    internal static string Resource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no resource '{name}'");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
