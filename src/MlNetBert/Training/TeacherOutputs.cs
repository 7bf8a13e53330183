using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MlNetBert.Inference;
using MlNetBert.Tasks;

namespace MlNetBert.Training;

/// <summary>
/// The teachers' outputs on the rows a student trains on, in the student's terms (<see cref="TrainingTask.TeacherTarget"/>):
/// computed once, in batches, through each teacher's fastest file (its <c>model.onnx</c> when it has one), averaged
/// over several teachers, and cached in a file keyed by a hash of the teachers' files, the texts and the student's
/// card, so a resumed run reads them back instead of running the teachers again.
/// </summary>
public static class TeacherOutputs
{
    private const string Magic = "MLNBTEACH1";

    /// <summary>The cache's file name in a run folder.</summary>
    public const string CacheFileName = "teacher-outputs.bin";

    /// <summary>
    /// One target per row of <paramref name="rows"/>, read from <paramref name="cacheFile"/> when its key matches, else
    /// computed (and written there). Throws <see cref="BadInputException"/> when a teacher is of another task or has
    /// other labels.
    /// </summary>
    /// <param name="teachers">Run folders, ensemble folders, model.zip or model.onnx files.</param>
    /// <param name="task">The student's task.</param>
    /// <param name="card">The student's fitted card (labels, score range).</param>
    /// <param name="rows">The texts (and second texts) the student trains on.</param>
    /// <param name="cacheFile">Where the outputs are cached; null: not cached.</param>
    /// <param name="log">Receives one line: computed (rows, seconds) or read from the cache.</param>
    /// <param name="reuse">
    /// Another run's cache (the file, or the run folder holding <see cref="CacheFileName"/>) to read when
    /// <paramref name="cacheFile"/> has nothing for these rows; it must match, or a <see cref="BadInputException"/> says why.
    /// </param>
    public static IReadOnlyList<float[]> For(IReadOnlyList<string> teachers, TrainingTask task, ModelCard card,
        IReadOnlyList<(string Text, string? Text2)> rows, string? cacheFile, Action<string>? log = null, string? reuse = null)
    {
        ArgumentNullException.ThrowIfNull(teachers);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(rows);
        if (!task.CanDistil)
            throw new BadInputException(CannotDistil(task));
        var files = teachers.Select(t => TrainedModels.Resolve(t, preferOnnx: true)).ToList();
        string key = Key(files, task, card, rows);
        if (cacheFile is not null && TryRead(cacheFile, key, rows.Count) is { } cached)
        {
            log?.Invoke($"teacher outputs: {rows.Count} rows read from {cacheFile}");
            return cached;
        }
        if (reuse is not null)
        {
            string from = Directory.Exists(reuse) ? Path.Combine(reuse, CacheFileName) : reuse;
            if (!File.Exists(from))
                throw new BadInputException($"{from}: no such teacher outputs file (a distilled run folder holds {CacheFileName})");
            var reused = TryRead(from, key, rows.Count)
                ?? throw new BadInputException($"{from}: these teacher outputs were computed by other teachers, on other texts or for other labels than this run's; leave out the reuse to compute them");
            if (cacheFile is not null)
                Write(cacheFile, key, reused);
            log?.Invoke($"teacher outputs: {rows.Count} rows read from {from}{(cacheFile is null ? "" : ", cached in " + cacheFile)}");
            return reused;
        }

        var clock = Stopwatch.StartNew();
        using var teacher = TrainedModels.OpenAll(files);
        string name = string.Join(", ", files);
        for (int i = 0; i < files.Count; i++)
        {
            var c = teacher is ModelEnsemble e ? e.Members[i].Card : teacher.Card;
            if (c.Task != task.Name)
                throw new BadInputException($"{files[i]}: the teacher is a {c.Task} model, but the student trains {task.Name} (a teacher must have the student's task)");
        }
        bool pair = task.Inference.ReadsPair;
        // In tenths (at least 2,048 rows each), each sorted by length inside PredictBatch, with a progress line after each:
        // on full SST-2 a three-member ensemble needs minutes.
        int chunk = Math.Max(2048, (rows.Count + 9) / 10);
        var targets = new List<float[]>(rows.Count);
        for (int start = 0; start < rows.Count; start += chunk)
        {
            var part = rows.Skip(start).Take(chunk).ToList();
            var predictions = teacher.PredictBatch(part.Select(r => r.Text).ToList(), pair ? part.Select(r => r.Text2 ?? "").ToList() : null, batchSize: 64);
            targets.AddRange(predictions.Select(p => task.TeacherTarget(p, teacher.Card, card, name)));
            if (targets.Count < rows.Count)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"teacher outputs: {targets.Count:N0} of {rows.Count:N0} rows, {seconds:F0} s, about {seconds * (rows.Count - targets.Count) / targets.Count:F0} s left"));
            }
        }
        if (cacheFile is not null)
            Write(cacheFile, key, targets);
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"teacher outputs: {rows.Count} rows computed by {files.Count} teacher(s) in {clock.Elapsed.TotalSeconds:F1} s{(cacheFile is null ? "" : ", cached in " + cacheFile)}"));
        return targets;
    }

    /// <summary>The message for a task that refuses teachers.</summary>
    public static string CannotDistil(TrainingTask task) =>
        $"task '{task.Name}' cannot be distilled: teachers are supported for text-classification, pair-classification and sentence-similarity";

    /// <summary>SHA-256 over the teachers' file contents, the student's task and card fields that targets depend on, and every text.</summary>
    private static string Key(IReadOnlyList<string> files, TrainingTask task, ModelCard card, IReadOnlyList<(string Text, string? Text2)> rows)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(s));
            hash.AppendData([0]);
        }
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            Add(Convert.ToHexString(SHA256.HashData(stream)));
        }
        Add(task.Name);
        Add(string.Join("\u0001", card.Labels));
        Add(card.ScoreScale.ToString("R", CultureInfo.InvariantCulture));
        Add(card.ScoreOffset.ToString("R", CultureInfo.InvariantCulture));
        foreach (var (text, text2) in rows)
        {
            Add(text);
            Add(text2 ?? "\u0002");
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static List<float[]>? TryRead(string path, string key, int count)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (reader.ReadString() != Magic || reader.ReadString() != key || reader.ReadInt32() != count)
                return null;
            var result = new List<float[]>(count);
            for (int i = 0; i < count; i++)
            {
                var row = new float[reader.ReadInt32()];
                for (int j = 0; j < row.Length; j++)
                    row[j] = reader.ReadSingle();
                result.Add(row);
            }
            return result;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return null; // damaged: computed again and rewritten
        }
    }

    private static void Write(string path, string key, IReadOnlyList<float[]> targets) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(key);
            writer.Write(targets.Count);
            foreach (var row in targets)
            {
                writer.Write(row.Length);
                foreach (float v in row)
                    writer.Write(v);
            }
        });
}
