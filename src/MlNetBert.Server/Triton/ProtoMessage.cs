using System.Text;

namespace MlNetBert.Triton;

/// <summary>
/// One message of protobuf text format (what <c>config.pbtxt</c> is written in), read without the schema: fields in
/// order, each a scalar or a nested message. Repeated fields, whether written as <c>f: 1 f: 2</c> or <c>f: [1, 2]</c>,
/// come back as several entries with the same name.
/// </summary>
internal sealed class ProtoMessage
{
    private readonly List<(string Name, object Value)> _fields = [];

    /// <summary>Every value of <paramref name="name"/>: <see cref="string"/> scalars (quotes removed) or <see cref="ProtoMessage"/>s.</summary>
    public IEnumerable<object> All(string name) => _fields.Where(f => f.Name == name).Select(f => f.Value);

    /// <summary>The names of the fields present, in order, each once.</summary>
    public IEnumerable<string> Names => _fields.Select(f => f.Name).Distinct(StringComparer.Ordinal);

    /// <summary>The last scalar value of <paramref name="name"/> (protobuf's rule for a repeated singular field), or null.</summary>
    public string? Scalar(string name) => All(name).OfType<string>().LastOrDefault();

    /// <summary>The last message value of <paramref name="name"/>, or null.</summary>
    public ProtoMessage? Message(string name) => All(name).OfType<ProtoMessage>().LastOrDefault();

    /// <summary>Every message value of <paramref name="name"/>.</summary>
    public IEnumerable<ProtoMessage> Messages(string name) => All(name).OfType<ProtoMessage>();

    /// <summary>Every scalar value of <paramref name="name"/>, parsed as integers; throws <see cref="FormatException"/> on a non-integer.</summary>
    public IReadOnlyList<long> Integers(string name) =>
        All(name).OfType<string>().Select(v => long.TryParse(v, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long n)
            ? n : throw new FormatException($"field '{name}': '{v}' is not an integer")).ToList();

    /// <summary>Parses a whole text-format document; <see cref="FormatException"/> names the line of the first error.</summary>
    public static ProtoMessage Parse(string text)
    {
        var parser = new Parser(text);
        var message = parser.ReadFields(endToken: null);
        return message;
    }

    private sealed class Parser(string text)
    {
        private int _at;

        public ProtoMessage ReadFields(char? endToken)
        {
            var message = new ProtoMessage();
            while (true)
            {
                SkipSpace();
                if (_at >= text.Length)
                {
                    if (endToken is not null)
                        throw Error($"expected '{endToken}' before the end of the text");
                    return message;
                }
                if (endToken is char end && text[_at] == end)
                {
                    _at++;
                    return message;
                }
                if (text[_at] is ',' or ';')
                {
                    _at++;
                    continue;
                }
                string name = ReadWord();
                SkipSpace();
                bool colon = Peek(':');
                if (colon)
                    _at++;
                SkipSpace();
                if (Peek('['))
                {
                    _at++;
                    ReadList(message, name);
                }
                else if (Peek('{'))
                {
                    _at++;
                    message._fields.Add((name, ReadFields('}')));
                }
                else if (colon)
                {
                    message._fields.Add((name, ReadScalar()));
                }
                else
                {
                    throw Error($"expected ':' or '{{' after '{name}'");
                }
            }
        }

        private void ReadList(ProtoMessage message, string name)
        {
            while (true)
            {
                SkipSpace();
                if (Peek(']'))
                {
                    _at++;
                    return;
                }
                if (Peek(','))
                {
                    _at++;
                    continue;
                }
                if (Peek('{'))
                {
                    _at++;
                    message._fields.Add((name, ReadFields('}')));
                }
                else
                {
                    message._fields.Add((name, ReadScalar()));
                }
            }
        }

        private string ReadScalar()
        {
            SkipSpace();
            if (!Peek('"') && !Peek('\''))
                return ReadWord();
            char quote = text[_at++];
            var value = new StringBuilder();
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\' && _at + 1 < text.Length)
                    _at++;
                value.Append(text[_at++]);
            }
            if (_at >= text.Length)
                throw Error("unclosed string");
            _at++;
            return value.ToString();
        }

        private string ReadWord()
        {
            int start = _at;
            while (_at < text.Length && (char.IsLetterOrDigit(text[_at]) || text[_at] is '_' or '-' or '+' or '.'))
                _at++;
            if (_at == start)
                throw Error(_at < text.Length ? $"unexpected '{text[_at]}'" : "unexpected end of the text");
            return text[start.._at];
        }

        private void SkipSpace()
        {
            while (_at < text.Length)
            {
                if (char.IsWhiteSpace(text[_at]))
                    _at++;
                else if (text[_at] == '#')
                    while (_at < text.Length && text[_at] != '\n')
                        _at++;
                else
                    return;
            }
        }

        private bool Peek(char c) => _at < text.Length && text[_at] == c;

        private FormatException Error(string message)
        {
            int line = 1 + text.AsSpan(0, Math.Min(_at, text.Length)).Count('\n');
            return new FormatException($"line {line}: {message}");
        }
    }
}
