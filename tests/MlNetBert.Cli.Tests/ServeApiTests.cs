using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using MlNetBert.Inference;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Tests;

/// <summary>The HTTP API over real sockets: predictions as the library makes them, the model card, metrics, OpenAPI, and every documented error as a problem-details body.</summary>
[TestClass]
public sealed class ServeApiTests
{
    private static ServeHost _classifier = null!;
    private static ServeHost _rejecting = null!;
    private static ServeHost _similarity = null!;
    private static BertOnnxModel _reference = null!;

    private static readonly string[] Sentences =
    [
        "A gripping, beautifully acted film that stays with you.",
        "The plot is thin and the jokes fall flat.",
        "ok",
        "Neither the soundtrack nor the camera work could rescue a script this lifeless and predictable.",
        "Café owners in Zürich say tourism is recovering faster than expected.",
        "It's not bad at all — actually, I quite liked it.",
    ];

    [ClassInitialize]
    public static void StartServers(TestContext _)
    {
        var limits = new ServerOptions { ModelPath = ServeModels.Classifier, MaxInputs = 8, MaxTextChars = 200, MaxBodyBytes = 64 * 1024 };
        _classifier = ServeHost.StartAsync(limits).GetAwaiter().GetResult();
        // Only the limits matter here, so the tiny model (same signature, quick to load) stands in.
        _rejecting = ServeHost.StartAsync(limits with { ModelPath = ServeModels.TinyClassifier, LongText = LongTextPolicy.Reject, Batching = false }).GetAwaiter().GetResult();
        _similarity = ServeHost.StartAsync(new ServerOptions { ModelPath = ServeModels.Similarity }).GetAwaiter().GetResult();
        _reference = BertOnnxModel.Load(ServeModels.Classifier);
    }

    [ClassCleanup]
    public static async Task StopServers()
    {
        await _classifier.DisposeAsync();
        await _rejecting.DisposeAsync();
        await _similarity.DisposeAsync();
        _reference.Dispose();
    }

    [TestMethod]
    public async Task Predict_EqualsPredictBatch_ForConcurrentRequests_InInputOrder()
    {
        var expected = _reference.PredictBatch(Sentences);
        // Concurrent requests of different sizes, so the batcher mixes them into shared model calls.
        var requests = Enumerable.Range(0, 12).Select(async r =>
        {
            var texts = Sentences.Skip(r % Sentences.Length).Concat(Sentences.Take(r % Sentences.Length)).Take(1 + r % 4).ToArray();
            var json = await PostOkAsync(_classifier, new JsonObject { ["inputs"] = new JsonArray(texts.Select(t => (JsonNode)t!).ToArray()) });
            return (texts, json);
        }).ToList();
        foreach (var (texts, json) in await Task.WhenAll(requests))
        {
            Assert.AreEqual("sentiment", json["model"]!["name"]!.GetValue<string>());
            Assert.AreEqual(ClassificationTask.TextName, json["model"]!["task"]!.GetValue<string>());
            var outputs = json["outputs"]!.AsArray();
            Assert.HasCount(texts.Length, outputs);
            for (int i = 0; i < texts.Length; i++)
            {
                var want = expected[Array.IndexOf(Sentences, texts[i])];
                Assert.AreEqual(want.Label, outputs[i]!["label"]!.GetValue<string>(), texts[i]);
                for (int j = 0; j < ServeModels.Labels.Length; j++)
                    Assert.AreEqual(want.Probabilities![j], outputs[i]!["probabilities"]![ServeModels.Labels[j]]!.GetValue<float>(), 1e-5f, texts[i]);
                Assert.IsNull(outputs[i]!["truncated"], "nothing was cut");
            }
        }
    }

    [TestMethod]
    public async Task Predict_Similarity_EqualsPredictBatch_ForPairs()
    {
        using var reference = BertOnnxModel.Load(ServeModels.Similarity);
        string[] b = [.. Sentences.Skip(1), Sentences[0]];
        var expected = reference.PredictBatch(Sentences, b);
        var inputs = new JsonArray(Sentences.Select((a, i) => (JsonNode)new JsonObject { ["text"] = a, ["text2"] = b[i] }).ToArray());
        var json = await PostOkAsync(_similarity, new JsonObject { ["inputs"] = inputs });
        Assert.AreEqual(SentenceSimilarityTask.TaskName, json["model"]!["task"]!.GetValue<string>());
        var outputs = json["outputs"]!.AsArray();
        for (int i = 0; i < Sentences.Length; i++)
        {
            Assert.AreEqual(expected[i].Score!.Value, outputs[i]!["score"]!.GetValue<float>(), 1e-4f, Sentences[i]);
            Assert.IsNull(outputs[i]!["label"]);
        }
    }

    [TestMethod]
    public async Task Predict_LongText_IsTruncatedToTheLimit_AndMarked()
    {
        string longText = string.Concat(Enumerable.Repeat("A long, winding and ultimately rewarding story. ", 10));
        var json = await PostOkAsync(_classifier, new JsonObject { ["inputs"] = new JsonArray("Short and sweet.", longText) });
        var outputs = json["outputs"]!.AsArray();
        Assert.IsNull(outputs[0]!["truncated"]);
        Assert.IsTrue(outputs[1]!["truncated"]!.GetValue<bool>());
        var want = _reference.Predict(longText[..200]);
        Assert.AreEqual(want.Probabilities![1], outputs[1]!["probabilities"]!["positive"]!.GetValue<float>(), 1e-5f);
    }

    // name, server, method, path, content type (null: none), body, expected status, expected code
    public static IEnumerable<object?[]> BadRequests() =>
    [
        ["malformed JSON", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": [\"a\"", 400, ErrorCodes.MalformedJson],
        ["not JSON at all", "classifier", "POST", "/v1/predict", "application/json", "inputs=a", 400, ErrorCodes.MalformedJson],
        ["body is an array", "classifier", "POST", "/v1/predict", "application/json", "[\"a\"]", 400, ErrorCodes.InvalidType],
        ["inputs is a number", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": 5}", 400, ErrorCodes.InvalidType],
        ["inputs holds numbers", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": [1, 2]}", 400, ErrorCodes.InvalidType],
        ["text is a number", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": [{\"text\": 5}]}", 400, ErrorCodes.InvalidType],
        ["missing inputs", "classifier", "POST", "/v1/predict", "application/json", "{\"texts\": [\"a\"]}", 400, ErrorCodes.MissingInputs],
        ["empty inputs", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": []}", 400, ErrorCodes.EmptyInputs],
        ["object without text", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": [{\"txt\": \"a\"}]}", 400, ErrorCodes.MissingText],
        ["text2 for a one-text model", "classifier", "POST", "/v1/predict", "application/json", "{\"inputs\": [{\"text\": \"a\", \"text2\": \"b\"}]}", 400, ErrorCodes.UnexpectedText2],
        ["pair model given strings", "similarity", "POST", "/v1/predict", "application/json", "{\"inputs\": [\"a\", \"b\"]}", 400, ErrorCodes.PairRequired],
        ["pair model without text2", "similarity", "POST", "/v1/predict", "application/json", "{\"inputs\": [{\"text\": \"a\"}]}", 400, ErrorCodes.PairRequired],
        ["too many inputs", "classifier", "POST", "/v1/predict", "application/json", Inputs(9, "a"), 422, ErrorCodes.TooManyInputs],
        ["text too long (reject)", "rejecting", "POST", "/v1/predict", "application/json", Inputs(1, new string('x', 201)), 422, ErrorCodes.TextTooLong],
        ["body too large", "classifier", "POST", "/v1/predict", "application/json", Inputs(8, new string('x', 9000)), 413, ErrorCodes.BodyTooLarge],
        ["body too large, chunked", "classifier", "POST", "/v1/predict", "application/json", Inputs(8, new string('x', 9000)), 413, ErrorCodes.BodyTooLarge],
        ["wrong content type", "classifier", "POST", "/v1/predict", "text/plain", "{\"inputs\": [\"a\"]}", 415, ErrorCodes.UnsupportedMediaType],
        ["no content type", "classifier", "POST", "/v1/predict", null, "{\"inputs\": [\"a\"]}", 415, ErrorCodes.UnsupportedMediaType],
        ["unknown route", "classifier", "POST", "/v1/predictions", "application/json", "{\"inputs\": [\"a\"]}", 404, ErrorCodes.NotFound],
        ["unknown GET route", "classifier", "GET", "/", null, null, 404, ErrorCodes.NotFound],
        ["GET on predict", "classifier", "GET", "/v1/predict", null, null, 405, ErrorCodes.MethodNotAllowed],
        ["DELETE on healthz", "classifier", "DELETE", "/healthz", null, null, 405, ErrorCodes.MethodNotAllowed],
        ["unknown model name", "classifier", "POST", "/v1/models/nope/predict", "application/json", "{\"inputs\": [\"a\"]}", 404, ErrorCodes.UnknownModel],
        ["unknown model card", "classifier", "GET", "/v1/models/nope", null, null, 404, ErrorCodes.UnknownModel],
        ["named model, missing inputs", "classifier", "POST", "/v1/models/sentiment/predict", "application/json", "{}", 400, ErrorCodes.MissingInputs],
    ];

    [TestMethod]
    public async Task BadRequests_GetTheDocumentedStatusAndAProblemDetailsBody_WithTheCode_AndTheServerStaysHealthy()
    {
        var failures = new List<string>();
        foreach (var c in BadRequests())
        {
            var (name, server, method, path, contentType, body) = ((string)c[0]!, Host((string)c[1]!), (string)c[2]!, (string)c[3]!, (string?)c[4], (string?)c[5]);
            int status = (int)c[6]!;
            string code = (string)c[7]!;
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(server.BaseUri, path));
            if (body is not null)
            {
                // Chunked bodies have no Content-Length, so only the server's read limit can catch them.
                request.Content = name.Contains("chunked", StringComparison.Ordinal) ? new ChunkedContent(body) : new StringContent(body);
                request.Content.Headers.ContentType = contentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
            }
            using var response = await server.Client.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            var problem = TryParse(text);
            if ((int)response.StatusCode != status)
                failures.Add($"{name}: status {(int)response.StatusCode}, expected {status} ({text})");
            else if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                failures.Add($"{name}: content type {response.Content.Headers.ContentType}, expected application/problem+json");
            else if (problem?["status"]?.GetValue<int>() != status || problem["code"]?.GetValue<string>() != code
                || string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()) || string.IsNullOrWhiteSpace(problem["detail"]?.GetValue<string>()))
                failures.Add($"{name}: body {text}, expected status {status}, code {code}, a title and a detail");
            else
                Console.WriteLine($"{name,-28} {status} {code}: {problem["detail"]}");
        }
        Assert.IsEmpty(failures, string.Join("\n", failures));

        foreach (var host in new[] { _classifier, _rejecting, _similarity })
        {
            using var health = await host.Client.GetAsync(new Uri(host.BaseUri, "/healthz"));
            Assert.AreEqual(HttpStatusCode.OK, health.StatusCode);
            await PostOkAsync(host, new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["text"] = "still", ["text2"] = host == _similarity ? "here" : null }) });
        }
        string metrics = await _classifier.Client.GetStringAsync(new Uri(_classifier.BaseUri, "/metrics"));
        StringAssert.Contains(metrics, "mlnetbert_errors_total{code=\"malformed_json\"} 2\n");
        StringAssert.Contains(metrics, "mlnetbert_errors_total{code=\"unknown_model\"} 2\n");
        StringAssert.Contains(metrics, "mlnetbert_http_requests_total{route=\"unmatched\",status=\"404\"} 2\n");
        Assert.DoesNotContain("internal_error", metrics, "no request was a server fault");
    }

    [TestMethod]
    public async Task ModelCard_HasTaskLabelsLengthCheckpointAndTrainingMetrics()
    {
        var card = JsonNode.Parse(await _classifier.Client.GetStringAsync(new Uri(_classifier.BaseUri, "/v1/model")))!;
        Assert.AreEqual("sentiment", card["name"]!.GetValue<string>());
        Assert.MatchesRegex("^[0-9a-f]{12}$", card["version"]!.GetValue<string>());
        Assert.AreEqual(ClassificationTask.TextName, card["task"]!.GetValue<string>());
        CollectionAssert.AreEqual(ServeModels.Labels, card["labels"]!.AsArray().Select(l => l!.GetValue<string>()).ToArray());
        Assert.AreEqual(128, card["max_length"]!.GetValue<int>());
        Assert.AreEqual("minilm-l6", card["checkpoint"]!.GetValue<string>());
        Assert.AreEqual(0.875, card["metrics"]!["accuracy"]!.GetValue<double>());
        Assert.AreEqual(0.8, card["metrics"]!["macro_f1"]!.GetValue<double>());
        Assert.IsFalse(string.IsNullOrEmpty(card["project_version"]!.GetValue<string>()));
        Assert.AreEqual(8, card["limits"]!["max_inputs"]!.GetValue<int>());
        Assert.IsTrue(card["batching"]!["enabled"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task Metrics_ArePrometheusText_WithRequestsLatencyBatchSizeQueueDepth_AndKestrelRuntimeAndProcessSeries()
    {
        await PostOkAsync(_classifier, new JsonObject { ["inputs"] = new JsonArray("one", "two", "three") });
        using var response = await _classifier.Client.GetAsync(new Uri(_classifier.BaseUri, "/metrics"));
        Assert.AreEqual("text/plain", response.Content.Headers.ContentType!.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        Console.WriteLine(text);
        // prometheus-net's meter adapter types .NET counters as gauges (see PrometheusExport).
        foreach (var line in new[]
        {
            "# TYPE mlnetbert_http_requests_total gauge", "mlnetbert_http_requests_total{route=\"/v1/predict\",status=\"200\"}",
            "# TYPE mlnetbert_errors_total gauge", "# TYPE mlnetbert_request_duration_seconds histogram",
            "mlnetbert_request_duration_seconds_bucket{le=\"0.001\"}", "mlnetbert_request_duration_seconds_bucket{le=\"+Inf\"}",
            "mlnetbert_request_duration_seconds_count", "# TYPE mlnetbert_batch_size histogram", "mlnetbert_batch_size_bucket{model=\"sentiment\",le=\"4\"}",
            "mlnetbert_inputs_total{model=\"sentiment\"}", "# TYPE mlnetbert_queue_depth gauge", "mlnetbert_queue_depth 0\n",
            "microsoft_aspnetcore_server_kestrel_kestrel_active_connections", "microsoft_aspnetcore_hosting_http_server_request_duration_bucket",
            "system_runtime_dotnet_gc_collections", "process_working_set_bytes",
        })
            StringAssert.Contains(text, line);
        // Another server in this process (the similarity one) does not leak into this one's series.
        Assert.DoesNotContain("model=\"sts\"", text);
    }

    [TestMethod]
    public async Task OpenApi_IsGeneratedFromTheTypedEndpoints_DescribesEveryRouteTaskShapeAndPredictError()
    {
        string json = await _classifier.Client.GetStringAsync(new Uri(_classifier.BaseUri, "/openapi.json"));
        var document = JsonNode.Parse(json)!;
        Assert.StartsWith("3.1", document["openapi"]!.GetValue<string>());
        Assert.AreEqual("MlNetBert model server: sentiment", document["info"]!["title"]!.GetValue<string>());
        var described = document["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Where(m => m.Key is "get" or "post").Select(m => $"{m.Key.ToUpperInvariant()} {p.Key}")).Order().ToList();
        // Every mapped route but the document itself; HEAD is implied by GET.
        var mapped = ((IEndpointRouteBuilder)_classifier.App).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText != "/openapi.json")
            .SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods.Where(m => m != "HEAD").Select(m => $"{m} {e.RoutePattern.RawText}")).Order().ToList();
        Console.WriteLine(string.Join("\n", described));
        CollectionAssert.AreEqual(mapped, described);

        var schemas = document["components"]!["schemas"]!.AsObject();
        Console.WriteLine(string.Join(", ", schemas.Select(s => s.Key)));
        foreach (var shape in new[] { "PredictRequestBody", "PredictInputTextInput", "PredictInputQuestionInput", "PredictResponse", "ModelIdentity", "Entity", "Answer", "ServedModelInfo", "ModelList" })
            Assert.IsTrue(schemas.ContainsKey(shape), $"no schema {shape}");
        // The generator names a derived shape after its base: PredictionOutputClassificationOutput.
        string[] outputs = ["ClassificationOutput", "SimilarityOutput", "TokenClassificationOutput", "QuestionAnsweringOutput", "EmbeddingOutput"];
        CollectionAssert.AreEquivalent(outputs.Select(o => "PredictionOutput" + o).ToArray(),
            schemas["PredictionOutput"]!["anyOf"]!.AsArray().Select(s => s!["$ref"]!.GetValue<string>().Split('/')[^1]).ToArray());
        Assert.IsNull(schemas["PredictionOutput"]!["discriminator"], "outputs carry no type tag");
        // Inputs: text (+ text2) or question + context, also without a type tag.
        CollectionAssert.AreEquivalent(new[] { "PredictInputTextInput", "PredictInputQuestionInput" },
            schemas["PredictInput"]!["anyOf"]!.AsArray().Select(s => s!["$ref"]!.GetValue<string>().Split('/')[^1]).ToArray());
        Assert.IsNull(schemas["PredictInput"]!["discriminator"], "inputs carry no type tag");
        CollectionAssert.AreEquivalent(new[] { "question", "context" }, schemas["PredictInputQuestionInput"]!["properties"]!.AsObject().Select(p => p.Key).ToArray());
        Assert.HasCount(ErrorCodes.All.Count, schemas["ProblemDetails"]!["properties"]!["code"]!["enum"]!.AsArray());
        Assert.AreEqual(8, schemas["PredictRequestBody"]!["properties"]!["inputs"]!["maxItems"]!.GetValue<int>());
        Assert.AreEqual("number", schemas["PredictionOutputSimilarityOutput"]!["properties"]!["score"]!["type"]!.GetValue<string>());
        Assert.IsNotNull(schemas["PredictionOutputEmbeddingOutput"]!["properties"]!["embedding"]);

        var predict = document["paths"]!["/v1/predict"]!["post"]!;
        Assert.IsNotNull(predict["requestBody"]!["content"]!["application/json"]);
        string responses = predict["responses"]!.ToJsonString();
        Assert.IsNotNull(predict["responses"]!["400"]!["content"]!["application/problem+json"]);
        // This server has no API key, no rate limit and one model, so those codes cannot come from /v1/predict.
        var codes = ErrorCodes.All.Except([ErrorCodes.NotFound, ErrorCodes.MethodNotAllowed, ErrorCodes.Unauthorized, ErrorCodes.RateLimited, ErrorCodes.UnknownModel]).ToList();
        Assert.HasCount(15, codes);
        foreach (var code in codes)
            StringAssert.Contains(responses, code);
    }

    private static async Task<JsonNode> PostOkAsync(ServeHost host, JsonObject body)
    {
        using var response = await host.PostAsync("/v1/predict", body.ToJsonString());
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
        return JsonNode.Parse(text)!;
    }

    private static ServeHost Host(string name) => name switch
    {
        "classifier" => _classifier,
        "rejecting" => _rejecting,
        _ => _similarity,
    };

    private static string Inputs(int count, string text) =>
        new JsonObject { ["inputs"] = new JsonArray(Enumerable.Repeat(text, count).Select(t => (JsonNode)t!).ToArray()) }.ToJsonString();

    private sealed class ChunkedContent(string text) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text)).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private static JsonNode? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
