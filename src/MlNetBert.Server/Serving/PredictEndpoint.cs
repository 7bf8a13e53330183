using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>
/// <c>POST /v1/predict</c>: checks the request in the order a client would fix it (content type, size, JSON, fields,
/// limits), then predicts through the <see cref="IPredictionRunner"/> and writes one output per input, in order.
/// </summary>
internal sealed class PredictEndpoint(ServedModel served, IPredictionRunner runner, ServerOptions options)
{
    public async Task HandleAsync(HttpContext context)
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
            request = PredictRequest.Read(document.RootElement, served.IsPair, options);
        }
        catch (JsonException ex)
        {
            throw new ApiException(ErrorCodes.MalformedJson, $"the body is not valid JSON: {ex.Message}");
        }

        var predictions = await runner.PredictAsync(request.Texts, request.Texts2, context.RequestAborted);
        await JsonResponse.WriteAsync(context, StatusCodes.Status200OK, json => WriteOutputs(json, request, predictions));
    }

    private void WriteOutputs(Utf8JsonWriter json, PredictRequest request, IReadOnlyList<Prediction> predictions)
    {
        json.WriteStartObject();
        served.WriteIdentity(json);
        json.WriteStartArray("outputs");
        var labels = served.Model.Labels;
        for (int i = 0; i < predictions.Count; i++)
        {
            var p = predictions[i];
            json.WriteStartObject();
            if (p.Score is float score)
            {
                json.WriteNumber("score", score);
            }
            else
            {
                json.WriteString("label", p.Label);
                json.WriteStartObject("probabilities");
                for (int j = 0; j < labels.Count; j++)
                    json.WriteNumber(labels[j], p.Probabilities![j]);
                json.WriteEndObject();
            }
            if (request.Truncated[i])
                json.WriteBoolean("truncated", true);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
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
