using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>
/// <c>POST /v1/predict</c> and <c>POST /v1/models/{name}/predict</c>: checks the request in the order a client would
/// fix it (content type, size, JSON, fields, limits), then predicts through the model's <see cref="IPredictionRunner"/>
/// and answers one output per input, in order. The body is read by hand, not bound, so that each mistake gets its own
/// error code; the response is typed (<see cref="PredictResponse"/>), and the OpenAPI document is generated from it.
/// </summary>
internal sealed class PredictEndpoint(ServerOptions options)
{
    public async Task<Ok<PredictResponse>> HandleAsync(HttpContext context, ModelEntry target)
    {
        if (!context.Request.HasJsonContentType())
        {
            string given = string.IsNullOrEmpty(context.Request.ContentType) ? "no Content-Type" : $"Content-Type '{context.Request.ContentType}'";
            throw new ApiException(ErrorCodes.UnsupportedMediaType, $"the body must be JSON with Content-Type: application/json (got {given})");
        }
        var body = await ReadBodyAsync(context);
        PredictRequest request;
        try
        {
            using var document = JsonDocument.Parse(body);
            request = PredictRequest.Read(document.RootElement, target.Served.Model.TaskDefinition, options);
        }
        catch (JsonException ex)
        {
            throw new ApiException(ErrorCodes.MalformedJson, $"the body is not valid JSON: {ex.Message}");
        }

        var predictions = await target.Runner.PredictAsync(request.Texts, request.Texts2, context.RequestAborted);
        return TypedResults.Ok(new PredictResponse(target.Served.Identity, Outputs(target.Served, request, predictions)));
    }

    private static PredictionOutput[] Outputs(ServedModel served, PredictRequest request, IReadOnlyList<Prediction> predictions)
    {
        var task = served.Model.TaskDefinition;
        var outputs = new PredictionOutput[predictions.Count];
        for (int i = 0; i < outputs.Length; i++)
            outputs[i] = task.ToOutput(predictions[i], served.Model.Card) with { Truncated = request.Truncated[i] ? true : null };
        return outputs;
    }

    private async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext context)
    {
        // An oversized body is still read to its end (and thrown away) up to a few times the limit: a server that
        // answers 413 and closes while the client is still sending makes most clients report a broken pipe instead
        // of the 413. Past the drain limit Kestrel cuts the connection, as it would anyway.
        long drainLimit = Math.Max(4 * options.MaxBodyBytes, 1 << 20);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            sizeLimit.MaxRequestBodySize = drainLimit;
        long? declared = context.Request.ContentLength;
        if (declared > drainLimit)
            throw TooLarge(declared.Value);
        using var buffer = new MemoryStream(declared is long n && n <= options.MaxBodyBytes ? (int)n : 4096);
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        long total = 0;
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                total += read;
                if (total <= options.MaxBodyBytes)
                    buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(declared);
        }
        catch (BadHttpRequestException ex)
        {
            throw new ApiException(ErrorCodes.BadRequest, $"the request body could not be read: {ex.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if (total > options.MaxBodyBytes)
            throw TooLarge(total);
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private ApiException TooLarge(long? size) => new(ErrorCodes.BodyTooLarge,
        $"the body{(size is long s ? $" has {s} bytes; it" : "")} is larger than this server's limit of {options.MaxBodyBytes} bytes; send fewer or shorter inputs per request");
}
