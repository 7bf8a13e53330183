using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace MlNetBert.Serving;

/// <summary>
/// The error codes a client can see. Every error is an RFC 9457 problem-details body
/// (<c>application/problem+json</c>: <c>type</c>, <c>title</c>, <c>status</c>, <c>detail</c>) with the code as the
/// extension member <c>code</c>; each code has its one HTTP status. 4xx codes are the client's to fix; 5xx codes are
/// the server's and are logged.
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

    /// <summary>401: the server requires an API key and the request has none, or a wrong one.</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>404: no model of that name is served (see <c>GET /v1/models</c>).</summary>
    public const string UnknownModel = "unknown_model";

    /// <summary>413: the body is larger than the server's limit.</summary>
    public const string BodyTooLarge = "body_too_large";

    /// <summary>415: the body is not declared as JSON (<c>Content-Type: application/json</c>).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";

    /// <summary>422: more inputs than the server's limit.</summary>
    public const string TooManyInputs = "too_many_inputs";

    /// <summary>422: a text is longer than the server's limit and the server rejects long texts.</summary>
    public const string TextTooLong = "text_too_long";

    /// <summary>429: more requests than the server's rate limit; <c>Retry-After</c> says when to try again.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>500: a fault in the server or the model; logged with its stack trace.</summary>
    public const string Internal = "internal_error";

    /// <summary>503: the server is shutting down and takes no new predictions.</summary>
    public const string ShuttingDown = "shutting_down";

    /// <summary>504: the request took longer than the server's request timeout.</summary>
    public const string RequestTimeout = "request_timeout";

    /// <summary>The HTTP status that goes with a code.</summary>
    public static int Status(string code) => code switch
    {
        Unauthorized => StatusCodes.Status401Unauthorized,
        NotFound or UnknownModel => StatusCodes.Status404NotFound,
        MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        BodyTooLarge => StatusCodes.Status413PayloadTooLarge,
        UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        TooManyInputs or TextTooLong => StatusCodes.Status422UnprocessableEntity,
        RateLimited => StatusCodes.Status429TooManyRequests,
        Internal => StatusCodes.Status500InternalServerError,
        ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        RequestTimeout => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <summary>
    /// The code for a status that ASP.NET Core's own parts set without one (routing's 404 and 405, the
    /// authentication challenge's 401, the rate limiter's 429, the request timeout's 504).
    /// </summary>
    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => RateLimited,
        StatusCodes.Status503ServiceUnavailable => ShuttingDown,
        StatusCodes.Status504GatewayTimeout => RequestTimeout,
        >= 500 => Internal,
        _ => BadRequest,
    };

    /// <summary>Every code, for the OpenAPI document's error descriptions.</summary>
    public static IReadOnlyList<string> All { get; } = typeof(ErrorCodes).GetFields()
        .Where(f => f.IsLiteral).Select(f => (string)f.GetValue(null)!).ToArray();
}

/// <summary>A request the server answers with a problem-details body; the status comes from <see cref="ErrorCodes.Status"/>.</summary>
internal sealed class ApiException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status => ErrorCodes.Status(Code);
}

/// <summary>
/// How every problem-details body gets its <c>code</c> and <c>detail</c>: from the <see cref="ApiException"/> that
/// caused it, or, where ASP.NET Core's own parts (routing, authentication, rate limiter, request timeouts) set only
/// a status and <c>UseStatusCodePages</c> writes the body, from the status and what the request said.
/// </summary>
internal static class Problems
{
    /// <summary>The extension member that carries the error code.</summary>
    public const string CodeKey = "code";

    // Where a part that only sets a status leaves the sentence the client should read (HttpContext.Items key).
    private const string DetailKey = "mlnetbert.problem.detail";

    /// <summary>Leaves <paramref name="detail"/> for the problem body that status code pages will write.</summary>
    public static void SetDetail(HttpContext context, string detail) => context.Items[DetailKey] = detail;

    /// <summary>Fills in <c>code</c> and <c>detail</c> and counts the error; runs for every problem body written.</summary>
    public static void Customize(ProblemDetailsContext context, ServerMetrics metrics)
    {
        var problem = context.ProblemDetails;
        var http = context.HttpContext;
        int status = problem.Status ?? http.Response.StatusCode;
        if (!(problem.Extensions.TryGetValue(CodeKey, out var given) && given is string code))
        {
            code = ErrorCodes.ForStatus(status);
            problem.Extensions[CodeKey] = code;
        }
        problem.Detail ??= http.Items[DetailKey] as string ?? code switch
        {
            ErrorCodes.NotFound => $"no route {http.Request.Path} (see GET /openapi.json)",
            // Routing refuses a body it cannot take (the endpoints declare application/json) before the handler runs.
            ErrorCodes.UnsupportedMediaType => $"the body must be JSON with Content-Type: application/json (got {(string.IsNullOrEmpty(http.Request.ContentType) ? "no Content-Type" : $"Content-Type '{http.Request.ContentType}'")})",
            ErrorCodes.MethodNotAllowed => $"{http.Request.Method} is not allowed on {http.Request.Path} (allowed: {http.Response.Headers.Allow})",
            ErrorCodes.RateLimited => "more requests than this server's rate limit; retry after the seconds in Retry-After",
            ErrorCodes.RequestTimeout => "the request took longer than this server's request timeout; send fewer or shorter inputs, or retry later",
            ErrorCodes.Unauthorized => "this server requires an API key: send Authorization: Bearer KEY or X-Api-Key: KEY",
            _ => null,
        };
        metrics.RecordError(code);
    }

    /// <summary>Writes a problem-details body for <paramref name="code"/> through ASP.NET Core's problem-details service.</summary>
    public static ValueTask WriteAsync(HttpContext context, IProblemDetailsService service, string code, string detail)
    {
        context.Response.StatusCode = ErrorCodes.Status(code);
        return service.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = ErrorCodes.Status(code), Detail = detail, Extensions = { [CodeKey] = code } },
        });
    }
}

/// <summary>
/// Turns what a request handler throws into a problem-details body (<c>UseExceptionHandler</c> calls it):
/// <see cref="ApiException"/> with its code; a body Kestrel could not read as 400 <c>bad_request</c> (413 when too
/// large); anything else is a server fault, logged, and answered 500 <c>internal_error</c>.
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case ApiException api:
                await Problems.WriteAsync(context, problems, api.Code, api.Message);
                return true;
            case BadHttpRequestException bad:
                await Problems.WriteAsync(context, problems, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? ErrorCodes.BodyTooLarge : ErrorCodes.BadRequest,
                    $"the request could not be read: {bad.Message}");
                return true;
            case JsonException json:
                await Problems.WriteAsync(context, problems, ErrorCodes.MalformedJson, $"the body is not valid JSON: {json.Message}");
                return true;
            default:
                logger.LogError(exception, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                await Problems.WriteAsync(context, problems, ErrorCodes.Internal, $"the server failed to answer ({exception.GetType().Name}); the fault is logged");
                return true;
        }
    }
}
