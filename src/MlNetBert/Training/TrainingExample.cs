using MlNetBert.Tokenization;

namespace MlNetBert.Training;

/// <summary>
/// One encoded training row: a class index for classification, a target (already scaled to 0..1) for similarity, a
/// label per input position for token classification, a second input for a bi-encoder.
/// </summary>
public readonly record struct TrainingExample(EncodedText Input, int Label, float Target)
{
    /// <summary>Token-level tasks: one label index per position of <see cref="Input"/>; -100 where the loss ignores it ([CLS], [SEP], later sub-tokens of a word).</summary>
    public int[]? TokenLabels { get; init; }

    /// <summary>A bi-encoder's second text, encoded on its own (<see cref="Tasks.TrainingTask.EncodesPairSeparately"/>); null otherwise.</summary>
    public EncodedText? Input2 { get; init; }

    /// <summary>
    /// Distillation: the teacher's output for this row, in the student's terms (<see cref="Tasks.TrainingTask.TeacherTarget"/>):
    /// logits in the student's label order (classification), or the score scaled like <see cref="Target"/> (similarity); null without teachers.
    /// </summary>
    public float[]? Teacher { get; init; }

    /// <summary>True for a row without a label (distillation's extra texts): only the teacher's term of the loss reads it.</summary>
    public bool Unlabelled { get; init; }

    /// <summary>Question answering: the question this window belongs to (all windows of a question share it), for validation.</summary>
    public Tasks.QuestionWindow? Question { get; init; }
}

/// <summary>Metrics of one epoch.</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double? ValidationMetric, double? ValidationLoss, TimeSpan Duration, double SamplesPerSecond);

/// <summary>One optimizer step, for log.csv.</summary>
public sealed record StepRecord(int Step, int Epoch, double Loss, double LearningRate, double SamplesPerSecond);

/// <summary>What happened during training.</summary>
public sealed record TrainingHistory(
    IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<StepRecord> Steps,
    int BestEpoch,
    string ValidationMetricName,
    TimeSpan TrainingTime,
    double SamplesPerSecond,
    long TrainableParameters,
    long TotalParameters,
    long RealTokens,
    long PaddedTokens)
{
    /// <summary>The process's peak working set when training ended (before any export), in bytes; 0 when not measured.</summary>
    public long PeakWorkingSetBytes { get; init; }

    /// <summary>Whether the training steps multiplied in bf16 (<see cref="BertTrainingOptions.UsesBFloat16"/>).</summary>
    public bool BFloat16 { get; init; }
}
