using System.Text.Json.Nodes;

namespace MlNetBert.Dashboard;

/// <summary>One trial of a sweep's leaderboard.</summary>
/// <param name="Name">The trial's folder name.</param>
/// <param name="RunId">Its run's id (a link to the run page), when the folder exists.</param>
/// <param name="Options">The options that vary between trials.</param>
/// <param name="Status">From sweep.json (<c>done</c>, <c>not started</c>), or the run's status while the sweep has no sweep.json.</param>
/// <param name="Metric">The validation metric's name.</param>
/// <param name="Value">Its value.</param>
/// <param name="TrainingSeconds">Training time.</param>
/// <param name="Best">The best trial (exported to ONNX).</param>
public sealed record LeaderboardRow(string Name, string? RunId, IReadOnlyDictionary<string, string> Options, string Status, string? Metric,
    double? Value, double? TrainingSeconds, bool Best);

/// <summary>A sweep's page: its leaderboard and, when trials vary the seed, the summary over seeds.</summary>
/// <param name="Id">The sweep's id.</param>
/// <param name="Finished">Whether sweep.json is written.</param>
/// <param name="Problem">Why sweep.json could not be read, or null.</param>
/// <param name="Rows">The trials, best first.</param>
/// <param name="OverSeeds">sweep.json's <c>over_seeds</c> as written, or null.</param>
public sealed record SweepView(string Id, bool Finished, string? Problem, IReadOnlyList<LeaderboardRow> Rows, JsonArray? OverSeeds);

/// <summary>Reads sweep folders: sweep.json when the sweep finished, else its trial run folders as they stand.</summary>
internal static class SweepReader
{
    public static SweepSummary Summary(string dir, string id, IReadOnlyList<RunSummary> trials)
    {
        string path = Path.Combine(dir, "sweep.json");
        bool finished = File.Exists(path);
        string? problem = finished ? RunReader.ReadJson(path).Problem : null;
        return new SweepSummary(id, trials.Count, trials.Count(t => t.Status == "completed"), finished, problem);
    }

    public static SweepView Read(RunCatalog catalog, string dir)
    {
        string id = catalog.IdOf(dir);
        var trials = catalog.List().Runs.Where(r => r.Sweep == id).ToDictionary(r => r.Id.Split('/')[^1]);
        string path = Path.Combine(dir, "sweep.json");
        var (json, problem) = File.Exists(path) ? RunReader.ReadJson(path) : (null, null);
        var rows = new List<LeaderboardRow>();
        if (json?["trials"] is JsonArray array)
        {
            foreach (var t in array.OfType<JsonObject>())
            {
                string name = RunReader.Text(t["trial"]) ?? "?";
                var options = t["options"] is JsonObject o
                    ? o.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "")
                    : new Dictionary<string, string>();
                rows.Add(new LeaderboardRow(name, trials.TryGetValue(name, out var run) ? run.Id : null, options, RunReader.Text(t["status"]) ?? "?",
                    RunReader.Text(t["metric"]), RunReader.Number(t["value"]), RunReader.Number(t["training_seconds"]), t["best"] is JsonValue b && b.TryGetValue(out bool best) && best));
            }
        }
        else
        {
            // Still sweeping (or sweep.json damaged): the trials as their folders show them; options from the folder name.
            foreach (var (name, run) in trials)
            {
                var options = name.Split('_').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
                rows.Add(new LeaderboardRow(name, run.Id, options, run.Status, run.Metric, run.Value, run.DurationSeconds, false));
            }
            rows = rows.OrderByDescending(r => r.Value ?? double.NegativeInfinity).ToList();
        }
        return new SweepView(id, json is not null, problem, rows, json?["over_seeds"] as JsonArray);
    }
}
