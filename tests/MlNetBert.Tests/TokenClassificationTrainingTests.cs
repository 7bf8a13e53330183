using Microsoft.ML;
using MlNetBert.Data.TokenClassification;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Training;

namespace MlNetBert.Tests;

public sealed class NerRow
{
    /// <summary>Space-separated words (ML.NET's NER convention).</summary>
    public string Words { get; set; } = "";

    public string[] Tags { get; set; } = [];
}

/// <summary>The same rows with the words as a <c>string[]</c> column.</summary>
public sealed class NerWordsRow
{
    public string[] Words { get; set; } = [];

    public string[] Tags { get; set; } = [];
}

public sealed class NerPrediction
{
    public string[] PredictedLabel { get; set; } = [];
    public float[] Score { get; set; } = [];
}

/// <summary>
/// Fine-tunes minilm-l6 once on 1,000 real CoNLL-2003 training sentences (a seeded sample, one epoch of 126 steps at
/// batch 8 and learning rate 2e-4, max length 64; about 5.5 minutes on 2 shared cores under a load of 8-10)
/// through the ML.NET pipeline users write, and checks it on the first 300 sentences of eng.testa (dev), which
/// training never sees: entity F1, the first word's label, long sentences, Save/Load, and the ONNX export.
/// </summary>
[TestClass]
public sealed class TokenClassificationTrainingTests
{
    private const int MaxLength = 64;
    private static MLContext _ml = null!;
    private static ITransformer _model = null!;
    private static BertTransformer _bert = null!;
    private static List<TaggedSentence> _dev = null!;
    private static List<NerRow> _devRows = null!;

    private static NerRow Row(TaggedSentence s) => new() { Words = string.Join(' ', s.Words), Tags = s.Tags };

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        var all = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.train"))).Sentences.ToArray();
        new Random(42).Shuffle(all);
        var train = all.Take(1000).Select(Row).ToList();
        _dev = ConllReader.Read(new ConllReadOptions(TestData.Require("conll2003/eng.testa"))).Sentences.Take(300).ToList();
        _devRows = _dev.Select(Row).ToList();
        var options = new BertTrainingOptions
        {
            TextColumnName = nameof(NerRow.Words),
            LabelColumnName = nameof(NerRow.Tags),
            Epochs = 1,
            BatchSize = 8,
            LearningRate = 2e-4,
            MaxSequenceLength = MaxLength,
            Seed = 7,
        };
        var pipeline = _ml.Transforms.Conversion.MapValueToKey(nameof(NerRow.Tags))
            .Append(_ml.MulticlassClassification.Trainers.BertNamedEntityRecognition(options))
            .Append(_ml.Transforms.Conversion.MapKeyToValue(nameof(NerPrediction.PredictedLabel)));
        _model = pipeline.Fit(_ml.Data.LoadFromEnumerable(train));
        _bert = ((IEnumerable<ITransformer>)_model).OfType<BertTransformer>().Single();
    }

    [ClassCleanup]
    public static void Cleanup() => _bert?.Dispose();

    private static List<NerPrediction> Predict(ITransformer model, MLContext ml, IEnumerable<NerRow> rows) =>
        ml.Data.CreateEnumerable<NerPrediction>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();

    [TestMethod]
    public void FineTuned_ReachesEntityF1Bar_OnConll2003Dev()
    {
        var predicted = Predict(_model, _ml, _devRows);
        var m = EntityMetrics.Compute(_dev.Select(s => (IReadOnlyList<string>)s.Tags).ToList(), predicted.Select(p => (IReadOnlyList<string>)p.PredictedLabel).ToList());
        var history = _bert.Model.History!;
        Console.WriteLine($"CoNLL-2003 dev (300 sentences, {m.GoldEntities} entities): F1 {m.F1:F3}, precision {m.Precision:F3}, recall {m.Recall:F3}, token accuracy {m.TokenAccuracy:F3}; "
            + $"{history.Steps.Count} steps, {history.SamplesPerSecond:F1} windows/s");
        foreach (var t in m.PerType)
            Console.WriteLine($"  {t.Type}: F1 {t.F1:F3} ({t.Support})");
        // Measured 0.676 (precision 0.646, recall 0.710; PER 0.81, LOC 0.67, ORG 0.67, MISC 0.25) after these 126
        // steps, see docs/benchmarks.md; the bar sits a few points below.
        Assert.IsTrue(m.F1 >= 0.62, $"entity F1 {m.F1:F3} is below the 0.62 bar");
    }

    [TestMethod]
    public void PredictedLabel_HasOneTagPerWord_AndScoresAreProbabilities()
    {
        var predicted = Predict(_model, _ml, _devRows);
        for (int i = 0; i < _dev.Count; i++)
        {
            Assert.HasCount(_dev[i].Words.Length, predicted[i].PredictedLabel, $"sentence {i}");
            Assert.HasCount(_dev[i].Words.Length, predicted[i].Score, $"sentence {i}");
            foreach (var tag in predicted[i].PredictedLabel)
                CollectionAssert.Contains(_bert.Model.Card.Labels.ToArray(), tag);
            foreach (var score in predicted[i].Score)
                Assert.IsTrue(score > 0 && score <= 1, $"score {score}");
        }
    }

    /// <summary>A <c>string[]</c> words column is read as the words joined by spaces: the same tags; a word with a space in it is refused.</summary>
    [TestMethod]
    public void WordsAsStringArray_GiveTheSameTags_AndAWordWithASpaceIsRefused()
    {
        var rows = _dev.Take(40).ToList();
        var asText = Predict(_model, _ml, rows.Select(Row));
        var asWords = _ml.Data.CreateEnumerable<NerPrediction>(
            _model.Transform(_ml.Data.LoadFromEnumerable(rows.Select(s => new NerWordsRow { Words = s.Words, Tags = s.Tags }))), reuseRowObject: false).ToList();
        for (int i = 0; i < rows.Count; i++)
            CollectionAssert.AreEqual(asText[i].PredictedLabel, asWords[i].PredictedLabel, $"sentence {i}");

        var bad = _ml.Data.LoadFromEnumerable(new[] { new NerWordsRow { Words = ["New York", "is", "big"], Tags = ["B-LOC", "O", "O"] } });
        // ML.NET's parallel cursors wrap what a getter throws (InvalidOperationException, "Splitter/consolidator worker
        // encountered exception"); the cause is ours, with the column, row and word.
        var thrown = Assert.Throws<Exception>(() => _ml.Data.CreateEnumerable<NerPrediction>(_model.Transform(bad), reuseRowObject: false).ToList());
        var ex = thrown as BadInputException ?? thrown.GetBaseException() as BadInputException;
        Assert.IsNotNull(ex, thrown.ToString());
        Assert.AreEqual("column 'Words', row 1: word 1 ('New York') is empty or contains white space; a words column holds one word per item", ex.Message);
    }

    /// <summary>ML.NET's own NER reads predictions one position off, so users see the first word's label empty: not here.</summary>
    [TestMethod]
    public void FirstWord_GetsItsOwnLabel()
    {
        var predicted = Predict(_model, _ml, _devRows);
        int entityFirst = 0, right = 0;
        for (int i = 0; i < _dev.Count; i++)
        {
            Assert.IsFalse(string.IsNullOrEmpty(predicted[i].PredictedLabel[0]), $"sentence {i}: the first word has no label");
            if (_dev[i].Tags[0] == "O")
                continue;
            entityFirst++;
            if (predicted[i].PredictedLabel[0] == _dev[i].Tags[0])
                right++;
        }
        // Measured: 126 of 154 right.
        Console.WriteLine($"first word is an entity in {entityFirst} sentences; its tag predicted right in {right}");
        Assert.IsTrue(entityFirst >= 30, $"only {entityFirst} sentences start with an entity");
        Assert.IsTrue(right >= 0.5 * entityFirst, $"first word right in {right} of {entityFirst}: an off-by-one would get almost none");
    }

    /// <summary>An entity after some 400 sub-tokens of other words is tagged as in its short sentence (windows, not truncation).</summary>
    [TestMethod]
    public void LongSentence_GetsATagForEveryWord_AndALateEntityAsInItsShortSentence()
    {
        const string sentence = "Chancellor Helmut Kohl met Boris Yeltsin in Moscow on Tuesday .";
        var filler = string.Join(' ', Enumerable.Repeat("the talks went on for many hours and nothing was agreed", 40));
        string longText = filler + " " + sentence;
        var aligner = new Tokenization.WordPieceAligner(_bert.Model.Encoder);
        Assert.IsTrue(aligner.AlignWords(filler.Split(' ')).Ids.Length >= 400, "the entity sits after at least 400 sub-tokens");

        var predicted = Predict(_model, _ml, [new NerRow { Words = longText }, new NerRow { Words = sentence }]);
        int words = longText.Split(' ').Length, tail = sentence.Split(' ').Length;
        Assert.HasCount(words, predicted[0].PredictedLabel);
        var late = predicted[0].PredictedLabel[^tail..];
        Console.WriteLine($"short: {string.Join(' ', predicted[1].PredictedLabel)}\nlong:  {string.Join(' ', late)}");
        CollectionAssert.AreEqual(predicted[1].PredictedLabel, late);
        Assert.IsTrue(late.Count(t => t != "O") >= 4, "the sentence's people and places are found");
    }

    [TestMethod]
    public void MlNetModelSaveThenLoad_InAFreshContext_GivesIdenticalPredictions()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.zip");
        try
        {
            var schema = _ml.Data.LoadFromEnumerable(_devRows).Schema;
            _ml.Model.Save(_model, schema, path);
            var fresh = new MLContext(seed: 5);
            var loaded = fresh.Model.Load(path, out _);
            var before = Predict(_model, _ml, _devRows);
            var after = Predict(loaded, fresh, _devRows);
            for (int i = 0; i < before.Count; i++)
            {
                CollectionAssert.AreEqual(before[i].PredictedLabel, after[i].PredictedLabel);
                CollectionAssert.AreEqual(before[i].Score, after[i].Score, "bit-identical scores after Model.Save/Load");
            }
            foreach (var disposable in ((IEnumerable<ITransformer>)loaded).OfType<IDisposable>())
                disposable.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Export_MatchesTorchSharpLogits_AndOnnxEntitiesEqualTorchSharps_OnConllDev()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string onnx = Path.Combine(dir, "model.onnx");
            var checkRows = _devRows.Take(100).Select(r => (r.Words, (string?)null)).ToList();
            var report = TrainedModelExport.Export(_bert.Model, onnx, checkRows);
            Console.WriteLine(report);
            Assert.IsTrue(report.MaxAbsDifference <= 1e-4, report.ToString());
            Assert.AreEqual(1.0, report.ArgmaxAgreement, "every token's tag is the same");

            using var file = BertOnnxModel.Load(onnx);
            Assert.AreEqual(TokenClassificationTask.TaskName, file.Task);
            CollectionAssert.AreEqual(_bert.Model.Card.Labels.ToArray(), file.Labels.ToArray());
            // Dev sentences as raw text, plus a long one that needs windows at max length 64.
            var texts = _devRows.Select(r => r.Words).Append(string.Join(' ', _devRows.Take(12).Select(r => r.Words))).ToList();
            var expected = _bert.Model.PredictBatch(texts);
            var actual = file.PredictBatch(texts);
            for (int i = 0; i < texts.Count; i++)
            {
                CollectionAssert.AreEqual(expected[i].Entities!.Select(e => (e.Type, e.Start, e.End, e.Text)).ToArray(),
                    actual[i].Entities!.Select(e => (e.Type, e.Start, e.End, e.Text)).ToArray(), $"text {i}");
                for (int e = 0; e < expected[i].Entities!.Count; e++)
                    Assert.AreEqual(expected[i].Entities![e].Score, actual[i].Entities![e].Score, 1e-4);
            }
            Assert.IsTrue(expected.Sum(p => p.Entities!.Count) > 200, "the comparison covers many entities");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // The int8 export (weights int8, activations quantized at run time) keeps at least 98% of token tags at export
    // (its rule) and entity F1 on the 300 dev sentences within 0.03 of float32's.
    [TestMethod]
    public void Int8Export_KeepsTokenTags_AndEntityF1WithinThreePoints()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string fp32 = Path.Combine(dir, "model.onnx"), int8 = Path.Combine(dir, "model-int8.onnx");
            var checkRows = _devRows.Take(100).Select(r => (r.Words, (string?)null)).ToList();
            TrainedModelExport.Export(_bert.Model, fp32, checkRows);
            var report = TrainedModelExport.Export(_bert.Model, int8, checkRows, new OnnxExportOptions { Quantize = OnnxQuantization.Int8 });
            Console.WriteLine($"int8: {report}; {new FileInfo(int8).Length / 1e6:F1} MB vs {new FileInfo(fp32).Length / 1e6:F1} MB");
            Assert.IsGreaterThanOrEqualTo(0.98, report.ArgmaxAgreement, report.ToString());

            double F1(string path)
            {
                using var model = BertOnnxModel.Load(path);
                var tags = model.PredictBatch(_devRows.Select(r => r.Words).ToList()).Select(p => (IReadOnlyList<string>)TokenClassificationTask.SpaceWords(p).Select(w => w.Tag).ToList()).ToList();
                return EntityMetrics.Compute(_dev.Select(s => (IReadOnlyList<string>)s.Tags).ToList(), tags).F1;
            }
            double f1Fp32 = F1(fp32), f1Int8 = F1(int8);
            Console.WriteLine($"entity F1 on 300 dev sentences: float32 {f1Fp32:F4}, int8 {f1Int8:F4}");
            Assert.IsLessThanOrEqualTo(0.03, Math.Abs(f1Fp32 - f1Int8));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void RawText_GivesEntitiesWithOffsetsIntoTheOriginalString()
    {
        const string text = "Chancellor Helmut Kohl met Boris Yeltsin in Moscow.";
        var p = _bert.Model.PredictBatch([text])[0];
        Console.WriteLine(_bert.Model.TaskDefinition.Describe(p, _bert.Model.Card));
        foreach (var e in p.Entities!)
            Assert.AreEqual(e.Text, text[e.Start..e.End]);
        Assert.IsTrue(p.Entities!.Any(e => e.Text == "Moscow" && e.Type == "LOC"), "Moscow, without the period, is a place");
    }
}
