namespace MlNetBert.Cli.Tests;

internal static class Paths
{
    /// <summary>The repository root (the folder with MlNetBert.sln).</summary>
    public static string Repo { get; } = FindRepo();

    public static string Sample => Path.Combine(Repo, "data", "sentiment-sample.tsv");

    public static string SharedData(string relative)
    {
        string? root = Environment.GetEnvironmentVariable("MLNETBERT_DATA");
        if (string.IsNullOrWhiteSpace(root))
            Assert.Inconclusive("MLNETBERT_DATA is not set: point it at the shared datasets folder (.ci/run sets it to ../shared/data).");
        return Path.Combine(root, relative);
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mlnetbert-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MlNetBert.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("MlNetBert.sln not found above " + AppContext.BaseDirectory);
    }
}
