using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Data;
using MlNetBert.Data.TokenClassification;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using Onnx;
using static TorchSharp.torch;

namespace MlNetBert.Tasks;

/// <summary>
/// Training for token classification (named entities), Hugging Face's way: the text is space-separated words and the
/// label one key per word (ML.NET's <c>MapValueToKey</c> over a <c>string[]</c> of BIO tags); each word's label sits on
/// its first sub-token and every other position is ignored by the loss (-100); a sentence longer than the maximum
/// length is trained as overlapping windows rather than cut off. Validation is entity F1 (conlleval semantics); the
/// graph output is <c>logits</c> [batch, sequence, labels]; ML.NET columns are <c>PredictedLabel</c> (a key vector, one
/// per word) and <c>Score</c> (the predicted tag's probability, one per word).
/// </summary>
public sealed class TokenClassificationTraining : TrainingTask
{
    private readonly bool _labelAllSubTokens;

    private TokenClassificationTraining(bool labelAllSubTokens) => _labelAllSubTokens = labelAllSubTokens;

    /// <summary>The registry's instance: a word's label on its first sub-token only (Hugging Face's default).</summary>
    public static TokenClassificationTraining Instance { get; } = new(false);

    /// <summary>
    /// Every sub-token labelled, a word's later sub-tokens with <c>B-X</c> turned into <c>I-X</c> (Hugging Face's
    /// <c>label_all_tokens</c>); words are still predicted from their first sub-token.
    /// </summary>
    public static TokenClassificationTraining AllSubTokens { get; } = new(true);

    /// <summary>The variant's name for <see cref="AllSubTokens"/> (<c>--label-all-subtokens</c>).</summary>
    public const string AllSubTokensVariant = "all-sub-tokens";

    public override string? Variant => _labelAllSubTokens ? AllSubTokensVariant : null;

    public override InferenceTask Inference => TokenClassificationTask.Instance;

    public override bool KeyLabel => true;

    /// <summary>A file's label column is a string of space-separated tags (see <see cref="TaggedTableReader"/>, <see cref="ConllReader"/>).</summary>
    public override LabelKind FileLabels => LabelKind.Categorical;

    public override void CheckLabelColumn(SchemaShape.Column label)
    {
        if (!label.IsKey || label.Kind == SchemaShape.Column.VectorKind.Scalar)
        {
            throw new BadInputException($"label column '{label.Name}' must be a vector of keys, one per word, found {MlNetSchema.Describe(label)}: "
                + $"make it a string[] of tags and add mlContext.Transforms.Conversion.MapValueToKey(\"{label.Name}\") before the trainer");
        }
    }

    /// <summary>The card's labels are BIO over the key's entity types: <c>O</c>, then <c>B-X</c>, <c>I-X</c> per type in ordinal order.</summary>
    public override ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn)
    {
        foreach (var name in keyNames)
            if (!BioTags.TryParse(name, out _, out _))
                throw new BadInputException($"training data: tag '{name}' in column '{labelColumn}' is not O, B-TYPE or I-TYPE");
        var types = keyNames.Select(EntityTags.TypeOf).OfType<string>().ToList();
        if (types.Count == 0)
            throw new BadInputException($"training data: column '{labelColumn}' has no entity tags (only O); nothing to learn");
        return card with { Labels = EntityTags.BioLabels(types) };
    }

    /// <summary>Not used: a row's labels are per word (<see cref="Examples"/>).</summary>
    public override TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn) =>
        throw new NotSupportedException($"task '{Name}' has a label per word; its examples come from Examples");

    /// <summary>Splits the text at whitespace into words, checks one key per word, and lays the words out in windows with sub-token labels.</summary>
    public override IReadOnlyList<TrainingExample> Examples(string text, string? text2, LabelValue label, IReadOnlyList<string> keyNames, ModelCard card,
        BertTextEncoder encoder, string where, string labelColumn)
    {
        string[] words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        uint[] keys = label.Keys ?? throw new BadInputException($"{where}: column '{labelColumn}' is not a vector of keys");
        if (words.Length == 0)
            throw new BadInputException($"{where}: the text has no words");
        if (keys.Length != words.Length)
            throw new BadInputException($"{where}: {words.Length} words but {keys.Length} labels in column '{labelColumn}' (one per space-separated word)");
        var index = LabelIndex(card);
        var wordLabels = new int[words.Length];
        for (int i = 0; i < words.Length; i++)
        {
            if (keys[i] == 0 || keys[i] > keyNames.Count)
                throw new BadInputException($"{where}: word {i + 1} ('{words[i]}') has a missing label in column '{labelColumn}'");
            string tag = keyNames[(int)keys[i] - 1];
            if (!index.TryGetValue(tag, out wordLabels[i]))
                throw new BadInputException($"{where}: word {i + 1} ('{words[i]}'): tag '{tag}' does not occur in the training data (labels: {string.Join(", ", card.Labels)})");
        }
        var aligner = new WordPieceAligner(encoder);
        var windows = WordWindows.Create(aligner.AlignWords(words), card.MaxLength, TokenClassificationTask.Stride(card.MaxLength), aligner.ClsId, aligner.SepId);
        var labels = SubTokenLabels.ForInputs(windows, wordLabels, _labelAllSubTokens, _labelAllSubTokens ? EntityTags.ContinuationLabels(card.Labels) : null);
        return windows.Inputs.Select((input, w) => new TrainingExample(input, 0, 0) { TokenLabels = labels[w] }).ToArray();
    }

    private static Dictionary<string, int> LabelIndex(ModelCard card)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < card.Labels.Count; i++)
            index[card.Labels[i]] = i;
        return index;
    }

    public override int HeadOutputs(ModelCard card) => card.Labels.Count;

    /// <summary>Cross-entropy over the labelled positions only (PyTorch's <c>ignore_index</c> -100), averaged over them.</summary>
    public override Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows)
    {
        long length = head.shape[1], labels = head.shape[2];
        var targets = new long[rows.Count * length];
        Array.Fill(targets, SubTokenLabels.Ignored);
        bool any = false;
        for (int r = 0; r < rows.Count; r++)
        {
            var tokenLabels = rows[r].TokenLabels ?? throw new InvalidOperationException("a token-classification example without token labels");
            for (int t = 0; t < tokenLabels.Length; t++)
            {
                targets[r * length + t] = tokenLabels[t];
                any |= tokenLabels[t] != SubTokenLabels.Ignored;
            }
        }
        // A batch of windows that hold only later sub-tokens of one long word has nothing to learn (the mean would be NaN).
        if (!any)
            return head.sum() * 0;
        return nn.functional.cross_entropy(head.reshape(-1, labels), tensor(targets), ignore_index: SubTokenLabels.Ignored);
    }

    public override string ValidationMetricName => "f1";

    /// <summary>
    /// Entity F1 over the validation windows' labelled words (each window scored as a sentence; a word in two windows of
    /// a long sentence counts twice) and the mean cross-entropy over those words.
    /// </summary>
    public override (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card)
    {
        if (card is null)
            throw new InvalidOperationException($"task '{Name}' validates with entity F1, which needs the model card's labels");
        var head = outputs[0];
        int labels = card.Labels.Count;
        var gold = new List<IReadOnlyList<string>>(valid.Count);
        var predicted = new List<IReadOnlyList<string>>(valid.Count);
        double nll = 0;
        long words = 0;
        for (int i = 0; i < valid.Count; i++)
        {
            var tokenLabels = valid[i].TokenLabels!;
            var g = new List<string>();
            var p = new List<string>();
            for (int t = 0; t < tokenLabels.Length; t++)
            {
                if (tokenLabels[t] == SubTokenLabels.Ignored)
                    continue;
                var probabilities = Scores.Softmax(head[i].AsSpan(t * labels, labels));
                g.Add(card.Labels[tokenLabels[t]]);
                p.Add(card.Labels[Scores.ArgMax(probabilities)]);
                nll -= Math.Log(Math.Max(probabilities[tokenLabels[t]], 1e-15));
                words++;
            }
            gold.Add(g);
            predicted.Add(p);
        }
        return (EntityMetrics.Compute(gold, predicted).F1, nll / Math.Max(1, words));
    }

    public override float[][] GraphOutputs(float[] head, ModelCard card) => [head];

    public override void CheckHead(ModelCard card, int outputs)
    {
        if (card.Labels.Count != outputs)
            throw new BadInputException($"task '{Name}': {card.Labels.Count} labels given, but classifier.weight has {outputs} rows (expected one label per row)");
        if (outputs < 2)
            throw new BadInputException($"task '{Name}' needs at least 2 labels, got {outputs}");
        foreach (var label in card.Labels)
            if (!BioTags.TryParse(label, out _, out _))
                throw new BadInputException($"task '{Name}': label '{label}' is not O, B-TYPE or I-TYPE");
        var duplicate = card.Labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new BadInputException($"label '{duplicate.Key}' appears more than once (labels must be distinct)");
    }

    internal override void WriteOnnxHead(OnnxGraphBuilder graph, string logits, int outputs, ModelCard card, Func<string, string> constant) =>
        graph.Output(ModelFileFormat.Logits, TensorProto.Types.DataType.Float, "batch", "sequence", (long)outputs);

    /// <summary>
    /// Per token: float32 logits within the tolerance and every token's tag the same; float16 and int8 differences
    /// reported, with at least 99% (float16) or 98% (int8) of token tags the same.
    /// </summary>
    public override VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card)
    {
        var check = options.Quantize == OnnxQuantization.Int8 ? new VariantCheck(ModelFileFormat.Logits, double.PositiveInfinity, 0.98)
            : options.Float16 ? new VariantCheck(ModelFileFormat.Logits, double.PositiveInfinity, VariantCheck.Float16MinArgmaxAgreement)
            : new VariantCheck(ModelFileFormat.Logits, tolerance, 1.0);
        return check with { ArgmaxGroup = card.Labels.Count };
    }

    /// <summary><c>PredictedLabel</c>: a key vector over the labels, one per space-separated word; <c>Score</c>: each word's tag probability.</summary>
    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels)
    {
        builder.AddColumn(scoreColumn, new VectorDataViewType(NumberDataViewType.Single));
        var keyValues = new DataViewSchema.Annotations.Builder();
        MlNetSchema.AddTextVector(keyValues, "KeyValues", labels);
        builder.AddColumn(predictedLabelColumn, new VectorDataViewType(new KeyDataViewType(typeof(uint), labels.Count)), keyValues.ToAnnotations());
    }

    public override Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current)
    {
        if (column.Name == scoreColumn)
            return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => v = Vector(TokenClassificationTask.SpaceWords(current()).Select(w => w.Score).ToArray()));
        return (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> v) => v = Vector(TokenClassificationTask.SpaceWords(current()).Select(w => (uint)w.Label + 1).ToArray()));
    }

    private static VBuffer<T> Vector<T>(T[] values) => new(values.Length, values);

    /// <summary>
    /// Entity precision, recall and F1 (conlleval semantics), per type, and token accuracy of the predicted tags of each
    /// row's space-separated words against its space-separated gold tags (BIO).
    /// </summary>
    public override (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source)
    {
        var gold = new List<IReadOnlyList<string>>(rows.Count);
        var predicted = new List<IReadOnlyList<string>>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            string[] tags = (rows[i].Label ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var words = TokenClassificationTask.SpaceWords(predictions[i]).Select(w => w.Tag).ToArray();
            if (tags.Length != words.Length)
                throw new BadInputException($"{source}:{rows[i].Line}: {words.Length} words but {tags.Length} tags");
            foreach (var tag in tags)
                if (!BioTags.TryParse(tag, out _, out _))
                    throw new BadInputException($"{source}:{rows[i].Line}: {TokenClassificationData.BadTagMessage(tag)}");
            gold.Add(tags);
            predicted.Add(words);
        }
        var m = EntityMetrics.Compute(gold, predicted);
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"entity f1 {m.F1:F4}, precision {m.Precision:F4}, recall {m.Recall:F4}, token accuracy {m.TokenAccuracy:F4} ({rows.Count} sentences, {m.GoldEntities} entities)\n\n"));
        text.AppendLine("| type | precision | recall | f1 | support |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var t in m.PerType)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {t.Type} | {t.Precision:F4} | {t.Recall:F4} | {t.F1:F4} | {t.Support} |"));
        return (m.ToJsonObject(), text.ToString().TrimEnd());
    }
}
