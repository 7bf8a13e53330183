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
        SentenceEmbeddingTraining.CosineSimilarity,
    ];

    /// <summary>Tasks trainable with another loss than their registry entry's (<see cref="TrainingTask.LossName"/>).</summary>
    public static IReadOnlyList<TrainingTask> OtherLosses { get; } = [SentenceEmbeddingTraining.MultipleNegativesRanking];

    /// <summary>
    /// The task named <paramref name="name"/> trained with the loss named <paramref name="loss"/> (null: the task's
    /// default); throws <see cref="BadInputException"/> naming <paramref name="source"/> when the task has no such loss.
    /// </summary>
    public static TrainingTask Get(string name, string? loss, string source)
    {
        var task = Get(name, source);
        if (loss is null)
            return task;
        var choices = All.Concat(OtherLosses).Where(t => t.Name == task.Name && t.LossName is not null).ToList();
        return choices.FirstOrDefault(t => t.LossName == loss)
            ?? throw new BadInputException(choices.Count == 0
                ? $"{source}: task '{name}' has one loss; --loss does not apply to it"
                : $"{source}: task '{name}' trains with {string.Join(" or ", choices.Select(t => t.LossName))}, not '{loss}'");
    }

    /// <summary>The training side of <paramref name="task"/>.</summary>
    public static TrainingTask For(InferenceTask task) =>
        All.FirstOrDefault(t => t.Inference == task) ?? throw new BadInputException($"task '{task.Name}' cannot be trained by this library");

    /// <summary>The task named <paramref name="name"/>; throws <see cref="BadInputException"/> naming <paramref name="source"/> otherwise.</summary>
    public static TrainingTask Get(string name, string source) => For(InferenceTasks.Get(name, source));
}
