using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard.Tests;

/// <summary>
/// The pages in a real browser: headless Chromium from Debian (<c>chromium</c>; .ci/run installs it when missing)
/// driven by Playwright, over the two real runs. Without a Chromium on the machine these tests are inconclusive.
/// Set MLNETBERT_UI_SCREENSHOTS to a folder to keep a screenshot of each page there (docs/ui holds the README's).
/// </summary>
[TestClass]
public sealed class BrowserTests
{
    private static IPlaywright? s_playwright;
    private static IBrowser? s_browser;
    private IPage _page = null!;

    private static DashboardRuns Runs => DashboardRuns.Get;

    private static string? Chromium() =>
        new[] { Environment.GetEnvironmentVariable("MLNETBERT_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    [TestInitialize]
    public async Task OpenPage()
    {
        if (s_browser is null)
        {
            string chromium = Chromium() ?? "";
            if (chromium.Length == 0)
                Assert.Inconclusive("no Chromium here (apt-get install -y chromium, or MLNETBERT_CHROMIUM=PATH): the browser tests need one");
            s_playwright = await Playwright.CreateAsync();
            s_browser = await s_playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
        }
        _page = await s_browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1300, Height = 1000 } });
    }

    [TestCleanup]
    public async Task ClosePage() => await _page.CloseAsync();

    [ClassCleanup]
    public static async Task CloseBrowser()
    {
        if (s_browser is not null)
            await s_browser.CloseAsync();
        s_playwright?.Dispose();
    }

    private async Task Open(string hash, string screenshot)
    {
        await _page.GotoAsync(Runs.Url + "/#" + hash);
        // The page marks itself ready once it has drawn what the API returned.
        await _page.WaitForSelectorAsync($"main[data-ready=\"{hash}\"]", new PageWaitForSelectorOptions { Timeout = 20_000 });
        if (Environment.GetEnvironmentVariable("MLNETBERT_UI_SCREENSHOTS") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            await _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, screenshot + ".png") });
        }
    }

    [TestMethod]
    public async Task RunsPage_ShowsBothRealRuns_Completed()
    {
        await Open("/", "runs");

        foreach (string id in new[] { DashboardRuns.Exported, DashboardRuns.NotExported })
        {
            var row = _page.Locator("#runs tr", new PageLocatorOptions { Has = _page.Locator($"a[href=\"#/run/{id}\"]") });
            Assert.AreEqual("completed", await row.Locator("[data-status]").GetAttributeAsync("data-status"), id);
            StringAssert.Contains(await row.InnerTextAsync(), "sentiment-sample.tsv");
        }
    }

    [TestMethod]
    public async Task RunPage_ShowsTheRunsAccuracy_AndDrawsItsCurves()
    {
        double accuracy = DashboardRuns.Metrics(DashboardRuns.Exported)["final"]!["accuracy"]!.GetValue<double>();

        await Open("/run/" + DashboardRuns.Exported, "run");

        string shown = await _page.InnerTextAsync("#key-metric");
        Assert.AreEqual(accuracy, double.Parse(shown, CultureInfo.InvariantCulture), 5e-5, "shown with 4 decimals");
        Assert.AreEqual(1, await _page.Locator("#loss-chart canvas").CountAsync(), "the training curve is drawn");
        Assert.AreEqual(4, await _page.Locator("#confusion_matrix td").CountAsync(), "a 2 x 2 confusion matrix");
        await _page.WaitForSelectorAsync("#snippets pre");
        StringAssert.Contains(await _page.InnerTextAsync("#snippets"), Path.Combine(Runs.Root, DashboardRuns.Exported, RunFolder.ModelZipName));
    }

    [TestMethod]
    public async Task ComparePage_ShowsBothRuns_TheirOptionsDiff_AndOneValidationChart()
    {
        await Open($"/compare/{DashboardRuns.Exported},{DashboardRuns.NotExported}", "compare");

        string header = await _page.InnerTextAsync("#compare-options thead");
        StringAssert.Contains(header, DashboardRuns.Exported);
        StringAssert.Contains(header, DashboardRuns.NotExported);
        string diff = await _page.InnerTextAsync("#compare-options tbody");
        StringAssert.Contains(diff, "learning_rate");
        StringAssert.Contains(diff, "0.0002");
        StringAssert.Contains(diff, "0.00005");
        Assert.DoesNotContain("batch_size", diff, "only what differs");
        Assert.AreEqual(1, await _page.Locator("#compare-valid canvas").CountAsync());
        string legend = await _page.InnerTextAsync("#compare-valid");
        StringAssert.Contains(legend, DashboardRuns.NotExported);
    }

    [TestMethod]
    public async Task SweepLeaderboard_SortsByTheColumnClicked()
    {
        Runs.Folder("sweep-sort", ("sweep.json", """
            {"trials": [
              {"trial": "learning-rate=1e-4", "options": {"learning-rate": "1e-4"}, "status": "done", "metric": "accuracy", "value": 0.81, "training_seconds": 30},
              {"trial": "learning-rate=3e-5", "options": {"learning-rate": "3e-5"}, "status": "done", "metric": "accuracy", "value": 0.74, "training_seconds": 10},
              {"trial": "learning-rate=5e-5", "options": {"learning-rate": "5e-5"}, "status": "done", "metric": "accuracy", "value": 0.77, "training_seconds": 20}]}
            """));
        await Open("/sweep/sweep-sort", "sweep");
        async Task<string[]> Trials() => (await _page.Locator("#leaderboard tbody tr td:nth-child(2)").AllInnerTextsAsync()).Select(t => t.Trim()).ToArray();

        await _page.ClickAsync("#leaderboard th:has-text('training')");
        CollectionAssert.AreEqual(new[] { "learning-rate=1e-4", "learning-rate=5e-5", "learning-rate=3e-5" }, await Trials(), "numbers sort largest first");
        await _page.ClickAsync("#leaderboard th:has-text('training')");
        CollectionAssert.AreEqual(new[] { "learning-rate=3e-5", "learning-rate=5e-5", "learning-rate=1e-4" }, await Trials(), "a second click reverses");
        await _page.ClickAsync("#leaderboard th:has-text('learning-rate')");
        CollectionAssert.AreEqual(new[] { "learning-rate=1e-4", "learning-rate=5e-5", "learning-rate=3e-5" }, await Trials(), "option values sort as numbers");
    }

    [TestMethod]
    public async Task Predictions_AreDrawnByShape_EntitiesInTheText_AnswersInTheContext()
    {
        // The page draws a prediction from its JSON shape alone (as the server writes it), so a task added later shows
        // without a change here; the shapes are those of PredictionOutput.
        await Open("/", "unused");
        string marks = await _page.EvaluateAsync<string>("""
            () => {
              const ner = showPrediction({ line: 'x', output: { entities: [{ type: 'PER', text: 'John', start: 0, end: 4, score: 0.98 },
                { type: 'LOC', text: 'Berlin', start: 14, end: 20, score: 0.95 }] } }, 'John lives in Berlin.', null);
              const qa = showPrediction({ line: 'x', output: { answers: [{ text: 'Jane Austen', start: 24, end: 35, score: 0.9 }] } },
                'Who wrote it?', 'The book was written by Jane Austen in 1813.');
              const div = document.createElement('div');
              div.append(...ner, ...qa);
              return [...div.querySelectorAll('mark')].map(m => m.firstChild.textContent + '/' + m.querySelector('.tag').textContent).join('|');
            }
            """);
        Assert.AreEqual("John/PER|Berlin/LOC|Jane Austen/0.90", marks);
    }

    [TestMethod]
    public async Task TryIt_ShowsTheSameLabelAsMlnetbertPredict_WithProbabilityBars()
    {
        const string text = "Two hours I will never get back.";
        string runFolder = Path.Combine(Runs.Root, DashboardRuns.Exported);
        var printed = new StringWriter();
        var console = Console.Out;
        Console.SetOut(printed);
        int exit;
        try
        {
            exit = Cli.Program.Main(["predict", "--model", Path.Combine(runFolder, RunFolder.ModelOnnxName), "--text", text, "--json"]);
        }
        finally
        {
            Console.SetOut(console);
        }
        Assert.AreEqual(0, exit, printed.ToString());
        string expected = JsonNode.Parse(printed.ToString().Trim().Split('\n')[^1])!["label"]!.GetValue<string>();

        await Open("/run/" + DashboardRuns.Exported, "try-it-before");
        await _page.FillAsync("#try-text", text);
        await _page.ClickAsync("#try-go");
        await _page.WaitForSelectorAsync("#try-probabilities");
        if (Environment.GetEnvironmentVariable("MLNETBERT_UI_SCREENSHOTS") is { Length: > 0 } dir)
            await _page.Locator("#try-result").Locator("..").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(dir, "try-it.png") });

        var best = _page.Locator("#try-probabilities tr.diff th");
        Assert.AreEqual(expected, await best.InnerTextAsync(), "the highlighted bar is the predicted label");
        StringAssert.StartsWith(await _page.InnerTextAsync("#try-line"), expected);
        Assert.AreEqual(2, await _page.Locator("#try-probabilities .bar").CountAsync());
    }
}
