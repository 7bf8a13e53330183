using System.Text.Json;

namespace MlNetBert.Serving;

/// <summary>
/// The inputs of one <c>POST /v1/predict</c> body, checked against the model and the server's limits:
/// <c>{"inputs": ["text", ...]}</c> or <c>{"inputs": [{"text": "...", "text2": "..."}, ...]}</c>; a task may name the
/// fields otherwise (question answering: <c>{"question": "...", "context": "..."}</c>).
/// </summary>
internal sealed class PredictRequest
{
    private PredictRequest(string[] texts, string[]? texts2, bool[] truncated)
    {
        Texts = texts;
        Texts2 = texts2;
        Truncated = truncated;
    }

    public string[] Texts { get; }

    /// <summary>Second texts, for pair models; null otherwise.</summary>
    public string[]? Texts2 { get; }

    /// <summary>Per input: whether a text was cut to the character limit.</summary>
    public bool[] Truncated { get; }

    public int Count => Texts.Length;

    /// <summary>Reads a parsed body; throws <see cref="ApiException"/> naming the JSON path of the first problem.</summary>
    public static PredictRequest Read(JsonElement root, MlNetBert.Inference.InferenceTask task, ServerOptions limits)
    {
        bool pairModel = task.ReadsPair;
        string textField = task.TextField, text2Field = task.Text2Field;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ApiException(ErrorCodes.InvalidType, $"the body must be a JSON object with an 'inputs' array, not {Describe(root.ValueKind)}");
        if (!root.TryGetProperty("inputs", out var inputs))
            throw new ApiException(ErrorCodes.MissingInputs, "the body has no 'inputs' field (expected {\"inputs\": [\"text\", ...]})");
        if (inputs.ValueKind != JsonValueKind.Array)
            throw new ApiException(ErrorCodes.InvalidType, $"'inputs' must be an array, not {Describe(inputs.ValueKind)}");
        int count = inputs.GetArrayLength();
        if (count == 0)
            throw new ApiException(ErrorCodes.EmptyInputs, "'inputs' is empty (expected at least one text)");
        if (count > limits.MaxInputs)
            throw new ApiException(ErrorCodes.TooManyInputs, $"'inputs' has {count} items; this server takes at most {limits.MaxInputs} per request");

        var texts = new string[count];
        var texts2 = pairModel ? new string[count] : null;
        var truncated = new bool[count];
        int i = 0;
        foreach (var item in inputs.EnumerateArray())
        {
            string path = $"inputs[{i}]";
            string? text2 = null;
            string text;
            if (item.ValueKind == JsonValueKind.String)
            {
                text = item.GetString()!;
            }
            else if (item.ValueKind == JsonValueKind.Object)
            {
                if (!item.TryGetProperty(textField, out var t))
                    throw new ApiException(ErrorCodes.MissingText, $"{path} has no '{textField}' field");
                text = ReadString(t, $"{path}.{textField}");
                if (item.TryGetProperty(text2Field, out var t2) && t2.ValueKind != JsonValueKind.Null)
                    text2 = ReadString(t2, $"{path}.{text2Field}");
            }
            else
            {
                throw new ApiException(ErrorCodes.InvalidType, $"{path} must be a string or an object with '{textField}' (and '{text2Field}' for pair models), not {Describe(item.ValueKind)}");
            }

            if (pairModel && text2 is null)
                throw new ApiException(ErrorCodes.PairRequired, $"{path}: this model reads pairs; send {{\"{textField}\": \"...\", \"{text2Field}\": \"...\"}}");
            if (!pairModel && text2 is not null)
                throw new ApiException(ErrorCodes.UnexpectedText2, $"{path}.text2: this model reads one text per input; leave out 'text2'");
            if (task.RequiresText && string.IsNullOrWhiteSpace(text))
                throw new ApiException(ErrorCodes.MissingText, $"{path}.{textField} is empty");
            if (task.RequiresText && pairModel && string.IsNullOrWhiteSpace(text2))
                throw new ApiException(ErrorCodes.MissingText, $"{path}.{text2Field} is empty");

            texts[i] = Limit(text, $"{path}{(item.ValueKind == JsonValueKind.Object ? "." + textField : "")}", task, limits, ref truncated[i]);
            if (texts2 is not null)
                texts2[i] = Limit(text2!, $"{path}.{text2Field}", task, limits, ref truncated[i]);
            i++;
        }
        return new PredictRequest(texts, texts2, truncated);
    }

    private static string ReadString(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw new ApiException(ErrorCodes.InvalidType, $"{path} must be a string, not {Describe(element.ValueKind)}");

    private static string Limit(string text, string path, MlNetBert.Inference.InferenceTask task, ServerOptions limits, ref bool truncated)
    {
        if (text.Length <= limits.MaxTextChars)
            return text;
        // A task that reads the whole text in windows would silently lose what lies past the cut (an answer, an entity).
        if (task.ReadsWholeText)
            throw new ApiException(ErrorCodes.TextTooLong,
                $"{path} has {text.Length} characters; this server takes at most {limits.MaxTextChars}, and a {task.Name} model reads whole texts (in windows), so it never cuts one: send a shorter text or start the server with a larger --max-text-chars");
        if (limits.LongText == LongTextPolicy.Reject)
            throw new ApiException(ErrorCodes.TextTooLong, $"{path} has {text.Length} characters; this server takes at most {limits.MaxTextChars}");
        truncated = true;
        int end = limits.MaxTextChars;
        // Never split a surrogate pair: half a character would tokenize as garbage.
        if (char.IsHighSurrogate(text[end - 1]))
            end--;
        return text[..end];
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
