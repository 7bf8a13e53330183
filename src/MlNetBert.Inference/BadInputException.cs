namespace MlNetBert;

/// <summary>
/// A problem with what the user gave us (a file, a column, an option, a model file), as opposed to a
/// fault in MlNetBert. The message is written for the user and names the file, line, column or field
/// involved; the console maps it to exit code 2.
/// </summary>
public class BadInputException : Exception
{
    public BadInputException(string message)
        : base(message)
    {
    }

    public BadInputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
