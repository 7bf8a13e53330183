namespace MlNetBert;

/// <summary>
/// The folder where MlNetBert keeps what it makes for a user across runs: imported pretrained checkpoints
/// (<c>pretrained/&lt;name&gt;/</c>) today. <c>$MLNETBERT_HOME</c> when set; otherwise <c>mlnetbert</c> in the
/// per-user data folder (<c>$XDG_DATA_HOME/mlnetbert</c>, else <c>~/.local/share/mlnetbert</c> on Linux;
/// <c>%LOCALAPPDATA%\mlnetbert</c> on Windows).
/// </summary>
/// <remarks>
/// Read on every access, so a process (or a test) that sets the variable sees it at once. Nothing here depends on
/// the current folder: an installed tool and an app outside this repository find the same cache.
/// </remarks>
/// <example>
/// <code>
/// string runs = System.IO.Path.Combine(MlNetBertHome.Path, "runs");
/// </code>
/// </example>
public static class MlNetBertHome
{
    /// <summary>The environment variable that overrides the folder.</summary>
    public const string EnvironmentVariable = "MLNETBERT_HOME";

    /// <summary>The full path of the folder (it may not exist yet).</summary>
    /// <exception cref="BadInputException">Neither <c>$MLNETBERT_HOME</c> nor a per-user data folder is known (no HOME).</exception>
    public static string Path
    {
        get
        {
            string? home = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(home))
                return System.IO.Path.GetFullPath(home);
            // .NET maps LocalApplicationData to $XDG_DATA_HOME, else ~/.local/share, on Linux. DoNotVerify: the
            // folder may not exist on a fresh machine and is created when something is first written there.
            string data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            if (string.IsNullOrEmpty(data))
                throw new BadInputException($"no per-user data folder is known (is HOME set?); set {EnvironmentVariable} to the folder MlNetBert should keep its checkpoints in");
            return System.IO.Path.Combine(data, "mlnetbert");
        }
    }

    /// <summary><c>&lt;home&gt;/pretrained</c>: one folder per imported built-in checkpoint.</summary>
    public static string PretrainedFolder => System.IO.Path.Combine(Path, "pretrained");
}
