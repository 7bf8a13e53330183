using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace MlNetBert.Serving;

/// <summary>
/// The error codes a client can see in <c>{"error": {"code": ..., "message": ...}}</c>, each with its one HTTP status.
/// 4xx codes are the client's to fix; 5xx codes are the server's and are logged.
/// </summary>
public static class ErrorCodes
{
    /// <summary>400: the body is not valid JSON.</summary>
    public const string MalformedJson = "malformed_json";

    /// <summary>400: a field has the wrong JSON type (for example <c>"inputs": 5</c>, or a number where a text belongs).</summary>
    public const string InvalidType = "invalid_type";

    /// <summary>400: the body has no <c>inputs</c> field.</summary>
    public const string MissingInputs = "missing_inputs";

    /// <summary>400: <c>inputs</c> is an empty array.</summary>
    public const string EmptyInputs = "empty_inputs";

    /// <summary>400: an input object has no <c>text</c>.</summary>
    public const string MissingText = "missing_text";

    /// <summary>400: the model reads sentence pairs, but an input has no <c>text2</c> (or is a plain string).</summary>
    public const string PairRequired = "pair_required";

    /// <summary>400: the model reads one text, but an input has a <c>text2</c>.</summary>
    public const string UnexpectedText2 = "unexpected_text2";

    /// <summary>400: the request body could not be read (for example, it ended early).</summary>
    public const string BadRequest = "bad_request";

    /// <summary>404: no such route.</summary>
    public const string NotFound = "not_found";

    /// <summary>405: the route exists but not for this method (the <c>Allow</c> header lists the ones it takes).</summary>
    public const string MethodNotAllowed = "method_not_allowed";

    /// <summary>413: the body is larger than the server's limit.</summary>
    public const string BodyTooLarge = "body_too_large";

    /// <summary>415: the body is not declared as JSON (<c>Content-Type: application/json</c>).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";

    /// <summary>422: more inputs than the server's limit.</summary>
    public const string TooManyInputs = "too_many_inputs";

    /// <summary>422: a text is longer than the server's limit and the server rejects long texts.</summary>
    public const string TextTooLong = "text_too_long";

    /// <summary>500: a fault in the server or the model; logged with its stack trace.</summary>
    public const string Internal = "internal_error";

    /// <summary>503: the server is shutting down and takes no new predictions.</summary>
    public const string ShuttingDown = "shutting_down";

    /// <summary>The HTTP status that goes with a code.</summary>
    public static int Status(string code) => code switch
    {
        NotFound => StatusCodes.Status404NotFound,
        MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        BodyTooLarge => StatusCodes.Status413PayloadTooLarge,
        UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        TooManyInputs or TextTooLong => StatusCodes.Status422UnprocessableEntity,
        Internal => StatusCodes.Status500InternalServerError,
        ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };
}

/// <summary>A request the server answers with an error body; the status comes from <see cref="ErrorCodes.Status"/>.</summary>
internal sealed class ApiException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status => ErrorCodes.Status(Code);
}

/// <summary>Writes JSON responses: errors in the one documented shape, and anything else through a <see cref="Utf8JsonWriter"/>.</summary>
internal static class JsonResponse
{
    public const string ContentType = "application/json; charset=utf-8";

    public static Task WriteErrorAsync(HttpContext context, string code, string message) =>
        WriteAsync(context, ErrorCodes.Status(code), json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("code", code);
            json.WriteString("message", message);
            json.WriteEndObject();
            json.WriteEndObject();
        });

    public static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        // Written to a buffer first so Content-Length is known and a failure half-way leaves the response unstarted.
        var buffer = new ArrayBufferWriter<byte>(1024);
        // Relaxed escaping keeps non-ASCII labels readable; the body is served as application/json, never as HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(json);
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
