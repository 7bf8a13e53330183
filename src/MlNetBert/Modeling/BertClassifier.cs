using MlNetBert.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetBert.Modeling;

/// <summary>How the head reads the encoder's last hidden state.</summary>
public enum Pooling
{
    /// <summary>The [CLS] vector (position 0), as BERT's own classifiers do.</summary>
    Cls,

    /// <summary>The mean over real tokens (attention mask 1), as sentence-transformers do.</summary>
    Mean,
}

/// <summary>The names a <see cref="Pooling"/> has in a model card (<c>mlnetbert.pooling</c>).</summary>
public static class PoolingNames
{
    /// <summary><c>mean</c> or <c>cls</c>.</summary>
    public static string ToName(this Pooling pooling) => pooling == Pooling.Mean ? Inference.ModelCard.PoolingMean : Inference.ModelCard.PoolingCls;

    /// <summary>The pooling a card names (<see cref="Inference.ModelCard.FromMetadata"/> has checked the value).</summary>
    public static Pooling Parse(string name) => name == Inference.ModelCard.PoolingCls ? Pooling.Cls : Pooling.Mean;
}

/// <summary>
/// A BERT encoder with a linear head: class logits for classification, one output for similarity; with
/// <see cref="TokenLevel"/> the same kind of head applied to every position (token classification); or with no head
/// (0 outputs), the pooled vector itself, for sentence embeddings.
/// Parameters are named <c>bert.*</c> (HuggingFace names below it) and <c>classifier.weight</c>/<c>classifier.bias</c>.
/// </summary>
public sealed class BertClassifier : nn.Module
{
#pragma warning disable IDE1006
    private readonly BertModel bert;
    private readonly Linear? classifier;
#pragma warning restore IDE1006
    private readonly double _dropout;

    /// <param name="config">The encoder's architecture.</param>
    /// <param name="outputs">Rows of the linear head (labels, or 1 for a score); 0 for none: <see cref="Forward"/> then
    /// returns the pooled vector ([batch, hidden], no dropout after pooling, as sentence-transformers trains bi-encoders).</param>
    /// <param name="pooling">How a row-level head reads the last hidden state (ignored when <paramref name="tokenLevel"/>).</param>
    /// <param name="tokenLevel">Apply the head to every position instead of a pooled vector.</param>
    public BertClassifier(BertConfig config, int outputs, Pooling pooling, bool tokenLevel = false)
        : base(nameof(BertClassifier))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputs);
        bert = new BertModel(config);
        _dropout = config.HiddenDropoutProb;
        Pooling = pooling;
        Outputs = outputs == 0 ? config.HiddenSize : outputs;
        TokenLevel = tokenLevel;
        if (outputs > 0)
        {
            classifier = nn.Linear(config.HiddenSize, outputs);
            // HuggingFace's initialisation of a new head: N(0, 0.02) weights, zero bias. Seeded by the caller.
            using (no_grad())
            {
                nn.init.normal_(classifier.weight, 0.0, config.InitializerRange);
                nn.init.zeros_(classifier.bias!);
            }
        }
        RegisterComponents();
    }

    public BertModel Bert => bert;

    /// <summary>The linear head; null when the model has none (sentence embeddings).</summary>
    public Linear? Head => classifier;

    public Pooling Pooling { get; }

    /// <summary>Width of <see cref="Forward"/>'s output: the head's rows, or the hidden size without a head.</summary>
    public int Outputs { get; }

    /// <summary>Whether the head reads every position (outputs [batch, length, outputs]) rather than the pooled vector.</summary>
    public bool TokenLevel { get; }

    /// <summary>Logits [batch, outputs], or [batch, length, outputs] when <see cref="TokenLevel"/>; without a head, the pooled vectors [batch, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        var last = bert.Forward(inputIds, attentionMask, tokenTypeIds)[^1];
        if (TokenLevel)
            return classifier!.forward(nn.functional.dropout(last, _dropout, training));
        var pooled = Pool(last, attentionMask, Pooling);
        return classifier is null ? pooled : classifier.forward(nn.functional.dropout(pooled, _dropout, training));
    }

    /// <summary>[batch, length, hidden] → [batch, hidden].</summary>
    public static Tensor Pool(Tensor hidden, Tensor attentionMask, Pooling pooling)
    {
        if (pooling == Pooling.Cls)
            return hidden[.., 0, ..];
        var mask = attentionMask.unsqueeze(-1).to_type(hidden.dtype);
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
    }
}
