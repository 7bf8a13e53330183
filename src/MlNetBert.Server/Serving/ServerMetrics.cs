using System.Diagnostics.Metrics;

namespace MlNetBert.Serving;

/// <summary>
/// The server's own instruments, on a <see cref="Meter"/> named <c>mlnetbert</c> made by the app's
/// <see cref="IMeterFactory"/> (so two servers in one process keep apart). <see cref="PrometheusExport"/> serves them
/// at <c>GET /metrics</c> as <c>mlnetbert_&lt;instrument&gt;</c>, the names the README documents.
/// </summary>
internal sealed class ServerMetrics
{
    /// <summary>The meter's name, which prefixes every series of this class in the Prometheus text.</summary>
    public const string MeterName = "mlnetbert";

    // Latency buckets from 1 ms to 10 s; batch-size buckets as powers of two up to the largest useful batch.
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    private readonly Counter<long> _requests;
    private readonly Counter<long> _errors;
    private readonly Histogram<double> _latency;
    private readonly Histogram<int> _batchSize;
    private readonly Counter<long> _inputs;
    private long _queueDepth;

    public ServerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>("http_requests_total", description: "HTTP requests answered, by route template (\"unmatched\" for unknown paths) and status code.");
        _errors = meter.CreateCounter<long>("errors_total", description: "Problem-details responses, by error code (see the README); 5xx codes are server faults.");
        // The bucket bounds travel as advice on the instrument, so the exporter uses them without a table of its own.
        _latency = meter.CreateHistogram("request_duration_seconds", "s", "Time to answer a prediction request, from its arrival to its last byte written.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _batchSize = meter.CreateHistogram("batch_size", "{input}", "Inputs per model call (with micro-batching, gathered from concurrent requests), by model.",
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        _inputs = meter.CreateCounter<long>("inputs_total", description: "Inputs predicted, by model.");
        meter.CreateObservableGauge("queue_depth", () => QueueDepth, description: "Prediction requests accepted and waiting for a model.");
    }

    /// <summary>Requests waiting for a model right now.</summary>
    public long QueueDepth => Interlocked.Read(ref _queueDepth);

    public void RecordRequest(string route, int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("status", status));

    public void RecordError(string code) => _errors.Add(1, new KeyValuePair<string, object?>("code", code));

    public void RecordPredictLatency(TimeSpan elapsed) => _latency.Record(elapsed.TotalSeconds);

    /// <summary>One model call of <paramref name="model"/> with <paramref name="inputs"/> inputs.</summary>
    public void RecordBatch(string model, int inputs)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _batchSize.Record(inputs, tag);
        _inputs.Add(inputs, tag);
    }

    public void Enqueued() => Interlocked.Increment(ref _queueDepth);

    public void Dequeued(int requests = 1) => Interlocked.Add(ref _queueDepth, -requests);
}
