using System.Text.Json;
using System.Text.Json.Serialization;
using MlNetBert.Tokenization;

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

    /// <summary>The JSON field of a served input's first text (default <c>text</c>).</summary>
    public virtual string TextField => "text";

    /// <summary>The JSON field of a served input's second text, for pair tasks (default <c>text2</c>).</summary>
    public virtual string Text2Field => "text2";

    /// <summary>Whether an empty text is refused (a question or a context with nothing to read); default false.</summary>
    public virtual bool RequiresText => false;

    /// <summary>
    /// Whether the task reads every character of a long text, in overlapping windows (question answering's context,
    /// token classification's sentence), so that cutting a text would lose answers or entities; default false (the
    /// model reads at most its max length in tokens, and a server may cut what lies beyond).
    /// </summary>
    public virtual bool ReadsWholeText => false;

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

    /// <summary>
    /// Whether the graph's outputs are per token, <c>[batch, sequence, width]</c> (token classification), rather than
    /// per row, <c>[batch, width]</c> (the default). A token-level task lays out each text itself (<see cref="Layout"/>:
    /// words, several windows for a long text) and decodes all of its inputs' outputs together (<see cref="DecodeTokens"/>);
    /// <see cref="Decode"/> is not used.
    /// </summary>
    public virtual bool TokenLevel => false;

    /// <summary>Token-level tasks: the model inputs for one text, and what decoding needs to know about them.</summary>
    public virtual TokenLayout Layout(string text, string? text2, BertTextEncoder encoder, ModelCard card) =>
        throw new NotSupportedException($"task '{Name}' reads one input per row; it has no token layout");

    /// <summary>
    /// Token-level tasks: one text's prediction. <paramref name="outputs"/> has one entry per input of
    /// <paramref name="layout"/>, holding one array per <see cref="OutputNames"/> entry: the input's real tokens ×
    /// <see cref="OutputWidths"/>, row-major (padding already cut off).
    /// </summary>
    public virtual Prediction DecodeTokens(TokenLayout layout, IReadOnlyList<IReadOnlyList<float[]>> outputs, ModelCard card) =>
        throw new NotSupportedException($"task '{Name}' reads one input per row; it has no token outputs");

    /// <summary>
    /// Predicts texts with a token-level task: lays out every text, runs all inputs through <paramref name="run"/> in
    /// one call (which batches as it likes and returns, per input, its <see cref="OutputNames"/> outputs without
    /// padding) and decodes each text from its own inputs. The ONNX and TorchSharp models both predict through this.
    /// </summary>
    public IReadOnlyList<Prediction> PredictTokenLevel(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2, BertTextEncoder encoder, ModelCard card,
        Func<IReadOnlyList<EncodedText>, IReadOnlyList<IReadOnlyList<float[]>>> run)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(run);
        var layouts = new TokenLayout[texts.Count];
        var inputs = new List<EncodedText>();
        for (int i = 0; i < layouts.Length; i++)
        {
            layouts[i] = Layout(texts[i] ?? string.Empty, texts2?[i], encoder, card);
            inputs.AddRange(layouts[i].Inputs);
        }
        var outputs = run(inputs);
        var predictions = new Prediction[layouts.Length];
        int next = 0;
        for (int i = 0; i < layouts.Length; i++)
        {
            int count = layouts[i].Inputs.Count;
            predictions[i] = DecodeTokens(layouts[i], outputs.Skip(next).Take(count).ToArray(), card);
            next += count;
        }
        return predictions;
    }

    /// <summary>
    /// How an ensemble of this task's models combines its members (<see cref="ModelEnsemble"/>, <c>mlnetbert
    /// ensemble</c>), and what a distilled student learns from: the graph output averaged over the members
    /// (probabilities, a score), and the output, if any, that is the logarithm of that average (logits whose softmax
    /// is the averaged probabilities). Null (the default) when the task's models cannot be averaged.
    /// </summary>
    public virtual (string Averaged, string? LogOfAverage)? EnsembleOutputs => null;

    /// <summary>
    /// The prediction of an ensemble from its members' predictions of the same input (see <see cref="EnsembleOutputs"/>);
    /// throws <see cref="BadInputException"/> for a task that cannot be averaged.
    /// </summary>
    public virtual Prediction Average(IReadOnlyList<Prediction> members, ModelCard card) =>
        throw new BadInputException($"task '{Name}' models cannot be averaged into an ensemble or used as teachers (supported: text-classification, pair-classification, sentence-similarity)");

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

/// <summary>
/// How a token-level task turned one text into model inputs (<see cref="InferenceTask.Layout"/>): the inputs, and in
/// a task's own subclass whatever its decoding needs (words, windows, character offsets).
/// </summary>
/// <param name="Inputs">One or more encoded inputs (several when a long text is cut into windows).</param>
public abstract record TokenLayout(IReadOnlyList<EncodedText> Inputs);
