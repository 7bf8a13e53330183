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
/// How <c>mlnetbert serve</c> loads and serves its models. Every property but <see cref="ModelPath"/> has a working
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

    /// <summary>
    /// Longest text, in UTF-16 characters, of each input field (default 20,000: a question-answering context of a few
    /// thousand words fits). See <see cref="LongText"/>.
    /// </summary>
    public int MaxTextChars { get; init; } = 20_000;

    /// <summary>
    /// What to do with a longer text (default <see cref="LongTextPolicy.Truncate"/>: a classifier reads at most its max
    /// length in tokens anyway, a few hundred characters, so cutting at the character limit changes nothing). Tasks
    /// that read whole texts in windows (<see cref="Inference.InferenceTask.ReadsWholeText"/>: question answering,
    /// token classification) are never cut: a longer text is refused with 422 <c>text_too_long</c>.
    /// </summary>
    public LongTextPolicy LongText { get; init; } = LongTextPolicy.Truncate;

    /// <summary>Largest request body in bytes (default 1 MiB); larger is refused with 413 <c>body_too_large</c>.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>How long a stopping server waits for in-flight requests before abandoning them (default 30 s).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The model's name in responses and <c>/v1/model</c>; null (default) uses the file name without <c>.onnx</c>.</summary>
    public string? ModelName { get; init; }

    /// <summary>
    /// Further models served beside <see cref="ModelPath"/> (default none), each at <c>/v1/models/{name}/predict</c>.
    /// The first model keeps the single-model routes <c>/v1/predict</c> and <c>/v1/model</c>.
    /// </summary>
    public IReadOnlyList<ModelSource> AdditionalModels { get; init; } = [];

    /// <summary>
    /// A file holding the API keys clients must send (one per line; blank lines and lines starting with <c>#</c> are
    /// skipped), as <c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>. Null (default): no authentication.
    /// <c>/healthz</c> and <c>/readyz</c> stay open either way, so an orchestrator can probe without a key.
    /// </summary>
    public string? ApiKeyFile { get; init; }

    /// <summary>
    /// Serve beyond loopback without an API key (default false: a server listening on anything but loopback refuses
    /// to start without <see cref="ApiKeyFile"/>, so nobody exposes a model to the network by accident).
    /// </summary>
    public bool AllowAnonymous { get; init; }

    /// <summary>
    /// Most requests per second to the <c>/v1</c> routes, all clients together; more are refused with 429
    /// <c>rate_limited</c> and a <c>Retry-After</c> header. Null (default): no limit. Health, metrics and the OpenAPI
    /// document are never limited.
    /// </summary>
    public int? RateLimitPerSecond { get; init; }

    /// <summary>
    /// Longest time a request may take, from its arrival to its answer (default 30 s); a slower one is answered 504
    /// <c>request_timeout</c> and its prediction dropped if it has not started. <see cref="Timeout.InfiniteTimeSpan"/>: no limit.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

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
        if (ApiKeyFile is not null && string.IsNullOrWhiteSpace(ApiKeyFile))
            throw new BadInputException("option ApiKeyFile is blank: expected the path of a file holding the API key, or unset for no authentication");
        if (RateLimitPerSecond is < 1 or > 1_000_000)
            throw new BadInputException($"option RateLimitPerSecond = {RateLimitPerSecond} is invalid: expected 1 to 1000000 requests per second, or unset for no limit");
        if (RequestTimeout != Timeout.InfiniteTimeSpan && (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromDays(1)))
            throw new BadInputException($"option RequestTimeout = {RequestTimeout} is invalid: expected more than zero and at most a day");
        foreach (var model in AdditionalModels)
        {
            if (string.IsNullOrWhiteSpace(model.Path))
                throw new BadInputException($"model '{model.Name}' has an empty path: expected an exported model.onnx or a run folder");
            if (model.Name is not null && !ModelSource.IsValidName(model.Name))
                throw new BadInputException($"model name '{model.Name}' is invalid: expected letters, digits, '.', '_' or '-' (it becomes part of the URL)");
        }
        if (ModelName is not null && !ModelSource.IsValidName(ModelName))
            throw new BadInputException($"model name '{ModelName}' is invalid: expected letters, digits, '.', '_' or '-' (it becomes part of the URL)");
        if (ApiKeyFile is null && !AllowAnonymous && UrlList().FirstOrDefault(url => !IsLoopback(url)) is { } exposed)
            throw new BadInputException($"refusing to listen on {exposed} (beyond loopback) without an API key: pass --api-key-file FILE, or --allow-anonymous to serve without one");
    }

    /// <summary>
    /// Whether an address only accepts connections from this machine: <c>localhost</c>, 127.0.0.0/8 or <c>[::1]</c>.
    /// Kestrel's wildcards (<c>*</c>, <c>+</c>), <c>0.0.0.0</c>, <c>[::]</c> and host names are not.
    /// </summary>
    public static bool IsLoopback(string url)
    {
        string rest = url["http://".Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash >= 0 ? rest[..slash] : rest;
        string host = authority.StartsWith('[') ? authority[..(authority.IndexOf(']', StringComparison.Ordinal) + 1)] : authority.Split(':')[0];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address);
    }

    /// <summary>Every model to serve: <see cref="ModelPath"/> (named <see cref="ModelName"/>) first, then <see cref="AdditionalModels"/>.</summary>
    public IReadOnlyList<ModelSource> AllModels() => [new ModelSource(ModelName, ModelPath), .. AdditionalModels];

    /// <summary>Reads a <c>--rate-limit</c> value: <c>N/s</c> (or plain <c>N</c>), requests per second.</summary>
    public static int ParseRateLimit(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string number = text.EndsWith("/s", StringComparison.Ordinal) ? text[..^2] : text;
        return int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1
            ? n
            : throw new BadInputException($"--rate-limit {text}: expected requests per second as N/s, for example 100/s");
    }

    /// <summary>Reads a <c>--request-timeout</c> value: <c>30s</c>, <c>500ms</c>, plain seconds, or <c>off</c> for no limit.</summary>
    public static TimeSpan ParseTimeout(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == "off")
            return Timeout.InfiniteTimeSpan;
        var (number, scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : (text, 1.0);
        return double.TryParse(number, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out double value) && value > 0
            ? TimeSpan.FromSeconds(value * scale)
            : throw new BadInputException($"--request-timeout {text}: expected a duration such as 30s or 500ms, or off");
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

/// <summary>One model to serve: a name (null: from the file or folder name) and an exported .onnx file or run folder.</summary>
/// <param name="Name">The name in URLs and responses; letters, digits, <c>.</c>, <c>_</c> and <c>-</c>.</param>
/// <param name="Path">An exported model.onnx, or a run folder holding one.</param>
public sealed record ModelSource(string? Name, string Path)
{
    /// <summary>
    /// Reads a <c>--model</c> value: <c>name=path</c>, or a plain path (named after its file or folder). A value whose
    /// text before the first <c>=</c> is not a valid name, or that names an existing file or folder, is a plain path.
    /// </summary>
    public static ModelSource Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int equals = value.IndexOf('=', StringComparison.Ordinal);
        if (equals > 0 && IsValidName(value[..equals]) && !File.Exists(value) && !Directory.Exists(value))
            return new ModelSource(value[..equals], value[(equals + 1)..]);
        return new ModelSource(null, value);
    }

    /// <summary>Whether <paramref name="name"/> can name a model: 1 to 100 of letters, digits, <c>.</c>, <c>_</c> and <c>-</c>.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
