namespace MlNetBert.Serving;

/// <summary>What <see cref="ServerApp.Build"/> does when a text is longer than <see cref="ServerOptions.MaxTextChars"/>.</summary>
public enum LongTextPolicy
{
    /// <summary>Cut the text to the limit, predict, and mark that output <c>"truncated": true</c>.</summary>
    Truncate,

    /// <summary>Refuse the whole request with 422 <c>text_too_long</c>.</summary>
    Reject,
}

/// <summary>
/// How <c>mlnetbert serve</c> loads and serves one model. Every property but <see cref="ModelPath"/> has a working
/// default; <see cref="Validate"/> runs once, in <see cref="ServerApp.Build"/>.
/// </summary>
/// <example>
/// <code>
/// var app = ServerApp.Build(new ServerOptions { ModelPath = "model.onnx", Urls = "http://127.0.0.1:8080" });
/// await app.RunAsync();
/// </code>
/// </example>
public sealed record ServerOptions
{
    /// <summary>An exported MlNetBert model file (<c>mlnetbert export</c> or a run folder's <c>model.onnx</c>).</summary>
    public required string ModelPath { get; init; }

    /// <summary>
    /// Addresses to listen on, separated by <c>;</c> (default <c>http://127.0.0.1:5000</c>: loopback only, so nothing
    /// is exposed unless asked). Port 0 picks a free port. Plain HTTP only: put a TLS proxy in front.
    /// </summary>
    public string Urls { get; init; } = "http://127.0.0.1:5000";

    /// <summary>ONNX Runtime execution provider: <c>"cpu"</c> (default) or <c>"cuda"</c> (falls back to CPU with a log line).</summary>
    public string Provider { get; init; } = "cpu";

    /// <summary>ONNX Runtime intra-op threads per model call; null (default) lets ONNX Runtime use one per physical core.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Dynamic micro-batching (default on): concurrent requests' inputs are gathered into one model call. Off, each
    /// request is its own model call, at most one per processor at a time.
    /// </summary>
    public bool Batching { get; init; } = true;

    /// <summary>Most inputs gathered into one model call (default 32). A single request with more inputs still runs whole.</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// Longest time the first request of a batch waits for others to join it (default 5 ms). Under load batches fill
    /// while the model is busy, so this only adds latency when the server is nearly idle; 0 never waits.
    /// </summary>
    public int MaxWaitMs { get; init; } = 5;

    /// <summary>Most inputs in one request (default 64); more is refused with 422 <c>too_many_inputs</c>.</summary>
    public int MaxInputs { get; init; } = 64;

    /// <summary>Longest text, in UTF-16 characters, of each <c>text</c> and <c>text2</c> (default 2000). See <see cref="LongText"/>.</summary>
    public int MaxTextChars { get; init; } = 2000;

    /// <summary>
    /// What to do with a longer text (default <see cref="LongTextPolicy.Truncate"/>: the model reads at most its max
    /// length in tokens anyway, a few hundred characters, so cutting at the character limit changes nothing).
    /// </summary>
    public LongTextPolicy LongText { get; init; } = LongTextPolicy.Truncate;

    /// <summary>Largest request body in bytes (default 1 MiB); larger is refused with 413 <c>body_too_large</c>.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>How long a stopping server waits for in-flight requests before abandoning them (default 30 s).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The model's name in responses and <c>/v1/model</c>; null (default) uses the file name without <c>.onnx</c>.</summary>
    public string? ModelName { get; init; }

    /// <summary>Throws <see cref="BadInputException"/> naming the first invalid setting and what would be valid.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath))
            throw new BadInputException("option ModelPath is empty: expected the path of an exported model.onnx");
        if (Provider is not ("cpu" or "cuda"))
            throw new BadInputException($"option Provider = '{Provider}' is invalid: expected cpu or cuda");
        if (Threads is < 1 or > 1024)
            throw new BadInputException($"option Threads = {Threads} is invalid: expected 1 to 1024, or unset for ONNX Runtime's default");
        Check(nameof(MaxBatchSize), MaxBatchSize, 1, 4096);
        Check(nameof(MaxWaitMs), MaxWaitMs, 0, 10_000);
        Check(nameof(MaxInputs), MaxInputs, 1, 100_000);
        Check(nameof(MaxTextChars), MaxTextChars, 1, 10_000_000);
        if (MaxBodyBytes < 64 || MaxBodyBytes > 1L << 31)
            throw new BadInputException($"option MaxBodyBytes = {MaxBodyBytes} is invalid: expected 64 to {1L << 31}");
        if (!Enum.IsDefined(LongText))
            throw new BadInputException($"option LongText = {LongText} is invalid: expected Truncate or Reject");
        if (ShutdownTimeout < TimeSpan.Zero)
            throw new BadInputException($"option ShutdownTimeout = {ShutdownTimeout} is invalid: expected zero or more");
        if (ModelName is not null && string.IsNullOrWhiteSpace(ModelName))
            throw new BadInputException("option ModelName is blank: expected a name, or unset for the file name");
        foreach (var url in UrlList())
        {
            // Kestrel's wildcard forms (http://*:5000, http://+:5000) are not valid URIs, so only the scheme is checked here.
            if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.Length == "http://".Length)
                throw new BadInputException($"option Urls: '{url}' is not an http:// address (expected for example http://127.0.0.1:5000; for TLS put a proxy in front)");
        }
    }

    /// <summary>The addresses in <see cref="Urls"/>, one per entry.</summary>
    public IReadOnlyList<string> UrlList()
    {
        var list = Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (list.Length == 0)
            throw new BadInputException("option Urls is empty: expected at least one address, for example http://127.0.0.1:5000");
        return list;
    }

    private static void Check(string name, int value, int min, int max)
    {
        if (value < min || value > max)
            throw new BadInputException($"option {name} = {value} is invalid: expected {min} to {max}");
    }
}
