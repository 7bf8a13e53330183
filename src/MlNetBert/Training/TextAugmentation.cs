using System.Globalization;
using System.Text;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>How <see cref="TextAugmentation"/> makes new texts.</summary>
/// <param name="Copies">New texts per source row (at most: a copy in which no word was replaced, or equal to a training text or an earlier copy, is dropped).</param>
/// <param name="ReplaceProbability">The chance that each replaceable word is replaced, in (0, 1].</param>
/// <param name="Neighbours">How many nearest neighbours a word may be replaced by.</param>
/// <param name="MinWords">Rows with fewer words (of the first text) are not augmented.</param>
/// <param name="Seed">Seeds the choices, so the same options and data give the same file.</param>
public sealed record AugmentationOptions(
    int Copies = 1,
    double ReplaceProbability = 0.3,
    int Neighbours = 15,
    int MinWords = 1,
    int Seed = 42)
{
    /// <summary>Throws a <see cref="BadInputException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Copies < 1)
            throw new BadInputException($"Copies (--copies) must be at least 1, not {Copies}");
        if (!(ReplaceProbability > 0 && ReplaceProbability <= 1))
            throw new BadInputException(string.Create(CultureInfo.InvariantCulture, $"ReplaceProbability (--replace) must be in (0, 1], not {ReplaceProbability}"));
        if (Neighbours < 1)
            throw new BadInputException($"Neighbours (--neighbours) must be at least 1, not {Neighbours}");
        if (MinWords < 1)
            throw new BadInputException($"MinWords (--min-words) must be at least 1, not {MinWords}");
    }
}

/// <summary>What <see cref="TextAugmentation.WriteTsv"/> wrote.</summary>
/// <param name="Path">The TSV file.</param>
/// <param name="SourceRows">Rows read.</param>
/// <param name="AugmentedRows">Rows long enough to augment.</param>
/// <param name="Written">New texts written.</param>
/// <param name="ReplacedShare">Of the words that could be replaced in the written texts' sources, the share replaced.</param>
public sealed record AugmentationResult(string Path, int SourceRows, int AugmentedRows, int Written, double ReplacedShare);

/// <summary>
/// New unlabelled texts for distillation, made from the training texts: every word that is a whole-word entry of the
/// checkpoint's vocabulary is, with <see cref="AugmentationOptions.ReplaceProbability"/>, replaced by one of its
/// nearest neighbours (cosine) in the checkpoint's own word-embedding matrix. This is TinyBERT's data augmentation
/// with the embedding matrix standing in for its masked-language-model and GloVe candidates, neither of which a
/// packaged checkpoint carries; no served library does it. The texts carry no label: a teacher labels them
/// (<c>mlnetbert train --teacher ... --unlabeled FILE</c>), so a neighbour that changes the meaning ("good" → "bad")
/// is a new example, not a wrong one.
/// </summary>
public sealed class TextAugmentation
{
    private const string WordEmbeddings = "embeddings.word_embeddings.weight";
    private readonly Dictionary<string, string[]> _neighbours;

    private TextAugmentation(Dictionary<string, string[]> neighbours, bool lowerCase)
    {
        _neighbours = neighbours;
        LowerCase = lowerCase;
    }

    /// <summary>Whether words are looked up lower-cased (the checkpoint's casing).</summary>
    public bool LowerCase { get; }

    /// <summary>
    /// Finds the <paramref name="neighbours"/> nearest vocabulary words of every word in <paramref name="texts"/> that
    /// is a whole-word vocabulary entry (letters only, two or more of them).
    /// </summary>
    public static TextAugmentation Create(Checkpoint checkpoint, IEnumerable<string> texts, int neighbours = 15)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(texts);
        if (neighbours < 1)
            throw new BadInputException($"neighbours must be at least 1, not {neighbours}");
        string[] vocab = File.ReadAllLines(checkpoint.VocabPath);
        var embedding = checkpoint.LoadTensors()[WordEmbeddings];
        if (embedding.Shape[0] != vocab.Length)
            throw new BadInputException($"{checkpoint.VocabPath}: {vocab.Length} entries, but {WordEmbeddings} has {embedding.Shape[0]} rows");

        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        var isWord = new bool[vocab.Length];
        for (int i = 0; i < vocab.Length; i++)
        {
            isWord[i] = IsWord(vocab[i]);
            if (isWord[i])
                ids.TryAdd(vocab[i], i);
        }
        var wanted = texts
            .SelectMany(Words)
            .Select(w => checkpoint.LowerCase ? w.ToLowerInvariant() : w)
            .Where(ids.ContainsKey)
            .Distinct(StringComparer.Ordinal)
            .ToArray();

        int k = Math.Min(neighbours, ids.Count - 1);
        var result = new Dictionary<string, string[]>(wanted.Length, StringComparer.Ordinal);
        using var scope = torch.NewDisposeScope();
        var unit = nn.functional.normalize(torch.tensor(embedding.Data, embedding.Shape), p: 2, dim: 1);
        // Words only: other entries (sub-words, [unused], punctuation, digits) can never be chosen.
        var barred = torch.tensor(isWord.Select(w => w ? 0f : float.NegativeInfinity).ToArray());
        const int chunk = 1024;
        for (int start = 0; start < wanted.Length; start += chunk)
        {
            using var inner = torch.NewDisposeScope();
            var batch = wanted.AsSpan(start, Math.Min(chunk, wanted.Length - start)).ToArray();
            var rows = torch.tensor(batch.Select(w => ids[w]).ToArray());
            var similarity = unit.index_select(0, rows).matmul(unit.t()) + barred;
            similarity.scatter_(1, rows.unsqueeze(1), torch.full(batch.Length, 1, float.NegativeInfinity));
            long[] best = similarity.topk(k, dim: 1).indexes.data<long>().ToArray();
            for (int r = 0; r < batch.Length; r++)
                result[batch[r]] = [.. best.AsSpan(r * k, k).ToArray().Select(id => vocab[id])];
        }
        return new TextAugmentation(result, checkpoint.LowerCase);
    }

    /// <summary>The nearest vocabulary words of <paramref name="word"/>, nearest first; empty when it cannot be replaced.</summary>
    public IReadOnlyList<string> NeighboursOf(string word) =>
        _neighbours.TryGetValue(LowerCase ? word.ToLowerInvariant() : word, out var found) ? found : [];

    /// <summary>
    /// One variant of <paramref name="text"/>: words split on spaces, each replaceable one replaced with
    /// <paramref name="probability"/> (an initial capital is kept), spaces normalised to one.
    /// </summary>
    public string Augment(string text, Random random, double probability) => Augment(text, random, probability, out _, out _);

    private string Augment(string text, Random random, double probability, out int replaceable, out int replaced)
    {
        replaceable = 0;
        replaced = 0;
        var words = Words(text).ToArray();
        for (int i = 0; i < words.Length; i++)
        {
            var candidates = NeighboursOf(words[i]);
            if (candidates.Count == 0)
                continue;
            replaceable++;
            if (random.NextDouble() >= probability)
                continue;
            string choice = candidates[random.Next(candidates.Count)];
            words[i] = char.IsUpper(words[i][0]) ? char.ToUpperInvariant(choice[0]) + choice[1..] : choice;
            replaced++;
        }
        return string.Join(' ', words);
    }

    /// <summary>
    /// Writes a TSV of new texts made from <paramref name="data"/>'s rows (its text column names as header; a pair's
    /// texts are varied independently), ready for <c>--unlabeled</c>. Written under a temporary name and renamed.
    /// </summary>
    public static AugmentationResult WriteTsv(TabularData data, string path, Checkpoint checkpoint, AugmentationOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var sources = data.Rows.Where(r => Words(r.Text).Count() >= options.MinWords).ToList();
        log?.Invoke($"finding {options.Neighbours} neighbours in {checkpoint.Name}'s word embeddings for the words of {sources.Count} rows");
        var augmenter = Create(checkpoint, sources.SelectMany(r => r.Text2 is null ? [r.Text] : new[] { r.Text, r.Text2 }), options.Neighbours);

        var random = new Random(options.Seed);
        var seen = new HashSet<string>(data.Rows.Select(Key), StringComparer.Ordinal);
        var text = new StringBuilder();
        text.Append(Field(data.Columns.Text.Name ?? "text"));
        if (data.Columns.Text2 is { } second)
            text.Append('\t').Append(Field(second.Name ?? "text2"));
        text.Append('\n');
        int written = 0;
        long replaceable = 0, replaced = 0;
        foreach (var row in sources)
        {
            for (int copy = 0; copy < options.Copies; copy++)
            {
                string first = augmenter.Augment(row.Text, random, options.ReplaceProbability, out int can1, out int did1);
                int can2 = 0, did2 = 0;
                string? pair = row.Text2 is null ? null : augmenter.Augment(row.Text2, random, options.ReplaceProbability, out can2, out did2);
                if (did1 + did2 == 0 || !seen.Add(pair is null ? first : first + "\t" + pair))
                    continue;
                replaceable += can1 + can2;
                replaced += did1 + did2;
                text.Append(Field(first));
                if (pair is not null)
                    text.Append('\t').Append(Field(pair));
                text.Append('\n');
                written++;
            }
        }
        AtomicFile.WriteAllText(path, text.ToString());
        return new AugmentationResult(path, data.Rows.Count, sources.Count, written, replaceable == 0 ? 0 : (double)replaced / replaceable);
    }

    private static string Key(TabularRow row) => row.Text2 is null ? NormaliseSpaces(row.Text) : NormaliseSpaces(row.Text) + "\t" + NormaliseSpaces(row.Text2);

    private static string NormaliseSpaces(string text) => string.Join(' ', Words(text));

    private static IEnumerable<string> Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    // A TSV field cannot hold its separator or a line break.
    private static string Field(string value) => value.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');

    private static bool IsWord(string entry) => entry.Length >= 2 && entry.All(char.IsLetter);
}
