using MlNetBert.Checkpoints;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetBert.Tests;

/// <summary>
/// A "fine-tuned" model for export tests: the real all-MiniLM-L6-v2 encoder in TorchSharp plus seeded random heads,
/// and the TorchSharp reference outputs an export must reproduce. Loaded once per test class (a few seconds).
/// </summary>
internal sealed class ExportFixture : IDisposable
{
    public const int MaxLength = 128;
    public const float SimilarityScale = 5f;
    public static readonly string[] SentimentLabels = ["negative", "positive"];

    private ExportFixture(Checkpoint checkpoint, BertModel model)
    {
        Checkpoint = checkpoint;
        Model = model;
        Encoder = checkpoint.CreateEncoder();
        Vocab = File.ReadAllText(checkpoint.VocabPath);
        EncoderTensors = StateDict(model);
        ClassifierHead = RandomHead(SentimentLabels.Length, seed: 20240917);
        SimilarityHead = RandomHead(1, seed: 7);
    }

    /// <summary>Where the tokenizer and provenance come from; the encoder itself is <see cref="Model"/>.</summary>
    public Checkpoint Checkpoint { get; }

    public BertModel Model { get; }

    public BertTextEncoder Encoder { get; }

    public string Vocab { get; }

    /// <summary>The encoder's weights as a caller would export them after fine-tuning: from <c>state_dict()</c>.</summary>
    public Dictionary<string, TensorData> EncoderTensors { get; }

    public (TensorData Weight, TensorData Bias) ClassifierHead { get; }

    public (TensorData Weight, TensorData Bias) SimilarityHead { get; }

    public static ExportFixture Load()
    {
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var model = BertModel.FromCheckpoint(checkpoint);
        model.eval();
        return new ExportFixture(checkpoint, model);
    }

    /// <summary>
    /// A small randomly initialised encoder (2 layers, hidden 32) with the given activation, using MiniLM's
    /// vocabulary: covers the graph variants the real checkpoint does not use, in well under a second.
    /// </summary>
    public static ExportFixture Tiny(string activation)
    {
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var config = checkpoint.Config with
        {
            HiddenSize = 32,
            NumAttentionHeads = 4,
            NumHiddenLayers = 2,
            IntermediateSize = 64,
            HiddenAct = activation,
            AddPoolingLayer = false,
        };
        manual_seed(11);
        var model = new BertModel(config);
        // Default initialisation keeps pre-activations near 0, where exact and tanh GELU agree to 1e-5; spreading
        // them to a few units makes the test tell the activations apart.
        using (no_grad())
            foreach (var (name, parameter) in model.named_parameters())
                if (name.EndsWith("intermediate.dense.weight", StringComparison.Ordinal))
                    parameter.mul_(10);
        model.eval();
        return new ExportFixture(checkpoint, model);
    }

    public ModelCard ClassificationSpec(string pooling) => new()
    {
        Task = ClassificationTask.TextName,
        Pooling = pooling,
        Labels = SentimentLabels,
        MaxLength = MaxLength,
        Checkpoint = Checkpoint.Name,
        LowerCase = Checkpoint.LowerCase,
    };

    public ModelCard SimilaritySpec(string pooling) => new()
    {
        Task = SentenceSimilarityTask.TaskName,
        Pooling = pooling,
        ScoreScale = SimilarityScale,
        MaxLength = MaxLength,
        Checkpoint = Checkpoint.Name,
        LowerCase = Checkpoint.LowerCase,
    };

    /// <summary>Encoder tensors plus one head's <c>classifier.*</c>.</summary>
    public Dictionary<string, TensorData> WithHead((TensorData Weight, TensorData Bias) head) =>
        new(EncoderTensors, StringComparer.Ordinal) { ["classifier.weight"] = head.Weight, ["classifier.bias"] = head.Bias };

    public void Export(ModelCard spec, string path, IReadOnlyDictionary<string, string>? extra = null, OnnxExportOptions? options = null) =>
        OnnxExporter.Export(Model.Config, WithHead(spec.Task == SentenceSimilarityTask.TaskName ? SimilarityHead : ClassifierHead),
            spec, Vocab, path, extra, options);

    public EncodedText[] Encode(IEnumerable<(string A, string? B)> rows) =>
        rows.Select(r => Encoder.Encode(r.A, r.B, MaxLength)).ToArray();

    /// <summary>
    /// The TorchSharp reference: encoder, pooling, then the linear head, over length-sorted batches of 32 (less
    /// padding, so faster on two cores). Returns, in input order, logits per row, or for similarity heads the score.
    /// </summary>
    public float[][] Reference(IReadOnlyList<EncodedText> rows, ModelCard spec)
    {
        bool similarity = spec.Task == SentenceSimilarityTask.TaskName;
        var (weightData, biasData) = similarity ? SimilarityHead : ClassifierHead;
        var result = new float[rows.Count][];
        using var noGrad = no_grad();
        foreach (var chunk in Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Length).Chunk(32))
        {
            using var scope = NewDisposeScope();
            var (ids, mask, types) = Tensors(Encoder.Pad(chunk.Select(i => rows[i]).ToArray()));
            var last = Model.Forward(ids, mask, types)[^1];
            Tensor pooled;
            if (spec.Pooling == "cls")
            {
                pooled = last[.., 0, ..];
            }
            else
            {
                var m = mask.to_type(float32).unsqueeze(2);
                pooled = (last * m).sum(1) / m.sum(1).clamp_min(1e-9);
            }
            var logits = pooled.matmul(tensor(weightData.Data, weightData.Shape).t()) + tensor(biasData.Data, biasData.Shape);
            if (similarity)
                logits = logits[.., 0..1] * spec.ScoreScale + spec.ScoreOffset;
            float[] flat = logits.contiguous().data<float>().ToArray();
            int width = (int)logits.shape[1];
            for (int r = 0; r < chunk.Length; r++)
                result[chunk[r]] = flat[(r * width)..((r + 1) * width)];
        }
        return result;
    }

    /// <summary>Every hidden state of one padded batch, flattened: [layer][batch * sequence * hidden].</summary>
    public float[][] HiddenStates(EncodedBatch batch)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (ids, mask, types) = Tensors(batch);
        return Model.Forward(ids, mask, types).Select(s => s.contiguous().data<float>().ToArray()).ToArray();
    }

    public void Dispose() => Model.Dispose();

    private static (Tensor Ids, Tensor Mask, Tensor Types) Tensors(EncodedBatch batch)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        return (tensor(batch.InputIds, shape), tensor(batch.AttentionMask, shape), tensor(batch.TokenTypeIds, shape));
    }

    private static Dictionary<string, TensorData> StateDict(BertModel model)
    {
        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, t) in model.state_dict())
            tensors[name] = new TensorData(name, t.shape, t.contiguous().data<float>().ToArray());
        return tensors;
    }

    // Uniform in ±0.5 gives logits of a few units on MiniLM's hidden states: clear argmaxes, a strict test of 1e-4.
    private (TensorData Weight, TensorData Bias) RandomHead(int outputs, int seed)
    {
        var random = new Random(seed);
        int hidden = Model.Config.HiddenSize;
        float[] weight = Enumerable.Range(0, outputs * hidden).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] bias = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        return (new TensorData("classifier.weight", [outputs, hidden], weight), new TensorData("classifier.bias", [outputs], bias));
    }
}
