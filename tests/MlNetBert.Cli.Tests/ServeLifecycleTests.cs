using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Tests;

/// <summary>Starting and stopping: graceful shutdown answers requests in flight, and the real <c>mlnetbert serve</c> runs and stops on SIGTERM.</summary>
[TestClass]
public sealed partial class ServeLifecycleTests
{
    [TestMethod]
    public async Task Stop_FinishesTheRequestInFlight_ThenRefusesConnections()
    {
        // A long batching wait keeps the request queued while the host stops: it is in flight, not yet predicted.
        var host = await ServeHost.StartAsync(new ServerOptions { ModelPath = ServeModels.TinyClassifier, MaxWaitMs = 800 });
        var metrics = host.App.Services.GetRequiredService<ServerMetrics>();
        var clock = Stopwatch.StartNew();
        var inFlight = host.PostAsync(ServerApp.PredictRoute, "{\"inputs\": [\"A request that arrives just before shutdown.\"]}");
        while (metrics.QueueDepth == 0)
        {
            Assert.IsLessThan(TimeSpan.FromSeconds(10), clock.Elapsed, "the request never reached the queue");
            await Task.Delay(5);
        }

        await host.StopAsync();

        using var response = await inFlight;
        string body = await response.Content.ReadAsStringAsync();
        Console.WriteLine($"in-flight request answered {(int)response.StatusCode} after {clock.ElapsedMilliseconds} ms: {body}");
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
        Assert.HasCount(1, JsonNode.Parse(body)!["outputs"]!.AsArray());
        await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync(new Uri(host.BaseUri, "/healthz")));
        await host.DisposeAsync();
    }

    [TestMethod]
    public async Task ARunFolder_ServesItsModelOnnx_UnderTheFolderName()
    {
        string run = Path.Combine(Paths.TempDir(), "sentiment-run");
        Directory.CreateDirectory(run);
        File.Copy(ServeModels.TinyClassifier, Path.Combine(run, "model.onnx"));
        var host = await ServeHost.StartAsync(new ServerOptions { ModelPath = run });
        try
        {
            using var response = await host.PostAsync(ServerApp.PredictRoute, "{\"inputs\": [\"A fine film.\"]}");
            string body = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
            Assert.AreEqual("sentiment-run", JsonNode.Parse(body)!["model"]!["name"]!.GetValue<string>());
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task ServeCommand_AnswersOverHttp_AndExitsZeroOnSigterm()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "MlNetBert.Cli.dll"), "serve", "--model", ServeModels.TinyClassifier, "--urls", "http://127.0.0.1:0", "--threads", "1" })
            psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Kestrel logs the port it picked for port 0.
            Uri? address = null;
            var seen = new List<string>();
            while (address is null && await process.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.Add(line);
                if (ListeningOn().Match(line) is { Success: true } m)
                    address = new Uri(m.Groups[1].Value);
            }
            Assert.IsNotNull(address, $"no 'Now listening on' line; stdout: {string.Join('\n', seen)}");
            var stdout = process.StandardOutput.ReadToEndAsync();

            using var client = new HttpClient();
            await Serving.Load.ServeLoadTest.WaitUntilReadyAsync(client, address, TimeSpan.FromMinutes(1));
            using var content = new StringContent("{\"inputs\": [\"A fine film.\"]}", System.Text.Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri(address, ServerApp.PredictRoute), content);
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromSeconds(30)), "serve did not stop within 30 s of SIGTERM");
            Console.WriteLine(await stdout);
            Assert.AreEqual(0, process.ExitCode, await stderr);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    [TestMethod]
    [DataRow("--model {dir}/missing.onnx", "missing.onnx: model file not found")]
    [DataRow("--model {model} --max-batch-size 0", "option MaxBatchSize = 0 is invalid")]
    [DataRow("--model {model} --urls https://127.0.0.1:5001", "is not an http:// address")]
    [DataRow("--model {model} --long-text sometimes", "Argument 'sometimes' not recognized")]
    public void ServeCommand_BadOptions_ExitWithTwo(string arguments, string expected)
    {
        string dir = Paths.TempDir();
        try
        {
            var args = arguments.Split(' ').Select(a => a.Replace("{dir}", dir, StringComparison.Ordinal).Replace("{model}", ServeModels.Classifier, StringComparison.Ordinal));
            var r = CliProcess.Run(["serve", .. args]);
            Assert.AreEqual(2, r.ExitCode, r.Stderr + r.Stdout);
            StringAssert.Contains(r.Stderr, expected);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
