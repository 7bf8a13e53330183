namespace MlNetBert.Inference;

/// <summary>
/// A fine-tuned model that predicts, whichever runtime holds it: <see cref="BertOnnxModel"/> (ONNX Runtime) or the
/// training library's TorchSharp model. Both decode through the same <see cref="InferenceTask"/>, so a
/// <c>model.zip</c> and its exported <c>model.onnx</c> give the same <see cref="Prediction"/>s.
/// </summary>
public interface IBertPredictor : IDisposable
{
    /// <summary>What the model is.</summary>
    ModelCard Card { get; }

    /// <summary>The task: inputs it reads, how predictions are shown.</summary>
    InferenceTask TaskDefinition { get; }

    /// <summary>Predictions in input order; <paramref name="texts2"/> for tasks that read pairs.</summary>
    IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 32);
}
