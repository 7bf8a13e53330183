using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using MlNetBert.Dashboard;
using MlNetBert.Runs;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert ui</c>: the local dashboard over a runs folder, until Ctrl+C or SIGTERM.</summary>
internal static class UiCommand
{
    public static Command Create()
    {
        var defaults = new DashboardOptions();
        var runs = new Option<string>("--runs") { Description = "The runs folder to show (run folders, sweep folders).", DefaultValueFactory = _ => Path.Combine("models", "runs") };
        var urls = new Option<string>("--urls") { Description = "Where to listen, ';'-separated; loopback only.", DefaultValueFactory = _ => defaults.Urls };
        var command = new Command("ui",
            """
            A local web dashboard over run folders: every run and sweep (live progress while training), one run's
            metrics, curves, parity and analysis, runs compared side by side, a try-it box answered by the run's
            model.onnx, and consume code filled with the run's paths. Read-only; loopback only.

            Example:
              mlnetbert ui --runs models/runs          # then open http://127.0.0.1:5100
            """)
        {
            runs,
            urls,
        };
        command.SetAction(parse =>
        {
            var options = new DashboardOptions { RunsRoot = parse.GetValue(runs)!, Urls = parse.GetValue(urls)! };
            using var app = DashboardApp.Build(options, ["--Logging:LogLevel:Microsoft.AspNetCore=Warning"]);
            try
            {
                app.Start();
            }
            catch (IOException ex)
            {
                throw new BadInputException($"--urls {options.Urls}: cannot listen there ({ex.Message})", ex);
            }
            Console.WriteLine($"dashboard for {Path.GetFullPath(options.RunsRoot)} at {string.Join(", ", app.Urls)} (Ctrl+C stops it)");
            app.WaitForShutdown();
            return ExitCodes.Success;
        });
        return command;
    }
}
