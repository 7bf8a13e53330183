using System.Buffers;
using System.Text;

namespace MlNetBert.Data;

/// <summary>
/// The byte- and character-level half of <see cref="TabularReader"/>: strict UTF-8 decoding and splitting text into
/// records of fields. Lines end at '\n' only (a '\r' before it is dropped): U+0085, U+2028 and friends occur inside
/// real sentences and are text.
/// </summary>
internal static class DelimitedText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>One record: the line it starts on, its fields, and a row-level problem found while splitting it.</summary>
    internal sealed record Record(int Line, List<string> Fields, string? Error);

    /// <summary>Decodes strictly, naming the line of the first invalid byte; drops a leading byte order mark.</summary>
    public static string Decode(byte[] bytes, string file)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new BadInputException($"{file}:{LineOfInvalidByte(bytes)}: invalid UTF-8", ex);
        }
        return text.StartsWith('\uFEFF') ? text[1..] : text;
    }

    private static int LineOfInvalidByte(byte[] bytes)
    {
        int line = 1;
        for (int i = 0; i < bytes.Length;)
        {
            if (Rune.DecodeFromUtf8(bytes.AsSpan(i), out _, out int consumed) != OperationStatus.Done)
            {
                return line;
            }
            if (bytes[i] == (byte)'\n')
            {
                line++;
            }
            i += consumed;
        }
        return line;
    }

    /// <summary>
    /// Splits <paramref name="text"/> into records. Empty lines are skipped. With <paramref name="quoting"/>, a field
    /// that starts with '"' runs to the matching '"' and may hold separators, newlines and "" (one quote); a quote
    /// that never closes is a file-level error, because nothing after it can be trusted.
    /// </summary>
    public static IEnumerable<Record> Split(string text, char separator, bool quoting, string file)
    {
        int i = 0, line = 1, n = text.Length;
        var quoted = new StringBuilder();
        while (i < n)
        {
            if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n'))
            {
                i = text.IndexOf('\n', i) + 1;
                line++;
                continue;
            }

            int recordLine = line;
            var fields = new List<string>();
            string? error = null;
            while (true)
            {
                if (quoting && i < n && text[i] == '"')
                {
                    int fieldLine = line;
                    quoted.Clear();
                    for (i++; ; i++)
                    {
                        if (i >= n)
                        {
                            throw new BadInputException(
                                $"{file}:{fieldLine}: unclosed quote (the quoted field starting here never ends)");
                        }
                        if (text[i] == '"')
                        {
                            if (i + 1 < n && text[i + 1] == '"')
                            {
                                quoted.Append('"');
                                i++;
                                continue;
                            }
                            i++;
                            break;
                        }
                        if (text[i] == '\n')
                        {
                            line++;
                        }
                        quoted.Append(text[i]);
                    }

                    // RFC 4180 allows nothing between the closing quote and the separator; keep the text so the
                    // field count stays right, but report the row.
                    string after = UnquotedRun(text, ref i, separator);
                    if (after.Length > 0)
                    {
                        error ??= $"field {fields.Count + 1} has text after its closing quote";
                        quoted.Append(after);
                    }
                    fields.Add(quoted.ToString());
                }
                else
                {
                    fields.Add(UnquotedRun(text, ref i, separator));
                }

                if (i < n && text[i] == separator)
                {
                    i++;
                    continue;
                }
                if (i < n)
                {
                    i++; // the '\n'
                    line++;
                }
                break;
            }
            yield return new Record(recordLine, fields, error);
        }
    }

    // Reads up to the next separator or '\n' (not consumed), dropping a '\r' that ends the line.
    private static string UnquotedRun(string text, ref int i, char separator)
    {
        int start = i;
        int length = text.AsSpan(start).IndexOfAny(separator, '\n');
        i = length < 0 ? text.Length : start + length;
        int end = i;
        if (end > start && text[end - 1] == '\r' && (i == text.Length || text[i] == '\n'))
        {
            end--;
        }
        return text[start..end];
    }
}
