using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetBert.Inference;

/// <summary>
/// What the inference side knows about one task: which inputs it reads, which graph outputs it needs, what its model
/// card must hold, how output rows become a <see cref="Prediction"/>, and how a prediction is shown (predict JSON,
/// the server's JSON, a console line, a table row). One subclass per task, in its own folder under <c>Tasks/</c>,
/// registered once in <see cref="InferenceTasks"/>; nothing else in the library switches on the task.
/// </summary>
/// <remarks>The training side of the same task (encoding, head, loss, ONNX head, metrics) is in MlNetBert's <c>Tasks/</c>.</remarks>
public abstract class InferenceTask
{
    /// <summary>The task's name as written in <c>mlnetbert.task</c> (for example <c>text-classification</c>).</summary>
    public abstract string Name { get; }

    /// <summary>One line for help texts and errors.</summary>
    public abstract string Description { get; }

    /// <summary>Whether each row has a second text (<c>[CLS] a [SEP] b [SEP]</c>).</summary>
    public abstract bool ReadsPair { get; }

    /// <summary>Whether predictions carry a label (and so the card needs labels).</summary>
    public abstract bool HasLabels { get; }

    /// <summary>The graph outputs <see cref="Decode"/> reads, in that order.</summary>
    public abstract IReadOnlyList<string> OutputNames { get; }

    /// <summary>Throws <see cref="BadInputException"/> naming <paramref name="source"/> when the card does not fit this task.</summary>
    public virtual void Validate(ModelCard card, string source)
    {
        if (HasLabels && card.Labels.Count < 2)
            throw new BadInputException($"{source}: task '{Name}' needs at least 2 labels in '{ModelFileFormat.LabelsKey}', found {card.Labels.Count}");
        if (!HasLabels && card.Labels.Count != 0)
            throw new BadInputException($"{source}: task '{Name}' has no labels, but '{ModelFileFormat.LabelsKey}' lists {card.Labels.Count}");
    }

    /// <summary>The width of each output in <see cref="OutputNames"/> for one row (for example the label count).</summary>
    public abstract IReadOnlyList<int> OutputWidths(ModelCard card);

    /// <summary>One row's prediction from its slices of the outputs in <see cref="OutputNames"/>.</summary>
    public abstract Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card);

    /// <summary>The prediction's output shape, as the server answers and <c>predict --json</c> prints it.</summary>
    public abstract PredictionOutput ToOutput(Prediction prediction, ModelCard card);

    /// <summary>How outputs are written as JSON everywhere (camelCase, nulls left out).</summary>
    public static JsonSerializerOptions OutputJson { get; } = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The prediction as one console line.</summary>
    public abstract string Describe(Prediction prediction, ModelCard card);

    /// <summary>Column names that <c>predict --output</c> writes after the input columns.</summary>
    public abstract IReadOnlyList<string> TableColumns(ModelCard card);

    /// <summary>The cells under <see cref="TableColumns"/> for one prediction.</summary>
    public abstract IEnumerable<string> TableCells(Prediction prediction, ModelCard card);

    public override string ToString() => Name;
}
