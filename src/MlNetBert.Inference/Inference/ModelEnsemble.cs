using System.Globalization;

namespace MlNetBert.Inference;

/// <summary>
/// Several trained models of the same task and labels that predict as one: every member predicts the same texts
/// (each with its own tokenizer) and the task averages them (<see cref="InferenceTask.Average"/>: probabilities for
/// classification, scores for similarity). What a distilled student learns from when given several teachers, and the
/// reference that a merged ensemble file (<c>mlnetbert ensemble</c>) is verified against.
/// </summary>
/// <remarks>The ensemble owns its members and disposes them.</remarks>
public sealed class ModelEnsemble : IBertPredictor
{
    private readonly IReadOnlyList<IBertPredictor> _members;

    private ModelEnsemble(IReadOnlyList<IBertPredictor> members, ModelCard card)
    {
        _members = members;
        Card = card;
    }

    /// <summary>
    /// An ensemble of <paramref name="members"/> (at least two), which it then owns. Throws <see cref="BadInputException"/>
    /// naming the member when one has another task, other labels or another score scale than the first.
    /// </summary>
    /// <param name="members">The models, in order.</param>
    /// <param name="names">Each member's file, for messages.</param>
    public static ModelEnsemble Create(IReadOnlyList<IBertPredictor> members, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(names);
        if (members.Count < 2)
            throw new BadInputException($"an ensemble needs at least 2 models, got {members.Count}");
        CheckAverageable(members.Select(m => m.Card).ToList(), names);
        return new ModelEnsemble(members, EnsembleCard(members[0].Card, members.Count));
    }

    /// <summary>
    /// Throws <see cref="BadInputException"/> unless every card has the first one's task, labels (same names, same
    /// order) and score scale, and the task can be averaged (<see cref="InferenceTask.EnsembleOutputs"/>).
    /// </summary>
    public static void CheckAverageable(IReadOnlyList<ModelCard> cards, IReadOnlyList<string> names)
    {
        var first = cards[0];
        if (first.TaskDefinition.EnsembleOutputs is null)
            throw new BadInputException($"{names[0]}: a {first.Task} model; only text-classification, pair-classification and sentence-similarity models can be averaged into an ensemble or used as teachers");
        for (int i = 1; i < cards.Count; i++)
        {
            var c = cards[i];
            if (c.Task != first.Task)
                throw new BadInputException($"{names[i]}: a {c.Task} model, but {names[0]} is a {first.Task} model (ensemble members must have the same task)");
            if (!c.Labels.SequenceEqual(first.Labels, StringComparer.Ordinal))
                throw new BadInputException($"{names[i]}: labels [{string.Join(", ", c.Labels)}] differ from {names[0]}'s [{string.Join(", ", first.Labels)}] (ensemble members must have the same labels in the same order)");
            if (c.ScoreScale != first.ScoreScale || c.ScoreOffset != first.ScoreOffset)
                throw new BadInputException(string.Create(CultureInfo.InvariantCulture,
                    $"{names[i]}: scores span {c.ScoreOffset} to {c.ScoreOffset + c.ScoreScale}, but {names[0]}'s span {first.ScoreOffset} to {first.ScoreOffset + first.ScoreScale} (ensemble members must score on the same scale)"));
        }
    }

    /// <summary>The card of an ensemble of <paramref name="members"/> models like <paramref name="first"/>: its fields, no metrics (they were one member's), and the member count.</summary>
    public static ModelCard EnsembleCard(ModelCard first, int members) =>
        first with { EnsembleMembers = members, Metrics = new Dictionary<string, double>() };

    /// <summary>What the ensemble is: the first member's card with <see cref="ModelCard.EnsembleMembers"/> set and no metrics.</summary>
    public ModelCard Card { get; }

    public InferenceTask TaskDefinition => Card.TaskDefinition;

    /// <summary>The members, in order.</summary>
    public IReadOnlyList<IBertPredictor> Members => _members;

    /// <summary>Every member predicts every text; each row's prediction is the task's average of the members'.</summary>
    public IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 32)
    {
        var perMember = _members.Select(m => m.PredictBatch(texts, texts2, batchSize)).ToList();
        var task = TaskDefinition;
        return Enumerable.Range(0, texts.Count).Select(i => task.Average(perMember.Select(p => p[i]).ToList(), Card)).ToList();
    }

    public void Dispose()
    {
        foreach (var m in _members)
            m.Dispose();
    }
}
