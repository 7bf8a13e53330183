namespace MlNetBert.Export;

/// <summary>
/// An exported file failed its variant's parity rule against the TorchSharp model (for example an int8 file that
/// keeps too few labels or answer spans), so it was not written. Not a fault of MlNetBert nor of the input: some
/// models lose too much to a variant. The message gives the measured differences and the rule; the console reports it
/// with its own exit code (3).
/// </summary>
public sealed class ExportRefusedException : Exception
{
    public ExportRefusedException(string message)
        : base(message)
    {
    }
}
