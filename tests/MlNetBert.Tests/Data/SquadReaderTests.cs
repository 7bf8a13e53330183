using MlNetBert.Data.QuestionAnswering;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class SquadReaderTests
{
    private static readonly TempDirectory Temp = new();

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private static string Squad(string qas, string context = "Lyon, not Paris, is the city.") =>
        $$"""{"data": [{"title": "T", "paragraphs": [{"context": "{{context}}", "qas": [{{qas}}]}]}], "version": "1.1"}""";

    private static string ErrorOf(string name, string json)
    {
        string p = Temp.Write(name, json);
        return Assert.ThrowsExactly<BadInputException>(() => SquadReader.Read(p)).Message;
    }

    [TestMethod]
    public void Part1_Has5696QuestionsAnd18389Answers_OverAllParagraphs()
    {
        var data = SquadReader.Read(TestData.Require("squad/dev-v1.1.part1.json"));
        Assert.HasCount(5_696, data.Examples);
        Assert.AreEqual(18_389, data.Examples.Sum(e => e.Answers.Count));
        Assert.AreEqual(1_048, data.Examples.Select(e => e.Context).Distinct().Count());
        var first = data.Examples[0];
        Assert.AreEqual(("56be4db0acb8001400a502ec", "Which NFL team represented the AFC at Super Bowl 50?"), (first.Id, first.Question));
        Assert.AreEqual(new GoldAnswer("Denver Broncos", 177), first.TrainingAnswer);
        AssertEveryAnswerIsAtItsOffset(data);
    }

    [TestMethod]
    public void Part2_Has4874QuestionsAnd16337Answers_OverAllParagraphs()
    {
        var data = SquadReader.Read(TestData.Require("squad/dev-v1.1.part2.json"));
        Assert.HasCount(4_874, data.Examples);
        Assert.AreEqual(16_337, data.Examples.Sum(e => e.Answers.Count));
        Assert.AreEqual(1_019, data.Examples.Select(e => e.Context).Distinct().Count());
        Assert.AreEqual(new GoldAnswer("The Walt Disney Company", 236), data.Examples[0].TrainingAnswer);
        AssertEveryAnswerIsAtItsOffset(data);
    }

    private static void AssertEveryAnswerIsAtItsOffset(QuestionAnswerData data)
    {
        foreach (var e in data.Examples)
        {
            // Questions are trimmed (part 1 has 241 with stray whitespace, part 2 has 103); contexts are not touched.
            Assert.AreEqual(e.Question.Trim(), e.Question);
            foreach (var a in e.Answers)
                Assert.AreEqual(a.Text, e.Context.Substring(a.Start, a.Text.Length), e.Id);
        }
    }

    [TestMethod]
    public void HandWritten_KeepsEveryAnswer_AndTrainsOnTheFirst()
    {
        string p = Temp.Write("ok.json", Squad("""{"answers": [{"answer_start": 0, "text": "Lyon"}, {"answer_start": 0, "text": "Lyon,"}], "question": "  Which city? ", "id": "q1"}"""));
        var example = SquadReader.Read(p).Examples.Single();
        Assert.AreEqual(("q1", "Which city?"), (example.Id, example.Question));
        CollectionAssert.AreEqual(new[] { new GoldAnswer("Lyon", 0), new GoldAnswer("Lyon,", 0) }, example.Answers.ToArray());
        Assert.AreEqual(new GoldAnswer("Lyon", 0), example.TrainingAnswer);
    }

    [TestMethod]
    public void AnswerNotAtItsOffset_NamesTheQuestionId()
    {
        string json = Squad("""{"answers": [{"answer_start": 0, "text": "Paris"}], "question": "Which city?", "id": "q1"}""");
        string p = Path.Combine(Temp.Path, "moved.json");
        Assert.AreEqual($"{p}: question q1: answer 'Paris' is not at 0: the context there reads 'Lyon,'", ErrorOf("moved.json", json));
    }

    [TestMethod]
    public void AnswerOffsetOutOfRange_NamesTheQuestionId()
    {
        string json = Squad("""{"answers": [{"answer_start": 99, "text": "Paris"}], "question": "Which city?", "id": "q2"}""");
        string p = Path.Combine(Temp.Path, "range.json");
        Assert.AreEqual($"{p}: question q2: answer start 99 is outside the context (29 characters)", ErrorOf("range.json", json));
        string past = Squad("""{"answers": [{"answer_start": 24, "text": "city. And more"}], "question": "Which city?", "id": "q3"}""");
        string p2 = Path.Combine(Temp.Path, "past.json");
        Assert.AreEqual($"{p2}: question q3: answer 'city. And more' at 24 runs past the end of the context (29 characters)", ErrorOf("past.json", past));
    }

    [TestMethod]
    public void EmptyQuestionOrContext_NamesTheQuestionId()
    {
        string p = Path.Combine(Temp.Path, "empty-question.json");
        Assert.AreEqual(
            $"{p}: question q1: the question is empty",
            ErrorOf("empty-question.json", Squad("""{"answers": [{"answer_start": 0, "text": "Lyon"}], "question": "   ", "id": "q1"}""")));
        string p2 = Path.Combine(Temp.Path, "empty-context.json");
        Assert.AreEqual(
            $"{p2}: question q1: the context is empty",
            ErrorOf("empty-context.json", Squad("""{"answers": [], "question": "Which city?", "id": "q1"}""", context: " ")));
    }

    [TestMethod]
    public void NoAnswers_IsSquad2_AndRejected()
    {
        string p = Path.Combine(Temp.Path, "unanswerable.json");
        Assert.AreEqual(
            $"{p}: question q1: no answers (SQuAD 2.0 unanswerable questions are not supported)",
            ErrorOf("unanswerable.json", Squad("""{"answers": [], "question": "Which city?", "id": "q1"}""")));
    }

    [TestMethod]
    public void JsonThatIsNotSquadShaped_SaysWhatWasExpectedWhere()
    {
        string p = Path.Combine(Temp.Path, "array.json");
        Assert.AreEqual($"{p}: not SQuAD JSON: expected an object with a \"data\" array of articles", ErrorOf("array.json", "[1, 2]"));
        string p2 = Path.Combine(Temp.Path, "no-qas.json");
        Assert.AreEqual(
            $"{p2}: data[0].paragraphs[0]: not SQuAD JSON: expected \"qas\" to be an array",
            ErrorOf("no-qas.json", """{"data": [{"paragraphs": [{"context": "x"}]}]}"""));
        string p3 = Path.Combine(Temp.Path, "start-string.json");
        Assert.AreEqual(
            $"{p3}: data[0].paragraphs[0].qas[0].answers[0]: not SQuAD JSON: expected \"answer_start\" to be an integer",
            ErrorOf("start-string.json", Squad("""{"answers": [{"answer_start": "0", "text": "Lyon"}], "question": "Which city?", "id": "q1"}""")));
    }

    [TestMethod]
    public void InvalidJson_NamesTheLine()
    {
        string message = ErrorOf("broken.json", "{\"data\": [\n{\"title\": }");
        StringAssert.StartsWith(message, $"{Path.Combine(Temp.Path, "broken.json")}:2: invalid JSON");
    }
}
