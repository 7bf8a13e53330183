using MlNetBert.Data.QuestionAnswering;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class QuestionAnswerTableReaderTests
{
    private static readonly TempDirectory Temp = new();

    [ClassCleanup]
    public static void Cleanup() => Temp.Dispose();

    private const string Header = "Context\tQuestion\tTrainingAnswer\tAnswerIndex\n";

    private static string ErrorOf(string path) =>
        Assert.ThrowsExactly<BadInputException>(() => QuestionAnswerTableReader.Read(new QuestionAnswerTableReadOptions(path))).Message;

    [TestMethod]
    public void MlNetColumns_ReadOneAnswerPerRow_IdIsTheLine()
    {
        string p = Temp.Write("qa.tsv", Header + "Lyon, not Paris, is the city.\tWhich city? \tLyon\t0\n");
        var example = QuestionAnswerTableReader.Read(new QuestionAnswerTableReadOptions(p)).Examples.Single();
        Assert.AreEqual(("line 2", "Which city?", "Lyon, not Paris, is the city."), (example.Id, example.Question, example.Context));
        Assert.AreEqual(new GoldAnswer("Lyon", 0), example.TrainingAnswer);
    }

    [TestMethod]
    public void QuotedCsv_WithCommasInTheContext_IsRead()
    {
        string p = Temp.Write("qa.csv", "Context,Question,TrainingAnswer,AnswerIndex\n\"Lyon, not Paris, is the city.\",Which city?,Paris,10\n");
        Assert.AreEqual(new GoldAnswer("Paris", 10), QuestionAnswerTableReader.Read(new QuestionAnswerTableReadOptions(p)).Examples.Single().TrainingAnswer);
    }

    [TestMethod]
    public void WithoutAnswerColumns_IsDataToPredictOn()
    {
        string p = Temp.Write("predict.tsv", "Context\tQuestion\nLyon is the city.\tWhich city?\n");
        Assert.IsEmpty(QuestionAnswerTableReader.Read(new QuestionAnswerTableReadOptions(p)).Examples.Single().Answers);
    }

    [TestMethod]
    public void AnswerNotAtIndex_NamesTheLine()
    {
        string p = Temp.Write("moved.tsv", Header + "Lyon is the city.\tWhich city?\tLyon\t0\nLyon, not Paris.\tWhich city?\tParis\t0\n");
        Assert.AreEqual($"{p}:3: answer 'Paris' is not at 0: the context there reads 'Lyon,'", ErrorOf(p));
    }

    [TestMethod]
    public void IndexNotANumber_OrOutOfRange_NamesTheLine()
    {
        string p = Temp.Write("nan.tsv", Header + "Lyon is the city.\tWhich city?\tLyon\tfirst\n");
        Assert.AreEqual($"{p}:2: column 'AnswerIndex' value 'first' is not a whole number", ErrorOf(p));
        string p2 = Temp.Write("range.tsv", Header + "Lyon is the city.\tWhich city?\tLyon\t-1\n");
        Assert.AreEqual($"{p2}:2: answer start -1 is outside the context (17 characters)", ErrorOf(p2));
    }

    [TestMethod]
    public void EmptyQuestion_NamesTheLineAndColumn()
    {
        string p = Temp.Write("empty-q.tsv", Header + "Lyon is the city.\t \tLyon\t0\n");
        Assert.AreEqual($"{p}:2: column 'Question' is empty", ErrorOf(p));
    }

    [TestMethod]
    public void MissingColumn_ListsTheColumns()
    {
        string p = Temp.Write("no-context.tsv", "Text\tQuestion\nLyon.\tWhich city?\n");
        Assert.AreEqual($"{p}: no column named 'Context' (columns: Text, Question)", ErrorOf(p));
    }
}
