using MlNetBert.Data;
using MlNetBert.Data.QuestionAnswering;
using MlNetBert.Data.TokenClassification;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>The rows a run trains and validates on, read and split once, before any folder is created.</summary>
internal sealed record RunData(TabularData TrainData, TabularData? ValidData, IReadOnlyList<TabularRow> Train, IReadOnlyList<TabularRow> Valid, LabelSet? Labels)
{
    public static RunData Read(BertRunRequest request, IProgress<RunProgress>? progress)
    {
        if (request.Task.ReadsAnswerSpan)
            return ReadQuestions(request);
        if (request.Task.TokenLevel)
            return ReadTagged(request);
        var o = request.Options;
        var kind = request.Task.FileLabels;
        var trainData = TabularReader.Read(request.Train with { LabelKind = kind, Seed = o.Seed });
        Report(trainData, progress);
        IReadOnlyList<TabularRow> trainRows = trainData.Rows, validRows = [];
        TabularData? validData = null;
        if (request.Valid is { } valid)
        {
            validData = TabularReader.Read(valid with { LabelKind = kind });
            Report(validData, progress);
            validRows = validData.Rows;
        }
        else if (request.ValidSplit > 0)
        {
            (trainRows, validRows) = DataSplits.StratifiedSplit(trainData.Rows, request.ValidSplit, o.Seed);
        }
        LabelSet? labels = null;
        if (request.Task.KeyLabel)
        {
            labels = LabelSet.FromTraining(trainRows, request.Train.Path, trainData.Columns.Label);
            if (validRows.Count > 0)
                LabelSet.CheckKnown(validRows, labels, request.Valid?.Path ?? request.Train.Path, (validData ?? trainData).Columns.Label);
        }
        return new RunData(trainData, validData, trainRows, validRows, labels);
    }

    /// <summary>
    /// Token classification: sentences from CoNLL or word/tag tables as rows (words and tags joined by spaces); the
    /// labels are BIO over the training file's entity types, and validation tags must be among them.
    /// </summary>
    private static RunData ReadTagged(BertRunRequest request)
    {
        var o = request.Options;
        var trainSentences = TaggedFiles.Read(request.Train, request.Tagged);
        var trainData = TaggedFiles.ToTable(trainSentences, request.Train.MaxRows, o.Seed);
        IReadOnlyList<TabularRow> trainRows = trainData.Rows, validRows = [];
        TabularData? validData = null;
        if (request.Valid is { } valid)
        {
            var validSentences = TaggedFiles.Read(valid, request.Tagged);
            validSentences.RequireLabelsIn(trainSentences.Labels);
            validData = TaggedFiles.ToTable(validSentences, valid.MaxRows, o.Seed);
            validRows = validData.Rows;
        }
        else if (request.ValidSplit > 0)
        {
            // A plain seeded sample: nearly every sentence has its own tag sequence, so stratifying by it would keep
            // every rare pattern in training. (A score on every row is what selects that path.)
            var (train, held) = DataSplits.StratifiedSplit(trainRows.Select(r => r with { Score = 0 }).ToList(), request.ValidSplit, o.Seed);
            (trainRows, validRows) = (train.Select(r => r with { Score = null }).ToList(), held.Select(r => r with { Score = null }).ToList());
        }
        return new RunData(trainData, validData, trainRows, validRows, new LabelSet(trainSentences.Labels));
    }

    /// <summary>
    /// Question answering: SQuAD v1.1 JSON or a Context/Question/TrainingAnswer/AnswerIndex table, one row per question
    /// (<see cref="QuestionAnswerFiles"/>); a held-out split is a seeded sample of questions.
    /// </summary>
    private static RunData ReadQuestions(BertRunRequest request)
    {
        var o = request.Options;
        var trainData = QuestionAnswerFiles.ReadTable(request.Train.Path, request.Train.MaxRows, o.Seed);
        IReadOnlyList<TabularRow> trainRows = trainData.Rows, validRows = [];
        TabularData? validData = null;
        if (request.Valid is { } valid)
        {
            validData = QuestionAnswerFiles.ReadTable(valid.Path, valid.MaxRows, o.Seed);
            validRows = validData.Rows;
        }
        else if (request.ValidSplit > 0)
        {
            var order = Enumerable.Range(0, trainRows.Count).ToArray();
            new Random(o.Seed).Shuffle(order);
            int held = Math.Max(1, (int)Math.Round(trainRows.Count * request.ValidSplit));
            var heldSet = order.Take(held).ToHashSet();
            (trainRows, validRows) = (trainRows.Where((_, i) => !heldSet.Contains(i)).ToList(), trainRows.Where((_, i) => heldSet.Contains(i)).ToList());
        }
        return new RunData(trainData, validData, trainRows, validRows, null);
    }

    /// <summary>
    /// Makes sure a new run may use <paramref name="run"/>'s folder: it must be missing or empty, or hold a run that
    /// failed (whose folder a retry with the same output replaces, as it did when failed runs were deleted).
    /// </summary>
    public static void ClaimFolder(RunFolder run, bool resumable)
    {
        if (!Directory.Exists(run.Path) || !Directory.EnumerateFileSystemEntries(run.Path).Any())
            return;
        if (File.Exists(run.RunJson) && TryStatus(run) == RunStatus.Failed)
        {
            Directory.Delete(run.Path, recursive: true);
            return;
        }
        throw new BadInputException($"{run.Path}: run folder already exists and is not empty; choose another --out{(resumable ? " (or --resume it)" : "")}");
    }

    private static RunStatus? TryStatus(RunFolder run)
    {
        try
        {
            return run.ReadInfo().Status;
        }
        catch (BadInputException)
        {
            return null;
        }
    }

    private static void Report(TabularData data, IProgress<RunProgress>? progress)
    {
        if (data.SkippedRows.Count > 0)
            progress?.Report(new RunMessage($"{data.Path}: skipped {data.SkippedRows.Count} bad rows (first: {data.SkippedRows[0]})", IsWarning: true));
    }
}
