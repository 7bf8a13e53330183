using MlNetBert.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetBert.Modeling;

// The whole BERT encoder in one file, after HuggingFace's modeling_bert.py. Field names are HuggingFace's, so
// state_dict() keys are exactly the names in a model.safetensors ("encoder.layer.3.attention.self.query.weight").

/// <summary>
/// The number format the encoder's dense projections multiply in, shared by every layer of one <see cref="BertModel"/>.
/// With <see cref="BFloat16"/> the inputs, weights and biases of each projection are cast to bfloat16 for the product
/// and the result back to float32: the weights themselves stay float32 (the optimizer updates fp32 master weights),
/// and LayerNorm, softmax, attention and the loss stay float32. Only worth it on CPUs that multiply bf16 natively
/// (<see cref="Training.CpuFeatures.HasNativeBFloat16"/>); elsewhere libtorch emulates it and it is slower.
/// </summary>
public sealed class ComputePrecision
{
    /// <summary>Multiply the dense projections in bfloat16.</summary>
    public bool BFloat16 { get; set; }

    /// <summary><paramref name="layer"/> applied to <paramref name="x"/> in this precision.</summary>
    public Tensor Project(Linear layer, Tensor x)
    {
        if (!BFloat16)
            return layer.forward(x);
        using var scope = NewDisposeScope();
        var product = nn.functional.linear(x.to(bfloat16), layer.weight!.to(bfloat16), layer.bias?.to(bfloat16));
        return product.to(float32).MoveToOuterDisposeScope();
    }
}

/// <summary>Word + position + token type embeddings, then LayerNorm and dropout.</summary>
public sealed class BertEmbeddings : nn.Module
{
#pragma warning disable IDE1006 // HuggingFace parameter names
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly LayerNorm LayerNorm;
#pragma warning restore IDE1006
    private readonly double _dropout;

    public BertEmbeddings(BertConfig config)
        : base(nameof(BertEmbeddings))
    {
        word_embeddings = nn.Embedding(config.VocabSize, config.HiddenSize, padding_idx: config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        token_type_embeddings = nn.Embedding(config.TypeVocabSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm([config.HiddenSize], config.LayerNormEps);
        _dropout = config.HiddenDropoutProb;
        RegisterComponents();
    }

    public Tensor Forward(Tensor inputIds, Tensor tokenTypeIds)
    {
        long length = inputIds.shape[1];
        using var positions = arange(length, dtype: int64, device: inputIds.device).unsqueeze(0);
        var x = word_embeddings.forward(inputIds) + position_embeddings.forward(positions) + token_type_embeddings.forward(tokenTypeIds);
        return nn.functional.dropout(LayerNorm.forward(x), _dropout, training);
    }
}

/// <summary>Multi-head self-attention: query/key/value projections and scaled dot-product attention.</summary>
public sealed class BertSelfAttention : nn.Module
{
#pragma warning disable IDE1006
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
#pragma warning restore IDE1006
    private readonly int _heads;
    private readonly int _headSize;
    private readonly double _dropout;
    private readonly ComputePrecision _precision;

    public BertSelfAttention(BertConfig config, ComputePrecision precision)
        : base(nameof(BertSelfAttention))
    {
        _precision = precision;
        query = nn.Linear(config.HiddenSize, config.HiddenSize);
        key = nn.Linear(config.HiddenSize, config.HiddenSize);
        value = nn.Linear(config.HiddenSize, config.HiddenSize);
        _heads = config.NumAttentionHeads;
        _headSize = config.HeadSize;
        _dropout = config.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    /// <param name="hidden">[batch, length, hidden]</param>
    /// <param name="additiveMask">[batch, 1, 1, length]: 0 where attending is allowed, a large negative number on padding.</param>
    public Tensor Forward(Tensor hidden, Tensor additiveMask)
    {
        long b = hidden.shape[0], l = hidden.shape[1];
        Tensor Split(Linear projection) => _precision.Project(projection, hidden).view(b, l, _heads, _headSize).transpose(1, 2);
        var q = Split(query);
        var k = Split(key);
        var v = Split(value);
        var context = nn.functional.scaled_dot_product_attention(q, k, v, additiveMask, training ? _dropout : 0.0);
        return context.transpose(1, 2).reshape(b, l, _heads * _headSize);
    }
}

/// <summary>A dense projection, dropout, then LayerNorm over the residual sum (HF's BertSelfOutput and BertOutput).</summary>
public sealed class BertResidualOutput : nn.Module
{
#pragma warning disable IDE1006
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
#pragma warning restore IDE1006
    private readonly double _dropout;
    private readonly ComputePrecision _precision;

    public BertResidualOutput(int inputSize, BertConfig config, ComputePrecision precision)
        : base(nameof(BertResidualOutput))
    {
        _precision = precision;
        dense = nn.Linear(inputSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm([config.HiddenSize], config.LayerNormEps);
        _dropout = config.HiddenDropoutProb;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor residual) =>
        LayerNorm.forward(nn.functional.dropout(_precision.Project(dense, x), _dropout, training) + residual);
}

/// <summary>Self-attention followed by its residual output.</summary>
public sealed class BertAttention : nn.Module
{
#pragma warning disable IDE1006, CS8981
    private readonly BertSelfAttention self;
    private readonly BertResidualOutput output;
#pragma warning restore IDE1006, CS8981

    public BertAttention(BertConfig config, ComputePrecision precision)
        : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config, precision);
        output = new BertResidualOutput(config.HiddenSize, config, precision);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor additiveMask) => output.Forward(self.Forward(hidden, additiveMask), hidden);
}

/// <summary>The feed-forward expansion with its activation.</summary>
public sealed class BertIntermediate : nn.Module
{
#pragma warning disable IDE1006
    private readonly Linear dense;
#pragma warning restore IDE1006
    private readonly string _activation;
    private readonly ComputePrecision _precision;

    public BertIntermediate(BertConfig config, ComputePrecision precision)
        : base(nameof(BertIntermediate))
    {
        _precision = precision;
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        var h = _precision.Project(dense, x);
        return _activation switch
        {
            "relu" => nn.functional.relu(h),
            "gelu_new" => nn.functional.gelu(h, GELU.Approximate.tanh),
            _ => nn.functional.gelu(h),
        };
    }
}

/// <summary>One transformer encoder layer.</summary>
public sealed class BertLayer : nn.Module
{
#pragma warning disable IDE1006
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertResidualOutput output;
#pragma warning restore IDE1006

    public BertLayer(BertConfig config, ComputePrecision precision)
        : base(nameof(BertLayer))
    {
        attention = new BertAttention(config, precision);
        intermediate = new BertIntermediate(config, precision);
        output = new BertResidualOutput(config.IntermediateSize, config, precision);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor additiveMask)
    {
        var attended = attention.Forward(hidden, additiveMask);
        return output.Forward(intermediate.Forward(attended), attended);
    }
}

/// <summary>The stack of encoder layers.</summary>
public sealed class BertEncoder : nn.Module
{
#pragma warning disable IDE1006
    private readonly ModuleList<BertLayer> layer;
#pragma warning restore IDE1006
    private readonly BertLayer[] _layers;

    public BertEncoder(BertConfig config, ComputePrecision precision)
        : base(nameof(BertEncoder))
    {
        _layers = Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config, precision)).ToArray();
        layer = nn.ModuleList(_layers);
        RegisterComponents();
    }

    public IReadOnlyList<BertLayer> Layers => _layers;
}

/// <summary>Dense + tanh over the [CLS] vector (present in checkpoints trained with next-sentence prediction).</summary>
public sealed class BertPooler : nn.Module
{
#pragma warning disable IDE1006
    private readonly Linear dense;
#pragma warning restore IDE1006

    public BertPooler(BertConfig config)
        : base(nameof(BertPooler))
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    public Tensor Forward(Tensor lastHidden) => dense.forward(lastHidden[.., 0, ..]).tanh();
}

/// <summary>
/// A BERT encoder in TorchSharp with HuggingFace parameter names. <see cref="Forward"/> returns every hidden
/// state (embeddings, then each layer), which fine-tuning heads and the layer-by-layer analysis both use.
/// </summary>
public sealed class BertModel : nn.Module
{
#pragma warning disable IDE1006
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;
#pragma warning restore IDE1006

    public BertModel(BertConfig config)
        : base(nameof(BertModel))
    {
        Config = config;
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config, Precision);
        pooler = config.AddPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
    }

    public BertConfig Config { get; }

    /// <summary>The number format of the encoder's dense projections (float32 unless training turns bf16 on).</summary>
    public ComputePrecision Precision { get; } = new();

    public BertEmbeddings Embeddings => embeddings;

    public IReadOnlyList<BertLayer> Layers => encoder.Layers;

    public BertPooler? Pooler => pooler;

    /// <summary>Builds the model and loads a checkpoint's pretrained weights into it.</summary>
    public static BertModel FromCheckpoint(Checkpoint checkpoint)
    {
        var model = new BertModel(checkpoint.Config);
        model.LoadWeights(checkpoint.LoadTensors(), checkpoint.WeightsPath);
        return model;
    }

    /// <summary>
    /// Gives the top <paramref name="count"/> encoder layers fresh weights, the way a new BERT layer starts:
    /// N(0, initializer_range) matrices, zero biases, LayerNorm weight 1 and bias 0. Draws from torch's global
    /// generator, so a seeded caller gets the same weights every time.
    /// </summary>
    public void ReinitializeTopLayers(int count)
    {
        if (count < 0 || count > Config.NumHiddenLayers)
            throw new BadInputException($"cannot re-initialise {count} layers: the model has {Config.NumHiddenLayers}");
        using var noGrad = no_grad();
        int first = Config.NumHiddenLayers - count;
        foreach (var (name, parameter) in named_parameters())
        {
            if (BertParameterNames.EncoderLayer(name) is not { } layer || layer < first)
                continue;
            if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
                nn.init.ones_(parameter);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                nn.init.zeros_(parameter);
            else
                nn.init.normal_(parameter, 0.0, Config.InitializerRange);
        }
    }

    /// <summary>
    /// Copies tensors (HuggingFace names) into the parameters. Every parameter must be present with the same shape;
    /// extra tensors (for example a pretraining head) are ignored.
    /// </summary>
    public void LoadWeights(IReadOnlyDictionary<string, TensorData> tensors, string source)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new BadInputException($"{source}: missing tensor '{name}'");
            if (!t.Shape.SequenceEqual(parameter.shape))
                throw new BadInputException($"{source}: tensor '{name}' has shape {t.ShapeText}, expected [{string.Join(", ", parameter.shape)}]");
            using var source_ = tensor(t.Data, t.Shape);
            parameter.copy_(source_);
        }
    }

    /// <summary>
    /// Runs the encoder. Returns <c>NumHiddenLayers + 1</c> tensors of shape [batch, length, hidden]: the
    /// embedding output, then each layer's output (the last is HuggingFace's <c>last_hidden_state</c>).
    /// </summary>
    /// <param name="inputIds">[batch, length] int64 token ids.</param>
    /// <param name="attentionMask">[batch, length] int64, 1 for real tokens and 0 for padding.</param>
    /// <param name="tokenTypeIds">[batch, length] int64 segment ids (0 for the first text, 1 for the second).</param>
    /// <param name="layers">How many encoder layers to run (default all); used when the top layers are not needed.</param>
    public IReadOnlyList<Tensor> Forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, int? layers = null)
    {
        var additiveMask = AdditiveMask(attentionMask);
        var hidden = embeddings.Forward(inputIds, tokenTypeIds);
        var states = new List<Tensor>(Config.NumHiddenLayers + 1) { hidden };
        int count = Math.Min(layers ?? Config.NumHiddenLayers, Config.NumHiddenLayers);
        for (int i = 0; i < count; i++)
        {
            hidden = encoder.Layers[i].Forward(hidden, additiveMask);
            states.Add(hidden);
        }
        return states;
    }

    /// <summary>[batch, length] 0/1 mask → [batch, 1, 1, length] additive mask (0 or the float minimum).</summary>
    public static Tensor AdditiveMask(Tensor attentionMask)
    {
        var keep = attentionMask.to_type(float32).unsqueeze(1).unsqueeze(2);
        return (1.0f - keep) * float.MinValue;
    }
}
