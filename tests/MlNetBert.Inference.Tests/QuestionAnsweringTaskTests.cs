using System.Text;
using System.Text.Json;
using MlNetBert.Tokenization;

namespace MlNetBert.Inference.Tests;

/// <summary>The question-answering task's card keys, window settings, input checks and decoding, with a small vocabulary and hand-made logits.</summary>
[TestClass]
public sealed class QuestionAnsweringTaskTests
{
    private static readonly BertTextEncoder Encoder = BertTextEncoder.FromVocab(
        new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "built", "the", "bridge", "?", "ada", "lee", "in", "1901", ".", "it"))),
        lowerCase: true);

    private static ModelCard Card(int maxLength = 384, int answers = 0) =>
        new() { Task = QuestionAnsweringTask.TaskName, MaxLength = maxLength, DocStride = 128, MaxAnswerLength = 30, AnswerCount = answers };

    [TestMethod]
    public void CardKeys_RoundTrip_AndOnlyQuestionAnsweringCardsCarryThem()
    {
        var card = Card() with { DocStride = 100, MaxAnswerLength = 20, AnswerCount = 5 };
        var map = card.ToMetadata();
        Assert.AreEqual("100", map[ModelFileFormat.DocStrideKey]);
        Assert.AreEqual("20", map[ModelFileFormat.MaxAnswerLengthKey]);
        Assert.AreEqual("5", map[ModelFileFormat.AnswerCountKey]);
        var read = ModelCard.FromMetadata(map, "test");
        Assert.AreEqual((100, 20, 5), (read.DocStride, read.MaxAnswerLength, read.AnswerCount));
        var other = new ModelCard { Task = ClassificationTask.TextName, Labels = ["a", "b"] }.ToMetadata();
        Assert.IsFalse(other.Keys.Any(k => k is ModelFileFormat.DocStrideKey or ModelFileFormat.MaxAnswerLengthKey or ModelFileFormat.AnswerCountKey));
        map[ModelFileFormat.DocStrideKey] = "-3";
        var ex = Assert.ThrowsExactly<BadInputException>(() => ModelCard.FromMetadata(map, "m.onnx"));
        Assert.AreEqual("m.onnx: 'mlnetbert.doc_stride' is '-3' (expected a whole number of at least 1)", ex.Message);
    }

    [TestMethod]
    public void Card_NeedsRoomForAQuestionAndContext()
    {
        var map = Card(maxLength: 64).ToMetadata();
        var ex = Assert.ThrowsExactly<BadInputException>(() => ModelCard.FromMetadata(map, "m.onnx"));
        Assert.AreEqual("m.onnx: task 'question-answering' needs 'mlnetbert.max_length' of at least 96, found 64", ex.Message);
    }

    [TestMethod]
    public void Stride_IsTheCards_CappedAtHalfAWindowAfterTheLongestQuestion()
    {
        Assert.AreEqual(128, QuestionAnsweringTask.EncodingOptions(Card()).Stride);
        Assert.AreEqual((128 - 64 - 3) / 2, QuestionAnsweringTask.EncodingOptions(Card(maxLength: 128)).Stride);
        Assert.AreEqual(128, QuestionAnsweringTask.EncodingOptions(Card() with { DocStride = 0 }).Stride, "absent: Hugging Face's 128");
    }

    [TestMethod]
    public void EmptyQuestionOrContext_IsBadInput()
    {
        var task = QuestionAnsweringTask.Instance;
        Assert.AreEqual("the question is empty", Assert.ThrowsExactly<BadInputException>(() => task.Layout(" ", "It is.", Encoder, Card())).Message);
        Assert.AreEqual("the context is empty", Assert.ThrowsExactly<BadInputException>(() => task.Layout("Who?", "\t", Encoder, Card())).Message);
    }

    [TestMethod]
    public void OneTokenAnswer_DecodesWhole_CutFromTheContext_AndTheJsonHasTheAnswersShape()
    {
        const string context = "The bridge, in 1901: Ada Lee built it.";
        var task = QuestionAnsweringTask.Instance;
        var layout = (QuestionAnsweringTask.QuestionLayout)task.Layout("Who built the bridge?", context, Encoder, Card(answers: 2));
        var input = layout.Inputs.Single();
        // Peak both logits on the context token "1901" (a one-token answer); "Ada" and "Lee" get smaller peaks.
        int offset = layout.Encoding.ContextOffset;
        int year = Array.FindIndex(layout.Encoding.ContextTokens, t => context[t.Span.Start..t.Span.End] == "1901");
        int ada = Array.FindIndex(layout.Encoding.ContextTokens, t => context[t.Span.Start..t.Span.End] == "Ada");
        var start = new float[input.Length];
        var end = new float[input.Length];
        start[offset + year] = 8;
        end[offset + year] = 8;
        start[offset + ada] = 6;
        end[offset + ada + 1] = 6;
        var prediction = task.DecodeTokens(layout, [[start, end]], Card(answers: 2));
        var answers = prediction.Answers!;
        Assert.HasCount(2, answers, "the card's answer count");
        Assert.AreEqual(new Answer("1901", 15, 19, answers[0].Score), answers[0]);
        // Second best: start at "1901" (8) + end at "Lee" (6) beats "Ada Lee" (6 + 6); cut from the context with its punctuation.
        Assert.AreEqual("1901: Ada Lee", answers[1].Text);
        Assert.AreEqual(context[answers[1].Start..answers[1].End], answers[1].Text);
        Assert.IsTrue(answers[0].Score > answers[1].Score && answers[0].Score < 1);
        string json = JsonSerializer.Serialize(task.ToOutput(prediction, Card()), InferenceTask.OutputJson);
        StringAssert.StartsWith(json, "{\"answers\":[{\"text\":\"1901\",\"start\":15,\"end\":19,\"score\":");
        CollectionAssert.AreEqual(new[] { "1901", "15", "19" }, task.TableCells(prediction, Card()).Take(3).ToArray());
    }
}
