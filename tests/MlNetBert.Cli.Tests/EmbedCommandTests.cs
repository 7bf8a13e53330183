namespace MlNetBert.Cli.Tests;

[TestClass]
public sealed class EmbedCommandTests
{
    [TestMethod]
    public void Embed_ParaphrasesAreCloserThanUnrelatedSentences()
    {
        var r = CliProcess.Run("embed", "--text", "A man is playing a guitar.", "--text", "Someone plays music.", "--text", "The stock market fell sharply.");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        double Cos(string pair) => double.Parse(r.Stdout.Split('\n').Single(l => l.StartsWith($"cosine({pair})", StringComparison.Ordinal)).Split('=')[1],
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(Cos("[0], [1]") > 0.5, r.Stdout);
        Assert.IsTrue(Cos("[0], [2]") < 0.2, r.Stdout);
    }

    [TestMethod]
    public void MissingRequiredOption_ExitsWithTwo()
    {
        var r = CliProcess.Run("embed");
        Assert.AreEqual(2, r.ExitCode);
        StringAssert.Contains(r.Stderr, "Option '--text' is required");
    }

    [TestMethod]
    public void UnknownCheckpoint_ExitsWithTwoAndNamesIt()
    {
        var r = CliProcess.Run("embed", "--text", "hi", "--model", "no-such-model");
        Assert.AreEqual(2, r.ExitCode);
        StringAssert.Contains(r.Stderr, "error: checkpoint 'no-such-model' is neither a built-in name");
    }
}
