using System.Diagnostics;

namespace MlNetBert.Cli.Tests;

/// <summary>Runs the real mlnetbert executable (the built MlNetBert.Cli.dll) as a child process.</summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunIn(null, args);

    public static Result RunIn(string? workingDirectory, params string[] args) => RunWith(workingDirectory, null, args);

    /// <summary>Starts the executable without waiting (output redirected).</summary>
    public static Process Start(params string[] args) => Process.Start(Info(null, null, args))!;

    /// <summary>Runs with extra environment variables (e.g. TMPDIR, where ML.NET looks for its NAS-BERT weights).</summary>
    public static Result RunWith(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var process = Process.Start(Info(workingDirectory, environment, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mlnetbert {string.Join(' ', args)} did not finish in 10 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static ProcessStartInfo Info(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "MlNetBert.Cli.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[key] = value;
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return psi;
    }
}
