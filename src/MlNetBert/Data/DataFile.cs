namespace MlNetBert.Data;

/// <summary>Reading a data file whole, with the errors every reader gives: no file named, a folder, not found, unreadable.</summary>
internal static class DataFile
{
    /// <summary>The file's bytes.</summary>
    /// <exception cref="BadInputException">No path, a directory, a missing file, or an I/O error; the message names the file.</exception>
    public static byte[] ReadBytes(string file)
    {
        if (string.IsNullOrWhiteSpace(file))
            throw new BadInputException("no data file given");
        if (Directory.Exists(file))
            throw new BadInputException($"{file}: is a directory, expected a file");
        if (!File.Exists(file))
            throw new BadInputException($"{file}: file not found");
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{file}: cannot be read ({ex.Message})", ex);
        }
    }
}
