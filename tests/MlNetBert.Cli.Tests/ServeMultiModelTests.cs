using System.Net;
using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Tests;

/// <summary>Several models in one server: each at <c>/v1/models/{name}</c>, the first also at the single-model routes.</summary>
[TestClass]
public sealed class ServeMultiModelTests
{
    [TestMethod]
    public async Task TwoModels_EachPredictsAtItsRoute_AndTheFirstAnswersTheSingleModelRoutes()
    {
        await using var host = await ServeHost.StartAsync(new ServerOptions
        {
            ModelPath = ServeModels.TinyClassifier,
            ModelName = "tiny",
            AdditionalModels = [ModelSource.Parse($"sts={ServeModels.Similarity}")],
        });

        var list = JsonNode.Parse(await host.Client.GetStringAsync(new Uri(host.BaseUri, "/v1/models")))!["models"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "tiny", "sts" }, list.Select(m => m!["name"]!.GetValue<string>()).ToArray());
        CollectionAssert.AreEqual(new[] { "/v1/models/tiny/predict", "/v1/models/sts/predict" }, list.Select(m => m!["predict"]!.GetValue<string>()).ToArray());
        Assert.IsTrue(list[1]!["pair"]!.GetValue<bool>());
        var card = JsonNode.Parse(await host.Client.GetStringAsync(new Uri(host.BaseUri, "/v1/models/sts")))!;
        Assert.AreEqual(SentenceSimilarityTask.TaskName, card["task"]!.GetValue<string>());
        Assert.AreEqual("tiny", JsonNode.Parse(await host.Client.GetStringAsync(new Uri(host.BaseUri, "/v1/model")))!["name"]!.GetValue<string>());

        using var reference = BertOnnxModel.Load(ServeModels.Similarity);
        float want = reference.PredictBatch(["A man is playing a guitar."], ["Someone plays an instrument."])[0].Score!.Value;
        var sts = await PostOkAsync(host, "/v1/models/sts/predict", "{\"inputs\": [{\"text\": \"A man is playing a guitar.\", \"text2\": \"Someone plays an instrument.\"}]}");
        Assert.AreEqual("sts", sts["model"]!["name"]!.GetValue<string>());
        Assert.AreEqual(want, sts["outputs"]![0]!["score"]!.GetValue<float>(), 1e-4f);

        var named = await PostOkAsync(host, "/v1/models/tiny/predict", "{\"inputs\": [\"A fine film.\"]}");
        var single = await PostOkAsync(host, ServerApp.PredictRoute, "{\"inputs\": [\"A fine film.\"]}");
        Assert.AreEqual("tiny", single["model"]!["name"]!.GetValue<string>());
        Assert.AreEqual(named["outputs"]!.ToJsonString(), single["outputs"]!.ToJsonString());

        using var wrongShape = await host.PostAsync("/v1/models/sts/predict", "{\"inputs\": [\"no pair\"]}");
        Assert.AreEqual(HttpStatusCode.BadRequest, wrongShape.StatusCode);
        Assert.AreEqual(ErrorCodes.PairRequired, JsonNode.Parse(await wrongShape.Content.ReadAsStringAsync())!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public void TwoModelsUnderOneName_AreRefusedAtStart()
    {
        var ex = Assert.ThrowsExactly<BadInputException>(() => ServerApp.Build(new ServerOptions
        {
            ModelPath = ServeModels.TinyClassifier,
            ModelName = "same",
            AdditionalModels = [new ModelSource("same", ServeModels.TinyClassifier)],
        }));
        StringAssert.Contains(ex.Message, "two models are named 'same'");
    }

    [TestMethod]
    [DataRow("sentiment=models/a.onnx", "sentiment", "models/a.onnx")]
    [DataRow("models/a.onnx", null, "models/a.onnx")]
    [DataRow("runs/lr=3e-5", null, "runs/lr=3e-5")]
    [DataRow("my.model_v2=x=y.onnx", "my.model_v2", "x=y.onnx")]
    public void ModelOption_ReadsNameEqualsPath_OrAPlainPath(string value, string? name, string path) =>
        Assert.AreEqual(new ModelSource(name, path), ModelSource.Parse(value));

    private static async Task<JsonNode> PostOkAsync(ServeHost host, string path, string body)
    {
        using var response = await host.PostAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
        return JsonNode.Parse(text)!;
    }
}
