namespace MlNetBert.Inference;

/// <summary>The registry of tasks a model file can carry: adding a task adds one line here.</summary>
public static class InferenceTasks
{
    /// <summary>Every registered task, in the order help texts list them.</summary>
    public static IReadOnlyList<InferenceTask> All { get; } =
    [
        ClassificationTask.Text,
        ClassificationTask.Pair,
        SentenceSimilarityTask.Instance,
        TokenClassificationTask.Instance,
        QuestionAnsweringTask.Instance,
        SentenceEmbeddingTask.Instance,
    ];

    /// <summary>The registered names, for messages.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(t => t.Name).ToArray();

    /// <summary>The task named <paramref name="name"/>; throws <see cref="BadInputException"/> naming <paramref name="source"/> otherwise.</summary>
    public static InferenceTask Get(string name, string source) =>
        TryGet(name) ?? throw new BadInputException($"{source}: unknown task '{name}' (expected one of: {string.Join(", ", Names)})");

    /// <summary>The task named <paramref name="name"/>, or null.</summary>
    public static InferenceTask? TryGet(string name) => All.FirstOrDefault(t => t.Name == name);
}
