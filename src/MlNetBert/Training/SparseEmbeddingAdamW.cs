using MlNetBert.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>
/// AdamW for the word-embedding table that touches only the rows of tokens seen since the last step. A batch uses a
/// few hundred of 30522 rows, yet dense AdamW reads and writes all 11.7M values (and their two moments) every step,
/// which is a large share of a MiniLM step on CPU. Rows not seen keep their moments and skip weight decay until they
/// appear again (the "lazy Adam" convention); bias correction uses the global step.
/// </summary>
internal sealed class SparseEmbeddingAdamW : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;
    private readonly Tensor _m;
    private readonly Tensor _v;
    private readonly double _weightDecay;
    private readonly HashSet<long> _rows = [];

    private SparseEmbeddingAdamW(Parameter weight, double weightDecay)
    {
        Weight = weight;
        _weightDecay = weightDecay;
        _m = zeros_like(weight).DetachFromDisposeScope();
        _v = zeros_like(weight).DetachFromDisposeScope();
    }

    public Parameter Weight { get; }

    /// <summary>The embeddings' share of the scheduled rate (below 1 only with layer-wise learning-rate decay).</summary>
    public double LearningRateMultiplier { get; private init; } = 1.0;

    /// <summary>Null when the table is frozen (nothing to update).</summary>
    public static SparseEmbeddingAdamW? TryCreate(BertClassifier model, BertTrainingOptions options)
    {
        if (options.Freeze.IsFrozen("embeddings.word_embeddings.weight"))
            return null;
        var weight = model.named_parameters().First(p => p.name == "bert.embeddings.word_embeddings.weight").parameter;
        double decay = options.LayerwiseLearningRateDecay;
        return new SparseEmbeddingAdamW(weight, options.WeightDecay)
        {
            LearningRateMultiplier = decay < 1 ? Math.Pow(decay, model.Bert.Config.NumHiddenLayers + 1) : 1.0,
        };
    }

    /// <summary>Remembers the token ids of a batch (all batches of an accumulated step count).</summary>
    public void Collect(long[] inputIds)
    {
        foreach (long id in inputIds)
            _rows.Add(id);
    }

    /// <summary>One AdamW update of the collected rows; then clears their gradient.</summary>
    public void Step(double learningRate, int step)
    {
        if (_rows.Count == 0 || Weight.grad is null)
            return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var index = tensor(_rows.ToArray());
        _rows.Clear();
        var grad = Weight.grad.index_select(0, index);
        var m = _m.index_select(0, index).mul_(Beta1).add_(grad, alpha: 1 - Beta1);
        var v = _v.index_select(0, index).mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
        _m.index_copy_(0, index, m);
        _v.index_copy_(0, index, v);
        double correction1 = 1 - Math.Pow(Beta1, step), correction2 = 1 - Math.Pow(Beta2, step);
        var rows = Weight.index_select(0, index);
        if (_weightDecay > 0)
            rows.mul_(1 - learningRate * _weightDecay);
        var denominator = (v / correction2).sqrt_().add_(Eps);
        rows.addcdiv_(m, denominator, value: -learningRate / correction1);
        Weight.index_copy_(0, index, rows);
        Weight.grad.index_fill_(0, index, 0.0);
    }

    /// <summary>The moments and the rows collected for the next step, for checkpoints.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> State()
    {
        yield return ("m", _m);
        yield return ("v", _v);
    }

    /// <summary>Restores moments saved by <see cref="State"/>.</summary>
    public void Restore(IReadOnlyDictionary<string, Checkpoints.TensorData> saved)
    {
        using var noGrad = no_grad();
        using var m = tensor(saved["m"].Data, saved["m"].Shape);
        using var v = tensor(saved["v"].Data, saved["v"].Shape);
        _m.copy_(m);
        _v.copy_(v);
    }

    public void Dispose()
    {
        _m.Dispose();
        _v.Dispose();
    }
}
