using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Tests;

/// <summary>Who may call the server and how much: API keys, the rate limiter, request timeouts, and the refusal to listen beyond loopback without a key.</summary>
[TestClass]
public sealed class ServeAccessTests
{
    private const string Key = "k3y-for-tests-0123456789abcdef";
    private const string OneInput = "{\"inputs\": [\"A fine film.\"]}";

    [TestMethod]
    public async Task ApiKey_MissingOrWrong_Is401ProblemDetails_TheKeyInEitherHeaderIs200_AndHealthStaysOpen()
    {
        string dir = Paths.TempDir();
        string keyFile = Path.Combine(dir, "keys.txt");
        await File.WriteAllTextAsync(keyFile, $"# rotated monthly\n\nsome-older-key-abcdefghijklmnop\n{Key}\n");
        await using var host = await ServeHost.StartAsync(new ServerOptions { ModelPath = ServeModels.TinyClassifier, ApiKeyFile = keyFile });
        try
        {
            var none = await SendAsync(host, HttpMethod.Post, ServerApp.PredictRoute, OneInput, _ => { });
            AssertProblem(none, 401, ErrorCodes.Unauthorized);
            Assert.AreEqual("Bearer", none.Response.Headers.WwwAuthenticate.ToString());
            StringAssert.Contains(none.Problem["detail"]!.GetValue<string>(), "requires an API key");

            var wrong = await SendAsync(host, HttpMethod.Post, ServerApp.PredictRoute, OneInput, h => h.Authorization = new AuthenticationHeaderValue("Bearer", Key + "x"));
            AssertProblem(wrong, 401, ErrorCodes.Unauthorized);
            StringAssert.Contains(wrong.Problem["detail"]!.GetValue<string>(), "not valid");
            var wrongHeader = await SendAsync(host, HttpMethod.Post, ServerApp.PredictRoute, OneInput, h => h.Add("X-Api-Key", "not-the-key-at-all-0000"));
            AssertProblem(wrongHeader, 401, ErrorCodes.Unauthorized);

            var bearer = await SendAsync(host, HttpMethod.Post, ServerApp.PredictRoute, OneInput, h => h.Authorization = new AuthenticationHeaderValue("Bearer", Key));
            Assert.AreEqual(HttpStatusCode.OK, bearer.Response.StatusCode, bearer.Text);
            Assert.HasCount(1, JsonNode.Parse(bearer.Text)!["outputs"]!.AsArray());
            var header = await SendAsync(host, HttpMethod.Get, "/v1/models", null, h => h.Add("X-Api-Key", Key));
            Assert.AreEqual(HttpStatusCode.OK, header.Response.StatusCode, header.Text);

            // Probes need no key; everything else, unknown paths and metrics included, does.
            foreach (var open in new[] { "/healthz", "/readyz" })
                Assert.AreEqual(HttpStatusCode.OK, (await SendAsync(host, HttpMethod.Get, open, null, _ => { })).Response.StatusCode, open);
            foreach (var closed in new[] { "/metrics", "/v1/model", "/openapi.json", "/no-such-route" })
                AssertProblem(await SendAsync(host, HttpMethod.Get, closed, null, _ => { }), 401, ErrorCodes.Unauthorized);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("", "no key in it")]
    [DataRow("short-key\n", "too short or holds spaces")]
    public void ApiKeyFile_EmptyOrWeak_IsRefusedAtStart(string content, string expected)
    {
        string dir = Paths.TempDir();
        try
        {
            string keyFile = Path.Combine(dir, "keys.txt");
            File.WriteAllText(keyFile, content);
            var ex = Assert.ThrowsExactly<BadInputException>(() => ServerApp.Build(new ServerOptions { ModelPath = ServeModels.TinyClassifier, ApiKeyFile = keyFile }));
            StringAssert.Contains(ex.Message, expected);
            StringAssert.Contains(ex.Message, keyFile);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public async Task RateLimit_3PerSecond_TheFourthRequestInASecondIs429_WithRetryAfterAndAProblemBody()
    {
        await using var host = await ServeHost.StartAsync(new ServerOptions { ModelPath = ServeModels.TinyClassifier, RateLimitPerSecond = 3 });
        // The bucket is made full at the first limited request and refills a second later, so a burst right after
        // it meets exactly 3 tokens.
        var answers = new List<Answer>();
        for (int i = 0; i < 6; i++)
            answers.Add(await SendAsync(host, i % 2 == 0 ? HttpMethod.Post : HttpMethod.Get, i % 2 == 0 ? ServerApp.PredictRoute : "/v1/model", i % 2 == 0 ? OneInput : null, _ => { }));
        CollectionAssert.AreEqual(new[] { 200, 200, 200, 429, 429, 429 }, answers.Select(a => (int)a.Response.StatusCode).ToArray(),
            string.Join("\n", answers.Select(a => a.Text)));
        AssertProblem(answers[3], 429, ErrorCodes.RateLimited);
        Assert.AreEqual(TimeSpan.FromSeconds(1), answers[3].Response.Headers.RetryAfter!.Delta);
        // Probes and metrics are never limited.
        Assert.AreEqual(HttpStatusCode.OK, (await SendAsync(host, HttpMethod.Get, "/healthz", null, _ => { })).Response.StatusCode);
        string metrics = await host.Client.GetStringAsync(new Uri(host.BaseUri, "/metrics"));
        StringAssert.Contains(metrics, "mlnetbert_errors_total{code=\"rate_limited\"} 3\n");

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.AreEqual(HttpStatusCode.OK, (await SendAsync(host, HttpMethod.Get, "/v1/model", null, _ => { })).Response.StatusCode, "a second later the bucket has refilled");
    }

    [TestMethod]
    public async Task Timeout_ABatchThatTakesLongerThanTheTimeout_Is504ProblemDetails_AndTheServerStaysUp()
    {
        // A real slow request: 64 inputs of MiniLM's full 128 tokens are about 0.2 TFLOP, a second or more on a few
        // cores and still several times the 50 ms timeout on many.
        await using var host = await ServeHost.StartAsync(new ServerOptions
        {
            ModelPath = ServeModels.Classifier,
            MaxInputs = 64,
            RequestTimeout = TimeSpan.FromMilliseconds(50),
            Batching = false,
        });
        string text = string.Concat(Enumerable.Repeat("The acting is uneven, the pacing slow, and yet the ending lands. ", 8));
        string body = new JsonObject { ["inputs"] = new JsonArray(Enumerable.Repeat(text, 64).Select(t => (JsonNode)t!).ToArray()) }.ToJsonString();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var slow = await SendAsync(host, HttpMethod.Post, ServerApp.PredictRoute, body, _ => { });
        Console.WriteLine($"answered {(int)slow.Response.StatusCode} after {clock.ElapsedMilliseconds} ms: {slow.Text}");
        AssertProblem(slow, 504, ErrorCodes.RequestTimeout);
        StringAssert.Contains(slow.Problem["detail"]!.GetValue<string>(), "request timeout");
        Assert.IsLessThan(TimeSpan.FromSeconds(5), clock.Elapsed, "the timeout answers without waiting for the model");
        Assert.AreEqual(HttpStatusCode.OK, (await SendAsync(host, HttpMethod.Get, "/healthz", null, _ => { })).Response.StatusCode);
    }

    [TestMethod]
    [DataRow("http://127.0.0.1:5000", true)]
    [DataRow("http://127.8.9.10:5000", true)]
    [DataRow("http://localhost:5000", true)]
    [DataRow("http://[::1]:5000", true)]
    [DataRow("http://0.0.0.0:5000", false)]
    [DataRow("http://[::]:5000", false)]
    [DataRow("http://*:5000", false)]
    [DataRow("http://+:5000", false)]
    [DataRow("http://192.168.1.20:5000", false)]
    [DataRow("http://example.org:5000", false)]
    public void IsLoopback_OnlyForLocalhostAnd127And1(string url, bool loopback) =>
        Assert.AreEqual(loopback, ServerOptions.IsLoopback(url));

    [TestMethod]
    public void ServeCommand_BeyondLoopbackWithoutAKey_ExitsTwoWithOneLine()
    {
        var r = CliProcess.Run("serve", "--model", ServeModels.TinyClassifier, "--urls", "http://0.0.0.0:0");
        Assert.AreEqual(2, r.ExitCode, r.Stderr + r.Stdout);
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(1, lines, r.Stderr);
        StringAssert.Contains(lines[0], "refusing to listen on http://0.0.0.0:0 (beyond loopback) without an API key: pass --api-key-file FILE, or --allow-anonymous");
    }

    [TestMethod]
    public void BeyondLoopback_WithAKeyOrAllowAnonymous_PassesValidation()
    {
        var options = new ServerOptions { ModelPath = ServeModels.TinyClassifier, Urls = "http://0.0.0.0:0" };
        Assert.ThrowsExactly<BadInputException>(options.Validate);
        (options with { AllowAnonymous = true }).Validate();
        (options with { ApiKeyFile = "keys.txt" }).Validate();
    }

    [TestMethod]
    [DataRow("100/s", 100)]
    [DataRow("7", 7)]
    public void RateLimit_Parses(string text, int perSecond) => Assert.AreEqual(perSecond, ServerOptions.ParseRateLimit(text));

    [TestMethod]
    [DataRow("30s", 30_000.0)]
    [DataRow("500ms", 500.0)]
    [DataRow("2.5", 2_500.0)]
    public void RequestTimeout_Parses(string text, double milliseconds) => Assert.AreEqual(milliseconds, ServerOptions.ParseTimeout(text).TotalMilliseconds);

    private sealed record Answer(HttpResponseMessage Response, string Text, JsonNode Problem);

    private static async Task<Answer> SendAsync(ServeHost host, HttpMethod method, string path, string? body, Action<HttpRequestHeaders> headers)
    {
        using var request = new HttpRequestMessage(method, new Uri(host.BaseUri, path));
        if (body is not null)
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        headers(request.Headers);
        var response = await host.Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonNode problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonNode.Parse(text)! : new JsonObject();
        return new Answer(response, text, problem);
    }

    private static void AssertProblem(Answer answer, int status, string code)
    {
        Assert.AreEqual(status, (int)answer.Response.StatusCode, answer.Text);
        Assert.AreEqual("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType, answer.Text);
        Assert.AreEqual(status, answer.Problem["status"]!.GetValue<int>(), answer.Text);
        Assert.AreEqual(code, answer.Problem["code"]!.GetValue<string>(), answer.Text);
        Assert.IsFalse(string.IsNullOrWhiteSpace(answer.Problem["detail"]?.GetValue<string>()), answer.Text);
    }
}
