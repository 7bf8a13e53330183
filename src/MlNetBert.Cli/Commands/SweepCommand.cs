using System.CommandLine;
using System.Globalization;
using MlNetBert.Runs;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// <c>mlnetbert sweep</c>: a grid (comma lists) or seeded random trials (ranges lo:hi) over training options. Each trial
/// is an ordinary run folder; finished trials are skipped when the sweep is run again; a leaderboard is printed and
/// written to sweep.json and sweep.md.
/// </summary>
internal static class SweepCommand
{
    private static readonly string[] Swept = ["--learning-rate", "--batch-size", "--epochs", "--freeze", "--pooling", "--warmup-ratio", "--weight-decay", "--reinit-top-layers", "--average-last", "--seed"];

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Sweep folder: one run folder per trial, plus sweep.json and sweep.md.", Required = true };
        var trials = new Option<int?>("--trials") { Description = "Sample N trials (ranges lo:hi; learning rates log-uniform) instead of the full grid." };
        var budget = new Option<string?>("--time-budget") { Description = "Stop starting new trials after this long (e.g. 30m, 2h, 90s)." };
        var sweepSeed = new Option<int>("--sweep-seed") { Description = "Seed for sampling trials.", DefaultValueFactory = _ => 1 };
        var exportAll = new Option<bool>("--export-all") { Description = "Export every trial to ONNX (default: only the best trial gets model.onnx)." };
        var command = new Command("sweep",
            """
            Try several training configurations and rank them by the validation metric. Options listed with commas form a
            grid; lo:hi ranges are sampled with --trials. Every other option is passed to 'train' unchanged. Each trial
            keeps its model.zip; the best one is also exported to a verified model.onnx (every trial with --export-all).

            Examples:
              mlnetbert sweep --out models/sweeps/sst2 --train sst2/train.tsv --valid sst2/dev.tsv --max-rows 2000 \
                --learning-rate 1e-5,2e-5,5e-5 --batch-size 16,32 --epochs 2,3 --freeze none,bottom:3
              mlnetbert sweep --out models/sweeps/lr --train sst2/train.tsv --max-rows 2000 --learning-rate 1e-5:1e-4 --trials 6 --time-budget 30m
            """)
        {
            output, trials, budget, sweepSeed, exportAll,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            string dir = Path.GetFullPath(parse.GetValue(output)!);
            var passthrough = parse.UnmatchedTokens.ToList();
            var (fixedArgs, axes) = SplitAxes(passthrough);
            if (!fixedArgs.Contains("--train"))
                throw new BadInputException("sweep needs --train FILE (and any other 'train' options)");
            var configs = parse.GetValue(trials) is int n ? Sample(axes, n, parse.GetValue(sweepSeed)) : Grid(axes);
            TimeSpan? limit = parse.GetValue(budget) is { } b ? ParseDuration(b) : null;
            // Every trial's options are parsed before the first one trains, so a bad value fails the sweep at once.
            var trialList = configs.Select(config => Trial(dir, fixedArgs, config, parse.GetValue(exportAll))).ToList();
            using var stop = new ConsoleStop();
            SweepResult? result = null;
            int code = RunConsole.Report(() => result = BertSweep.Run(dir, trialList, new SweepOptions { TimeBudget = limit }, new SweepOutput(), stop.Token), stop);
            if (code != ExitCodes.Success)
                return code;
            Console.WriteLine();
            Console.WriteLine(result!.Markdown);
            return ExitCodes.Success;
        });
        return command;
    }

    private static SweepTrial Trial(string dir, List<string> fixedArgs, List<KeyValuePair<string, string>> config, bool exportAll)
    {
        string name = string.Join("_", config.Select(kv => kv.Key.TrimStart('-') + "=" + kv.Value)).Replace(':', '-');
        if (name.Length == 0)
            name = "default";
        var args = fixedArgs.Concat(config.SelectMany(kv => new[] { kv.Key, kv.Value })).Concat(["--out", Path.Combine(dir, name)]);
        if (!exportAll && !fixedArgs.Contains("--no-export"))
            args = args.Append("--no-export");
        var options = config.Select(kv => KeyValuePair.Create(kv.Key.TrimStart('-'), kv.Value)).ToList();
        return new SweepTrial(name, options, TrainCommand.ParseRequest(args.ToList()));
    }

    /// <summary>Prints a sweep's reports: each trial's start, its run (as 'train' prints it), and the best trial's export.</summary>
    private sealed class SweepOutput : IProgress<SweepProgress>
    {
        private RunConsole.RunOutput _run = new();

        public void Report(SweepProgress value)
        {
            switch (value)
            {
                case SweepTrialSkipped s:
                    Console.WriteLine($"trial {s.Trial}: finished earlier, skipped");
                    break;
                case SweepTrialNotStarted s:
                    Console.WriteLine($"trial {s.Trial}: not started (time budget of {s.Budget} used)");
                    break;
                case SweepTrialStarting s:
                    _run = new RunConsole.RunOutput();
                    Console.WriteLine($"trial {s.Trial}: training");
                    break;
                case SweepTrialProgress p:
                    _run.Report(p.Run);
                    break;
                case SweepTrialFinished f:
                    RunConsole.PrintSummary(f.Result);
                    break;
                case SweepBestExported e:
                    Console.WriteLine($"best trial exported to {e.ModelOnnx}: {e.Parity}");
                    break;
            }
        }
    }

    private static (List<string> Fixed, List<(string Option, string[] Values)> Axes) SplitAxes(List<string> tokens)
    {
        var fixedArgs = new List<string>();
        var axes = new List<(string, string[])>();
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (Swept.Contains(t) && i + 1 < tokens.Count && (tokens[i + 1].Contains(',') || tokens[i + 1].Contains(':') && t != "--freeze"))
            {
                axes.Add((t, tokens[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries)));
                i++;
            }
            else
            {
                fixedArgs.Add(t);
            }
        }
        return (fixedArgs, axes);
    }

    private static IEnumerable<List<KeyValuePair<string, string>>> Grid(List<(string Option, string[] Values)> axes)
    {
        if (axes.Any(a => a.Values.Any(v => v.Contains(':') && a.Option != "--freeze")))
            throw new BadInputException("ranges (lo:hi) need --trials N; use comma lists for a grid");
        IEnumerable<List<KeyValuePair<string, string>>> configs = [[]];
        foreach (var (option, values) in axes)
            configs = configs.SelectMany(c => values.Select(v => new List<KeyValuePair<string, string>>(c) { KeyValuePair.Create(option, v) })).ToList();
        return configs;
    }

    private static IEnumerable<List<KeyValuePair<string, string>>> Sample(List<(string Option, string[] Values)> axes, int trials, int seed)
    {
        if (trials < 1)
            throw new BadInputException($"--trials must be at least 1, not {trials}");
        var rng = new Random(seed);
        for (int t = 0; t < trials; t++)
        {
            var config = new List<KeyValuePair<string, string>>();
            foreach (var (option, values) in axes)
            {
                string pick = values[rng.Next(values.Length)];
                if (pick.Contains(':') && option != "--freeze")
                {
                    var parts = pick.Split(':');
                    double lo = double.Parse(parts[0], CultureInfo.InvariantCulture), hi = double.Parse(parts[1], CultureInfo.InvariantCulture);
                    double x = option == "--learning-rate"
                        ? Math.Exp(Math.Log(lo) + rng.NextDouble() * (Math.Log(hi) - Math.Log(lo)))
                        : lo + rng.NextDouble() * (hi - lo);
                    pick = option is "--batch-size" or "--epochs" or "--seed"
                        ? Math.Round(x).ToString(CultureInfo.InvariantCulture)
                        : x.ToString("G3", CultureInfo.InvariantCulture);
                }
                config.Add(KeyValuePair.Create(option, pick));
            }
            yield return config;
        }
    }

    internal static TimeSpan ParseDuration(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        double value;
        if (t.EndsWith('h') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromHours(value);
        if (t.EndsWith('m') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromMinutes(value);
        if (t.EndsWith('s') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromSeconds(value);
        throw new BadInputException($"--time-budget '{text}' is not a duration (examples: 90s, 30m, 2h)");
    }
}
