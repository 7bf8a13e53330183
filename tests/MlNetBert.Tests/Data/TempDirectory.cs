using System.Text;

namespace MlNetBert.Tests.Data;

/// <summary>A scratch folder for small data files written by a test; deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("mlnetbert-data-").FullName;

    /// <summary>Writes <paramref name="content"/> as UTF-8 without an added BOM (a "\uFEFF" in the content is written).</summary>
    public string Write(string name, string content) => WriteBytes(name, new UTF8Encoding(false).GetBytes(content));

    public string WriteBytes(string name, byte[] bytes)
    {
        string file = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
