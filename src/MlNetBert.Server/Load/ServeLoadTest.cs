using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace MlNetBert.Serving.Load;

/// <summary>What one <see cref="ServeLoadTest.RunAsync"/> measured.</summary>
/// <param name="Requests">Requests sent.</param>
/// <param name="Errors">Requests that failed (a non-200 status, or no answer).</param>
/// <param name="FirstError">The first failure, for the report; null when there was none.</param>
/// <param name="Elapsed">Wall time from the first request to the last answer.</param>
/// <param name="Latencies">Every request's latency, sorted ascending.</param>
/// <param name="CpuTime">
/// Processor time this whole process used during the run: the server's and the load generator's when they share the
/// process, as in <see cref="ServeLoadTest.MeasureAsync"/>. Unlike wall time, it hardly moves when other programs
/// compete for the processors, so it compares configurations fairly on a busy machine.
/// </param>
/// <param name="Malformed">Of <paramref name="Requests"/>, how many were malformed on purpose (each must get a 4xx problem-details body, or it is an error).</param>
/// <param name="WorkingSetAfterWarmup">This process's working set in bytes after the warm-up requests and a full GC (0: not measured).</param>
/// <param name="WorkingSetAfterRun">The same after the measured requests (0: not measured).</param>
public sealed record LoadTestResult(int Requests, int Errors, string? FirstError, TimeSpan Elapsed, IReadOnlyList<TimeSpan> Latencies, TimeSpan CpuTime,
    int Malformed = 0, long WorkingSetAfterWarmup = 0, long WorkingSetAfterRun = 0)
{
    /// <summary>Working-set growth over the measured run, as a fraction of the size after warm-up (0 when not measured).</summary>
    public double WorkingSetGrowth => WorkingSetAfterWarmup == 0 ? 0 : (WorkingSetAfterRun - WorkingSetAfterWarmup) / (double)WorkingSetAfterWarmup;

    /// <summary>Answered requests per second of wall time.</summary>
    public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;

    /// <summary>Processor milliseconds per request (see <see cref="CpuTime"/>).</summary>
    public double CpuMillisecondsPerRequest => CpuTime.TotalMilliseconds / Requests;

    /// <summary>Median latency.</summary>
    public TimeSpan P50 => Percentile(0.50);

    /// <summary>99th-percentile latency.</summary>
    public TimeSpan P99 => Percentile(0.99);

    /// <summary>The latency at fraction <paramref name="q"/> (0..1), nearest rank.</summary>
    public TimeSpan Percentile(double q) =>
        Latencies.Count == 0 ? TimeSpan.Zero : Latencies[Math.Clamp((int)Math.Ceiling(q * Latencies.Count) - 1, 0, Latencies.Count - 1)];

    /// <summary>One line: requests, errors, throughput, p50, p99 and processor time per request.</summary>
    public override string ToString() =>
        $"{Requests} requests, {Errors} errors, {RequestsPerSecond:F1} requests/s, p50 {P50.TotalMilliseconds:F1} ms, p99 {P99.TotalMilliseconds:F1} ms, {CpuMillisecondsPerRequest:F1} CPU ms/request";
}

/// <summary>
/// A closed-loop HTTP load generator for <c>POST /v1/predict</c>: <c>concurrency</c> clients each send a request,
/// wait for the answer, and send the next, until <c>requests</c> have been sent. Used by <c>mlnetbert bench serve</c>
/// and the serving tests, always on loopback.
/// </summary>
public static class ServeLoadTest
{
    /// <summary>Short and medium review-like sentences, for a load that resembles real traffic.</summary>
    public static IReadOnlyList<string> SampleSentences { get; } =
    [
        "A gripping, beautifully acted film that stays with you.",
        "The plot is thin and the jokes fall flat.",
        "Service was slow, but the food made up for it!",
        "I wouldn't recommend this phone to anyone.",
        "Absolutely wonderful.",
        "Neither the soundtrack nor the camera work could rescue a script this lifeless and predictable.",
        "It's not bad at all; actually, I quite liked it.",
        "Terrible battery life; the screen, however, is gorgeous.",
        "The best concert I have been to in years.",
        "Two hours of my life I will never get back.",
        "Charming, warm and funny, with a terrific cast.",
        "The sequel repeats every mistake of the original and adds a few of its own.",
        "Fast delivery and the product works exactly as described.",
        "A slow start, but the final act is worth the wait.",
        "Dull.",
        "The hotel room was clean, quiet and cheaper than expected.",
    ];

    /// <summary>
    /// Request bodies of <paramref name="inputsPerRequest"/> inputs each, cycling through <paramref name="texts"/>:
    /// plain strings, or <c>{"text", "text2"}</c> pairs (the next sentence as text2) for pair models.
    /// </summary>
    public static IReadOnlyList<string> Bodies(IReadOnlyList<string> texts, bool pair, int inputsPerRequest = 1, int count = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(texts.Count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputsPerRequest, 1);
        var bodies = new List<string>(count);
        int next = 0;
        for (int b = 0; b < count; b++)
        {
            var inputs = new List<object>(inputsPerRequest);
            for (int i = 0; i < inputsPerRequest; i++, next++)
            {
                string text = texts[next % texts.Count];
                inputs.Add(pair ? new Dictionary<string, string> { ["text"] = text, ["text2"] = texts[(next + 1) % texts.Count] } : text);
            }
            bodies.Add(JsonSerializer.Serialize(new Dictionary<string, object> { ["inputs"] = inputs }));
        }
        return bodies;
    }

    /// <summary>
    /// Bodies that a one-text model must refuse with a 4xx problem-details body: broken JSON, a wrong type, a missing
    /// field, an empty list, an input without text.
    /// </summary>
    public static IReadOnlyList<string> MalformedBodies { get; } =
    [
        "{\"inputs\": [\"unclosed\"",
        "{\"inputs\": 5}",
        "{\"texts\": [\"a\"]}",
        "{\"inputs\": []}",
        "{\"inputs\": [{\"txt\": \"a\"}]}",
    ];

    /// <summary>Sends <paramref name="requests"/> requests, <paramref name="concurrency"/> at a time, cycling through <paramref name="bodies"/>.</summary>
    /// <param name="client">The client to send with (its handler should allow <paramref name="concurrency"/> connections).</param>
    /// <param name="predictUri">The server's <c>/v1/predict</c> address.</param>
    /// <param name="bodies">JSON request bodies (see <see cref="Bodies"/>).</param>
    /// <param name="requests">Requests in all.</param>
    /// <param name="concurrency">Requests in flight at once.</param>
    /// <param name="malformedEvery">
    /// Every this many requests, send one of <see cref="MalformedBodies"/> instead, which counts as answered only if
    /// it gets a 4xx <c>application/problem+json</c> body with a <c>code</c> (0, the default: none).
    /// </param>
    /// <param name="cancellation">Stops the run early.</param>
    public static async Task<LoadTestResult> RunAsync(HttpClient client, Uri predictUri, IReadOnlyList<string> bodies, int requests, int concurrency,
        int malformedEvery = 0, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(bodies.Count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(malformedEvery);
        var payloads = bodies.Select(Encoding.UTF8.GetBytes).ToArray();
        var malformed = MalformedBodies.Select(Encoding.UTF8.GetBytes).ToArray();
        int malformedSent = 0;
        var latencies = new TimeSpan[requests];
        int sent = -1, errors = 0;
        string? firstError = null;
        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();

        async Task ClientAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref sent)) < requests)
            {
                bool bad = malformedEvery > 0 && i % malformedEvery == malformedEvery - 1;
                using var content = new ByteArrayContent(bad ? malformed[i / malformedEvery % malformed.Length] : payloads[i % payloads.Length]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                long started = Stopwatch.GetTimestamp();
                string? error = null;
                try
                {
                    using var response = await client.PostAsync(predictUri, content, cancellation);
                    string body = await response.Content.ReadAsStringAsync(cancellation);
                    if (bad)
                    {
                        Interlocked.Increment(ref malformedSent);
                        if ((int)response.StatusCode is < 400 or >= 500 || response.Content.Headers.ContentType?.MediaType != "application/problem+json"
                            || !body.Contains("\"code\":", StringComparison.Ordinal))
                            error = $"malformed request answered {(int)response.StatusCode} {response.Content.Headers.ContentType}: {body}";
                    }
                    else if (response.StatusCode != System.Net.HttpStatusCode.OK)
                    {
                        error = $"{(int)response.StatusCode}: {body}";
                    }
                }
                catch (HttpRequestException ex)
                {
                    error = ex.Message;
                }
                catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    error = $"no answer within {client.Timeout.TotalSeconds:F0} s";
                }
                latencies[i] = Stopwatch.GetElapsedTime(started);
                if (error is not null && Interlocked.Increment(ref errors) == 1)
                    firstError = error;
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(ClientAsync, cancellation)));
        var elapsed = clock.Elapsed;
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpuBefore;
        Array.Sort(latencies);
        return new LoadTestResult(requests, errors, firstError, elapsed, latencies, cpu, malformedSent);
    }

    /// <summary>
    /// Hosts a server with <paramref name="options"/> on a free loopback port, waits until it is ready, sends
    /// <paramref name="warmupRequests"/> unmeasured requests, then measures <paramref name="requests"/> more (one in
    /// <paramref name="malformedEvery"/> malformed, if not 0), and stops it. The result carries the process's working
    /// set after the warm-up and after the run, each after a full GC.
    /// </summary>
    public static async Task<LoadTestResult> MeasureAsync(ServerOptions options, IReadOnlyList<string> bodies, int requests, int concurrency,
        int warmupRequests, int malformedEvery = 0, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var app = ServerApp.Build(options with { Urls = "http://127.0.0.1:0" }, ["--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync(cancellation);
        try
        {
            var baseUri = new Uri(app.Urls.First());
            using var client = CreateClient(concurrency);
            await WaitUntilReadyAsync(client, baseUri, TimeSpan.FromMinutes(1), cancellation);
            var predict = new Uri(baseUri, ServerApp.PredictRoute);
            if (warmupRequests > 0)
                await RunAsync(client, predict, bodies, warmupRequests, concurrency, malformedEvery, cancellation);
            long warm = WorkingSet();
            var result = await RunAsync(client, predict, bodies, requests, concurrency, malformedEvery, cancellation);
            return result with { WorkingSetAfterWarmup = warm, WorkingSetAfterRun = WorkingSet() };
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// This process's working set in bytes, after a full GC, so that growth means memory the server keeps (ML.NET
    /// issue 7219 is the failure this watches for: memory climbing under load until out of memory).
    /// </summary>
    public static long WorkingSet()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }

    /// <summary>A client that keeps up to <paramref name="connections"/> connections open to one server.</summary>
    public static HttpClient CreateClient(int connections) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = connections, UseProxy = false }) { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Polls <c>GET /readyz</c> until it answers 200; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilReadyAsync(HttpClient client, Uri baseUri, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using (var response = await client.GetAsync(new Uri(baseUri, "/readyz"), cancellation))
            {
                if (response.StatusCode == System.Net.HttpStatusCode.OK)
                    return;
            }
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"{baseUri} was not ready after {timeout.TotalSeconds:F0} s");
            await Task.Delay(20, cancellation);
        }
    }
}
