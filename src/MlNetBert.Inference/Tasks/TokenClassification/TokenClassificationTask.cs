using System.Globalization;
using MlNetBert.Tokenization;

namespace MlNetBert.Inference;

/// <summary>
/// Token classification (named entities): one text in, a BIO tag per word and the entities they make out. Graph output
/// <c>logits</c>, [batch, sequence, labels]: the classifier applied to every position.
/// </summary>
/// <remarks>
/// A text is split into words (<see cref="TextWords"/>), each word into WordPiece sub-tokens; a word's tag is read at
/// its first sub-token, as it was trained. A text longer than the model's maximum length is cut into overlapping
/// windows that share half their tokens (<see cref="Stride"/>), and each word is read from the window where it has the
/// most context on both sides (<see cref="WordWindows"/>), so no word is cut off.
/// </remarks>
public sealed class TokenClassificationTask : InferenceTask
{
    /// <summary>The task's name.</summary>
    public const string TaskName = "token-classification";

    private TokenClassificationTask()
    {
    }

    /// <summary>The one instance.</summary>
    public static TokenClassificationTask Instance { get; } = new();

    public override string Name => TaskName;

    public override string Description => "one text in, a BIO tag per word and its entities out";

    public override bool ReadsPair => false;

    public override bool HasLabels => true;

    public override bool TokenLevel => true;

    /// <summary>Long inputs are read in overlapping windows, never cut.</summary>
    public override bool ReadsWholeText => true;

    public override IReadOnlyList<string> OutputNames { get; } = [ModelFileFormat.Logits];

    public override IReadOnlyList<int> OutputWidths(ModelCard card) => [card.Labels.Count];

    /// <summary>
    /// Sub-tokens shared by consecutive windows over a long text: half a window, so every word but those at the text's
    /// two ends is read with at least a quarter window of context on each side. Training windows use the same rule.
    /// </summary>
    public static int Stride(int maxLength) => Math.Max(0, (maxLength - 2) / 2);

    public override void Validate(ModelCard card, string source)
    {
        base.Validate(card, source);
        if (card.Tokenizer != ModelFileFormat.WordPieceTokenizer)
            throw new BadInputException($"{source}: task '{Name}' needs the '{ModelFileFormat.WordPieceTokenizer}' tokenizer, found '{card.Tokenizer}'");
        foreach (var label in card.Labels)
            if (!BioTags.TryParse(label, out _, out _))
                throw new BadInputException($"{source}: label '{label}' in '{ModelFileFormat.LabelsKey}' is not O, B-TYPE or I-TYPE");
    }

    public override Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card) =>
        throw new NotSupportedException($"task '{Name}' decodes a whole text's windows at once (DecodeTokens)");

    /// <summary>The words of one text and the windows its sub-tokens are read in.</summary>
    /// <param name="Text">The input text, which entity offsets point into.</param>
    /// <param name="Words">Its words (<see cref="TextWords.Split"/>).</param>
    /// <param name="Windows">The model inputs and, for each word, where its first sub-token is read.</param>
    public sealed record WordLayout(string Text, IReadOnlyList<TextWord> Words, WordWindows Windows) : TokenLayout(Windows.Inputs);

    public override TokenLayout Layout(string text, string? text2, BertTextEncoder encoder, ModelCard card)
    {
        var words = TextWords.Split(text);
        var aligner = new WordPieceAligner(encoder);
        var alignment = aligner.AlignWords(words.Select(w => w.Text).ToArray());
        return new WordLayout(text, words, WordWindows.Create(alignment, card.MaxLength, Stride(card.MaxLength), aligner.ClsId, aligner.SepId));
    }

    public override Prediction DecodeTokens(TokenLayout layout, IReadOnlyList<IReadOnlyList<float[]>> outputs, ModelCard card)
    {
        var l = (WordLayout)layout;
        int labels = card.Labels.Count;
        var words = new WordPrediction[l.Words.Count];
        for (int i = 0; i < words.Length; i++)
        {
            int position = l.Windows.WordPosition[i];
            var probabilities = Scores.Softmax(outputs[l.Windows.WordWindow[i]][0].AsSpan(position * labels, labels));
            int best = Scores.ArgMax(probabilities);
            var w = l.Words[i];
            words[i] = new WordPrediction(w.Text, w.Start, w.End, card.Labels[best], best, probabilities[best], w.StartsSpaceWord);
        }
        return new Prediction(null, null, null, null) { Words = words, Entities = Entities(l.Text, words) };
    }

    /// <summary>The entities that the words' tags make (conlleval's reading, <see cref="BioTags.Spans"/>), cut from <paramref name="text"/> by offsets.</summary>
    public static IReadOnlyList<Entity> Entities(string text, IReadOnlyList<WordPrediction> words)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(words);
        return BioTags.Spans(words.Select(w => w.Tag).ToArray()).Select(span =>
        {
            int start = words[span.Start].Start, end = words[span.End - 1].End;
            float score = 0;
            for (int i = span.Start; i < span.End; i++)
                score += words[i].Score;
            return new Entity(span.Type, text[start..end], start, end, score / (span.End - span.Start));
        }).ToArray();
    }

    public override PredictionOutput ToOutput(Prediction prediction, ModelCard card) => new TokenClassificationOutput(prediction.Entities ?? []);

    public override string Describe(Prediction prediction, ModelCard card) =>
        prediction.Entities is { Count: > 0 } entities
            ? string.Join("; ", entities.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Type} '{e.Text}' [{e.Start},{e.End}) {e.Score:F4}")))
            : "(no entities)";

    public override IReadOnlyList<string> TableColumns(ModelCard card) => ["entities", "tags"];

    /// <summary>Entities as <c>TYPE:text</c> joined by " | ", and one tag per whitespace-separated word of the input.</summary>
    public override IEnumerable<string> TableCells(Prediction prediction, ModelCard card) =>
    [
        string.Join(" | ", (prediction.Entities ?? []).Select(e => $"{e.Type}:{e.Text}")),
        string.Join(' ', SpaceWordTags(prediction)),
    ];

    /// <summary>
    /// One tag per whitespace-separated word of the input (ML.NET's NER convention, and labelled files): each such
    /// word takes the tag of its first word. Splitting off punctuation never changes that word's first sub-token, so
    /// this is the tag the model gives the space-separated word itself.
    /// </summary>
    public static IEnumerable<WordPrediction> SpaceWords(Prediction prediction) => (prediction.Words ?? []).Where(w => w.StartsSpaceWord);

    private static IEnumerable<string> SpaceWordTags(Prediction prediction) => SpaceWords(prediction).Select(w => w.Tag);
}
