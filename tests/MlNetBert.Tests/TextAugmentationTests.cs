using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Training;

namespace MlNetBert.Tests;

/// <summary>Augmentation by neighbours in minilm-l6's word-embedding space, on real SST-2 rows.</summary>
[TestClass]
public sealed class TextAugmentationTests
{
    private static Checkpoint MiniLm() => new CheckpointStore().Resolve("minilm-l6");

    [TestMethod]
    public void Neighbours_AreOtherWholeWordsOfTheVocabulary_NearestFirst()
    {
        var augmenter = TextAugmentation.Create(MiniLm(), ["The movie was good , and 2019 was ##ing"], neighbours: 10);
        var movie = augmenter.NeighboursOf("movie");
        Console.WriteLine("movie: " + string.Join(", ", movie));
        Console.WriteLine("good: " + string.Join(", ", augmenter.NeighboursOf("good")));
        Assert.AreEqual(10, movie.Count);
        CollectionAssert.DoesNotContain(movie.ToList(), "movie", "a word is not its own neighbour");
        Assert.IsTrue(movie.All(w => w.Length >= 2 && w.All(char.IsLetter)), "only whole words: " + string.Join(", ", movie));
        CollectionAssert.Contains(movie.ToList(), "movies");
        Assert.AreEqual(movie.Count, augmenter.NeighboursOf("Movie").Count, "looked up lower-cased, as the checkpoint is uncased");
        Assert.AreEqual(0, augmenter.NeighboursOf(",").Count, "punctuation is not replaced");
        Assert.AreEqual(0, augmenter.NeighboursOf("2019").Count, "numbers are not replaced");
        Assert.AreEqual(0, augmenter.NeighboursOf("film").Count, "only words of the given texts are looked up");
    }

    [TestMethod]
    public void WriteTsv_OnSst2_ReplacesTheAskedShare_NeverRepeatsASource_AndIsReproducible()
    {
        var data = TabularReader.Read(new TabularReadOptions(TestData.Require("sst2/train.tsv")) { MaxRows = 300, Seed = 42, LabelKind = LabelKind.None });
        var checkpoint = MiniLm();
        string dir = Directory.CreateTempSubdirectory("augment-").FullName;
        try
        {
            var options = new AugmentationOptions(Copies: 2, ReplaceProbability: 0.3, MinWords: 5, Seed: 7);
            var first = TextAugmentation.WriteTsv(data, Path.Combine(dir, "a.tsv"), checkpoint, options);
            var again = TextAugmentation.WriteTsv(data, Path.Combine(dir, "b.tsv"), checkpoint, options);
            var other = TextAugmentation.WriteTsv(data, Path.Combine(dir, "c.tsv"), checkpoint, options with { Seed = 8 });

            int eligible = data.Rows.Count(r => r.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 5);
            Assert.AreEqual(300, first.SourceRows);
            Assert.AreEqual(eligible, first.AugmentedRows);
            string[] lines = File.ReadAllLines(first.Path);
            Assert.AreEqual("sentence", lines[0], "the input's text column name as header, no label column");
            Assert.AreEqual(first.Written, lines.Length - 1);
            Assert.IsTrue(first.Written >= 1.6 * eligible, $"{first.Written} texts from {eligible} rows x 2 copies (copies without a replacement and duplicates dropped)");
            Assert.AreEqual(0.3, first.ReplacedShare, 0.05, "share of replaceable words replaced");

            var sources = data.Rows.Select(r => string.Join(' ', r.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToHashSet();
            Assert.IsFalse(lines.Skip(1).Any(sources.Contains), "no written text equals a training text");
            Assert.AreEqual(lines.Length - 1, lines.Skip(1).Distinct().Count(), "no text is written twice");

            CollectionAssert.AreEqual(File.ReadAllBytes(first.Path), File.ReadAllBytes(again.Path), "same seed, same file");
            CollectionAssert.AreNotEqual(File.ReadAllBytes(first.Path), File.ReadAllBytes(other.Path), "another seed, other texts");
            Assert.AreEqual(0, Directory.GetFiles(dir, "*.tmp").Length, "no temporary file left");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Options_OutOfRange_AreRefusedByName()
    {
        Assert.AreEqual("Copies (--copies) must be at least 1, not 0",
            Assert.ThrowsExactly<BadInputException>(() => new AugmentationOptions(Copies: 0).Validate()).Message);
        Assert.AreEqual("ReplaceProbability (--replace) must be in (0, 1], not 0",
            Assert.ThrowsExactly<BadInputException>(() => new AugmentationOptions(ReplaceProbability: 0).Validate()).Message);
        Assert.AreEqual("MinWords (--min-words) must be at least 1, not 0",
            Assert.ThrowsExactly<BadInputException>(() => new AugmentationOptions(MinWords: 0).Validate()).Message);
    }
}
