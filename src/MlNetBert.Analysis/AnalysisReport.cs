using System.Text.Json;
using System.Text.Json.Serialization;
using MlNetBert.Modeling;

namespace MlNetBert.Analysis;

/// <summary>Test-split accuracy of a linear probe on one layer, for both vectors and both models.</summary>
/// <param name="ClsBefore">On the pretrained model's [CLS] vectors.</param>
/// <param name="ClsAfter">On the fine-tuned model's [CLS] vectors.</param>
/// <param name="MeanBefore">On the pretrained model's mean-pooled vectors (padding left out).</param>
/// <param name="MeanAfter">On the fine-tuned model's mean-pooled vectors.</param>
public sealed record ProbeAccuracy(double ClsBefore, double ClsAfter, double MeanBefore, double MeanAfter);

/// <summary>What fine-tuning did to one layer's output.</summary>
/// <param name="Layer">0 for the embedding output, i for encoder layer i (1-based).</param>
/// <param name="Name"><c>embeddings</c> or <c>layer i</c>.</param>
/// <param name="Probe">Linear-probe accuracies on the shared test split.</param>
/// <param name="GeometryBefore">Label clusters of the pretrained model's vectors (the kind the head reads).</param>
/// <param name="GeometryAfter">Label clusters of the fine-tuned model's vectors.</param>
/// <param name="CkaMean">Linear CKA between the two models' mean-pooled vectors; 1 means unchanged up to rotation and scale.</param>
/// <param name="CkaCls">Linear CKA between the two models' [CLS] vectors.</param>
/// <param name="WeightChange">‖θ_ft − θ_pre‖ / ‖θ_pre‖ over all of the layer's parameters (layer 0: the embeddings).</param>
public sealed record LayerAnalysis(
    int Layer,
    string Name,
    ProbeAccuracy Probe,
    ClusterGeometry GeometryBefore,
    ClusterGeometry GeometryAfter,
    double CkaMean,
    double CkaCls,
    double WeightChange);

/// <summary>A 2-D PCA picture of one layer's vectors, one point per sentence, for the scatter plots.</summary>
/// <param name="Layer">The layer (0 = embeddings).</param>
/// <param name="Model"><c>pretrained</c> or <c>fine-tuned</c>.</param>
/// <param name="X">First principal component score of each sentence.</param>
/// <param name="Y">Second principal component score of each sentence.</param>
/// <param name="Labels">Gold label of each sentence.</param>
public sealed record Projection(int Layer, string Model, float[] X, float[] Y, string[] Labels);

/// <summary>
/// Everything <see cref="FineTuningAnalysis.Run"/> measured, layer by layer; serialises to <c>analysis.json</c>
/// (snake_case names; NaN and infinities written as strings) and back.
/// </summary>
public sealed record AnalysisReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The pretrained checkpoint's name.</summary>
    public string Pretrained { get; init; } = "";

    /// <summary>SHA-256 of the pretrained weights file.</summary>
    public string PretrainedSha256 { get; init; } = "";

    /// <summary>The fine-tuned model, as named in the options (usually its file).</summary>
    public string FineTuned { get; init; } = "";

    /// <summary>The checkpoint the fine-tuned model says it started from.</summary>
    public string FineTunedFrom { get; init; } = "";

    /// <summary>The data, as named in the options.</summary>
    public string Data { get; init; } = "";

    /// <summary>How many sentences both models read (after the cap).</summary>
    public int Sentences { get; init; }

    /// <summary>Sentences the probes were trained on.</summary>
    public int ProbeTrain { get; init; }

    /// <summary>Sentences the probes were tested on.</summary>
    public int ProbeTest { get; init; }

    /// <summary>The probes' L2 weight (ML.NET L-BFGS maximum entropy on standardised vectors).</summary>
    public double ProbeL2Weight { get; init; }

    /// <summary>Accuracy of always predicting the most frequent training label on the test split: the floor for the probes.</summary>
    public double MajorityBaseline { get; init; }

    /// <summary>Sentences per label.</summary>
    public IReadOnlyDictionary<string, int> LabelCounts { get; init; } = new Dictionary<string, int>();

    public int Seed { get; init; }

    public int MaxLength { get; init; }

    /// <summary>The vector the fine-tuned head reads, used for the cluster geometry and the PCA pictures.</summary>
    public Pooling GeometryVectors { get; init; }

    /// <summary>Layer 0 (embedding output) to the last encoder layer.</summary>
    public IReadOnlyList<LayerAnalysis> Layers { get; init; } = [];

    /// <summary>Relative weight change per parameter group (<see cref="WeightChange.DefaultGroup"/>).</summary>
    public IReadOnlyList<WeightChangeGroup> WeightChangeGroups { get; init; } = [];

    /// <summary>Pretrained tensors the fine-tuned encoder does not have (not compared).</summary>
    public IReadOnlyList<string> OnlyInPretrained { get; init; } = [];

    /// <summary>Fine-tuned encoder tensors the checkpoint does not have (not compared).</summary>
    public IReadOnlyList<string> OnlyInFineTuned { get; init; } = [];

    /// <summary>PCA pictures of the first and last layer, before and after.</summary>
    public IReadOnlyList<Projection> Projections { get; init; } = [];

    /// <summary>One plain-language line per measure.</summary>
    public IReadOnlyList<string> Summary { get; init; } = [];

    /// <summary>Things worth knowing that did not stop the analysis (e.g. a checkpoint checksum mismatch).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Wall-clock seconds the analysis took.</summary>
    public double Seconds { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static AnalysisReport FromJson(string json) =>
        JsonSerializer.Deserialize<AnalysisReport>(json, Json) ?? throw new BadInputException("analysis.json is empty");
}
