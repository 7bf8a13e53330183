using MlNetBert.Inference;

namespace MlNetBert.Tasks;

/// <summary>The registry of trainable tasks: adding a task adds one line here (and one in <see cref="InferenceTasks"/>).</summary>
public static class TrainingTasks
{
    /// <summary>Every trainable task.</summary>
    public static IReadOnlyList<TrainingTask> All { get; } =
    [
        ClassificationTraining.Text,
        ClassificationTraining.Pair,
        SentenceSimilarityTraining.Instance,
        TokenClassificationTraining.Instance,
        QuestionAnswerTraining.Instance,
        SentenceEmbeddingTraining.CosineSimilarity,
    ];

    /// <summary>The training side of <paramref name="task"/>.</summary>
    public static TrainingTask For(InferenceTask task) =>
        All.FirstOrDefault(t => t.Inference == task) ?? throw new BadInputException($"task '{task.Name}' cannot be trained by this library");

    /// <summary>The task named <paramref name="name"/>; throws <see cref="BadInputException"/> naming <paramref name="source"/> otherwise.</summary>
    public static TrainingTask Get(string name, string source) => For(InferenceTasks.Get(name, source));
}
