using System.Globalization;
using MlNetBert.Tokenization;

namespace MlNetBert.Inference;

/// <summary>
/// Extractive question answering (SQuAD v1.1): a question and a context in, the best answer spans of the context out.
/// Graph outputs <c>start_logits</c> and <c>end_logits</c>, [batch, sequence]: a two-output head applied to every
/// position. The first text of a row is the question, the second the context.
/// </summary>
/// <remarks>
/// Hugging Face's <c>run_qa</c> recipe: each input is <c>[CLS] question [SEP] context-window [SEP]</c>; a context
/// longer than one input is cut into windows that share <see cref="ModelCard.DocStride"/> sub-tokens
/// (<see cref="QuestionAnswerEncoding"/>); the answer is searched over all windows at once (<see cref="AnswerSpanSearch"/>:
/// the 20 best starts × 20 best ends per window, spans inside the context of at most
/// <see cref="ModelCard.MaxAnswerLength"/> sub-tokens, score = start + end logit, softmax over the spans kept), and
/// its text is cut from the caller's context by character offsets (<c>End</c> exclusive).
/// </remarks>
public sealed class QuestionAnsweringTask : InferenceTask
{
    /// <summary>The task's name.</summary>
    public const string TaskName = "question-answering";

    /// <summary>Context sub-tokens that consecutive windows share when the card does not say (Hugging Face's default).</summary>
    public const int DefaultDocStride = 128;

    /// <summary>The longest answer in sub-tokens when the card does not say (Hugging Face's default).</summary>
    public const int DefaultMaxAnswerLength = 30;

    /// <summary>Answers per question when the card does not say (ML.NET's <c>QuestionAnswer</c> default).</summary>
    public const int DefaultAnswerCount = 3;

    /// <summary>The shortest maximum length that leaves room for a full question and some context.</summary>
    public const int MinMaxLength = 96;

    private QuestionAnsweringTask()
    {
    }

    /// <summary>The one instance.</summary>
    public static QuestionAnsweringTask Instance { get; } = new();

    public override string Name => TaskName;

    public override string Description => "a question and a context in, the answer spans of the context out";

    public override bool ReadsPair => true;

    public override bool HasLabels => false;

    /// <summary>Served inputs are <c>{"question": "...", "context": "..."}</c>.</summary>
    public override string TextField => "question";

    public override string Text2Field => "context";

    public override bool RequiresText => true;

    public override bool TokenLevel => true;

    /// <summary>Long inputs are read in overlapping windows, never cut.</summary>
    public override bool ReadsWholeText => true;

    public override IReadOnlyList<string> OutputNames { get; } = [ModelFileFormat.StartLogits, ModelFileFormat.EndLogits];

    public override IReadOnlyList<int> OutputWidths(ModelCard card) => [1, 1];

    public override void Validate(ModelCard card, string source)
    {
        base.Validate(card, source);
        if (card.Tokenizer != ModelFileFormat.WordPieceTokenizer)
            throw new BadInputException($"{source}: task '{Name}' needs the '{ModelFileFormat.WordPieceTokenizer}' tokenizer, found '{card.Tokenizer}'");
        if (card.MaxLength < MinMaxLength)
            throw new BadInputException($"{source}: task '{Name}' needs '{ModelFileFormat.MaxLengthKey}' of at least {MinMaxLength}, found {card.MaxLength}");
    }

    /// <summary>How the card's model encodes a question and context: its maximum length and the windows' shared tokens.</summary>
    /// <remarks>
    /// The stride is the card's (default 128), capped at half of what a window holds after the longest question, so a
    /// small maximum length still makes windows that move forward.
    /// </remarks>
    public static QuestionAnswerEncodingOptions EncodingOptions(ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        var options = new QuestionAnswerEncodingOptions { MaxLength = card.MaxLength };
        int perWindow = card.MaxLength - options.MaxQuestionTokens - 3;
        int stride = card.DocStride > 0 ? card.DocStride : DefaultDocStride;
        return options with { Stride = Math.Max(0, Math.Min(stride, perWindow / 2)) };
    }

    /// <summary>How the card's model searches answers: the longest span and how many answers are kept.</summary>
    public static AnswerSearchOptions SearchOptions(ModelCard card, int? topK = null) => new()
    {
        MaxAnswerTokens = card.MaxAnswerLength > 0 ? card.MaxAnswerLength : DefaultMaxAnswerLength,
        TopK = topK ?? (card.AnswerCount > 0 ? card.AnswerCount : DefaultAnswerCount),
    };

    public override Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card) =>
        throw new NotSupportedException($"task '{Name}' decodes all windows of a question at once (DecodeTokens)");

    /// <summary>A question and its context as model inputs, one per window over the context.</summary>
    public sealed record QuestionLayout(QuestionAnswerEncoding Encoding) : TokenLayout(Encoding.Inputs);

    /// <summary>Encodes a question (<paramref name="text"/>) and its context (<paramref name="text2"/>).</summary>
    /// <exception cref="BadInputException">The question or the context is empty (has no tokens).</exception>
    public override TokenLayout Layout(string text, string? text2, BertTextEncoder encoder, ModelCard card) =>
        new QuestionLayout(Encode(new WordPieceAligner(encoder), text, text2, card));

    /// <summary><see cref="QuestionAnswerEncoding.Create"/> with the card's settings; an empty question or context is a <see cref="BadInputException"/>.</summary>
    public static QuestionAnswerEncoding Encode(WordPieceAligner aligner, string question, string? context, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(aligner);
        if (string.IsNullOrWhiteSpace(question))
            throw new BadInputException("the question is empty");
        if (string.IsNullOrWhiteSpace(context))
            throw new BadInputException("the context is empty");
        try
        {
            return QuestionAnswerEncoding.Create(aligner, question, context, EncodingOptions(card));
        }
        catch (ArgumentException ex)
        {
            throw new BadInputException(ex.Message.Split(" (Parameter", 2)[0], ex);
        }
    }

    public override Prediction DecodeTokens(TokenLayout layout, IReadOnlyList<IReadOnlyList<float[]>> outputs, ModelCard card) =>
        new(null, null, null, null) { Answers = Search(layout, outputs, card) };

    /// <summary>
    /// The best answers of one question from its windows' outputs (<see cref="DecodeTokens"/>'s arguments), at most
    /// <paramref name="topK"/> (default: the card's answer count).
    /// </summary>
    public static IReadOnlyList<Answer> Search(TokenLayout layout, IReadOnlyList<IReadOnlyList<float[]>> outputs, ModelCard card, int? topK = null)
    {
        var encoding = ((QuestionLayout)layout).Encoding;
        var starts = outputs.Select(o => (ReadOnlyMemory<float>)o[0]).ToArray();
        var ends = outputs.Select(o => (ReadOnlyMemory<float>)o[1]).ToArray();
        return AnswerSpanSearch.Find(encoding, starts, ends, SearchOptions(card, topK))
            .Select(a => new Answer(a.Text, a.Start, a.End, a.Score))
            .ToArray();
    }

    /// <summary>
    /// The best <paramref name="topK"/> answers to one question, running the inputs through <paramref name="run"/>
    /// (per input, its start and end logits without padding). <see cref="BertOnnxModel.Answer"/> calls this.
    /// </summary>
    public IReadOnlyList<Answer> Answer(string question, string context, int topK, BertTextEncoder encoder, ModelCard card,
        Func<IReadOnlyList<EncodedText>, IReadOnlyList<IReadOnlyList<float[]>>> run)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        ArgumentNullException.ThrowIfNull(run);
        var layout = Layout(question, context, encoder, card);
        return Search(layout, run(layout.Inputs), card, topK);
    }

    public override PredictionOutput ToOutput(Prediction prediction, ModelCard card) => new QuestionAnsweringOutput(prediction.Answers ?? []);

    public override string Describe(Prediction prediction, ModelCard card) =>
        prediction.Answers is { Count: > 0 } answers
            ? string.Join("; ", answers.Select(a => string.Create(CultureInfo.InvariantCulture, $"'{a.Text}' [{a.Start},{a.End}) {a.Score:F4}")))
            : "(no answer)";

    public override IReadOnlyList<string> TableColumns(ModelCard card) => ["answer", "start", "end", "score"];

    /// <summary>The best answer: its text, character offsets (end exclusive) and score; empty cells without an answer.</summary>
    public override IEnumerable<string> TableCells(Prediction prediction, ModelCard card) =>
        prediction.Answers is { Count: > 0 } answers
            ? [answers[0].Text, answers[0].Start.ToString(CultureInfo.InvariantCulture), answers[0].End.ToString(CultureInfo.InvariantCulture),
                answers[0].Score.ToString("F4", CultureInfo.InvariantCulture)]
            : ["", "", "", ""];
}
