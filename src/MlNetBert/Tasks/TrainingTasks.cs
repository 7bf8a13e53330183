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

    /// <summary>The other ways of training registered tasks (<see cref="TrainingTask.Variant"/>).</summary>
    public static IReadOnlyList<TrainingTask> Variants { get; } =
    [
        SentenceEmbeddingTraining.MultipleNegativesRanking,
        TokenClassificationTraining.AllSubTokens,
    ];

    /// <summary>
    /// The task named <paramref name="name"/> trained the way named <paramref name="variant"/> (null: the registry's
    /// entry); throws <see cref="BadInputException"/> naming <paramref name="source"/> (the option or file field) when the
    /// task has no such variant.
    /// </summary>
    public static TrainingTask Get(string name, string? variant, string source)
    {
        var task = Get(name, source);
        if (variant is null || variant == task.Variant)
            return task;
        var choices = All.Concat(Variants).Where(t => t.Name == task.Name && t.Variant is not null).ToList();
        return choices.FirstOrDefault(t => t.Variant == variant)
            ?? throw new BadInputException(choices.Count == 0
                ? $"{source} does not apply to task '{name}'"
                : $"{source}: task '{name}' trains with {string.Join(" or ", choices.Select(t => t.Variant))}, not '{variant}'");
    }

    /// <summary>The training side of <paramref name="task"/>.</summary>
    public static TrainingTask For(InferenceTask task) =>
        All.FirstOrDefault(t => t.Inference == task) ?? throw new BadInputException($"task '{task.Name}' cannot be trained by this library");

    /// <summary>The task named <paramref name="name"/>; throws <see cref="BadInputException"/> naming <paramref name="source"/> otherwise.</summary>
    public static TrainingTask Get(string name, string source) => For(InferenceTasks.Get(name, source));
}
