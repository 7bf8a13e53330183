using System.Diagnostics;

namespace MlNetBert.Testing;

/// <summary>
/// One temp folder per test process. Everything the tests write through <see cref="Path.GetTempPath"/> (their own
/// folders, ML.NET's and ONNX Runtime's scratch files, and the CLI and server processes they start, which inherit
/// TMPDIR) lands under it, and it is deleted when the assembly's tests end, whatever each test did. A run that was
/// killed leaves its folder behind; the next run removes folders whose process is gone.
/// </summary>
[TestClass]
public static class TestRun
{
    private const string Prefix = "mlnetbert-testrun-";
    private static readonly string[] TempVariables = ["TMPDIR", "TMP", "TEMP"];
    private static string? s_root;
    private static readonly Dictionary<string, string?> s_previous = [];

    public static string TempRoot => s_root ?? throw new InvalidOperationException("the test run's temp folder is not set up yet");

    [AssemblyInitialize]
    public static void CreateTempRoot(TestContext _)
    {
        string system = Path.GetTempPath();
        RemoveAbandoned(system);
        s_root = Path.Combine(system, Prefix + Environment.ProcessId);
        Directory.CreateDirectory(s_root);
        foreach (string name in TempVariables)
        {
            s_previous[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, s_root);
        }
    }

    [AssemblyCleanup]
    public static void DeleteTempRoot()
    {
        if (s_root is null)
            return;
        foreach (var (name, value) in s_previous)
            Environment.SetEnvironmentVariable(name, value);
        TryDelete(s_root);
    }

    private static void RemoveAbandoned(string system)
    {
        foreach (string dir in Directory.EnumerateDirectories(system, Prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(dir).AsSpan(Prefix.Length), out int pid) && !IsRunning(pid))
                TryDelete(dir);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"warning: could not delete the test temp folder {dir}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            Console.Error.WriteLine($"warning: could not delete the test temp folder {dir}: {e.Message}");
        }
    }
}
