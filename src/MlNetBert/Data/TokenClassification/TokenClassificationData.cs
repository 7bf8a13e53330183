namespace MlNetBert.Data.TokenClassification;

/// <summary>One sentence: its words and their BIO tags (one per word), and where each word was read.</summary>
/// <param name="Words">The words, exactly as in the file.</param>
/// <param name="Tags">One BIO tag per word (IOB1 input is already converted).</param>
/// <param name="Lines">For each word, the 1-based line it was read from (in a TSV/CSV file, the row's line for every word).</param>
public sealed record TaggedSentence(string[] Words, string[] Tags, int[] Lines);

/// <summary>The result of <see cref="ConllReader.Read"/> or <see cref="TaggedTableReader.Read"/>.</summary>
/// <param name="Path">The file, as it was given.</param>
/// <param name="Sentences">The sentences in file order, tags in BIO.</param>
/// <param name="Labels">The BIO labels of the entity types in the file (<see cref="EntityTags.BioLabels"/>).</param>
/// <param name="SourceScheme">How the file wrote its tags (<see cref="TagScheme.Iob1"/> or <see cref="TagScheme.Bio"/>), after any detection.</param>
public sealed record TokenClassificationData(
    string Path, IReadOnlyList<TaggedSentence> Sentences, IReadOnlyList<string> Labels, TagScheme SourceScheme)
{
    /// <summary>Total number of words.</summary>
    public int WordCount => Sentences.Sum(s => s.Words.Length);

    /// <summary>
    /// Checks that every tag is one of <paramref name="trainingLabels"/>, as validation and test data must be: a model
    /// cannot predict a type it never saw, and the scores would silently count it as missed.
    /// </summary>
    /// <exception cref="BadInputException">The first unknown tag, with its file and line.</exception>
    public void RequireLabelsIn(IReadOnlyList<string> trainingLabels)
    {
        ArgumentNullException.ThrowIfNull(trainingLabels);
        var known = new HashSet<string>(trainingLabels, StringComparer.Ordinal);
        foreach (var sentence in Sentences)
        {
            for (int i = 0; i < sentence.Tags.Length; i++)
            {
                if (!known.Contains(sentence.Tags[i]))
                {
                    throw new BadInputException(
                        $"{Path}:{sentence.Lines[i]}: tag '{sentence.Tags[i]}' does not occur in the training data (labels: {string.Join(", ", trainingLabels)})");
                }
            }
        }
    }

    internal static TokenClassificationData Create(string path, List<(string[] Words, string[] Tags, int[] Lines)> raw, TagScheme scheme)
    {
        var used = scheme == TagScheme.Auto ? EntityTags.DetectScheme(raw.Select(s => (IReadOnlyList<string>)s.Tags)) : scheme;
        var sentences = raw
            .Select(s => new TaggedSentence(s.Words, used == TagScheme.Iob1 ? EntityTags.Iob1ToBio(s.Tags) : s.Tags, s.Lines))
            .ToArray();
        var types = sentences.SelectMany(s => s.Tags).Select(EntityTags.TypeOf).OfType<string>();
        return new TokenClassificationData(path, sentences, EntityTags.BioLabels(types), used);
    }

    internal static string BadTagMessage(string tag) => $"tag '{tag}' is not O, B-TYPE or I-TYPE";
}
